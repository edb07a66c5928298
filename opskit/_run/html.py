"""The HTML report: the executed notebook without its code, under a short header that says how
the run went, links the run's other files and the index, and lists the notebook's sections.
Offline: the template fetches nothing; plotly.js, when a figure needs it, is embedded once or
linked from the report folder's shared copy (see assets)."""

from __future__ import annotations

import bisect
import html
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import nbformat

from ..findings import SEVERITIES, by_severity
from ..report.escaping import html_text, visible
from ..report.findings import OUTPUT_METADATA, SUBJECTS_LISTED, findings_grouped_html
from ..report.record import FINDINGS_CSV
from . import assets, trends

TEMPLATES = Path(__file__).resolve().parent.parent / "report" / "templates"
TEMPLATE_NAME = "opskit_report"
TOC_PLACEHOLDER = "<!-- opskit:contents -->"  # the header's place for the contents


@dataclass(frozen=True)
class RunLinks:
    """Where the header links, relative to report.html: the run's other files and the index."""

    notebook: str  # the executed notebook, ``<notebook>.ipynb``
    index: str | None = None  # ``../../../index.html`` in ``<out>/<notebook>/<profile>/<stamp>``
    results: str = "results.json"
    findings: str = FINDINGS_CSV

# Shared by the report header and the index page.
CSS = """
:root { --ok: #1a7f37; --cannot-run: #6639ba; --muted: #6e7781;
  --line: #d0d7de; --soft: #f6f8fa; --critical: #8b0000; --high: #cf222e; --medium: #bc4c00;
  --low: #9a6700; --info: #0969da; }
.opskit { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
  line-height: 1.45; }
.opskit h1 { font-size: 1.6em; margin: 0 0 .3em 0; }
.opskit table { border-collapse: collapse; width: 100%; margin: .6em 0; font-size: .92em; }
.opskit th, .opskit td { border-bottom: 1px solid var(--line); padding: .35em .6em;
  text-align: left; vertical-align: top; }
.opskit th { background: var(--soft); font-weight: 600; }
.opskit td.num, .opskit th.num { text-align: right; font-variant-numeric: tabular-nums; }
.opskit .muted { color: var(--muted); }
/* JupyterLab right-aligns every output table cell; report tables are mostly text. Not
   !important: a table's own rules (its id) keep its numeric columns right-aligned. */
.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th { text-align: left; }
.opskit .badge { display: inline-block; padding: .1em .6em; border-radius: 1em; color: #fff;
  font-size: .85em; font-weight: 600; vertical-align: middle; }
.opskit .badge.ok { background: var(--ok); }
.opskit .badge.cannot-run { background: var(--cannot-run); }
.opskit .badge.critical { background: var(--critical); }
.opskit .badge.high { background: var(--high); }
.opskit .badge.medium { background: var(--medium); }
.opskit .badge.low { background: var(--low); }
.opskit .badge.info { background: var(--info); }
.opskit .rehearsal { font-size: .85em; color: var(--muted); white-space: nowrap; }
.opskit .rehearsal.missed { color: var(--high); font-weight: 600; }
.opskit .sev { display: inline-block; min-width: 1.6em; padding: 0 .45em; border-radius: .3em;
  color: #fff; text-align: center; font-weight: 600; font-size: .85em; }
.opskit .sev.critical { background: var(--critical); }
.opskit .sev.high { background: var(--high); }
.opskit .sev.medium { background: var(--medium); } .opskit .sev.low { background: var(--low); }
.opskit .sev.info { background: var(--info); } .opskit .sev.zero { background: none;
  color: var(--muted); font-weight: normal; }
.opskit-run { margin: 1em 2em 2em 2em; padding: 1em 1.4em; border: 1px solid var(--line);
  border-left: 6px solid var(--muted); border-radius: 6px; background: #fff; }
.opskit-run.ok { border-left-color: var(--ok); }
.opskit-run.cannot-run { border-left-color: var(--cannot-run); }
.opskit-run.critical { border-left-color: var(--critical); }
.opskit-run.high { border-left-color: var(--high); }
.opskit-run.medium { border-left-color: var(--medium); }
.opskit-run.low { border-left-color: var(--low); }
.opskit-run.info { border-left-color: var(--info); }
.opskit-run dl { display: grid; grid-template-columns: max-content auto; gap: .15em 1em;
  margin: .4em 0; }
.opskit-run dt { color: var(--muted); } .opskit-run dd { margin: 0; }
.opskit-run .error { background: #ffebe9; border: 1px solid #ff818266; padding: .5em .8em;
  border-radius: 6px; font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
  white-space: pre-wrap; }
.opskit-run details { margin-top: .6em; }
.opskit-run .links a { margin-right: 1em; }
.opskit-toc ol { margin: .3em 0; padding-left: 1.4em; columns: 2; }
table.opskit-findings td p { margin: 0 0 .3em 0; }
.opskit-drift h2 { font-size: 1.2em; margin: .8em 0 .2em 0; }
.opskit-drift h3 { font-size: 1em; margin: .6em 0 .1em 0; }
table.opskit-findings details ul { max-height: 24em; overflow: auto; margin: .3em 0; }
.opskit-missing-library { margin: 1em 2em; padding: 1em; border: 1px dashed var(--medium);
  color: var(--medium); height: auto !important; }
"""


# What nbconvert's HTMLExporter does to a page with BeautifulSoup after rendering it, done on
# the template's own markup instead: its soup pass (parse, three CSS selects, re-serialise)
# costs ~0.5 s of CPU per report, as much as the rest of the rendering.
_FOCUSABLE = re.compile(
    r'<div((?: id="[^"<>]*")? class="[^"<>]*\b(?:jp-OutputArea-output|jp-Cell-inputWrapper)\b'
    r'[^"<>]*")')
_IMG_WITHOUT_ALT = re.compile(r"<img\b(?![^>]*\balt=)")
NO_ALT = "No description has been provided for this image"  # nbconvert's words
_SCRIPT = re.compile(r"(<script\b.*?</script\s*>)", re.S | re.I)


@lru_cache(maxsize=1)
def _exporter() -> Any:
    """One exporter per process: building it loads and compiles the templates (the slow part)."""
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class ReportExporter(HTMLExporter):
        """HTMLExporter.from_notebook_node up to its soup pass; then the pass's two edits (cells
        focusable, images given alt text) on the markup the template writes."""

        def from_notebook_node(  # type: ignore[override]  # as HTMLExporter's own
                self, nb: nbformat.NotebookNode, resources: Any = None,
                **kw: Any) -> tuple[str, Any]:
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            self.register_filter("highlight_code", self.filters.get(
                "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
            resources = self._init_resources(resources)
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources))
            page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            # Markup only: a script's text is left as it is (as the soup pass leaves it).
            parts = _SCRIPT.split(page)
            parts[::2] = [_IMG_WITHOUT_ALT.sub(f'<img alt="{NO_ALT}"', _FOCUSABLE.sub(
                r'<div\1 tabindex="0"', part)) for part in parts[::2]]
            return "".join(parts), resources

    return ReportExporter(template_name=TEMPLATE_NAME, extra_template_basedirs=[str(TEMPLATES)],
                          exclude_input=True, exclude_input_prompt=True,
                          exclude_output_prompt=True)


_export_lock = threading.Lock()  # an exporter's Jinja environment is shared state


def render_report(nb: nbformat.NotebookNode, results: dict[str, Any],
                  notes: list[str], links: RunLinks | None = None,
                  shared: assets.Shared | None = None,
                  history: Sequence[Mapping[str, Any]] = ()) -> str:
    """The page; plotly.js embedded, or linked from ``shared`` (the report folder's copy).
    ``history``: the index entries of its notebook × profile, this run last (its trend)."""
    # The template escapes the title; bidi controls would still reorder it unseen.
    header = run_header(results, notes, links, findings_shown=shows_findings(nb))
    scripts, noscript = assets.page_scripts(nb, shared)
    trend = trends.report_trend(history, f"{results['notebook']} · {results['profile']}")
    resources = {"metadata": {"name": visible(f"{results['notebook']} · {results['profile']}")},
                 "opskit_css": CSS, "opskit_header": header + trend + noscript,
                 "opskit_scripts": scripts}
    with _export_lock:
        body, _ = _exporter().from_notebook_node(nb, resources=resources)
    # The header comes before every cell, so the first placeholder is the header's own.
    return body.replace(TOC_PLACEHOLDER, contents(body), 1)


def shows_findings(nb: nbformat.NotebookNode) -> bool:
    """Whether an output of the notebook shows the findings grouped by code (then the header
    does not show them again). Known by the output's metadata (IPython keeps what
    ``_repr_html_`` returns under its mimetype), which no data can write."""
    return any(out.get("metadata", {}).get("text/html") == OUTPUT_METADATA
               for cell in nb.cells if cell.cell_type == "code"
               for out in cell.get("outputs", []))


# The page as nbconvert's template writes it: cells are sibling <div>s, each opening with its
# kind; a Markdown heading is <h2 id="…">text<a class="anchor-link" …>¶</a></h2>. Read with
# two patterns rather than an HTML parser (~0.1 s of CPU per report): what an output holds
# cannot open a cell (its markup is escaped or opskit's own) and is in a code cell anyway.
_CELL_START = re.compile(r'<div\b[^>]*\bclass="jp-Cell (jp-\w+Cell)\b')
_HEADING = re.compile(r'<h2 id="([^"]*)">(.*?)</h2>', re.S)
_ANCHOR_LINK = re.compile(r'<a class="anchor-link".*?</a>', re.S)
_TAG = re.compile(r"<[^>]*>")


def _headings(body: str) -> list[tuple[str, str]]:
    """The ``<h2 id>`` headings of the Markdown cells, as (id, text), in order."""
    starts = [(m.start(), m.group(1)) for m in _CELL_START.finditer(body)]
    found = []
    for heading in _HEADING.finditer(body):
        at = bisect.bisect(starts, (heading.start(), "~")) - 1
        if at >= 0 and starts[at][1] == "jp-MarkdownCell":
            text = _TAG.sub("", _ANCHOR_LINK.sub("", heading.group(2)))
            found.append((html.unescape(heading.group(1)), html.unescape(text).strip()))
    return found


def contents(body: str) -> str:
    """A list of links to the sections (the ``##`` headings of Markdown cells) of a rendered
    report, through the anchors nbconvert gives headings; nothing when it has none."""
    found = _headings(body)
    if not found:
        return ""
    items = "".join(f'<li><a href="#{html_text(anchor)}">{html_text(text)}</a></li>'
                    for anchor, text in found)
    return f'<nav class="opskit-toc"><strong>Contents</strong><ol>{items}</ol></nav>'


def _when(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return iso


def _seconds(results: dict[str, Any]) -> str:
    try:
        delta = (datetime.fromisoformat(results["finished_at"])
                 - datetime.fromisoformat(results["started_at"])).total_seconds()
    except (KeyError, ValueError):
        return ""
    return f" ({delta:.1f} s)"


def severity_chips(counts: dict[str, int]) -> str:
    return " ".join(
        f'<span class="sev {sev if counts.get(sev) else "zero"}" title="{sev}">'
        f'{counts.get(sev, 0) or "·"}</span>' for sev in SEVERITIES)


CANNOT_RUN = "could not run"
# What a run's badge says, most urgent first: it could not run, else its worst severity, else
# ok (no finding at all). Info-only shows "info": nothing to fix, but not nothing found.
LEVELS: tuple[str, ...] = (CANNOT_RUN, *SEVERITIES, "ok")
CALM = ("info", "ok")  # the levels that need nobody's attention


def worst_level(status: str, counts: Mapping[str, int]) -> str:
    """The badge of a run with this status and these findings by severity (one of LEVELS)."""
    if status != "ok" and status != "findings":  # failed, or anything unreadable as a verdict
        return CANNOT_RUN
    return next((sev for sev in SEVERITIES if counts.get(sev)), "ok")


def level_class(level: str) -> str:
    """The CSS class of a level (its own colour)."""
    return "cannot-run" if level == CANNOT_RUN else level


def level_badge(level: str, title: str = "") -> str:
    return (f'<span class="badge {html_text(level_class(level))}" title="{html_text(title)}">'
            f'{html_text(level)}</span>')


def expected_found(results: Mapping[str, Any]) -> bool | None:
    """Whether a rehearsal run gave the finding code it exists to give; None: no rehearsal."""
    expected = results.get("expected")
    if not expected:
        return None
    return any(f.get("code") == expected for f in results.get("findings") or [])


def rehearsal_note(expected: str, found: bool) -> str:
    """"rehearsal: expected CODE", and whether the run gave it."""
    said = "given" if found else "NOT given: the rehearsal did not rehearse"
    return (f'<span class="rehearsal{"" if found else " missed"}">rehearsal: expected '
            f'<code>{html_text(expected)}</code> ({said})</span>')


def _links(links: RunLinks | None) -> str:
    if links is None:
        return ""
    shown = [("index of runs", links.index), ("findings.csv", links.findings),
             ("results.json", links.results), ("notebook", links.notebook)]
    return '<p class="links">' + "".join(f'<a href="{html_text(href)}">{html_text(label)}</a>'
                                         for label, href in shown if href) + "</p>"


def run_header(results: dict[str, Any], notes: list[str], links: RunLinks | None = None, *,
               findings_shown: bool = False) -> str:
    """The header: status, times, findings by severity, links, parameters, the contents
    (filled in by :func:`render_report`). The findings grouped by code, unless the notebook
    shows them itself (``findings_shown``)."""
    status = results["status"]
    findings = results["findings"]
    counts = by_severity(findings)
    level = worst_level(status, counts)
    e = html_text  # every value here may come from a tenant, a profile or an error
    found = expected_found(results)
    rows = [f'<section class="opskit opskit-run {e(level_class(level))}">',
            f'<h1>{e(results["notebook"])} {level_badge(level, f"status {status}")}</h1>',
            _links(links),
            "<dl>",
            f'<dt>profile</dt><dd>{e(results["profile"])}</dd>',
            f'<dt>started</dt><dd>{e(_when(results["started_at"]))}</dd>',
            f'<dt>finished</dt><dd>{e(_when(results["finished_at"]))}{_seconds(results)}</dd>',
            f'<dt>fails on</dt><dd>{e(results.get("fail_on", ""))} and above</dd>',
            '<dt>findings</dt><dd>'
            + (f'{severity_chips(counts)} <span class="muted">critical · high · medium · low · '
               'info</span>' if findings else '<span class="muted">none</span>') + "</dd>",
            *([f'<dt>rehearsal</dt><dd>{rehearsal_note(results["expected"], found)}</dd>']
              if found is not None else []),
            "</dl>"]
    error = results.get("error")
    if error:
        where = (f'<a href="#papermill-error-cell">cell [{e(error["cell"])}]</a>'
                 if error.get("cell") else "the kernel")
        rows.append(f'<p>The run stopped at {where}; its error is shown below, where it '
                    'happened.</p>')
        text = f'{error["ename"]}: {error["evalue"]}' if error.get("evalue") else error["ename"]
        rows.append(f'<div class="error">{e(text)}</div>')
    rows += [f'<p class="muted">{e(note)}</p>' for note in notes]
    if findings and not findings_shown:
        rows.append(findings_grouped_html(findings, more_href=links.findings if links else None))
    params = results.get("parameters") or {}
    if params:
        rows.append("<details><summary>parameters</summary><table><tbody>")
        rows += [f"<tr><th>{e(k)}</th><td><code>{e(repr(v))}</code></td></tr>"
                 for k, v in params.items()]
        rows.append("</tbody></table></details>")
    rows += [TOC_PLACEHOLDER, since_last_run(results), "</section>"]
    return "\n".join(rows)


def _first_seen_table(findings: list[dict[str, Any]], more_href: str) -> str:
    """Still-open findings, one row each, with when each was first seen (the rest of them in
    findings.csv, which has the column too)."""
    e = html_text
    rows = [f"<tr><td>{e(f.get('severity', ''))}</td><td><code>{e(f.get('code', ''))}</code>"
            f"</td><td>{e(f.get('subject', ''))}</td><td>{e(_when(str(f.get('first_seen'))))}"
            "</td></tr>" for f in findings[:SUBJECTS_LISTED]]
    more = len(findings) - SUBJECTS_LISTED
    tail = (f'<p>… and {more} more in <a href="{e(more_href)}">{e(more_href)}</a>.</p>'
            if more > 0 else "")
    return ('<table class="opskit-still-open"><thead><tr><th>severity</th><th>code</th>'
            f'<th>subject</th><th>first seen</th></tr></thead><tbody>{"".join(rows)}</tbody>'
            f"</table>{tail}")


def since_last_run(results: Mapping[str, Any]) -> str:
    """The "Since the last run" part of the header: counts of new, resolved and still-open
    findings against the previous run (linked), the new and resolved ones grouped by code,
    the still-open ones with when each was first seen. Nothing for a run without drift
    fields (written before they existed)."""
    changes = results.get("changes")
    if not isinstance(changes, Mapping):
        return ""
    e = html_text
    rows = ['<div class="opskit-drift" id="since-last-run"><h2>Since the last run</h2>']
    previous = results.get("previous_run")
    if not previous:
        rows.append('<p class="muted">No earlier run of this notebook and profile to compare '
                    "with in this report folder: every finding is new.</p>")
    else:
        # The previous run's folder is a sibling of this one: <notebook>/<profile>/<stamp>.
        href = f'../{str(previous["run_dir"]).rsplit("/", 1)[-1]}/report.html'
        checked = changes.get("resolved") is not None  # a failed run did not look for the rest
        resolved_count = f'{changes["resolved"]} resolved' if checked else \
            "resolved not checked (the run failed before it finished)"
        rows.append(f'<p><strong>{changes.get("new", 0)} new · {resolved_count} · '
                    f'{changes.get("still_open", 0)} still open</strong> since '
                    f'<a href="{e(href)}">the run of {e(_when(str(previous["started_at"])))}'
                    "</a>.</p>")
    findings = results.get("findings") or []
    new = [f for f in findings if f.get("change") == "new"]
    still_open = [f for f in findings if f.get("change") == "still open"]
    resolved = results.get("resolved") or []
    if previous:
        rows += ["<h3>New</h3>", findings_grouped_html(new, more_href=FINDINGS_CSV)]
        if changes.get("resolved") is not None:
            rows += ["<h3>Resolved</h3>", findings_grouped_html(resolved)]
    if still_open:
        rows += [f"<details><summary>Still open ({len(still_open)}), with when each was first "
                 "seen</summary>", _first_seen_table(still_open, FINDINGS_CSV), "</details>"]
    rows.append("</div>")
    return "\n".join(rows)
