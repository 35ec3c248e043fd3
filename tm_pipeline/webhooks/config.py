"""The receiver's configuration: from flags and the environment, with defaults `--help` shows.

The path token and the secret are read from the environment only (never flags: a command line
is visible to every user of the machine in `ps`), and are never logged.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

PATH_TOKEN_VAR = "TM_WEBHOOK_PATH_TOKEN"
SECRET_VAR = "TM_WEBHOOK_SECRET"
MIN_TOKEN_CHARS = 16

DEFAULT_MAX_BODY_BYTES = 1024 * 1024  # a tracking with hundreds of checkpoints is tens of KB
DEFAULT_TIMESTAMP_WINDOW_S = 300.0
DEFAULT_CLIENT_RATE_PER_S = 200.0  # TrackingMore sends bursts after each refresh round: sized to pass them
DEFAULT_CLIENT_BURST = 2000.0


class ReceiverConfigError(ValueError):
    """The receiver cannot start as configured; the message says what to set."""


@dataclass(frozen=True)
class ReceiverConfig:
    path_token: str
    secret: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    timestamp_window_s: float = DEFAULT_TIMESTAMP_WINDOW_S
    client_rate_per_s: float = DEFAULT_CLIENT_RATE_PER_S
    client_burst: float = DEFAULT_CLIENT_BURST

    def __post_init__(self) -> None:
        if len(self.path_token) < MIN_TOKEN_CHARS or not self.path_token.replace("-", "").replace("_", "").isalnum():
            raise ReceiverConfigError(
                f"{PATH_TOKEN_VAR} must be at least {MIN_TOKEN_CHARS} letters, digits, '-' or '_' "
                f"(it is the only thing keeping strangers out); make one with: "
                f"python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        if self.max_body_bytes < 1024:
            raise ReceiverConfigError(f"--max-body-bytes must be at least 1024, got {self.max_body_bytes}")
        if self.timestamp_window_s <= 0:
            raise ReceiverConfigError(f"--timestamp-window-s must be > 0, got {self.timestamp_window_s}")

    def __repr__(self) -> str:  # never the token or the secret, whoever prints this
        return (
            f"ReceiverConfig(path_token=<{len(self.path_token)} chars>, secret={'<set>' if self.secret else None}, "
            f"max_body_bytes={self.max_body_bytes}, timestamp_window_s={self.timestamp_window_s}, "
            f"client_rate_per_s={self.client_rate_per_s}, client_burst={self.client_burst})"
        )


def new_path_token() -> str:
    return secrets.token_urlsafe(32)


def config_from_environment(
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    timestamp_window_s: float = DEFAULT_TIMESTAMP_WINDOW_S,
    client_rate_per_s: float = DEFAULT_CLIENT_RATE_PER_S,
    client_burst: float = DEFAULT_CLIENT_BURST,
) -> ReceiverConfig:
    token = os.environ.get(PATH_TOKEN_VAR, "")
    if not token:
        raise ReceiverConfigError(
            f"{PATH_TOKEN_VAR} is not set. TrackingMore cannot authenticate to the receiver, so a secret "
            f"path is what keeps it private: export {PATH_TOKEN_VAR}=$(python3 -c 'import secrets; "
            f"print(secrets.token_urlsafe(32))') and give TrackingMore https://<your host>/webhooks/<token>"
        )
    return ReceiverConfig(
        path_token=token,
        secret=os.environ.get(SECRET_VAR) or None,
        max_body_bytes=max_body_bytes,
        timestamp_window_s=timestamp_window_s,
        client_rate_per_s=client_rate_per_s,
        client_burst=client_burst,
    )
