"""The group-gap notebook and what it calls (issue 7, items 5 and 6): run headless on the
practice tenant, applied and reported again, on an on-prem profile, with a bad CSV; the
notebook's entry point with each side given or not; the figures from small reports."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from tqdm.std import tqdm

from opskit.config import connect, connect_view
from opskit.errors import ConfigError
from opskit.groupgap import GroupGapReport, GroupSource, group_gap
from opskit.report.figures import (
    caption,
    membership_figure,
    presence_combinations,
    presence_figure,
)
from opskit.reports import Report
from opskit.reports.group_gap import run_group_gap
from opskit.runner import RunResult, run_notebook
from opskit.sandbox.demodata import expected_findings, generate
from opskit.sandbox.tenantfile import TenantFile

from .conftest import service_account_gap

NOTEBOOK = "group_gap_report"
CLOSED_BY_SCIM = {"GROUP_NOT_ON_PLATFORM", "GROUP_MEMBERSHIP_DIFFERS"}


pytestmark = pytest.mark.slow  # notebook runs


def expected() -> set[tuple[str, str]]:
    """The demo data's planted group problems (the built-in sandbox serves scale 1, seed 0)."""
    return {(f["code"], f["subject"]) for f in expected_findings(generate(1, 0))
            if f["code"].startswith("GROUP_")}


def found(results: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["code"], f["subject"]) for f in results["findings"]}


# --------------------------------------------------------------------------- the notebook
@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def report_run(out: Path) -> RunResult:
    return run_notebook(NOTEBOOK, profile="sandbox", out_dir=out)


def test_notebook_reports_every_planted_group_problem(report_run: RunResult) -> None:
    assert report_run.results["error"] is None
    assert found(report_run.results) == expected()  # each planted problem, nothing spurious
    assert report_run.status == "findings" and report_run.exit_code == 1  # high findings
    metrics = report_run.results["metrics"]
    assert metrics["groups"] == {"IGA": 44, "Platform": 46, "Secret Server": 44}
    assert metrics["plan"]["operations"] == 2 and "applied" not in metrics
    html = (report_run.run_dir / "report.html").read_text()
    # Both figures are in the report, drawn offline by the plotly.js embedded in it.
    assert html.count('class="plotly-graph-div"') == 2
    assert "Where each group exists" in html and "Groups whose direct members differ" in html
    assert "<script src=\"http" not in html
    assert "Platform Groups Sync" in html and "Dry run" in html


def test_notebook_applies_the_plan_and_reports_again(out: Path) -> None:
    run = run_notebook(NOTEBOOK, profile="sandbox", out_dir=out, parameters={
        "apply": True, "wait_for_sync_minutes": 0.005})  # the demo's timer: once a day
    results = run.results
    assert results["error"] is None and results["parameters"]["apply"] is True
    after = found(results)
    assert not {code for code, _ in after} & CLOSED_BY_SCIM  # the Platform-side gaps are gone
    before = expected()
    created = {s for c, s in before if c == "GROUP_NOT_ON_PLATFORM"}
    # A group the plan created is a Platform group the timed sync has not brought yet.
    assert after == {p for p in before if p[0] not in CLOSED_BY_SCIM} | {
        ("GROUP_SYNC_PENDING", s) for s in created}
    metrics = results["metrics"]
    assert metrics["applied"] == {"done": 2, "not_done": 0, "refused": 0}
    assert sum(metrics["findings_before"].values()) == len(before)
    assert metrics["sync_wait"] == {"minutes": 0.005, "synced": 0, "still_missing": 1,
                                    "not_checked": 0}
    assert run.exit_code == 1  # the group that missed its sync (high) stands until Sync Now
    html = (run.run_dir / "report.html").read_text()
    assert "2 operation(s) done" in html
    assert "still missing after 0.3 s" in html and "wait for the timed sync" in html


def test_notebook_on_an_onprem_profile_runs_and_says_why_nothing_is_found(out: Path) -> None:
    run = run_notebook(NOTEBOOK, profile="sandbox-onprem", out_dir=out)
    assert run.status == "ok" and run.exit_code == 0 and run.results["findings"] == []
    assert run.results["metrics"]["groups"] == {"IGA": 44, "Platform": None,
                                                "Secret Server": 44}
    html = (run.run_dir / "report.html").read_text()
    assert "is an on-prem profile, so it is the Secret Server side" in html
    assert html.count('class="plotly-graph-div"') == 2


def test_notebook_with_a_bad_iga_csv_fails_with_one_clear_message(out: Path,
                                                                  tmp_path: Path) -> None:
    bad = tmp_path / "iga.csv"
    bad.write_text("Identity Name,Email,Entitlement\nAlice,alice@acme.com,DBA\n",
                   encoding="utf-8")
    run = run_notebook(NOTEBOOK, profile="sandbox", parameters={"iga_export": str(bad)},
                       out_dir=out)
    assert run.status == "failed" and run.exit_code == 2  # bad input: the report cannot run
    error = run.results["error"]
    assert error["ename"] == "CsvFileError"
    assert error["evalue"].startswith(f"{bad}, line 1: IGA export has no column "
                                      "'Entitlement Value'")
    assert "→" in error["evalue"] and "Traceback" not in error["evalue"]


# --------------------------------------------------------------------------- run_group_gap
def test_apply_within_one_connection_is_idempotent(capsys: pytest.CaptureFixture[str]) -> None:
    with connect("sandbox") as prof:
        with connect_view("sandbox-onprem", prof) as view:  # the same practice tenant
            assert view.base_url.rsplit("/SCIMConnector", 1)[0] == \
                prof.base_url.rsplit("/scim", 1)[0]
        first = run_group_gap(prof, apply=True, progress=False)
        assert first.applied is not None and len(first.applied.done) == 2
        assert first.after is not None and not first.plan.empty
        assert str(first.plan) in capsys.readouterr().out  # the plan is shown before it is sent
        # What people read names each member by userName; what is sent names them by id.
        names = dict(zip(first.report.platform.users["id"],
                         first.report.platform.users["user_name"], strict=True))
        patch = next(op for op in first.plan.operations if op.method == "PATCH")
        added = patch.body["Operations"][0]["value"][0]["value"]
        shown = first.plan_frame()
        assert f"{names[added]} ({added})" in shown.loc[shown["method"] == "PATCH",
                                                         "members"].iloc[0]
        assert names[added] not in shown.loc[shown["method"] == "PATCH", "body"].iloc[0]
        assert f"add: {names[added]} ({added})" in str(first.plan)
        again = run_group_gap(prof, apply=True, progress=False)
        assert again.plan.empty and again.after is None  # nothing left to do, nothing sent
        assert again.applied is not None and again.applied.done == []
        assert {(f.code, f.subject) for f in again.findings} == {
            (f.code, f.subject) for f in first.after.findings}
        assert "nothing to apply" in again.apply_markdown()


def test_apply_is_refused_when_the_platform_listing_is_incomplete(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import opskit.reports.group_gap as run_module

    real = run_module.fetch_inventory

    def short_of_a_page(prof: Any, **kwargs: Any) -> Any:  # a Users page that was not read
        inv = real(prof, **kwargs)
        if inv.meta["flavor"] == "cloud":
            inv.meta.update(complete=False, notes=["Users: page 2 could not be read"])
        return inv

    monkeypatch.setattr(run_module, "fetch_inventory", short_of_a_page)

    def memberships(prof: Any) -> set[tuple[str, str | None]]:
        inv = real(prof, progress=False)
        return {(g, None) for g in inv.groups["id"]} | set(zip(
            inv.group_members["group_id"], inv.group_members["member_id"], strict=True))

    with connect("sandbox") as prof:
        before = memberships(prof)
        with pytest.raises(ConfigError, match="Users: page 2 could not be read"):
            run_group_gap(prof, apply=True, progress=False)
        assert memberships(prof) == before  # nothing was sent
    assert "Not to be applied" in capsys.readouterr().out  # the plan was shown all the same


def test_secret_server_from_an_export_csv_and_sides_not_given(tmp_path: Path) -> None:
    with connect("sandbox") as prof, tqdm(file=io.StringIO()) as bar:
        whole = run_group_gap(prof, progress=bar)
        # One bar over the run's phases, each named, filled at the end.
        assert (bar.n, bar.total) == (3, 3)
        shown = bar.fp.getvalue()
        at = [shown.find(f"group gap: {label}: ") for label in (
            "fetching sandbox", "Secret Server's side: sandbox-onprem",
            "comparing groups and planning", "done")]
        assert -1 not in at and at == sorted(at), shown
        assert isinstance(whole, Report) and whole.section("applied") == [whole.apply_markdown()]
        names = whole.report.secret_server.groups["name"].tolist()
        export = tmp_path / "ss-groups.csv"
        with export.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([["Group Name"], *[[n] for n in names]])
        from_csv = run_group_gap(prof, reference=str(export), progress=False)
        assert from_csv.sources["Secret Server"] == str(export)
        assert {(f.code, f.subject) for f in from_csv.findings} == expected()
        iga_only = run_group_gap(replace(prof, reference=None), progress=False)
    assert {f.code for f in iga_only.findings} == {
        "GROUP_NOT_ON_PLATFORM", "GROUP_NOT_IN_IGA", "GROUP_NAME_MISMATCH",
        "GROUP_MEMBERSHIP_DIFFERS"}
    assert iga_only.sources["Secret Server"] is None
    [note] = iga_only.notes
    assert "Secret Server side was not given" in note and "GROUP_NOT_IN_SECRET_SERVER" in note
    assert "Secret Server not given" in iga_only.headline()
    assert iga_only.metrics()["groups"]["Secret Server"] is None


def test_reference_that_cannot_be_secret_server_is_refused_plainly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'sandbox' is a cloud profile"):
        run_group_gap("sandbox", reference="sandbox", progress=False)
    with pytest.raises(ConfigError, match="neither a profile nor a file"):
        run_group_gap("sandbox", reference="acme-ss", progress=False)
    with pytest.raises(ConfigError, match="IGA export not found"):  # before any tenant
        run_group_gap("sandbox", iga_export=str(tmp_path / "nope.csv"), progress=False)


# --------------------------------------------------------------------------- figures
def source(system: Any, groups: dict[str, list[str]]) -> GroupSource:
    frame = pd.DataFrame({"key": list(groups), "name": list(groups), "external_id": None})
    members = pd.DataFrame([{"key": g, "user_name": u, "user_id": u}
                            for g, users in groups.items() for u in users],
                           columns=["key", "user_name", "user_id"])
    users = pd.DataFrame({"id": sorted({u for us in groups.values() for u in us})})
    users = users.assign(user_name=users["id"], active=True)
    return GroupSource(system, "test", frame, members, users=users)


@pytest.fixture
def small() -> GroupGapReport:
    return group_gap(
        source("Platform", {"A": ["ann", "bob"], "B": ["cy"], "C": [], "D": ["dee"]}),
        iga=source("IGA", {"A": ["ann", "eve", "fay"], "B": ["cy"], "E": []}),
        secret_server=source("Secret Server", {"A": [], "C": [], "F": []}))


def test_presence_counts_match_the_presence_frame(small: GroupGapReport) -> None:
    combos = presence_combinations(small)
    assert dict(zip(combos["systems"], combos["count"], strict=True)) == {
        ("IGA", "Platform", "Secret Server"): 1, ("IGA", "Platform"): 1,
        ("Platform", "Secret Server"): 1, ("Platform",): 1, ("IGA",): 1,
        ("Secret Server",): 1}
    p = small.presence
    for systems, groups in zip(combos["systems"], combos["groups"], strict=True):
        mask = ((p["in_iga"] == ("IGA" in systems)) & (p["on_platform"] == ("Platform" in systems))
                & (p["in_secret_server"] == ("Secret Server" in systems)))
        assert groups == sorted(p.loc[mask, "group"])
    fig = presence_figure(small)
    bars, grid, _lines, dots = fig.data
    assert list(bars.y) == combos["count"].tolist() and list(bars.x) == combos["label"].tolist()
    assert len(grid.x) == 3 * len(combos)  # a dot per system per combination
    assert len(dots.x) == sum(len(s) for s in combos["systems"])
    assert bars.marker.color[0] == "#2e7d32"  # the one group in every system
    assert "A" in bars.hovertext[0]
    assert caption(fig) and fig.layout.title.subtitle.text == caption(fig)


def test_presence_leaves_out_a_system_not_given() -> None:
    report = group_gap(source("Platform", {"A": [], "B": []}),
                       iga=source("IGA", {"A": [], "C": []}))
    combos = presence_combinations(report)
    assert set(combos["systems"]) == {("IGA", "Platform"), ("Platform",), ("IGA",)}
    fig = presence_figure(report)
    assert set(fig.data[1].y) == {"IGA", "Platform"}
    assert "Not given: Secret Server." in caption(fig)


def test_membership_figure_diverges_per_group(small: GroupGapReport) -> None:
    fig = membership_figure(small)
    iga, platform = fig.data
    assert list(iga.y) == ["A"] and list(iga.x) == [-2] and list(platform.x) == [1]
    assert "eve" in iga.hovertext[0] and "fay" in iga.hovertext[0]
    assert "bob" in platform.hovertext[0]
    assert "adds" in caption(fig)


def test_figures_with_nothing_to_show() -> None:
    same = group_gap(source("Platform", {"A": ["ann"]}), iga=source("IGA", {"A": ["ann"]}))
    fig = membership_figure(same)
    assert fig.data == () and fig.layout.meta["empty"]
    assert "No group's direct members differ" in fig.layout.annotations[0].text
    no_iga = membership_figure(group_gap(source("Platform", {"A": ["ann"]})))
    assert "not compared" in no_iga.layout.annotations[0].text
    empty = presence_figure(group_gap(source("Platform", {})))
    assert empty.layout.meta["empty"] and caption(empty)
    assert json.loads(empty.to_json())  # serialisable: it renders in the report


def test_notebook_passes_the_guard_rails_through(out: Path, tmp_path: Path,
                                                 small_tenant: TenantFile,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """One run proves the parameters reach the plan and the apply: the service account's
    removal is planned (opted in) with its cost, and the plan, larger than max_operations,
    is not sent."""
    tenant = tmp_path / "tenant.yaml"
    tenant.write_text(yaml.safe_dump(service_account_gap(small_tenant)))
    config = tmp_path / "opskit.toml"
    config.write_text(f'[profiles.sa-gap]\nkind = "sandbox"\ndata = "{tenant}"\n')
    monkeypatch.setenv("OPSKIT_CONFIG", str(config))  # the kernel inherits it
    run = run_notebook(NOTEBOOK, profile="sa-gap", out_dir=out, parameters={
        "apply": True, "allow_service_account_changes": True, "max_operations": 1})
    metrics = run.results["metrics"]
    assert run.results["error"] is None, run.results["error"]
    assert metrics["plan"]["operations"] == 2
    assert metrics["plan"]["service_account"] == {"planned": 1, "left_out": 0}
    assert metrics["applied"]["held"] is True and "findings_before" not in metrics
    html = (run.run_dir / "report.html").read_text()
    assert "Not applied:" in html and "confirm_large_plan = True" in html
    assert "/IT/Databases/Prod" in html and "prod-db-sa" in html
