"""The published file is always in the format DuckDB 1.x readers open; a byte copy when the build file is."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from tm_pipeline.contracts.warehouse_file import READER_STORAGE_VERSION, connect_build
from tm_pipeline.publish.snapshot import publish_snapshot


def _storage_version(path: Path) -> str:
    with duckdb.connect() as connection:
        connection.execute(f"ATTACH '{path}' AS probe (READ_ONLY)")
        (tags,) = connection.execute("SELECT tags FROM duckdb_databases() WHERE database_name = 'probe'").fetchone()
    return tags["storage_version"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_new_build_file_is_in_the_readers_format_and_is_published_byte_for_byte(tmp_path: Path) -> None:
    build, published = tmp_path / "build" / "warehouse.duckdb", tmp_path / "warehouse.duckdb"
    build.parent.mkdir()
    with connect_build(build) as connection:
        connection.execute("CREATE TABLE marts AS SELECT range AS id, 'carrier-' || range AS name FROM range(5000)")
    publish_snapshot(build, published)
    assert _storage_version(build).startswith(READER_STORAGE_VERSION)
    assert _sha256(published) == _sha256(build)


def test_a_build_file_in_duckdbs_default_format_is_rewritten_for_the_readers(tmp_path: Path) -> None:
    """Build files made before the build was pinned to the readers' format keep their own format."""
    if int(duckdb.__version__.split(".")[0]) < 2:
        pytest.skip(f"duckdb {duckdb.__version__} writes a format 1.x reads by default: nothing to rewrite")
    build, published = tmp_path / "build.duckdb", tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(build)) as connection:
        connection.execute("CREATE TABLE marts AS SELECT range AS id FROM range(5000)")
        connection.execute("CREATE VIEW v AS SELECT count(*) AS n FROM marts")
    publish_snapshot(build, published)
    assert _storage_version(published).startswith(READER_STORAGE_VERSION)
    with duckdb.connect(str(published), read_only=True) as connection:
        assert connection.execute("SELECT n FROM v").fetchone() == (5000,)
    assert not _storage_version(build).startswith(READER_STORAGE_VERSION)  # so the rewrite path ran
