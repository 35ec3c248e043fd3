"""`tm-pipeline demo`: the whole pipeline against an in-process sandbox, end to end."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from tm_pipeline.definitions import default_resources
from tm_pipeline.runs import check_outcomes, materialize_all

DEMO_API_KEY = "sandbox-demo-key"
METRIC_TABLE = "delivery_time_by_carrier"

log = logging.getLogger(__name__)


@dataclass
class DemoOutcome:
    success: bool
    database_path: Path
    checks: list[dict[str, Any]]
    sandbox_stats: dict[str, Any]
    expected_metrics: dict[str, list[dict[str, Any]]]


def run_demo(data_dir: Path, trackings: int = 20_000, seed: int = 42, list_rate_per_s: float = 1.0) -> DemoOutcome:
    """Start the sandbox, materialize every asset and check against it, and stop the sandbox."""
    from tm_pipeline.sandbox import SandboxConfig, SandboxServer  # the sandbox is only needed here

    config = SandboxConfig(trackings=trackings, seed=seed, api_keys=(DEMO_API_KEY,), list_rate_per_s=list_rate_per_s)
    with SandboxServer(config).running() as sandbox:
        resources = default_resources(
            data_dir, base_url=sandbox.base_url, api_key=DEMO_API_KEY, list_rate_per_s=list_rate_per_s
        )
        result = materialize_all(resources, data_dir)
        stats = sandbox.stats()
        expected = sandbox.expected_metrics()
    return DemoOutcome(
        success=result.success,
        database_path=resources["warehouse"].published_file,
        checks=check_outcomes(result),
        sandbox_stats=stats,
        expected_metrics=expected,
    )


def print_report(outcome: DemoOutcome) -> None:
    if outcome.database_path.exists():
        with duckdb.connect(str(outcome.database_path), read_only=True) as connection:
            columns = connection.execute(f"DESCRIBE main.{METRIC_TABLE}").fetchall()
            shown = ", ".join(
                f"round({name}, 2) AS {name}" if kind == "DOUBLE" else name for name, kind, *_ in columns
            )
            print(f"\n{METRIC_TABLE} (days, rounded for display; the table keeps full precision):")
            table = connection.sql(f"SELECT {shown} FROM main.{METRIC_TABLE} ORDER BY ALL").fetchdf()
            print(table.to_string(index=False))
    print("\nchecks:")
    for check in outcome.checks:
        verdict = "PASS" if check["passed"] else f"FAIL ({check['severity']})"
        print(f"  {verdict:<14} {check['asset']}:{check['check']}")
    print(f"\nsandbox: {outcome.sandbox_stats.get('requests')} requests, "
          f"{outcome.sandbox_stats.get('served_429')} answered 429")
    print(f"DuckDB file: {outcome.database_path}")
    # the duckdb-cli package puts the command beside this interpreter; the venv need not be activated
    duckdb_cli = Path(sys.executable).parent / "duckdb"
    print(f"  open it:   {duckdb_cli} -readonly {outcome.database_path}   or   python -c \"import duckdb; "
          f"print(duckdb.connect('{outcome.database_path}', read_only=True).sql('FROM {METRIC_TABLE}'))\"")
