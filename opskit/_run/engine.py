"""Executing a notebook through papermill's Python API, in a kernel that knows its run folder.

The kernel inherits this process's environment, less what the run must not see (other
tenants' secrets: see isolation); OPSKIT_RUN_DIR is set in it for the run's duration, under a
lock, so runs in one process are serialized. Run tenants in parallel in
separate processes (`opskit report` does).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

# The kernel logs to our stderr: a warning that its loopback sockets are unencrypted on every
# run, and "KeyboardInterrupt caught" when jupyter_client interrupts it at shutdown. Cell
# errors are not logs: they are in the notebook.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]
# After the last cell, the kernel is asked to shut down and, if it has not exited within half
# of shutdown_wait_time, terminated. ipykernel 7 misses that on about one run in four (its control
# thread waits on the output thread its shutdown has already stopped), so the default 5 s added
# 2.5 s to those runs. Every output is in by then: 1 s gives a healthy kernel (~0.1 s) room.
KERNEL_MANAGER_CONFIG = {"KernelManager": {"shutdown_wait_time": 1.0}}
_run_lock = threading.Lock()


@dataclass(frozen=True)
class CellError:
    """Where and why the run stopped."""

    execution_count: int | None  # the cell's "In [N]"; None when no cell was reached
    ename: str
    evalue: str

    def __str__(self) -> str:
        where = f"cell [{self.execution_count}]" if self.execution_count else "the kernel"
        return f"{where}: {self.ename}: {self.evalue}" if self.evalue else f"{where}: {self.ename}"


@dataclass
class Execution:
    notebook: nbformat.NotebookNode  # as executed, with papermill's error markers on failure
    error: CellError | None
    seconds: float


@contextmanager
def _environment(values: Mapping[str, str], hidden: Iterable[str] = ()) -> Iterator[None]:
    """The kernel's environment for the block: ``values`` set, ``hidden`` removed."""
    names = {*values, *hidden}
    saved = {name: os.environ.get(name) for name in names}
    for name in hidden:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def execute(notebook: Path, *, parameters: Mapping[str, Any], output_path: Path,
            env: Mapping[str, str], hidden: Iterable[str] = ()) -> Execution:
    """Run every cell; a failing cell is an outcome (``error``), not an exception. The kernel
    has this process's environment with ``env`` set and ``hidden`` removed."""
    import papermill
    from papermill.exceptions import PapermillExecutionError
    from traitlets.config import Config

    with _run_lock, _environment(env, hidden):
        started = time.perf_counter()
        try:
            executed = papermill.execute_notebook(
                str(notebook), str(output_path), parameters=dict(parameters),
                # Relative paths in parameters are the caller's, as for any command line.
                cwd=os.getcwd(),
                progress_bar=False, log_output=False,
                # One write at the end: a crash discards the whole run folder anyway.
                request_save_on_cell_execute=False,
                extra_arguments=KERNEL_ARGUMENTS, config=Config(KERNEL_MANAGER_CONFIG))
            error = None
        except PapermillExecutionError as exc:
            # papermill wrote the notebook with its error markers before raising.
            executed = nbformat.read(output_path, as_version=4)
            error = CellError(exc.exec_count, exc.ename, exc.evalue)
        except Exception as exc:  # no kernel, a dead kernel, a timeout, a full disk: failed
            try:
                executed = nbformat.read(output_path, as_version=4)
            except Exception:  # not written, or cut short by the failure itself
                executed = nbformat.read(notebook, as_version=4)
            error = CellError(None, type(exc).__name__, str(exc).strip().splitlines()[0]
                              if str(exc).strip() else "")
        return Execution(executed, error, time.perf_counter() - started)
