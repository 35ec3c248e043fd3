from datetime import date, datetime, timezone

from tm_pipeline.extract.run import sync_state
from tm_pipeline.extract.windows import SyncState, created_day_window, full_window, incremental_windows
from tm_pipeline.landing.lake import COMPLETE, FAILED, Manifest


def _manifest(window_key: str, status: str, updated: int | None, created: int | None, elapsed_s: float = 10.0):
    return Manifest("x", window_key, {"limit": 2000, "created_at_max": 10**10}, status=status,
                    max_updated_at=updated, max_created_at=created, elapsed_s=elapsed_s)


def test_first_sync_is_a_full_sync() -> None:
    assert incremental_windows(SyncState(None, None), overlap_s=3600) == [full_window()]


def test_incremental_asks_for_updated_and_created_since_the_watermarks_minus_overlap() -> None:
    updated, created = incremental_windows(SyncState(1_000_000, 900_000, longest_run_s=60), overlap_s=3600)
    assert updated.filters == {"update_time_min": 1_000_000 - 3600}
    assert created.filters == {"created_at_min": 900_000 - 3600}


def test_overlap_grows_with_the_longest_run() -> None:
    updated, _ = incremental_windows(SyncState(1_000_000, 900_000, longest_run_s=5000), overlap_s=3600)
    assert updated.filters == {"update_time_min": 1_000_000 - 10_000}


def test_failed_and_partition_extractions_do_not_move_watermarks() -> None:
    state = sync_state([
        _manifest("full", COMPLETE, 100, 90),
        _manifest("updated", FAILED, 500, None),
        _manifest("created_day=2024-06-01", COMPLETE, 700, 700),
        _manifest("updated", COMPLETE, 200, 150),  # updated windows do not move the created watermark
        _manifest("created", COMPLETE, None, None),  # nothing new: keeps the earlier watermark
    ])
    assert (state.max_updated_at, state.max_created_at) == (200, 90)


def test_created_day_window_covers_exactly_one_utc_day() -> None:
    window = created_day_window(date(2024, 6, 1))
    start = datetime(2024, 6, 1, tzinfo=timezone.utc).timestamp()
    assert window.filters == {"created_at_min": start, "created_at_max": start + 86400 - 1}
    assert window.is_partition and not full_window().is_partition
