"""Charts drawn here as SVG, so a briefing is one self-contained file that any browser or printer shows alike.

Text in them takes the page's font (a CJK one, set by the page's style), so Chinese labels render in print.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from store.base import VolumeBucket

NEGATIVE = "#c0392b"
OTHER = "#9aa7b4"
INK = "#4a5560"
WEEKDAYS = "一二三四五六日"


def _label(start: datetime, hourly: bool) -> str:
    return f"{start.hour}时" if hourly else f"{start.month}/{start.day} 周{WEEKDAYS[start.weekday()]}"


def _nice_top(peak: int) -> int:
    """The axis' top: four times a round step (1, 2, 5, 10, 20 …), at or above the peak."""
    scale = 1
    while True:
        for step in (scale, 2 * scale, 5 * scale):
            if step * 4 >= peak:
                return step * 4
        scale *= 10


def trend(buckets: Sequence[VolumeBucket], width: int = 720, height: int = 220) -> str:
    """Posts per bucket as bars, their negative part in red at the foot of each."""
    left, right, top, foot = 40, 8, 12, 28
    plot_w, plot_h = width - left - right, height - top - foot
    peak = _nice_top(max((b.total for b in buckets), default=0))
    hourly = len(buckets) > 1 and (buckets[1].start - buckets[0].start).total_seconds() < 86400
    slot = plot_w / max(len(buckets), 1)
    every = max(1, round(len(buckets) / 8))  # about eight labels, whatever the count
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'preserveAspectRatio="xMidYMid meet" role="img" aria-label="发布量趋势">']  # as wide as the page
    for tick in range(5):  # gridlines at quarters of the axis
        value = peak * tick / 4
        y = top + plot_h - plot_h * tick / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e3e7eb"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="{INK}">'
                     f'{value:g}</text>')
    for i, bucket in enumerate(buckets):
        x = left + i * slot + slot * 0.15
        bar_w = slot * 0.7
        negative = bucket.by_sentiment.get("negative", 0)
        for value, colour in ((bucket.total, OTHER), (negative, NEGATIVE)):  # the negative part over the foot
            if value:
                h = plot_h * value / peak
                parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
                             f'height="{h:.1f}" fill="{colour}"><title>{escape(_label(bucket.start, hourly))}: '
                             f'{value}</title></rect>')
        if i % every == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - 10}" text-anchor="middle" font-size="11" '
                         f'fill="{INK}">{escape(_label(bucket.start, hourly))}</text>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="{INK}"/>')
    parts.append("</svg>")
    return "".join(parts)


def sparkline(values: Sequence[int], width: int = 110, height: int = 30) -> str:
    """An event's posts over the period, as one line."""
    peak = max(values, default=0) or 1
    step = width / max(len(values) - 1, 1)
    points = " ".join(f"{i * step:.1f},{height - 2 - (height - 4) * v / peak:.1f}" for i, v in enumerate(values))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="事件走势"><polyline points="{points}" fill="none" '
            f'stroke="{NEGATIVE}" stroke-width="1.5"/></svg>')
