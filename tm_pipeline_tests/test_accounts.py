"""Several TrackingMore accounts: the accounts file, and a sync of two accounts in parallel.

The configuration tests parse real TOML text. The sync test runs `tm-pipeline sync` as its own
process, as cron would, against one sandbox on 127.0.0.1 that serves each key its own account
(its own shipments, rate limit and 429 counter); the extractions run in Dagster's multiprocess
executor, and the published marts are compared, account by account, with the sandbox's truth.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tm_pipeline import settings
from tm_pipeline.accounts import DEFAULT_ACCOUNT, Account, parse_accounts
from tm_pipeline.api.errors import ConfigurationError
from tm_pipeline.bench.truth_compare import truth_parameters
from tm_pipeline.cli import main
from tm_pipeline.report import build_report
from tm_pipeline.report.accounts import narrow_to_account
from tm_pipeline.report.queries import read_report_data
from tm_pipeline.runs import instance_for
from tm_pipeline.sandbox import SandboxConfig, SandboxServer
from tm_pipeline.sandbox.ratelimit import key_fingerprint
from tm_pipeline_tests.accounts_files import accounts_environment, accounts_mismatches

SQL_DIR = Path(__file__).resolve().parent.parent / "dbt_like_sql"
BASE_URL = "http://127.0.0.1:8765/v2"


def _parse(text: str) -> list[Account]:
    return parse_accounts(text, "accounts.toml", BASE_URL, 1.0)


def test_a_file_names_accounts_in_order_with_the_environment_as_defaults() -> None:
    accounts = _parse(
        '[accounts.brand_a]\nkey_var = "TM_KEY_A"\n\n'
        '[accounts.brand_b]\nkey_var = "TM_KEY_B"\nbase_url = "https://api.trackingmore.com/v2/"\nlist_rate_per_s = 2\n'
    )
    assert accounts == [
        Account("brand_a", "TM_KEY_A", BASE_URL, 1.0),
        Account("brand_b", "TM_KEY_B", "https://api.trackingmore.com/v2", 2.0),
    ]
    assert [a.lake_prefix for a in accounts] == ["account=brand_a", "account=brand_b"]


def test_an_account_named_default_keeps_the_single_account_lake() -> None:
    (account,) = _parse('[accounts.default]\nkey_var = "TRACKINGMORE_API_KEY"\n')
    assert account.name == DEFAULT_ACCOUNT and account.lake_prefix == "" and account.resource_key == "trackingmore"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[accounts.brand_a]\nbase_url = "https://x/v2"\n', ["'brand_a'", "key_var"]),
        ('[accounts.Brand-A]\nkey_var = "K"\n', ["'Brand-A'", "lowercase"]),
        ('[accounts.brand_a]\nkey_var = "K"\nlist_rate_per_s = 0\n', ["'brand_a'", "list_rate_per_s"]),
        ('[accounts.brand_a]\nkey_var = "K"\nbase_url = "api.trackingmore.com"\n', ["'brand_a'", "base_url"]),
        ('[accounts.brand_a]\nkey_var = "K"\nkey = "secret"\n', ["'brand_a'", "'key'"]),
        ('[accounts.a]\nkey_var = "K"\n[accounts.b]\nkey_var = "K"\n', ["'a'", "'b'", "K"]),
        ("[accounts]\n", ["no account"]),
        ("accounts = [", ["not valid TOML"]),
    ],
)
def test_a_wrong_file_is_refused_naming_the_file_the_account_and_the_field(text: str, named: list[str]) -> None:
    with pytest.raises(ConfigurationError) as refused:
        _parse(text)
    assert "accounts.toml" in str(refused.value)
    for word in named:
        assert word in str(refused.value)


def test_a_missing_key_variable_is_named_and_the_sync_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    accounts_file = tmp_path / "accounts.toml"
    accounts_file.write_text(
        '[accounts.brand_a]\nkey_var = "TM_TEST_KEY_A"\n[accounts.brand_b]\nkey_var = "TM_TEST_KEY_B"\n'
    )
    monkeypatch.setenv(settings.ACCOUNTS_FILE_VAR, str(accounts_file))
    monkeypatch.setenv("TM_TEST_KEY_A", "brand-a-secret-value")
    monkeypatch.delenv("TM_TEST_KEY_B", raising=False)
    exit_code = main(["sync", "--data-dir", str(tmp_path / "data")])
    stderr = capsys.readouterr().err
    assert exit_code == 2
    assert "TM_TEST_KEY_B" in stderr and str(accounts_file) in stderr
    assert "TM_TEST_KEY_A" not in stderr and "brand-a-secret-value" not in stderr
    assert not (tmp_path / "data" / "lake").exists()


ACCOUNT_KEYS = {"brand_a": "brand-a-key", "brand_b": "brand-b-key"}


@pytest.fixture(scope="module")
def two_account_sync(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SandboxServer, Path, subprocess.CompletedProcess]]:
    """One `tm-pipeline sync` of two accounts (2,500 trackings each): brand_a speaks v2 (two 2,000-row
    pages at 1/s), brand_b v4 (its base_url ends in /v4: 100-row pages at 10/s), each its own account."""
    root = tmp_path_factory.mktemp("accounts")
    config = SandboxConfig(trackings=2500, seed=11, api_keys=tuple(ACCOUNT_KEYS.values()), separate_accounts=True)
    with SandboxServer(config).running() as sandbox:
        base_urls = {"brand_a": sandbox.base_url, "brand_b": sandbox.base_url_v4}
        env = {**os.environ, **accounts_environment(root / "accounts.toml", base_urls, ACCOUNT_KEYS)}
        env.pop(settings.API_KEY_VAR, None)
        data_dir = root / "data"
        completed = subprocess.run(
            [sys.executable, "-m", "tm_pipeline.cli", "sync", "--data-dir", str(data_dir)],
            env=env, capture_output=True, text=True, timeout=300, check=False,
        )
        yield sandbox, data_dir, completed


def test_two_accounts_sync_in_parallel_each_at_its_own_limit_into_its_own_lake(
    two_account_sync: tuple[SandboxServer, Path, subprocess.CompletedProcess],
) -> None:
    sandbox, data_dir, completed = two_account_sync
    assert completed.returncode == 0, completed.stderr[-3000:]
    stats = sandbox.stats()
    fingerprints = [key_fingerprint(key) for key in ACCOUNT_KEYS.values()]
    refused = stats["list_429_per_key"]
    assert isinstance(refused, dict)
    assert [refused.get(fingerprint, 0) for fingerprint in fingerprints] == [0, 0]
    for name in ACCOUNT_KEYS:
        assert list((data_dir / "lake" / f"account={name}" / "manifests").glob("*.json"))
    assert not (data_dir / "lake" / "manifests").exists()  # no default account was configured
    # The two extraction steps ran at the same time: each started before the other ended.
    steps = _step_intervals(data_dir)
    (first_start, first_end), (second_start, second_end) = steps["trackingmore_extract_brand_a"], steps[
        "trackingmore_extract_brand_b"
    ]
    assert first_start < second_end and second_start < first_end
    for secret in ACCOUNT_KEYS.values():
        assert secret not in completed.stdout + completed.stderr
    # Each account spoke the version its base_url names: its ledger says so.
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as connection:
        versions = dict(
            connection.execute("SELECT account, string_agg(DISTINCT api_version) FROM raw.api_calls GROUP BY ALL")
            .fetchall()
        )
    assert versions == {"brand_a": "v2", "brand_b": "v4"}


def test_each_accounts_marts_equal_its_own_truth(
    two_account_sync: tuple[SandboxServer, Path, subprocess.CompletedProcess],
) -> None:
    sandbox, data_dir, completed = two_account_sync
    assert completed.returncode == 0, completed.stderr[-3000:]
    parameters = truth_parameters(SQL_DIR)
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as connection:
        trackings = dict(connection.execute("SELECT account, count(*) FROM raw.trackings GROUP BY ALL").fetchall())
        assert trackings == {
            name: len(sandbox.truth_trackings(api_key=key)) for name, key in ACCOUNT_KEYS.items()
        }
        truths = {name: sandbox.expected_metrics(**parameters, api_key=key) for name, key in ACCOUNT_KEYS.items()}
        assert accounts_mismatches(connection, truths) == {}


def test_the_report_shows_one_account_at_a_time(
    two_account_sync: tuple[SandboxServer, Path, subprocess.CompletedProcess], tmp_path: Path
) -> None:
    """Carriers and weeks of two accounts do not add up row by row, so a report is of one account."""
    sandbox, data_dir, completed = two_account_sync
    assert completed.returncode == 0, completed.stderr[-3000:]
    database = data_dir / "warehouse.duckdb"
    with pytest.raises(ValueError, match="brand_a, brand_b"):
        build_report(database, tmp_path / "all.html")
    summary = build_report(database, tmp_path / "brand_a.html", account="brand_a")
    assert "account brand_a" in summary.path.read_text(encoding="utf-8")
    with duckdb.connect(str(database), read_only=True) as connection:
        narrow_to_account(connection, "brand_b")
        data = read_report_data(connection)
    truth = sandbox.expected_metrics(**truth_parameters(SQL_DIR), api_key=ACCOUNT_KEYS["brand_b"])
    assert data.headline is not None
    assert data.headline.shipments == len(sandbox.truth_trackings(api_key=ACCOUNT_KEYS["brand_b"]))
    assert [row.week_start.isoformat() for row in data.delivery_by_week] == sorted(
        str(row["week_start"]) for row in truth["delivery_time_by_week"]
    )


def _step_intervals(data_dir: Path) -> dict[str, tuple[float, float]]:
    """(start, end) timestamps of every step of every run, from the run's Dagster event log."""
    intervals: dict[str, tuple[float, float]] = {}
    with instance_for(data_dir) as instance:
        for run in instance.get_runs():
            starts: dict[str, float] = {}
            for record in instance.all_logs(run.run_id):
                event = record.dagster_event
                if event is None or record.step_key is None:
                    continue
                if event.event_type_value == "STEP_START":
                    starts[record.step_key] = record.timestamp
                elif event.event_type_value == "STEP_SUCCESS":
                    intervals[record.step_key] = (starts[record.step_key], record.timestamp)
    return intervals
