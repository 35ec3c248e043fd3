"""`tm-pipeline demo`: the whole pipeline against an in-process sandbox, end to end."""

from __future__ import annotations

import logging
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from tm_pipeline import settings
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
    for line in open_it_hints(outcome.database_path):
        print(line)


def open_it_hints(database_path: Path) -> list[str]:
    """Commands that open the published warehouse read-only, spelled as this user's shell can run them.

    The duckdb CLI comes only with the dev extra, so the venv's own tm-pipeline and python are used,
    by the path the shell reaches them (relative to the current directory, or bare when on PATH).
    """
    data_dir = database_path.parent
    data_dir_flag = "" if data_dir == settings.data_dir() else f" --data-dir {_shell_path(data_dir)}"
    python_code = (f"import duckdb; print(duckdb.connect({str(database_path)!r}, read_only=True)"
                   f".sql('FROM {METRIC_TABLE}'))")
    return [
        f"  query it:  {_launcher('tm-pipeline')} query{data_dir_flag} {shlex.quote('FROM ' + METRIC_TABLE)}",
        f"  Python:    {_launcher('python')} -c {_double_quoted(python_code)}",
    ]


def _launcher(name: str) -> str:
    """`name` from this interpreter's bin directory, as the user would type it."""
    executable = Path(sys.executable).with_name(name)
    if not executable.exists():  # e.g. run through `python -m tm_pipeline.cli`
        python = _shell_path(Path(sys.executable))
        return f"{python} -m tm_pipeline.cli" if name == "tm-pipeline" else python
    on_path = shutil.which(name)
    return name if on_path and Path(on_path).absolute() == executable.absolute() else _shell_path(executable)


def _shell_path(path: Path) -> str:
    """Relative to the current directory when under it (symlinks kept: a venv's python is one)."""
    absolute = path.absolute()
    try:
        return shlex.quote(str(absolute.relative_to(Path.cwd())))
    except ValueError:
        return shlex.quote(str(absolute))


def _double_quoted(text: str) -> str:
    """Python code reads best in double quotes; fall back to shlex when the shell would expand something."""
    return f'"{text}"' if not set('"$`\\!') & set(text) else shlex.quote(text)
