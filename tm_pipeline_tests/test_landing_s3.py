"""The lake on S3: a real S3 API (moto's server mode, a subprocess on a free 127.0.0.1 port) and a real
sandbox sync over HTTP. Landing, the load (through the local verified mirror), the models and the
publish run for real; the only stand-in is the kill point of one test, a raised exception (said
there). One sync lands per module; each test works on it or on a copy of its objects under its own prefix.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import requests

from tm_pipeline import settings
from tm_pipeline.bench.truth_compare import truth_parameters
from tm_pipeline.definitions import default_resources
from tm_pipeline.landing.compaction import compact_lake
from tm_pipeline.landing.integrity import CHECKSUM, audit_lake
from tm_pipeline.landing.lake import COMPACTION, Lake, open_lake
from tm_pipeline.landing.mirror import mirror_lake
from tm_pipeline.load.assets import LAKE_CHECK
from tm_pipeline.resources import LakeResource
from tm_pipeline.runs import materialize_all
from tm_pipeline.sandbox import SandboxConfig, SandboxServer
from tm_pipeline.settings import LAKE_URI_VAR, S3_ENDPOINT_VAR
from tm_pipeline_tests.accounts_files import accounts_environment, accounts_mismatches
from tm_pipeline_tests.conftest import sandbox_key
from tm_pipeline_tests.lake_fixtures import LOAD_ONLY, outcome, query

SQL_DIR = Path(__file__).resolve().parent.parent / "dbt_like_sql"
BUCKET = "tm-lake"
MARTS = ["fct_shipments", "delivery_time_by_carrier", "exception_rate_by_carrier", "stuck_shipments"]
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test-access", "AWS_SECRET_ACCESS_KEY": "test-secret", "AWS_DEFAULT_REGION": "us-east-1"
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server in its own process, with a bucket; stopped after the module."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):  # at most ~20 s for the server to start
            try:
                requests.get(endpoint, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"moto's S3 server did not start on {endpoint}")
        saved = {name: os.environ.get(name) for name in CREDENTIALS}
        os.environ.update(CREDENTIALS)
        filesystem = pafs.S3FileSystem(endpoint_override=f"127.0.0.1:{port}", scheme="http", allow_bucket_creation=True)
        filesystem.create_dir(BUCKET)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _resources(sandbox: SandboxServer, key: str, data_dir: Path, lake_uri: str, endpoint: str) -> dict:
    resources = default_resources(data_dir, base_url=sandbox.base_url, api_key=key)
    resources["lake"] = LakeResource(root=lake_uri, s3_endpoint_url=endpoint, mirror_root=str(data_dir / "lake-mirror"))
    return resources


@pytest.fixture(scope="module")
def s3_sync(
    s3_endpoint: str, sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str, dict]:
    """One full pipeline run with the lake on S3: its data dir, lake URI and resources."""
    data_dir = tmp_path_factory.mktemp("s3_sync") / "data"
    lake_uri = f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}/lake"
    resources = _resources(sandbox, sandbox_key(sandbox), data_dir, lake_uri, s3_endpoint)
    assert materialize_all(resources, data_dir).success
    return data_dir, lake_uri, resources


def _marts(database: Path) -> dict[str, list[tuple]]:
    return {
        mart: [tuple(round(v, 9) if isinstance(v, float) else v for v in row)
               for row in query(database, f"SELECT * FROM main.{mart} ORDER BY ALL")]
        for mart in MARTS
    }


def _copy_lake(source: Lake, target_uri: str, endpoint: str) -> Lake:
    target = open_lake(target_uri, endpoint)
    for path in _all_files(source):
        target.write_bytes(target.root / source.relative(path), source.read_bytes(path))
    return target


def _all_files(lake: Lake) -> list[Path]:
    return [path for pattern in ("manifests/*", "trackings/*/*/*", "api_calls/*/*", "quarantine/*/*")
            for path in lake.glob(pattern)]


def test_a_sync_lands_on_s3_and_the_warehouse_equals_the_local_run(
    s3_sync: tuple[Path, str, dict], s3_endpoint: str, finished_run
) -> None:
    data_dir, lake_uri, _ = s3_sync
    lake = open_lake(lake_uri, s3_endpoint)
    assert not (data_dir / "lake").exists()  # nothing landed on the local disk
    pages = lake.glob("trackings/*/*/*.parquet")
    assert len(pages) == 3 and not audit_lake(lake).problems
    local_marts = _marts(Path(finished_run.published_path))
    assert _marts(data_dir / "warehouse.duckdb") == local_marts
    assert all(local_marts.values())
    mirrored = sorted(p.name for p in (data_dir / "lake-mirror").glob("trackings/*/*/*.parquet"))
    assert mirrored == sorted(p.name for p in pages)


def test_the_mirror_downloads_only_new_files(s3_sync: tuple[Path, str, dict], s3_endpoint: str, tmp_path: Path) -> None:
    _, lake_uri, _ = s3_sync
    remote = open_lake(lake_uri, s3_endpoint)
    _, first = mirror_lake(remote, tmp_path / "mirror")
    _, second = mirror_lake(remote, tmp_path / "mirror")
    assert len(first.downloaded) == len(_all_files(remote)) - len(remote.glob("manifests/*"))
    assert second.downloaded == [] and second.kept == len(first.downloaded)


def test_a_damaged_object_is_caught_like_a_damaged_local_file(
    s3_sync: tuple[Path, str, dict], s3_endpoint: str, sandbox: SandboxServer, tmp_path: Path
) -> None:
    _, lake_uri, resources = s3_sync
    copy_uri = f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}/lake"
    lake = _copy_lake(open_lake(lake_uri, s3_endpoint), copy_uri, s3_endpoint)
    page = lake.glob("trackings/*/*/*.parquet")[1]
    payload = bytearray(lake.read_bytes(page))
    for index in range(200, 216):
        payload[index] ^= 0xFF
    lake.write_bytes(page, bytes(payload))

    assert [(p.file, p.kind) for p in audit_lake(lake).problems] == [(lake.relative(page), CHECKSUM)]
    data_dir = tmp_path / "data"
    damaged_resources = _resources(sandbox, resources["trackingmore"].api_key, data_dir, copy_uri, s3_endpoint)
    result = materialize_all(damaged_resources, data_dir, selection=LOAD_ONLY)
    check = outcome(result, LAKE_CHECK)
    assert not check["passed"]
    assert [row["file"] for row in check["metadata"]["files"]] == [f"{copy_uri}/{lake.relative(page)}"]


def test_a_killed_write_on_s3_leaves_a_stray_that_is_never_loaded_and_compaction_cleans_up(
    s3_sync: tuple[Path, str, dict], s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kill is simulated by raising right after the first compaction part is PUT (no real process
    kill: each PUT is atomic, so what is left is exactly what a kill there leaves)."""
    _, lake_uri, _ = s3_sync
    lake = _copy_lake(open_lake(lake_uri, s3_endpoint), f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}/lake", s3_endpoint)
    local_before, _ = mirror_lake(lake, tmp_path / "before")
    rows_before = sum(m.rows for m in local_before.manifests())
    real_write_part = Lake.write_part

    def killed_after_one_part(self: Lake, path: Path, payload: bytes) -> None:
        real_write_part(self, path, payload)
        raise KeyboardInterrupt

    monkeypatch.setattr(Lake, "write_part", killed_after_one_part)
    with pytest.raises(KeyboardInterrupt):
        compact_lake(lake, min_extractions=1)
    monkeypatch.undo()

    audit = audit_lake(lake)
    assert len(audit.strays) == 1 and "compaction=" in audit.strays[0]
    assert sum(1 for path in audit.trackings_files if "compaction=" in str(path)) == 0  # never loaded
    rerun = compact_lake(lake, min_extractions=1)
    assert rerun.uncommitted_parts_removed and rerun.compactions
    compact_lake(lake, min_extractions=1)  # the next run deletes the compacted pages
    local, _ = mirror_lake(lake, tmp_path / "after")
    audit = audit_lake(local)
    assert not audit.problems and not audit.strays
    assert [m.kind for m in local.manifests()].count(COMPACTION) == 1
    assert len(lake.glob("trackings/*/*/*.parquet")) == 1
    assert sum(pq.read_metadata(path).num_rows for path in audit.trackings_files) == rows_before


def test_lake_uri_and_endpoint_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(LAKE_URI_VAR, "s3://bucket/prefix")
    monkeypatch.setenv(S3_ENDPOINT_VAR, "http://127.0.0.1:9")
    lake_resource = default_resources(tmp_path)["lake"]
    assert (lake_resource.root, lake_resource.s3_endpoint_url) == ("s3://bucket/prefix", "http://127.0.0.1:9")
    with pytest.raises(ValueError, match="not an http"):
        open_lake("s3://bucket/prefix", "127.0.0.1:9")
    with pytest.raises(ValueError, match="names no bucket"):
        open_lake("s3://", "")


def test_two_accounts_on_s3_each_land_under_their_prefix_mirror_apart_and_equal_their_truth(
    s3_endpoint: str, tmp_path: Path
) -> None:
    """`tm-pipeline sync` with an accounts file and TM_LAKE_URI=s3://...: each account's lake is
    s3://.../account=<name>/, mirrored to lake-mirror/account=<name>/ for the load, and each
    account's marts equal its own truth."""
    keys = {"brand_a": "s3-brand-a-key", "brand_b": "s3-brand-b-key"}
    config = SandboxConfig(trackings=1200, seed=5, api_keys=tuple(keys.values()), separate_accounts=True)
    lake_uri = f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}/lake"
    data_dir = tmp_path / "data"
    with SandboxServer(config).running() as sandbox:
        base_urls = {name: sandbox.base_url for name in keys}
        env = {
            **os.environ, **accounts_environment(tmp_path / "accounts.toml", base_urls, keys),
            LAKE_URI_VAR: lake_uri, S3_ENDPOINT_VAR: s3_endpoint,
        }
        env.pop(settings.API_KEY_VAR, None)
        completed = subprocess.run(
            [sys.executable, "-m", "tm_pipeline.cli", "sync", "--data-dir", str(data_dir)],
            env=env, capture_output=True, text=True, timeout=300, check=False,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        parameters = truth_parameters(SQL_DIR)
        truths = {name: sandbox.expected_metrics(**parameters, api_key=key) for name, key in keys.items()}
        truth_counts = {name: len(sandbox.truth_trackings(api_key=key)) for name, key in keys.items()}
    assert not (data_dir / "lake").exists()  # nothing landed on the local disk
    for name in keys:
        account_lake = open_lake(f"{lake_uri}/account={name}", s3_endpoint)
        assert account_lake.glob("manifests/*.json") and not audit_lake(account_lake).problems
        mirrored = sorted(p.name for p in (data_dir / "lake-mirror" / f"account={name}").glob("trackings/*/*/*"))
        assert mirrored == sorted(p.name for p in account_lake.glob("trackings/*/*/*.parquet"))
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as connection:
        counts = dict(connection.execute("SELECT account, count(*) FROM raw.trackings GROUP BY ALL").fetchall())
        assert counts == truth_counts
        assert accounts_mismatches(connection, truths) == {}
