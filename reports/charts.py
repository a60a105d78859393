"""Small server-side SVG charts for the reports: bars, lines, histograms, stacked shares.

No script and no `style=` (the content security policy forbids both): shapes carry CSS classes
(static/css/reports.css) and presentation attributes. Every value is written on the chart (above
its bar, beside its point), so nothing needs hovering; the tables beside the charts hold the same
numbers. Every text goes through `escape`.
"""

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Literal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 46
# The width of a character of the 11 px tick labels, generous (no font metrics on the server).
LABEL_CHAR_W = 6.5
Format = Callable[[float], str]


def _c(value: float) -> str:
    return f"{value:.1f}"


def plain(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def percent(value: float) -> str:
    return f"{value:.0%}"


def _nice_max(high: float) -> float:
    """A round top for the y axis (1, 2, 2.5 or 5 times a power of ten) at or above `high`."""
    if high <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(high))
    for step in (1, 2, 2.5, 5, 10):
        if high <= step * power:
            return step * power
    return 10 * power


def _open(title: str, width: int = WIDTH, height: int = HEIGHT) -> list[str]:
    t = escape(title)
    return [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{t}" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet"><title>{t}</title>',
        f'<text class="chart-title" x="{LEFT}" y="16">{t}</text>',
    ]


def _y_axis(parts: list[str], top_value: float, fmt: Format, y_label: str, inner_h: float, inner_w: float) -> None:
    for i in range(5):
        value = top_value * i / 4
        y = TOP + inner_h - inner_h * i / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{_c(LEFT + inner_w)}" y1="{_c(y)}" y2="{_c(y)}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{_c(y + 4)}" text-anchor="end">{escape(fmt(value))}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{_c(TOP + inner_h)}"/>')
    parts.append(
        f'<line class="axis" x1="{LEFT}" x2="{_c(LEFT + inner_w)}" y1="{_c(TOP + inner_h)}" y2="{_c(TOP + inner_h)}"/>'
    )
    if y_label:
        parts.append(
            f'<text class="axis-label" x="12" y="{_c(TOP + inner_h / 2)}" text-anchor="middle" '
            f'transform="rotate(-90 12 {_c(TOP + inner_h / 2)})">{escape(y_label)}</text>'
        )


def _legend(parts: list[str], names: Sequence[str], y: float, width: int = WIDTH) -> None:
    x = LEFT
    for i, name in enumerate(names):
        parts.append(f'<rect class="s{i % 6}" x="{_c(x)}" y="{_c(y - 9)}" width="10" height="10"/>')
        parts.append(f'<text class="legend" x="{_c(x + 14)}" y="{_c(y)}">{escape(name)}</text>')
        x += 24 + 7 * len(name)


def _label_step(labels: Sequence[str], inner_w: float) -> int:
    """Write every n-th x label so that none overlaps the next (about 6.2 px a character at 11 px)."""
    widest = max((len(label) for label in labels), default=1) * 6.2 + 8
    return max(1, math.ceil(len(labels) * widest / inner_w))


def _empty(message: str) -> SafeString:
    return mark_safe(f'<p class="chart-empty">{escape(message)}</p>')


def _frame(title, labels, series, fmt, y_label, y_max):
    """The frame both category charts share: scale, open tag and y axis; None when nothing to draw."""
    values = [v for _, vs in series for v in vs if v is not None]
    if not labels or not values:
        return None
    top_value = y_max if y_max is not None else _nice_max(max(values))
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = _open(title)
    _y_axis(parts, top_value, fmt, y_label, inner_h, inner_w)
    return parts, top_value, inner_w, inner_h, inner_w / len(labels)


def _shade(parts: list[str], flags: Sequence[bool] | None, label: str, slot: float, inner_h: float) -> None:
    """A grey band behind each run of flagged categories (periods not yet mature), labelled once,
    right-aligned at the top of the run."""
    flags = list(flags or ())
    i = 0
    while i < len(flags):
        if not flags[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(flags) and flags[j + 1]:
            j += 1
        x, width = LEFT + slot * i, slot * (j - i + 1)
        parts.append(
            f'<rect class="shade" x="{_c(x)}" y="{TOP}" width="{_c(width)}" height="{_c(inner_h)}">'
            f"<title>{escape(label)}</title></rect>"
        )
        parts.append(
            f'<text class="shade-label" x="{_c(x + width - 3)}" y="{TOP + 10}" text-anchor="end">{escape(label)}</text>'
        )
        i = j + 1


def category_chart(
    *,
    kind: Literal["bars", "lines"],
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    fmt: Format = plain,
    y_label: str = "",
    y_max: float | None = None,
    empty: str = "Nothing to chart.",
    shaded: Sequence[bool] | None = None,
    shade_label: str = "not yet mature",
) -> SafeString:
    """Values per category on a y axis, as vertical bars (grouped when there are several series,
    each labelled with its value) or as lines over ordered categories (periods; a gap where a value
    is missing; points labelled). Categories flagged in `shaded` get a band labelled `shade_label`
    behind them."""
    frame = _frame(title, labels, series, fmt, y_label, y_max)
    if frame is None:
        return _empty(empty)
    parts, top_value, inner_w, inner_h, slot = frame
    _shade(parts, shaded, shade_label, slot, inner_h)
    draw = _bars if kind == "bars" else _lines
    draw(parts, labels, series, fmt, top_value, inner_w, inner_h, slot)
    if len(series) > 1:
        _legend(parts, [name for name, _ in series], HEIGHT - 8)
    parts.append("</svg>")
    return mark_safe("".join(parts))


bar_chart = partial(category_chart, kind="bars")
line_chart = partial(category_chart, kind="lines")


def _tick(parts: list[str], label: str, i: int, slot: float, inner_h: float) -> None:
    parts.append(
        f'<text class="tick" x="{_c(LEFT + slot * i + slot / 2)}" y="{_c(TOP + inner_h + 14)}" '
        f'text-anchor="middle">{escape(label)}</text>'
    )


def _bars(parts, labels, series, fmt, top_value, inner_w, inner_h, slot) -> None:
    bar_w = min(48.0, slot * 0.8 / len(series))
    every = _label_step(labels, inner_w)
    for i, label in enumerate(labels):
        group_x = LEFT + slot * i + (slot - bar_w * len(series)) / 2
        for s, (_, vs) in enumerate(series):
            value = vs[i]
            if value is None:
                continue
            h = inner_h * min(value, top_value) / top_value if top_value else 0
            x, y = group_x + bar_w * s, TOP + inner_h - h
            parts.append(f'<rect class="bar s{s % 6}" x="{_c(x)}" y="{_c(y)}" width="{_c(bar_w)}" height="{_c(h)}"/>')
            if bar_w >= 14 or len(labels) <= 16:
                parts.append(
                    f'<text class="value" x="{_c(x + bar_w / 2)}" y="{_c(y - 3)}" '
                    f'text-anchor="middle">{escape(fmt(value))}</text>'
                )
        if i % every == 0:
            _tick(parts, label, i, slot, inner_h)


def _lines(parts, labels, series, fmt, top_value, inner_w, inner_h, slot) -> None:
    every = _label_step(labels, inner_w)
    for i, label in enumerate(labels):
        if i % every == 0:
            _tick(parts, label, i, slot, inner_h)
    circles: list[str] = []
    texts: list[str] = []
    for s, (_, vs) in enumerate(series):
        run: list[str] = []
        points = []
        for i, value in enumerate(vs):
            if value is None:
                if len(run) > 1:
                    parts.append(f'<polyline class="line s{s % 6}" fill="none" points="{" ".join(run)}"/>')
                run = []
                continue
            x = LEFT + slot * i + slot / 2
            y = TOP + inner_h - inner_h * min(value, top_value) / top_value
            run.append(f"{_c(x)},{_c(y)}")
            points.append((x, y, value))
        if len(run) > 1:
            parts.append(f'<polyline class="line s{s % 6}" fill="none" points="{" ".join(run)}"/>')
        # Later series get larger points, drawn first: equal values stay visible as a ring. The
        # first series is labelled above its points, the others to their right.
        radius = 3 + 2 * s
        for x, y, value in points:
            circles.insert(0, f'<circle class="point s{s % 6}" cx="{_c(x)}" cy="{_c(y)}" r="{radius}"/>')
            if len(points) > 24:
                continue
            if s == 0:
                tx, ty, anchor = x, y - 7, "middle"
            else:
                tx, ty, anchor = x + radius + 3, y + 4 + 11 * (s - 1), "start"
            texts.append(
                f'<text class="value s{s % 6}-text" x="{_c(tx)}" y="{_c(ty)}" text-anchor="{anchor}">'
                f"{escape(fmt(value))}</text>"
            )
    parts.extend(circles)
    parts.extend(texts)


def histogram(
    *,
    title: str,
    bands: Sequence[tuple[float, float, int]],
    markers: Sequence[tuple[float, str, str]] = (),
    x_label: str = "score",
    empty: str = "No scores to chart.",
) -> SafeString:
    """Counts per band (start, width, count) on a numeric x axis, with labelled vertical markers
    (value, label, css class), e.g. the warm / hot / MQL thresholds."""
    if not bands or not any(n for _, _, n in bands):
        return _empty(empty)
    lo = min(min(start for start, _, _ in bands), *(m[0] for m in markers)) if markers else bands[0][0]
    hi = max(start + width for start, width, _ in bands)
    if markers:
        hi = max(hi, *(m[0] for m in markers))
    span = (hi - lo) or 1
    top_value = _nice_max(max(n for _, _, n in bands))
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = _open(title)
    _y_axis(parts, top_value, plain, "leads", inner_h, inner_w)

    def x(value: float) -> float:
        return LEFT + (value - lo) / span * inner_w

    every = max(1, math.ceil(len(bands) * 40 / inner_w))
    for i, (start, width, n) in enumerate(bands):
        h = inner_h * n / top_value
        x0, w = x(start), max(1.0, x(start + width) - x(start) - 1)
        parts.append(
            f'<rect class="bar s0" x="{_c(x0)}" y="{_c(TOP + inner_h - h)}" width="{_c(w)}" height="{_c(h)}"/>'
        )
        if n and w >= 16:
            parts.append(
                f'<text class="value" x="{_c(x0 + w / 2)}" y="{_c(TOP + inner_h - h - 3)}" '
                f'text-anchor="middle">{escape(plain(n))}</text>'
            )
        if i % every == 0:
            parts.append(
                f'<text class="tick" x="{_c(x0)}" y="{_c(TOP + inner_h + 14)}" text-anchor="middle">'
                f"{escape(plain(start))}</text>"
            )
    for i, (value, label, css) in enumerate(sorted(markers)):
        mx = x(value)
        parts.append(
            f'<line class="marker {escape(css)}" x1="{_c(mx)}" x2="{_c(mx)}" y1="{TOP}" y2="{_c(TOP + inner_h)}"/>'
        )
        parts.append(
            f'<text class="marker-label {escape(css)}" x="{_c(mx + 3)}" y="{_c(TOP + 10 + 12 * i)}">'
            f"{escape(label)} {escape(plain(value))}</text>"
        )
    parts.append(
        f'<text class="axis-label" x="{_c(LEFT + inner_w / 2)}" y="{HEIGHT - 10}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def stacked_shares(
    *,
    title: str,
    names: Sequence[str],
    rows: Sequence[tuple[str, Sequence[int]]],
    empty: str = "Nothing to chart.",
) -> SafeString:
    """One horizontal 100 % bar per row, split by `names` (counts in the same order); each piece
    wide enough carries its share, and the legend names the colours."""
    rows = [(label, counts) for label, counts in rows if sum(counts)]
    if not rows:
        return _empty(empty)
    # The row labels (segment labels can be long) get the room they need, up to 40 % of the width.
    longest = max(len(label) for label, _ in rows)
    row_h, label_w = 26, min(WIDTH * 2 // 5, max(150, round(longest * LABEL_CHAR_W) + 12))
    height = TOP + row_h * len(rows) + 40
    inner_w = WIDTH - label_w - RIGHT
    parts = _open(title, height=height)
    for r, (label, counts) in enumerate(rows):
        total = sum(counts)
        y = TOP + row_h * r
        fits = int((label_w - 12) / LABEL_CHAR_W)
        shown = label if len(label) <= fits else label[: fits - 1] + "…"
        parts.append(
            f'<text class="tick" x="{label_w - 6}" y="{y + 15}" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(shown)}</text>"
        )
        x = float(label_w)
        for i, n in enumerate(counts):
            if not n:
                continue
            w = inner_w * n / total
            parts.append(f'<rect class="bar s{i % 6}" x="{_c(x)}" y="{y + 2}" width="{_c(w)}" height="{row_h - 6}"/>')
            if w >= 30:
                parts.append(
                    f'<text class="value inside" x="{_c(x + w / 2)}" y="{y + 16}" '
                    f'text-anchor="middle">{escape(percent(n / total))}</text>'
                )
            x += w
    _legend(parts, names, height - 10)
    parts.append("</svg>")
    return mark_safe("".join(parts))
