"""Dagster asset: register the shipments of an order system in TrackingMore, and judge every result.

Optional: with no shipments input configured (`TM_SHIPMENTS_FILE` unset) the asset sends nothing
and says so. The extraction does not depend on it; registered shipments reach the marts through
the next extraction, like any tracking created in the TrackingMore console.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg

from tm_pipeline import settings
from tm_pipeline.api.client import key_fingerprint
from tm_pipeline.api.create_codes import ITEM_TABLE, Severity
from tm_pipeline.api.pacer import Pacer
from tm_pipeline.contracts.dagster_columns import column_schema
from tm_pipeline.contracts.pools import CALLS_API
from tm_pipeline.register.record import REGISTRATIONS_SCHEMA, RegistrationRecord
from tm_pipeline.register.run import Registrar, RegistrationStoppedError, RegistrationSummary
from tm_pipeline.resources import LakeResource, TrackingMoreResource

LAKE_REGISTRATIONS = dg.AssetKey(["lake", "registrations"])
CHECK_NAME = "registrations_accepted"
OFF = f"registration is off: {settings.SHIPMENTS_VAR} is not set, so no shipment was sent to TrackingMore"

_WARN_RESULTS = sorted(j.result.value for j in ITEM_TABLE if j.severity is Severity.WARN)
_STOP_RESULTS = sorted(j.result.value for j in ITEM_TABLE if j.severity is Severity.STOP)


# ConfigurableResource is generic only for resource factories; this resource is its own value.
class RegistrationResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where the shipments to register come from, and how fast creation may go."""

    shipments: str = ""  # a .csv / .parquet file or path.duckdb:schema.table; "" = registration is off
    create_rate_per_s: float = 1.0  # §7: v2 endpoints other than the list, 1 request/second per account
    batch_size: int = 40  # §2: at most 40 per batch call

    def create_pacer(self, trackingmore: TrackingMoreResource) -> Pacer:
        """Detect and batch calls share this pacer; its budget is remembered per key, apart from the list's."""
        state_file = None
        if trackingmore.state_dir:
            Path(trackingmore.state_dir).mkdir(parents=True, exist_ok=True)
            fingerprint = key_fingerprint(trackingmore.api_key).removeprefix("key#")
            state_file = Path(trackingmore.state_dir) / f"pacer-{fingerprint}-create.txt"
        return Pacer(self.create_rate_per_s, state_file=state_file)


def _check(summary: RegistrationSummary | None) -> dg.AssetCheckResult:
    """ERROR when the account refused to create (quota, balance), WARN for rows to fix, else passed."""
    if summary is None:
        return dg.AssetCheckResult(check_name=CHECK_NAME, passed=True, description=OFF)
    stopped = sum(summary.results[name] for name in _STOP_RESULTS)
    to_fix = sum(summary.results[name] for name in _WARN_RESULTS)
    severity = dg.AssetCheckSeverity.ERROR if stopped else dg.AssetCheckSeverity.WARN
    metadata: dict[str, Any] = {
        "results": dg.MetadataValue.json(dict(summary.results)),
        "refused_by_account": stopped,
        "rows_to_fix": to_fix,
        "first_problems": dg.MetadataValue.json(summary.first_problems),
    }
    if stopped:
        metadata["what_to_do"] = next(j.what_to_do for j in ITEM_TABLE if j.severity is Severity.STOP)
    elif to_fix:
        metadata["what_to_do"] = (
            "SELECT source_row, tracking_number, result, field, reason, what_to_do FROM raw.registrations "
            "WHERE severity <> 'ok' shows each row; fix them in the input and the next run sends them."
        )
    return dg.AssetCheckResult(
        check_name=CHECK_NAME, passed=not (stopped or to_fix), severity=severity, metadata=metadata,
        description=f"{stopped} refused by the account, {to_fix} rows to fix" if stopped or to_fix else None,
    )


def _metadata(summary: RegistrationSummary) -> dict[str, Any]:
    return {
        "source": summary.source,
        "rows": summary.rows,
        "results": dg.MetadataValue.json(dict(summary.results)),
        "registered_now": summary.sent,
        "skipped_already_registered": summary.skipped_registered,
        "settled_from_earlier_runs": summary.settled_from_earlier,
        "create_calls": summary.create_calls,
        "detect_calls": summary.detect_calls,
        "lookup_calls": summary.lookup_calls,
        "ignored_columns": summary.ignored_columns,
    }


@dg.asset(
    key=LAKE_REGISTRATIONS,
    group_name="register",
    pool=settings.api_pool(),
    kinds={"parquet"},
    tags=CALLS_API,
    description="Shipments from TM_SHIPMENTS_FILE created in TrackingMore (batches of 40, never a number twice), "
    "one result per input row with its reason; does nothing when no input is configured.",
    metadata={"dagster/column_schema": column_schema(REGISTRATIONS_SCHEMA)},
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_NAME, asset=LAKE_REGISTRATIONS,
            description="Every shipment of the latest registration was created or already existed: WARN for rows "
            "to fix (bad number or carrier, duplicates, courier not detected), ERROR when the account refused "
            "to create more (quota, balance).",
        )
    ],
)
def shipments_registration(
    context: dg.AssetExecutionContext,
    registration: RegistrationResource,
    trackingmore: TrackingMoreResource,
    lake: LakeResource,
) -> Iterator[dg.MaterializeResult[None] | dg.AssetCheckResult]:
    if not registration.shipments:
        context.log.info(OFF)
        yield dg.MaterializeResult(metadata={"source": "(none)", "registered_now": 0, "registration": OFF})
        yield _check(None)
        return
    client = trackingmore.client()
    registrar = Registrar(
        client,
        registration.create_pacer(trackingmore),
        trackingmore.pacer(),
        RegistrationRecord(lake.local_root("registration")),
        context.run.run_id,
        trackingmore.retry_policy(),
        batch_size=registration.batch_size,
        progress=context.log.info,
    )
    try:
        summary = registrar.register(registration.shipments)
    except RegistrationStoppedError as stopped:
        # The results are recorded; the check says ERROR with the advice, and the run fails (exit code 3).
        summary = registrar.last_summary
        yield dg.MaterializeResult(metadata=_metadata(summary))
        yield _check(summary)
        raise stopped
    finally:
        client.close()
    yield dg.MaterializeResult(metadata=_metadata(summary))
    yield _check(summary)
