"""A full disk, provoked for real: a small tmpfs mounted where the pipeline writes.

Mounting needs root (CI and the development machines run as root); where `mount` is refused the
tests skip and say why, rather than fake ENOSPC. Each run's error must name the cause and the path,
and no partial file (temp Parquet, `.warehouse.duckdb.publishing`) may be left behind.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tm_pipeline.resources import WarehouseResource
from tm_pipeline.runs import materialize_all, step_failures
from tm_pipeline.sandbox import SandboxServer
from tm_pipeline_tests.conftest import sandbox_resources
from tm_pipeline_tests.lake_fixtures import LOAD_ONLY, sha256


@contextmanager
def tmpfs(mount_point: Path, size_kb: int) -> Iterator[Path]:
    """A file system of `size_kb` at `mount_point`, unmounted afterwards whatever happens."""
    mount_point.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill up here ({mounted.stderr.strip() or 'mount failed'})")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if p.name.endswith((".tmp", ".publishing")))


def test_disk_full_while_landing_a_page_names_the_file_and_leaves_no_temp_file(
    sandbox: SandboxServer, api_key: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    with tmpfs(data_dir / "lake", size_kb=256) as lake_dir:  # room for manifests, not for a 2000-row page
        result = materialize_all(sandbox_resources(sandbox, api_key, data_dir), data_dir)
        leftovers = _leftovers(lake_dir)
    assert not result.success
    ((step, error_class, message),) = step_failures(result)
    assert step == "trackingmore_extract" and error_class == "DiskFullError"
    assert "disk full" in message and str(lake_dir) in message
    assert leftovers == []


def test_disk_full_during_load_names_the_build_file(
    landed_sync: tuple[Path, str], sandbox: SandboxServer, tmp_path: Path
) -> None:
    template, key = landed_sync
    data_dir = tmp_path / "data"
    shutil.copytree(template, data_dir, ignore=shutil.ignore_patterns("build"))
    resources = sandbox_resources(sandbox, key, data_dir)
    published_before = sha256(resources["warehouse"].published_file)
    with tmpfs(data_dir / "build", size_kb=512) as build_dir:
        result = materialize_all(resources, data_dir, selection=LOAD_ONLY)
        leftovers = _leftovers(build_dir)
    ((step, error_class, message),) = step_failures(result)
    assert step == "warehouse_raw_tables" and error_class == "DiskFullError"
    assert "disk full" in message and str(resources["warehouse"].build_file) in message
    assert leftovers == []
    assert sha256(resources["warehouse"].published_file) == published_before


def test_disk_full_during_publish_keeps_the_old_file_and_no_partial_copy(
    landed_sync: tuple[Path, str], sandbox: SandboxServer, tmp_path: Path
) -> None:
    template, key = landed_sync
    data_dir = tmp_path / "data"
    shutil.copytree(template, data_dir)
    published_size_kb = (template / "warehouse.duckdb").stat().st_size // 1024
    # Room for the published file but not for a second copy beside it: the publish must fail.
    with tmpfs(tmp_path / "published", size_kb=published_size_kb + 256) as published_dir:
        published = published_dir / "warehouse.duckdb"
        shutil.copyfile(template / "warehouse.duckdb", published)
        resources = {
            **sandbox_resources(sandbox, key, data_dir),
            "warehouse": WarehouseResource(
                database_path=str(data_dir / "build" / "warehouse.duckdb"), published_path=str(published)
            ),
        }
        before = sha256(published)
        result = materialize_all(resources, data_dir, selection=LOAD_ONLY)
        after, leftovers = sha256(published), _leftovers(published_dir)
    ((step, error_class, message),) = step_failures(result)
    assert step == "published_warehouse" and error_class == "DiskFullError"
    assert "disk full" in message and str(published) in message
    assert after == before and leftovers == []
