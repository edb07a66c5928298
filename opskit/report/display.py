"""How notebooks display things, so the headless HTML report keeps them (and offline), and
shows data as text: every table cell and label is escaped (``styled``), since a Styler writes
its cells into the HTML as they are.

Every table is interactive (:func:`interactive`, with itables' DataTables bundle): sorted by
a header click, searched, filtered per column, paged when long, and exported as CSV or XLSX
as shown (the rows the search and filters leave, in the shown order). The cells stay the
escaped HTML the Styler writes; DataTables reads them from the page, and the bundle is
embedded once per notebook (by `setup()`, or with the first table if `setup()` was not
called), so nothing is fetched from the network.

nbconvert drops plotly's default output, and the stock `notebook` renderer adds a MathJax
script from a CDN to every figure. `setup()` selects `plotly_mimetype+opskit`: the plotly
mimetype for JupyterLab, plus HTML that the report shows, with nothing fetched from the network.
plotly.js itself is not in the notebook (JupyterLab brings its own): the report page embeds it
or links the report folder's copy (`opskit._run.assets`).
"""

from __future__ import annotations

import gzip
import json
import os
from base64 import b64encode
from functools import lru_cache
from pathlib import Path
from typing import Any

from ._lab_errors import show_errors_briefly
from .escaping import FORMULA_PREFIXES, html_text, markdown_prose
from .record import RUN_DIR_ENV

RENDERER = "opskit"
DEFAULT_RENDERERS = f"plotly_mimetype+{RENDERER}"


def _offline_renderer() -> Any:
    import plotly.io as pio
    from plotly.io._base_renderers import NotebookRenderer

    class OfflineNotebookRenderer(NotebookRenderer):
        """The `notebook` renderer (plotly.js embedded once) without the MathJax CDN script."""

        def activate(self) -> None:
            """Nothing: the stock renderer displays plotly.js (4.8 MB) into the notebook here;
            the report page brings its own copy instead."""

        def to_mimebundle(self, fig_dict: dict[str, Any]) -> dict[str, str]:
            html = pio.to_html(fig_dict, config=self.config, auto_play=self.auto_play,
                               include_plotlyjs=False, include_mathjax=False,
                               full_html=False, animation_opts=self.animation_opts,
                               default_width="100%", default_height=525, validate=False)
            return {"text/html": html}

    return OfflineNotebookRenderer()


def setup(*, max_rows: int = 60, max_columns: int = 30) -> None:
    """Call once near the top of a notebook: plotly figures that render offline in the report,
    pandas tables sized for a report page, and in JupyterLab an opskit error shown as its
    message and remedy rather than a traceback."""
    import pandas as pd
    import plotly.io as pio

    if RENDERER not in pio.renderers:
        pio.renderers[RENDERER] = _offline_renderer()
    pio.renderers.default = DEFAULT_RENDERERS
    pio.templates.default = "plotly_white"
    pd.set_option("display.max_rows", max_rows)
    pd.set_option("display.min_rows", min(20, max_rows))
    pd.set_option("display.max_columns", max_columns)
    pd.set_option("display.max_colwidth", 200)  # messages and remediations, whole
    pd.set_option("display.width", 140)
    if not headless():  # papermill finds a failed cell by its traceback: keep it there
        show_errors_briefly()
    from IPython.display import HTML, display

    display(HTML(table_bundle()))


def cell_html(value: Any) -> str:
    """One table cell or label as HTML: numbers as pandas shows them, a missing value blank,
    anything else as its text, escaped (:func:`opskit.report.escaping.html_text`)."""
    import pandas as pd
    from pandas.api.types import is_float, is_scalar

    if is_scalar(value) and pd.isna(value):
        return ""
    if is_float(value):
        return f"{value:.{pd.get_option('styler.format.precision')}f}"
    return html_text(value)


# The table's own CSS, scoped to it by the Styler (``#T_<uuid> th``), so it outranks
# JupyterLab's (which right-aligns every header and cell) and reads the same in report.html:
# headers over their cells, long text wrapped rather than pushing a column off the page.
TEXT_CELLS = "text-align: left; vertical-align: top"
WRAPPED = "white-space: normal; overflow-wrap: anywhere; max-width: 40em"
NUMBERS = "text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums"


def table_styles(frame: Any) -> list[dict[str, Any]]:
    """The CSS rules of a report table of ``frame``: headers and text cells left-aligned and
    wrapping, numeric columns (header and cells) right-aligned."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    rules: list[dict[str, Any]] = [
        {"selector": "th, td", "props": TEXT_CELLS},
        {"selector": "td", "props": WRAPPED},
        {"selector": "th", "props": "white-space: normal; overflow-wrap: anywhere"}]
    numeric = [i for i, (_, dtype) in enumerate(frame.dtypes.items())
               if is_numeric_dtype(dtype) and not is_bool_dtype(dtype)]
    rules += [{"selector": f"th.col_heading.col{i}, td.col{i}", "props": NUMBERS}
              for i in numeric]
    # DataTables (interactive) puts each header's title and sort icon in a flex row, which
    # ColumnControl's CSS orders title first, icon last, !important: numbers' titles go right
    rules += [{"selector": f"th.col_heading.col{i} div.dt-column-header",
               "props": "flex-direction: row-reverse !important"} for i in numeric]
    return rules


def styled(frame: Any, *, index: bool = False) -> Any:
    """A pandas Styler of ``frame`` as reports show it: every cell, label and index name
    escaped, text left-aligned under left-aligned headers and wrapped (:func:`table_styles`),
    numbers right-aligned, the index hidden unless ``index``. Build a report's Styler from
    this one (add colours with ``.map``), never from ``frame.style``."""
    style = (frame.style.format(cell_html)
             .format_index(cell_html, axis=0).format_index(cell_html, axis=1)
             .format_index_names(cell_html, axis=0).format_index_names(cell_html, axis=1))
    if not index:
        style = style.hide(axis="index")
    return style.set_table_styles(table_styles(frame))


def table(frame: Any, *, empty: str = "Nothing to show.", index: bool = False) -> Any:
    """A frame as a report shows it (:func:`styled`: escaped, no index unless ``index``;
    :func:`interactive`); an empty frame becomes a one-line note saying why (``empty``) instead
    of a bare header row."""
    from IPython.display import Markdown

    if frame is None or len(frame) == 0:
        return Markdown(f"*{markdown_prose(empty)}*")
    return interactive(styled(frame, index=index))


PAGE_ROWS = 20  # a longer table is paged
_bundle_shown = False  # whether this kernel has shown the bundle (else a table brings it)
# Exports hold the header row, not the row of column filters under it (ColumnControl's).
_HEADER_ONLY = ("function (d) { d.headerStructure = d.headerStructure.filter(function (row) {"
                " return row.some(function (c) { return c && c.title; }); }); }")
# A CSV cell is the text the cell shows; one a spreadsheet would run as a formula gets a leading
# ' (as findings.csv's cells: opskit.report.escaping.csv_cell), numbers stay numbers. The XLSX
# export writes text cells as text (never formulas), so it needs no such guard.
_CSV_CELL = ("function (data, row, column, node) {"
             " var t = node ? node.textContent.trim() : String(data);"
             " return /^[-+]?[0-9][0-9.,]*$/.test(t) || "
             f"!{json.dumps(''.join(FORMULA_PREFIXES))}.includes(t.charAt(0)) ? t : \"'\" + t; }}")


def table_bundle() -> str:
    """itables' DataTables bundle (DataTables with its Buttons, ColumnControl and JSZip), as
    HTML that loads it from the page itself: once per notebook, before its tables."""
    global _bundle_shown
    _bundle_shown = True
    return _bundle_html()


# itables' own loader, with the bundle gzipped (about 260 KB in the page instead of 970 KB):
# the browser unpacks it (DecompressionStream), adds the CSS and imports the module under the
# name itables' table scripts wait for.
_LOADER = """<script>
if (!window.ITABLES) {
    const unpack = async (b64) => {
        const zipped = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const stream = new Blob([zipped]).stream().pipeThrough(new DecompressionStream("gzip"));
        return await new Response(stream).text();
    };
    window.ITABLES = (async () => {
        const style = document.createElement("style");
        style.textContent = await unpack("CSS_GZ");
        document.head.appendChild(style);
        const url = URL.createObjectURL(new Blob([await unpack("JS_GZ")],
                                                 { type: "application/javascript" }));
        try { return await import(url); } finally { URL.revokeObjectURL(url); }
    })();
    window.ITABLES.then(() => window.dispatchEvent(new Event("READY")));
}
</script>"""


@lru_cache(maxsize=1)
def _bundle_html() -> str:
    from itables import options
    from itables.javascript import (
        _itables_ready_event,
        _itables_underscore_version,
        read_package_file,
    )

    def packed(path: Path) -> str:
        return b64encode(gzip.compress(path.read_bytes(), 9, mtime=0)).decode("ascii")

    bundle = Path(options.dt_bundle)
    name = _itables_underscore_version()
    loader = (_LOADER.replace("ITABLES", name).replace("READY", _itables_ready_event())
              .replace("CSS_GZ", packed(bundle.with_suffix(".css")))
              .replace("JS_GZ", packed(bundle)))
    # itables' dark-theme switch, importing from the bundle loaded above, not from a CDN
    dark = read_package_file("html/init_datatables.html").replace(
        "import { set_or_remove_dark_class } from 'https://www.unpkg.com/dt_for_itables/"
        "dt_bundle.js';",
        f"const {{ set_or_remove_dark_class }} = await window.{name};")
    return loader + dark + _FILTER_BOXES


# The column filters' boxes as wide as their column, not widening a narrow column to 20
# characters (where the browser sizes boxes to their content; elsewhere they stay wide).
_FILTER_BOXES = ("<style>table.dataTable div.dtcc-search input "
                 "{ field-sizing: content; min-width: 3em; width: 100% !important; }</style>")


def table_script(table_id: str, rows: int) -> str:
    """The script that makes the table ``table_id`` (of ``rows`` rows, already in the page)
    interactive: itables' own, with opskit's options and nothing from the table's data."""
    from itables.javascript import (
        JavascriptFunction,
        check_itable_arguments,
        get_itable_arguments,
        html_table_from_template,
    )
    from itables.typing import DTForITablesOptions

    paged = rows > PAGE_ROWS
    header_only = {"customizeData": JavascriptFunction(_HEADER_ONLY)}
    csv_cells = {**header_only, "format": {"body": JavascriptFunction(_CSV_CELL)}}
    dt_args: Any = get_itable_arguments(
        None, connected=False, classes="display compact", order=[], autoWidth=False,
        style="table-layout:auto;width:auto;margin:0;caption-side:bottom",
        pageLength=PAGE_ROWS, lengthMenu=[PAGE_ROWS, 100, 500, -1], paging=paged,
        layout={"topStart": "buttons", "topEnd": "search", "bottomStart": "info",
                "bottomEnd": "paging" if paged else None},
        buttons=[*(["pageLength"] if paged else []),
                 {"extend": "csvHtml5", "footer": False, "exportOptions": csv_cells},
                 {"extend": "excelHtml5", "title": "", "exportOptions": header_only}],
        # a row of per-column filters under the headers; a header click sorts
        columnControl=[{"target": 0, "content": []}, {"target": 1, "content": ["search"]}],
        text_in_header_can_be_selected=False)
    for key in ("dt_url", "connected", "display_logo_when_loading"):
        dt_args.pop(key, None)
    check_itable_arguments(dt_args, DTForITablesOptions)
    # itables' template opens with a placeholder table: the Styler's table is the real one
    return html_table_from_template(table_id=table_id, dt_url="", connected=False,
                                    display_logo_when_loading=False,
                                    kwargs=dt_args).split("</table>", 1)[1]


class InteractiveTable:
    """A Styler shown as an interactive table (itables' DataTables): the Styler's own HTML,
    every row of it (no downsampling), then :func:`table_script`. Without JavaScript (an
    untrusted notebook) it is the Styler's table as it was."""

    def __init__(self, styler: Any) -> None:
        self.styler = styler

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_html(self) -> str:
        """The table's HTML (the DataTables bundle first, unless this kernel has shown it)."""
        import pandas as pd

        frame = self.styler.data
        # The Styler writes every row: a table it would cut (``styler.render.max_elements``)
        # is written whole, so the table and its exports hold every row of the data shown.
        with pd.option_context("styler.render.max_elements",
                               max(frame.size, pd.get_option("styler.render.max_elements"))):
            shown = self.styler.to_html()
        return interactive_html(shown, f"T_{self.styler.uuid}", len(frame))


def interactive_html(table_html: str, table_id: str, rows: int) -> str:
    """A table written as HTML (its ``<table>`` with id ``table_id``, ``rows`` rows) made
    interactive: the bundle first unless this kernel has shown it, then :func:`table_script`."""
    return (("" if _bundle_shown else table_bundle()) + table_html
            + table_script(table_id, rows))


def interactive(styler: Any) -> InteractiveTable:
    """``styler`` (from :func:`styled`) as an interactive table (:class:`InteractiveTable`)."""
    return InteractiveTable(styler)


def headless() -> bool:
    """Whether this notebook runs under `opskit run`/`opskit report` (nobody is watching:
    widgets take their defaults, nothing waits for input)."""
    return bool(os.environ.get(RUN_DIR_ENV))
