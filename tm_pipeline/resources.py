"""Dagster resources: configuration flows from environment variables into these, never ad hoc."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb


class WarehouseResource(dg.ConfigurableResource):
    """The analysts' DuckDB file. Connections are opened per step and closed at once, because
    DuckDB allows one writer process and readers (BI tools, notebooks) must not be locked out
    for a whole run."""

    database_path: str

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        path = Path(self.database_path)
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        connection = duckdb.connect(str(path), read_only=read_only)
        try:
            yield connection
        finally:
            connection.close()
