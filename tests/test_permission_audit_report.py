"""The permission-audit notebook and what it calls (issue 6, items 5-7): run headless on the
practice tenant (the demo data's expected findings are the test), run again (drift), on an
on-prem profile, with a bad planned-changes CSV; the entry point with each kind of reference;
the figures' data; the explorer driven without a browser."""

from __future__ import annotations

import csv
import io
import json
import resource
import shutil
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tqdm.std import tqdm

from opskit.audit import UnknownName
from opskit.config import Profile, connect
from opskit.csvfile import CsvFileError
from opskit.errors import ConfigError
from opskit.inputs.audit import load_grant_history, save_grant_history
from opskit.report.figures import (
    caption,
    folder_owner_figure,
    folder_tree,
    folder_visibility_figure,
    group_folder_figure,
    group_folder_matrix,
    rights_distribution,
    rights_figure,
)
from opskit.report.figures._audit import (
    HIDDEN,
    HIDDEN_BELOW,
    OWNER_COLOURS,
    SA_ONLY,
    VISIBILITY_COLOURS,
    VISIBLE,
)
from opskit.report.record import RUN_DIR_ENV
from opskit.reports import Report, Table
from opskit.reports.permission_audit import (
    AUDIT_PHASES,
    NOT_OWNED_MARKER,
    SAMPLE_ROWS,
    AuditRun,
    default_history_dir,
    run_permission_audit,
    tenant_name,
)
from opskit.runner import RunResult, package_notebooks, run_notebook
from opskit.sandbox.demodata import expected_findings, generate
from opskit.widgets import ROWS, AccessExplorer, StaticExplorer, explorer, reach_table

NOTEBOOK = "permission_audit"
# The codes the permission audit raises (COVERAGE_NOT_MEASURED only without a reference).
CODES = {"PARTIAL_FOLDER_VISIBILITY", "NO_VISIBLE_SECRETS", "FOLDER_NOT_VISIBLE",
         "SECRETS_NOT_VISIBLE", "SECRET_NOT_OWNED", "FOLDER_WITHOUT_OWNER",
         "GRANT_TO_DISABLED_USER", "GRANT_TO_EMPTY_GROUP", "RIGHTS_TRUNCATED",
         "DIRECT_USER_GRANT", "COVERAGE_NOT_MEASURED"}
SA = "scim.integration@acme.com"


pytestmark = pytest.mark.slow  # notebook runs


def expected() -> set[tuple[str, str]]:
    """The demo data's planted permission problems (the built-in sandbox: scale 1, seed 0)."""
    return {(f["code"], f["subject"]) for f in expected_findings(generate(1, 0))
            if f["code"] in CODES}


def found(findings: list[Any]) -> set[tuple[str, str]]:
    pairs = [(f["code"], f["subject"]) if isinstance(f, dict) else (f.code, f.subject)
             for f in findings]
    assert len(pairs) == len(set(pairs)), "a finding is reported twice"
    return set(pairs)


# --------------------------------------------------------------------------- the notebook
@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def first_run(out: Path) -> RunResult:
    return run_notebook(NOTEBOOK, profile="sandbox", out_dir=out)


def test_report_shows_the_findings_once_grouped_by_code_under_a_contents_list(
        first_run: RunResult) -> None:
    html = first_run.report.read_text()
    assert html.count('<table class="opskit-findings"') == 1  # the notebook's, not the header's
    header = html.split('<section class="opskit opskit-run', 1)[1].split("</section>", 1)[0]
    assert "opskit-findings" not in header
    codes = {f["code"] for f in first_run.results["findings"]}
    rows = html.split('<table class="opskit-findings"', 1)[1].split("</table>", 1)[0]
    assert rows.count("<details>") == len(codes)  # one row per code
    for section in ("Coverage:-what-the-cloud-connector-hides", "Findings-and-remediation",
                    "Effective-access", "Drift-since-the-last-run"):
        assert f'<a href="#{section}">' in header and f'<h2 id="{section}">' in html


@pytest.fixture(scope="module")
def second_run(out: Path, first_run: RunResult) -> RunResult:
    return run_notebook(NOTEBOOK, profile="sandbox", out_dir=out)


def test_notebook_reports_every_planted_permission_problem(first_run: RunResult) -> None:
    results = first_run.results
    assert results["error"] is None
    assert found(results["findings"]) == expected()  # each planted problem, nothing spurious
    assert first_run.status == "findings" and first_run.exit_code == 1  # high findings
    metrics = results["metrics"]
    assert metrics["coverage_measured"] and metrics["folders_visible"] == 90
    assert metrics["folders_total"] == 100 and metrics["flavor"] == "cloud"
    assert metrics["drift"]["baseline"] and metrics["drift"]["tracked"] == "sandbox-onprem"
    html = first_run.report.read_text()
    # The four figures are in the report, drawn offline by the plotly.js embedded in it.
    assert html.count('class="plotly-graph-div"') == 4
    for title in ("what the cloud connector sees", "who holds Owner", "Groups × folders",
                  "How rights are distributed"):
        assert title in html
    assert '<script src="http' not in html
    assert "the IGA will not see these" in html and "First run: baseline recorded" in html
    assert "The explorer is interactive" in html  # headless: a static table, nothing waits
    assert "Why chloe.baker@acme.com reaches /Break Glass" in html  # and its first user's Why
    assert "access.who_reaches(" in html


def test_second_run_shows_no_drift_and_keeps_first_seen(out: Path, first_run: RunResult,
                                                        second_run: RunResult) -> None:
    drift = second_run.results["metrics"]["drift"]
    assert not drift["baseline"] and drift["added"] == 0 and drift["removed"] == 0
    assert drift["grants"] == first_run.results["metrics"]["drift"]["grants"] > 0
    assert found(second_run.results["findings"]) == expected()
    # The history lives beside the profile's runs, so scheduled runs into one --out share it.
    history = load_grant_history(out / NOTEBOOK / "sandbox"
                                 / "grant_history.sandbox-onprem.parquet")
    assert history is not None and len(history) == drift["grants"]
    assert set(history["first_seen"]) == {drift["previous_run"]}  # kept from the first run
    [last] = set(history["last_seen"])
    assert last > drift["previous_run"]
    assert "0 added, 0 removed" in second_run.report.read_text()
    index = json.loads((out / "index.json").read_text())
    assert len([r for r in index["runs"] if r["notebook"] == NOTEBOOK]) >= 2


def test_the_run_manifest_identifies_the_inventories_read_and_the_history_saved(
        first_run: RunResult) -> None:
    manifest = json.loads((first_run.run_dir / "manifest.json").read_text())
    metrics = first_run.results["metrics"]
    assert manifest["inventory"] == {"snapshot_in_run_folder": False,
                                     "read": metrics["inventory"],
                                     "saved": metrics["grant_history"]}
    assert [(i["role"], i["source"], i["complete"]) for i in metrics["inventory"]] == [
        ("profile", "sandbox", True), ("reference", "sandbox-onprem", True)]
    # The demo's folders: 90 the cloud connector sees, 100 in Secret Server.
    assert [i["counts"]["containers"] for i in metrics["inventory"]] == [90, 100]
    saved = metrics["grant_history"]
    assert saved["file"] == "grant_history.sandbox-onprem.parquet" and saved["saved"]
    assert len(saved["sha256"]) == 64


def test_notebook_on_an_onprem_profile_runs_without_coverage(out: Path) -> None:
    run = run_notebook(NOTEBOOK, profile="sandbox-onprem", out_dir=out)
    assert run.results["error"] is None and run.status == "findings"
    pairs = found(run.results["findings"])
    codes = {c for c, _ in pairs}
    assert "COVERAGE_NOT_MEASURED" in codes and "RIGHTS_TRUNCATED" in codes
    assert not codes & {"FOLDER_NOT_VISIBLE", "SECRET_NOT_OWNED", "PARTIAL_FOLDER_VISIBILITY"}
    # The grant findings the full view can tell are the expected ones.
    assert {p for p in pairs if p[0] in ("RIGHTS_TRUNCATED", "FOLDER_WITHOUT_OWNER",
                                         "GRANT_TO_EMPTY_GROUP")} == {
        p for p in expected() if p[0] in ("RIGHTS_TRUNCATED", "FOLDER_WITHOUT_OWNER",
                                          "GRANT_TO_EMPTY_GROUP")}
    [coverage] = [f for f in run.results["findings"] if f["code"] == "COVERAGE_NOT_MEASURED"]
    assert "on-prem connector's full view" in coverage["message"]
    assert run.results["metrics"]["coverage_measured"] is False
    html = run.report.read_text()
    assert "is an on-prem profile" in html and html.count('class="plotly-graph-div"') == 4


def test_notebook_with_a_bad_planned_changes_csv_fails_with_one_clear_message(
        out: Path, tmp_path: Path) -> None:
    bad = tmp_path / "planned.csv"
    bad.write_text("Folder Path;Principal;Rights\n/IT;IT Admins;Owner\n/IT/Databses;DBA;Edit\n",
                   encoding="utf-8")
    run = run_notebook(NOTEBOOK, profile="sandbox", out_dir=out,
                       parameters={"planned_changes": str(bad)})
    assert run.status == "failed" and run.exit_code == 2  # bad input: the report cannot run
    error = run.results["error"]
    assert error["ename"] == "CsvFileError"
    assert error["evalue"].startswith(f"{bad}, line 3: unknown folder '/IT/Databses'")
    assert "→" in error["evalue"] and "Traceback" not in error["evalue"]


# --------------------------------------------------------------------------- run_permission_audit
@pytest.fixture(scope="module")
def prof() -> Iterator[Profile]:
    with connect("sandbox") as connected:  # one practice tenant for the whole module
        yield connected


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("history")


@pytest.fixture(scope="module")
def phase_bar() -> Iterator[tqdm[Any]]:
    """The run's own bar over its phases, written to a string."""
    with tqdm(file=io.StringIO()) as bar:
        yield bar


@pytest.fixture(scope="module")
def run(prof: Profile, history: Path, phase_bar: tqdm[Any]) -> AuditRun:
    return run_permission_audit(prof, history_dir=history, progress=phase_bar)


def test_the_run_shows_each_phase_on_one_bar_that_fills(run: AuditRun,
                                                        phase_bar: tqdm[Any]) -> None:
    assert (phase_bar.n, phase_bar.total) == (len(AUDIT_PHASES), len(AUDIT_PHASES)) == (4, 4)
    shown = phase_bar.fp.getvalue()
    labels = ["fetching sandbox", "fetching the reference sandbox-onprem", "analysing",
              "comparing with the grant history", "done"]
    at = [shown.find(f"permission audit: {label}: ") for label in labels]
    assert -1 not in at and at == sorted(at), shown  # every step named, in order


def test_entry_point_names_the_tenant_and_service_account(run: AuditRun, prof: Profile) -> None:
    assert found(run.findings) == expected()
    assert run.tenant == "acme" == tenant_name(prof) and run.audit.service_account == SA
    assert run.sources["reference"] == "sandbox-onprem" and run.notes == []
    assert isinstance(run, Report)
    [sources] = run.section("summary")
    assert isinstance(sources, Table) and sources.frame.equals(run.sources_frame())
    assert tenant_name(replace(prof, tenant_name=None,
                               base_url="https://acme.delinea.app/scim/v2")) == "acme"
    assert tenant_name(replace(prof, name="lab", tenant_name=None,
                               base_url="http://127.0.0.1:9/scim/v2")) == "lab"
    frame = run.sources_frame()
    assert frame["folders"].tolist()[:2] == [90, 100]
    examples = run.examples()
    assert examples["user"] != SA and examples["group"] != "SCIM Owners"
    titles = [t for t, _ in run.query_examples()]
    assert [t.split("(")[0] for t in titles] == ["`access.who_reaches", "`access.what_user_reaches",
                                                "`access.group_grants"]
    # Each answer is longer than its sample (197, 23 and 21 rows): the title says so.
    assert all(t.endswith(f"; the first {SAMPLE_ROWS} shown (the call, or the explorer in "
                          "JupyterLab, gives every row)") for t in titles), titles


def test_planned_changes_and_folder_export(prof: Profile, run: AuditRun, tmp_path: Path) -> None:
    planned = tmp_path / "planned.csv"
    planned.write_text("Folder Path,Principal,Rights\n/HR,HR Admins,Owner\n"
                       '/Shared,All Staff,"View,Edit"\n', encoding="utf-8")
    with_plan = run_permission_audit(prof, planned_changes=str(planned), history_dir=tmp_path,
                                     progress=False)
    [shared] = [f for f in with_plan.findings
                if f.code == "RIGHTS_TRUNCATED" and f.subject == "/Shared"]
    assert "planned for All Staff as [View, Edit] (line 3)" in shared.message
    assert with_plan.sources["planned changes"] == str(planned)

    # A folder export of the on-prem view measures the same coverage.
    onprem = run.reference_inventory
    assert onprem is not None
    paths = dict(zip(onprem.containers["id"], onprem.containers["path"], strict=True))
    export = tmp_path / "export.csv"
    with export.open("w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(["Secret Name", "Folder"])
        writer.writerows([n, paths[c].replace("/", "\\")] for n, c in zip(
            onprem.privileged_data["name"], onprem.privileged_data["container_id"], strict=True))
        writer.writerows(["", p] for p in paths.values())
    from_export = run_permission_audit(prof, folder_export=str(export), history_dir=tmp_path,
                                       progress=False)
    cov, ref_cov = from_export.coverage, run.coverage
    assert (cov.folders_total, cov.folders_visible, cov.secrets_visible) == (
        ref_cov.folders_total, ref_cov.folders_visible, ref_cov.secrets_visible)
    assert {p for p in found(from_export.findings) if p[0] == "FOLDER_NOT_VISIBLE"} == {
        p for p in expected() if p[0] == "FOLDER_NOT_VISIBLE"}
    assert any("folder export" in n for n in from_export.notes)
    assert from_export.tracked == "sandbox"  # the export has no grants: the cloud view's
    assert folder_visibility_figure(from_export).data  # owners by cloud path, tree by export


def test_the_hidden_tree_marks_secrets_not_owned_as_the_notebook_says(run: AuditRun) -> None:
    notebook = json.loads((package_notebooks() / f"{NOTEBOOK}.ipynb").read_text("utf-8"))
    said = "".join(line for cell in notebook["cells"] for line in cell["source"])
    assert f"(`SECRET_NOT_OWNED`, {NOT_OWNED_MARKER})" in said
    tree = run.hidden_tree(limit=10_000)
    not_owned = {f.subject for f in run.findings if f.code == "SECRET_NOT_OWNED"}
    marked = tree[tree["hidden folder"].str.startswith(f"{NOT_OWNED_MARKER} ")]
    assert not_owned and set(marked["path"]) == set(run.coverage.not_owned["path"]) >= not_owned


def test_without_a_reference_coverage_is_not_measured(prof: Profile, tmp_path: Path) -> None:
    alone = run_permission_audit(replace(prof, reference=None), history_dir=tmp_path,
                                 progress=False)
    assert ("COVERAGE_NOT_MEASURED", "acme") in found(alone.findings)
    assert not {c for c, _ in found(alone.findings)} & {"FOLDER_NOT_VISIBLE", "SECRET_NOT_OWNED"}
    assert alone.coverage.folder_share is None and "not measured" in alone.headline()
    assert any("no reference view" in n for n in alone.notes)
    assert alone.hidden_tree().empty
    fig = folder_visibility_figure(alone)
    assert "not measured" in caption(fig)
    assert set(fig.data[0].marker.colors[1:]) == {VISIBILITY_COLOURS["not measured"]}


def test_references_that_cannot_serve_are_refused_plainly(prof: Profile, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'sandbox' is the profile itself"):
        run_permission_audit(prof, reference="sandbox", history_dir=tmp_path, progress=False)
    with pytest.raises(ConfigError, match="is a file, not a profile"):
        run_permission_audit(prof, reference="export.csv", history_dir=tmp_path,
                             progress=False)
    with pytest.raises(ConfigError, match="not a profile"):
        run_permission_audit(prof, reference="acme-ss", history_dir=tmp_path, progress=False)
    with pytest.raises(ConfigError, match="both `reference` and `folder_export`"):
        run_permission_audit(prof, reference="sandbox-onprem", folder_export="x.csv",
                             history_dir=tmp_path, progress=False)
    with pytest.raises(CsvFileError, match="folder export not found"):
        run_permission_audit(prof, folder_export=str(tmp_path / "nope.csv"),
                             history_dir=tmp_path, progress=False)


def test_drift_lists_grants_added_and_removed_with_dates(prof: Profile, run: AuditRun,
                                                        tmp_path: Path) -> None:
    store = tmp_path / "grant_history.sandbox-onprem.parquet"
    before = run.drift.history.copy()
    gone = before.iloc[0]
    past = "2020-01-01T00:00:00+00:00"
    ghost = {"folder": "/Old", "principal_type": "group", "principal": "Retired",
             "rights": "View", "first_seen": "2019-06-01T00:00:00+00:00", "last_seen": past}
    seeded = pd.concat([before.iloc[1:], pd.DataFrame([ghost])], ignore_index=True)
    seeded = seeded.assign(first_seen=seeded["first_seen"].where(
        seeded["folder"] == "/Old", past), last_seen=past)
    save_grant_history(seeded, store)
    again = run_permission_audit(prof, history_dir=tmp_path, progress=False)
    changed = again.drift_frame()
    assert changed[["change", "folder", "principal"]].values.tolist() == [
        ["added", gone["folder"], gone["principal"]], ["removed", "/Old", "Retired"]]
    removed = changed.iloc[1]
    assert removed["first_seen"] == ghost["first_seen"] and removed["last_seen"] == past
    assert changed.iloc[0]["first_seen"] == again.drift.seen_at
    assert "1 added, 1 removed" in again.drift_markdown()
    assert again.metrics()["drift"] == {"baseline": False, "previous_run": past, "added": 1,
                                        "removed": 1, "grants": len(before),
                                        "tracked": "sandbox-onprem"}


def test_the_metrics_carry_the_checksum_of_the_history_saved(run: AuditRun) -> None:
    import hashlib

    saved = run.metrics()["grant_history"]
    assert saved == {"file": run.history_path.name, "saved": True,
                     "sha256": hashlib.sha256(run.history_path.read_bytes()).hexdigest()}
    assert [i["counts"] for i in run.metrics()["inventory"]] == [
        run.inventory.counts(), run.reference_inventory.counts()]
    assert run.metrics()["inventory"][0]["fetched_at"] == run.inventory.meta["fetched_at"]


def test_a_history_that_cannot_be_written_is_a_note_and_the_last_one_stands(
        prof: Profile, run: AuditRun, history: Path, tmp_path: Path) -> None:
    """A full disk while the history is written: RLIMIT_FSIZE makes writes past 1 KiB fail
    with EFBIG. The audit stands, a note says what happened, the last history is untouched
    and no partial file is left beside it."""
    kept = tmp_path / run.history_path.name
    shutil.copy(history / kept.name, kept)
    before = kept.read_bytes()
    assert len(before) > 1024
    # A rerun within the run's second is that run again to the history: wait for the next.
    while datetime.now(UTC).isoformat(timespec="seconds") <= run.drift.seen_at:
        time.sleep(0.05)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, hard))
    try:
        again = run_permission_audit(prof, history_dir=tmp_path, progress=False)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert not again.history_saved and found(again.findings) == found(run.findings)
    [note] = again.notes
    assert note.startswith(f"the grant history could not be written to {kept} (")
    assert note.endswith("File too large), so the next run compares with the last history "
                         f"saved, if any. Free some disk space, or make {tmp_path} writable (or "
                         "give another history_dir)")
    assert kept.read_bytes() == before and list(tmp_path.iterdir()) == [kept]
    assert "was not updated (see the notes)" in again.drift_markdown()


def test_history_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OPSKIT_HISTORY_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    assert default_history_dir("acme/x") == tmp_path / "data" / "opskit" / "history" / "acme_x"
    monkeypatch.setenv("OPSKIT_HISTORY_DIR", str(tmp_path / "h"))
    assert default_history_dir("acme") == tmp_path / "h" / "acme"
    run_dir = tmp_path / "out" / NOTEBOOK / "acme" / ".20260101T000000Z.1.ab.partial"
    monkeypatch.setenv(RUN_DIR_ENV, str(run_dir))
    assert default_history_dir("acme") == tmp_path / "out" / NOTEBOOK / "acme"


# --------------------------------------------------------------------------- figures
def test_folder_tree_reflects_coverage_and_owners(run: AuditRun) -> None:
    tree = folder_tree(run)
    cov = run.coverage
    body = tree.iloc[1:]
    assert tree.iloc[0]["id"] == "/" and len(body) == cov.folders_total
    assert tree.attrs["depth"] is None and body["folders"].sum() == cov.folders_total
    hidden = set(body.loc[body["visibility"].isin([HIDDEN, HIDDEN_BELOW]), "id"])
    assert hidden == set(cov.folders.loc[~cov.folders["visible"], "path"])
    assert set(body.loc[body["visibility"] == HIDDEN, "id"]) == set(cov.hidden_roots["path"])
    sa_only = set(body.loc[body["owner"] == SA_ONLY, "id"])
    assert "/Sales/Pre-Sales/Applications" in sa_only
    assert body.set_index("id").at["/IT", "owners"][0] == "IT Admins (group)"

    fig = folder_visibility_figure(run)
    treemap = fig.data[0]
    colour = dict(zip(treemap.ids, treemap.marker.colors, strict=True))
    assert colour["/Break Glass"] == VISIBILITY_COLOURS[HIDDEN]
    assert colour["/Break Glass/Domain"] == VISIBILITY_COLOURS[HIDDEN_BELOW]
    assert colour["/IT"] == VISIBILITY_COLOURS[VISIBLE]
    assert [t.name for t in fig.data[1:]] == [VISIBLE, HIDDEN, "inside a hidden folder"]
    assert caption(fig) and fig.layout.title.subtitle.text == caption(fig)
    owner = folder_owner_figure(run).data[0]
    colour = dict(zip(owner.ids, owner.marker.colors, strict=True))
    assert colour["/Sales/Pre-Sales/Applications"] == OWNER_COLOURS[SA_ONLY]
    assert "IT Admins" in owner.hovertext[list(owner.ids).index("/IT")]


def test_a_large_tree_is_folded_to_the_levels_that_fit(run: AuditRun) -> None:
    whole = folder_tree(run)
    fits = int((whole["depth"].between(1, 2)).sum())  # the folders at the first two levels
    tree = folder_tree(run, max_nodes=fits)
    cov = run.coverage
    assert tree.attrs["depth"] == 2 and tree["depth"].max() == 2 and len(tree) == fits + 1
    assert tree["folders"].sum() == cov.folders_total
    assert tree["hidden"].sum() == cov.folders_total - cov.folders_visible
    audit = tree.set_index("id").loc["/Finance/Internal Audit"]  # hidden, 2 subfolders
    assert (audit["folders"], audit["hidden"], audit["label"]) == (3, 3, "Internal Audit (+2)")
    fig = folder_visibility_figure(run, max_nodes=fits)
    assert "Levels below 2 are counted in their level-2 box" in caption(fig)


def test_group_folder_matrix_and_heatmap(run: AuditRun) -> None:
    matrix = group_folder_matrix(run, top_groups=5, top_folders=6)
    assert matrix.shape == (5, 6) and list(matrix.columns) == sorted(matrix.columns,
                                                                      key=str.casefold)
    grants = run.access.grants
    own = grants[(grants["principal_type"] == "group") & (grants["folder"] == grants["granted_on"])]
    for group in matrix.index:
        for folder in matrix.columns:
            rights = own.loc[(own["principal"] == group) & (own["folder"] == folder), "right"]
            assert matrix.at[group, folder] == (rights.iloc[0] if len(rights) else None)
    assert matrix.attrs["folders"] == own["folder"].nunique()
    fig = group_folder_figure(run, top_groups=5, top_folders=6)
    heat = fig.data[0]
    assert list(heat.y) == list(matrix.index) and list(heat.x) == list(matrix.columns)
    ranks = {None: None, "View": 1, "Add Secret": 2, "Edit": 3, "Owner": 4}
    assert [list(r) for r in heat.z] == [[ranks[matrix.at[g, f]] for f in matrix.columns]
                                         for g in matrix.index]
    assert "the 6 of" in fig.layout.xaxis.title.text


def test_rights_distribution_counts_grants_and_strongest_pairs(run: AuditRun) -> None:
    dist = rights_distribution(run).set_index("right")
    grants = run.access.grants
    own = grants[grants["folder"] == grants["granted_on"]]
    assert dist["grants_group"].sum() + dist["grants_user"].sum() == len(own)
    assert dist.at["Owner", "grants_user"] == (
        (own["right"] == "Owner") & (own["principal_type"] == "user")).sum()
    strongest = run.access.strongest()  # the slow, obvious way
    assert dist["pairs"].to_dict() == {r: int((strongest["right"] == r).sum())
                                       for r in dist.index}
    assert dist.at["Owner", "users"] == strongest.loc[strongest["right"] == "Owner",
                                                      "user"].nunique()
    fig = rights_figure(run)
    by_group, by_user, pairs = fig.data
    assert list(by_group.y) == dist["grants_group"].tolist()
    assert list(pairs.y) == dist["pairs"].tolist()
    assert "joseph.king@acme.com on /Engineering" in by_user.hovertext[3]


# --------------------------------------------------------------------------- explorer
def test_explorer_follows_the_controls(run: AuditRun) -> None:
    ui = explorer(run, interactive=True)
    assert isinstance(ui, AccessExplorer) and ui.table.empty
    assert ui.pick.options[0] == "/Break Glass"
    ui.pick.value = "/IT"
    assert ui.table.equals(run.access.who_reaches("/IT"))
    assert "who reaches /IT" in ui.output.outputs[0]["data"]["text/html"]
    ui.kind.value = "user"  # another kind: the list refills, nothing is picked yet
    assert ui.table.empty and ui.output.outputs == () and "@" in ui.pick.options[0]
    ui.search.value = "HANNAH.WANG@"  # one match: picked
    assert ui.pick.options == ("hannah.wang@acme.com",) and ui.pick.value == ui.pick.options[0]
    assert ui.table["via"].unique().tolist() == ["direct"]
    html = ui.output.outputs[0]["data"]["text/html"]
    assert "what hannah.wang@acme.com reaches" in html and "/IT/Identity" in html
    table = ui.show("group", "IT Admins")
    assert table.equals(reach_table(run.access, "group", "IT Admins"))
    assert ui.kind.value == "group" and "Owner" in ui.output.outputs[0]["data"]["text/html"]
    secret = "/IT/Virtualization/Prod/win-it-prd-001 svc_backup"  # its own permissions
    table = ui.show("secret", secret)
    assert table.equals(run.access.who_reaches_secret(secret))
    assert len(table) and set(table["granted_on"]) == {secret} and SA not in set(table["user"])
    assert "its secret roles" in ui.output.outputs[0]["data"]["text/html"]
    with pytest.raises(UnknownName, match="did you mean"):
        ui.show("folder", "/IT/Virtualisation")


def test_after_switching_kind_nothing_is_highlighted_and_a_click_shows(run: AuditRun) -> None:
    ui = AccessExplorer(run.access)
    ui.pick.value = "/IT"
    for kind in ("user", "group", "secret"):
        ui.kind.value = kind  # the list refills: no name highlighted that is not shown
        assert ui.pick.value is None and ui.table.empty and ui.output.outputs == ()
        assert "pick one" in ui.status.value
        first = ui.pick.options[0]
        ui.pick.value = first  # the click the first option used to swallow
        assert ui.table.equals(reach_table(run.access, kind, first)) and ui.shown == first
        assert first in ui.output.outputs[0]["data"]["text/html"]


def test_a_filter_narrows_the_list_and_picks_only_a_name_spelled_out(run: AuditRun) -> None:
    ui = AccessExplorer(run.access, "user", "agnieszka.muller@acme.com")
    ui.search.value = "wang"  # two names contain it: neither is shown until picked
    assert ui.pick.options == ("hannah.wang2@acme.com", "hannah.wang@acme.com")
    assert ui.pick.value is None and ui.table.empty and ui.output.outputs == ()
    assert "2 match(es); pick one" in ui.status.value
    ui.search.value = "Hannah.Wang"  # spelled out (the part before the @): that one
    assert ui.pick.value == ui.shown == "hannah.wang@acme.com" and len(ui.table) == 6
    assert "what hannah.wang@acme.com reaches" in ui.output.outputs[0]["data"]["text/html"]
    ui.search.value = "wang"  # the pick is still listed: it stays
    assert ui.pick.value == ui.shown == "hannah.wang@acme.com"
    ui.search.value = "hannah.wang2@acme.com"
    assert ui.pick.value == ui.shown == "hannah.wang2@acme.com"


def test_every_row_is_one_click_away(run: AuditRun) -> None:
    folder = "/Shared/Wi-Fi"  # everybody reaches it: more rows than a page
    total = len(run.access.who_reaches(folder))
    assert total > ROWS

    def page() -> str:
        return str(ui.output.outputs[0]["data"]["text/html"])

    ui = AccessExplorer(run.access, "folder", folder)
    assert ui.pager.layout.display == "flex" and ui.previous.disabled and not ui.next.disabled
    assert f"{ROWS} of {total} rows shown (rows 1–{ROWS})" in page()
    assert page().count("<tr") == ROWS + 1  # the header and a page
    ui.next.click()
    assert f"{total - ROWS} of {total} rows shown (rows {ROWS + 1}–{total})" in page()
    assert page().count("<tr") == total - ROWS + 1 and ui.next.disabled
    last = str(ui.table["user"].iloc[-1])
    assert last in page()
    ui.previous.click()
    assert f"(rows 1–{ROWS})" in page() and ui.previous.disabled
    ui.all_rows.value = True
    assert f"{total} row(s)" in page() and page().count("<tr") == total + 1
    ui.show("user", "hannah.wang@acme.com")  # one page: no pager
    assert ui.pager.layout.display == "none" and "6 row(s)" in page()
    static = StaticExplorer(run.access, "folder", folder)._repr_html_()
    assert f"{ROWS} of {total} rows shown" in static and static.count("<tr") == ROWS + 1
    assert f"reach_table(access, &#x27;folder&#x27;, &#x27;{folder}&#x27;)" in static


def test_explorer_never_waits_when_headless(run: AuditRun,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUN_DIR_ENV, "/nowhere")
    static = explorer(run)
    assert isinstance(static, StaticExplorer)
    assert static.name == "/Break Glass" and static.table.equals(
        run.access.who_reaches("/Break Glass"))
    html = static._repr_html_()
    assert "open this notebook in JupyterLab" in html and "chloe.baker@acme.com" in html
    chosen = explorer(run.access, kind="user", name="hannah.wang@acme.com")
    assert isinstance(chosen, StaticExplorer) and len(chosen.table) == 6
