"""One account's view of the warehouse, so a report of several accounts never mixes their rows.

Every mart with an `account` column is shadowed, for this read-only session only, by a temporary
view of the same name over that account's rows; the report's queries then read `main.<mart>` as
they always do (DuckDB resolves a temporary view first). Nothing is written to the file.
"""

from __future__ import annotations

import duckdb


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _tables_with_account(connection: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    return [
        name for (name,) in connection.execute(
            "select table_name from information_schema.columns "
            "where table_catalog = ? and table_schema = 'main' and column_name = 'account' order by table_name",
            [catalog],
        ).fetchall()
    ]


def accounts_in(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """The accounts the warehouse holds trackings of (none before the first build)."""
    (catalog,) = connection.execute("select current_database()").fetchone() or ("",)
    if "fct_shipments" not in _tables_with_account(connection, catalog):
        return []
    found = connection.execute("select distinct account from main.fct_shipments order by 1").fetchall()
    return [name for (name,) in found]


def narrow_to_account(connection: duckdb.DuckDBPyConnection, account: str) -> None:
    """Shadow every mart that has an `account` column with a view of `account`'s rows."""
    (catalog,) = connection.execute("select current_database()").fetchone() or ("",)
    for table in _tables_with_account(connection, catalog):
        connection.execute(
            f"create temp view {_quoted(table)} as "
            f"select * from {_quoted(catalog)}.main.{_quoted(table)} where account = {_text(account)}"
        )
