"""`opskit report` as a fleet run: its id, the token check first, per-tenant retry of what could
not run for a transient reason, the per-tenant timeout, resume, and the summary.

The process tests run tiny notebooks of tests/notebooks/fleet/ (no tenant is reached): a kernel
that dies at its start is a kernelspec installed here, which dies whenever the process that
started it already saw it die, so that only a new process (the fleet's retry) gets past it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from opskit._run import fleet
from opskit._run.fleet import FleetSummary, TenantOutcome

from .notebooks.build import FLAKY_KERNEL

pytestmark = pytest.mark.slow  # real kernels and processes; handed out early

FLEET_NB = Path(__file__).parent / "notebooks" / "fleet"
FLEET_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{4}$")

# Dies at its start when the opskit process starting it has seen it die before; else a kernel.
FLAKY_LAUNCHER = """\
import os, sys
marker, args = sys.argv[1], sys.argv[2:]
parent = str(os.getppid())
if not os.path.exists(marker):
    open(marker, "w").write(parent)
    sys.exit(1)
if open(marker).read() == parent:
    sys.exit(1)
os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *args])
"""


def opskit(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opskit.cli", *args], capture_output=True,
                          text=True, timeout=240, env={**os.environ, **env}, cwd=cwd)


def runs_of(out: Path, notebook: str, profile: str) -> list[dict[str, Any]]:
    """The complete runs of one pair, oldest first."""
    found = [json.loads(p.read_text()) for p in
             (out / notebook / profile).glob("[!.]*/results.json")]
    return sorted(found, key=lambda r: r["started_at"])


def fleet_id(stdout: str) -> str:
    ids = re.findall(r"^fleet run:? (\S+)", stdout, re.MULTILINE)
    assert ids and len(set(ids)) == 1 and FLEET_ID.match(ids[0]), stdout
    return ids[0]


@pytest.fixture
def flaky_kernel(tmp_path: Path) -> dict[str, str]:
    """JUPYTER_PATH with the kernelspec that dies at its first start in each process."""
    spec = tmp_path / "jupyter" / "kernels" / FLAKY_KERNEL
    spec.mkdir(parents=True)
    (spec / "launch.py").write_text(FLAKY_LAUNCHER)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, str(spec / "launch.py"), str(tmp_path / "flaky-started"),
                 "-f", "{connection_file}"],
        "display_name": "flaky", "language": "python"}))
    config = tmp_path / "opskit.toml"
    config.write_text('[profiles.refused]\nkind = "cloud"\ntenant = "http://127.0.0.1:9"\n'
                      'client_id = "scim@example.com"\nclient_secret = "env:OPSKIT_TEST_SECRET"\n')
    return {"JUPYTER_PATH": str(tmp_path / "jupyter"), "OPSKIT_CONFIG": str(config),
            "OPSKIT_TEST_SECRET": "not-a-real-secret-4d1e"}


def test_the_token_check_gates_and_only_transient_failures_are_retried(
        tmp_path: Path, flaky_kernel: dict[str, str]) -> None:
    out = tmp_path / "out"
    notebooks = ",".join(str(FLEET_NB / f"{n}.ipynb")
                         for n in ("kills_kernel", "flaky_kernel", "token_check"))
    r = opskit("report", "--profile", "sandbox,refused", "--notebooks", notebooks,
               "--out", str(out), "--jobs", "2", "--retries", "1", env=flaky_kernel,
               cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    fleet_run = fleet_id(r.stdout)

    # The refused token: given last, run first; the others not run, not findings.
    [token] = runs_of(out, "token_check", "refused")
    assert token["status"] == "findings" and token["fleet_run"] == fleet_run
    assert not (out / "kills_kernel" / "refused").exists()
    assert not (out / "flaky_kernel" / "refused").exists()
    rows = [line.split() for line in r.stdout.splitlines() if line.startswith("refused ")]
    assert [row[1:3] for row in rows] == [["kills_kernel", "not"], ["flaky_kernel", "not"],
                                         ["token_check", "findings"]]
    assert [row[-3:] for row in rows[:2]] == [["check", "failed:", "TOKEN_REFUSED"]] * 2

    # The kernel that died before the first cell: retried in a new process, which ran it.
    first, second = runs_of(out, "flaky_kernel", "sandbox")
    assert first["status"] == "failed" and first["error"]["cell"] is None
    assert second["status"] == "ok"
    assert first["fleet_run"] == second["fleet_run"] == fleet_run
    assert "[sandbox] retrying flaky_kernel (attempt 2 of 2): flaky_kernel: the kernel:" \
        in r.stderr
    # The kernel killed by its own cell would die again: one run, failed, not retried.
    [killed] = runs_of(out, "kills_kernel", "sandbox")
    assert killed["status"] == "failed" and killed["fleet_run"] == fleet_run
    assert "retrying kills_kernel" not in r.stderr and r.stderr.count("retrying") == 1
    [passed] = runs_of(out, "token_check", "sandbox")
    assert passed["status"] == "ok"

    assert "findings at or above high (exit 1): refused/token_check" in r.stdout
    assert ("could not run (exit 2): sandbox/kills_kernel, refused/kills_kernel (skipped after "
            "a failed token check), refused/flaky_kernel (skipped after a failed token check)"
            in r.stdout)
    assert ("2 ran clean, 1 with findings, 1 could not run, 2 skipped after a failed token "
            "check") in r.stdout
    plan = json.loads((out / "_fleet" / f"{fleet_run}.json").read_text())
    assert plan["profiles"] == ["sandbox", "refused"] and plan["counts"] == {
        "clean": 2, "findings": 1, "could_not_run": 1, "skipped": 2}
    assert flaky_kernel["OPSKIT_TEST_SECRET"] not in r.stdout + r.stderr


def _dead(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def test_a_timed_out_tenant_is_killed_and_resume_runs_only_what_is_missing(
        tmp_path: Path) -> None:
    out, pidfile = tmp_path / "out", tmp_path / "kernel.pid"
    notebooks = ",".join(str(FLEET_NB / f"{n}.ipynb") for n in ("token_check", "sleeps"))
    r = opskit("report", "--notebooks", notebooks, "--out", str(out), "--timeout", "5",
               "--retries", "0", env={"OPSKIT_TEST_SLEEP": "600",
                                      "OPSKIT_TEST_PIDFILE": str(pidfile)}, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    fleet_run = fleet_id(r.stdout)
    assert "could not run (exit 2): sandbox (its process failed)" in r.stdout
    assert "sleeps · sandbox: not run: timed out after 5 s" in r.stdout
    assert runs_of(out, "sleeps", "sandbox") == []
    # Nothing half-written stays behind, and the sleeping kernel went with its process.
    assert list(out.glob("*/sandbox/.*")) == []
    if pidfile.exists():  # the kernel had reached its cell before the timeout
        assert _dead(int(pidfile.read_text()))
    done_before = len(runs_of(out, "token_check", "sandbox"))
    plan = json.loads((out / "_fleet" / f"{fleet_run}.json").read_text())
    assert (plan["fail_on"], plan["timeout"], plan["single_file"]) == ("high", 5, False)

    # The plan's settings, but a longer --timeout: what timed out may need longer.
    r = opskit("report", "--resume", "--out", str(out), "--timeout", "120", env={},
               cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "its settings: --fail-on high, --timeout 120\n" in r.stdout
    assert json.loads((out / "_fleet" / f"{fleet_run}.json").read_text())["timeout"] == 120
    assert fleet_id(r.stdout) == fleet_run
    assert f"fleet run {fleet_run} (resumed): {2 - done_before} run(s) failed or missing on " \
        f"1 profile(s), {done_before} done" in r.stdout
    # Each pair has one complete run in the fleet run: what was done was not run again.
    for name in ("token_check", "sleeps"):
        [run] = runs_of(out, name, "sandbox")
        assert run["status"] == "ok" and run["fleet_run"] == fleet_run
    assert "2 ran clean, 0 with findings, 0 could not run, 0 skipped" in r.stdout

    r = opskit("report", "--resume", "nope", "--out", str(out), env={}, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith(f"opskit: --resume: no fleet run 'nope' in {out}: fleet runs "
                               f"there: {fleet_run}; give one of them")


# --- in process -----------------------------------------------------------------------------

def test_a_kill_at_timeout_reaches_processes_in_sessions_of_their_own() -> None:
    """Jupyter starts each kernel in a session of its own: killing the tenant's process group
    alone would leave it running."""
    parent = ("import subprocess, sys, time\n"
              "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],"
              " start_new_session=True)\n"
              "print(child.pid, flush=True)\ntime.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    fleet._kill_tree(proc.pid)
    assert proc.wait(timeout=60) == -9
    for _ in range(600):  # an orphan is reaped by whoever inherits it
        if _dead(child):
            break
        time.sleep(0.05)
    assert _dead(child)


@pytest.mark.parametrize(("args", "message"), [
    (["--resume", "--profile", "acme"], "opskit: --resume runs what that fleet run planned: "
     "leave out --profile and --notebooks"),
    (["--retries", "6"], "opskit: argument --retries: 6 is out of range: give 0 to 5"),
    (["--timeout", "0"], "opskit: argument --timeout: 0 is out of range: give 1 or more"),
])
def test_report_refuses_bad_fleet_options_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
        message: str) -> None:
    from opskit.cli import main

    with pytest.raises(SystemExit) if "argument" in message else contextlib.nullcontext():
        assert main(["report", *args, "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(message)
    assert list(tmp_path.iterdir()) == []


def test_fleet_run_ids_sort_by_start_and_differ() -> None:
    ids = {fleet.new_fleet_run() for _ in range(20)}
    assert all(FLEET_ID.match(i) for i in ids) and len(ids) > 1


def test_the_token_check_goes_first_and_the_rest_keeps_its_order() -> None:
    given = ["b", "a/token_check.ipynb", "c"]
    assert fleet.token_check_first(given) == ["a/token_check.ipynb", "b", "c"]
    assert fleet.token_check_first(["b", "c"]) == ["b", "c"]


def test_why_a_token_check_did_not_pass() -> None:
    def finding(code: str, severity: str) -> dict[str, str]:
        return {"code": code, "severity": severity}

    assert fleet.token_check_failure({"status": "ok", "findings": []}) is None
    # Its own threshold (high): a medium finding passes, whatever the fleet fails on.
    assert fleet.token_check_failure({"status": "ok", "findings": [
        finding("SCOPE_WIDE", "medium")]}) is None
    assert fleet.token_check_failure({"status": "ok", "findings": [
        finding("SCOPE_WIDE", "medium"), finding("TOKEN_REFUSED", "critical")]}) \
        == "token check failed: TOKEN_REFUSED"
    assert fleet.token_check_failure({"status": "failed", "findings": [], "error": {
        "cell": None, "ename": "DeadKernelError", "evalue": "x"}}) \
        == "token check could not run: DeadKernelError"


def _failed_run(tmp_path: Path, name: str, error: dict[str, Any]) -> dict[str, Any]:
    run_dir = tmp_path / name
    run_dir.mkdir()
    (run_dir / "results.json").write_text(json.dumps({"status": "failed", "error": error}))
    return {"notebook": name, "status": "failed", "run_dir": str(run_dir)}


def test_which_failures_are_transient(tmp_path: Path) -> None:
    def kernel(ename: str, evalue: str) -> dict[str, Any]:
        return {"cell": None, "ename": ename, "evalue": evalue}

    assert fleet.transient(_failed_run(tmp_path, "start", kernel(
        "RuntimeError", "Kernel died before replying to kernel_info")))
    assert fleet.transient(_failed_run(tmp_path, "silent", kernel(
        "RuntimeError", "Kernel didn't respond in 60 seconds")))
    assert fleet.transient(_failed_run(tmp_path, "spent", kernel(
        "KernelStartError", "the kernel did not start (3 attempts)")))
    assert fleet.transient(_failed_run(tmp_path, "slow", kernel("RunTimeout", "")))
    assert not fleet.transient(_failed_run(tmp_path, "midway", kernel(
        "DeadKernelError", "Kernel died")))
    assert not fleet.transient(_failed_run(tmp_path, "record", kernel("RecordError", "x")))
    assert not fleet.transient(_failed_run(
        tmp_path, "cell", {"cell": 3, "ename": "RuntimeError", "evalue": "Kernel didn't respond"}))
    assert fleet.transient({**fleet.refused("nb", "p", "timed out after 5 s"),
                            "transient": True})
    assert not fleet.transient(fleet.refused("nb", "p", "no profile named 'p'"))


def test_resume_says_what_it_cannot_find(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no fleet run to resume in .*: `opskit report` "
                       r"records each one in .*_fleet; run it first"):
        fleet.read_plan(tmp_path, None)
    for fleet_run in ("20260101T000000Z-aaaa", "20260102T000000Z-0000"):
        fleet.write_plan(tmp_path, {"fleet_run": fleet_run, "profiles": ["p"],
                                    "notebooks": ["nb.ipynb"]})
    assert fleet.read_plan(tmp_path, None)["fleet_run"] == "20260102T000000Z-0000"
    (tmp_path / "_fleet" / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="cannot be read as a fleet run's plan"):
        fleet.read_plan(tmp_path, "broken")


def test_the_summary_keeps_findings_apart_from_what_could_not_run() -> None:
    def run(notebook: str, status: str, code: int, **extra: Any) -> dict[str, Any]:
        return {"notebook": notebook, "status": status, "exit_code": code, **extra}

    summary = FleetSummary.of([
        TenantOutcome("a", 1, [run("x", "ok", 0), run("y", "findings", 1)], ""),
        TenantOutcome("b", 2, [run("token_check", "findings", 1),
                               run("x", "not run", 2, skipped=True)], ""),
        TenantOutcome("c", 2, [run("x", "not run", 2, transient=True),
                               run("y", "not run", 2, transient=True)], "", "timed out"),
        TenantOutcome("d", 2, [run("x", "failed", 2)], ""),
    ])
    assert summary.counts() == {"clean": 1, "findings": 2, "could_not_run": 3, "skipped": 1}
    assert summary.lines("high") == [
        "findings at or above high (exit 1): a/y, b/token_check",
        "could not run (exit 2): c (its process failed), d/x, b/x (skipped after a failed "
        "token check)",
        "1 ran clean, 2 with findings, 3 could not run, 1 skipped after a failed token check"]
