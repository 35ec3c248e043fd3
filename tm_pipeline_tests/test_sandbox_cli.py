"""The `sandbox` sub-command's flags and its ground-truth dump."""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson

from tm_pipeline.sandbox import cli


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_defaults_match_the_documented_flags() -> None:
    args = parse()
    assert (args.host, args.port, args.trackings, args.seed, args.list_rate) == (
        "127.0.0.1",
        8765,
        20000,
        42,
        1.0,
    )
    assert cli.config_from_args(args).api_keys == ("sandbox-key",)


def test_zero_list_rate_means_unthrottled_and_keys_repeat() -> None:
    config = cli.config_from_args(parse("--list-rate", "0", "--api-key", "a", "--api-key", "b"))
    assert config.list_rate_per_s is None and config.api_keys == ("a", "b")


def test_write_truth_dumps_trackings_and_metrics(tmp_path: Path) -> None:
    assert cli.run(parse("--trackings", "40", "--write-truth", str(tmp_path))) == 0
    lines = (tmp_path / "trackings.jsonl").read_bytes().splitlines()
    metrics = orjson.loads((tmp_path / "expected_metrics.json").read_bytes())
    assert len(lines) == 40 and len(metrics["fct_shipments"]) == 40
    assert {orjson.loads(line)["id"] for line in lines} == {
        row["tracking_id"] for row in metrics["fct_shipments"]
    }


def test_fault_and_clock_flags_reach_the_config() -> None:
    config = cli.config_from_args(
        parse(
            "--error-rate",
            "500=0.1",
            "--error-rate",
            "503=0.05",
            "--reset-rate",
            "0.01",
            "--burst-429",
            "3",
            "--mutate-every",
            "5",
            "--quota",
            "10",
            "--mirror-http-status",
        )
    )
    assert config.faults.error_rates == {"500": 0.1, "503": 0.05}
    assert (config.faults.reset_rate, config.faults.burst_429) == (0.01, 3)
    assert (config.mutate_every_n_list_requests, config.quota, config.mirror_http_status) == (5, 10, True)
