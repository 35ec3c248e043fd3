"""Chart rendering on small hand-made data: one mark per datum, an explicit empty state, safe labels."""

from __future__ import annotations

import pytest

from tm_pipeline.report import charts


def _marks(svg: charts.Svg) -> int:
    return svg.markup.count('class="mark"')


def test_bar_chart_with_three_values_draws_three_marks() -> None:
    svg = charts.horizontal_bars(
        ["ups", "dhl", "fedex"], [charts.Series("rate", [0.1, 0.25, 0.05], charts.BLUE)], "share (%)", charts.percent
    )
    assert svg.marks == 3 == _marks(svg)
    assert charts.NO_DATA not in svg.markup
    assert "25.0%" in svg.markup


def test_grouped_bars_draw_one_mark_per_label_and_series() -> None:
    series = [charts.Series("now", [0.1, 0.2], charts.VERMILLION), charts.Series("ever", [0.3, 0.4], charts.SKY)]
    svg = charts.horizontal_bars(["a", "b"], series, "share (%)", charts.percent)
    assert svg.marks == 4 == _marks(svg)


@pytest.mark.parametrize(
    "empty_chart",
    [
        lambda: charts.horizontal_bars([], [charts.Series("rate", [], charts.BLUE)], "share (%)", charts.percent),
        lambda: charts.line_chart([], [charts.Series("p50", [], charts.BLUE)], "days"),
        lambda: charts.stacked_columns([], [charts.Series("calls", [], charts.BLUE)], "calls"),
        lambda: charts.box_plot([], "days"),
    ],
    ids=["bars", "line", "columns", "box"],
)
def test_empty_series_says_no_data_yet_and_draws_no_marks(empty_chart) -> None:
    svg = empty_chart()
    assert charts.NO_DATA in svg.markup
    assert svg.marks == 0 == _marks(svg)
    assert svg.markup.startswith("<svg")


def test_line_chart_leaves_a_gap_for_a_missing_week_instead_of_a_zero() -> None:
    svg = charts.line_chart(
        ["w1", "w2", "w3", "w4"], [charts.Series("p50", [4.0, None, 5.0, 6.0], charts.BLUE)], "days"
    )
    assert svg.marks == 3
    assert svg.markup.count("<polyline") == 1  # w3-w4 only: a single point (w1) draws no line


def test_stacked_columns_skip_zero_segments() -> None:
    svg = charts.stacked_columns(
        ["d1", "d2"],
        [charts.Series("ok", [10, 8], charts.BLUE), charts.Series("429", [0, 2], charts.ORANGE)],
        "calls",
    )
    assert svg.marks == 3


def test_box_plot_draws_one_mark_per_carrier() -> None:
    boxes = [charts.BoxStats("ups", 10, 1, 2, 3, 4, 5), charts.BoxStats("dhl", 5, 2, 3, 4, 6, 9)]
    svg = charts.box_plot(boxes, "days")
    assert svg.marks == 2 == _marks(svg)


def test_labels_from_the_data_are_escaped() -> None:
    svg = charts.horizontal_bars(
        ['<script>alert("x")</script>'], [charts.Series("rate", [0.5], charts.BLUE)], "share", charts.percent
    )
    assert "<script>" not in svg.markup
    assert "&lt;script&gt;" in svg.markup


@pytest.mark.parametrize("upper", [0.07, 0.9, 3, 17.2, 26.9, 1234])
def test_axis_ticks_are_round_and_cover_the_largest_value(upper: float) -> None:
    ticks = charts.nice_ticks(upper)
    assert ticks[0] == 0 and ticks[-1] >= upper
    assert 2 <= len(ticks) <= 7


def test_tooltips_carry_the_counts_behind_a_rate() -> None:
    series = charts.Series("exception now", [0.25], charts.VERMILLION, ["21 of 84 scanned"])
    svg = charts.horizontal_bars(["dhl"], [series], "share (%)", charts.percent)
    assert "<title>dhl — exception now: 25.0% (21 of 84 scanned)</title>" in svg.markup
