"""The scripts a report page needs (plotly.js, 4.8 MB), either kept once per report folder and
linked from every page (``<out>/_static/<name>``, the default of `opskit report` and `opskit
run`), or embedded in each page (``single_file``: a report.html that stands alone).

Either way nothing is fetched from the network, and the executed notebook holds none of it
(JupyterLab draws figures from their plotly mimetype). A page whose shared copy cannot be
loaded (report.html moved out of its folder) says so where each chart would be, rather than
showing a blank.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..report.escaping import html_text
from . import files

STATIC = "_static"  # beside index.html: one copy of each asset for every run under it
PLOTLY_MIMETYPE = "application/vnd.plotly.v1+json"


@dataclass(frozen=True)
class Asset:
    """A file report pages load: its name under ``_static/`` (versioned, so a newer one never
    overwrites what older pages load) and its text (read only when it is written or embedded)."""

    name: str
    text: Callable[[], str]


def shared_asset(out: Path, asset: Asset) -> Path:
    """``<out>/_static/<asset.name>``, written once (atomically: concurrent runs of `opskit
    report` may race to write the same bytes) and reused by every later run."""
    target = out / STATIC / asset.name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        files.atomic_write_text(target, asset.text())
    return target


def relative_url(target: Path, page_dir: Path) -> str:
    """``target`` as a page in ``page_dir`` links it: relative, so the report folder can move."""
    return Path(os.path.relpath(target.resolve(), page_dir.resolve())).as_posix()


def shared_url(out: Path, asset: Asset, page_dir: Path) -> str:
    """The relative URL by which a page in ``page_dir`` loads the report folder's copy of
    ``asset`` (written now if it is not there yet)."""
    return relative_url(shared_asset(out, asset), page_dir)


def plotly_js() -> Asset:
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    return Asset(f"plotly-{get_plotlyjs_version()}.min.js", get_plotlyjs)


def shows_figures(nb: nbformat.NotebookNode) -> bool:
    """Whether an output of the notebook is a plotly figure."""
    return any(PLOTLY_MIMETYPE in out.get("data", {})
               for cell in nb.cells if cell.cell_type == "code"
               for out in cell.get("outputs", []))


def _plotly_setup() -> str:
    # What plotly's notebook renderer writes before its library: MathJax kept local.
    from plotly.io._base_renderers import _mathjax_config, _window_plotly_config

    return f"<script>\n{_window_plotly_config}\n{_mathjax_config}\n</script>"


def _js_string(text: str) -> str:
    """A JavaScript string literal that cannot end the ``<script>`` it is in."""
    return json.dumps(text).replace("<", "\\u003c")


def missing_library(url: str) -> str:
    """A stand-in for plotly when its shared copy did not load: each chart becomes a note that
    says why and what to do (and nothing throws)."""
    note = (f"This chart is drawn by plotly.js, kept once for every report in the report "
            f"folder ({url}), which this page could not load. Open report.html inside its "
            f"report folder (beside index.html), or run with --single-file for a report that "
            f"stands alone.")
    return ("<script>\nif (!window.Plotly) { window.Plotly = { newPlot: function (id) {\n"
            "  var chart = document.getElementById(id);\n"
            "  chart.classList.add('opskit-missing-library');\n"
            f"  chart.textContent = {_js_string(note)};\n"
            "  return Promise.resolve(chart);\n} }; }\n</script>")


NOSCRIPT = ('<noscript><p class="opskit-missing-library">Charts need JavaScript: in JupyterLab, '
            'choose "Trust HTML" above the page, or open it in a browser.</p></noscript>')


@dataclass(frozen=True)
class Shared:
    """Where a page's assets are shared: ``folder`` (the report folder, whose ``_static/``
    holds them) and ``page_dir`` (the page's own folder, where its links start)."""

    folder: Path
    page_dir: Path


def page_scripts(nb: nbformat.NotebookNode, shared: Shared | None) -> tuple[str, str]:
    """The report page's scripts (for its ``<head>``) and a note for its body shown where
    scripts do not run; both empty when the notebook shows no figure. ``shared``: link the
    report folder's copy (written now if missing); None embeds it."""
    if not shows_figures(nb):
        return "", ""
    asset = plotly_js()
    if shared is None:
        return f"{_plotly_setup()}\n<script>{asset.text()}</script>", NOSCRIPT
    url = shared_url(shared.folder, asset, shared.page_dir)
    return (f'{_plotly_setup()}\n<script src="{html_text(url)}"></script>\n'
            f'{missing_library(url)}', NOSCRIPT)
