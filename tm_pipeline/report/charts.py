"""SVG charts as strings: pure functions from small, already-aggregated data to markup.

Every drawn datum carries `class="mark"` (the browser test counts them) and a `<title>`, which
browsers show as a tooltip without JavaScript. Empty input draws an explicit "no data yet"
message and no marks, so a fresh warehouse still gives a readable page. Colours come from the
Okabe-Ito palette, which stays distinguishable with the common colour-vision deficiencies.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

BLUE = "#0072B2"
ORANGE = "#E69F00"
VERMILLION = "#D55E00"
SKY = "#56B4E9"
GREEN = "#009E73"
GREY = "#8C8C8C"
REDDISH_PURPLE = "#CC79A7"

WIDTH = 960  # viewBox units; CSS scales the drawing to the column width
NO_DATA = "no data yet"
LABEL_CHAR_PX = 7.2  # average width of a 12 px label character, to size the left margin
LONGEST_LABEL_CHARS = 22


@dataclass(frozen=True)
class Series:
    """One named, coloured sequence of values aligned with the chart's labels; None is a gap.

    `details`, when given, adds context per value to its tooltip (e.g. "42 of 468 scanned").
    """

    name: str
    values: Sequence[float | None]
    color: str
    details: Sequence[str] | None = None

    def tooltip(self, label: str, index: int, shown_value: str) -> str:
        extra = f" ({self.details[index]})" if self.details else ""
        return escape(f"{label} — {self.name}: {shown_value}{extra}")


@dataclass(frozen=True)
class BoxStats:
    """Percentiles of one group, for a horizontal box plot (whiskers p10-p90, box p25-p75)."""

    label: str
    count: int
    p10: float
    p25: float
    p50: float
    p75: float
    p90: float


@dataclass(frozen=True)
class Svg:
    markup: str
    marks: int


def nice_ticks(upper: float, target: int = 5) -> list[float]:
    """Round axis ticks from 0 to at least `upper`, stepping by 1, 2, 2.5 or 5 times a power of ten."""
    if upper <= 0:
        return [0.0, 1.0]
    raw_step = upper / target
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw_step)
    count = math.ceil(upper / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


def plain_number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def horizontal_bars(
    labels: Sequence[str], series: Sequence[Series], axis_label: str, value_format: Callable[[float], str],
    width: int = WIDTH,
) -> Svg:
    """One band per label, one bar per series inside it; bars start at zero so lengths compare.

    `width` is in viewBox units: a chart meant for half a page takes a smaller one, so its text
    keeps the same size on screen as in a full-width chart.
    """
    if not labels:
        return no_data(axis_label, width)
    bar_height, band_gap = 14, 10
    band = bar_height * len(series) + band_gap
    left, right, top = _label_margin(labels), 70, 36 if len(series) > 1 else 12
    plot_height = band * len(labels)
    height = top + plot_height + 44
    ticks = nice_ticks(max((v or 0) for s in series for v in s.values))
    scale = (width - left - right) / ticks[-1]
    parts = [_legend(series, left, 16)] if len(series) > 1 else []
    parts += _vertical_grid(ticks, left, scale, top, plot_height, value_format)
    marks = 0
    for row, label in enumerate(labels):
        band_top = top + row * band + band_gap / 2
        parts.append(_text(left - 8, band_top + band / 2 - band_gap / 2 + 4, _shorten(label), "end", "label"))
        for index, one in enumerate(series):
            value = one.values[row]
            if value is None:
                continue
            y = band_top + index * bar_height
            parts.append(
                f'<rect class="mark" x="{left}" y="{y:.1f}" width="{max(value * scale, 1):.1f}" '
                f'height="{bar_height - 2}" fill="{one.color}"><title>{one.tooltip(label, row, value_format(value))}'
                "</title></rect>"
            )
            parts.append(_text(left + value * scale + 4, y + bar_height - 5, value_format(value), "start", "value"))
            marks += 1
    parts.append(_text(left + (width - left - right) / 2, height - 6, axis_label, "middle", "axis-title"))
    return Svg(_frame(height, parts, axis_label, width), marks)


def line_chart(
    x_labels: Sequence[str], series: Sequence[Series], axis_label: str,
    value_format: Callable[[float], str] = plain_number,
) -> Svg:
    """Evenly spaced categories (e.g. weeks) on x; a None value breaks the line instead of faking a zero."""
    if not x_labels:
        return no_data(axis_label)
    left, right, top, bottom = 64, 44, 36, 52  # the last x label is centred on the last point: room for its half
    height = 300
    plot_height = height - top - bottom
    ticks = nice_ticks(max((v or 0) for s in series for v in s.values))
    y_scale = plot_height / ticks[-1]
    step = (WIDTH - left - right) / max(len(x_labels) - 1, 1)

    def x_at(i: int) -> float:
        return left + i * step if len(x_labels) > 1 else left + (WIDTH - left - right) / 2

    parts = [_legend(series, left, 16)]
    parts += _horizontal_grid(ticks, left, right, top, plot_height, y_scale, plain_number)
    parts += _category_labels(x_labels, x_at, top + plot_height + 18)
    marks = 0
    for one in series:
        segment: list[str] = []
        segments = [segment]
        for i, value in enumerate(one.values):
            if value is None:
                segment = []
                segments.append(segment)
                continue
            segment.append(f"{x_at(i):.1f},{top + plot_height - value * y_scale:.1f}")
        for points in segments:
            if len(points) > 1:
                parts.append(
                    f'<polyline class="series-line" points="{" ".join(points)}" fill="none" '
                    f'stroke="{one.color}" stroke-width="2.5"/>'
                )
        for i, value in enumerate(one.values):
            if value is None:
                continue
            parts.append(
                f'<circle class="mark" cx="{x_at(i):.1f}" cy="{top + plot_height - value * y_scale:.1f}" r="4" '
                f'fill="{one.color}"><title>{one.tooltip(x_labels[i], i, value_format(value))}</title></circle>'
            )
            marks += 1
    parts.append(_y_axis_title(axis_label, top + plot_height / 2))
    return Svg(_frame(height, parts, axis_label), marks)


def stacked_columns(x_labels: Sequence[str], series: Sequence[Series], axis_label: str) -> Svg:
    """One column per category, series stacked bottom-up in the given order; zero segments are not drawn."""
    if not x_labels:
        return no_data(axis_label)
    left, right, top, bottom = 64, 24, 36, 52
    height = 250
    plot_height = height - top - bottom
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(x_labels))]
    ticks = nice_ticks(max(totals))
    y_scale = plot_height / ticks[-1]
    slot = (WIDTH - left - right) / len(x_labels)
    column_width = min(56.0, slot * 0.7)

    def x_at(i: int) -> float:
        return left + slot * (i + 0.5)

    parts = [_legend(series, left, 16)]
    parts += _horizontal_grid(ticks, left, right, top, plot_height, y_scale, plain_number)
    parts += _category_labels(x_labels, x_at, top + plot_height + 18)
    marks = 0
    for i, label in enumerate(x_labels):
        base: float = top + plot_height
        for one in series:
            value = one.values[i] or 0
            if value <= 0:
                continue
            segment_height = value * y_scale
            base -= segment_height
            parts.append(
                f'<rect class="mark" x="{x_at(i) - column_width / 2:.1f}" y="{base:.1f}" width="{column_width:.1f}" '
                f'height="{segment_height:.1f}" fill="{one.color}"><title>{one.tooltip(label, i, plain_number(value))}'
                "</title></rect>"
            )
            marks += 1
    parts.append(_y_axis_title(axis_label, top + plot_height / 2))
    return Svg(_frame(height, parts, axis_label), marks)


def box_plot(boxes: Sequence[BoxStats], axis_label: str) -> Svg:
    """Horizontal boxes on a shared axis from zero: whiskers p10-p90, box p25-p75, a bar at the median."""
    if not boxes:
        return no_data(axis_label)
    row_height, left, right, top = 30, _label_margin([b.label for b in boxes]), 24, 12
    plot_height = row_height * len(boxes)
    height = top + plot_height + 44
    ticks = nice_ticks(max(b.p90 for b in boxes))
    scale = (WIDTH - left - right) / ticks[-1]
    parts = _vertical_grid(ticks, left, scale, top, plot_height, plain_number)
    for row, box in enumerate(boxes):
        middle = top + row * row_height + row_height / 2
        x10, x25, x50, x75, x90 = (left + v * scale for v in (box.p10, box.p25, box.p50, box.p75, box.p90))
        tip = (
            f"{box.label}: {box.count:,} delivered — p10 {box.p10:.1f}, p25 {box.p25:.1f}, median {box.p50:.1f}, "
            f"p75 {box.p75:.1f}, p90 {box.p90:.1f} days"
        )
        parts.append(_text(left - 8, middle + 4, _shorten(box.label), "end", "label"))
        parts.append(
            f'<g class="mark"><title>{escape(tip)}</title>'
            f'<line x1="{x10:.1f}" x2="{x90:.1f}" y1="{middle}" y2="{middle}" stroke="{GREY}" stroke-width="1.5"/>'
            f'<line x1="{x10:.1f}" x2="{x10:.1f}" y1="{middle - 6}" y2="{middle + 6}" stroke="{GREY}"/>'
            f'<line x1="{x90:.1f}" x2="{x90:.1f}" y1="{middle - 6}" y2="{middle + 6}" stroke="{GREY}"/>'
            f'<rect x="{x25:.1f}" y="{middle - 10}" width="{max(x75 - x25, 1):.1f}" height="20" '
            f'fill="{SKY}" fill-opacity="0.55" stroke="{BLUE}"/>'
            f'<line x1="{x50:.1f}" x2="{x50:.1f}" y1="{middle - 10}" y2="{middle + 10}" stroke="{BLUE}" '
            f'stroke-width="3"/></g>'
        )
    parts.append(_text(left + (WIDTH - left - right) / 2, height - 6, axis_label, "middle", "axis-title"))
    return Svg(_frame(height, parts, axis_label), len(boxes))


def no_data(description: str, width: int = WIDTH) -> Svg:
    """The empty state: an explicit message in place of the plot, and no marks."""
    parts = [
        f'<rect x="1" y="1" width="{width - 2}" height="118" rx="8" fill="#f6f7f9" stroke="#d0d5dd" '
        f'stroke-dasharray="6 4"/>',
        _text(width / 2, 66, NO_DATA, "middle", "no-data"),
    ]
    return Svg(_frame(120, parts, f"{description}: {NO_DATA}", width), 0)


def _frame(height: float, parts: Sequence[str], aria_label: str, width: int = WIDTH) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height:.0f}" role="img" '
        f'aria-label="{escape(aria_label)}">{"".join(parts)}</svg>'
    )


def _text(x: float, y: float, content: str, anchor: str, css_class: str) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" class="{css_class}">{escape(content)}</text>'


def _shorten(label: str) -> str:
    return label if len(label) <= LONGEST_LABEL_CHARS else label[: LONGEST_LABEL_CHARS - 1] + "…"


def _label_margin(labels: Sequence[str]) -> float:
    return 16 + LABEL_CHAR_PX * min(max(len(label) for label in labels), LONGEST_LABEL_CHARS)


def _legend(series: Sequence[Series], x: float, y: float) -> str:
    items = []
    for one in series:
        items.append(f'<rect x="{x:.1f}" y="{y - 10}" width="12" height="12" rx="2" fill="{one.color}"/>')
        items.append(_text(x + 18, y, one.name, "start", "legend"))
        x += 36 + LABEL_CHAR_PX * len(one.name)
    return "".join(items)


def _vertical_grid(
    ticks: Sequence[float], left: float, scale: float, top: float, plot_height: float,
    value_format: Callable[[float], str],
) -> list[str]:
    parts = []
    for tick in ticks:
        x = left + tick * scale
        parts.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_height}"/>')
        parts.append(_text(x, top + plot_height + 16, value_format(tick), "middle", "tick"))
    return parts


def _horizontal_grid(
    ticks: Sequence[float], left: float, right: float, top: float, plot_height: float, y_scale: float,
    value_format: Callable[[float], str],
) -> list[str]:
    parts = []
    for tick in ticks:
        y = top + plot_height - tick * y_scale
        parts.append(f'<line class="grid" x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(_text(left - 8, y + 4, value_format(tick), "end", "tick"))
    return parts


def _category_labels(labels: Sequence[str], x_at: Callable[[int], float], y: float) -> list[str]:
    """At most about 12 labels, evenly thinned, always keeping the last so the newest category is named."""
    every = max(1, math.ceil(len(labels) / 12))
    shown = list(range(0, len(labels), every))
    if shown[-1] != len(labels) - 1:
        shown[-1] = len(labels) - 1  # the one before would sit too close to fit beside it
    return [_text(x_at(i), y, labels[i], "middle", "tick") for i in shown]


def _y_axis_title(axis_label: str, middle_y: float) -> str:
    return (
        f'<text x="16" y="{middle_y:.1f}" text-anchor="middle" class="axis-title" '
        f'transform="rotate(-90 16 {middle_y:.1f})">{escape(axis_label)}</text>'
    )
