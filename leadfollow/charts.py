"""Small server-side SVG charts: readable without JavaScript, no CDN, with text equivalents.

Each function returns a ``SafeString`` holding one ``<svg role="img">`` with a
``<title>`` and ``<desc>``; the page shows a table with the same figures next to it.
All text goes through ``format_html``, so labels are escaped.

Colours: text, grid lines and quiet labels follow the admin's CSS variables
(``--body-fg``, ``--body-quiet-color``, ``--hairline-color``), so the charts are
readable in the admin's light, dark and "auto" themes; the ``fill``/``stroke``
attributes are the fallback where no stylesheet applies (an SVG opened on its own).
Bars and lines keep mid-tone colours that read on both backgrounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import count

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

__all__ = [
    "Bar",
    "RateBar",
    "Series",
    "bar_chart",
    "count_chart",
    "line_chart",
    "percent",
    "rate_chart",
]

_ids = count(1)

YOU = "#2f7fbf"
RESEARCH = "#a8a8a8"
ALERT = "#d9534f"
INK = "#333"
QUIET = "#666"
GRID = "#ddd"

#: Inside each chart, so it is self-contained wherever it is embedded. CSS beats the
#: presentation attributes, so these win wherever the variables are defined. A <style>
#: in inline SVG applies to the whole page: the rules are scoped to the charts and the
#: class names prefixed (an unscoped ".lf-grid" once outlined every label).
_STYLE = mark_safe(
    "<style>"
    ".lf-chart .lf-c-ink{fill:var(--body-fg,#333)}"
    ".lf-chart .lf-c-quiet{fill:var(--body-quiet-color,#666)}"
    ".lf-chart .lf-c-rule{stroke:var(--hairline-color,#ddd)}"
    ".lf-chart .lf-c-whisker{stroke:var(--body-fg,#333)}"
    "</style>"
)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # a share, 0..1
    reference: float | None = None  # e.g. the research figure


@dataclass(frozen=True)
class RateBar:
    label: str
    rate: float | None  # 0..1
    low: float | None  # the interval's ends, 0..1
    high: float | None
    note: str = ""  # e.g. "n = 312"


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[int]
    colour: str


def percent(value: float | None) -> str:
    """0.523 -> "52%"; a share that is not zero but rounds to it -> "<1%" (and ">99%" for
    one that rounds to 100% without being it); None (nothing to measure) -> "–"."""
    if value is None or value == "":
        return "–"
    value = float(value)
    shown = f"{value * 100:.0f}"
    if shown == "0" and value > 0:
        return "<1%"
    if shown == "100" and value < 1:
        return ">99%"
    return f"{shown}%"


def _frame(width: int, height: int, title: str, desc: str, body: SafeString) -> SafeString:
    uid = next(_ids)
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" role="img" width="100%" '
        'viewBox="0 0 {w} {h}" aria-labelledby="lf-t{u} lf-d{u}" class="lf-chart" '
        'style="max-width:{w}px;font:12px sans-serif">'
        '<title id="lf-t{u}">{title}</title><desc id="lf-d{u}">{desc}</desc>{style}{body}</svg>',
        w=width,
        h=height,
        u=uid,
        title=title,
        desc=desc,
        style=_STYLE,
        body=body,
    )


def _text(x, y, content, *, anchor: str = "start", quiet: bool = False, size: int | None = None):
    return format_html(
        '<text x="{}" y="{}" text-anchor="{}" class="{}" fill="{}"{}>{}</text>',
        x,
        y,
        anchor,
        "lf-c-quiet" if quiet else "lf-c-ink",
        QUIET if quiet else INK,
        format_html(' font-size="{}"', size) if size else "",
        content,
    )


def _legend(x: int, items: Sequence[tuple[str, str]]) -> SafeString:
    parts, at = [], x
    for label, colour in items:
        parts.append(
            format_html(
                '<rect x="{}" y="4" width="12" height="10" fill="{}"/>{}',
                at,
                colour,
                _text(at + 16, 13, label),
            )
        )
        at += 24 + 7 * len(str(label))
    return mark_safe("".join(parts))


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    desc: str,
    you_label: str = "",
    ref_label: str = "",
    label_width: int = 150,
) -> SafeString:
    """Horizontal bars of shares, each with an optional thinner reference bar beneath."""
    label_w, bar_w = label_width, 300
    has_ref = any(bar.reference is not None for bar in bars)
    row_h = 34 if has_ref else 22
    legend_h = 22 if ref_label else 0
    height = legend_h + row_h * len(bars) + 6
    parts = []
    if ref_label:
        parts.append(_legend(label_w, [(you_label, YOU), (ref_label, RESEARCH)]))
    for i, bar in enumerate(bars):
        y = legend_h + i * row_h
        width = round((bar.value or 0) * bar_w, 1)
        parts.append(
            format_html(
                '{}<rect x="{}" y="{}" width="{}" height="14" fill="{}">'
                "<title>{}: {}</title></rect>{}",
                _text(label_w - 6, y + 12, bar.label, anchor="end"),
                label_w,
                y + 1,
                width,
                YOU,
                bar.label,
                percent(bar.value),
                _text(label_w + width + 4, y + 12, percent(bar.value)),
            )
        )
        if bar.reference is not None:
            ref_w = round(bar.reference * bar_w, 1)
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="8" fill="{}">'
                    "<title>{}: {}</title></rect>{}",
                    label_w,
                    y + 17,
                    ref_w,
                    RESEARCH,
                    ref_label,
                    percent(bar.reference),
                    _text(label_w + ref_w + 4, y + 25, percent(bar.reference), quiet=True, size=10),
                )
            )
    return _frame(label_w + bar_w + 50, height, title, desc, mark_safe("".join(parts)))


def rate_chart(bars: Sequence[RateBar], *, title: str, desc: str) -> SafeString:
    """Horizontal bars of rates with their confidence interval as a whisker, 0–100%."""
    label_w, bar_w, row_h, top = 170, 300, 26, 18
    height = top + row_h * len(bars) + 6
    parts = [
        format_html_join(
            "",
            '<line x1="{}" x2="{}" y1="{}" y2="{}" class="lf-c-rule" stroke="{}"/>{}',
            (
                (
                    label_w + bar_w * t / 100,
                    label_w + bar_w * t / 100,
                    top - 4,
                    height - 4,
                    GRID,
                    _text(label_w + bar_w * t / 100, 11, f"{t}%", anchor="middle", quiet=True),
                )
                for t in (0, 50, 100)
            ),
        )
    ]
    for i, bar in enumerate(bars):
        y = top + i * row_h
        parts.append(_text(label_w - 6, y + 12, bar.label, anchor="end"))
        if bar.rate is None:
            parts.append(_text(label_w + 4, y + 12, bar.note or "–", quiet=True))
            continue
        width = round(bar.rate * bar_w, 1)
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="14" fill="{}"><title>{}: {}</title></rect>',
                label_w,
                y + 1,
                width,
                YOU,
                bar.label,
                percent(bar.rate),
            )
        )
        if bar.low is not None and bar.high is not None:
            x1, x2 = label_w + bar.low * bar_w, label_w + bar.high * bar_w
            parts.append(
                format_html(
                    '<path d="M{x1} {m}H{x2}M{x1} {a}V{b}M{x2} {a}V{b}" '
                    'class="lf-c-whisker" stroke="{ink}" stroke-width="1.5" fill="none"/>',
                    x1=f"{x1:.1f}",
                    x2=f"{x2:.1f}",
                    m=y + 8,
                    a=y + 3,
                    b=y + 13,
                    ink=INK,
                )
            )
            end = max(x2, label_w + width)
        else:
            end = label_w + width
        label = percent(bar.rate) + (f" · {bar.note}" if bar.note else "")
        parts.append(_text(round(end + 6, 1), y + 12, label))
    return _frame(label_w + bar_w + 130, height, title, desc, mark_safe("".join(parts)))


def _x_ticks(points: Sequence[date], x, y: float) -> SafeString:
    """First, middle and last day; the ends anchored inwards so no label is clipped."""
    n = len(points)
    if not n:
        return mark_safe("")
    ticks = sorted({0, n // 2, n - 1})
    anchors = {0: "start", n - 1: "end"} if n > 1 else {}
    return mark_safe(
        "".join(
            str(_text(f"{x(i):.1f}", y, points[i].isoformat(), anchor=anchors.get(i, "middle")))
            for i in ticks
        )
    )


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
            '<line x1="{}" x2="{}" y1="{}" y2="{}" class="lf-c-rule" stroke="{}"/>{}',
            (
                (
                    left,
                    left + plot_w,
                    y(t / 100),
                    y(t / 100),
                    GRID,
                    _text(left - 4, y(t / 100) + 4, f"{t}%", anchor="end"),
                )
                for t in (0, 25, 50, 75, 100)
            ),
        )
    ]
    if reference is not None:
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}" stroke-dasharray="5 4" '
                'stroke-width="2"/>{}',
                left,
                left + plot_w,
                y(reference),
                y(reference),
                RESEARCH,
                _text(left + plot_w, y(reference) - 4, reference_label, anchor="end", quiet=True),
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
    parts.append(_x_ticks([day for day, _ in points], x, top + plot_h + 16))
    return _frame(width, height, title, desc, mark_safe("".join(parts)))


def count_chart(days: Sequence[date], series: Sequence[Series], *, title: str, desc: str):
    """Daily counts, one line per series, on an axis from 0 to the largest count."""
    left, top, plot_w, plot_h, bottom = 40, 24, 560, 140, 24
    width, height = left + plot_w + 10, top + plot_h + bottom
    n = len(days)
    peak = max([1, *(v for s in series for v in s.values)])
    step = max(1, -(-peak // 4))  # four grid steps, whole numbers
    axis_top = step * 4

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(value: float) -> float:
        return top + plot_h * (1 - value / axis_top)

    parts = [_legend(left, [(s.label, s.colour) for s in series])]
    parts.append(
        format_html_join(
            "",
            '<line x1="{}" x2="{}" y1="{}" y2="{}" class="lf-c-rule" stroke="{}"/>{}',
            (
                (
                    left,
                    left + plot_w,
                    y(t),
                    y(t),
                    GRID,
                    _text(left - 4, y(t) + 4, t, anchor="end"),
                )
                for t in range(0, axis_top + 1, step)
            ),
        )
    )
    for s in series:
        if n > 1:
            parts.append(
                format_html(
                    '<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>',
                    s.colour,
                    " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values)),
                )
            )
        parts.append(
            format_html_join(
                "",
                '<circle cx="{}" cy="{}" r="2.5" fill="{}"><title>{} {}: {}</title></circle>',
                (
                    (f"{x(i):.1f}", f"{y(v):.1f}", s.colour, days[i].isoformat(), s.label, v)
                    for i, v in enumerate(s.values)
                ),
            )
        )
    parts.append(_x_ticks(days, x, top + plot_h + 16))
    return _frame(width, height, title, desc, mark_safe("".join(parts)))
