"""The v2 envelope and the meta.code table (§6): what every sandbox answer looks like on the wire."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

# meta.code -> meta.type, as in the v2 status-code table.
META_TYPES: dict[int, str] = {
    200: "Success",
    201: "Created",
    202: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Server error",
    503: "Service Unavailable",
    4001: "Unauthorized",
    4002: "Unauthorized",
    4012: "Bad Request",
    4013: "Bad Request",
    4014: "Bad Request",
    4015: "Bad Request",
    4016: "Bad Request",
    4017: "Bad Request",
    4018: "Bad Request",
    4019: "Bad Request",
    4020: "Bad Request",
    4021: "Bad Request",
    4031: "No Content",
    4032: "No Content",
    4033: "No Content",
}

DEFAULT_MESSAGES: dict[int, str] = {
    200: "Success",
    201: "The request was successful and a resource was created.",
    202: "The request has been accepted but exceeds a limit.",
    401: "Authentication failed or no permission.",
    402: "Payment required.",
    403: "Access denied.",
    404: "The requested resource does not exist.",
    405: "The method is not allowed for this resource.",
    409: "Conflict.",
    429: "Too Many Requests",
    500: "Server error",
    503: "Service temporarily unavailable.",
    4001: "Invalid API key.",
    4002: "The API key has been deleted.",
    4012: "The request could not be parsed or a required parameter is missing.",
    4013: "Tracking number is required.",
    4014: "Tracking number is invalid.",
    4015: "Carrier code is invalid.",
    4016: "Tracking already exists.",
    4017: "Tracking does not exist.",
    4018: "This feature needs to be activated for your account.",
    4019: "Insufficient balance.",
    4020: "Too many items in one request.",
    4021: "Quota exhausted.",
    4031: "Request ok, but no results: create the tracking first.",
    4032: "The carrier could not be detected.",
    4033: "Invalid package status.",
}


@dataclass(frozen=True)
class Reply:
    """One answer: its meta code and either a JSON-able `data` or pre-built `body` bytes."""

    code: int
    data: object = None
    message: str | None = None
    body: bytes | None = None
    http_status: int | None = None  # forces the HTTP status (gateway pages, admin errors)
    content_type: str = "application/json"

    def to_bytes(self) -> bytes:
        if self.body is not None:
            return self.body
        return envelope(self.code, [] if self.data is None else self.data, self.message)

    def status_line(self, mirror: bool) -> int:
        """HTTP status: forced, else 200 (v2 habit), or mirrored from the meta code when asked:
        4001/4002 → 401, 4031 → 404, other 4xxx → 400, 3-digit codes as themselves."""
        if self.http_status is not None:
            return self.http_status
        if not mirror:
            return 200
        if self.code in (4001, 4002):
            return 401
        if self.code == 4031:
            return 404
        return 400 if self.code >= 1000 else self.code


def meta_bytes(code: int, message: str | None = None) -> bytes:
    return orjson.dumps(
        {
            "code": code,
            "type": META_TYPES.get(code, "Error"),
            "message": message or DEFAULT_MESSAGES.get(code, ""),
        }
    )


def envelope(code: int, data: object, message: str | None = None) -> bytes:
    """`{"meta":{...},"data":...}`; errors carry `"data": []` as v2 clients expect."""
    return b'{"meta":' + meta_bytes(code, message) + b',"data":' + orjson.dumps(data) + b"}"


def error(code: int, message: str | None = None) -> Reply:
    return Reply(code=code, message=message)


def gateway_error(code: int) -> Reply:
    """What a proxy in front of the API sends when the backend is down: HTML, not a v2 envelope."""
    reason = {502: "Bad Gateway", 504: "Gateway Time-out"}.get(code, "Error")
    title = f"{code} {reason}"
    page = f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center></body></html>"
    return Reply(code=code, body=page.encode(), http_status=code, content_type="text/html")


def list_page_body(page: int, limit: int, total: int, items: list[bytes]) -> bytes:
    """A list page from pre-serialised items: `total` is a string, as the real API sends it."""
    head = (
        b'{"meta":'
        + meta_bytes(200)
        + b',"data":{"page":%d,"limit":%d,"total":"%d","count":%d,"items":['
        % (page, limit, total, len(items))
    )
    return head + b",".join(items) + b"]}}"
