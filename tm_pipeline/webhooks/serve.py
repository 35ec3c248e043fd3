"""Run the receiver under uvicorn: in the foreground (the CLI) or in a background thread (tests, bench).

The listening socket is bound here, before uvicorn starts, so port 0 gives a free port whose
number is known at once (`ReceiverThread.url`), and the CLI can print where it listens.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import uvicorn

from tm_pipeline.webhooks.config import ReceiverConfig
from tm_pipeline.webhooks.receiver import Receiver, build_app


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise OSError(error.errno, f"cannot listen on {host}:{port}: {error.strerror}; pick another --port") from None
    listener.listen(512)
    return listener


KEEP_ALIVE_S = 30  # how long an idle pushing connection stays open for the next push


def _server(receiver: Receiver, forwarded_allow_ips: str | None, keep_alive_s: int = KEEP_ALIVE_S) -> uvicorn.Server:
    config = uvicorn.Config(
        build_app(receiver),
        access_log=False,  # the path carries the token
        log_level="warning",
        lifespan="on",
        forwarded_allow_ips=forwarded_allow_ips,
        timeout_keep_alive=keep_alive_s,
    )
    return uvicorn.Server(config)


def serve_forever(
    config: ReceiverConfig, lake_root: Path, host: str, port: int, forwarded_allow_ips: str | None = None
) -> None:
    """Serve until SIGINT/SIGTERM; uvicorn finishes in-flight requests (each waits for its fsync)."""
    listener = bind(host, port)
    bound_host, bound_port = listener.getsockname()[:2]
    print(f"receiving pushes on http://{bound_host}:{bound_port}/webhooks/<TM_WEBHOOK_PATH_TOKEN> "
          f"(signatures {'required' if config.secret else 'not checked: TM_WEBHOOK_SECRET unset'}); "
          f"landing in {Path(lake_root) / 'pushes'}", flush=True)
    _server(Receiver(config, lake_root), forwarded_allow_ips).run(sockets=[listener])


class ReceiverThread:
    """The receiver in a background thread on 127.0.0.1, for tests and benchmarks; `stop()` joins it."""

    def __init__(
        self, config: ReceiverConfig, lake_root: Path, host: str = "127.0.0.1", port: int = 0,
        keep_alive_s: int = KEEP_ALIVE_S,
    ) -> None:
        self.receiver = Receiver(config, lake_root)
        self._listener = bind(host, port)
        self._server = _server(self.receiver, None, keep_alive_s)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._listener]}, name="tm-webhook-receiver", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}/webhooks/{self.receiver.config.path_token}"

    @property
    def base_url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self, timeout_s: float = 10.0) -> ReceiverThread:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the webhook receiver did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._listener.close()

    def __enter__(self) -> ReceiverThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
