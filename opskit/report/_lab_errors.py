"""An opskit error in JupyterLab as its message and remedy, not a traceback.

Every error opskit raises on purpose already says what is wrong and what to do; the 40 lines
of traceback above it only hide that. Headless runs keep the traceback: papermill finds a failed
cell by its error output, and the runner reports the failure from it.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from .._redact import redact
from ..errors import OpskitError
from .escaping import html_text

TRACEBACK_HINT = "%tb shows the traceback"


def error_bundle(error: OpskitError) -> dict[str, str]:
    """What a notebook shows for ``error``: its message and remedy, secrets masked, escaped."""
    kind, message, remedy = type(error).__name__, redact(error.message), redact(error.remediation)
    plain = f"{kind}: {redact(str(error))}\n({TRACEBACK_HINT})"
    remedy_html = f"<br>→ {html_text(remedy)}" if remedy else ""
    html = (f'<div class="opskit-error" style="border-left:4px solid #c0392b;'
            f'padding:0.4em 0.8em;white-space:pre-wrap"><strong>{html_text(kind)}</strong>: '
            f"{html_text(message)}{remedy_html}<br><small>({TRACEBACK_HINT})</small></div>")
    return {"text/plain": plain, "text/html": html}


def show_error(shell: Any, etype: type[BaseException], value: BaseException,
               tb: TracebackType | None, tb_offset: int | None = None) -> list[str]:
    """IPython's custom exception handler for OpskitError (``shell.set_custom_exc``)."""
    from IPython.display import display

    # Kept where %tb looks for the last error, as IPython keeps any other one.
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb
    if sys.version_info >= (3, 12):
        sys.last_exc = value
    if isinstance(value, OpskitError):
        display(error_bundle(value), raw=True)
    return []  # no traceback lines: the bundle says it all


def show_errors_briefly() -> None:
    """In an interactive IPython session (JupyterLab), show each OpskitError a cell raises as
    :func:`error_bundle`; elsewhere nothing changes."""
    ipython = sys.modules.get("IPython")  # not imported: no IPython session to change
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        shell.set_custom_exc((OpskitError,), show_error)
