"""`tm-pipeline report`: the marts as one self-contained HTML dashboard that opens offline.

The warehouse is opened read-only and closed before any HTML is written, so a report never holds
DuckDB's single writer lock while the pipeline wants it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from tm_pipeline.report.accounts import accounts_in, narrow_to_account
from tm_pipeline.report.page import render_page
from tm_pipeline.report.queries import read_report_data

__all__ = ["ReportSummary", "build_report"]


@dataclass(frozen=True)
class ReportSummary:
    """What was written: the file, the charts in page order, and how many data rows each one drew."""

    path: Path
    charts: tuple[str, ...]
    rows_per_chart: dict[str, int]


def build_report(database_path: Path, output_path: Path, account: str | None = None) -> ReportSummary:
    """Read the marts from `database_path` and write the dashboard to `output_path` (parents created).

    A warehouse of several accounts is reported one account at a time (`account`): their
    carriers, weeks and percentiles do not add up row by row. With one account it may be omitted."""
    if not database_path.exists():
        raise FileNotFoundError(f"no warehouse at {database_path}")
    with duckdb.connect(str(database_path), read_only=True) as connection:
        accounts = accounts_in(connection)
        if account is None and len(accounts) > 1:
            raise ValueError(f"the warehouse holds {len(accounts)} accounts ({', '.join(accounts)}); "
                             "choose one with --account")
        if account is not None and account not in accounts:
            raise ValueError(f"no account {account!r} in the warehouse; it holds: {', '.join(accounts) or 'none yet'}")
        if account is not None:
            narrow_to_account(connection, account)
        data = read_report_data(connection)
    source = database_path.name if account is None else f"{database_path.name}, account {account}"
    document, rendered = render_page(data, datetime.now(timezone.utc), source)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    output_path.write_text(document, encoding="utf-8")
    return ReportSummary(
        path=output_path,
        charts=tuple(chart.name for chart in rendered),
        rows_per_chart={chart.name: chart.rows for chart in rendered},
    )
