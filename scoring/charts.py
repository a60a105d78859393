"""The score-over-time chart of the lead page, drawn on the server as inline SVG, and the colour
scale of the fit x engagement grid.

No chart library and no script: the content security policy forbids inline scripts and inline
styles, so the SVG uses presentation attributes and CSS classes (static/css/app.css) only; the
grid's cells take a class `heat-<level>` (static/css/leads.css).
"""

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 14, 30


@dataclass(frozen=True)
class ChartPoint:
    at: datetime
    score: Decimal
    tier: str
    previous_tier: str

    @property
    def tier_changed(self) -> bool:
        return bool(self.previous_tier) and self.previous_tier != self.tier


def _c(value: float) -> str:
    """A coordinate with one decimal (formatted before format_html, which escapes its arguments)."""
    return f"{value:.1f}"


def _number(value) -> str:
    return f"{float(value):.1f}".rstrip("0").rstrip(".")


def score_chart(*, points: list[ChartPoint], thresholds: dict[str, Decimal] | None = None, title: str) -> SafeString:
    """An SVG line of the score over time, tier changes marked, warm/hot lines drawn."""
    if not points:
        return format_html('<p class="chart-empty">{}</p>', "No score history yet.")
    thresholds = thresholds or {}
    values = [float(p.score) for p in points] + [float(v) for v in thresholds.values()]
    low, high = min(0.0, *values), max(values)
    # Round the axis out to a multiple of 10 (whole points read better than 129.6).
    low, high = math.floor(low / 10) * 10, math.ceil(high * 1.05 / 10) * 10
    if high - low < 10:
        high = low + 10
    start, end = points[0].at.timestamp(), points[-1].at.timestamp()
    span = end - start
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: datetime) -> float:
        return LEFT + (inner_w / 2 if span <= 0 else (at.timestamp() - start) / span * inner_w)

    def y(value) -> float:
        return TOP + (high - float(value)) / (high - low) * inner_h

    parts = [
        format_html(
            '<svg class="score-chart" viewBox="0 0 {} {}" role="img" aria-labelledby="score-chart-title" '
            'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">',
            WIDTH,
            HEIGHT,
        ),
        format_html('<title id="score-chart-title">{}</title>', title),
        # Axes and the zero line.
        format_html('<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"/>', LEFT, TOP, LEFT, TOP + inner_h),
        format_html(
            '<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"/>', LEFT, _c(y(low)), WIDTH - RIGHT, _c(y(low))
        ),
    ]
    if low < 0:
        parts.append(
            format_html('<line class="zero" x1="{}" y1="{}" x2="{}" y2="{}"/>', LEFT, _c(y(0)), WIDTH - RIGHT, _c(y(0)))
        )
    for name, value in thresholds.items():
        parts.append(
            format_html(
                '<line class="threshold threshold-{}" x1="{}" y1="{}" x2="{}" y2="{}" stroke-dasharray="4 3"/>'
                '<text class="threshold-label" x="{}" y="{}" text-anchor="end">{} {}</text>',
                name.lower(),
                LEFT,
                _c(y(value)),
                WIDTH - RIGHT,
                _c(y(value)),
                WIDTH - RIGHT - 2,
                _c(y(value) - 3),
                name,
                _number(value),
            )
        )
    for value in (low, high):
        parts.append(
            format_html(
                '<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>',
                LEFT - 4,
                _c(y(value) + 4),
                _number(value),
            )
        )
    parts.append(
        format_html(
            '<text class="tick" x="{}" y="{}" text-anchor="start">{}</text>',
            LEFT,
            HEIGHT - 8,
            points[0].at.strftime("%Y-%m-%d"),
        )
    )
    if span > 0:
        parts.append(
            format_html(
                '<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>',
                WIDTH - RIGHT,
                HEIGHT - 8,
                points[-1].at.strftime("%Y-%m-%d"),
            )
        )
    # The score as a step line: a score holds until the next one is recorded.
    path = []
    for i, p in enumerate(points):
        if i:
            path.append(f"{x(p.at):.1f},{y(points[i - 1].score):.1f}")
        path.append(f"{x(p.at):.1f},{y(p.score):.1f}")
    parts.append(format_html('<polyline class="score-line" fill="none" points="{}"/>', " ".join(path)))
    for p in points:
        label = f"{p.at:%Y-%m-%d %H:%M} UTC: {_number(p.score)} ({p.tier})"
        kind, radius = "point", 3
        if p.tier_changed:
            label += f", {p.previous_tier} \u2192 {p.tier}"
            kind, radius = "tier-change", 6
        parts.append(
            format_html(
                '<circle class="{} tier-{}" cx="{}" cy="{}" r="{}"><title>{}</title></circle>',
                kind,
                p.tier,
                _c(x(p.at)),
                _c(y(p.score)),
                radius,
                label,
            )
        )
    parts.append(mark_safe("</svg>"))
    return mark_safe("".join(str(part) for part in parts))


def chart_points(history) -> list[ChartPoint]:
    return [ChartPoint(h.as_of, h.score, h.tier, h.previous_tier) for h in history]


# --- the grid's heat map ---------------------------------------------------------------------------

HEAT_LEVELS = 5


@dataclass(frozen=True)
class HeatStep:
    """One colour of the grid's legend: the counts from `low` to `high` take class heat-<level>."""

    level: int
    low: int
    high: int

    @property
    def label(self) -> str:
        return f"{self.low:,}" if self.low == self.high else f"{self.low:,}–{self.high:,}"


def heat_level(count: int, most: int, levels: int = HEAT_LEVELS) -> int:
    """0 for an empty cell, else 1..levels on a square-root scale of count / most.

    Square root, not linear: grade counts are skewed (a few cells hold most leads), and on a
    linear scale every cell but the largest would be the palest. In whole numbers (no float
    edge): the level is the smallest k with count * levels² <= most * k².
    """
    if count <= 0 or most <= 0:
        return 0
    return next(k for k in range(1, levels + 1) if count * levels * levels <= most * k * k)


def heat_legend(most: int, levels: int = HEAT_LEVELS) -> list[HeatStep]:
    """The count range of each level that some whole count reaches, palest first."""
    steps, low = [], 1
    for k in range(1, levels + 1):
        high = most * k * k // (levels * levels)
        if high >= low:
            steps.append(HeatStep(k, low, high))
            low = high + 1
    return steps
