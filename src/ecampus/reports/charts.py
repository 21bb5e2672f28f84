"""Charts as server-rendered SVG: no script, readable by screen readers, printable.

Each chart is an ``<svg role="img">`` named by its ``<title>`` and described by its ``<desc>``
(both referenced with aria-labelledby, which assistive technology reads more reliably than
the elements alone). The numbers themselves are in the table the page puts behind every
chart; the drawing is for the eye. Text comes in already translated and formatted; it is
escaped here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
LABEL_WIDTH = 200
VALUE_WIDTH = 120
ROW_HEIGHT = 26
BAR_HEIGHT = 16
LABEL_CHARS = 30
# Colours with at least 3:1 contrast against white (WCAG 1.4.11, graphical objects).
TOTAL_FILL = "#7b8794"
PART_FILL = "#1d6b3a"
LINE_STROKE = "#1f4e79"


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    total: int  # the whole bar (enrolled)
    part: int  # the darker part drawn over it (completed)
    text: str  # what is written after the bar, e.g. "12 / 30"


@dataclass(frozen=True, slots=True)
class Point:
    label: str  # the bucket, e.g. "ene 2026"
    value: int
    text: str  # the value as the reader writes it


def _clip(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _frame(chart_id: str, title: str, description: str, height: int, body: str) -> Markup:
    # Every piece of text below is escaped; the rest is our own markup.
    return Markup(  # noqa: S704
        f'<svg class="chart" id="{escape(chart_id)}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>'
        f"{body}</svg>"
    )


def bar_chart(chart_id: str, title: str, description: str, bars: Sequence[Bar]) -> Markup:
    """Horizontal bars, one per line: the whole (enrolled) in grey, the part (completed)
    over it in green, scaled to the largest whole."""
    largest = max((bar.total for bar in bars), default=0) or 1
    room = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    rows = []
    for index, bar in enumerate(bars):
        y = 6 + index * ROW_HEIGHT
        whole = room * bar.total / largest
        part = room * min(bar.part, bar.total) / largest
        rows.append(
            f'<g class="bar-row">'
            f'<text x="{LABEL_WIDTH - 8}" y="{y + BAR_HEIGHT - 3}" text-anchor="end" '
            f'font-size="13" fill="#1f2933">{escape(_clip(bar.label))}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{whole:.1f}" height="{BAR_HEIGHT}" '
            f'fill="{TOTAL_FILL}"/>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{part:.1f}" height="{BAR_HEIGHT}" '
            f'fill="{PART_FILL}"/>'
            f'<text x="{LABEL_WIDTH + whole + 6:.1f}" y="{y + BAR_HEIGHT - 3}" font-size="13" '
            f'fill="#1f2933">{escape(bar.text)}</text></g>'
        )
    height = 12 + max(len(bars), 1) * ROW_HEIGHT
    return _frame(chart_id, title, description, height, "".join(rows))


def line_chart(
    chart_id: str, title: str, description: str, points: Sequence[Point], *, ticks: int = 6
) -> Markup:
    """A line through the values in order, a dot on each, the first, last and a few
    buckets between named on the axis, and the largest value on the vertical axis."""
    left, right, top, bottom = 48, 16, 14, 34
    height = 220
    inner_w, inner_h = WIDTH - left - right, height - top - bottom
    largest = max((p.value for p in points), default=0) or 1
    count = len(points)

    def x(index: int) -> float:
        return left + (inner_w * index / (count - 1) if count > 1 else inner_w / 2)

    def y(value: int) -> float:
        return top + inner_h * (1 - value / largest)

    parts = [
        f'<line x1="{left}" y1="{top + inner_h}" x2="{WIDTH - right}" y2="{top + inner_h}" '
        f'stroke="#52606d"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + inner_h}" stroke="#52606d"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="12" '
        f'fill="#1f2933">{escape(max(points, key=lambda p: p.value).text if points else "0")}'
        f"</text>",
        f'<text x="{left - 6}" y="{top + inner_h + 4}" text-anchor="end" font-size="12" '
        f'fill="#1f2933">0</text>',
    ]
    if count:
        path = " ".join(f"{x(i):.1f},{y(p.value):.1f}" for i, p in enumerate(points))
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{LINE_STROKE}" stroke-width="2"/>'
        )
        for i, point in enumerate(points):
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(point.value):.1f}" r="3" fill="{LINE_STROKE}">'
                f"<title>{escape(point.label)}: {escape(point.text)}</title></circle>"
            )
        step = max(1, round((count - 1) / max(ticks - 1, 1)))
        shown = sorted({*range(0, count, step), count - 1})
        if len(shown) > 1 and shown[-1] - shown[-2] < step / 2:
            shown.pop(-2)  # the last label would overlap the one before it
        for i in shown:
            anchor = "start" if i == 0 and count > 1 else "end" if i == count - 1 else "middle"
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - 12}" text-anchor="{anchor}" font-size="12" '
                f'fill="#1f2933">{escape(points[i].label)}</text>'
            )
    return _frame(chart_id, title, description, height, "".join(parts))
