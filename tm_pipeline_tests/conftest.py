"""Shared fixtures: one real sandbox over HTTP on 127.0.0.1 per test session, a fresh key and data dir per test.

The list limit is per API key, so giving each test its own key keeps tests independent while the
sandbox still enforces 1 request/second exactly as the real API does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tm_pipeline.definitions import default_resources
from tm_pipeline.resources import WarehouseResource
from tm_pipeline.runs import materialize_all
from tm_pipeline.sandbox import SandboxConfig, SandboxServer

SANDBOX_TRACKINGS = 4500  # three 2000-row pages, the last one short
SANDBOX_SEED = 7


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(trackings=SANDBOX_TRACKINGS, seed=SANDBOX_SEED, api_keys=("session-key",))
    with SandboxServer(config).running() as server:
        yield server


def sandbox_key(sandbox: SandboxServer) -> str:
    """A fresh key, so this test's requests have the per-key rate budget to themselves."""
    key = f"test-{uuid.uuid4().hex}"
    sandbox.add_api_key(key)
    return key


def sandbox_resources(sandbox: SandboxServer, key: str, data_dir: Path) -> dict:
    return default_resources(data_dir, base_url=sandbox.base_url, api_key=key)


@pytest.fixture
def api_key(sandbox: SandboxServer) -> str:
    return sandbox_key(sandbox)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def resources(sandbox: SandboxServer, api_key: str, data_dir: Path) -> dict:
    return sandbox_resources(sandbox, api_key, data_dir)


@pytest.fixture(scope="session")
def finished_run(sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> WarehouseResource:
    """One full pipeline run, shared by tests that only read what it built and published (the
    readers' and dbt parity tests), so each of them does not pay for a paced run of its own."""
    data_dir = tmp_path_factory.mktemp("finished_run") / "data"
    resources = sandbox_resources(sandbox, sandbox_key(sandbox), data_dir)
    assert materialize_all(resources, data_dir).success
    return resources["warehouse"]


@pytest.fixture(scope="session")
def landed_sync(sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A data directory after one successful full run, and its key: tests that damage a lake copy it."""
    from tm_pipeline.runs import materialize_all

    data_dir = tmp_path_factory.mktemp("landed") / "data"
    key = sandbox_key(sandbox)
    assert materialize_all(sandbox_resources(sandbox, key, data_dir), data_dir).success
    return data_dir, key
