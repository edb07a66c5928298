"""Tenants run together never see each other's secrets: `opskit report` over several profiles
with distinct secrets, and a notebook that prints its whole environment and reads another
tenant's secret file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from opskit._run import evidence, isolation
from opskit.config import load_profiles

from .test_runner import closed_port_url

NOTEBOOK = Path(__file__).parent / "notebooks" / "environment.ipynb"
SECRETS = {"T01_SECRET": "t01-Secret-9Hq2xLw", "T01_SS_TOKEN": "t01-Reference-Token-4Kd8",
           "T02_SECRET": "t02-Secret-7Vb3nPz"}
T03_FILE_SECRET = "t03-File-Secret-2Mc6"


def _config(tmp_path: Path) -> Path:
    url = closed_port_url()  # the notebook reaches no tenant: it only shows what it holds
    (tmp_path / "t03-token").write_text(T03_FILE_SECRET + "\n")
    path = tmp_path / "opskit.toml"
    path.write_text(f"""
[profiles.t01]
kind = "cloud"
tenant = "{url}"
client_id = "scim@t01.example"
client_secret = "env:T01_SECRET"
reference = "t01-ss"

[profiles.t01-ss]
kind = "onprem"
base_url = "{url}/SCIMConnector/v2"
token = "env:T01_SS_TOKEN"

[profiles.t02]
kind = "cloud"
tenant = "{url}"
client_id = "scim@t02.example"
client_secret = "env:T02_SECRET"

[profiles.t03]
kind = "onprem"
base_url = "{url}/SCIMConnector/v2"
token = "file:{tmp_path / 't03-token'}"
""")
    return path


def _artefacts(out: Path, profile: str) -> str:
    [run_dir] = (out / "environment" / profile).iterdir()
    return "\n".join(p.read_text(errors="replace") for p in sorted(run_dir.rglob("*"))
                     if p.is_file())


def test_each_tenant_sees_only_its_own_secrets(tmp_path: Path) -> None:
    config = _config(tmp_path)
    out = tmp_path / "out"
    env = {**os.environ, **SECRETS, "OPSKIT_CONFIG": str(config),
           "OPSKIT_TEST_PEEK": str(tmp_path / "t03-token")}
    r = subprocess.run([sys.executable, "-m", "opskit.cli", "report", "--profile", "t01,t02",
                        "--notebooks", str(NOTEBOOK), "--out", str(out), "--jobs", "2"],
                       capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    every_secret = [*SECRETS.values(), T03_FILE_SECRET]
    for secret in every_secret:
        assert secret not in r.stdout + r.stderr  # the fleet's own log
    t01, t02 = _artefacts(out, "t01"), _artefacts(out, "t02")
    # Each kernel held its own profile's variables (and its reference's), masked in what it
    # printed, and not the other tenant's at all.
    assert "T01_SECRET=***" in t01 and "T01_SS_TOKEN=***" in t01
    assert "T02_SECRET=" not in t01
    assert "T02_SECRET=***" in t02
    assert "T01_SECRET=" not in t02 and "T01_SS_TOKEN=" not in t02
    # A secret a run could reach by itself (another tenant's file) is masked all the same.
    assert "peeked: ***" in t01 and "peeked: ***" in t02
    for text in (t01, t02):
        for secret in every_secret:
            assert secret not in text
    for profile in ("t01", "t02"):  # each run's manifest matches what the fleet left
        [run_dir] = (out / "environment" / profile).iterdir()
        assert evidence.verify(run_dir).problems == []


def test_profiles_used_follow_references_and_the_parameter(tmp_path: Path) -> None:
    profiles = load_profiles(_config(tmp_path))
    assert isolation.profiles_used("t01", profiles) == {"t01", "t01-ss"}
    assert isolation.profiles_used("t02", profiles, ["t03"]) == {"t02", "t03"}
    assert isolation.profiles_used("t02", profiles, ["not-a-profile"]) == {"t02"}
    assert isolation.foreign_variables({"t02"}, profiles) == {"T01_SECRET", "T01_SS_TOKEN"}
    assert isolation.foreign_variables({"t01", "t01-ss"}, profiles) == {"T02_SECRET"}


def test_scrub_files_masks_every_form_a_file_may_hold(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T02_SECRET", 'a"quoted<secret>&1')
    isolation.learn_secrets(load_profiles(_config(tmp_path)).values())
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.json").write_text('{"x": "a\\"quoted<secret>&1"}')
    (run_dir / "report.html").write_text("<p>a&quot;quoted&lt;secret&gt;&amp;1</p>")
    (run_dir / "clean.txt").write_text("nothing here")
    touched = isolation.scrub_files(run_dir)
    assert sorted(p.name for p in touched) == ["report.html", "results.json"]
    assert (run_dir / "results.json").read_text() == '{"x": "***"}'
    assert (run_dir / "report.html").read_text() == "<p>***</p>"
    assert T03_FILE_SECRET not in "".join(p.read_text() for p in run_dir.iterdir())
