"""A page's quarantine is committed with the page: recorded in the manifest, rewritten or removed
when the page is committed again, and dropped with a replaced partition extraction."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import msgspec
import pyarrow.parquet as pq

from tm_pipeline.extract.ledger import LEDGER_SCHEMA
from tm_pipeline.extract.page_table import items_to_table
from tm_pipeline.landing.lake import REPLACED, Lake, Manifest

FETCHED_AT = datetime(2026, 1, 1, tzinfo=timezone.utc)
GOOD = b'{"id": "a1", "created_at": "2024-05-01T10:00:00+08:00"}'
BAD = b'{"id": 5}'


def _commit(lake: Lake, manifest: Manifest, page: int, *items: bytes) -> None:
    landed = items_to_table([msgspec.Raw(item) for item in items], manifest.extraction_id, page, FETCHED_AT)
    lake.commit_page(manifest, page, landed.trackings, LEDGER_SCHEMA.empty_table(), landed.quarantine)


def test_quarantine_is_recorded_in_the_manifest_and_survives_a_reload(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    manifest = Manifest("e1", "full", {"limit": 2000})
    _commit(lake, manifest, 1, GOOD, BAD)
    [reloaded] = lake.manifests()
    assert (reloaded.pages, reloaded.quarantined, reloaded.items_fetched) == ({1: 1}, {1: 1}, 2)
    assert pq.read_table(lake.quarantine_path(manifest, 1)).column("raw_bytes").to_pylist() == [BAD]


def test_a_page_committed_again_without_malformed_items_leaves_no_stale_quarantine(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    manifest = Manifest("e1", "full", {"limit": 2000})
    _commit(lake, manifest, 1, GOOD, BAD)  # as if killed after the files, before a later manifest
    _commit(lake, manifest, 1, GOOD)
    assert not lake.quarantine_path(manifest, 1).exists()
    assert lake.manifests()[0].quarantined == {}


def test_a_replaced_partition_takes_its_quarantine_with_it(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    earlier = Manifest("e1", "created_day=2024-05-01", {"limit": 2000})
    _commit(lake, earlier, 1, GOOD, BAD)
    later = Manifest("e2", "created_day=2024-05-01", {"limit": 2000})
    _commit(lake, later, 1, GOOD)
    assert lake.replace_earlier(later) == ["e1"]
    assert not lake.quarantine_path(earlier, 1).exists()
    assert [m.status for m in lake.manifests()][0] == REPLACED
