"""The escaping helpers (opskit.report.escaping) and each display and writer that uses them, in
process: Markdown as nbconvert renders it, Styler tables, the run header, the explorer's HTML,
and findings.csv read back as a spreadsheet would see it."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from opskit._run.html import run_header
from opskit.config import PracticeProfile
from opskit.findings import Finding
from opskit.report import table
from opskit.report.display import _offline_renderer, styled
from opskit.report.escaping import (
    csv_cell,
    html_text,
    markdown_code,
    markdown_prose,
    markdown_text,
    plot_text,
    visible,
)
from opskit.report.findings import findings_styled
from opskit.report.results import CSV_FIELDS, findings_csv
from opskit.reports.permission_audit import run_permission_audit
from opskit.widgets import AccessExplorer

from .hostile_names import (
    ANCHOR,
    BREAKOUT,
    DETAIL,
    IFRAME,
    IMG,
    MD_LINK,
    RLO,
    SCRIPT,
    SVG,
    TEMPLATE,
    hostile_tenant,
    scan,
    shown,
)

PAYLOADS = [SCRIPT, IMG, SVG, IFRAME, BREAKOUT, MD_LINK, ANCHOR, TEMPLATE, RLO, DETAIL,
            "<javascript:alert(1)>", "a`b``c`", "&lt;b&gt; &amp;", "*x* _y_ $z$", "\n\n<i>x</i>"]
FORMULAS = ["=cmd|' /C calc'!A0", "+1", "-1+2", "@SUM(1)", "\t=1", "\r=1"]
INVISIBLE = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
             "\u2069", "\u200e", "\u200f", "\u061c", "\x00", "\x01", "\x0b", "\x0c", "\r",
             "\x1b", "\x1f", "\x7f"]


# --------------------------------------------------------------------------- visible
@pytest.mark.parametrize("char", INVISIBLE, ids=lambda c: f"U+{ord(c):04X}")
def test_invisible_characters_are_shown(char: str) -> None:
    assert visible(f"a{char}b") == f"a<U+{ord(char):04X}>b"


def test_visible_keeps_tab_newline_and_every_script() -> None:
    text = "tab\there\nnext line · é ü 東京 مرحبا שלום 🙂"
    assert visible(text) == text


# --------------------------------------------------------------------------- HTML
def test_html_text_escapes_markup_and_quotes() -> None:
    assert html_text('<a href="x" title=\'y\'>&</a>') == (
        "&lt;a href=&quot;x&quot; title=&#x27;y&#x27;&gt;&amp;&lt;/a&gt;")
    assert html_text(RLO) == "&lt;U+202E&gt;exe.txt"
    assert html_text(7) == "7"


def test_plot_text_escapes_tags_and_leaves_quotes() -> None:
    assert plot_text('<b>"x" & y</b>') == '&lt;b&gt;"x" &amp; y&lt;/b&gt;'


def test_run_header_escapes_profile_findings_notes_and_error() -> None:
    results = {"notebook": "token_check", "profile": SVG, "status": "failed",
               "started_at": "2025-01-01T00:00:00+00:00", "finished_at": IMG,
               "fail_on": "high", "parameters": {"reference": SCRIPT},
               "findings": [{"code": "X", "severity": "high", "subject": BREAKOUT,
                             "message": IFRAME, "remediation": ANCHOR}],
               "error": {"cell": 3, "ename": "ScimError", "evalue": DETAIL}}
    page = scan(run_header(results, notes=[MD_LINK]))
    assert page.problems == [] and page.raw_invisible == 0
    for payload in (SVG, IMG, BREAKOUT, IFRAME, ANCHOR, DETAIL, MD_LINK):
        assert shown(payload) in page.text, payload


def test_a_name_cannot_end_the_script_holding_its_figure() -> None:
    """Even unescaped, ``</script>`` in a figure stays inside its JSON: plotly writes ``<``,
    ``>`` and ``/`` there as ``\\u`` escapes."""
    fig = go.Figure(go.Bar(x=[BREAKOUT, SCRIPT], y=[1, 2]), layout={"meta": {"name": IMG}})
    html = _offline_renderer().to_mimebundle(fig.to_dict())["text/html"]
    page = scan(html)
    assert page.problems == [] and page.figures == 1
    assert {BREAKOUT, SCRIPT, IMG} <= set(page.figure_strings)


# --------------------------------------------------------------------------- Markdown
@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_helpers_render_data_as_text(payload: str) -> None:
    one_line = shown(payload).replace("\n", " ")
    for made, want in ((markdown_text(payload), one_line), (markdown_code(payload), one_line),
                       (f"*Note: {markdown_prose(f'see `{payload}` and {payload}')}*", None)):
        html = markdown2html_mistune(made)  # what report.html shows for a Markdown output
        page = scan(html)
        assert page.problems == [] and page.raw_invisible == 0, made
        assert "<a " not in html and "<img" not in html and "<i>" not in html, made
        if want is not None:
            assert want.strip() in page.text, made


def test_markdown_prose_keeps_its_code_spans_and_paragraphs() -> None:
    html = markdown2html_mistune(markdown_prose(f"set `iga_export`; profile {SVG!r}\n\nnext"))
    assert "<code>iga_export</code>" in html and html.count("<p>") == 2
    assert f"profile '{SVG}'" in scan(html).text


def test_markdown_code_fences_any_backticks() -> None:
    assert markdown_code("plain") == "`plain`"
    assert markdown_code("a``b") == "```a``b```"
    assert markdown_code("`x`") == "`` `x` ``"
    assert markdown_code("") == ""


# --------------------------------------------------------------------------- tables
def test_styled_tables_escape_cells_labels_and_index() -> None:
    frame = pd.DataFrame({"name": [SCRIPT, RLO, None], IMG: [1.5, float("nan"), 2.0],
                          "count": pd.array([3, None, -4], dtype="Int64"),
                          "owners": [[BREAKOUT], [], [ANCHOR]]},
                         index=pd.Index([SVG, "b", "c"], name=IFRAME))
    page = scan(styled(frame, index=True).to_html())
    assert page.problems == [] and page.raw_invisible == 0
    for payload in (SCRIPT, RLO, IMG, BREAKOUT, ANCHOR, SVG, IFRAME):
        assert shown(payload) in page.text, payload
    assert "1.500000" in page.text and "-4" in page.text  # numbers as pandas shows them
    assert "nan" not in page.text and "None" not in page.text  # missing: blank
    hidden = scan(table(frame).to_html()).text  # no index unless asked
    assert shown(SVG) not in hidden and shown(SCRIPT) in hidden


def test_findings_table_escapes_and_keeps_its_colours() -> None:
    html = findings_styled([Finding("X", "high", SCRIPT, IMG, SVG)]).to_html()
    page = scan(html)
    assert page.problems == [] and shown(SCRIPT) in page.text and shown(SVG) in page.text
    assert "background-color: #f8d7da" in html


# --------------------------------------------------------------------------- CSV
@pytest.mark.parametrize("cell", FORMULAS, ids=repr)
def test_formula_cells_are_neutralised(cell: str) -> None:
    assert csv_cell(cell) == "'" + visible(cell)


@pytest.mark.parametrize("value", ["DBA Admins", "a=b", "x-1", "2025-01-01", "", " =1"])
def test_ordinary_text_is_kept(value: str) -> None:
    assert csv_cell(value) == value


@pytest.mark.parametrize("value", [-1, -1.5, 0, 3, None, True])
def test_numbers_stay_numbers(value: object) -> None:
    assert csv_cell(value) is value


def test_findings_csv_reads_back_neutralised() -> None:
    """findings.csv is the CSV opskit writes (the practice tenant's IGA export is its input)."""
    findings = [Finding("GROUP_NOT_ON_PLATFORM", "high", cell, cell, cell).as_dict()
                for cell in FORMULAS]
    findings.append(Finding("DIRECT_USER_GRANT", "info", f"nul\x00{RLO}", "-", "ok").as_dict())
    rows = list(csv.DictReader(io.StringIO(findings_csv(findings), newline="")))
    assert [list(r) for r in rows] == [list(CSV_FIELDS)] * len(findings)
    for row, cell in zip(rows, FORMULAS, strict=False):
        for field in ("subject", "message", "remediation"):
            assert row[field] == "'" + visible(cell), (field, row[field])
        assert row["code"] == "GROUP_NOT_ON_PLATFORM" and row["severity"] == "high"
    assert rows[-1]["subject"] == "nul<U+0000><U+202E>exe.txt"
    assert rows[-1]["message"] == "'-" and rows[-1]["remediation"] == "ok"


# --------------------------------------------------------------------------- explorer
def test_explorer_html_shows_hostile_names_as_text(tmp_path: Path) -> None:
    data = tmp_path / "hostile.json"
    data.write_text(json.dumps(hostile_tenant()), encoding="utf-8")
    prof = PracticeProfile("hostile", "onprem", data=str(data))
    run = run_permission_audit(prof, history_dir=tmp_path, progress=False)
    ui = AccessExplorer(run.access)
    ui.show("folder", f"/{IMG}")
    ui.show("user", f"{SCRIPT}@acme.com")
    html = ui.output.outputs[0]["data"]["text/html"]
    page = scan(html)
    assert page.problems == [] and page.raw_invisible == 0
    assert shown(SCRIPT) in page.text and shown(IMG) in page.text
