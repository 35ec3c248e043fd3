"""For tests of several accounts: an accounts file with the environment holding their keys, and each
account's marts compared with its own truth."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tm_pipeline import settings
from tm_pipeline.bench.truth_compare import MART_GROUPS, mart_mismatches


def accounts_environment(path: Path, base_urls: dict[str, str], keys: dict[str, str]) -> dict[str, str]:
    """Write an accounts file at `path` naming each account with its base_url and a key variable
    `TM_TEST_KEY_<NAME>`; the variables a deployment would set: the file's and each key's."""
    path.write_text("".join(
        f'[accounts.{name}]\nkey_var = "TM_TEST_KEY_{name.upper()}"\nbase_url = "{base_url}"\n'
        for name, base_url in base_urls.items()
    ))
    return {
        settings.ACCOUNTS_FILE_VAR: str(path),
        **{f"TM_TEST_KEY_{name.upper()}": keys[name] for name in base_urls},
    }


def accounts_mismatches(connection: duckdb.DuckDBPyConnection, truths: dict[str, dict]) -> dict[tuple[str, str], list]:
    """(account, mart) -> the rows where the warehouse's mart differs from that account's truth
    (`sandbox.expected_metrics(..., api_key=...)` per account); empty when every mart is right."""
    found = {}
    for name, truth in truths.items():
        for mart in MART_GROUPS:
            mismatches = mart_mismatches(connection, mart, truth[mart], account=name)
            if mismatches:
                found[(name, mart)] = mismatches
    return found
