"""`make demo`'s last step: every report on the practice tenant and the failure rehearsals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from opskit.demo import OTHER_TENANTS
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
    by_profile = demo_build.latest()  # the second night's, for the tenants run twice
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
    assert set(by_profile) == {"sandbox", "sandbox-onprem", *OTHER_TENANTS, *expected}
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
    for name in OTHER_TENANTS:  # the other tenants', made up by the demo
        other = load_tenant(demo_build.out.parent / f"tenant-{name}.json")
        secrets += [other.service_account.client_secret, other.onprem.token]
    # The pattern finds the tokens the practice tenant issues (so finding none means something).
    _, issued = sandbox.sandbox.issuer.issue(
        {"grant_type": "client_credentials", "client_id": tenant.service_account.client_id,
         "client_secret": secrets[0], "scope": "xpm.platform"}, sandbox.url)
    assert JWT.fullmatch(issued["access_token"])
    # The other tenants' files hold their credentials, as the demo's tenant file does: they
    # are what the practice tenants serve, not what the demo wrote about them.
    written = [p for p in demo_build.out.parent.rglob("*")
               if p.is_file() and not p.name.startswith("tenant-")]
    assert len(written) > 20 * 4
    for file in written:
        text = file.read_text(errors="replace")
        assert not any(s in text for s in secrets), file
        assert not JWT.search(text), file


# --------------------------------------------------------------------------- two nights
# What the demo does to each tenant between the nights, on tests/data/small.yaml: it disables
# the first active user holding a folder grant (Alice, Owner of /HR), grants View on the first
# folder the service account holds a grant on (/IT) to the first active user holding none
# (bob), and syncs the Platform groups Secret Server lacks (Cloud Only, made as the tenant is
# served, so pending its timed sync).
CHANGES = ("user Alice@Acme.com disabled", "bob@acme.com granted View on folder IT",
           "1 Platform group(s) synced to Secret Server (Sync Now): Cloud Only")
# What those changes must add and remove, per notebook: a disabled user still holding a grant,
# a user granted directly (Alice was already: her DIRECT_USER_GRANT stays open), the group no
# longer pending. Users are named as the audit names them (case-folded). Nothing else changes.
NEW = {"permission_audit": {("GRANT_TO_DISABLED_USER", "alice@acme.com"),
                            ("DIRECT_USER_GRANT", "bob@acme.com")}}
RESOLVED = {"group_gap_report": {("GROUP_SYNC_PENDING", "Cloud Only")}}
TWICE = ("sandbox", *OTHER_TENANTS)  # one profile per tenant, on both nights


def pairs(findings: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(f["code"], f["subject"]) for f in findings}


def nights(demo_build: DemoBuild) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Index entries of each (profile, notebook), oldest first."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in json.loads((demo_build.out / "index.json").read_text())["runs"]:
        found.setdefault((run["profile"], run["notebook"]), []).append(run)
    return {k: sorted(v, key=lambda r: r["run_dir"]) for k, v in found.items()}


def test_each_tenant_changed_between_the_nights(demo_build: DemoBuild) -> None:
    said = demo_build.run.stdout.split("Between the nights", 1)[1].split("Night 2", 1)[0]
    for tenant in ("acme", *OTHER_TENANTS):
        for change in CHANGES:
            assert f"  {tenant}: {change}" in said, (tenant, change)


def test_second_night_shows_exactly_the_new_and_resolved_findings(
        demo_build: DemoBuild) -> None:
    out = demo_build.out
    runs = nights(demo_build)
    for profile in TWICE:
        for notebook in ("group_gap_report", "permission_audit", "tenant_onboarding",
                         "token_check"):
            first, second = runs[profile, notebook]  # two nights, nothing more
            before = json.loads((out / first["results"]).read_text())
            after = json.loads((out / second["results"]).read_text())
            assert before["previous_run"] is None, (profile, notebook)
            assert after["previous_run"] == {"run_dir": first["run_dir"],
                                             "started_at": before["started_at"]}
            new = {(f["code"], f["subject"]) for f in after["findings"] if f["change"] == "new"}
            assert new == NEW.get(notebook, set()), (profile, notebook)
            assert pairs(after["resolved"]) == RESOLVED.get(notebook, set()), (profile, notebook)
            assert pairs(before["findings"]) - pairs(after["resolved"]) == {
                (f["code"], f["subject"]) for f in after["findings"]
                if f["change"] == "still open"}
            assert all(f["first_seen"] == before["started_at"] for f in after["findings"]
                       if f["change"] == "still open")
            counts = after["changes"]
            assert counts == {"new": len(new), "resolved": len(RESOLVED.get(notebook, ())),
                              "still_open": len(after["findings"]) - len(new)}
            page = (out / second["report"]).read_text(encoding="utf-8")
            section = page.split('id="since-last-run"', 1)[1].split("</div>", 1)[0]
            assert (f"<strong>{counts['new']} new · {counts['resolved']} resolved · "
                    f"{counts['still_open']} still open</strong>") in section
            assert f'href="../{first["run_dir"].rsplit("/", 1)[1]}/report.html"' in section
            shown_new, shown_resolved = section.split("<h3>New</h3>", 1)[1].split(
                "<h3>Resolved</h3>", 1)
            for code, subject in new:
                assert code in shown_new and subject in shown_new
            for code, subject in RESOLVED.get(notebook, ()):
                gone = shown_resolved.split("Still open")[0]
                assert code in gone and subject in gone and code not in shown_new
    # The demo company's on-prem view runs on the second night only: nothing to compare.
    for run in demo_build.latest()["sandbox-onprem"]:
        results = json.loads((out / run["results"]).read_text())
        assert results["previous_run"] is None
        assert all(f["change"] == "new" for f in results["findings"])
        assert "No earlier run of this notebook and profile" in (
            out / run["report"]).read_text(encoding="utf-8")


def test_index_counts_new_and_resolved_per_run(demo_build: DemoBuild) -> None:
    """index.json's `new` and `resolved` per run (the INDEX slice writes them, from each
    run's results.json): the first night all new, the second exactly what the changes made."""
    for (profile, notebook), runs in nights(demo_build).items():
        if profile not in TWICE:
            continue
        first, second = runs
        results = json.loads((demo_build.out / first["results"]).read_text())
        assert (first["new"], first["resolved"]) == (len(results["findings"]), 0)
        assert (second["new"], second["resolved"]) == (
            len(NEW.get(notebook, ())), len(RESOLVED.get(notebook, ()))), (profile, notebook)
