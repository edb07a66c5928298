"""Trends drawn from index entries: findings by severity over time and coverage over time, as
small inline SVG charts (no library, nothing fetched: index.html and report.html stay light and
offline). Colours are SVG attributes, so a chart needs no stylesheet of its own."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..findings import SEVERITIES
from ..report.escaping import html_text

POINTS = 60  # a chart shows at most this many runs, the latest
WIDTH, HEIGHT, PAD = 320, 90, 14
COLOURS = {"critical": "#8b0000", "high": "#cf222e", "medium": "#bc4c00", "low": "#9a6700",
           "info": "#0969da", "coverage": "#1a7f37"}


@dataclass(frozen=True)
class Point:
    """One moment of a history: when, open findings by severity, coverage (0 to 1) if known."""

    when: str
    counts: Mapping[str, int]
    coverage: float | None


def history(runs: Iterable[Mapping[str, Any]]) -> list[Point]:
    """Index entries (any order, one tenant or one notebook × profile pair) as points, oldest
    first: at each run, the findings of the latest run of every notebook so far, summed (what
    the tenant has open then). A run that could not run is skipped: its findings are partial,
    so the notebook's last complete run still stands."""
    complete = sorted((r for r in runs if r.get("status") in ("ok", "findings")),
                      key=lambda r: (r.get("started_at", ""), r.get("run_dir", "")))
    latest: dict[str, Mapping[str, int]] = {}
    for run in complete[:-POINTS]:  # before the window: only what each notebook last found
        latest[run.get("notebook", "")] = run.get("findings") or {}
    points = []
    for run in complete[-POINTS:]:
        latest[run.get("notebook", "")] = run.get("findings") or {}
        summed: dict[str, int] = {sev: sum(c.get(sev, 0) for c in latest.values())
                                  for sev in SEVERITIES}
        coverage = run.get("coverage")
        points.append(Point(run.get("started_at", ""), summed,
                            coverage if isinstance(coverage, int | float) else None))
    return points


def _day(iso: str) -> str:
    return iso[:10]


def _polyline(values: Sequence[float], top: float, colour: str, label: str) -> str:
    """One series, scaled so ``top`` is the chart's top edge; evenly spaced in run order."""
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)
    xy = [(PAD + i * step, HEIGHT - PAD - (v / top if top else 0) * (HEIGHT - 2 * PAD))
          for i, v in enumerate(values)]
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    last_x, last_y = xy[-1]
    return (f'<polyline data-series="{html_text(label)}" fill="none" stroke="{colour}" '
            f'stroke-width="1.6" points="{coords}"><title>{html_text(label)}</title></polyline>'
            f'<circle cx="{last_x:.1f}" cy="{last_y:.1f}" r="2.4" fill="{colour}"/>')


def _frame(kind: str, title: str, points: Sequence[Point], top_label: str, body: str) -> str:
    first, last = _day(points[0].when), _day(points[-1].when)
    base = HEIGHT - PAD
    return (f'<svg class="opskit-trend" data-trend="{kind}" role="img" '
            f'aria-label="{html_text(title)}" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" font-size="9" font-family="sans-serif">'
            f'<title>{html_text(title)}</title>'
            f'<line x1="{PAD}" y1="{base}" x2="{WIDTH - PAD}" y2="{base}" stroke="#d0d7de"/>'
            f'<text x="{PAD}" y="{PAD - 4}" fill="#6e7781">{html_text(top_label)}</text>'
            f'<text x="{PAD}" y="{HEIGHT - 3}" fill="#6e7781">{html_text(first)}</text>'
            f'<text x="{WIDTH - PAD}" y="{HEIGHT - 3}" fill="#6e7781" text-anchor="end">'
            f'{html_text(last)} · {len(points)} run{"s" if len(points) != 1 else ""}</text>'
            f'{body}</svg>')


def severity_chart(points: Sequence[Point], title: str) -> str:
    """Open findings by severity over the runs, one line per severity ever seen; "" without
    points."""
    if not points:
        return ""
    shown = [sev for sev in SEVERITIES if any(p.counts.get(sev) for p in points)]
    top = max((p.counts.get(sev, 0) for p in points for sev in shown), default=0)
    lines = "".join(_polyline([p.counts.get(sev, 0) for p in points], top, COLOURS[sev], sev)
                    for sev in shown) or _polyline([0] * len(points), 1, "#1a7f37", "none")
    return _frame("severity", title, points, f"findings (max {top})", lines)


def coverage_chart(points: Sequence[Point], title: str) -> str:
    """Coverage (0 to 100 %) over the runs that measured it; "" when none did."""
    measured = [p for p in points if p.coverage is not None]
    if not measured:
        return ""
    values = [float(p.coverage or 0) for p in measured]
    line = _polyline(values, 1.0, COLOURS["coverage"], "coverage")
    return _frame("coverage", title, measured, f"coverage (now {values[-1]:.0%})", line)


def legend() -> str:
    return " ".join(f'<span style="color:{COLOURS[s]}">━ {s}</span>' for s in SEVERITIES)


def trend_html(points: Sequence[Point], what: str) -> str:
    """Both charts of one history, titled by ``what`` (a tenant, or a notebook × profile)."""
    if not points:
        return ""
    charts = severity_chart(points, f"open findings by severity, {what}") + coverage_chart(
        points, f"coverage over time, {what}")
    return f'<div class="opskit-trends">{charts}</div>'


def report_trend(runs: Sequence[Mapping[str, Any]], what: str) -> str:
    """The trend a report.html shows under its header: its notebook × profile's runs (index
    entries, this run last); nothing before there are two runs to draw."""
    points = history(runs)
    if len(points) < 2:
        return ""
    return (f'<section class="opskit" style="margin: 0 2em 1em 2em"><details open>'
            f'<summary>Trend: this notebook on this profile, the last {len(points)} runs '
            f'{legend()}</summary>{trend_html(points, what)}</details></section>')
