"""The page-rate benchmark runs end to end (its figure is recorded in docs/sandbox.md)."""

from __future__ import annotations

from tm_pipeline.bench.sandbox_throughput import measure_pages_per_second


def test_measure_pages_per_second_serves_full_pages() -> None:
    assert measure_pages_per_second(pages=3) > 1.0
