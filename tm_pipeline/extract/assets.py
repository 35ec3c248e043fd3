"""Dagster assets: page through the list endpoint and land trackings and the ledger as Parquet.

One extraction asset (and one created-day backfill asset) per configured account, each in its own
key's pool and lake; the default account keeps the keys `lake/trackings`, `lake/api_calls` and
`lake/trackings_by_created_day`, a named account gets `lake/<name>/...`.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import dagster as dg

from tm_pipeline import settings
from tm_pipeline.accounts import DEFAULT_ACCOUNT, Account, default_account
from tm_pipeline.contracts.dagster_columns import column_schema
from tm_pipeline.contracts.pools import CALLS_API
from tm_pipeline.extract.fetch import PageFetcher
from tm_pipeline.extract.ledger import LEDGER_SCHEMA
from tm_pipeline.extract.page_table import TRACKINGS_SCHEMA
from tm_pipeline.extract.repair import LakeRepair, repair_lake
from tm_pipeline.extract.run import ExtractSummary, PageProgress, extract_window, sync_state
from tm_pipeline.extract.windows import Window, created_day_window, full_window, incremental_windows
from tm_pipeline.landing.lake import Lake, Manifest
from tm_pipeline.resources import LakeResource, TrackingMoreResource

LAKE_TRACKINGS = dg.AssetKey(["lake", "trackings"])
LAKE_API_CALLS = dg.AssetKey(["lake", "api_calls"])
LAKE_BACKFILL = dg.AssetKey(["lake", "trackings_by_created_day"])

# One pool per API key: two runs must never spend the same key's 1 request/second at once.
TRACKINGMORE_POOL = settings.api_pool()
CREATED_DAYS = dg.DailyPartitionsDefinition(start_date=settings.backfill_start_date(), timezone="UTC")


class ExtractConfig(dg.Config):
    mode: Literal["incremental", "full"] = "incremental"
    """incremental: only what changed since the last completed sync (a full sync the first time)."""
    overlap_s: float = 3600.0
    """How far back before the watermarks to ask again; grows automatically with long runs."""


def _extract(
    context: dg.AssetExecutionContext,
    trackingmore: TrackingMoreResource,
    lake: Lake,
    windows: Callable[[], list[Window]],
    asset_key: dg.AssetKey,
) -> tuple[list[ExtractSummary], list[LakeRepair]]:
    """Repair the lake, then extract each window in turn, reporting every page in the log and as an
    asset observation. `windows` is asked after the repair, which may have completed a window."""

    def report(progress: PageProgress) -> None:
        context.log.info(str(progress))
        context.log_event(
            dg.AssetObservation(
                asset_key=asset_key,
                metadata={
                    "window": progress.window_key,
                    "page": progress.page,
                    "pages_expected": progress.pages_expected,
                    "rows": progress.rows,
                    "rows_per_s": round(progress.rows_per_s, 1),
                    "eta_s": round(progress.eta_s, 1),
                },
            )
        )

    client = trackingmore.client()
    fetcher = PageFetcher(client, trackingmore.pacer(), trackingmore.retry_policy(), trackingmore.endpoint())

    def extract_one(window: Window, repair_of: Manifest | None = None) -> ExtractSummary:
        return extract_window(fetcher, lake, window, trackingmore.page_limit, report, context.run.run_id, repair_of)

    try:
        repairs, audit = repair_lake(lake, extract_one, context.log)
        if audit.ledger_problems:
            context.log.error(
                "ledger parts not as committed (cannot be refetched; the load's check will fail): "
                + ", ".join(str(p) for p in audit.ledger_problems)
            )
        return [extract_one(window) for window in windows()], repairs
    finally:
        client.close()


def _codes(summaries: list[ExtractSummary]) -> dict[str, int]:
    codes: dict[str, int] = {}
    for summary in summaries:
        for code, calls in summary.codes.items():
            codes[code] = codes.get(code, 0) + calls
    return codes


def _metadata(summaries: list[ExtractSummary], repairs: list[LakeRepair]) -> dict[str, Any]:
    elapsed = sum(s.elapsed_s for s in summaries)
    rows = sum(s.rows for s in summaries)
    return {
        "lake_repairs": dg.MetadataValue.json(
            [
                {"replaced": r.damaged_extraction_id, "by": r.repaired_by, "window": r.window_key,
                 "files": r.files, "rows": r.rows}
                for r in repairs
            ]
        ),
        "dagster/row_count": rows,
        "windows": {s.window_key: s.extraction_id for s in summaries},
        "pages": sum(s.pages for s in summaries),
        "total_reported": {s.window_key: s.total_reported for s in summaries},
        "resumed_from_page": {s.window_key: s.resumed_from_page for s in summaries if s.resumed_from_page},
        "drift": [f"{s.window_key}: {event}" for s in summaries for event in s.drift],
        # Extractions listed here gave no watermark: the next incremental run asks again from the older one.
        "watermark_held": [f"{s.window_key}: {gap}" for s in summaries for gap in s.possible_gaps],
        "quarantined": sum(s.quarantined for s in summaries),
        "elapsed_s": round(elapsed, 3),
        "trackings_per_s": round(rows / elapsed, 1) if elapsed else 0.0,
    }


@dataclass(frozen=True)
class AccountExtract:
    """The extraction assets of one account and the keys the load depends on."""

    account: Account
    extract: dg.AssetsDefinition
    backfill: dg.AssetsDefinition

    @property
    def trackings_key(self) -> dg.AssetKey:
        return _key(self.account, "trackings")

    @property
    def api_calls_key(self) -> dg.AssetKey:
        return _key(self.account, "api_calls")

    @property
    def backfill_key(self) -> dg.AssetKey:
        return _key(self.account, "trackings_by_created_day")

    @property
    def extract_op(self) -> str:
        """The op name that run config addresses: {"ops": {<extract_op>: {"config": {"mode": ...}}}}."""
        return self.extract.node_def.name


def _key(account: Account, name: str) -> dg.AssetKey:
    return dg.AssetKey(["lake", name] if account.is_default else ["lake", account.name, name])


def _suffix(account: Account) -> str:
    return "" if account.is_default else f"_{account.name}"


def build_account_extract(account: Account) -> AccountExtract:
    """The extraction and backfill assets of `account`: its resource, its key's pool, its lake."""
    pool = settings.api_pool(account.key_var)
    resource_key = account.resource_key
    trackings_key, api_calls_key, backfill_key = (
        _key(account, name) for name in ("trackings", "api_calls", "trackings_by_created_day")
    )
    whose = "" if account.is_default else f" (account {account.name})"

    @dg.multi_asset(
        name=f"trackingmore_extract{_suffix(account)}",
        specs=[
            dg.AssetSpec(
                trackings_key,
                description="Every tracking returned by the list endpoint (GET /v2 or /v4 trackings/get), one "
                "Parquet file per page, "
                f"typed columns plus the item's original JSON{whose}.",
                kinds={"parquet"},
                metadata={"dagster/column_schema": column_schema(TRACKINGS_SCHEMA)},
                tags=CALLS_API,
            ),
            dg.AssetSpec(
                api_calls_key,
                description="The ledger: one row per HTTP attempt (status, meta.code, latency, rows), never the "
                f"key{whose}.",
                kinds={"parquet"},
                metadata={"dagster/column_schema": column_schema(LEDGER_SCHEMA)},
                tags=CALLS_API,
            ),
        ],
        group_name="extract",
        pool=pool,
        required_resource_keys={resource_key, "lake"},
    )
    def extract_account(
        context: dg.AssetExecutionContext, config: ExtractConfig
    ) -> Iterator[dg.MaterializeResult[None]]:
        trackingmore: TrackingMoreResource = getattr(context.resources, resource_key)
        lake_resource: LakeResource = context.resources.lake
        store = lake_resource.lake(account.lake_prefix)

        def windows() -> list[Window]:
            if config.mode == "incremental":
                return incremental_windows(sync_state(store.manifests()), config.overlap_s)
            return [full_window()]

        summaries, repairs = _extract(context, trackingmore, store, windows, trackings_key)
        yield dg.MaterializeResult(asset_key=trackings_key, metadata=_metadata(summaries, repairs))
        yield dg.MaterializeResult(
            asset_key=api_calls_key,
            metadata={"dagster/row_count": sum(s.calls for s in summaries), "calls_by_code": _codes(summaries)},
        )

    @dg.asset(
        key=backfill_key,
        partitions_def=CREATED_DAYS,
        group_name="extract",
        pool=pool,
        kinds={"parquet"},
        tags=CALLS_API,
        required_resource_keys={resource_key, "lake"},
        description="Backfills and repairs: every tracking created on one UTC day, extracted again. Re-running a "
        f"day replaces that day's earlier extraction in the lake; the load deduplicates against the sync{whose}.",
    )
    # Dagster recognises only the bare MaterializeResult class in an asset's return annotation.
    def backfill_account(context: dg.AssetExecutionContext) -> dg.MaterializeResult:  # type: ignore[type-arg]
        trackingmore: TrackingMoreResource = getattr(context.resources, resource_key)
        lake_resource: LakeResource = context.resources.lake
        window = created_day_window(date.fromisoformat(context.partition_key))
        store = lake_resource.lake(account.lake_prefix)
        summaries, repairs = _extract(context, trackingmore, store, lambda: [window], backfill_key)
        return dg.MaterializeResult(metadata={**_metadata(summaries, repairs), "calls_by_code": _codes(summaries)})

    return AccountExtract(account, extract_account, backfill_account)


def build_account_extracts(accounts: list[Account]) -> list[AccountExtract]:
    """One AccountExtract per account, in configuration order; the default single account is built once."""
    return [DEFAULT_EXTRACT if account == DEFAULT_EXTRACT.account else build_account_extract(account)
            for account in accounts]


DEFAULT_EXTRACT = build_account_extract(
    default_account(settings.API_KEY_VAR, settings.base_url(), settings.list_rate_per_s())
)
trackingmore_extract = DEFAULT_EXTRACT.extract
trackings_by_created_day = DEFAULT_EXTRACT.backfill
# The accounts this process is configured with (TM_ACCOUNTS_FILE, else the default account).
ACCOUNT_EXTRACTS = build_account_extracts(settings.accounts())
# Whether the default account is configured: registrations use its key (and land in its lake).
HAS_DEFAULT_ACCOUNT = any(part.account.is_default for part in ACCOUNT_EXTRACTS)
# Every lake the load and the compaction read, as (account, lake prefix): each account's, and the
# default account's (the top folder) even when the accounts file names no `default` account,
# because webhook pushes land there whatever the accounts (docs/operations.md, Several accounts).
ACCOUNT_LAKES = [(part.account.name, part.account.lake_prefix) for part in ACCOUNT_EXTRACTS] + (
    [] if HAS_DEFAULT_ACCOUNT else [(DEFAULT_ACCOUNT, "")]
)
