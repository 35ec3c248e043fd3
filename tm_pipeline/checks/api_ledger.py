"""API status checks over the extraction ledger (stg_api_calls), judged on the latest run.

Only the latest run (the run_id of the newest attempt) is judged: an auth error last week must not
fail today's healthy run forever; history stays visible in api_health_daily. Codes are grouped
by stg_api_calls.outcome, whose words are tm_pipeline/contracts/outcomes.py.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg
import duckdb

from tm_pipeline.api.endpoints import LIST_ENDPOINTS
from tm_pipeline.contracts.outcomes import NO_ENVELOPE, Category
from tm_pipeline.contracts.pools import WAREHOUSE_POOL
from tm_pipeline.models.checks import SEVERITY
from tm_pipeline.models.results import CheckRecord, record_check_results
from tm_pipeline.resources import WarehouseResource

# 4031 is "ok, nothing to return" (e.g. a page past the end): normal in small amounts, a sign of a
# wrong window or filter when it dominates. 4032 means the courier could not be detected.
EMPTY_SHARE_WARN_ABOVE = 0.5
DETECTION_SHARE_WARN_ABOVE = 0.05

# API versions whose list endpoint reports no total (v4): their completeness cannot be judged.
VERSIONS_WITHOUT_TOTAL = frozenset(
    version for version, endpoint in LIST_ENDPOINTS.items() if not endpoint.reports_total
)

# Outcomes of a page that has not (yet) come back: server trouble, or no envelope at all.
_UNRECOVERED = f"('{Category.TRANSIENT.value}', '{NO_ENVELOPE}')"

LATEST_RUN_CALLS = """
    select * from main.stg_api_calls
    where run_id = (select run_id from main.stg_api_calls order by requested_at desc, call_seq desc limit 1)
"""


@dataclass(frozen=True)
class LedgerVerdict:
    passed: bool
    severity: str  # 'error' | 'warn': how bad a failure is
    value: float
    metadata: dict[str, Any]


@dataclass(frozen=True)
class LedgerRun:
    """What the checks need from the latest run, read once."""

    run_id: str | None
    calls_by_code: dict[str, int]
    calls_by_outcome: dict[str, int]
    server_error_pages: list[dict[str, Any]]  # pages that saw a 5xx/no-envelope attempt
    fetched_vs_reported: list[dict[str, Any]]  # per extraction touched by the run
    api_versions: frozenset[str] = frozenset()  # the API versions the run spoke

    @property
    def calls(self) -> int:
        return sum(self.calls_by_code.values())


def read_latest_run(connection: duckdb.DuckDBPyConnection) -> LedgerRun:
    def records(sql: str) -> list[dict[str, Any]]:
        cursor = connection.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    by_code = records(
        f"select run_id, response_code, outcome, count(*) as calls from ({LATEST_RUN_CALLS}) group by all"
    )
    server_error_pages = records(
        f"""select endpoint, page, count(*) as attempts,
                   arg_max(response_code, call_seq) as last_response_code,
                   arg_max(outcome, call_seq) in {_UNRECOVERED} as unrecovered
            from ({LATEST_RUN_CALLS})
            group by endpoint, page
            having count(*) filter (where outcome in {_UNRECOVERED}) > 0
            order by endpoint, page"""
    )
    # Completeness is judged per extraction touched by the latest run, over all its pages: a
    # resumed extraction fetched its first pages in an earlier run.
    fetched_vs_reported = records(
        f"""with touched as (select distinct extraction_id from ({LATEST_RUN_CALLS})),
            pages as (
                select extraction_id, endpoint, page,
                       max(rows_returned) filter (where outcome = '{Category.OK.value}') as rows_fetched,
                       arg_max(total_reported, requested_at) filter (where total_reported is not null)
                           as total_reported,
                       max(requested_at) as requested_at
                from main.stg_api_calls where extraction_id in (select extraction_id from touched)
                group by all)
            select extraction_id, endpoint, coalesce(sum(rows_fetched), 0) as rows_fetched,
                   arg_max(total_reported, requested_at) filter (where total_reported is not null)
                       as total_reported
            from pages group by all order by extraction_id"""
    )
    calls_by_code: dict[str, int] = {}
    calls_by_outcome: dict[str, int] = {}
    for row in by_code:
        calls_by_code[row["response_code"]] = calls_by_code.get(row["response_code"], 0) + row["calls"]
        calls_by_outcome[row["outcome"]] = calls_by_outcome.get(row["outcome"], 0) + row["calls"]
    run_id = by_code[0]["run_id"] if by_code else None
    spoken = records(f"select distinct api_version from ({LATEST_RUN_CALLS})")
    versions = frozenset(row["api_version"] for row in spoken)
    return LedgerRun(run_id, calls_by_code, calls_by_outcome, server_error_pages, fetched_vs_reported, versions)


def _count_check(outcome: Category, severity: str) -> Callable[[LedgerRun], LedgerVerdict]:
    """Fails when any call of the latest run had this outcome."""

    def judge(run: LedgerRun) -> LedgerVerdict:
        count = run.calls_by_outcome.get(outcome.value, 0)
        return LedgerVerdict(count == 0, severity, float(count), {"calls": count})

    return judge


def _share_check(code: str, warn_above: float) -> Callable[[LedgerRun], LedgerVerdict]:
    def judge(run: LedgerRun) -> LedgerVerdict:
        share = run.calls_by_code.get(code, 0) / run.calls if run.calls else 0.0
        return LedgerVerdict(share <= warn_above, "warn", share, {"share": share, "warn_above": warn_above})

    return judge


def judge_server_errors(run: LedgerRun) -> LedgerVerdict:
    """A page whose last attempt is still a 5xx/timeout is missing data (ERROR); one that
    recovered on retry only cost time (WARN)."""
    unrecovered = [page for page in run.server_error_pages if page["unrecovered"]]
    severity = "error" if unrecovered else "warn"
    return LedgerVerdict(
        not run.server_error_pages,
        severity,
        float(len(unrecovered)),
        {
            "pages_unrecovered": len(unrecovered),
            "pages_recovered": len(run.server_error_pages) - len(unrecovered),
            "pages": dg.MetadataValue.json(
                [{k: str(v) for k, v in page.items()} for page in run.server_error_pages[:20]]
            ),
        },
    )


def judge_completeness(run: LedgerRun) -> LedgerVerdict:
    """Rows fetched over distinct pages vs the total the API reported (ledger column
    total_reported). Without any reported total completeness cannot be judged: WARN, unless the
    run spoke only versions that never report one (v4), where there is nothing to judge."""
    reported = [row for row in run.fetched_vs_reported if row["total_reported"] is not None]
    if not reported and run.api_versions and run.api_versions <= VERSIONS_WITHOUT_TOTAL:
        return LedgerVerdict(
            True, "warn", 0.0,
            {"note": "the API version reports no total: completeness is not judged (a short page ends the walk)"},
        )
    if not reported:
        return LedgerVerdict(
            run.calls == 0, "warn", 0.0, {"note": "no total_reported in the latest run's ledger"}
        )
    missing = sum(max(row["total_reported"] - row["rows_fetched"], 0) for row in reported)
    by_extraction = {
        row["extraction_id"]: {
            "endpoint": row["endpoint"],
            "fetched": int(row["rows_fetched"]),
            "reported": int(row["total_reported"]),
        }
        for row in reported
    }
    return LedgerVerdict(
        missing == 0,
        "error",
        float(missing),
        {"rows_missing": missing, "by_extraction": dg.MetadataValue.json(by_extraction)},
    )


@dataclass(frozen=True)
class LedgerCheck:
    name: str
    description: str
    blocking: bool
    judge: Callable[[LedgerRun], LedgerVerdict]


def ledger_checks(
    empty_share_warn_above: float = EMPTY_SHARE_WARN_ABOVE,
    detection_share_warn_above: float = DETECTION_SHARE_WARN_ABOVE,
) -> list[LedgerCheck]:
    return [
        LedgerCheck(
            "api_auth_errors",
            "No 401/403/4001/4002: the API key works (ERROR).",
            True,
            _count_check(Category.AUTH, "error"),
        ),
        LedgerCheck(
            "api_request_errors",
            "No request errors (4012-4015, 4033, other 4xxx): our request is valid (ERROR).",
            True,
            _count_check(Category.REQUEST, "error"),
        ),
        LedgerCheck(
            "api_billing_errors",
            "No 402/4019/4021: balance and quota left (ERROR).",
            True,
            _count_check(Category.BILLING, "error"),
        ),
        LedgerCheck(
            "api_rate_limited",
            "No 429 served: the pacer kept under the limit (WARN).",
            False,
            _count_check(Category.RATE_LIMITED, "warn"),
        ),
        LedgerCheck(
            "api_server_errors",
            "Every page that met a 5xx/timeout recovered on retry (ERROR if not, WARN if recovered).",
            True,
            judge_server_errors,
        ),
        LedgerCheck(
            "api_empty_share",
            f"Share of 4031 (no content) at most {empty_share_warn_above:.0%} (WARN).",
            False,
            _share_check("4031", empty_share_warn_above),
        ),
        LedgerCheck(
            "api_detection_share",
            f"Share of 4032 (courier not detected) at most {detection_share_warn_above:.0%} (WARN).",
            False,
            _share_check("4032", detection_share_warn_above),
        ),
        LedgerCheck(
            "api_completeness",
            "Trackings fetched equal the total the API reported (ERROR).",
            True,
            judge_completeness,
        ),
    ]


def build_ledger_checks(
    asset_key: dg.AssetKey,
    empty_share_warn_above: float = EMPTY_SHARE_WARN_ABOVE,
    detection_share_warn_above: float = DETECTION_SHARE_WARN_ABOVE,
) -> list[dg.AssetChecksDefinition]:
    """One multi-asset check on the ledger model; checks that can be ERROR are blocking."""
    checks = {
        check.name: check for check in ledger_checks(empty_share_warn_above, detection_share_warn_above)
    }
    specs = [
        dg.AssetCheckSpec(
            name=check.name, asset=asset_key, description=check.description, blocking=check.blocking
        )
        for check in checks.values()
    ]

    @dg.multi_asset_check(specs=specs, name="api_ledger_checks", can_subset=True, pool=WAREHOUSE_POOL)
    def _run_ledger_checks(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[dg.AssetCheckResult]:
        selected = [checks[key.name] for key in sorted(context.selected_asset_check_keys, key=str)]
        with warehouse.connect() as connection:
            run = read_latest_run(connection)
            verdicts = [(check, check.judge(run)) for check in selected]
            record_check_results(
                connection,
                context.run.run_id,
                [
                    CheckRecord(
                        check.name,
                        asset_key.to_user_string(),
                        verdict.passed,
                        verdict.severity,
                        verdict.value,
                    )
                    for check, verdict in verdicts
                ],
            )
        for check, verdict in verdicts:
            yield dg.AssetCheckResult(
                asset_key=asset_key,
                check_name=check.name,
                passed=verdict.passed,
                severity=SEVERITY[verdict.severity],
                metadata={
                    **verdict.metadata,
                    "severity": verdict.severity,
                    "value": verdict.value,
                    "extraction_run_id": run.run_id or "",
                    "calls_by_code": dg.MetadataValue.json(run.calls_by_code),
                },
            )

    return [_run_ledger_checks]
