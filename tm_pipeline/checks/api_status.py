"""The API's answers judged as data: an asset check over the ledger of the latest extraction.

Each attempt's code (meta.code, else the HTTP status, else the transport failure) is classified by
the seed table: auth, billing and request errors fail the check as ERROR; 429s and transient
failures as WARN, because the extractor recovers from them but they cost budget and time.
"""


import dagster as dg

from tm_pipeline.api.status_codes import Category, classify
from tm_pipeline.load.assets import RAW_API_CALLS
from tm_pipeline.resources import WarehouseResource

_ERROR_CATEGORIES = {Category.AUTH, Category.BILLING, Category.REQUEST}
_WARN_CATEGORIES = {Category.RATE_LIMITED, Category.TRANSIENT}

_LATEST_RUN_CODES_SQL = """
SELECT coalesce(CAST(meta_code AS VARCHAR), failure, CAST(http_status AS VARCHAR)) AS code, count(*) AS calls
FROM raw.api_calls
WHERE run_id = (SELECT arg_max(run_id, requested_at) FROM raw.api_calls)
GROUP BY ALL ORDER BY code
"""


def judge_codes(calls_by_code: dict[str, int]) -> tuple[dg.AssetCheckSeverity | None, dict[str, int]]:
    """Worst severity among the codes (None when all fine) and the calls per category."""
    by_category: dict[str, int] = {}
    for code, calls in calls_by_code.items():
        category = classify(int(code)).category if code.isdigit() else Category.TRANSIENT
        by_category[category.value] = by_category.get(category.value, 0) + calls
    if any(by_category.get(c.value) for c in _ERROR_CATEGORIES):
        return dg.AssetCheckSeverity.ERROR, by_category
    if any(by_category.get(c.value) for c in _WARN_CATEGORIES):
        return dg.AssetCheckSeverity.WARN, by_category
    return None, by_category


@dg.asset_check(
    asset=RAW_API_CALLS,
    name="api_status_codes",
    description="ERROR if any call of the latest run ended in an auth, billing or request error; "
    "WARN on 429s, 5xx, timeouts or broken bodies. Counts per code in metadata.",
)
def api_status_codes(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as connection:
        calls_by_code = {code: calls for code, calls in connection.execute(_LATEST_RUN_CODES_SQL).fetchall()}
    severity, by_category = judge_codes(calls_by_code)
    return dg.AssetCheckResult(
        passed=severity is None and bool(calls_by_code),
        severity=severity or dg.AssetCheckSeverity.ERROR,
        metadata={
            "calls_by_code": calls_by_code,
            "calls_by_category": by_category,
            "served_429": calls_by_code.get("429", 0),
            "calls": sum(calls_by_code.values()),
        },
    )
