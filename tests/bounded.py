"""Run a piece of opskit in a child process held to a time and a memory bound.

Children fork from a server process that has imported opskit once (multiprocessing's
forkserver), so each costs a fork, not a fresh interpreter's imports. A child's memory may grow
by at most `max_growth_mb` over what the imports took (RLIMIT_DATA): past that, allocations
fail, and the test sees a MemoryError or a crash instead of the clean refusal it expects. A
child still running after `timeout` seconds is killed, and the test fails. `max_file_kb` bounds
the size of any file the child writes (RLIMIT_FSIZE): past it a write fails with EFBIG, as on
a full disk.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(["opskit.cli", "opskit.inventory", "opskit.csvfile"])
MB = 1 << 20


@dataclass
class Outcome:
    exit_code: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    seconds: float

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def _data_size() -> int:
    """What the process has in writable private memory (VmData): what RLIMIT_DATA counts.
    Address space reserved but not yet writable (malloc's per-thread arenas, Arrow's pools) is
    not in it, so the bound is on memory used, not on memory merely reserved."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmData:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmData in /proc/self/status")


def _child(target: Callable[..., int], args: Sequence[Any], env: Mapping[str, str], cwd: str,
           max_growth: int, max_file: int | None, out: str, err: str) -> None:
    for path, fd in ((out, 1), (err, 2)):
        handle = os.open(path, os.O_WRONLY | os.O_TRUNC)
        os.dup2(handle, fd)
        os.close(handle)
    os.environ.update(env)
    os.chdir(cwd)
    limit = _data_size() + max_growth
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    if max_file is not None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file, max_file))
    code = target(*args)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0)


def run_bounded(target: Callable[..., int], *args: Any, env: Mapping[str, str] | None = None,
                cwd: str | os.PathLike[str] = ".", timeout: float = 30.0,
                max_growth_mb: int = 400, max_file_kb: int | None = None) -> Outcome:
    """Call ``target(*args)`` (an importable function returning an exit code) in a child."""
    with tempfile.TemporaryDirectory() as tmp:
        out, err = Path(tmp, "stdout"), Path(tmp, "stderr")
        out.touch()
        err.touch()
        child = _context.Process(target=_child, args=(
            target, args, dict(env or {}), os.fspath(cwd), max_growth_mb * MB,
            None if max_file_kb is None else max_file_kb << 10, str(out), str(err)))
        started = time.monotonic()
        child.start()
        child.join(timeout)
        if child.is_alive():
            child.kill()
            child.join()
            code = None
        else:
            code = child.exitcode
        return Outcome(code, out.read_text(errors="replace"), err.read_text(errors="replace"),
                       time.monotonic() - started)


def cli(*argv: str) -> int:
    """`opskit ARGV…`, as the console script runs it (for run_bounded)."""
    from opskit.cli import main

    return main(list(argv))
