"""Load the registration results into `raw.registrations`: every result ever recorded, oldest first.

Apart from raw_tables.py on purpose: registration is optional and its record is not part of the
manifests (it is written by the register stage, not by extractions), so its load is one separate,
additive step that a lake without registrations never notices.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from tm_pipeline.register.record import REGISTRATIONS_SCHEMA, RegistrationRecord


def load_registrations(connection: duckdb.DuckDBPyConnection, lake_root: Path) -> int:
    """Rebuild `raw.registrations` from `<lake>/registrations/results/`; returns its rows."""
    record = RegistrationRecord(lake_root)
    connection.execute("CREATE SCHEMA IF NOT EXISTS raw")
    connection.register("registration_results", record.results())
    connection.execute(
        "CREATE OR REPLACE TABLE raw.registrations AS SELECT * FROM registration_results "
        "ORDER BY recorded_at, run_id, source_row NULLS LAST, tracking_number"
    )
    connection.unregister("registration_results")
    (rows,) = connection.execute("SELECT count(*) FROM raw.registrations").fetchall()[0]
    return int(rows)


__all__ = ["REGISTRATIONS_SCHEMA", "load_registrations"]
