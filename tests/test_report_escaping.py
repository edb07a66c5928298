"""Issue 13: what comes from outside is shown as text in every report, never run.

One module-scoped fixture runs the four notebooks once on a practice tenant made of payloads
(users, groups, folders, secrets, the tenant's name, the IGA export's rows, the client_id and
the profile's name: tests/hostile_names.py), and token_check once against a server whose SCIM
error detail is a payload. The tests below read those runs: report.html and index.html through a
parser, the executed notebooks, findings.csv, and every page in a real headless Chromium.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from opskit.report.escaping import FORMULA_PREFIXES, plot_text
from opskit.runner import RunResult, run_notebook

from .hostile_names import (
    ANCHOR,
    BEACON,
    BREAKOUT,
    CLIENT_ID,
    DETAIL,
    FORMULA,
    IFRAME,
    IMG,
    INVISIBLE,
    JS_URL,
    MD_LINK,
    PROFILE,
    RLO,
    SCRIPT,
    SVG,
    TEMPLATE,
    TENANT,
    ScimErrorServer,
    scan,
    shown,
    strings,
    write_profiles,
)
from .servers import serve_asgi

NOTEBOOKS = ("token_check", "tenant_onboarding", "permission_audit", "group_gap_report")
SCIM_ERROR = "token_check on a SCIM error"
# What each report must show as text: the payloads its tables, figures and prose hold.
SHOWN = {
    "token_check": [PROFILE, CLIENT_ID],
    "tenant_onboarding": [PROFILE, CLIENT_ID],
    "permission_audit": [PROFILE, TENANT, CLIENT_ID, SCRIPT, IMG, SVG, JS_URL, IFRAME, BREAKOUT,
                         ANCHOR, TEMPLATE, RLO, FORMULA],
    "group_gap_report": [PROFILE, SCRIPT, SVG, FORMULA, MD_LINK, ANCHOR, IFRAME, RLO, TEMPLATE,
                         BREAKOUT, "-1+2", "+1"],
    SCIM_ERROR: [CLIENT_ID, DETAIL],
}
FIGURES = {"permission_audit": 4, "group_gap_report": 2}
PLOTLY_OWN_TAGS = re.compile(r"</?b>|<br>|</?extra>")  # the builders' own markup


pytestmark = pytest.mark.slow  # notebook runs and a browser


@dataclass
class HostileRuns:
    out: Path
    runs: dict[str, RunResult]

    def pages(self) -> list[Path]:
        return [run.report for run in self.runs.values()] + [self.out / "index.html"]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileRuns]:
    folder = tmp_path_factory.mktemp("hostile")
    with serve_asgi(ScimErrorServer()) as url, pytest.MonkeyPatch.context() as env:
        env.setenv("OPSKIT_CONFIG", str(write_profiles(folder, url)))
        env.setenv("HOSTILE_SECRET", "hostile-test-secret")
        out = folder / "out"
        runs = {name: run_notebook(name, profile=PROFILE, out_dir=out) for name in NOTEBOOKS}
        runs[SCIM_ERROR] = run_notebook("token_check", profile="scim-error", out_dir=out)
        yield HostileRuns(out, runs)


def test_every_notebook_ran_on_the_hostile_tenant(hostile: HostileRuns) -> None:
    for name, run in hostile.runs.items():
        assert run.results["error"] is None, (name, run.results["error"])
    codes = {f["code"] for f in hostile.runs[SCIM_ERROR].results["findings"]}
    assert "SCIM_ACCESS_DENIED" in codes  # the error whose detail is a payload was met


@pytest.mark.parametrize("name", [*NOTEBOOKS, SCIM_ERROR])
def test_report_shows_data_as_text_and_runs_none_of_it(hostile: HostileRuns, name: str) -> None:
    page = scan(hostile.runs[name].report.read_text(encoding="utf-8"))
    assert page.problems == []
    text = page.text.casefold()  # the audit names users by their casefolded userName
    for payload in SHOWN[name]:  # shown, escaped: not dropped
        assert shown(payload).casefold() in text, payload
    assert page.raw_invisible == 0  # every bidi and C0 control shown as <U+XXXX>
    assert page.figures == FIGURES.get(name, 0)
    for text in page.figure_strings:  # plotly reads tags in text: data's are entities
        assert "<" not in PLOTLY_OWN_TAGS.sub("", text), text
    if name in FIGURES:
        figure_text = "\n".join(page.figure_strings)
        assert plot_text(SVG) in figure_text and plot_text(BREAKOUT) in figure_text


def test_index_shows_the_profile_name_as_text(hostile: HostileRuns) -> None:
    page = scan((hostile.out / "index.html").read_text(encoding="utf-8"))
    assert page.problems == [] and page.raw_invisible == 0
    assert PROFILE in page.text


def _outputs(nb: Any) -> Iterator[tuple[str, Any]]:
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            yield from output.get("data", {}).items()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_executed_notebook_outputs_hold_no_markup_from_data(hostile: HostileRuns,
                                                            name: str) -> None:
    run = hostile.runs[name]
    nb = nbformat.read(run.run_dir / f"{name}.ipynb", as_version=4)
    kinds = set()
    for mimetype, content in _outputs(nb):
        kinds.add(mimetype)
        if mimetype == "text/html":
            assert scan(content).problems == []
        elif mimetype == "text/markdown":  # as nbconvert and JupyterLab render it
            page = scan(markdown2html_mistune(content))
            assert page.problems == [] and page.raw_invisible == 0, content
        elif mimetype == "application/vnd.plotly.v1+json":
            for text in strings(content):
                assert "<" not in PLOTLY_OWN_TAGS.sub("", text), text
                assert not INVISIBLE.search(text), text
    assert {"text/html", "text/markdown"} <= kinds


def test_findings_csv_holds_no_formula(hostile: HostileRuns) -> None:
    run = hostile.runs["group_gap_report"]
    with (run.run_dir / "findings.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    cells = [cell for row in rows for cell in row.values()]
    assert not [c for c in cells if c.startswith(FORMULA_PREFIXES)]
    subjects = {row["subject"] for row in rows}
    assert "'" + FORMULA in subjects and "'-1+2" in subjects  # neutralised, not dropped
    assert not [c for c in cells if INVISIBLE.search(c)]


# --------------------------------------------------------------------------- the browser
def test_no_payload_runs_in_a_browser(chromium: Any, hostile: HostileRuns) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    hover_labels = []
    for path in hostile.pages():
        page.goto(path.as_uri(), wait_until="load")
        figures = page.locator(".plotly-graph-div")
        if figures.count():
            figures.first.locator(".main-svg").first.wait_for(timeout=20_000)  # plotly.js ran
        for figure in figures.all():  # hover and click a mark: labels and zooms show data too
            marks = figure.locator(".point, .slice")  # a heatmap's cells are one image
            mark = (marks if marks.count() else figure.locator(".nsewdrag")).first
            mark.scroll_into_view_if_needed()
            box = mark.bounding_box()
            assert box is not None
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            label = figure.locator(".hoverlayer .hovertext")
            label.first.wait_for(timeout=5_000)
            hover_labels.append(label.first.text_content() or "")
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        assert page.evaluate(f"typeof window.{BEACON}") == "undefined", path
        assert "PWNED" not in page.title()
    assert len(hover_labels) == sum(FIGURES.values())
    # Names in hover labels are the names themselves, as text (plotly decodes the entities).
    assert any(SVG in label for label in hover_labels)
    assert any(shown(RLO) in label for label in hover_labels)
    assert errors == []
    page.close()
