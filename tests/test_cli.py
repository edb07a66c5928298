"""`opskit sandbox …` as a user runs it: one clear line on bad input, never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from opskit.cli import main
from opskit.sandbox.serve import bind

from .bounded import cli, run_bounded
from .conftest import SMALL, run_opskit

pytestmark = pytest.mark.slow  # subprocesses, notebook runs among them


def opskit(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run_opskit(*args, timeout=timeout)


def test_serve_refuses_a_bad_tenant_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = SMALL.read_text()
    bad.write_text(text.replace("folder: f1, user: u-scim", "folder: f9, user: u-scim"))
    r = opskit("sandbox", "serve", "--data", str(bad), "--port", "0")
    assert r.returncode == 2
    assert r.stderr.startswith(f"opskit: {bad}: permissions[0].folder: no folder with id 'f9'")
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_serve_refuses_bad_faults() -> None:
    r = opskit("sandbox", "serve", "--data", str(SMALL), "--faults", "429=2")
    assert r.returncode == 2 and "--faults: fault 429: 2.0 is not a share" in r.stderr
    assert "Traceback" not in r.stderr


def test_serve_reports_a_busy_port() -> None:
    sock = bind()
    try:
        port = str(sock.getsockname()[1])
        r = opskit("sandbox", "serve", "--data", str(SMALL), "--port", port)
        assert r.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in r.stderr
        assert "Traceback" not in r.stderr
    finally:
        sock.close()


def test_serve_runs_until_sigterm() -> None:
    sock = bind()
    port = sock.getsockname()[1]
    sock.close()
    proc = subprocess.Popen([sys.executable, "-m", "opskit.cli", "sandbox", "serve", "--data",
                             str(SMALL), "--port", str(port), "--latency-ms", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith(f"practice tenant 'acme' at http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/_sandbox/health")
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert health.json()["tenant"] == "acme"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert proc.returncode == 0


def test_demo_data_then_tour(tmp_path: Path) -> None:
    r = opskit("sandbox", "demo-data", "--out", str(tmp_path), "--scale", "1", "--seed", "3")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "tenant.yaml").is_file() and (tmp_path / "iga_export.csv").is_file()
    r = opskit("sandbox", "tour", "--data", str(tmp_path / "tenant.yaml"))
    assert r.returncode == 0, r.stderr
    assert "token issued to scim.integration@acme.com" in r.stdout
    rows = {line.split()[0]: line.split()[1:] for line in r.stdout.splitlines()
            if line.split() and line.split()[0] in ("Users", "PrivilegedData", "Containers")}
    cloud, onprem = (int(n.replace(",", "")) for n in rows["Containers"])
    assert 0 < cloud < onprem  # the service account does not own every folder
    assert r.stdout.rstrip().endswith("practice tenant stopped")
    assert "practice-only" not in r.stdout + r.stderr


def _profiles(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "opskit.toml"
    path.write_text(f"""
[profiles.practice-cloud]
kind = "cloud"
tenant = "{url}"
client_id = "scim.integration@acme.com"
client_secret = "env:PRACTICE_SCIM_SECRET"

[profiles.practice-onprem]
kind = "onprem"
base_url = "{url}/SCIMConnector/v2"
token = "file:{tmp_path / 'onprem-token'}"
""")
    (tmp_path / "onprem-token").write_text("practice-onprem-token\n")
    return path


def test_inventory_with_cloud_and_onprem_profiles(tmp_path: Path, sandbox) -> None:
    from opskit.inventory import load_snapshot

    config = _profiles(tmp_path, sandbox.url)
    env = {**os.environ, "OPSKIT_CONFIG": str(config), "PRACTICE_SCIM_SECRET": "practice-only"}
    counts, read = {}, {}
    # Secret permissions are read by default; the flag skips them.
    for name, flags in (("practice-cloud", ["--no-secret-permissions"]),
                        ("practice-onprem", [])):
        out = tmp_path / name
        r = subprocess.run([sys.executable, "-m", "opskit.cli", "inventory", "--profile", name,
                            "--out", str(out), "--quiet", *flags], capture_output=True,
                           text=True, env=env, timeout=120, cwd=tmp_path.parent)
        assert r.returncode == 0, r.stderr
        assert "practice-only" not in r.stdout + r.stderr
        snap = load_snapshot(out)
        counts[name], read[name] = snap.counts(), snap.meta["secret_permissions_read"]
    assert read == {"practice-cloud": False, "practice-onprem": True}
    assert counts["practice-cloud"]["privileged_data_permissions"] == 0
    assert counts["practice-onprem"]["privileged_data_permissions"] > 0
    # tests/data/small.yaml: the cloud sees 3 of 5 folders and 2 of 5 secrets.
    assert counts["practice-cloud"]["containers"] == 3
    assert counts["practice-onprem"]["containers"] == 5
    assert counts["practice-cloud"]["privileged_data"] == 2
    assert counts["practice-onprem"]["privileged_data"] == 5


def test_inventory_without_profile_uses_the_practice_tenant(tmp_path: Path) -> None:
    r = opskit("inventory", "--out", str(tmp_path / "snap"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "inventory of sandbox (cloud" in r.stdout
    assert (tmp_path / "snap" / "manifest.json").is_file()


def test_inventory_with_missing_secret_says_so(tmp_path: Path, sandbox) -> None:
    config = _profiles(tmp_path, sandbox.url)
    env = {k: v for k, v in os.environ.items() if k != "PRACTICE_SCIM_SECRET"}
    r = subprocess.run([sys.executable, "-m", "opskit.cli", "inventory", "--profile",
                        "practice-cloud", "--out", str(tmp_path / "x")], capture_output=True,
                       text=True, env={**env, "OPSKIT_CONFIG": str(config)}, timeout=60)
    assert r.returncode == 2
    assert "PRACTICE_SCIM_SECRET is not set" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------- local mistakes
def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The single line a command wrote on stderr (it wrote nothing else there)."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("\n") and "Traceback" not in err, err
    return err[:-1]


@pytest.mark.parametrize(("args", "problem"), [
    (["sandbox", "serve", "--port", "99999"], "argument --port: 99999 is out of range: give 0 "
                                              "to 65535"),
    (["sandbox", "serve", "--port", "-1"], "argument --port: -1 is out of range"),
    (["sandbox", "serve", "--latency-ms", "-50"], "argument --latency-ms: -50 is out of range: "
                                                  "give 0 to 60,000 milliseconds"),
    (["sandbox", "serve", "--latency-ms", "nan"], "argument --latency-ms: nan is out of range"),
    (["sandbox", "serve", "--latency-ms", "inf"], "argument --latency-ms: inf is out of range"),
    (["sandbox", "demo-data", "--out", "x", "--scale", "0"], "argument --scale: 0 is out of "
                                                             "range: give 1 to 1000"),
    (["sandbox", "demo-data", "--out", "x", "--scale", "1001"], "argument --scale: 1001 is out "
                                                                "of range: give 1 to 1000"),
    (["sandbox", "demo-data", "--out", "x", "--seed", "-1"], "argument --seed: -1 is out of "
                                                             "range: give 0 to 4294967295"),
    (["sandbox", "demo-data", "--out", "x", "--seed", "7.5"], "argument --seed: '7.5' is not a "
                                                             "whole number"),
    (["report", "--jobs", "0"], "argument --jobs: 0 is out of range: give 1 or more"),
])
def test_numbers_on_the_command_line_are_checked(args: list[str], problem: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2
    assert one_line(capsys).startswith(f"opskit: {problem}")


def test_serving_beyond_this_machine_is_warned(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.yaml"  # stops the command right after the warning
    assert main(["sandbox", "serve", "--host", "0.0.0.0", "--data", str(missing)]) == 2
    warning, error = capsys.readouterr().err.splitlines()
    assert warning.startswith("opskit: warning: --host 0.0.0.0 lets other machines reach the "
                              "practice tenant") and "anyone on the network" in warning
    assert error == f"opskit: {missing}: file not found"
    assert main(["sandbox", "serve", "--host", "127.0.0.1", "--data", str(missing)]) == 2
    assert one_line(capsys) == error


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create files in: one made read-only, or for root (whom
    modes do not stop) sysfs's top folder, where nobody can."""
    if os.geteuid() == 0:
        return Path("/sys")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


OUT_COMMANDS = [["run", "token_check"], ["report"], ["inventory"], ["sandbox", "demo-data"],
                ["compare", "before", "after"]]


@pytest.mark.parametrize("command", OUT_COMMANDS, ids=lambda c: " ".join(c))
def test_out_must_be_a_folder_that_can_be_written(command: list[str], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Refused up front, before a tenant is started or anything is written."""
    a_file = tmp_path / "report.txt"
    a_file.write_text("not a folder\n")
    locked = unwritable_folder(tmp_path)
    cases = {a_file: f"--out {a_file} is a file, not a folder",
             a_file / "sub": f"--out {a_file / 'sub'}: {a_file} is a file, so no folder can be "
                             "made below it",
             locked / "opskit" / "out": f"--out {locked / 'opskit' / 'out'}: cannot write in "
                                        f"{locked} ("}
    for out, problem in cases.items():
        assert main([*command, "--out", str(out)]) == 2
        assert one_line(capsys).startswith(f"opskit: {problem}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        {"report.txt"} | ({locked.name} if locked.is_relative_to(tmp_path) else set()))


def test_a_path_that_is_not_a_notebook_is_refused(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "some.txt"
    text.write_text("hello\n")
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    out = str(tmp_path / "out")
    for args, path, reason in ((["run", str(text)], text, "it is not JSON"),
                               (["run", str(broken)], broken, "it is not JSON"),
                               (["report", "--notebooks", str(broken)], broken, "it is not JSON")):
        assert main([*args, "--out", out]) == 2
        assert one_line(capsys) == (f"opskit: {path} is not a Jupyter notebook: {reason} → give "
                                    "the path of an .ipynb file saved by Jupyter, or a "
                                    "notebook's name")
    list_nb = tmp_path / "list.ipynb"
    list_nb.write_text("[1, 2]")
    assert main(["run", str(list_nb), "--out", out]) == 2
    assert "is not a Jupyter notebook: it is JSON, but not in the notebook format" in one_line(
        capsys)


def test_a_full_disk_is_one_line_and_leaves_nothing_half_written(tmp_path: Path) -> None:
    """Writing past 4 KiB fails with EFBIG in the child (RLIMIT_FSIZE), as on a full disk."""
    out = tmp_path / "demo"
    r = run_bounded(cli, "sandbox", "demo-data", "--out", str(out), max_file_kb=4, timeout=60)
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr_lines == ["opskit: cannot write: File too large → free some disk space (or "
                              "raise the file size limit), or write somewhere else, then run "
                              "again"]
    assert list(out.iterdir()) == []  # the temporary file is gone, and no tenant.yaml appeared


def test_output_to_a_closed_pipe_ends_quietly_with_the_commands_code(tmp_path: Path) -> None:
    """`opskit token-check | head -1`: the reader is gone before the command writes; the
    command still finishes, says nothing on stderr and exits with its own code."""
    for args, code in ((["token-check"], 0),
                       (["run", "nope", "nada", "--out", str(tmp_path)], 2)):
        proc = subprocess.Popen([sys.executable, "-m", "opskit.cli", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # as `head` does once it has its line
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == code
        assert "Traceback" not in err and "BrokenPipe" not in err
        assert err.count("opskit: ") == (0 if code == 0 else 2), err


STRAY_PAPERMILL = '''import os
raise RuntimeError("papermill could not start: token " + os.environ["CRASH_TOKEN"])
'''
CRASH_TOKEN = "crash-token-0123456789abcdef"


@pytest.fixture
def crashing(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A working directory where `python -m opskit.cli run` crashes the way Python programs do:
    a stray papermill.py there shadows the library, and its error quotes a profile's secret."""
    (tmp_path / "papermill.py").write_text(STRAY_PAPERMILL)
    config = tmp_path / "opskit.toml"
    config.write_text('[profiles.crashy]\nkind = "onprem"\n'
                      'base_url = "https://127.0.0.1:9/SCIMConnector/v2"\n'
                      'token = "env:CRASH_TOKEN"\n')
    env = {**os.environ, "CRASH_TOKEN": CRASH_TOKEN, "XDG_STATE_HOME": str(tmp_path / "state")}
    env.pop("OPSKIT_DEBUG", None)
    return tmp_path, env


def test_a_crash_is_exit_2_one_line_and_a_redacted_crash_log(
        crashing: tuple[Path, dict[str, str]]) -> None:
    here, env = crashing
    r = run_opskit("run", "token_check", "--profile", "crashy", env=env, cwd=here, timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    [line] = r.stderr.splitlines()
    [log] = (here / "state" / "opskit").iterdir()
    assert line == ("opskit: unexpected error (RuntimeError: papermill could not start: token "
                    f"***); details in {log} (or run again with --debug)")
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "papermill.py" in text
    assert CRASH_TOKEN not in text and "command: opskit run token_check" in text
    assert log.stat().st_mode & 0o777 == 0o600


def test_a_crash_in_a_tenants_process_fails_that_tenant_and_debug_shows_it(
        crashing: tuple[Path, dict[str, str]]) -> None:
    """`opskit report` runs `python -m opskit.cli run … --json` per tenant: the crash there
    is that tenant's exit 2, and --debug reaches it and shows the traceback."""
    here, env = crashing
    r = run_opskit("report", "--profile", "crashy", "--notebooks", "token_check", "--debug",
                   env=env, cwd=here, timeout=90)
    assert r.returncode == 2
    assert "crashy (its process failed)" in r.stdout
    assert "[crashy] Traceback (most recent call last):" in r.stderr
    assert "[crashy] RuntimeError: papermill could not start: token ***" in r.stderr
    assert CRASH_TOKEN not in r.stdout + r.stderr
    assert not (here / "state").exists()  # --debug: shown, not logged
