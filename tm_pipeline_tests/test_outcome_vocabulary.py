"""Python and SQL speak one outcome vocabulary (tm_pipeline/contracts/outcomes.py).

The SQL stays plain so dbt runs it unchanged; instead this test reads it: every word the outcome
CASE of stg_api_calls can produce, every word schema.yml accepts, and every outcome the marts
and ledger checks filter on must be a word of the contract.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tm_pipeline.api.status_codes import SEED_TABLE
from tm_pipeline.contracts.outcomes import OUTCOMES

SQL_DIR = Path(__file__).resolve().parents[1] / "dbt_like_sql"


def _outcome_case(sql: str) -> str:
    match = re.search(r"\bcase\b(.*?)\bend\s+as\s+outcome\b", sql, flags=re.S | re.I)
    assert match, "stg_api_calls.sql has no `case ... end as outcome` expression"
    return match.group(1)


def test_every_outcome_the_staging_sql_produces_is_a_contract_word() -> None:
    case = _outcome_case((SQL_DIR / "staging" / "stg_api_calls.sql").read_text())
    produced = set(re.findall(r"\b(?:then|else)\s+'([^']*)'", case, flags=re.I))
    assert produced, "found no literal outcome in the CASE: the parse is wrong"
    assert produced <= OUTCOMES, f"SQL outcomes not in the contract: {sorted(produced - OUTCOMES)}"
    # Codes outside these literals come from raw.status_codes.category, which is written from Python.
    assert re.search(r"then\s+codes\.category\b", case), "the seed table's category is no longer passed through"


def test_the_seed_table_speaks_the_contract() -> None:
    assert {status.category.value for status in SEED_TABLE.values()} <= OUTCOMES


def test_schema_yml_accepts_exactly_the_contract() -> None:
    schema = yaml.safe_load((SQL_DIR / "staging" / "schema.yml").read_text())
    model = next(m for m in schema["models"] if m["name"] == "stg_api_calls")
    column = next(c for c in model["columns"] if c["name"] == "outcome")
    accepted = next(t["accepted_values"] for t in column["data_tests"] if "accepted_values" in t)
    assert set(accepted["arguments"]["values"]) == OUTCOMES


def test_sql_that_filters_on_outcome_uses_contract_words() -> None:
    """Marts compare `outcome` with literals, and a misspelt word silently matches nothing. (The
    ledger checks in Python name the words through the contract's enum instead.)"""
    sources = sorted(SQL_DIR.rglob("*.sql"))
    used: dict[str, set[str]] = {}
    for path in sources:
        text = path.read_text()
        for clause in re.findall(r"outcome\s*(?:=|<>|!=|(?:not\s+)?in)\s*(\([^)]*\)|'[^']*')", text, flags=re.I):
            for word in re.findall(r"'([^']*)'", clause):
                used.setdefault(word, set()).add(path.name)
    assert used, "found no outcome comparison at all: the parse is wrong"
    unknown = {word: sorted(files) for word, files in used.items() if word not in OUTCOMES}
    assert not unknown, f"outcome words outside tm_pipeline/contracts/outcomes.py: {unknown}"
