"""The push log and the seal: durable appends, torn tails, exactly-once sealing, and latest-wins at load.

Real files in tmp dirs, real trackings from the session sandbox, the real load into DuckDB.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from tm_pipeline.extract.run import sync_state
from tm_pipeline.landing.integrity import audit_lake
from tm_pipeline.landing.lake import COMPLETE, REPLACED, Lake
from tm_pipeline.landing.pushes import PushLog, complete_end, read_records, segment_names
from tm_pipeline.load.raw_tables import load_raw_tables
from tm_pipeline.sandbox import SandboxServer
from tm_pipeline.sandbox.v4_render import v4_tracking, v4_wall_time
from tm_pipeline.webhooks.seal import push_manifests, seal_pushes, unsealed_bytes


def _body(tracking: dict) -> bytes:
    return json.dumps({"meta": {"code": 200}, "data": tracking}).encode()


def _with_update(tracking: dict, updated_at: str, status: str) -> dict:
    return {**tracking, "updated_at": updated_at, "status": status}


@pytest.fixture(scope="module")
def trackings(sandbox: SandboxServer) -> list[dict]:
    return sandbox.truth_trackings()[:40]


def _append_all(lake_root: Path, bodies: list[tuple[bytes, str]]) -> None:
    log = PushLog(lake_root).open()
    try:
        for body, tracking_id in bodies:
            log.append(body, "v2", tracking_id, datetime.now(timezone.utc))
    finally:
        log.close()


def _load(lake: Lake, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(tmp_path / "build.duckdb"))
    load_raw_tables(connection, lake, audit_lake(lake))
    return connection


def test_concurrent_appends_all_land_exactly_as_sent(tmp_path: Path, trackings: list[dict]) -> None:
    log = PushLog(tmp_path / "lake").open()
    sent = [(_body({**t, "title": f"copy {n}"}), t["id"]) for n in range(10) for t in trackings]

    def append(chunk: list[tuple[bytes, str]]) -> None:
        for body, tracking_id in chunk:
            log.append(body, "v2", tracking_id, datetime.now(timezone.utc))

    threads = [threading.Thread(target=append, args=(sent[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    root = tmp_path / "lake"
    read_back = [
        r.body for s in segment_names(root) for r in read_records(root, s, 0, complete_end(root / "pushes" / s))
    ]
    assert sorted(read_back) == sorted(body for body, _ in sent)
    assert 1 <= log.fsyncs <= len(sent)


def test_a_torn_last_line_is_not_read_and_a_restarted_log_writes_a_new_segment(
    tmp_path: Path, trackings: list[dict]
) -> None:
    """A kill -9 mid-write leaves a partial line: it was never fsynced, so never answered 200."""
    root = tmp_path / "lake"
    _append_all(root, [(_body(t), t["id"]) for t in trackings[:3]])
    (first,) = segment_names(root)
    with open(root / "pushes" / first, "ab") as segment:
        segment.write(b'{"received_at": "2026-11-27T10:00:00+00:00", "shape": "v2", "tracki')
    _append_all(root, [(_body(trackings[3]), trackings[3]["id"])])
    assert len(segment_names(root)) == 2
    summary = seal_pushes(Lake(root))
    assert summary.records == 4
    assert unsealed_bytes(Lake(root)) == 0


def test_a_tracking_pushed_twice_lands_once_with_its_newest_state_whatever_the_order(
    tmp_path: Path, trackings: list[dict]
) -> None:
    root = tmp_path / "lake"
    tracking = trackings[5]
    newer = _with_update(tracking, "2030-01-02T00:00:00+08:00", "delivered")
    older = _with_update(tracking, "2030-01-01T00:00:00+08:00", "transit")
    # Newer first, then the older one (reordered), then the newer again (a retry's duplicate).
    _append_all(root, [(_body(newer), tracking["id"]), (_body(older), tracking["id"]), (_body(newer), tracking["id"])])
    summary = seal_pushes(Lake(root))
    assert summary.records == 3 and summary.pages == 3  # one page per occurrence: never two rows on a page
    connection = _load(Lake(root), tmp_path)
    rows = connection.execute("SELECT status, updated_at FROM raw.trackings WHERE tracking_id = ?",
                              [tracking["id"]]).fetchall()
    assert rows == [("delivered", datetime(2030, 1, 1, 16, 0, tzinfo=timezone.utc))]


def test_an_interrupted_seal_is_retired_and_sealed_again_exactly_once(
    tmp_path: Path, trackings: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between pages cannot be provoked from outside, so the second page's commit raises."""
    root = tmp_path / "lake"
    lake = Lake(root)
    first = trackings[0]
    _append_all(root, [(_body(t), t["id"]) for t in trackings[:10]] + [(_body(first), first["id"])])
    real_commit = Lake.commit_page

    def crash_on_page_2(self: Lake, manifest, page, *args, **kwargs):  # type: ignore[no-untyped-def]
        if page == 2:
            raise KeyboardInterrupt("killed mid-seal")
        return real_commit(self, manifest, page, *args, **kwargs)

    monkeypatch.setattr(Lake, "commit_page", crash_on_page_2)
    with pytest.raises(KeyboardInterrupt):
        seal_pushes(lake)
    monkeypatch.undo()
    (interrupted,) = push_manifests(lake)
    assert interrupted.status != COMPLETE and interrupted.pages  # page 1 was committed
    assert unsealed_bytes(lake) > 0

    summary = seal_pushes(lake)
    assert summary.retired == [interrupted.extraction_id] and summary.records == 11
    statuses = {m.extraction_id: m.status for m in push_manifests(lake)}
    assert statuses == {interrupted.extraction_id: REPLACED, summary.extraction_id: COMPLETE}
    connection = _load(lake, tmp_path)
    loaded = connection.execute("SELECT count(*), count(DISTINCT tracking_id) FROM raw.trackings").fetchone()
    assert loaded == (10, 10)
    rows_in_lake = sum(m.rows for m in push_manifests(lake) if m.status != REPLACED)
    assert rows_in_lake == 11  # every push exactly once in the lake (the duplicate is a push of its own)


def test_a_damaged_push_page_is_sealed_again_from_the_log(tmp_path: Path, trackings: list[dict]) -> None:
    root = tmp_path / "lake"
    lake = Lake(root)
    _append_all(root, [(_body(t), t["id"]) for t in trackings[:4]])
    first = seal_pushes(lake)
    _append_all(root, [(_body(t), t["id"]) for t in trackings[4:6]])
    second = seal_pushes(lake)
    (page,) = (root / "trackings" / "window=push" / f"extraction={first.extraction_id}").glob("*.parquet")
    page.write_bytes(b"damaged")
    assert unsealed_bytes(lake) == 0  # the manifest still claims it; the audit finds it
    again = seal_pushes(lake)
    assert again.retired == [first.extraction_id] and again.records == 4
    assert audit_lake(lake).problems == []
    assert {m.extraction_id for m in push_manifests(lake) if m.status == COMPLETE} == {
        second.extraction_id, again.extraction_id
    }


def test_pushes_move_no_polling_watermark(tmp_path: Path, trackings: list[dict]) -> None:
    root = tmp_path / "lake"
    lake = Lake(root)
    before = sync_state(lake.manifests())
    future = (datetime.now(timezone.utc) + timedelta(days=400)).isoformat(timespec="seconds")
    _append_all(root, [(_body(_with_update(trackings[0], future, "delivered")), trackings[0]["id"])])
    seal_pushes(lake)
    assert [m.window_key for m in lake.manifests()] == ["push"]
    assert sync_state(lake.manifests()) == before


def test_a_v4_push_seals_to_the_same_typed_row_and_checkpoints_as_its_v2_item(
    tmp_path: Path, trackings: list[dict]
) -> None:
    """The v4 object is the sandbox's rendering of a real v2 item (independent code); sealed and
    loaded, it must give what the v2 item gives in the columns and checkpoints the models read."""
    item = next(t for t in trackings if (t["origin_info"] or {}).get("trackinfo"))
    root = tmp_path / "lake"
    log = PushLog(root).open()
    log.append(json.dumps({"code": 200, "data": v4_tracking(item)}).encode(), "v4", item["id"],
               datetime.now(timezone.utc))
    log.close()
    seal_pushes(Lake(root))
    connection = _load(Lake(root), tmp_path)
    row = connection.execute(
        "SELECT tracking_number, carrier_code, status, substatus, original_country, archived, "
        "strftime(updated_at, '%Y-%m-%dT%H:%M:%S') FROM raw.trackings"
    ).fetchone()
    expected_updated = datetime.fromisoformat(item["updated_at"]).astimezone(timezone.utc)
    assert row == (
        item["tracking_number"], item["carrier_code"], item["status"], item["substatus"], item["original_country"],
        item["archived"], expected_updated.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    checkpoints = connection.execute(
        "SELECT checkpoint_date, checkpoint_status, details FROM raw.checkpoints WHERE leg = 'origin' ORDER BY position"
    ).fetchall()
    # Dates stay as sent (raw.checkpoints is lossless): v4 writes them in its own form, which
    # stg_checkpoints parses like v2's.
    assert checkpoints == [
        (v4_wall_time(c["Date"]), c["checkpoint_status"], c["Details"]) for c in item["origin_info"]["trackinfo"]
    ]


def test_a_backlog_is_sealed_in_bounded_parts_without_losing_or_repeating_a_push(
    tmp_path: Path, trackings: list[dict]
) -> None:
    root = tmp_path / "lake"
    lake = Lake(root)
    _append_all(root, [(_body(t), t["id"]) for t in trackings[:30]])
    total = unsealed_bytes(lake)
    sealed = [seal_pushes(lake, max_bytes=total // 4).records for _ in range(6)]
    assert sealed[-1] == 0 and all(part < 30 for part in sealed) and sum(sealed) == 30
    connection = _load(lake, tmp_path)
    assert connection.execute("SELECT count(DISTINCT tracking_id), count(*) FROM raw.trackings").fetchone() == (30, 30)
