"""The notebook engine: warm kernels that still run each notebook fresh, a kernel that does not
start started again, and a whole run's timeout. Each test runs real kernels, in-process."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from opskit._run import engine
from opskit.errors import RunError
from opskit.runner import run_notebook

pytestmark = pytest.mark.slow  # real kernels and processes; handed out early

RUN_DIR = "OPSKIT_RUN_DIR"


def _notebook(folder: Path, name: str, *sources: str, kernel: str = "python3") -> Path:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def _run(notebook: Path, tmp_path: Path, *, run_dir: str = "run", hidden: tuple[str, ...] = (),
         timeout: float | None = None, scope: tuple[str, ...] = ()) -> engine.Execution:
    return engine.execute(notebook, parameters={}, output_path=tmp_path / f"{run_dir}.out.ipynb",
                          env={RUN_DIR: str(tmp_path / run_dir)}, hidden=hidden,
                          timeout=timeout, scope=scope)


def _printed(execution: engine.Execution) -> dict[str, object]:
    """What the notebook's last cell printed as JSON."""
    text = "".join(o.get("text", "") for o in execution.notebook.cells[-1].outputs)
    return json.loads(text)


@pytest.fixture(autouse=True)
def _no_warm_kernel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)  # a kernel of this test's own: its environment is this one
    monkeypatch.delenv(engine.REUSE_ENV, raising=False)
    yield
    engine.stop_warm_kernel()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers signal 0 until its parent reaps it: look at its state.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[-1][:1] != "Z"


def test_a_warm_kernel_runs_the_next_notebook_with_nothing_of_the_previous(tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    leaves = _notebook(
        tmp_path, "leaves",
        "import os, sys, warnings\nimport opskit, opskit._redact\nleaked_global = 42",
        f"os.environ['LEAKED_VARIABLE'] = 'x'\nos.chdir({str(elsewhere)!r})\n"
        "sys.path.append('/leaked/path')\nwarnings.simplefilter('error')\n"
        "opskit.leaked_state = True\nopskit._redact.remember('leaked-secret-value-123')\n"
        "print(os.getpid())")
    looks = _notebook(
        tmp_path, "looks",
        "import json, os, sys, warnings\nimport opskit, opskit._redact",
        "print(json.dumps({'pid': os.getpid(), 'global': 'leaked_global' in globals(),\n"
        "    'variable': 'LEAKED_VARIABLE' in os.environ, 'cwd': os.getcwd(),\n"
        "    'path': '/leaked/path' in sys.path,\n"
        "    'filter': warnings.filters[0][0] if warnings.filters else None,\n"
        "    'opskit': hasattr(opskit, 'leaked_state'),\n"
        "    'secret': opskit._redact.redact('leaked-secret-value-123'),\n"
        f"    'run_dir': os.environ[{RUN_DIR!r}]}}))")
    first = _run(leaves, tmp_path, run_dir="a")
    second = _run(looks, tmp_path, run_dir="b")
    assert first.error is None and second.error is None
    seen = _printed(second)
    assert seen["pid"] == first.kernel_pid == second.kernel_pid  # one kernel, reused
    assert seen == {"pid": seen["pid"], "global": False, "variable": False,
                    "cwd": str(tmp_path), "path": False, "filter": seen["filter"],
                    "opskit": False, "secret": "leaked-secret-value-123",
                    "run_dir": str(tmp_path / "b")}
    assert seen["filter"] != "error"  # the warnings filter the first one added
    # Numbered from In [1], as in a kernel of its own.
    assert [c.execution_count for c in second.notebook.cells] == [1, 2]
    # A warm kernel that died while it waited (killed, out of memory) is replaced.
    assert engine._warm is not None
    engine._warm.kill()
    third = _run(looks, tmp_path, run_dir="c")
    assert third.error is None and third.kernel_pid not in (None, second.kernel_pid)
    assert _printed(third)["run_dir"] == str(tmp_path / "c")


def test_another_environment_another_kernel_and_reuse_can_be_turned_off(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    pid = _notebook(tmp_path, "pid", "import os\nprint(os.getpid())")
    monkeypatch.setenv("OTHER_TENANT_SECRET", "s3cret-of-the-other-tenant")
    tenant_a = _run(pid, tmp_path, run_dir="a")
    # Another tenant's run: this secret is hidden from its kernel, so the kernel differs.
    tenant_b = _run(pid, tmp_path, run_dir="b", hidden=("OTHER_TENANT_SECRET",))
    assert tenant_a.error is None and tenant_b.error is None
    assert tenant_a.kernel_pid != tenant_b.kernel_pid
    assert tenant_a.kernel_pid is not None and not _alive(tenant_a.kernel_pid)
    # The same environment (secrets in files leave no trace in it), another tenant's scope.
    tenant_c = _run(pid, tmp_path, run_dir="c1", hidden=("OTHER_TENANT_SECRET",),
                    scope=("globex",))
    assert tenant_c.error is None and tenant_c.kernel_pid != tenant_b.kernel_pid
    tenant_c_again = _run(pid, tmp_path, run_dir="c2", hidden=("OTHER_TENANT_SECRET",),
                          scope=("globex",))
    assert tenant_c_again.kernel_pid == tenant_c.kernel_pid  # its own scope: reused
    monkeypatch.setenv(engine.REUSE_ENV, "0")
    again = _run(pid, tmp_path, run_dir="c", hidden=("OTHER_TENANT_SECRET",))
    assert again.error is None and again.kernel_pid != tenant_b.kernel_pid
    assert tenant_b.kernel_pid is not None and not _alive(tenant_b.kernel_pid)
    assert tenant_c.kernel_pid is not None and not _alive(tenant_c.kernel_pid)
    assert again.kernel_pid is not None and not _alive(again.kernel_pid)  # not kept


def _kernelspec(monkeypatch: pytest.MonkeyPatch, folder: Path, name: str,
                argv: list[str]) -> None:
    spec = folder / "kernels" / name
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": name, "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(folder))


def test_a_kernel_that_dies_at_start_is_started_again_at_most_twice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]):
    attempts = tmp_path / "attempts"
    _kernelspec(monkeypatch, tmp_path / "jupyter", "dies", [
        sys.executable, "-c",
        f"open({str(attempts)!r}, 'a').write('x'); raise SystemExit(3)",
        "-f", "{connection_file}"])
    result = _run(_notebook(tmp_path, "nb", "print(1)", kernel="dies"), tmp_path)
    assert attempts.read_text() == "xxx"
    assert result.error is not None and result.error.execution_count is None
    assert result.error.ename == "KernelStartError"
    assert "Kernel died before replying to kernel_info" in result.error.evalue
    logged = [line for line in capfd.readouterr().err.splitlines() if "starting it again" in line]
    assert len(logged) == 2


def test_a_kernel_that_starts_on_the_second_attempt_runs_the_notebook(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]):
    attempts = tmp_path / "attempts"
    # Dies the first time; then the real kernel.
    _kernelspec(monkeypatch, tmp_path / "jupyter", "flaky", [
        sys.executable, "-c",
        "import sys, runpy\n"
        f"f = open({str(attempts)!r}, 'a+'); f.seek(0); before = f.read(); f.write('x'); "
        "f.close()\n"
        "if not before: raise SystemExit(3)\n"
        "sys.argv = ['ipykernel_launcher', *sys.argv[1:]]\n"
        "runpy.run_module('ipykernel_launcher', run_name='__main__')",
        "-f", "{connection_file}"])
    result = _run(_notebook(tmp_path, "nb", "print('ran')", kernel="flaky"), tmp_path)
    assert result.error is None, result.error
    assert attempts.read_text() == "xx"
    assert result.notebook.cells[0].outputs[0]["text"] == "ran\n"
    assert "starting it again (2 of 3)" in capfd.readouterr().err


def _with_parameters(folder: Path, name: str, *sources: str) -> Path:
    path = _notebook(folder, name, 'profile = "sandbox"', *sources)
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].metadata["tags"] = ["parameters"]
    nbformat.write(nb, path)
    return path


def test_a_run_longer_than_its_timeout_is_stopped_and_fails(tmp_path: Path):
    pid_file = tmp_path / "kernel.pid"
    sleeps = _with_parameters(tmp_path, "sleeps",
                              f"import os\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))",
                              "import time\ntime.sleep(600)",
                              "from opskit.report import record\nrecord([])")
    result = run_notebook(sleeps, out_dir=tmp_path / "out", timeout=4, update_index=False)
    assert (result.status, result.exit_code) == ("failed", 2)
    assert result.results["error"]["ename"] == engine.TIMEOUT_ENAME
    assert "within 4 s" in result.results["error"]["evalue"]
    on_disk = json.loads((result.run_dir / "results.json").read_text())
    assert (on_disk["status"], on_disk["error"]) == ("failed", result.results["error"])
    assert sorted(p.name for p in result.run_dir.iterdir()) == [
        "findings.csv", "manifest.json", "report.html", "results.json",
        "sleeps.ipynb"]  # no papermill copy
    assert not _alive(int(pid_file.read_text()))
    assert engine._warm is None  # a failed run's kernel is not kept


@pytest.mark.parametrize("seconds", [0, -1, float("inf"), float("nan")])
def test_a_timeout_that_is_not_a_positive_number_of_seconds_is_refused(
        tmp_path: Path, seconds: float):
    notebook = _with_parameters(tmp_path, "nb", "print(1)")
    with pytest.raises(RunError, match="--timeout") as refused:
        run_notebook(notebook, out_dir=tmp_path / "out", timeout=seconds)
    assert "e.g. --timeout 600" in refused.value.remediation
    assert not (tmp_path / "out").exists()


def test_papermill_is_imported_without_pyarrow_and_leaves_it_importable():
    import subprocess

    code = ("import sys\nfrom opskit._imports import papermill\npapermill()\n"
            "print('pyarrow' in sys.modules, sys.modules.get('pyarrow.fs', 'absent'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["False", "absent"]
