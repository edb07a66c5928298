"""`opskit sandbox …` as a user runs it: one clear line on bad input, never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from opskit.sandbox.serve import bind

from .conftest import SMALL


def opskit(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opskit.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


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


def test_demo_data_refuses_bad_scale(tmp_path: Path) -> None:
    r = opskit("sandbox", "demo-data", "--out", str(tmp_path), "--scale", "0")
    assert r.returncode == 2 and "--scale must be 1 or more" in r.stderr


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
    counts = {}
    for name in ("practice-cloud", "practice-onprem"):
        out = tmp_path / name
        r = subprocess.run([sys.executable, "-m", "opskit.cli", "inventory", "--profile", name,
                            "--out", str(out), "--quiet"], capture_output=True, text=True,
                           env=env, timeout=120, cwd=tmp_path.parent)
        assert r.returncode == 0, r.stderr
        assert "practice-only" not in r.stdout + r.stderr
        counts[name] = load_snapshot(out).counts()
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
