"""The command line explains itself: every subcommand's --help, `query`, and the demo's open-it hints."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import duckdb
import pytest

from tm_pipeline.cli import EXIT_OK, EXIT_USAGE, build_parser, main, shows_default
from tm_pipeline.demo import METRIC_TABLE, open_it_hints


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(commands.choices)


def _option_entry(page: str, option: str) -> str:
    """The option's lines on the help page: its own line and the indented help lines that follow."""
    lines = page.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(option + " ") or line.strip() == option)
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith(" " * 10)), len(lines))
    return " ".join(line.strip() for line in lines[start:end])


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_every_option_of_every_subcommand_has_help_and_shows_its_default(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # one line per option, so a default is never wrapped apart
    with pytest.raises(SystemExit) as exited:
        main([name, "--help"])
    assert exited.value.code == 0
    page = capsys.readouterr().out
    assert page.startswith(f"usage: tm-pipeline {name}")
    subcommand = _subcommands()[name]
    assert subcommand.description and subcommand.description in page
    for action in subcommand._actions:
        if not action.option_strings or action.dest == "help":
            continue
        assert action.help and action.help.strip(), f"{name} {action.option_strings[0]} has no help"
        entry = _option_entry(page, action.option_strings[0])
        assert action.help.strip().replace("%%", "%") in entry  # argparse renders %% as %
        if shows_default(action):
            assert f"(default: {action.default})" in entry, entry


def test_the_top_level_help_names_every_command_and_dagster_home(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    page = capsys.readouterr().out
    assert all(f"    {name}" in page for name in _subcommands())
    assert "DAGSTER_HOME" in page


@pytest.fixture
def published(tmp_path: Path) -> Path:
    """A published warehouse with one small mart, written as the pipeline's publish step leaves it."""
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        connection.execute(f"CREATE TABLE {METRIC_TABLE} AS SELECT * FROM (VALUES ('dhl', 3.5), ('ups', 2.0)) "
                           "AS t(carrier_code, median_days)")
    return tmp_path


def test_query_prints_the_rows_of_the_published_warehouse(published: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["query", f"FROM {METRIC_TABLE} ORDER BY carrier_code", "--data-dir", str(published)]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["carrier_code", "median_days"]
    assert [line.split() for line in lines[1:]] == [["dhl", "3.5"], ["ups", "2.0"]]


def test_query_refuses_writes_and_says_the_file_is_read_only(published: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["query", "CREATE TABLE scratch AS SELECT 1", "--data-dir", str(published)]) == EXIT_USAGE
    assert "read-only" in capsys.readouterr().err
    with duckdb.connect(str(published / "warehouse.duckdb"), read_only=True) as connection:
        tables = {name for (name,) in connection.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert tables == {METRIC_TABLE}


def test_query_without_a_warehouse_names_the_file_and_what_to_run(tmp_path: Path, capsys) -> None:
    assert main(["query", "SELECT 1", "--data-dir", str(tmp_path)]) == EXIT_USAGE
    message = capsys.readouterr().err
    assert str(tmp_path / "warehouse.duckdb") in message and "tm-pipeline demo" in message


def test_the_demo_hints_run_as_printed_in_a_shell(published: Path) -> None:
    """Each hint is run by bash exactly as printed, from the directory the demo ran in."""
    hints = open_it_hints(published / "warehouse.duckdb")
    assert len(hints) == 2
    for hint in hints:
        command = hint.split(":", 1)[1].strip()
        completed = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60, check=False)
        assert completed.returncode == 0, (command, completed.stderr[-2000:])
        assert "dhl" in completed.stdout and "ups" in completed.stdout, command
