"""Environment variables the pipeline reads, in one place, with their defaults.

Only `definitions.py` and the CLI read these; assets get their configuration from resources.
"""

from __future__ import annotations

import os
from pathlib import Path

from tm_pipeline.accounts import Account, default_account, read_accounts_file
from tm_pipeline.api.errors import ConfigurationError
from tm_pipeline.contracts.warehouse_file import budget_bytes

API_KEY_VAR = "TRACKINGMORE_API_KEY"
BASE_URL_VAR = "TRACKINGMORE_BASE_URL"
DATA_DIR_VAR = "TM_DATA_DIR"
LIST_RATE_VAR = "TRACKINGMORE_LIST_RATE_PER_S"
API_VERSION_VAR = "TRACKINGMORE_API_VERSION"
MAX_RETRIES_VAR = "TRACKINGMORE_MAX_RETRIES"
BACKFILL_START_VAR = "TM_BACKFILL_START"
LAKE_URI_VAR = "TM_LAKE_URI"
S3_ENDPOINT_VAR = "TM_S3_ENDPOINT_URL"
DUCKDB_MEMORY_LIMIT_VAR = "TM_DUCKDB_MEMORY_LIMIT"
FULL_HISTORY_EVERY_VAR = "TM_FULL_HISTORY_EVERY_HOURS"
ACCOUNTS_FILE_VAR = "TM_ACCOUNTS_FILE"

SANDBOX_BASE_URL = "http://127.0.0.1:8765/v2"  # `tm-pipeline sandbox` listens here by default
PRODUCTION_BASE_URL = "https://api.trackingmore.com/v2"


def data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_VAR, "data")).resolve()


def lake_uri(data_dir: Path) -> str:
    """Where the lake lives: `s3://bucket/prefix` on object storage, or by default `<data_dir>/lake`."""
    return os.environ.get(LAKE_URI_VAR) or str(data_dir / "lake")


def s3_endpoint_url() -> str:
    """An S3-compatible store's address (MinIO, Ceph, ...); empty for AWS S3 itself."""
    return os.environ.get(S3_ENDPOINT_VAR, "")


def base_url() -> str:
    return os.environ.get(BASE_URL_VAR, SANDBOX_BASE_URL)


def api_version() -> str:
    """v2 or v4; "" (unset) means: the version the base URL's path names, else v2."""
    return os.environ.get(API_VERSION_VAR, "").strip()


def _non_negative_number(variable: str, raw: str, meaning: str) -> float:
    """`raw` as a finite number >= 0, or a ConfigurationError naming `variable` and what it means."""
    try:
        number = float(raw)
    except ValueError:
        number = -1.0
    if not 0 <= number < float("inf"):  # also refuses nan
        raise ConfigurationError(f"{variable} must be {meaning}; got {raw!r}")
    return number


def list_rate_per_s() -> float | None:
    """Requests per second on the list endpoint; None (unset) means the API version's default.
    0 turns pacing off (benchmarks against the sandbox); a negative or non-finite rate is refused."""
    raw = os.environ.get(LIST_RATE_VAR)
    if raw is None or not raw.strip():
        return None
    return _non_negative_number(LIST_RATE_VAR, raw, "a number of requests per second, 0 or more (0: unpaced)")


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


def duckdb_memory_limit() -> str:
    """The memory one pipeline step may hold (e.g. `4GB`, `512MB`), DuckDB's share and the process's own
    (contracts/warehouse_file.py); beyond its share DuckDB spills to disk under the data directory, so a
    big account costs disk and time, not the machine's RAM."""
    raw = os.environ.get(DUCKDB_MEMORY_LIMIT_VAR, "4GB").strip()
    try:
        budget_bytes(raw)
    except ValueError:
        raise ConfigurationError(
            f"{DUCKDB_MEMORY_LIMIT_VAR} must be an amount of memory with its unit, like 4GB or 512MB; got {raw!r}"
        ) from None
    return raw


def full_history_every_hours() -> float:
    """How often the models and tests tagged `full_history` read the whole history (aggregates no merge
    can update: the lead-time quantiles, the rates by carrier and week); 0 (the default): every run.
    A big account sets it (e.g. 24) so its 3-hourly runs cost what changed (docs/models.md)."""
    raw = os.environ.get(FULL_HISTORY_EVERY_VAR, "0").strip() or "0"
    return _non_negative_number(FULL_HISTORY_EVERY_VAR, raw, "a number of hours, 0 or more (0 = every run)")


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


SHIPMENTS_VAR = "TM_SHIPMENTS_FILE"
CREATE_RATE_VAR = "TRACKINGMORE_CREATE_RATE_PER_S"


def shipments_source() -> str:
    """The shipments to register (a .csv/.parquet file or path.duckdb:schema.table); "" = registration off."""
    return os.environ.get(SHIPMENTS_VAR, "").strip()


def create_rate_per_s() -> float:
    """The account's limit for create and detect calls (§7: 1 request/second for v2 endpoints but the list)."""
    raw = os.environ.get(CREATE_RATE_VAR, "1.0")
    try:
        rate = float(raw)
    except ValueError:
        rate = -1.0
    if not rate > 0:
        raise ConfigurationError(f"{CREATE_RATE_VAR} must be a number of requests per second above 0, got {raw!r}")
    return rate
