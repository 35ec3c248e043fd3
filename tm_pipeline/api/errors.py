"""Exceptions raised by the API client, one per action of the error taxonomy.

Messages name the cause and what to do, and never contain the API key: the key travels only in
a request header, and the client identifies it by a short fingerprint.
"""

from __future__ import annotations

from tm_pipeline.api.status_codes import StatusCode


class ApiError(Exception):
    """A call ended with a code the caller must act on."""

    def __init__(self, status: StatusCode, detail: str, key_fingerprint: str) -> None:
        self.status = status
        self.code = status.code
        self.key_fingerprint = key_fingerprint
        hint = f" What to do: {status.what_to_do}" if status.what_to_do else ""
        super().__init__(
            f"TrackingMore answered {status.code} ({status.type}: {status.meaning}) for API key "
            f"{key_fingerprint}: {detail.rstrip('.')}.{hint}"
        )


class StopRunError(ApiError):
    """Auth, billing or request errors: retrying cannot help, so the run stops after one call."""


class RateLimitedError(ApiError):
    """429: the account's budget is spent; the caller must stay quiet for the pause window."""


class TransientApiError(Exception):
    """5xx, timeouts, resets, truncated or non-JSON bodies: worth a bounded retry."""
