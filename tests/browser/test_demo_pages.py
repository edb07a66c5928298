"""`make demo`'s pages in Chromium (issue 16): index.html and every report.html it links, opened
from disk as a person opens them. Each loads without a console error, asks no other machine for
anything, and draws its charts. Screenshots: build/browser/demo-*.png.

The demo's build is the session's `demo_build`, shared with tests/test_demo.py (RUN_TOGETHER in
tests/conftest.py), so it is built once."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from opskit.demo import OTHER_TENANTS

from ..conftest import DemoBuild
from .lab import click_plot_point
from .pages import Watched, shot, watch

FIGURES = ("permission_audit", "group_gap_report")  # the notebooks that draw plotly figures
WORKED = ("permission_audit", "sandbox")  # the report whose tables and figure are worked

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def worked_report(demo_build: DemoBuild) -> Path:
    """The first night's report of WORKED (the demo runs it on two nights)."""
    runs = [run for run in demo_build.runs()[WORKED[1]] if run["notebook"] == WORKED[0]]
    return Path(demo_build.out, min(runs, key=lambda run: run["run_dir"])["report"]).resolve()


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


def cells(table: Any, column: int = 0) -> list[str]:
    return [r.split("\t")[column] for r in table.locator("tbody tr").all_inner_texts()]


def sort_and_search(page: Any) -> None:
    """The access sample of the demo's tenant (tests/data/small.yaml), one row per user: a
    click on the user header sorts it, and a search keeps the users granted directly."""
    header = page.locator("thead th").filter(has_text=re.compile("^user$"))
    table = page.locator(".dt-container").filter(has=header).filter(
        has=page.locator("thead th").filter(has_text=re.compile("^folder$"))).first
    table.scroll_into_view_if_needed()
    before = cells(table)
    assert sorted(before) == ["Alice@Acme.com", "bob@acme.com", "carol@acme.com",
                              "scim.integration@acme.com"]
    table.locator("thead th").filter(has_text=re.compile("^user$")).click()
    ordered = sorted(before, key=str.lower)
    assert ordered != before  # so the click has something to change
    page.wait_for_function("([t, first]) => t.querySelector('tbody td').innerText === first",
                           arg=[table.element_handle(), ordered[0]])
    assert cells(table) == ordered
    shot(page, "demo-table-sorted")
    table.locator(".dt-search input").fill("direct")  # bob reaches folders only through groups
    page.wait_for_function("t => t.querySelectorAll('tbody tr').length === 3",
                           arg=table.element_handle())
    assert cells(table) == [u for u in ordered if u != "bob@acme.com"]
    shot(page, "demo-table-searched")


def open_rows_behind(page: Any) -> None:
    """A click on the /IT/Databases box of the visibility tree opens its rows: the users who
    reach it through /IT's grants (tests/data/small.yaml), and its secret."""
    figure = page.locator(".plotly-graph-div").first
    rows = page.locator(".opskit-rows-behind details[open]")
    assert rows.count() == 0
    click_plot_point(page, figure, label="Databases")
    rows.first.wait_for()
    assert rows.count() == 1
    shown = rows.first.inner_text()
    assert shown.startswith("/IT/Databases") and "(6 rows)" in shown.split("\n")[0]
    for name in ("Alice@Acme.com", "bob@acme.com", "DBA > DBA Juniors", "dev-db-sa"):
        assert name in shown
    assert page.evaluate("location.hash") == "#" + rows.first.get_attribute("id")
    shot(page, "demo-figure-rows")
    open_cell_rows(page)


def open_cell_rows(page: Any) -> None:
    """A click on a cell of the group × folder heatmap opens that cell's rows block. The cells
    are one image: the cell's place comes from the axes; which cells have rows, from the block's
    own map (first marked cell)."""
    heatmap = page.locator(".plotly-graph-div", has=page.locator(".heatmaplayer")).first
    marks = json.loads(heatmap.evaluate(  # the block under the heatmap: the first after it
        """gd => [...document.querySelectorAll(".opskit-rows-behind")].find(b =>
             gd.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING
           ).getAttribute("data-marks")"""))
    point, target = next(iter(marks.items()))
    row, column = (int(n) for n in point.split(":")[1].split(","))
    heatmap.scroll_into_view_if_needed()
    x, y = heatmap.evaluate(
        """(gd, [r, c]) => {
             const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
             const rect = gd.getBoundingClientRect();
             return [rect.left + xa._offset + xa.c2p(c), rect.top + ya._offset + ya.c2p(r)];
           }""", [row, column])
    page.mouse.click(x, y)
    page.wait_for_function(f"location.hash === '#{target}'")
    assert page.locator(f"details#{target}").evaluate("d => d.open")


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
        # Opened: the second night's on the demo company (its reports say what changed since
        # the first) and the rehearsals; the other tenants' are the same pages on other data.
        # The worked report is the first night's: its tables are tests/data/small.yaml's as
        # written (the night between grants bob a folder and disables Alice).
        reports = [Path(out, run["report"]).resolve() for profile, runs in
                   demo_build.latest().items() if profile not in OTHER_TENANTS for run in runs
                   if (run["notebook"], profile) != WORKED] + [worked_report(demo_build)]
        drawn = {}
        for report in reports:
            run_dir = report.parent.relative_to(out)
            notebook, profile = run_dir.parts[0], run_dir.parts[1]
            drawn[(notebook, profile)] = visit(watched, report, f"demo-{notebook}-{profile}")
            if (notebook, profile) == WORKED:
                sort_and_search(watched.page)
                open_rows_behind(watched.page)
        assert watched.errors == []
        assert watched.outside == []
    finally:
        watched.page.context.close()
    # The notebooks that draw figures drew them in some run (so the SVG wait is not vacuous).
    for name in FIGURES:
        assert max(n for (notebook, _), n in drawn.items() if notebook == name) > 0, name


def test_a_report_moved_out_of_its_folder_says_why_its_chart_is_missing(
        chromium: Any, demo_build: DemoBuild, tmp_path: Path) -> None:
    """A report.html copied away from the report folder cannot load the shared plotly.js: where
    each chart would be, it says so and names --single-file; nothing throws."""
    report = worked_report(demo_build)
    moved = tmp_path / "moved.html"
    moved.write_text(report.read_text(encoding="utf-8"), encoding="utf-8")
    watched = watch(chromium)
    try:
        watched.page.goto(moved.as_uri(), wait_until="load")
        note = watched.page.locator(".plotly-graph-div.opskit-missing-library")
        assert note.count() >= 1 and "--single-file" in (note.first.text_content() or "")
        shot(watched.page, "demo-moved-report")
        assert [e for e in watched.errors if "ERR_FILE_NOT_FOUND" not in e] == []
        assert watched.outside == []
    finally:
        watched.page.context.close()
