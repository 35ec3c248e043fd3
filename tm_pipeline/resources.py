"""Dagster resources: configuration flows from environment variables into these, never ad hoc."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from tm_pipeline.api.client import TrackingMoreClient, key_fingerprint
from tm_pipeline.api.pacer import Pacer
from tm_pipeline.api.retry_policy import RetryPolicy
from tm_pipeline.contracts.warehouse_file import connect_build
from tm_pipeline.landing.lake import Lake


# ConfigurableResource is generic only for resource factories; these resources are their own value.
class WarehouseResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The DuckDB warehouse. Steps write `database_path`, a build file only the pipeline opens;
    `published_path` is the file analysts and BI tools read, replaced atomically by the publish
    step (see tm_pipeline/publish). Connections are opened per step and closed at once, because
    DuckDB allows one writer process."""

    database_path: str
    published_path: str = ""  # empty: no separate published file (tests of a single step)

    @property
    def build_file(self) -> Path:
        return Path(self.database_path)

    @property
    def published_file(self) -> Path:
        return Path(self.published_path or self.database_path)

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        path = Path(self.database_path)
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        connection = connect_build(path, read_only=read_only)
        connection.execute("SET enable_progress_bar = false")  # a scheduler's log is not a terminal
        try:
            yield connection
        finally:
            connection.close()


# Generic only for resource factories, like WarehouseResource above.
class LakeResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where Parquet lands: `<data_dir>/lake`, and for a named account `<data_dir>/lake/account=<name>`."""

    root: str

    def lake(self, account_prefix: str = "") -> Lake:
        """The lake of one account; `account_prefix` is Account.lake_prefix ("" = the default account)."""
        return Lake(Path(self.root) / account_prefix if account_prefix else Path(self.root))


# Generic only for resource factories, like WarehouseResource above.
class TrackingMoreResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The TrackingMore v2 account: address, key and the limits the account is held to."""

    base_url: str
    api_key: str
    list_rate_per_s: float = 1.0
    page_limit: int = 2000
    timeout_s: float = 30.0
    pause_on_429_s: float = 120.0
    max_transient_retries: int = 8
    state_dir: str = ""  # where the key's request budget is remembered between runs; "" = not at all

    def client(self) -> TrackingMoreClient:
        return TrackingMoreClient(self.base_url, self.api_key, timeout_s=self.timeout_s)

    def pacer(self) -> Pacer:
        """A pacer that continues where the last run with this key stopped (see Pacer)."""
        state_file = None
        if self.state_dir:
            Path(self.state_dir).mkdir(parents=True, exist_ok=True)
            state_file = Path(self.state_dir) / f"pacer-{key_fingerprint(self.api_key).removeprefix('key#')}.txt"
        return Pacer(self.list_rate_per_s, state_file=state_file)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(pause_on_429_s=self.pause_on_429_s, max_transient_retries=self.max_transient_retries)
