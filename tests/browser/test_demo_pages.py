"""`make demo`'s pages in Chromium (issue 16): index.html and every report.html it links, opened
from disk as a person opens them. Each loads without a console error, asks no other machine for
anything, and draws its charts. Screenshots: build/browser/demo-*.png.

The demo's build is the session's `demo_build`, shared with tests/test_demo.py (RUN_TOGETHER in
tests/conftest.py), so it is built once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ..conftest import DemoBuild
from .pages import Watched, shot, watch

FIGURES = ("permission_audit", "group_gap_report")  # the notebooks that draw plotly figures

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def charts(page: Any) -> int:
    """How many plotly figures the page holds, once each has drawn its SVG."""
    figures = page.locator(".plotly-graph-div")
    for figure in figures.all():
        figure.locator("svg.main-svg").first.wait_for(state="attached")
    return figures.count()


def visit(watched: Watched, page_file: Path, step: str) -> int:
    """Open a page from disk, wait for it to draw, screenshot it; its number of charts."""
    watched.page.goto(page_file.as_uri(), wait_until="load")
    drawn = charts(watched.page)
    if drawn:  # the screenshot shows the first chart
        watched.page.locator(".plotly-graph-div").first.scroll_into_view_if_needed()
    shot(watched.page, step)
    return drawn


def test_index_and_every_report_load_offline_without_errors_and_draw_their_charts(
        chromium: Any, demo_build: DemoBuild) -> None:
    out = demo_build.out
    assert demo_build.run.returncode == 0, demo_build.run.stderr
    watched = watch(chromium)
    try:
        visit(watched, out / "index.html", "demo-index")
        links = watched.page.locator('a[href$="report.html"]').evaluate_all(
            "links => links.map(a => a.href)")
        reports = [Path(out, run["report"]).resolve()
                   for run in json.loads((out / "index.json").read_text())["runs"]]
        assert set(links) == {p.as_uri() for p in reports}  # the index links every run
        drawn = {}
        for report in reports:
            run_dir = report.parent.relative_to(out)
            notebook, profile = run_dir.parts[0], run_dir.parts[1]
            drawn[(notebook, profile)] = visit(watched, report, f"demo-{notebook}-{profile}")
            # EXTENSION POINT (tables, round 2): each report's tables sort and filter here.
        assert watched.errors == []
        assert watched.outside == []
    finally:
        watched.page.context.close()
    # The notebooks that draw figures drew them in some run (so the SVG wait is not vacuous).
    for name in FIGURES:
        assert max(n for (notebook, _), n in drawn.items() if notebook == name) > 0, name
