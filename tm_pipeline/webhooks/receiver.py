"""The webhook receiver: a Starlette app that answers 200 only once a push is durably in the push log.

    POST /webhooks/<path token>   a v2 or v4 push      200 landed, 4xx refused (see verify.py), 503 retry
    GET  /healthz                 liveness and counts (no token, no secret, no bodies)

Order of the defences, cheapest first: per-client rate (429), path token (404: a stranger learns
nothing, not even that the receiver exists), body size (413, counted while reading, so an endless
body is cut off), JSON and shape (400/422), signature and timestamp (401). Each refusal goes to
the bounded rejection log with its reason. Anything unexpected is answered 503, never 500, so
TrackingMore retries, and the receiver stays up.

The token is part of the URL, so the server's access log is off: uvicorn would print every path.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tm_pipeline.landing.push_rejections import RejectionLog
from tm_pipeline.landing.pushes import PushLog
from tm_pipeline.webhooks.config import ReceiverConfig
from tm_pipeline.webhooks.ratelimit import ClientRateLimiter
from tm_pipeline.webhooks.verify import Refused, judge_push

log = logging.getLogger(__name__)

PUSH_PATH = "/webhooks/{token}"
RATE_LIMITED, WRONG_PATH_TOKEN, TOO_LARGE, WRITE_FAILED = (
    "rate_limited", "wrong_path_token", "too_large", "write_failed"
)


class _TooLarge(Exception):
    pass


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge(f"Content-Length {declared} is over the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge(f"more than {limit} bytes received (--max-body-bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


class Receiver:
    """The app's state: configuration, the push log, the rejection log, counts."""

    def __init__(self, config: ReceiverConfig, lake_root: Path, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.lake_root = Path(lake_root)
        self.clock = clock
        self.push_log = PushLog(self.lake_root)
        self.rejections = RejectionLog(self.lake_root)
        self.limiter = ClientRateLimiter(config.client_rate_per_s, config.client_burst)
        self.accepted = 0
        self.refused: Counter[str] = Counter()

    def refuse(self, status: int, reason: str, client: str, detail: str, body: bytes = b"") -> Response:
        self.refused[reason] += 1
        log.warning("push refused from %s: %s (%s)", client, reason, detail)
        try:
            self.rejections.record(reason, status, client, detail, body)
        except OSError as error:  # the rejection log is evidence, not data: never fail a reply over it
            log.error("could not record a refused push in %s: %s", self.rejections.directory, error)
        return JSONResponse({"error": reason, "detail": detail}, status_code=status)

    async def push(self, request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        try:
            return await self._push(request, client)
        except Exception as error:  # never a 500, never a stopped receiver
            log.exception("push from %s failed unexpectedly", client)
            return self.refuse(503, "internal_error", client, f"{type(error).__name__}; retry later")

    async def _push(self, request: Request, client: str) -> Response:
        wait_s = self.limiter.admit(client)
        if wait_s > 0:
            response = self.refuse(429, RATE_LIMITED, client, f"over {self.config.client_rate_per_s:g}/s")
            response.headers["Retry-After"] = str(max(1, round(wait_s)))
            return response
        token = request.path_params.get("token", "")
        if not hmac.compare_digest(token.encode(), self.config.path_token.encode()):
            return self.refuse(404, WRONG_PATH_TOKEN, client, "no receiver at this path")
        try:
            body = await _read_limited(request, self.config.max_body_bytes)
        except _TooLarge as refused:
            return self.refuse(413, TOO_LARGE, client, str(refused))
        received_at = datetime.now(timezone.utc)
        headers = {name.lower(): value for name, value in request.headers.items()}
        try:
            accepted = judge_push(
                body, headers, self.config.secret, self.clock(), self.config.timestamp_window_s
            )
        except Refused as refused:
            return self.refuse(refused.status, refused.reason, client, refused.detail, body)
        try:
            await anyio.to_thread.run_sync(
                self.push_log.append, body, accepted.shape, accepted.tracking_id, received_at
            )
        except OSError as error:  # disk full, I/O error: not landed, so TrackingMore must send it again
            return self.refuse(503, WRITE_FAILED, client, f"could not land the push ({error.strerror}); retry later")
        self.accepted += 1
        return JSONResponse({"meta": {"code": 200, "type": "Success", "message": "landed"}})

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "accepted": self.accepted, "refused": dict(self.refused)})


def build_app(receiver: Receiver) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        receiver.push_log.open()
        log.info("push log open in %s", receiver.push_log.directory)
        try:
            yield
        finally:
            receiver.push_log.close()

    async def not_found(request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        return receiver.refuse(404, WRONG_PATH_TOKEN, client, "no receiver at this path")

    return Starlette(
        routes=[
            Route(PUSH_PATH, receiver.push, methods=["POST"]),
            Route("/healthz", receiver.health, methods=["GET"]),
            Route("/{anything:path}", not_found, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
        ],
        lifespan=lifespan,
    )
