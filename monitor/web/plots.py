"""Plots as SVG, made on the server: data in, markup out. No script, no inline style (the CSP forbids
both); colours come from classes in style.css. Every text put into the markup is escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from markupsafe import Markup, escape

SERIES_CLASSES = 8  # style.css colours .s0 … .s7


def _days(start: date, days: int) -> list[date]:
    return [start + timedelta(days=n) for n in range(days)]


def stacked_bars(series: Mapping[str, Mapping[date, int]], start: date, days: int, title: str,
                 width: int = 900, height: int = 160) -> Markup:
    """Bars per day, stacked by series (a tag), with a legend and the day range on the axis."""
    names = sorted(series)
    span = _days(start, days)
    totals = [sum(series[n].get(d, 0) for n in names) for d in span]
    top = max(totals, default=0) or 1
    plot_h, bar_w = height - 40, (width - 40) / days
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}"><title>{escape(title)}</title>',
             f'<text class="axis" x="0" y="12">{top}</text>',
             f'<line class="axis" x1="36" y1="{plot_h + 4}" x2="{width}" y2="{plot_h + 4}"/>']
    for i, day in enumerate(span):
        y: float = plot_h + 4
        for k, name in enumerate(names):
            n = series[name].get(day, 0)
            if not n:
                continue
            h = n / top * plot_h
            y -= h
            parts.append(f'<rect class="s{k % SERIES_CLASSES}" x="{40 + i * bar_w:.1f}" y="{y:.1f}" '
                         f'width="{max(bar_w - 1, 1):.1f}" height="{h:.1f}"><title>{day.isoformat()} '
                         f'{escape(name)}: {n}</title></rect>')
    parts.append(f'<text class="axis" x="40" y="{height - 20}">{span[0].isoformat()}</text>')
    parts.append(f'<text class="axis" x="{width}" y="{height - 20}" text-anchor="end">{span[-1].isoformat()}</text>')
    x = 40.0
    for k, name in enumerate(names[:12]):
        parts.append(f'<rect class="s{k % SERIES_CLASSES}" x="{x:.0f}" y="{height - 10}" width="10" height="10"/>'
                     f'<text class="legend" x="{x + 14:.0f}" y="{height - 1}">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    if not names:
        parts.append(f'<text class="axis" x="{width / 2:.0f}" y="{plot_h / 2:.0f}" text-anchor="middle">'
                     'no events in this period</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def sparkline(per_day: Mapping[date, int], start: date, days: int, title: str, width: int = 120,
              height: int = 24, css: str = "s0") -> Markup:
    """A small bar chart of one count per day."""
    span = _days(start, days)
    top = max((per_day.get(d, 0) for d in span), default=0) or 1
    bar_w = width / days
    bars = "".join(
        f'<rect class="{css}" x="{i * bar_w:.1f}" y="{height - n / top * height:.1f}" '
        f'width="{max(bar_w - 0.5, 0.5):.1f}" height="{n / top * height:.1f}">'
        f'<title>{d.isoformat()}: {n}</title></rect>'
        for i, d in enumerate(span) if (n := per_day.get(d, 0)))
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" role="img" viewBox="0 0 {width} {height}" '
                  f'width="{width}" height="{height}"><title>{escape(title)}</title>'
                  f'<line class="axis" x1="0" y1="{height}" x2="{width}" y2="{height}"/>{bars}</svg>')


@dataclass(frozen=True)
class Point:
    label: str  # the source
    when: datetime
    copy: bool  # a near-duplicate of an earlier report


def timeline(points: Sequence[Point], title: str, width: int = 900) -> Markup:
    """Coverage over time: one row per report, in order, a dot at its time, first report to latest."""
    row_h, left, right = 22, 200, 30
    height = row_h * len(points) + 40
    first = min((p.when for p in points), default=None)
    last = max((p.when for p in points), default=None)
    spread = (last - first).total_seconds() if first and last else 0
    usable = width - left - right
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot timeline" role="img" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}"><title>{escape(title)}</title>']
    for i, p in enumerate(points):
        x = left + (usable * (p.when - first).total_seconds() / spread if spread and first else 0)
        y = 20 + i * row_h
        parts.append(f'<text class="label" x="{left - 8}" y="{y + 4}" text-anchor="end">{escape(p.label[:28])}</text>'
                     f'<line class="grid" x1="{left}" y1="{y}" x2="{width - right}" y2="{y}"/>'
                     f'<circle class="{"copy" if p.copy else "s0"}" cx="{x:.1f}" cy="{y}" r="6">'
                     f'<title>{escape(p.label)} {p.when:%Y-%m-%d %H:%M} UTC{" (copy)" if p.copy else ""}</title>'
                     '</circle>')
    if first and last:
        parts.append(f'<text class="axis" x="{left}" y="{height - 4}">{first:%Y-%m-%d %H:%M}</text>'
                     f'<text class="axis" x="{width - right}" y="{height - 4}" text-anchor="end">'
                     f'{last:%Y-%m-%d %H:%M} UTC</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


# Poll outcomes in fixed colours (style.css): ok green, not modified blue, error red, skipped orange.
OUTCOME_CLASSES = {"ok": "s2", "not_modified": "s0", "error": "s1", "skipped": "s3"}


def outcome_bars(per_outcome: Mapping[str, Mapping[date, int]], start: date, days: int, title: str,
                 width: int = 120, height: int = 24) -> Markup:
    """A small stacked bar per day of a source's poll outcomes (each bar's tooltip gives the counts)."""
    span = _days(start, days)
    totals = [sum(per_outcome.get(o, {}).get(d, 0) for o in OUTCOME_CLASSES) for d in span]
    top = max(totals, default=0) or 1
    bar_w = width / days
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}"><title>{escape(title)}</title>']
    for i, day in enumerate(span):
        y: float = height
        counts = []
        for outcome, css in OUTCOME_CLASSES.items():
            n = per_outcome.get(outcome, {}).get(day, 0)
            if n:
                h = n / top * height
                y -= h
                counts.append(f"{outcome.replace('_', ' ')} {n}")
                parts.append(f'<rect class="{css}" x="{i * bar_w:.1f}" y="{y:.1f}" width="{max(bar_w - 0.5, 0.5):.1f}" '
                             f'height="{h:.1f}"/>')
        if counts:
            parts.append(f'<rect class="hit" x="{i * bar_w:.1f}" y="0" width="{bar_w:.1f}" height="{height}" '
                         f'fill-opacity="0"><title>{day.isoformat()}: {escape(", ".join(counts))}</title></rect>')
    parts.append("</svg>")
    return Markup("".join(parts))
