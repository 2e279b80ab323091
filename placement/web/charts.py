"""Small charts drawn on the server as SVG: no JavaScript, no external assets."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

from markupsafe import Markup, escape

BAR = "#0b4f8a"
AXIS = "#4a5360"
GRID = "#c9d0d9"
INK = "#1b1f24"


def nice_number(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 5 x 10^k)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exponent + 1))


class Bar(Protocol):
    @property
    def label(self) -> str: ...

    @property
    def count(self) -> int: ...


def bar_chart(
    bars: Sequence[Bar], *, title: str, width: int = 640, height: int = 260, chart_id: str = "chart"
) -> Markup:
    """A vertical bar chart with labelled axes; `title` and a summary make its text
    alternative, and the page shows the same numbers as a table."""
    left, right, top, bottom = 48, 12, 16, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    # Four gridline steps of a round whole number: counts never get fractional ticks.
    step = max(nice_number(max((b.count for b in bars), default=0) / 4), 1.0)
    top_value = step * 4
    n = max(len(bars), 1)
    slot = plot_w / n
    bar_w = max(min(slot * 0.7, 60.0), 2.0)
    summary = ", ".join(f"{b.label}: {b.count}" for b in bars) or "no data"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(summary)}</desc>',
    ]
    for i in range(5):
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="{AXIS}">{value:g}</text>'
        )
    for i, b in enumerate(bars):
        h = plot_h * (b.count / top_value) if top_value else 0.0
        x = left + slot * i + (slot - bar_w) / 2
        y = top + plot_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{BAR}">'
            f"<title>{escape(b.label)}: {b.count}</title></rect>"
        )
        if b.count:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
                f'font-size="12" fill="{INK}">{b.count}</text>'
            )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 16:.1f}" text-anchor="middle" '
            f'font-size="12" fill="{AXIS}">{escape(b.label)}</text>'
        )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        f'stroke="{AXIS}" stroke-width="1.5"/>'
    )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" '
        f'font-size="12" fill="{AXIS}">choice the trainee got (1 = first choice)</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


# Two series side by side: dark blue and orange differ in hue and in lightness, so they
# stay apart for colour-blind readers and in greyscale; the legend and table name them.
SERIES = ("#0b4f8a", "#b35900")


def grouped_bar_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    title: str,
    width: int = 640,
    height: int = 280,
    chart_id: str = "chart",
) -> Markup:
    """One vertical bar chart with a bar per series in each group (e.g. two modes' rank
    distributions), a legend, and a text alternative listing every number."""
    left, right, top, bottom = 48, 12, 34, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((c for _, counts in series for c in counts), default=0)
    step = max(nice_number(peak / 4), 1.0)
    top_value = step * 4
    n = max(len(labels), 1)
    group = plot_w / n
    k = max(len(series), 1)
    bar_w = max(min(group * 0.8 / k, 40.0), 2.0)
    summary = "; ".join(
        f"{name}: " + ", ".join(f"{lab} {c}" for lab, c in zip(labels, counts, strict=False))
        for name, counts in series
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(summary or "no data")}</desc>',
    ]
    for i in range(5):
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="{AXIS}">{value:g}</text>'
        )
    for j, (name, _) in enumerate(series):
        x = left + j * 170
        colour = SERIES[j % len(SERIES)]
        parts.append(f'<rect x="{x}" y="6" width="14" height="14" fill="{colour}"/>')
        parts.append(f'<text x="{x + 20}" y="18" font-size="12" fill="{INK}">{escape(name)}</text>')
    for i, lab in enumerate(labels):
        gx = left + group * i + (group - bar_w * k) / 2
        for j, (name, counts) in enumerate(series):
            count = counts[i] if i < len(counts) else 0
            h = plot_h * (count / top_value) if top_value else 0.0
            bar_x = gx + j * bar_w
            y = top + plot_h - h
            parts.append(
                f'<rect x="{bar_x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{SERIES[j % len(SERIES)]}"><title>{escape(name)}, {escape(lab)}: '
                f"{count}</title></rect>"
            )
        parts.append(
            f'<text x="{gx + bar_w * k / 2:.1f}" y="{top + plot_h + 16:.1f}" '
            f'text-anchor="middle" font-size="12" fill="{AXIS}">{escape(lab)}</text>'
        )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        f'stroke="{AXIS}" stroke-width="1.5"/>'
    )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" '
        f'font-size="12" fill="{AXIS}">choice the trainee got (1 = first choice)</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))
