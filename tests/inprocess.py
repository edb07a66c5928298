"""The runner with its notebooks executed in this process instead of a kernel: for tests about
what the runner makes of many runs (the index, its trends), where a kernel per run would cost
3-5 s of CPU each. Everything but the kernel is the runner's own: parameters checked and
injected by papermill, OPSKIT_RUN_DIR set for record(), the record read, report.html,
results.json, the index. Only for notebooks that print and record (no display, no magics)."""

from __future__ import annotations

import io
import itertools
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nbformat.v4 import new_output

from opskit import runner
from opskit._run import engine


def execute_here(notebook: Path, *, parameters: Mapping[str, Any], output_path: Path,
                 env: Mapping[str, str], hidden: Iterable[str] = (),
                 timeout: float | None = None,
                 scope: Iterable[str] = ()) -> engine.Execution:
    """engine.execute's contract, every code cell run with exec() in a fresh namespace."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    started = time.perf_counter()
    nb = parameterize_notebook(load_notebook_node(str(notebook)), dict(parameters))
    namespace: dict[str, Any] = {"__name__": "__main__"}
    error = None
    with engine._environment(env, hidden):
        for count, cell in enumerate((c for c in nb.cells if c.cell_type == "code"), 1):
            printed = io.StringIO()
            try:
                with redirect_stdout(printed):
                    exec(compile(cell.source, f"<cell {count}>", "exec"), namespace)
            except Exception as exc:
                error = engine.CellError(count, type(exc).__name__, str(exc))
            cell.execution_count = count
            cell.outputs = ([new_output("stream", name="stdout", text=printed.getvalue())]
                            if printed.getvalue() else [])
            if error:
                break
    return engine.Execution(nb, error, time.perf_counter() - started)


@contextmanager
def days_apart(monkeypatch: pytest.MonkeyPatch, first: datetime) -> Iterator[None]:
    """Runs in the block execute here, and start a day after each other from ``first`` (each
    asks the clock twice: started, then finished a minute later)."""
    calls = itertools.count()

    def now() -> datetime:
        n = next(calls)
        return first + timedelta(days=n // 2, minutes=n % 2)

    monkeypatch.setattr(engine, "execute", execute_here)
    monkeypatch.setattr(runner, "_now", now)
    yield


FIRST_DAY = datetime(2026, 11, 1, 6, 15, tzinfo=UTC)
