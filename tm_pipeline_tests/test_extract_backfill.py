"""Daily partitions by created date: a backfilled day lands exactly that day's trackings, and running
the day again replaces its earlier extraction instead of piling up copies."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg

from tm_pipeline.extract.assets import trackings_by_created_day
from tm_pipeline.landing.lake import REPLACED
from tm_pipeline.sandbox import SandboxServer


def _created_day(item: dict) -> str:
    return datetime.fromisoformat(item["created_at"]).astimezone(timezone.utc).date().isoformat()


def test_backfilled_day_lands_that_day_and_a_rerun_replaces_it(
    sandbox: SandboxServer, resources: dict, data_dir: Path
) -> None:
    busiest_day, expected = Counter(_created_day(item) for item in sandbox.truth_trackings()).most_common(1)[0]
    expected_ids = sorted(item["id"] for item in sandbox.truth_trackings() if _created_day(item) == busiest_day)
    selected = {"trackingmore": resources["trackingmore"], "lake": resources["lake"]}

    for _ in range(2):
        result = dg.materialize([trackings_by_created_day], partition_key=busiest_day, resources=selected)
        assert result.success

    lake = resources["lake"].lake()
    manifests = [m for m in lake.manifests() if m.window_key == f"created_day={busiest_day}"]
    assert [m.status for m in manifests] == [REPLACED, "complete"]
    landed = sorted(
        tracking_id
        for path in Path(lake.root, "trackings").glob("*/*/*.parquet")
        for tracking_id in __import__("pyarrow.parquet").parquet.read_table(path, columns=["tracking_id"])
        ["tracking_id"].to_pylist()
    )
    assert landed == expected_ids and len(landed) == expected
