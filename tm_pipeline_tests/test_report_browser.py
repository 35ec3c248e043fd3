"""The report of a real pipeline run against the sandbox, rendered by headless Chromium from file://.

Chromium is a system package (`apt-get install -y chromium`). Without it these tests are skipped
on a laptop but fail under CI (`CI` set), so a CI image that lost the browser cannot pass silently.
The screenshot is kept in test-artifacts/report.png for a person to look at.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import duckdb
import pytest

from tm_pipeline.report import ReportSummary, build_report
from tm_pipeline.report.queries import SCORECARD_MONTHS_SHOWN, STUCK_ROWS_SHOWN
from tm_pipeline.runs import materialize_all
from tm_pipeline.sandbox import SandboxServer
from tm_pipeline_tests.conftest import sandbox_key, sandbox_resources
from tm_pipeline_tests.test_report_build import CHART_NAMES

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
)
MIN_SCREENSHOT_BYTES = 20_000  # a blank or text-only page of this size compresses to far less


def require_chromium(chromium: Path = CHROMIUM) -> None:
    if chromium.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{chromium} is missing and CI is set: install it with `apt-get install -y chromium`")
    pytest.skip(f"{chromium} is not installed (`apt-get install -y chromium`); under CI this fails instead")


# Module-scoped versions of the conftest fixtures: one paced pipeline run (~5 s) serves every test here.
@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("report") / "data"


@pytest.fixture(scope="module")
def resources(sandbox: SandboxServer, data_dir: Path) -> dict:
    return sandbox_resources(sandbox, sandbox_key(sandbox), data_dir)


@pytest.fixture(scope="module")
def report(resources: dict, data_dir: Path) -> ReportSummary:
    result = materialize_all(resources, data_dir)
    assert result.success
    return build_report(data_dir / "warehouse.duckdb", data_dir / "report.html")


def _chromium(profile_dir: Path, *arguments: str) -> subprocess.CompletedProcess:
    require_chromium()
    return subprocess.run(
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", *arguments],
        capture_output=True, text=True, timeout=120, check=True,
    )


def test_every_chart_has_rows_from_the_real_pipeline(report: ReportSummary) -> None:
    assert report.charts == CHART_NAMES
    assert all(rows > 0 for rows in report.rows_per_chart.values()), report.rows_per_chart


def test_report_references_nothing_outside_the_file(report: ReportSummary) -> None:
    html = report.path.read_text()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?[a-z]+:""", html, re.IGNORECASE)
    assert "<script" not in html and "<link" not in html and "@import" not in html and "url(" not in html
    # the only URL left is the SVG namespace, an identifier the browser never fetches
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}


def test_chromium_renders_every_chart_with_marks_from_file_url(report: ReportSummary, tmp_path: Path) -> None:
    dom = _chromium(tmp_path / "profile", "--dump-dom", report.path.as_uri()).stdout
    figures = dict(re.findall(r'<figure class="chart" data-chart="([^"]+)">(.*?)</figure>', dom, re.DOTALL))
    assert tuple(figures) == CHART_NAMES
    for name, body in figures.items():
        assert "<svg" in body, name
        assert body.count('class="mark"') >= 1, name
        assert "no data yet" not in body, name


def test_chromium_renders_the_scorecard_and_the_stuck_list_with_rows_from_the_pipeline(
    report: ReportSummary, resources: dict, tmp_path: Path
) -> None:
    """The two carrier tables are in the rendered DOM with one row per mart row shown (the stuck
    list capped, the rest counted), compared with the warehouse the report was built from."""
    dom = _chromium(tmp_path / "profile", "--dump-dom", report.path.as_uri()).stdout
    tables = dict(re.findall(r'<div class="table-block" data-table="([^"]+)">(.*?)</div>', dom, re.DOTALL))
    assert tuple(tables) == ("carrier-scorecard", "stuck-shipments")
    with duckdb.connect(str(resources["warehouse"].published_file), read_only=True) as connection:
        (scorecard_rows,) = connection.execute(
            f"""select count(*) from main.carrier_scorecard_monthly where created_month in (select distinct
                created_month from main.carrier_scorecard_monthly order by 1 desc limit {SCORECARD_MONTHS_SHOWN})"""
        ).fetchone()
        stuck_numbers = [number for (number,) in connection.execute(
            "select tracking_number from main.stuck_shipments order by days_since_last_checkpoint desc, tracking_id"
        ).fetchall()]
    assert scorecard_rows > 0 and stuck_numbers, "the sandbox data must give both tables rows"
    assert tables["carrier-scorecard"].count("<tr>") == scorecard_rows + 1  # and the header row
    stuck = tables["stuck-shipments"]
    shown = stuck_numbers[:STUCK_ROWS_SHOWN]
    assert re.findall(r"<tr><td>([^<]+)</td>", stuck) == shown
    hidden = len(stuck_numbers) - len(shown)
    assert (f"{hidden:,} more stuck shipments" in stuck) == (hidden > 0)


def test_chromium_screenshot_is_kept_as_an_artefact(report: ReportSummary, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "report.png"
    screenshot.unlink(missing_ok=True)
    _chromium(tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1280,4000", report.path.as_uri())
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > MIN_SCREENSHOT_BYTES


def test_missing_chromium_fails_under_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        require_chromium(tmp_path / "no-chromium")


def test_missing_chromium_skips_outside_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        require_chromium(tmp_path / "no-chromium")
