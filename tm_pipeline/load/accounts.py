"""The `account` column of the raw tables, produced from where files lie rather than stored in them.

Each account lands in its own lake (`lake/` for the default account, `lake/account=<name>/` for a
named one), so a file's account is its lake's: the landed Parquet needs no new column, and files
landed before accounts existed read as the default account without any migration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import pyarrow as pa

from tm_pipeline.contracts.fields import described
from tm_pipeline.landing.integrity import KnownFile, LakeAudit, audit_lake
from tm_pipeline.landing.lake import Lake

ACCOUNT_FIELD = described("account", pa.string(), "The TrackingMore account (configured name) the row came from.")


@dataclass(frozen=True)
class AccountLake:
    """One account's lake and the audit of its files; `prefix` is where it lies under the top lake."""

    account: str
    lake: Lake
    audit: LakeAudit
    prefix: str = ""

    def name(self, path: Path) -> str:
        """How raw.loaded_files and the checks name a file: relative to the top lake, so the same
        relative path in two accounts' lakes stays two files (`account=<name>/trackings/...`)."""
        relative = self.lake.relative(path)
        return f"{self.prefix}/{relative}" if self.prefix else relative

    @property
    def top_root(self) -> Path:
        """The top lake's folder (this lake's parent for a named account): `top_root / name(path)` is `path`."""
        return self.lake.root.parent if self.prefix else self.lake.root

    def owns(self, name: str) -> bool:
        """Whether a top-relative name (see `name`) is one of this account's files."""
        if self.prefix:
            return name.startswith(self.prefix + "/")
        return not name.startswith("account=")

    def relative(self, name: str) -> str:
        """A top-relative name of this account's file, relative to its own lake (as its manifests say)."""
        return name[len(self.prefix) + 1:] if self.prefix else name


def audit_account_lakes(
    lakes: Sequence[tuple[str, str, Lake]], loaded: Mapping[str, KnownFile] | None = None
) -> list[AccountLake]:
    """Audit each (account, prefix, lake) against its own manifests; `loaded` maps top-relative
    names of loaded files to how they were then (each account is handed its own, lake-relative)."""
    parts = []
    for account, prefix, lake in lakes:
        unaudited = AccountLake(account, lake, LakeAudit(), prefix)
        known = {unaudited.relative(name): file for name, file in (loaded or {}).items() if unaudited.owns(name)}
        parts.append(AccountLake(account, lake, audit_lake(lake, known), prefix))
    return parts


def with_account(schema: pa.Schema) -> pa.Schema:
    """`schema` with the account column first, as the raw tables have it."""
    return schema.insert(0, ACCOUNT_FIELD)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def account_rows_source(
    connection: duckdb.DuckDBPyConnection,
    files_by_account: Sequence[tuple[str, Sequence[Path]]],
    schema: pa.Schema,
    empty_name: str,
) -> str:
    """A FROM-clause of exactly these files with an `account` column first, or an empty table of
    the right shape (account included) when no account has any file.

    Hive partitioning is off: DuckDB would otherwise turn the `account=<name>` folder (and
    `window=`, `extraction=`) into columns of its own, clashing with the account column."""
    selects = [
        f"(SELECT {_sql_text(account)} AS account, * FROM read_parquet([{', '.join(_sql_text(str(p)) for p in files)}],"
        " union_by_name = true, hive_partitioning = false))"
        for account, files in files_by_account
        if files
    ]
    if not selects:
        connection.register(empty_name, with_account(schema).empty_table())
        return empty_name
    return "(" + " UNION ALL BY NAME ".join(selects) + ")"


def merged_audit(account_lakes: Sequence[AccountLake]) -> LakeAudit:
    """All accounts' audits as one, with problem and stray files relative to the top lake, so that
    a check names a file a person can open (`lake/account=<name>/trackings/...`)."""

    def under_top(relative: str, prefix: str) -> str:
        return f"{prefix}/{relative}" if prefix else relative

    merged = LakeAudit()
    for part in account_lakes:
        merged.trackings_files += part.audit.trackings_files
        merged.api_calls_files += part.audit.api_calls_files
        merged.quarantine_files += part.audit.quarantine_files
        merged.manifests += part.audit.manifests
        merged.committed.update(part.audit.committed)
        merged.problems += [replace(p, file=under_top(p.file, part.prefix)) for p in part.audit.problems]
        merged.strays += [under_top(stray, part.prefix) for stray in part.audit.strays]
    return merged
