"""The carrier pages people open first: scorecard, on-time trend, and the stuck list.

Kept apart from page.py so the page assembly stays small; values are escaped by page's `table`
helper (and `escape` here) like everywhere else in the report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from tm_pipeline.report import charts
from tm_pipeline.report.queries import ReportData

# (name, title, how to read it, drawing, data rows) -> the <figure>, as in page.py
FigureMaker = Callable[[str, str, str, charts.Svg, int], str]
# (headers, rows, numeric column indexes) -> the <table>
TableMaker = Callable[[Sequence[str], Sequence[Sequence[str]], Sequence[int]], str]

ON_TIME_COLORS = (charts.BLUE, charts.ORANGE, charts.GREEN, charts.VERMILLION, charts.SKY, charts.REDDISH_PURPLE)


def carrier_section(data: ReportData, figure: FigureMaker, table: TableMaker) -> str:
    """Scorecard table, on-time trend chart and stuck list, in the order an operations team reads them."""
    return (
        f"{_scorecard(data, table)}{_on_time_trend(data, figure)}{_stuck_list(data, table)}"
    )


def _table_block(name: str, title: str, how_to_read: str, body: str) -> str:
    """A titled table with the same caption style as a chart; `data-table` lets the browser test find it."""
    return (
        f'<div class="table-block" data-table="{name}"><h3>{escape(title)}</h3>'
        f'<p class="how">{escape(how_to_read)}</p>{body}</div>'
    )


def _rate(value: float | None) -> str:
    return "—" if value is None else charts.percent(value)


def _days(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} d"


def _scorecard(data: ReportData, table: TableMaker) -> str:
    rows = data.scorecard
    body = table(
        ["Carrier", "Created", "Shipments", "Delivered", "Mean transit", "p90 transit (business days)",
         "First attempt", "On time", "Stuck", "Never scanned", "Expired"],
        [[r.carrier_code, f"{r.created_month:%Y-%m}", f"{r.shipments:,}", f"{r.delivered:,}",
          _days(r.mean_transit_days),
          "—" if r.p90_transit_business_days is None else f"{r.p90_transit_business_days:.1f}",
          _rate(r.first_attempt_rate), _rate(r.on_time_rate),
          f"{r.stuck:,} ({_rate(r.stuck_share)})", _rate(r.never_scanned_rate), _rate(r.expired_rate)]
         for r in rows],
        range(2, 11),
    ) or '<p class="empty">No scorecard yet: the carrier_scorecard_monthly mart has not been built.</p>'
    return _table_block(
        "carrier-scorecard", "Carrier scorecard, newest creation months",
        "One row per carrier and month the trackings were created (UTC), as of the data's time: a recent "
        "month keeps changing while its shipments travel. On time is against the promise rule (early or on "
        "time ÷ delivered with a promise); stuck is active shipments silent for too long (share of active "
        "scanned ones). A dash is a rate without a denominator.",
        body,
    )


def _on_time_trend(data: ReportData, figure: FigureMaker) -> str:
    months = sorted({r.delivered_month for r in data.on_time_by_month})
    carriers = sorted({r.carrier_code for r in data.on_time_by_month})
    by_key = {(r.carrier_code, r.delivered_month): r for r in data.on_time_by_month}
    series = []
    for carrier, color in zip(carriers, ON_TIME_COLORS, strict=False):
        cells = [by_key.get((carrier, month)) for month in months]
        series.append(charts.Series(
            carrier,
            [None if c is None else c.on_time_rate * 100 for c in cells],
            color,
            ["" if c is None else f"{c.on_time_shipments:,} of {c.promised_shipments:,} promised" for c in cells],
        ))
    return figure(
        "on-time-by-carrier-month", "On time against the promise, by carrier and delivered month",
        "Share of delivered shipments with a promise rule that arrived early or on time, per month of the "
        "delivered scan, for the carriers with the most promised deliveries. A gap is a month without one.",
        charts.line_chart([f"{m:%Y-%m}" for m in months], series, "on-time rate (%)",
                          lambda value: f"{value:.1f}%"),
        len(data.on_time_by_month),
    )


def _stuck_list(data: ReportData, table: TableMaker) -> str:
    shown = data.stuck_shown
    if data.stuck_total is None:
        body = '<p class="empty">No stuck list yet: the stuck_shipments mart has not been built.</p>'
    elif not shown:
        body = '<p class="empty">No shipment is stuck.</p>'
    else:
        body = table(
            ["Tracking number", "Carrier", "Status", "Destination", "Last scan (courier-local)", "Silent for"],
            [[r.tracking_number, r.carrier_code, r.status, r.destination_country or "unknown",
              f"{r.last_checkpoint_at:%Y-%m-%d %H:%M}", _days(r.days_since_last_checkpoint)] for r in shown],
            (5,),
        )
        hidden = data.stuck_total - len(shown)
        if hidden > 0:
            body += f'<p class="more">{hidden:,} more stuck shipments are in <code>main.stuck_shipments</code>.</p>'
    total = "" if data.stuck_total is None else f" ({data.stuck_total:,})"
    return _table_block(
        "stuck-shipments", f"Stuck shipments{total}, longest silence first",
        "Active shipments whose newest checkpoint is at least the stuck threshold (stuck_after_days) older "
        "than the data's time: the list to work through every morning. Last scan is the courier's local time.",
        body,
    )
