"""The outcome vocabulary of an API call: one set of words for Python and SQL.

`Category` is how the status-code table (api/status_codes.py) judges a code, and its values are
written into `raw.status_codes.category`; `stg_api_calls.outcome` passes them through and adds
`no_envelope` for attempts that got no v2 envelope. The ledger checks and the marts filter on the
same words. tm_pipeline_tests/test_outcome_vocabulary.py reads the SQL and schema.yml and fails
when either uses a word that is not here, so the SQL stays plain (dbt-portable) and cannot drift.
"""

from __future__ import annotations

from enum import Enum


class Category(str, Enum):
    """How a response code is judged in the data-quality checks."""

    OK = "ok"
    EMPTY = "empty"  # request fine, nothing to return (4031)
    RATE_LIMITED = "rate_limited"
    TRANSIENT = "transient"  # server-side trouble worth retrying
    AUTH = "auth"  # the key is wrong, deleted or not allowed
    BILLING = "billing"  # balance, quota or payment
    REQUEST = "request_error"  # our request is wrong: retrying cannot help
    DETECTION = "detection"  # courier could not be detected (4032)


NO_ENVELOPE = "no_envelope"
"""The outcome of an attempt without a v2 envelope and without a 429/5xx HTTP status to judge by."""

OUTCOMES: frozenset[str] = frozenset({category.value for category in Category} | {NO_ENVELOPE})
"""Every value stg_api_calls.outcome may take."""
