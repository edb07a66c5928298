"""Executing a notebook through papermill's Python API, in a kernel that knows its run folder.

The kernel inherits this process's environment, less what the run must not see (other
tenants' secrets: see isolation); OPSKIT_RUN_DIR is set in it for the run's duration, under a
lock, so runs in one process are serialized. Run tenants in parallel in
separate processes (`opskit report` does).

A started kernel is kept warm for the next run in this process when that run's kernel would be
started identically (same kernel, environment apart from OPSKIT_RUN_DIR, working directory):
starting one is most of a short run's cost. Before each run the kernel is made fresh (see
``_FRESH_RUN``): an empty namespace and execution count, the environment, working directory,
``sys.path`` and warnings filters it started with, and no opskit module imported, so nothing a
run learned (recorded findings, secrets, caches) reaches the next. A run that failed leaves
its kernel stopped. ``OPSKIT_KERNEL_REUSE=0`` starts a kernel per run.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import Any

import nbformat

# The kernel logs to our stderr: a warning that its loopback sockets are unencrypted on every
# run, and "KeyboardInterrupt caught" when jupyter_client interrupts it at shutdown. Cell
# errors are not logs: they are in the notebook. History in memory, as nbclient starts it:
# parallel kernels do not contend for ~/.ipython's history file.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL", "--HistoryManager.hist_file=:memory:"]
# After the last cell, the kernel is asked to shut down and, if it has not exited within half
# of shutdown_wait_time, terminated. ipykernel 7 misses that on about one run in four (its control
# thread waits on the output thread its shutdown has already stopped), so the default 5 s added
# 2.5 s to those runs. Every output is in by then: 1 s gives a healthy kernel (~0.1 s) room.
KERNEL_MANAGER_CONFIG = {"KernelManager": {"shutdown_wait_time": 1.0}}
REUSE_ENV = "OPSKIT_KERNEL_REUSE"  # "0": a kernel per run (the baseline, and for debugging)
START_ATTEMPTS = 3  # a kernel that dies before it replies is started at most twice more
STARTUP_TIMEOUT = 60.0  # seconds for a kernel to reply to kernel_info (papermill's default)
TIMEOUT_ENAME = "RunTimeout"
_run_lock = threading.Lock()

# Run in the kernel before each run, silently and outside its history. The first run of a
# kernel records what it started with; every run then starts from that.
_FRESH_RUN = """\
def _opskit_fresh_run(values):
    import os, sys, warnings
    start = sys.__dict__.setdefault("_opskit_kernel_start", (
        dict(os.environ), os.getcwd(), list(sys.path), list(warnings.filters)))
    environ, cwd, path, filters = start
    shell = get_ipython()
    shell.reset(new_session=True)  # user namespace, Out, In [1]
    shell.custom_exceptions, shell.CustomTB = (), None  # opskit's handler, in JupyterLab mode
    os.environ.clear()
    os.environ.update(environ)
    os.environ.update(values)
    os.chdir(cwd)
    sys.path[:] = path
    warnings.filters[:] = filters
    for name in [m for m in sys.modules if m == "opskit" or m.startswith("opskit.")]:
        del sys.modules[name]  # its module state: learned secrets, caches, warnings given
_opskit_fresh_run({values})  # its own definition goes with the reset
"""


class KernelStartError(RuntimeError):
    """The kernel did not start, or died before its first cell, on every attempt."""


class RunTimeout(Exception):
    """The whole run took longer than its timeout."""


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
    kernel_pid: int | None = None  # which kernel ran it (a warm one runs several in turn)


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


def reuse_enabled() -> bool:
    return os.environ.get(REUSE_ENV, "1").strip() != "0"


class _Kernel:
    """A started kernel, and the key of the environment it was started in."""

    def __init__(self, kernel_name: str, key: str) -> None:
        from jupyter_client.manager import AsyncKernelManager
        from traitlets.config import Config

        self.key = key
        self.manager = AsyncKernelManager(kernel_name=kernel_name,
                                          config=Config(KERNEL_MANAGER_CONFIG))
        self._client: Any = None
        make_client = self.manager.client

        def client(**kwargs: Any) -> Any:
            # One client for the kernel's life, its channels started once: nbclient would make
            # one per run and, as it does not own the manager, leave each open.
            if self._client is None:
                self._client = make_client(**kwargs)
                self._client.start_channels()
                self._client.start_channels = lambda *args, **kwargs: None
            return self._client

        async def alive(timeout: float | None = None) -> None:
            # After its first reply, "ready" is "alive": jupyter_client's own check waits
            # 0.2 s for an IOPub message on every call, which nbclient makes on every run.
            if not await self.manager.is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")

        self._alive_check = alive

        self.manager.client = client  # type: ignore[method-assign]

    @property
    def pid(self) -> int | None:
        process = getattr(self.manager.provisioner, "process", None)
        return getattr(process, "pid", None)

    async def start(self, values: Mapping[str, str]) -> None:
        await self.manager.start_kernel(extra_arguments=KERNEL_ARGUMENTS, cwd=os.getcwd())
        await self.prepare(values)

    async def prepare(self, values: Mapping[str, str]) -> None:
        """Wait for the kernel to reply, then make it fresh for a run with ``values`` set."""
        client = self.manager.client()
        await client.wait_for_ready(timeout=STARTUP_TIMEOUT)
        client.wait_for_ready = self._alive_check  # type: ignore[method-assign]
        msg_id = client.execute(_FRESH_RUN.replace("{values}", repr(dict(values))),
                                silent=True, store_history=False)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                reply = await client.get_shell_msg(timeout=1)
            except Empty:
                await self._alive_check()  # a kernel that died since its last run
                if time.monotonic() > deadline:
                    raise KernelStartError(f"the kernel did not reply within "
                                           f"{STARTUP_TIMEOUT:g} s") from None
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        if reply["content"]["status"] != "ok":
            raise KernelStartError(f"the kernel could not be made fresh for the run: "
                                   f"{reply['content'].get('ename')}: "
                                   f"{reply['content'].get('evalue')}")

    def close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.stop_channels()

    def kill(self) -> None:
        """From any thread: the kernel process gone now (nbclient notices within a second)."""
        if (pid := self.pid) is not None:
            with suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    async def stop(self) -> None:
        self.close_client()
        with suppress(Exception):  # already dead, or never started: nothing more to stop
            if await self.manager.is_alive():
                await self.manager.shutdown_kernel()
        with suppress(Exception):
            await self.manager.cleanup_resources()


def _run_sync(coroutine: Any) -> Any:
    """On the event loop nbclient uses in this thread (the kernel's sockets belong to it)."""
    from jupyter_core.utils import ensure_event_loop

    return ensure_event_loop().run_until_complete(coroutine)


_warm: _Kernel | None = None


def stop_warm_kernel() -> None:
    """Stop the kernel kept for the next run, if any (at exit, or when the next needs another)."""
    global _warm
    kernel, _warm = _warm, None
    if kernel is not None:
        _run_sync(kernel.stop())


atexit.register(stop_warm_kernel)


def _environment_key(kernel_name: str, per_run: Iterable[str],
                     scope: Iterable[str] = ()) -> str:
    """What a kernel started now would differ in, apart from the run's own variables; a
    digest, so that no copy of the environment's secrets is kept. ``scope``: the profiles the
    run may reach; a kernel serves one scope only, whatever the environment (profiles whose
    secrets are files or keyring entries leave no trace in it)."""
    skip = set(per_run)
    seen = {k: v for k, v in os.environ.items() if k not in skip}
    # The run's own names count: the kernel keeps its first run's values of them as started.
    text = json.dumps([kernel_name, os.getcwd(), sys.executable, sorted(skip),
                       sorted(seen.items()), sorted(scope)])
    return hashlib.sha256(text.encode()).hexdigest()


def _kernel_for(kernel_name: str, values: Mapping[str, str], expired: threading.Event,
                current: list[_Kernel], scope: Iterable[str] = ()) -> _Kernel:
    """A kernel ready for a run with ``values`` set: the warm one if its environment is this
    one, else a new one, started again (at most twice) if it dies before replying."""
    global _warm
    key = _environment_key(kernel_name, values, scope)
    if _warm is not None and _warm.key != key:
        stop_warm_kernel()
    if _warm is not None:
        kernel, _warm = _warm, None
        current.append(kernel)
        try:
            _run_sync(kernel.prepare(values))
            return kernel
        except Exception:  # it died while it waited: start another
            current.remove(kernel)
            _run_sync(kernel.stop())
    problem = ""
    for attempt in range(1, START_ATTEMPTS + 1):
        if expired.is_set():
            raise RunTimeout
        kernel = _Kernel(kernel_name, key)
        current.append(kernel)
        try:
            _run_sync(kernel.start(values))
            return kernel
        except Exception as exc:
            current.remove(kernel)
            _run_sync(kernel.stop())
            if expired.is_set():
                raise RunTimeout from exc
            problem = _first_line(exc) or type(exc).__name__
            if attempt < START_ATTEMPTS:
                print(f"opskit: the kernel did not start ({problem}); starting it again "
                      f"({attempt + 1} of {START_ATTEMPTS})", file=sys.stderr, flush=True)
    raise KernelStartError(f"{problem} ({START_ATTEMPTS} attempts)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _kernel_name(notebook: Path) -> str:
    spec = nbformat.read(notebook, as_version=4).metadata.get("kernelspec") or {}
    return str(spec.get("name") or "python3")


def execute(notebook: Path, *, parameters: Mapping[str, Any], output_path: Path,
            env: Mapping[str, str], hidden: Iterable[str] = (),
            timeout: float | None = None, scope: Iterable[str] = ()) -> Execution:
    """Run every cell; a failing cell is an outcome (``error``), not an exception. The kernel
    has this process's environment with ``env`` set and ``hidden`` removed. ``timeout``: in
    seconds for the whole run, kernel start included; at expiry the kernel is stopped and the
    run fails with ``RunTimeout``. ``scope``: the profiles the run may reach; a warm kernel is
    reused only by a run of the same scope."""
    from .._imports import papermill as import_papermill

    papermill = import_papermill()  # first: without what it need not import
    from papermill.exceptions import PapermillExecutionError

    global _warm
    with _run_lock, _environment(env, hidden):
        started = time.perf_counter()
        expired = threading.Event()
        current: list[_Kernel] = []  # the run's kernel, once there is one: what expiry stops

        def expire() -> None:
            expired.set()
            for kernel in list(current):
                kernel.kill()

        watchdog = threading.Timer(timeout, expire) if timeout is not None else None
        if watchdog is not None:
            watchdog.daemon = True
            watchdog.start()
        kernel: _Kernel | None = None
        try:
            kernel = _kernel_for(_kernel_name(notebook), env, expired, current, scope)
            executed = papermill.execute_notebook(
                str(notebook), str(output_path), parameters=dict(parameters),
                # Relative paths in parameters are the caller's, as for any command line.
                cwd=os.getcwd(),
                progress_bar=False, log_output=False,
                # One write at the end: a crash discards the whole run folder anyway.
                request_save_on_cell_execute=False, km=kernel.manager)
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
            error = CellError(None, type(exc).__name__, _first_line(exc))
        finally:
            if watchdog is not None:
                watchdog.cancel()
        if expired.is_set():  # whatever the kernel's death looked like from here
            error = CellError(None, TIMEOUT_ENAME,
                              f"the run did not finish within {timeout:g} s; its kernel was "
                              "stopped")
        pid = kernel.pid if kernel is not None else None
        if kernel is not None:
            if error is None and reuse_enabled():
                _warm = kernel
            else:  # a failed run's kernel may be dead or in any state: not reused
                _run_sync(kernel.stop())
        return Execution(executed, error, time.perf_counter() - started, pid)
