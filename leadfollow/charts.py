"""Small server-side SVG charts: readable without JavaScript, no CDN, with text equivalents.

Each function returns a ``SafeString`` holding one ``<svg role="img">`` with a
``<title>`` and ``<desc>``; the page shows a table with the same figures next to it.
All text goes through ``format_html``, so labels are escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import count

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

__all__ = ["Bar", "bar_chart", "line_chart", "percent"]

_ids = count(1)

YOU = "#2f6f9f"
RESEARCH = "#b8b8b8"
INK = "#333"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # a share, 0..1
    reference: float | None = None  # e.g. the research figure


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def _frame(width: int, height: int, title: str, desc: str, body: SafeString) -> SafeString:
    uid = next(_ids)
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" role="img" width="100%" '
        'viewBox="0 0 {w} {h}" aria-labelledby="lf-t{u} lf-d{u}" class="lf-chart" '
        'style="max-width:{w}px;font:12px sans-serif">'
        '<title id="lf-t{u}">{title}</title><desc id="lf-d{u}">{desc}</desc>{body}</svg>',
        w=width,
        h=height,
        u=uid,
        title=title,
        desc=desc,
        body=body,
    )


def bar_chart(
    bars: Sequence[Bar], *, title: str, desc: str, you_label: str = "", ref_label: str = ""
) -> SafeString:
    """Horizontal bars of shares, each with an optional thinner reference bar beneath."""
    label_w, bar_w, row_h = 150, 300, 34
    legend_h = 22 if ref_label else 0
    height = legend_h + row_h * len(bars) + 6
    parts = []
    if ref_label:
        parts.append(
            format_html(
                '<rect x="{}" y="4" width="12" height="10" fill="{}"/>'
                '<text x="{}" y="13" fill="{}">{}</text>'
                '<rect x="{}" y="4" width="12" height="10" fill="{}"/>'
                '<text x="{}" y="13" fill="{}">{}</text>',
                label_w,
                YOU,
                label_w + 16,
                INK,
                you_label,
                label_w + 110,
                RESEARCH,
                label_w + 126,
                INK,
                ref_label,
            )
        )
    for i, bar in enumerate(bars):
        y = legend_h + i * row_h
        width = round((bar.value or 0) * bar_w, 1)
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="end" fill="{}">{}</text>'
                '<rect x="{}" y="{}" width="{}" height="14" fill="{}"><title>{}: {}</title></rect>'
                '<text x="{}" y="{}" fill="{}">{}</text>',
                label_w - 6,
                y + 12,
                INK,
                bar.label,
                label_w,
                y + 1,
                width,
                YOU,
                bar.label,
                percent(bar.value),
                label_w + width + 4,
                y + 12,
                INK,
                percent(bar.value),
            )
        )
        if bar.reference is not None:
            ref_w = round(bar.reference * bar_w, 1)
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="8" fill="{}">'
                    "<title>{}: {}</title></rect>"
                    '<text x="{}" y="{}" fill="#777" font-size="10">{}</text>',
                    label_w,
                    y + 17,
                    ref_w,
                    RESEARCH,
                    ref_label,
                    percent(bar.reference),
                    label_w + ref_w + 4,
                    y + 25,
                    percent(bar.reference),
                )
            )
    return _frame(label_w + bar_w + 50, height, title, desc, mark_safe("".join(parts)))


def line_chart(
    points: Sequence[tuple[date, float | None]],
    *,
    title: str,
    desc: str,
    reference: float | None = None,
    reference_label: str = "",
) -> SafeString:
    """A line of daily shares (gaps where a day has nothing to measure), 0–100% axis."""
    left, top, plot_w, plot_h, bottom = 40, 10, 560, 160, 24
    width, height = left + plot_w + 10, top + plot_h + bottom
    n = len(points)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(share: float) -> float:
        return top + plot_h * (1 - share)

    parts = [
        format_html_join(
            "",
            '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#ddd"/>'
            '<text x="{}" y="{}" text-anchor="end" fill="{}">{}%</text>',
            (
                (left, left + plot_w, y(t / 100), y(t / 100), left - 4, y(t / 100) + 4, INK, t)
                for t in (0, 25, 50, 75, 100)
            ),
        )
    ]
    if reference is not None:
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}" stroke-dasharray="5 4" '
                'stroke-width="2"/><text x="{}" y="{}" text-anchor="end" fill="#777">{}</text>',
                left,
                left + plot_w,
                y(reference),
                y(reference),
                RESEARCH,
                left + plot_w,
                y(reference) - 4,
                reference_label,
            )
        )
    # Polyline segments between days that have a value.
    segment: list[str] = []
    segments: list[list[str]] = [segment]
    for i, (_, share) in enumerate(points):
        if share is None:
            segment = []
            segments.append(segment)
            continue
        segment.append(f"{x(i):.1f},{y(share):.1f}")
    for seg in segments:
        if len(seg) > 1:
            parts.append(
                format_html(
                    '<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>',
                    YOU,
                    " ".join(seg),
                )
            )
    parts.append(
        format_html_join(
            "",
            '<circle cx="{}" cy="{}" r="3" fill="{}"><title>{}: {}</title></circle>',
            (
                (f"{x(i):.1f}", f"{y(share):.1f}", YOU, day.isoformat(), percent(share))
                for i, (day, share) in enumerate(points)
                if share is not None
            ),
        )
    )
    if n:
        ticks = sorted({0, n // 2, n - 1})
        parts.append(
            format_html_join(
                "",
                '<text x="{}" y="{}" text-anchor="middle" fill="{}">{}</text>',
                ((f"{x(i):.1f}", top + plot_h + 16, INK, points[i][0].isoformat()) for i in ticks),
            )
        )
    return _frame(width, height, title, desc, mark_safe("".join(parts)))
