"""What went wrong when no v2 envelope came back, decided by exception type and body, not by text.

Two families matter to the operator. Some failures say nothing about the address — a timeout, a
reset, a truncated body, a gateway's 5xx page — and a later retry can fix them. Others say that
no TrackingMore API is at the address at all — nothing listens, the name does not resolve, or
what answers is a web page, garbage or JSON without `meta` — and only a person can fix those,
unless the same host answered with envelopes earlier in the run (then it is an outage).
"""

from __future__ import annotations

import http.client
import json
import re
import socket
from collections.abc import Iterator

import requests
import urllib3

TIMEOUT = "timeout"
TRUNCATED = "truncated"  # the body ended before its Content-Length (or the connection broke mid-body)
CONNECTION = "connection"  # reset or closed by the peer after connecting
REFUSED = "refused"  # nothing listens at host:port
DNS = "dns"  # the host name does not resolve
PROXY = "proxy"  # the configured HTTP proxy could not be reached or refused to forward
NOT_JSON = "not_json"  # looks like a v2 envelope but does not decode (truncated or odd JSON)
NOT_ENVELOPE = "not_envelope"  # an answer, but not a TrackingMore one: HTML, garbage, JSON without `meta`

# Failures that mean "no TrackingMore API answered at this address".
NO_API_HERE = frozenset({REFUSED, DNS, PROXY, NOT_ENVELOPE})

_CHAIN_LIMIT = 32  # exception chains are short; the bound only guards against a cycle we did not foresee


def transport_failure(error: BaseException) -> str:
    """The failure kind of an exception raised by requests/urllib3, from the types in its chain.

    requests wraps urllib3, which wraps the socket error (ConnectionRefusedError, socket.gaierror)
    in `__cause__`, `.reason` or `.args`; the innermost type is what tells the cases apart. The proxy
    is looked at first, because a refused proxy also carries a ConnectionRefusedError.
    """
    chain = list(_exception_chain(error))

    def has(*types: type[BaseException]) -> bool:
        return any(isinstance(link, types) for link in chain)

    if has(requests.exceptions.ProxyError, urllib3.exceptions.ProxyError):
        return PROXY
    if has(socket.gaierror, urllib3.exceptions.NameResolutionError):
        return DNS
    if has(ConnectionRefusedError):
        return REFUSED
    if has(requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError):
        return TIMEOUT
    if has(
        urllib3.exceptions.IncompleteRead,
        http.client.IncompleteRead,
        requests.exceptions.ChunkedEncodingError,
        urllib3.exceptions.InvalidChunkLength,
    ):
        return TRUNCATED
    return CONNECTION


def _exception_chain(error: BaseException) -> Iterator[BaseException]:
    """The error and every exception it wraps: causes, contexts, urllib3's `.reason` and exception args."""
    pending = [error]
    seen: set[int] = set()
    while pending and len(seen) < _CHAIN_LIMIT:
        link = pending.pop()
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        wrapped = [link.__cause__, link.__context__, getattr(link, "reason", None), *link.args]
        pending.extend(inner for inner in wrapped if isinstance(inner, BaseException))


_ENVELOPE_START = re.compile(rb'\s*\{\s*"meta"\s*:')


def body_failure(body: bytes, bytes_received: int, content_length: int | None) -> str:
    """Why a body that did not decode as a v2 envelope failed: truncated, odd JSON, or not the API.

    Only bodies that cannot be an envelope count as NOT_ENVELOPE. A short read (fewer bytes received
    than Content-Length announced, counted before decompression) is TRUNCATED; valid JSON with a
    `meta` that the strict decoder refused, or a body that starts like an envelope, stays NOT_JSON:
    a page problem, not an address problem.
    """
    if content_length is not None and bytes_received < content_length:
        return TRUNCATED
    if _ENVELOPE_START.match(body[:256]):
        return NOT_JSON
    try:
        decoded = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return NOT_ENVELOPE
    return NOT_JSON if isinstance(decoded, dict) and "meta" in decoded else NOT_ENVELOPE


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def describe_body(body: bytes, content_type: str | None) -> str:
    """A short, key-free description of a body that is not an envelope, for an error message.

    Never the body itself: a wrong address may be an echo service that returns the request's
    headers — the API key among them. An HTML page's <title> is shown because it usually names
    what answered ("Proxy login", "404 Not Found"); the caller still redacts the key from it.
    """
    kind = (content_type or "no content type").split(";")[0].strip()
    title = _TITLE.search(body[:65536])
    if title:
        text = " ".join(title.group(1).decode("utf-8", "replace").split())[:80]
        return f"an HTML page titled {text!r} ({kind}, {len(body):,} bytes)"
    try:
        decoded = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return f"{len(body):,} bytes that are not JSON ({kind})"
    if isinstance(decoded, dict):
        return f"JSON without `meta` ({kind}, {len(body):,} bytes)"
    return f"JSON {type(decoded).__name__} instead of an object with `meta` ({kind}, {len(body):,} bytes)"


_WHAT_HAPPENED = {
    REFUSED: "connection refused: nothing listens on that port",
    DNS: "the host name does not resolve (DNS)",
    PROXY: "the HTTP proxy (HTTPS_PROXY / HTTP_PROXY) could not be reached or would not forward the request",
    TIMEOUT: "no answer within the timeout",
    TRUNCATED: "the body was cut off before its end",
    CONNECTION: "the connection was reset or closed by the server",
    NOT_JSON: "a body that starts like a v2 envelope but does not decode",
}

_WHAT_TO_CHECK = {
    REFUSED: "the host and port (the real API is {production}); for the local sandbox, start "
    "`tm-pipeline sandbox` first",
    DNS: "the host name's spelling (the real API is {production}) and that this machine can resolve it",
    PROXY: "HTTPS_PROXY / HTTP_PROXY / NO_PROXY, and that the proxy is up",
    NOT_ENVELOPE: "the address answers but is not the TrackingMore API: a web page, a proxy's login page or a "
    "wrong path (it should end in the API version, like {production})",
}


def what_happened(kind: str, http_status: int | None, body_summary: str | None) -> str:
    if kind == NOT_ENVELOPE:
        return f"HTTP {http_status} with {body_summary or 'a body'}, not a TrackingMore envelope"
    return _WHAT_HAPPENED.get(kind, kind)


def what_to_check(kind: str, production_base_url: str) -> str:
    return _WHAT_TO_CHECK.get(kind, "the address").format(production=production_base_url)
