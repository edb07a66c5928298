"""The executed notebook made safe to keep: parameters, streams and tracebacks scrubbed.

papermill records the parameters in the notebook's metadata and in the injected cell in clear
text. Secrets are refused as parameters before a run, so this is the second line: whatever a
cell printed, raised or displayed is scrubbed too (known secrets and JWTs everywhere;
credential patterns in prose only, since they could corrupt a script such as plotly.js).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import nbformat

from .._json import map_strings
from .secrets import scrub_markup, scrub_text, scrub_tree

INJECTED_TAG = "injected-parameters"
_PROSE_MIMETYPES = ("text/plain", "text/markdown", "text/latex")


def _scrub_output(output: nbformat.NotebookNode) -> None:
    kind = output.get("output_type")
    if kind == "stream":
        output["text"] = scrub_text(output.get("text", ""))
    elif kind == "error":
        output["evalue"] = scrub_text(output.get("evalue", ""))
        output["traceback"] = [scrub_text(line) for line in output.get("traceback", [])]
    elif kind in ("display_data", "execute_result"):
        data = output.get("data", {})
        for mimetype, content in data.items():
            if isinstance(content, str):
                data[mimetype] = (scrub_text(content) if mimetype in _PROSE_MIMETYPES
                                  else scrub_markup(content))
            elif isinstance(content, list):  # nbformat allows multiline strings as lists
                data[mimetype] = [scrub_text(c) if mimetype in _PROSE_MIMETYPES
                                  else scrub_markup(c) for c in content]
            else:  # JSON mimetypes (a plotly figure): markup rules for every string in it
                data[mimetype] = map_strings(content, scrub_markup)


def redact_notebook(nb: nbformat.NotebookNode, *, parameters: Mapping[str, Any],
                    input_path: str, output_name: str) -> None:
    """Scrub an executed notebook in place; ``parameters`` are the (already checked) values."""
    meta = nb.metadata.setdefault("papermill", {})
    meta["parameters"] = scrub_tree(dict(parameters))
    meta["input_path"] = input_path
    meta["output_path"] = output_name  # relative: the run folder moves when it is committed
    for cell in nb.cells:
        if INJECTED_TAG in cell.get("metadata", {}).get("tags", []):
            cell["source"] = scrub_text(cell.get("source", ""))
        for output in cell.get("outputs", []):
            _scrub_output(output)
