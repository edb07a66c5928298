"""`make demo`'s last step: every report on the practice tenant and the failure rehearsals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opskit.sandbox.rehearsals import REHEARSALS
from opskit.sandbox.serve import RunningSandbox
from opskit.sandbox.tenantfile import load_tenant

from .conftest import SMALL, DemoBuild
from .test_notebooks import JWT

pytestmark = pytest.mark.slow  # the demo's build (RUN_TOGETHER in conftest)


def test_demo_reports_and_rehearsals(demo_build: DemoBuild) -> None:
    r, out = demo_build.run, demo_build.out
    assert r.returncode == 0, r.stdout + r.stderr  # ran, whatever the reports found
    assert f"index: {(out / 'index.html').resolve()}" in r.stdout
    assert "practice-only" not in r.stdout + r.stderr
    runs = json.loads((out / "index.json").read_text())["runs"]
    by_profile = demo_build.runs()
    for run in runs:
        assert (out / run["report"]).is_file()
    notebooks = sorted(p.stem for p in (Path(__file__).parent.parent / "opskit"
                                        / "notebooks").glob("*.ipynb"))
    for profile in ("sandbox", "sandbox-onprem"):  # the notebooks' own default profile names
        assert sorted(run["notebook"] for run in by_profile[profile]) == notebooks
        assert all(run["status"] != "failed" for run in by_profile[profile])
    [token_check] = [r for r in by_profile["sandbox"] if r["notebook"] == "token_check"]
    assert token_check["status"] == "ok"  # a healthy tenant's token check finds nothing
    expected = {"rehearsal-wrong-secret": "TOKEN_INVALID_CLIENT",
                "rehearsal-wrong-scope": "TOKEN_INVALID_SCOPE",
                "rehearsal-unreachable": "TENANT_UNREACHABLE"}
    for profile, code in expected.items():
        [run] = [r for r in by_profile[profile] if r["notebook"] == "token_check"]
        results = json.loads((out / run["results"]).read_text())
        assert results["status"] == "findings"
        assert [f["code"] for f in results["findings"]] == [code]
    for name, rehearsal in REHEARSALS.items():
        [run] = [r for r in by_profile[f"rehearsal-{name}"]
                 if r["notebook"] == "tenant_onboarding"]
        results = json.loads((out / run["results"]).read_text())
        assert run["notebook"] == "tenant_onboarding" and results["status"] == "findings"
        assert rehearsal.code in [f["code"] for f in results["findings"]]
    # Each rehearsal is marked with the code it exists to give, and gave it.
    expected |= {f"rehearsal-{name}": r.code for name, r in REHEARSALS.items()}
    assert {run["profile"]: (run["expected"], run["expected_found"]) for run in runs
            if run["expected"]} == {p: (code, True) for p, code in expected.items()}
    assert all(run["expected"] is None for run in by_profile["sandbox"])
    # One naming scheme: the built-in profiles, and rehearsal-<what> for every rehearsal.
    assert set(by_profile) == {"sandbox", "sandbox-onprem", *expected}
    page = (out / "index.html").read_text()
    assert page.count("rehearsal: expected ") >= 2 * len(expected)  # latest and all runs
    assert (out / "index.html").read_text().count("report.html") >= len(runs)


def test_demo_reports_share_one_plotly_js(demo_build: DemoBuild) -> None:
    """`opskit report`'s default: one plotly.js in the report folder, linked relatively by every
    page with a chart; neither the pages nor the notebooks carry a copy
    (browser/test_demo_pages draws them from it)."""
    out = demo_build.out
    [copy] = (out / "_static").glob("plotly-*.min.js")  # one copy for every run
    library = copy.read_text(encoding="utf-8")
    middle = library[len(library) // 2:len(library) // 2 + 200]
    linked = 0
    for run in json.loads((out / "index.json").read_text())["runs"]:
        report = out / run["report"]
        page = report.read_text(encoding="utf-8")
        depth = len(report.parent.relative_to(out).parts)
        linked += f'<script src="{"../" * depth}_static/{copy.name}"></script>' in page
        assert library[:200] not in page and middle not in page
        notebook = next(report.parent.glob("*.ipynb")).read_text(encoding="utf-8")
        assert middle not in notebook and "plotly.js v" not in notebook
        if "plotly-graph-div" in page:
            assert "application/vnd.plotly.v1+json" in notebook  # JupyterLab draws it from this
    assert linked >= 4  # permission audit and group gap on sandbox and sandbox-onprem


def test_demo_writes_no_secret_and_no_token(demo_build: DemoBuild,
                                            sandbox: RunningSandbox) -> None:
    """Every notebook's passing runs (and the rehearsals' failing ones): neither the tenant's
    client secret, its on-prem token nor any bearer token is in any file the demo wrote."""
    tenant = load_tenant(SMALL)  # the demo's tenant file
    secrets = [tenant.service_account.client_secret, tenant.onprem.token]
    # The pattern finds the tokens the practice tenant issues (so finding none means something).
    _, issued = sandbox.sandbox.issuer.issue(
        {"grant_type": "client_credentials", "client_id": tenant.service_account.client_id,
         "client_secret": secrets[0], "scope": "xpm.platform"}, sandbox.url)
    assert JWT.fullmatch(issued["access_token"])
    written = [p for p in demo_build.out.parent.rglob("*") if p.is_file()]
    assert len(written) > 20 * 4
    for file in written:
        text = file.read_text(errors="replace")
        assert not any(s in text for s in secrets), file
        assert not JWT.search(text), file
