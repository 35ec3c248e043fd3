"""The lake proves itself: real runs against the sandbox, then real damage to real files.

One full run lands the sandbox's trackings once per session (conftest `landed_sync`); each test
damages its own copy of that data directory and runs Dagster again, with or without the
extraction (the API). Checks that need no Dagster run call the audit and the load directly.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from tm_pipeline.landing.integrity import CHECKSUM, MISSING, ROW_COUNT, UNREADABLE, audit_lake
from tm_pipeline.landing.lake import REPLACED, Lake
from tm_pipeline.load.assets import LAKE_CHECK, LEDGER_CHECK
from tm_pipeline.load.raw_tables import LoadSummary, load_raw_tables
from tm_pipeline.runs import materialize_all
from tm_pipeline.sandbox import SandboxServer
from tm_pipeline_tests.conftest import sandbox_resources
from tm_pipeline_tests.lake_fixtures import (
    LOAD_ONLY,
    downgrade_manifests_to_format_1,
    flip_bytes_inside,
    ledger_files,
    ledger_rows,
    manifest_files,
    outcome,
    page_files,
    query,
    sha256,
    tracking_ids,
)


@pytest.fixture
def copy(landed_sync: tuple[Path, str], tmp_path: Path, sandbox: SandboxServer) -> tuple[Path, dict]:
    """This test's own copy of the landed data directory, and resources pointing at it."""
    template, key = landed_sync
    data_dir = tmp_path / "data"
    shutil.copytree(template, data_dir)
    return data_dir, sandbox_resources(sandbox, key, data_dir)


def _load_into(database: Path, lake: Lake) -> LoadSummary:
    """The load alone, into a fresh DuckDB file, for checks that need no Dagster run."""
    with duckdb.connect(str(database)) as connection:
        return load_raw_tables(connection, lake)


def _truth_ids(sandbox: SandboxServer) -> list[str]:
    return sorted(item["id"] for item in sandbox.truth_trackings())


def test_manifest_records_rows_and_checksum_of_every_page_and_ledger_part(landed_sync: tuple[Path, str]) -> None:
    data_dir, _ = landed_sync
    (manifest_path,) = manifest_files(data_dir)
    manifest = json.loads(manifest_path.read_text())
    pages = page_files(data_dir)
    assert manifest["format"] == 2
    assert manifest["checksums"] == {str(page): sha256(path) for page, path in enumerate(pages, start=1)}
    assert {name: part["sha256"] for name, part in manifest["call_parts"].items()} == {
        path.name: sha256(path) for path in ledger_files(data_dir)
    }
    assert sum(part["rows"] for part in manifest["call_parts"].values()) == manifest["calls"]


def test_deleted_page_is_refetched_when_the_api_is_reachable(copy: tuple[Path, dict], sandbox: SandboxServer) -> None:
    data_dir, resources = copy
    lost_page = page_files(data_dir)[1]
    lost_page.unlink()
    (damaged_manifest,) = manifest_files(data_dir)

    result = materialize_all(resources, data_dir)

    assert result.success
    assert tracking_ids(resources["warehouse"].published_file) == _truth_ids(sandbox)
    (materialization,) = [
        event.materialization for event in result.get_asset_materialization_events()
        if event.materialization.asset_key.to_user_string() == "lake/trackings"
    ]
    (repair,) = materialization.metadata["lake_repairs"].value
    assert repair["replaced"] == damaged_manifest.stem
    assert repair["files"] == [str(lost_page.relative_to(data_dir / "lake"))]
    assert json.loads(damaged_manifest.read_text())["status"] == REPLACED
    assert outcome(result, LAKE_CHECK)["passed"]


def test_load_only_run_fails_a_blocking_check_naming_the_lost_page(copy: tuple[Path, dict]) -> None:
    data_dir, resources = copy
    published = resources["warehouse"].published_file
    published_before = sha256(published)
    lost_page = page_files(data_dir)[0]
    lost_page.unlink()

    result = materialize_all(resources, data_dir, selection=LOAD_ONLY)

    check = outcome(result, LAKE_CHECK)
    assert not check["passed"] and check["severity"] == "ERROR"
    assert [row["file"] for row in check["metadata"]["files"]] == [str(lost_page)]
    assert check["metadata"]["files"][0]["problem"] == MISSING
    assert "published_warehouse" not in {
        event.materialization.asset_key.to_user_string() for event in result.get_asset_materialization_events()
    }
    assert sha256(published) == published_before, "the published warehouse must stay the last good one"
    assert not published.with_name(f".{published.name}.publishing").exists()


def test_flipped_bytes_in_a_page_are_caught_by_its_checksum(copy: tuple[Path, dict]) -> None:
    data_dir, resources = copy
    damaged_page = page_files(data_dir)[2]
    rows_before = Lake(data_dir / "lake").manifests()[0].pages[3]
    flip_bytes_inside(damaged_page)

    audit = audit_lake(Lake(data_dir / "lake"))
    result = materialize_all(resources, data_dir, selection=LOAD_ONLY)

    (problem,) = audit.problems
    assert (problem.kind, data_dir / "lake" / problem.file) == (CHECKSUM, damaged_page)
    assert damaged_page not in audit.trackings_files, "a damaged page must not be loaded"
    # The footer is intact, so the row count still reads as committed: only the checksum can tell.
    assert pq.read_metadata(damaged_page).num_rows == rows_before
    assert not outcome(result, LAKE_CHECK)["passed"]


def test_lost_ledger_part_blocks_publishing_until_the_loss_is_accepted(copy: tuple[Path, dict]) -> None:
    from tm_pipeline.cli import main

    data_dir, resources = copy
    published = resources["warehouse"].published_file
    published_before = sha256(published)
    lost_part = ledger_files(data_dir)[0]
    lost_part.unlink()

    blocked = materialize_all(resources, data_dir)  # the API is reachable, but evidence cannot be refetched
    check = outcome(blocked, LEDGER_CHECK)
    assert not check["passed"] and check["severity"] == "ERROR"
    assert [row["file"] for row in check["metadata"]["files"]] == [str(lost_part)]
    assert sha256(published) == published_before

    assert main(["lake", "--data-dir", str(data_dir), "verify"]) == 1
    assert main(["lake", "--data-dir", str(data_dir), "accept-loss", str(lost_part), "--reason", "disk died"]) == 0
    assert main(["lake", "--data-dir", str(data_dir), "verify"]) == 0
    (manifest,) = [m for m in Lake(data_dir / "lake").manifests() if m.lost]
    assert list(manifest.lost) == [str(lost_part.relative_to(data_dir / "lake"))]
    assert materialize_all(resources, data_dir, selection=LOAD_ONLY).success


def test_stray_file_is_reported_and_not_loaded(copy: tuple[Path, dict], sandbox: SandboxServer) -> None:
    data_dir, _ = copy
    original = page_files(data_dir)[0]
    stray = original.parent.parent / "extraction=not-in-any-manifest" / original.name
    stray.parent.mkdir()
    shutil.copyfile(original, stray)

    summary = _load_into(data_dir / "check.duckdb", Lake(data_dir / "lake"))

    assert summary.audit.strays == [str(stray.relative_to(data_dir / "lake"))]
    assert stray not in summary.audit.trackings_files
    assert summary.rows_landed == len(_truth_ids(sandbox)), "the stray copy's rows must not be loaded"
    database = data_dir / "check.duckdb"
    assert query(database, "SELECT count(*) FROM raw.tracking_json") == [(len(_truth_ids(sandbox)),)]


def test_manifests_written_before_checksums_still_load_and_are_checked(
    copy: tuple[Path, dict], sandbox: SandboxServer
) -> None:
    data_dir, _ = copy
    lake = Lake(data_dir / "lake")
    downgrade_manifests_to_format_1(lake)

    summary = _load_into(data_dir / "check.duckdb", lake)
    assert summary.audit.problems == [] and summary.audit.strays == []
    assert tracking_ids(data_dir / "check.duckdb") == _truth_ids(sandbox)
    assert summary.api_calls == len(ledger_rows(data_dir)), "every ledger part of the old extraction loads"

    manifest_path = manifest_files(data_dir)[0]
    document = json.loads(manifest_path.read_text())
    document["pages"]["1"] += 1  # what was committed no longer matches the file
    manifest_path.write_text(json.dumps(document))
    page_files(data_dir)[1].unlink()
    kinds = sorted(problem.kind for problem in audit_lake(lake).problems)
    assert kinds == [MISSING, ROW_COUNT]


def test_truncated_manifest_is_reported_with_its_path_and_rebuilt(
    copy: tuple[Path, dict], sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir, resources = copy
    (manifest_path,) = manifest_files(data_dir)
    original = json.loads(manifest_path.read_text())
    manifest_path.write_bytes(manifest_path.read_bytes()[:283])

    with caplog.at_level("WARNING", logger="tm_pipeline.landing.manifest_repair"):
        result = materialize_all(resources, data_dir, selection=LOAD_ONLY)  # healing needs no API

    assert result.success
    assert any(str(manifest_path) in record.getMessage() for record in caplog.records)
    rebuilt = json.loads(manifest_path.read_text())
    for field in ("extraction_id", "window_key", "params", "pages", "checksums", "total_reported", "status"):
        assert rebuilt[field] == original[field], field
    assert rebuilt["rebuilt"]
    assert [p.name for p in manifest_path.parent.glob(f"{manifest_path.name}.damaged-*")], "damaged copy kept aside"
    assert tracking_ids(resources["warehouse"].published_file) == _truth_ids(sandbox)


def test_truncated_manifest_with_a_lost_page_is_rebuilt_then_repaired(
    copy: tuple[Path, dict], sandbox: SandboxServer
) -> None:
    data_dir, resources = copy
    (manifest_path,) = manifest_files(data_dir)
    manifest_path.write_bytes(manifest_path.read_bytes()[:283])
    lost_page = page_files(data_dir)[1]
    lost_page.unlink()

    result = materialize_all(resources, data_dir)

    assert result.success
    damaged = json.loads(manifest_path.read_text())
    assert damaged["rebuilt"] and damaged["status"] == REPLACED, "rebuilt, then replaced by the repair"
    assert tracking_ids(resources["warehouse"].published_file) == _truth_ids(sandbox)


def test_rebuilt_manifest_still_names_an_unreadable_ledger_part(copy: tuple[Path, dict]) -> None:
    data_dir, _ = copy
    (manifest_path,) = manifest_files(data_dir)
    manifest_path.write_bytes(manifest_path.read_bytes()[:283])
    damaged_part = ledger_files(data_dir)[-1]
    damaged_part.write_bytes(damaged_part.read_bytes()[:10])

    audit = audit_lake(Lake(data_dir / "lake"))

    assert [(data_dir / "lake" / p.file, p.kind) for p in audit.ledger_problems] == [(damaged_part, UNREADABLE)]
    assert audit.strays == []


def test_manifest_without_ledger_is_quarantined_and_named_by_the_check(copy: tuple[Path, dict]) -> None:
    data_dir, resources = copy
    (manifest_path,) = manifest_files(data_dir)
    manifest_path.write_bytes(b'{"extraction_id": "trunc')
    shutil.rmtree(ledger_files(data_dir)[0].parent)

    result = materialize_all(resources, data_dir, selection=LOAD_ONLY)

    (quarantined,) = manifest_path.parent.glob(f"{manifest_path.name}.damaged-*")
    check = outcome(result, LAKE_CHECK)
    assert not check["passed"]
    assert [row["file"] for row in check["metadata"]["files"]] == [str(quarantined)]


def _zero_the_headers(payload: bytes) -> bytes:
    return b"\x00" * (1 << 14) + payload[1 << 14:]  # DuckDB no longer recognises the file


def _truncate_to_half(payload: bytes) -> bytes:
    return payload[: len(payload) // 2]  # blocks the header points at are gone


@pytest.mark.parametrize("damage", [_zero_the_headers, _truncate_to_half], ids=["zeroed-headers", "truncated"])
def test_corrupt_build_duckdb_is_moved_aside_and_rebuilt(
    copy: tuple[Path, dict], sandbox: SandboxServer, damage: Callable[[bytes], bytes]
) -> None:
    data_dir, resources = copy
    build_file = resources["warehouse"].build_file
    damaged = damage(build_file.read_bytes())
    build_file.write_bytes(damaged)

    result = materialize_all(resources, data_dir, selection=LOAD_ONLY)

    assert result.success
    (aside,) = build_file.parent.glob(f"{build_file.name}.corrupt-*")
    assert aside.read_bytes() == damaged, "the damaged file is kept aside as it was"
    assert tracking_ids(resources["warehouse"].published_file) == _truth_ids(sandbox)
