"""How notebooks display things, so the headless HTML report keeps them (and offline), and
shows data as text: every table cell and label is escaped (``styled``), since a Styler writes
its cells into the HTML as they are.

nbconvert drops plotly's default output, and the stock `notebook` renderer adds a MathJax
script from a CDN to every figure. `setup()` selects `plotly_mimetype+opskit`: the plotly
mimetype for JupyterLab, plus HTML that the report shows, with nothing fetched from the network.
plotly.js itself is not in the notebook (JupyterLab brings its own): the report page embeds it
or links the report folder's copy (`opskit._run.assets`).
"""

from __future__ import annotations

import os
from typing import Any

from ._lab_errors import show_errors_briefly
from .escaping import html_text, markdown_prose
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
    """A frame as a report shows it (:func:`styled`: escaped, no index unless ``index``); an
    empty frame becomes a one-line note saying why (``empty``) instead of a bare header row."""
    from IPython.display import Markdown

    if frame is None or len(frame) == 0:
        return Markdown(f"*{markdown_prose(empty)}*")
    return styled(frame, index=index)


def headless() -> bool:
    """Whether this notebook runs under `opskit run`/`opskit report` (nobody is watching:
    widgets take their defaults, nothing waits for input)."""
    return bool(os.environ.get(RUN_DIR_ENV))
