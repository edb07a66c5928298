"""report.html at real size, in-process: findings grouped by code and shown once, a contents
list of the notebook's sections, and a short header linking the index and the run's files.
Pages are parsed with the stdlib's HTML parser."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
from IPython.core.formatters import DisplayFormatter

from opskit._run.assets import PLOTLY_MIMETYPE, Shared
from opskit._run.html import RunLinks, render_report, run_header
from opskit.findings import Finding
from opskit.report.display import _offline_renderer
from opskit.report.findings import SUBJECTS_LISTED, findings_grouped, findings_grouped_html

from .hostile_names import BREAKOUT, IMG, SCRIPT, SVG, scan, shown

VOID = {"br", "hr", "img", "input", "meta", "link", "col", "area", "base", "wbr", "source"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def all(self, tag: str) -> list[Node]:
        """Every element named ``tag`` below this one, in document order."""
        found: list[Node] = []
        for c in self.children:
            if isinstance(c, Node):
                found += [c] if c.tag == tag else []
                found += c.all(tag)
        return found

    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root", {})
        self._open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self._open[-1].children.append(node)
        if tag not in VOID:
            self._open.append(node)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, 0, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                return

    def handle_data(self, data: str) -> None:
        self._open[-1].children.append(data)


def parse(html: str) -> Node:
    tree = _Tree()
    tree.feed(html)
    tree.close()
    return tree.root


def grouped_tables(page: Node) -> list[Node]:
    return [t for t in page.all("table") if "opskit-findings" in t.classes()]


def make(code: str, severity: Any, n: int, remedy: str = "") -> list[Finding]:
    return [Finding(code, severity, f"{code.lower()}-{i}", f"message {i}",
                    remedy or f"fix {code} once") for i in range(n)]


MANY = (make("SOME_LOW", "low", 40) + make("ONE_CRITICAL", "critical", 1)
        + make("MANY_HIGH", "high", 900) + make("FEW_HIGH", "high", 2))


def test_findings_are_one_row_per_code_most_severe_first_remediation_once() -> None:
    html = findings_grouped_html(MANY)
    [table] = grouped_tables(parse(html))
    rows = table.all("tbody")[0].all("tr")
    assert [r.all("code")[0].text() for r in rows] == [
        "ONE_CRITICAL", "MANY_HIGH", "FEW_HIGH", "SOME_LOW"]  # then the most findings first
    assert [r.all("td")[2].text() for r in rows] == ["1", "900", "2", "40"]
    for code in ("ONE_CRITICAL", "MANY_HIGH", "FEW_HIGH", "SOME_LOW"):
        assert html.count(f"fix {code} once") == 1
    many = rows[1]
    assert "many_high-0, many_high-1, many_high-2" in many.all("td")[3].text()  # named inline
    [details] = many.all("details")
    items = [li.text() for li in details.all("li")]
    assert items[:2] == ["many_high-0 — message 0", "many_high-1 — message 1"]
    assert len(items) == SUBJECTS_LISTED + 1  # the last says how many more, and where


def test_subjects_beyond_the_list_link_findings_csv() -> None:
    page = parse(findings_grouped_html(MANY, more_href="findings.csv"))
    more = [a for a in page.all("a") if a.text().startswith("… and")]
    assert [(a.attrs["href"], a.text()) for a in more] == [
        ("findings.csv", f"… and {900 - SUBJECTS_LISTED} more in findings.csv")]
    assert not parse(findings_grouped_html(MANY)).all("a")  # in Lab there is no findings.csv


def test_grouped_findings_show_hostile_names_as_text() -> None:
    hostile = [Finding("X", "high", SCRIPT, IMG, SVG), Finding("X", "high", BREAKOUT, SVG, SVG)]
    page = scan(findings_grouped_html(hostile))
    assert page.problems == [] and page.raw_invisible == 0
    for payload in (SCRIPT, IMG, SVG, BREAKOUT):
        assert shown(payload) in page.text


def test_the_notebooks_findings_output_marks_itself_for_the_header() -> None:
    data, metadata = DisplayFormatter().format(findings_grouped(MANY))
    assert 'class="opskit-findings"' in data["text/html"]
    assert metadata == {"text/html": {"opskit": "findings"}}


def _results(findings: list[Finding]) -> dict[str, Any]:
    return {"notebook": "permission_audit", "profile": "sandbox", "status": "findings",
            "started_at": "2026-01-01T00:00:00+00:00",
            "finished_at": "2026-01-01T00:01:00+00:00", "fail_on": "high",
            "parameters": {"profile": "sandbox"}, "findings": [f.as_dict() for f in findings],
            "error": None}


LINKS = RunLinks(notebook="permission_audit.ipynb", index="../../../index.html")


def test_header_links_the_index_and_the_runs_files_relatively() -> None:
    page = parse(run_header(_results(MANY), [], LINKS))
    [links] = [p for p in page.all("p") if "links" in p.classes()]
    assert [(a.text(), a.attrs["href"]) for a in links.all("a")] == [
        ("index of runs", "../../../index.html"), ("findings.csv", "findings.csv"),
        ("results.json", "results.json"), ("notebook", "permission_audit.ipynb")]


def test_header_is_short_and_shows_the_findings_only_when_the_notebook_does_not() -> None:
    alone = parse(run_header(_results(MANY), [], LINKS))
    assert len(grouped_tables(alone)) == 1
    assert len(alone.all("tr")) <= 10  # 943 findings: a row per code, not per finding
    assert grouped_tables(parse(run_header(_results(MANY), [], LINKS,
                                           findings_shown=True))) == []


def _notebook(*, shows_findings: bool) -> nbformat.NotebookNode:
    v4 = nbformat.v4
    data, metadata = DisplayFormatter().format(findings_grouped(MANY))
    shown_findings = v4.new_code_cell("show(result, 'findings')", outputs=[
        v4.new_output("display_data", data=data, metadata=metadata)] if shows_findings else [])
    output_heading = v4.new_code_cell("x", outputs=[v4.new_output(
        "display_data", data={"text/markdown": "## Not a section", "text/plain": "x"})])
    return v4.new_notebook(cells=[
        v4.new_markdown_cell("# Permission audit\n\nIntro."),
        v4.new_markdown_cell("## Coverage: what the *cloud* hides"),
        output_heading,
        v4.new_markdown_cell("## Findings & remediation"), shown_findings,
        v4.new_markdown_cell("### A subsection\n\n## Effective access")])


def test_report_lists_its_sections_and_shows_the_findings_once() -> None:
    for shows in (True, False):
        page = parse(render_report(_notebook(shows_findings=shows), _results(MANY), [], LINKS))
        assert len(grouped_tables(page)) == 1, shows
        [toc] = [n for n in page.all("nav") if "opskit-toc" in n.classes()]
        entries = [(a.attrs["href"], a.text()) for a in toc.all("a")]
        assert [text for _, text in entries] == [
            "Coverage: what the cloud hides", "Findings & remediation", "Effective access"]
        ids = {h.attrs.get("id") for h in page.all("h2")}
        assert all(href is not None and href[1:] in ids for href, _ in entries)


def test_first_section_comes_after_a_few_rows_however_many_findings() -> None:
    """943 findings: today's layout put 200 header rows and 943 notebook rows before it."""
    html = render_report(_notebook(shows_findings=True), _results(MANY), [], LINKS)
    before = html.split('<h2 id="Coverage:', 1)[0]
    assert before.count("<tr") <= 3  # the parameters; the findings are further down, grouped
    assert html.count("<tr") <= 12


def _figure_notebook() -> nbformat.NotebookNode:
    """A notebook showing one figure as `setup()`'s renderers show it: mimetype and HTML."""
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))
    data = {PLOTLY_MIMETYPE: fig.to_plotly_json(), "text/plain": "Figure()",
            **_offline_renderer().to_mimebundle(fig.to_dict())}
    v4 = nbformat.v4
    return v4.new_notebook(cells=[v4.new_code_cell("fig.show()", outputs=[
        v4.new_output("display_data", data=data)])])


def test_a_single_file_report_embeds_plotly_js_once() -> None:
    from plotly.offline import get_plotlyjs

    page = render_report(_figure_notebook(), _results([]), [], LINKS)
    assert page.count(get_plotlyjs()[:2000]) == 1
    assert [s for s in parse(page).all("script") if "src" in s.attrs] == []
    assert scan(page).problems == []  # only the report's own scripts


def test_a_shared_report_links_the_report_folders_one_copy(tmp_path: Path) -> None:
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    out = tmp_path / "out"
    pages = [out / "audit" / profile / "20260101T000000Z" for profile in ("acme", "globex")]
    copy = out / "_static" / f"plotly-{get_plotlyjs_version()}.min.js"
    written = None
    for page_dir in pages:
        page_dir.mkdir(parents=True)
        page = render_report(_figure_notebook(), _results([]), [], LINKS, Shared(out, page_dir))
        assert get_plotlyjs()[:2000] not in page
        [src] = [s.attrs["src"] for s in parse(page).all("script") if "src" in s.attrs]
        assert src == f"../../../_static/{copy.name}"
        assert (page_dir / str(src)).resolve() == copy.resolve()
        written = written or copy.stat().st_mtime_ns
        assert copy.stat().st_mtime_ns == written  # written once, then reused
    assert copy.read_text(encoding="utf-8") == get_plotlyjs()
    assert [p.name for p in copy.parent.iterdir()] == [copy.name]  # no temporary left behind
    without = render_report(_notebook(shows_findings=True), _results(MANY), [], LINKS,
                            Shared(out, pages[0]))
    assert "<script src" not in without and "Plotly" not in without  # no figure, no script


def test_the_page_gets_the_edits_nbconvert_makes_but_no_script_is_touched() -> None:
    """The exporter does nbconvert's soup-pass edits on the markup (outputs focusable, an image
    without alt text given nbconvert's), and leaves a script's text as it is."""
    from bs4 import BeautifulSoup
    from nbconvert import HTMLExporter

    from opskit._run import html as report_html

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "x", outputs=[nbformat.v4.new_output("display_data", data={
            "image/png": "iVBORw0KGgo=", "text/plain": "<img>"}),
            nbformat.v4.new_output("stream", name="stdout", text="<img src=x>")])])
    resources = {"metadata": {"name": "t"}, "opskit_css": "", "opskit_header": "",
                 "opskit_scripts": '<script>var shown = "<img src=kept>";</script>'}
    ours, _ = report_html._exporter().from_notebook_node(nb, resources=dict(resources))
    theirs, _ = HTMLExporter(
        template_name=report_html.TEMPLATE_NAME,
        extra_template_basedirs=[str(report_html.TEMPLATES)], exclude_input=True,
        exclude_input_prompt=True, exclude_output_prompt=True).from_notebook_node(
        nb, resources=dict(resources))
    assert str(BeautifulSoup(ours, "html.parser")) == str(BeautifulSoup(theirs, "html.parser"))
    assert f'alt="{report_html.NO_ALT}"' in ours and 'tabindex="0"' in ours
    assert 'var shown = "<img src=kept>";' in ours
