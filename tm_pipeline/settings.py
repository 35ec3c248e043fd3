"""Environment variables the pipeline reads, in one place, with their defaults.

Only `definitions.py` and the CLI read these; assets get their configuration from resources.
"""

from __future__ import annotations

import os
from pathlib import Path

from tm_pipeline.accounts import Account, default_account, read_accounts_file
from tm_pipeline.api.errors import ConfigurationError

API_KEY_VAR = "TRACKINGMORE_API_KEY"
BASE_URL_VAR = "TRACKINGMORE_BASE_URL"
DATA_DIR_VAR = "TM_DATA_DIR"
LIST_RATE_VAR = "TRACKINGMORE_LIST_RATE_PER_S"
MAX_RETRIES_VAR = "TRACKINGMORE_MAX_RETRIES"
BACKFILL_START_VAR = "TM_BACKFILL_START"
ACCOUNTS_FILE_VAR = "TM_ACCOUNTS_FILE"

SANDBOX_BASE_URL = "http://127.0.0.1:8765/v2"  # `tm-pipeline sandbox` listens here by default
PRODUCTION_BASE_URL = "https://api.trackingmore.com/v2"


def data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_VAR, "data")).resolve()


def base_url() -> str:
    return os.environ.get(BASE_URL_VAR, SANDBOX_BASE_URL)


def list_rate_per_s() -> float:
    raw = os.environ.get(LIST_RATE_VAR, "1.0")
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"{LIST_RATE_VAR} must be a number of requests per second, got {raw!r}") from None


def max_transient_retries() -> int:
    """How often one page is retried after 5xx, timeouts or resets before the run exits 4 (retry later)."""
    raw = os.environ.get(MAX_RETRIES_VAR, "8")
    try:
        retries = int(raw)
    except ValueError:
        retries = -1
    if retries < 0:
        raise ConfigurationError(f"{MAX_RETRIES_VAR} must be a whole number of retries (0 or more), got {raw!r}")
    return retries


def backfill_start_date() -> str:
    """First day offered for created-day backfills (YYYY-MM-DD); set it to the account's first day."""
    return os.environ.get(BACKFILL_START_VAR, "2024-01-01")


def accounts() -> list[Account]:
    """The accounts to extract: those of `TM_ACCOUNTS_FILE`, else one named `default` with
    `TRACKINGMORE_API_KEY` (see tm_pipeline/accounts.py)."""
    path = os.environ.get(ACCOUNTS_FILE_VAR)
    if path:
        return read_accounts_file(Path(path), base_url(), list_rate_per_s())
    return [default_account(API_KEY_VAR, base_url(), list_rate_per_s())]


def missing_key_variables(configured: list[Account]) -> list[str]:
    """The key variables of `configured` that are unset or empty: names only, never values."""
    return [account.key_var for account in configured if not os.environ.get(account.key_var)]


def api_pool(key_var: str = API_KEY_VAR) -> str:
    """The Dagster concurrency pool of the API key in `key_var`: `trackingmore_api_<fingerprint>`.

    The 1 request/second belongs to the key, so every step that spends it runs in that key's pool
    (limit 1); deployments with several accounts get one pool each. Named by fingerprint, never by key.
    """
    from tm_pipeline.api.client import key_fingerprint

    api_key = os.environ.get(key_var)
    return f"trackingmore_api_{key_fingerprint(api_key).removeprefix('key#')}" if api_key else "trackingmore_api"
