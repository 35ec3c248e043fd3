"""Exceptions the pipeline stops with, each carrying the exit code `tm-pipeline` ends with.

The exit code belongs to the exception class, so a new error cannot be added without deciding what
a scheduler should do about it, and the CLI maps Dagster's serialised failures (which keep only the
class name) through `exit_code_by_class_name()` instead of a hand-kept table.

Messages name the cause and what to do, and never contain the API key: the key travels only in
a request header, and the client identifies it by a short fingerprint.
"""

from __future__ import annotations

from typing import ClassVar

from tm_pipeline.api.status_codes import StatusCode

EXIT_FAILED = 1  # a step or a data-quality check failed: read the messages, fix, rerun
EXIT_CONFIGURATION = 2  # configuration is missing or wrong: retrying cannot help until a person fixes it
EXIT_API_REFUSED = 3  # the API refused the key, the balance or the request: retrying will not help
EXIT_RETRY_LATER = 4  # the API stayed unavailable or rate-limited past the retry budget: rerun later


class PipelineError(Exception):
    """An error whose class says what the run's caller should do next, as `exit_code`."""

    exit_code: ClassVar[int] = EXIT_FAILED


class ConfigurationError(PipelineError, ValueError):
    """Something the operator set is missing or points at the wrong place: fix it, then rerun.

    Also a ValueError, because it is one (a wrong value), and callers that caught ValueError for a
    missing key keep working.
    """

    exit_code = EXIT_CONFIGURATION


class ApiError(PipelineError):
    """A call ended with a code the caller must act on."""

    def __init__(self, status: StatusCode, detail: str, key_fingerprint: str) -> None:
        self.status = status
        self.code = status.code
        self.key_fingerprint = key_fingerprint
        hint = f" What to do: {status.what_to_do}" if status.what_to_do else ""
        described = f"{status.type}: {status.meaning}" if status.type else status.meaning  # v4 has no type
        super().__init__(
            f"TrackingMore answered {status.code} ({described}) for API key "
            f"{key_fingerprint}: {detail.rstrip('.')}.{hint}"
        )


class StopRunError(ApiError):
    """Auth, billing or request errors: retrying cannot help, so the run stops after one call."""

    exit_code = EXIT_API_REFUSED


class RateLimitedError(ApiError):
    """429: the account's budget is spent; the caller must stay quiet for the pause window."""

    exit_code = EXIT_RETRY_LATER


class TransientApiError(PipelineError):
    """5xx, gateway pages, timeouts, resets, truncated bodies, an outage mid-run: worth a bounded retry."""

    exit_code = EXIT_RETRY_LATER


def exit_code_by_class_name() -> dict[str, int]:
    """{class name: exit code} for every PipelineError subclass, however deep.

    Dagster hands a failed step's exception back serialised, with only its class name; this is
    how that name becomes an exit code without a second, hand-written list to keep in step.
    """
    codes: dict[str, int] = {}
    pending: list[type[PipelineError]] = [PipelineError]
    while pending:
        error_class = pending.pop()
        codes[error_class.__name__] = error_class.exit_code
        pending.extend(error_class.__subclasses__())
    return codes
