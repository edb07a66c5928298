"""Issue 16: every report table is interactive (itables' DataTables, offline): sorted by a
header click, searched, filtered per column, paged when long, exported as CSV and XLSX as shown.

One in-process test reads the HTML a table and a report are made of; one opens a report made
the way `opskit run` makes it in Debian's Chromium, sorts, searches and downloads both exports.
"""

from __future__ import annotations

import csv
import html
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest
from IPython.core.formatters import DisplayFormatter

from opskit._run.html import render_report
from opskit.report.display import table, table_bundle

from .hostile_names import SCRIPT

# A table as reports show them: a hostile name, a formula, a number column to sort by.
FRAME = pd.DataFrame({"name": ["alice", SCRIPT, "=1+2 (to do)", "bob", "carol"],
                      "groups": [3, 12, 7, -1, 40]})
# A resource the page loads from elsewhere: <script src>, <link href>, an import or a url().
REMOTE = re.compile(r"<(script|link|img)[^>]*(src|href)\s*=\s*[\"']?https?:|"
                    r"import[^;]*from\s*[\"']https?:|url\(\s*[\"']?https?:")


def _report(tmp: Path, *frames: pd.DataFrame) -> Path:
    """report.html of a notebook whose setup cell loads the bundle and whose cells show
    ``frames``, rendered as `opskit run` renders it."""
    v4 = nbformat.v4
    outputs = [DisplayFormatter().format(item) for item in
               [table_bundle_html(), *(table(frame) for frame in frames)]]
    cells = [v4.new_code_cell("show()", outputs=[
        v4.new_output("display_data", data=data, metadata=metadata)])
        for data, metadata in outputs]
    results = {"notebook": "token_check", "profile": "sandbox", "status": "ok",
               "started_at": "2026-01-01T00:00:00+00:00",
               "finished_at": "2026-01-01T00:01:00+00:00", "fail_on": "high",
               "parameters": {"profile": "sandbox"}, "findings": [], "error": None}
    path = tmp / "report.html"
    path.write_text(render_report(v4.new_notebook(cells=cells), results, []), encoding="utf-8")
    return path


def table_bundle_html() -> Any:
    from IPython.display import HTML

    return HTML(table_bundle())


def test_a_table_is_a_datatable_with_exports_and_loads_nothing_remote(tmp_path: Path) -> None:
    html = table(FRAME)._repr_html_()
    assert "new ITable(" in html
    assert '"extend": "csvHtml5"' in html and '"excelHtml5"' in html
    assert "&lt;script&gt;" in html and SCRIPT not in html  # the cells stay escaped
    page = _report(tmp_path, FRAME, FRAME.head(2)).read_text(encoding="utf-8")
    assert page.count("new ITable(") == 2
    assert page.count("new DecompressionStream(") == 1  # the bundle, once per report
    assert not REMOTE.search(page), REMOTE.search(page)


# What the browser shows after sorting by groups and searching "o": alice is searched away.
SHOWN = [["bob", "-1"], ["=1+2 (to do)", "7"], [SCRIPT, "12"], ["carol", "40"]]
LOCAL = ("file:", "blob:", "data:", "http://127.0.0.1")


# Per column, where the header's text and the first cell's text start and end (px).
EDGES = """table => [...table.querySelectorAll("thead tr:first-child th")].map((th, i) => {
    const span = node => { const r = document.createRange(); r.selectNodeContents(node);
                           const box = r.getBoundingClientRect(); return [box.left, box.right]; };
    return {head: span(th.querySelector(".dt-column-title")),
            cell: span(table.querySelectorAll("tbody tr:first-child td")[i])};
})"""


def _rows(table: Any) -> list[list[str]]:
    return [[cell.inner_text() for cell in row.locator("td").all()]
            for row in table.locator("tbody tr").all()]


def _sheet_rows(xlsx: Path) -> list[list[str]]:
    with zipfile.ZipFile(xlsx) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode("utf-8")
    return [[html.unescape(v) for v in re.findall(r"<(?:t|v)\b[^>]*>(.*?)</(?:t|v)>", row)]
            for row in re.findall(r"<row\b.*?</row>", sheet, re.S)]


@pytest.mark.slow  # a browser
def test_sorted_searched_table_exports_exactly_the_rows_shown(chromium: Any,
                                                               tmp_path: Path) -> None:
    report = _report(tmp_path, FRAME)
    page = chromium.new_page(accept_downloads=True)
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    remote: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(LOCAL) else remote.append(r.url))
    page.goto(report.as_uri(), wait_until="load")
    container = page.locator(".dt-container")
    table = container.locator("table.dataTable")
    table.wait_for()
    assert _rows(table)[1] == [SCRIPT, "12"]  # as data: the name shown, not run
    # headers over their column: text at the left edge, numbers at the right
    [name, groups] = page.evaluate(EDGES, table.element_handle())
    assert abs(name["head"][0] - name["cell"][0]) <= 2, name
    assert abs(groups["head"][1] - groups["cell"][1]) <= 2, groups

    table.locator("th", has_text="groups").locator(".dt-column-title").click()
    container.locator(".dt-search input").fill("o")
    assert _rows(table) == SHOWN

    with page.expect_download() as csv_download:
        container.get_by_role("button", name="CSV").click()
    text = Path(csv_download.value.path()).read_text(encoding="utf-8-sig")
    exported = list(csv.reader(io.StringIO(text)))
    # as shown; the formula with a leading ' as in findings.csv, so a spreadsheet shows it
    assert exported == [["name", "groups"], *[[("'" + n) if n.startswith("=") else n, g]
                                              for n, g in SHOWN]]

    with page.expect_download() as xlsx_download:
        container.get_by_role("button", name="Excel").click()
    assert xlsx_download.value.suggested_filename.endswith(".xlsx")
    assert _sheet_rows(Path(xlsx_download.value.path())) == [["name", "groups"], *SHOWN]
    assert errors == [] and remote == []
    page.close()


def test_a_table_is_whole_however_many_cells_it_has() -> None:
    # A Styler cuts a table past styler.render.max_elements cells; the export would then claim
    # rows the page does not hold. No downsampling either: every row is in the page.
    frame = pd.DataFrame({"n": range(30), "name": [f"user{i}" for i in range(30)]})
    with pd.option_context("styler.render.max_elements", 10):
        html = table(frame).to_html()
    assert "user29" in html and html.count("<tr>") == 31  # the header row and every row
