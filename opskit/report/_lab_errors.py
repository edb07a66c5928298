"""An opskit error in JupyterLab as its message and remedy, not a traceback.

Every error opskit raises on purpose already says what is wrong and what to do; the 40 lines
of traceback above it only hide that. It stays an error output (name, message, and these lines
as its traceback), so a failed cell is found by papermill and nbclient as before; opskit's own
headless runs keep the full traceback.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from .._redact import redact
from ..errors import OpskitError

TRACEBACK_HINT = "%tb shows the traceback"


def error_lines(error: OpskitError) -> list[str]:
    """What a notebook shows for ``error``: its message and remedy, secrets masked."""
    lines = [f"{type(error).__name__}: {redact(error.message)}"]
    if error.remediation:
        lines.append(f"  → {redact(error.remediation)}")
    return [*lines, f"({TRACEBACK_HINT})"]


def show_error(shell: Any, etype: type[BaseException], value: BaseException,
               tb: TracebackType | None, tb_offset: int | None = None) -> list[str]:
    """IPython's custom exception handler for OpskitError (``shell.set_custom_exc``).

    Shown as an error output whose "traceback" is the message and remedy: the cell still fails
    (Run All stops there), and papermill or nbclient still read the error's name and message,
    whether or not opskit's runner started them."""
    # Kept where %tb looks for the last error, as IPython keeps any other one.
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb
    if sys.version_info >= (3, 12):
        sys.last_exc = value
    if isinstance(value, OpskitError):
        shell._showtraceback(etype, value, error_lines(value))
    return []


def show_errors_briefly() -> None:
    """In an interactive IPython session (JupyterLab), show each OpskitError a cell raises as
    :func:`error_bundle`; elsewhere nothing changes."""
    ipython = sys.modules.get("IPython")  # not imported: no IPython session to change
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        shell.set_custom_exc((OpskitError,), show_error)
