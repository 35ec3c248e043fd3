"""HTML assembly: one self-contained page (inline CSS and SVG, no scripts, no URLs) from ReportData.

Everything interpolated into the page goes through `html.escape`: carrier codes, countries and
check names come from the API and the warehouse, not from us.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from string import Template

from tm_pipeline.report import charts
from tm_pipeline.report.carrier_section import carrier_section
from tm_pipeline.report.queries import ExceptionRate, ReportData

HALF_WIDTH = 500  # viewBox width of a chart in one of two columns: about its on-screen width in pixels

# (name, title, how to read it, drawing, data rows) -> the <figure>; also records the chart for the summary
FigureMaker = Callable[[str, str, str, charts.Svg, int], str]


@dataclass(frozen=True)
class RenderedChart:
    name: str
    rows: int


def render_page(data: ReportData, generated_at: datetime, source_name: str) -> tuple[str, list[RenderedChart]]:
    """The whole document, and per chart (in page order) how many data rows it was drawn from."""
    rendered: list[RenderedChart] = []

    def figure(name: str, title: str, how_to_read: str, svg: charts.Svg, rows: int) -> str:
        rendered.append(RenderedChart(name, rows))
        return (
            f'<figure class="chart" data-chart="{name}"><figcaption><h3>{escape(title)}</h3>'
            f'<p class="how">{escape(how_to_read)}</p></figcaption>{svg.markup}</figure>'
        )

    sections = [
        _section("carriers", "Carriers", carrier_section(data, figure, _table)),
        _delivery_section(data, figure),
        _exception_section(data, figure),
        _api_section(data, figure),
        _quality_section(data, figure),
    ]
    document = _PAGE.substitute(
        css=_CSS,
        header=_header(data, generated_at),
        sections="".join(sections),
        generated=escape(f"{generated_at:%Y-%m-%d %H:%M} UTC"),
        source=escape(source_name),
    )
    return document, rendered


def _header(data: ReportData, generated_at: datetime) -> str:
    freshness = data.freshness
    if freshness is None or freshness.data_as_of is None:
        status = '<p class="freshness stale">No trackings loaded yet: run <code>tm-pipeline demo</code> or ' \
                 '<code>tm-pipeline sync</code>.</p>'
    else:
        age = _age(generated_at - freshness.data_as_of)
        status = (
            f'<p class="freshness">Data as of <strong>{_when(freshness.data_as_of)}</strong> '
            f"(newest page fetched, {age} before this report) · newest TrackingMore update "
            f"{_when(freshness.newest_update_at)} · {freshness.trackings:,} trackings · "
            f"models built {_when(freshness.built_at)}</p>"
        )
    headline = data.headline
    tiles = []
    if headline is not None:
        tiles = [
            ("Shipments", f"{headline.shipments:,}"),
            ("Delivered", f"{headline.delivered:,} ({headline.delivered / headline.shipments:.0%})"),
            ("Median delivery", _days(headline.median_delivery_days)),
            ("Exception rate now", "—" if headline.exception_rate is None else charts.percent(headline.exception_rate)),
        ]
    if data.dq_runs:
        latest = data.dq_runs[-1]
        failed = latest.failed_error + latest.failed_warn
        tiles.append(("Latest checks", "all passed" if not failed else f"{failed} failed"))
    tile_html = "".join(
        f'<div class="tile"><span class="tile-label">{escape(label)}</span>'
        f'<span class="tile-value">{escape(value)}</span></div>'
        for label, value in tiles
    )
    return f"{status}<div class=\"tiles\">{tile_html}</div>"


def _delivery_section(data: ReportData, figure: FigureMaker) -> str:
    boxes = [charts.BoxStats(r.carrier_code, r.delivered, r.p10, r.p25, r.p50, r.p75, r.p90)
             for r in data.delivery_by_carrier]
    box_figure = figure(
        "delivery-days-by-carrier", "Delivery-time distribution by carrier",
        "Each row is a carrier: the box spans the middle half of delivered shipments (p25–p75), the thick bar "
        "is the median, whiskers reach p10 and p90. Further left is faster; a wide box is unpredictable.",
        charts.box_plot(boxes, "delivery time (days from first scan to delivered)"), len(boxes),
    )
    table = _table(
        ["Carrier", "Shipments", "Delivered", "p10", "Median", "p90"],
        [[r.carrier_code, f"{r.shipments:,}", f"{r.delivered:,}", _days(r.p10), _days(r.p50), _days(r.p90)]
         for r in data.delivery_by_carrier],
        numeric=range(1, 6),
    )
    weeks = data.delivery_by_week
    delivered = [f"{w.delivered:,} of {w.shipments:,} shipments delivered so far" for w in weeks]
    week_figure = figure(
        "delivery-days-by-week", "p50 and p90 delivery days by week of first scan",
        "Half of the shipments first scanned in a week were delivered within the p50 line, nine in ten within "
        "p90. A rising p90 with a flat p50 means the slow tail is getting slower. Recent weeks are still "
        "incomplete: only their fast shipments have been delivered yet.",
        charts.line_chart(
            [f"{w.week_start:%Y-%m-%d}" for w in weeks],
            [charts.Series("p50 (median)", [w.p50_delivery_days for w in weeks], charts.BLUE, delivered),
             charts.Series("p90", [w.p90_delivery_days for w in weeks], charts.ORANGE, delivered)],
            "delivery time (days)",
            lambda days: f"{days:.1f} days",
        ),
        len(weeks),
    )
    return _section("delivery", "Delivery time", f"{box_figure}{table}{week_figure}")


def _exception_section(data: ReportData, figure: FigureMaker) -> str:
    def rate_chart(name: str, title: str, how: str, rows: list[ExceptionRate]) -> str:
        series = [
            charts.Series("exception now", [r.exception_rate for r in rows], charts.VERMILLION,
                          [f"{r.exception_shipments:,} of {r.scanned_shipments:,} scanned" for r in rows]),
            charts.Series("ever had an exception", [r.ever_exception_rate for r in rows], charts.SKY,
                          [f"{r.ever_exception_shipments:,} of {r.scanned_shipments:,} scanned" for r in rows]),
        ]
        labels = [r.label for r in rows]
        bars = charts.horizontal_bars(labels, series, "share of scanned shipments (%)", charts.percent, HALF_WIDTH)
        return figure(name, title, how, bars, len(rows))

    by_carrier = rate_chart(
        "exception-rate-by-carrier", "Exception rate by carrier",
        "Share of scanned shipments whose current status is exception, undelivered or expired (dark), and "
        "share that had an exception checkpoint at any point (light), highest current rate first.",
        data.exceptions_by_carrier,
    )
    by_destination = rate_chart(
        "exception-rate-by-destination", "Exception rate by destination",
        f"Same rates for the {len(data.exceptions_by_destination) or 'busiest'} destination countries with the "
        "most scanned shipments; 'unknown' is shipments without a destination country.",
        data.exceptions_by_destination,
    )
    return _section("exceptions", "Exceptions", f'<div class="pair">{by_carrier}{by_destination}</div>')


def _api_section(data: ReportData, figure: FigureMaker) -> str:
    days = data.api_days
    chart = figure(
        "api-calls-by-day", "TrackingMore API calls per day",
        "Each column is one UTC day of HTTP attempts to the API. Blue answered normally (including empty "
        "results); orange was throttled with 429; red is every other error (auth, billing, 5xx, timeouts).",
        charts.stacked_columns(
            [f"{d.day:%Y-%m-%d}" for d in days],
            [charts.Series("ok or empty", [d.not_errors for d in days], charts.BLUE,
                           [f"of {d.calls:,} calls, {d.retries:,} of them retries" for d in days]),
             charts.Series("429 rate-limited", [d.served_429 for d in days], charts.ORANGE),
             charts.Series("other errors", [d.other_errors for d in days], charts.VERMILLION)],
            "calls",
        ),
        len(days),
    )
    table = _table(
        ["Day (UTC)", "Endpoint", "Calls", "Error share", "Calls by response code"],
        [[f"{r.day:%Y-%m-%d}", r.endpoint, f"{r.calls:,}", charts.percent(r.error_share),
          ", ".join(f"{entry['key']}: {entry['value']:,}" for entry in r.calls_by_code)]
         for r in data.api_recent],
        numeric=(2, 3),
    )
    return _section("api", "API health", f"{chart}<h4>Latest days by endpoint</h4>{table}")


def _quality_section(data: ReportData, figure: FigureMaker) -> str:
    runs = data.dq_runs
    chart = figure(
        "dq-results-by-run", "Data-quality check results per run",
        "Each column is one pipeline run, oldest left: green checks passed, yellow-orange failed with severity "
        "warn (informational), red failed with severity error (downstream models were not rebuilt).",
        charts.stacked_columns(
            [f"{r.started_at:%m-%d %H:%M}" for r in runs],
            [charts.Series("passed", [r.passed for r in runs], charts.GREEN),
             charts.Series("failed (warn)", [r.failed_warn for r in runs], charts.ORANGE),
             charts.Series("failed (error)", [r.failed_error for r in runs], charts.VERMILLION)],
            "checks",
        ),
        len(runs),
    )
    if not runs:
        latest = ""
    elif data.dq_latest_failures:
        latest = f"<h4>Failed checks in the latest run ({escape(runs[-1].run_id)})</h4>" + _table(
            ["Check", "Asset", "Severity", "Value"],
            [[f.check_name, f.asset, f.severity, "" if f.value is None else charts.plain_number(f.value)]
             for f in data.dq_latest_failures],
            numeric=(3,),
        )
    else:
        latest = (f'<p class="all-passed">All checks passed in the latest run ({escape(runs[-1].run_id)}, '
                  f"{_when(runs[-1].started_at)}).</p>")
    return _section("quality", "Data quality", f"{chart}{latest}")


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(title)}</h2>{body}</section>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int]) -> str:
    """A plain table; the `numeric` column indexes are right-aligned so digits line up."""
    if not rows:
        return ""

    def cell(tag: str, index: int, content: str) -> str:
        css_class = ' class="num"' if index in numeric else ""
        return f"<{tag}{css_class}>{escape(content)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f'<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else escape(f"{moment:%Y-%m-%d %H:%M} UTC")


def _age(elapsed: timedelta) -> str:
    minutes = elapsed.total_seconds() / 60
    if minutes < 90:
        return f"{max(minutes, 0):.0f} min"
    return f"{minutes / 60:.0f} h" if minutes < 48 * 60 else f"{minutes / 1440:.0f} days"


def _days(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} d"


_PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shipment delivery report</title>
<style>$css</style>
</head>
<body>
<header>
<h1>Shipment delivery report</h1>
$header
<nav><a href="#carriers">Carriers</a><a href="#delivery">Delivery time</a><a href="#exceptions">Exceptions</a>\
<a href="#api">API health</a><a href="#quality">Data quality</a></nav>
</header>
<main>$sections</main>
<footer>Generated $generated from <code>$source</code> by <code>tm-pipeline report</code>.
Self-contained: opens offline, fetches nothing.</footer>
</body>
</html>
""")

_CSS = """
:root { --ink: #1d2433; --muted: #5b6475; --line: #e3e7ee; --panel: #ffffff; --page: #f3f5f8; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--page); color: var(--ink);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background: #16263d; color: #fff; padding: 24px 40px 0; }
header h1 { margin: 0 0 6px; font-size: 24px; font-weight: 600; }
.freshness { margin: 0 0 16px; color: #c9d4e5; }
.freshness strong { color: #fff; }
.freshness.stale { color: #ffd39a; }
.tiles { display: flex; gap: 12px; flex-wrap: wrap; padding-bottom: 16px; }
.tile { background: rgba(255,255,255,0.08); border-radius: 8px; padding: 10px 16px; min-width: 150px; }
.tile-label { display: block; font-size: 12px; color: #aebbd0; text-transform: uppercase; letter-spacing: .04em; }
.tile-value { display: block; font-size: 20px; font-weight: 600; }
nav { display: flex; gap: 4px; }
nav a { color: #c9d4e5; text-decoration: none; padding: 8px 12px; border-radius: 6px 6px 0 0; }
nav a:hover { background: var(--page); color: var(--ink); }
main { max-width: 1180px; margin: 0 auto; padding: 8px 40px 24px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 8px 24px 20px;
  margin: 20px 0; }
h2 { font-size: 19px; margin: 12px 0 4px; }
h3 { font-size: 15px; margin: 0; }
h4 { font-size: 13px; margin: 16px 0 6px; color: var(--muted); }
figure.chart { margin: 16px 0; }
figcaption .how { margin: 2px 0 8px; color: var(--muted); font-size: 13px; }
figure.chart svg { width: 100%; height: auto; display: block; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 28px; }
svg text { font-family: inherit; fill: var(--ink); }
svg .tick { font-size: 11px; fill: var(--muted); }
svg .label { font-size: 12px; }
svg .value { font-size: 11px; fill: var(--muted); }
svg .legend { font-size: 12px; }
svg .axis-title { font-size: 12px; fill: var(--muted); }
svg .no-data { font-size: 18px; fill: var(--muted); font-style: italic; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .mark:hover { opacity: 0.75; }
table { border-collapse: collapse; width: 100%; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid var(--line); }
th.num { text-align: right; }
th { color: var(--muted); font-weight: 600; background: #f8f9fb; }
td.num { text-align: right; white-space: nowrap; }
.all-passed { color: #0b6e4f; font-weight: 600; }
.table-block { margin: 16px 0; }
.table-block .how { margin: 2px 0 8px; color: var(--muted); font-size: 13px; }
.empty, .more { color: var(--muted); font-style: italic; }
code { font-size: 12px; }
footer { max-width: 1180px; margin: 0 auto 32px; padding: 0 40px; color: var(--muted); font-size: 12px; }
"""
