"""`bench --only incremental`: what one 3-hourly run costs as the lake's history grows.

A synthetic lake (bench/synthetic_lake.py) holds a full sync of the account and then small
incremental extractions, one per simulated 3-hour sync. At each point of the curve one more
extraction brings `changed` changed trackings, and a fresh worker process runs load → models →
checks → publish on it (bench/warehouse_run_worker.py): its seconds per stage and peak RSS are the
figures. A point is measured `repeats` times (a sync each) and reports its median run, so one
noisy run on a shared machine does not make the curve. The first run over the lake is a full
rebuild and is reported as such. The target: the run at the last point within 1.2× of the first,
whatever the number of extractions.

With `compacted`, each point's lake has been through the daily compaction first, as a deployment's
is (`lake/compaction`, tm_pipeline/maintenance): after the catch-up run loaded the new extractions,
the lake is compacted (commit, then the next compaction run deletes the old files) and one more
run absorbs the compaction (it hashes the new parts once); the measured runs follow. Without it
the lake keeps every extraction's files: the worst case, a deployment with compaction turned off.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from tm_pipeline.bench.synthetic_lake import EPOCH, base_extraction, land_extraction, restamped
from tm_pipeline.landing.compaction import compact_lake
from tm_pipeline.landing.lake import Lake

SYNC_EVERY = timedelta(hours=3)
POOL_PAGES = 20  # base pages whose trackings the later syncs change
STAGES = ("load_s", "models_s", "checks_s", "publish_s")


def _run_worker(data_dir: Path, memory_limit: str, models: bool, full_history_every_hours: float = 0) -> dict[str, Any]:
    command = [sys.executable, "-m", "tm_pipeline.bench.warehouse_run_worker", str(data_dir),
               "--memory-limit", memory_limit, *(() if models else ("--no-models",)),
               "--full-history-every-hours", str(full_history_every_hours)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"warehouse run worker failed:\n{completed.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return report


def _extraction_id(sync: int) -> str:
    return f"{EPOCH + sync * SYNC_EVERY:%Y%m%dT%H%M%SZ}-{sync:05d}"


class _History:
    """The account's lake, grown one simulated sync at a time."""

    def __init__(self, lake: Lake, trackings: int, log: Callable[[str], None]) -> None:
        self.lake = lake
        self.rng = random.Random(7)
        started = time.perf_counter()
        pages = base_extraction(lake, trackings, seed=3, at=EPOCH, extraction_id=_extraction_id(0))
        log(f"  landed the full sync: {trackings:,} trackings in {pages} pages ({time.perf_counter() - started:.0f} s)")
        (base,) = lake.manifests()
        self.pool: list[bytes] = []
        for page in self.rng.sample(sorted(base.pages), min(POOL_PAGES, len(base.pages))):
            column = pq.read_table(lake.page_path(base, page), columns=["raw_json"])["raw_json"]
            self.pool.extend(value.encode() for value in column.to_pylist())
        self.extractions = 1

    def sync(self, changed: int) -> None:
        """One more incremental extraction: `changed` trackings, updated shortly before it ran."""
        fetched_at = EPOCH + self.extractions * SYNC_EVERY
        updated_at = fetched_at - timedelta(minutes=30)
        items = [restamped(item, updated_at) for item in self.rng.sample(self.pool, min(changed, len(self.pool)))]
        land_extraction(self.lake, _extraction_id(self.extractions), items, fetched_at)
        self.extractions += 1


def bench_incremental(
    trackings: int, points: tuple[int, ...], log: Callable[[str], None], history_rows: int = 200,
    changed: int = 2000, memory_limit: str = "4GB", models: bool = True, repeats: int = 3,
    cadences: tuple[float, ...] = (0,), compacted: bool = False,
) -> dict[str, Any]:
    """The run-cost curve over `points` (numbers of extractions in the lake), and the first full rebuild.

    `models=False` measures the load and the publish alone (for lakes too big to model in a bench run).
    Each point is measured under each of `cadences` (TM_FULL_HISTORY_EVERY_HOURS; 0: the default,
    every run reads the whole history): the first curve is the default's, `curves` holds them all."""
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        log(f"incremental: {trackings:,} trackings; runs at {', '.join(map(str, points))} extractions "
            f"({history_rows} changed trackings per earlier sync, {changed} in the measured one)")
        history = _History(Lake(data_dir / "lake"), trackings, log)
        full_rebuild: dict[str, Any] | None = None
        curves: dict[float, list[dict[str, Any]]] = {cadence: [] for cadence in cadences}
        for point in points:
            started = time.perf_counter()
            while history.extractions < point - 1:
                history.sync(history_rows)
            log(f"  {history.extractions} extractions landed ({time.perf_counter() - started:.0f} s); catching up")
            catch_up = _run_worker(data_dir, memory_limit, models)
            if full_rebuild is None:
                full_rebuild = {"extractions": history.extractions, **catch_up}
                log(f"  full rebuild: {catch_up['total_s']:.1f} s, peak RSS {catch_up['peak_rss_mb']:.0f} MB")
            if compacted:
                started = time.perf_counter()
                for _ in range(2):  # the second run deletes what the first compacted
                    compact_lake(history.lake, progress=lambda message: None)
                _run_worker(data_dir, memory_limit, models)
                log(f"  compacted the lake and absorbed it ({time.perf_counter() - started:.0f} s)")
            for cadence in cadences:
                runs = []
                for _ in range(repeats):
                    history.sync(changed)
                    runs.append(_run_worker(data_dir, memory_limit, models, cadence))
                    stages = ", ".join(f"{name[:-2]} {runs[-1][name]:.2f} s" for name in STAGES if name in runs[-1])
                    log(f"  run at {history.extractions} extractions ({runs[-1]['mode']}, full history every "
                        f"{cadence or 'run'}{' h' if cadence else ''}): total {runs[-1]['total_s']:.2f} s ({stages}); "
                        f"peak RSS {runs[-1]['peak_rss_mb']:.0f} MB")
                measured = sorted(runs, key=lambda run: run["total_s"])[len(runs) // 2]
                curves[cadence].append({
                    "extractions": history.extractions, "full_history_every_hours": cadence,
                    "runs_total_s": [run["total_s"] for run in runs], **measured,
                })
    curve = curves[cadences[0]]
    first, last = curve[0], curve[-1]
    return {
        "trackings": trackings,
        "memory_limit": memory_limit,
        "compacted": compacted,
        "full_rebuild": full_rebuild,
        "curve": curve,
        "curves": {str(cadence): points for cadence, points in curves.items()},
        "last_to_first_total": last["total_s"] / first["total_s"],
        "last_to_first_load": last["load_s"] / first["load_s"],
    }
