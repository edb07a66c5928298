"""Issue 5's rehearsals: the practice tenant in each broken state, through
`opskit run tenant_onboarding`, gives the right failing check, code, remediation and exit code.

The broken states are read from the demo's build (`make demo` runs `opskit run
tenant_onboarding` on each, through `opskit report`), so they run once for both tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opskit import cli
from opskit.checks import onboarding
from opskit.config import PracticeEndpoint, PracticeProfile
from opskit.findings import REGISTRY
from opskit.sandbox.rehearsals import REHEARSALS

from .conftest import SMALL, DemoBuild

pytestmark = pytest.mark.slow  # the demo's build (RUN_TOGETHER in conftest)

# The checks' titles, by flavor and id; building the list sends nothing.
TITLES = {flavor: {c.id: c.title for c in onboarding.onboarding_checks(
    PracticeEndpoint(PracticeProfile("x", flavor), "http://127.0.0.1:1", "x", flavor,
                     f"http://127.0.0.1:1{path}"),
    None)}  # type: ignore[arg-type]
    for flavor, path in (("cloud", "/scim/v2"), ("onprem", "/SCIMConnector/v2"))}
REMEDIATION = {c.code: c.remediation for c in REGISTRY}


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("profiles") / "opskit.toml"
    path.write_text(f'[profiles.healthy]\nkind = "sandbox"\ndata = "{SMALL}"\n',
                    encoding="utf-8")
    return path


def run(config: Path, profile: str, out: Path, monkeypatch: pytest.MonkeyPatch,
        *params: str) -> tuple[int, dict]:
    monkeypatch.setenv("OPSKIT_CONFIG", str(config))
    code = cli.main(["run", "tenant_onboarding", "--profile", profile, "--out", str(out),
                     *params])
    [results] = out.glob("tenant_onboarding/*/*/results.json")
    return code, json.loads(results.read_text())


def rehearsed(demo: DemoBuild, name: str) -> tuple[int, dict]:
    """The demo's onboarding run on profile rehearsal-NAME: the exit code its line in the
    output gives (from `opskit run … --json`), and its results."""
    profile = f"rehearsal-{name}"
    [run] = [r for r in demo.runs()[profile] if r["notebook"] == "tenant_onboarding"]
    [line] = [line for line in demo.run.stdout.splitlines()
              if line.startswith(f"[{profile}] tenant_onboarding · {profile}: ")]
    return int(line.rsplit(" — exit ", 1)[1]), json.loads((demo.out / run["results"]).read_text())


@pytest.mark.parametrize("name", list(REHEARSALS))
def test_each_rehearsal_fails_at_its_check(name: str, demo_build: DemoBuild) -> None:
    rehearsal = REHEARSALS[name]
    code, results = rehearsed(demo_build, name)
    assert code == 1 and results["status"] == "findings"
    assert results["metrics"]["flavor"] == rehearsal.flavor
    assert results["metrics"]["blocked_at"] == TITLES[rehearsal.flavor][rehearsal.check]
    [finding] = [f for f in results["findings"] if f["severity"] in ("critical", "high")]
    assert finding["code"] == rehearsal.code
    assert finding["remediation"] == REMEDIATION[rehearsal.code]
    assert "practice-only" not in json.dumps(results)


def test_healthy_tenant_passes_and_the_probe_leaves_no_trace(
        config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, results = run(config, "healthy", tmp_path, monkeypatch, "-p", "apply", "true")
    assert code == 0 and results["status"] == "ok", results["findings"]
    assert results["metrics"]["blocked_at"] is None
    assert results["metrics"]["write_probe"] == "pass"  # the probe ran and cleaned up
    # info: plain HTTP on loopback, no reference count, filters and limits as documented
    assert results["metrics"]["checks"] == {"pass": 8, "info": 4}
