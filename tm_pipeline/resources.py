"""Dagster resources: configuration flows from environment variables into these, never ad hoc."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb

from tm_pipeline.api.client import TrackingMoreClient, key_fingerprint
from tm_pipeline.api.endpoints import ListEndpoint, endpoint_for, version_of
from tm_pipeline.api.errors import ConfigurationError
from tm_pipeline.api.pacer import Pacer
from tm_pipeline.api.retry_policy import RetryPolicy
from tm_pipeline.contracts.warehouse_file import (
    DEFAULT_MEMORY_LIMIT,
    DuckDBLimits,
    connect_build,
    looks_corrupt,
    move_aside,
)
from tm_pipeline.landing.lake import Lake, open_lake
from tm_pipeline.landing.mirror import mirror_lake


# ConfigurableResource is generic only for resource factories; these resources are their own value.
class WarehouseResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The DuckDB warehouse. Steps write `database_path`, a build file only the pipeline opens;
    `published_path` is the file analysts and BI tools read, replaced atomically by the publish
    step (see tm_pipeline/publish). Connections are opened per step and closed at once, because
    DuckDB allows one writer process."""

    database_path: str
    published_path: str = ""  # empty: no separate published file (tests of a single step)
    memory_limit: str = DEFAULT_MEMORY_LIMIT  # per connection; DuckDB spills to temp_directory beyond it
    temp_directory: str = ""  # "" = beside the build file
    # How often models and tests tagged full_history read the whole history; 0 = every run (runner.py).
    full_history_every_hours: float = 0.0

    @property
    def limits(self) -> DuckDBLimits:
        return DuckDBLimits(self.memory_limit, self.temp_directory)

    @property
    def full_history_every(self) -> timedelta | None:
        return timedelta(hours=self.full_history_every_hours) if self.full_history_every_hours > 0 else None

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
        connection = connect_build(path, read_only=read_only, limits=self.limits)
        connection.execute("SET enable_progress_bar = false")  # a scheduler's log is not a terminal
        try:
            yield connection
        except Exception as error:
            connection.close()
            if not looks_corrupt(error):
                raise
            # The load reads only what changed, so damage in a block it never touched is found here:
            # move the file aside, and the next run's load rebuilds it from the lake.
            aside = move_aside(path)
            raise RuntimeError(
                f"the build warehouse {path} is corrupt ({str(error).splitlines()[0]}); moved it to {aside}. "
                f"Run again: the load rebuilds it from the lake, and analysts keep the last published warehouse."
            ) from error
        finally:
            connection.close()


# Generic only for resource factories, like WarehouseResource above.
class LakeResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where Parquet lands: `<data_dir>/lake`, or `s3://bucket/prefix` (credentials from the AWS
    environment, never from here); a named account's lake is `account=<name>/` under it. The load
    reads a remote lake through a local verified mirror (one per account lake)."""

    root: str
    s3_endpoint_url: str = ""  # an S3-compatible store's http(s) address; empty for AWS
    mirror_root: str = ""  # where the load keeps its verified copy of a remote lake

    def lake(self, account_prefix: str = "") -> Lake:
        """The lake of one account; `account_prefix` is Account.lake_prefix ("" = the default account,
        whose lake is the top folder every named account's lake lies under)."""
        root = f"{self.root.rstrip('/')}/{account_prefix}" if account_prefix else self.root
        return open_lake(root, self.s3_endpoint_url)

    def local_root(self, what: str) -> Path:
        """The default account's local lake folder, for what must stay on a local disk: the webhook
        push log (its fsync is the promise behind each 200) and the registration record (pushes and
        registrations belong to the default account). Refused for a remote lake."""
        lake = self.lake()
        if not lake.is_local:
            raise ConfigurationError(
                f"{what} keeps its files on a local disk, but the lake is at {lake.location} "
                f"(TM_LAKE_URI): run it with a local lake, or leave it off (docs/operations.md, Running at scale)"
            )
        return lake.root

    def lake_for_load(self, progress: Callable[[str], None], account_prefix: str = "") -> tuple[Lake, list[str]]:
        """One account's lake as DuckDB can read it, and its remote objects in no manifest (strays,
        relative to that account's lake).

        Local: the lake itself. Remote: its mirror (`<mirror_root>/<account_prefix>`), brought up to
        date (see landing/mirror.py)."""
        lake = self.lake(account_prefix)
        if lake.is_local:
            return lake, []
        if not self.mirror_root:
            raise ValueError(f"the lake is at {lake.location}, but no mirror folder is configured for the load")
        mirror = Path(self.mirror_root) / account_prefix if account_prefix else Path(self.mirror_root)
        local, summary = mirror_lake(lake, mirror, progress)
        progress(
            f"mirror of {lake.location} in {mirror}: {len(summary.downloaded)} files downloaded, "
            f"{summary.kept} already verified, {len(summary.deleted)} no longer listed deleted"
        )
        return local, summary.remote_strays


# Generic only for resource factories, like WarehouseResource above.
class TrackingMoreResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The TrackingMore account: address, key, API version and the limits the account is held to.

    `api_version` "" means: the version the base URL's path names (`.../v4`), else v2. Rate and
    page size None mean the endpoint's defaults (v2: 1/s and 2000 rows; see api/endpoints/)."""

    base_url: str
    api_key: str
    api_version: str = ""
    list_rate_per_s: float | None = None
    page_limit: int | None = None
    timeout_s: float = 30.0
    pause_on_429_s: float = 120.0
    max_transient_retries: int = 8
    state_dir: str = ""  # where the key's request budget is remembered between runs; "" = not at all

    def endpoint(self) -> ListEndpoint:
        """The list endpoint of the configured version (raises ConfigurationError for an unknown one)."""
        return endpoint_for(version_of(self.base_url, self.api_version))

    def client(self) -> TrackingMoreClient:
        return TrackingMoreClient(
            self.base_url, self.api_key, timeout_s=self.timeout_s, auth_header=self.endpoint().auth_header
        )

    def pacer(self) -> Pacer:
        """A pacer that continues where the last run with this key stopped (see Pacer)."""
        state_file = None
        if self.state_dir:
            Path(self.state_dir).mkdir(parents=True, exist_ok=True)
            state_file = Path(self.state_dir) / f"pacer-{key_fingerprint(self.api_key).removeprefix('key#')}.txt"
        rate_per_s = self.list_rate_per_s if self.list_rate_per_s is not None else self.endpoint().default_rate_per_s
        return Pacer(rate_per_s, state_file=state_file)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(pause_on_429_s=self.pause_on_429_s, max_transient_retries=self.max_transient_retries)
