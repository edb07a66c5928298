"""The explorer's Why panel and What if tab, and the snapshot comparison, driven in-process
the way JupyterLab drives them (setting the widgets' values), on the practice tenant."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from opskit import audit, widgets
from opskit.config import connect
from opskit.errors import ConfigError
from opskit.inputs.audit import read_planned_changes
from opskit.inventory import Inventory, save_snapshot
from opskit.report.record import RUN_DIR_ENV
from opskit.reports.permission_audit import AuditRun, run_permission_audit
from opskit.widgets import (
    PLANNED_FILE,
    SCIM_OPS_FILE,
    AccessExplorer,
    SnapshotCompare,
    StaticCompare,
    StaticExplorer,
    WhatIfPanel,
    change_details,
    change_targets,
    explorer,
    snapshot_compare,
    snapshot_folders,
    why_options,
)

FOLDER = "/Break Glass"  # the headless default: the first folder anybody reaches
SA = "scim.integration@acme.com"
SECRET = "/IT/Virtualization/Prod/win-it-prd-001 svc_backup"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditRun]:
    with connect("sandbox") as prof:  # the access of the full view, as the notebook's
        yield run_permission_audit(prof, history_dir=tmp_path_factory.mktemp("history"),
                                   progress=False)


@pytest.fixture(scope="module")
def access(run: AuditRun) -> Any:
    return run.access


@pytest.fixture(scope="module")
def inventory(run: AuditRun) -> Inventory:
    return run.inventory


def why_shown(ui: AccessExplorer) -> str:
    return "".join(o["data"]["text/html"] for o in ui.why_output.outputs)


def test_the_why_follows_the_second_pick(access: Any) -> None:
    ui = AccessExplorer(access, "folder", FOLDER)
    users = access.who_reaches(FOLDER)["user"].tolist()
    assert [value for _, value in ui.why_pick.options] == [("user", u) for u in users]
    assert ui.why_box.layout.display == "flex" and ui.why is None and why_shown(ui) == ""
    ui.why_pick.value = ("user", users[0])  # the person picks a user in the Why list
    expected = audit.why(access, users[0], FOLDER)
    assert ui.why is not None and ui.why.summary() == expected.summary()
    first = why_shown(ui)
    assert f"{users[0]} → {FOLDER}: Owner through 1 path" in first
    assert f"Inheritance root: grants set on {FOLDER}" in first and "<table" in first
    assert "Each of these alone removes it" in first
    assert all(c.text.replace("'", "&#x27;") in first for c in expected.removals)
    ui.why_pick.value = ("user", users[1])
    assert f"{users[1]} → {FOLDER}" in why_shown(ui) and users[0] not in why_shown(ui)

    ui.show("user", "hannah.wang@acme.com")  # another name: its own choices, none picked
    assert ui.why is None and why_shown(ui) == ""
    kinds = [value[0] for _, value in ui.why_pick.options]
    assert kinds[0] == "folder" and "secret" in kinds and kinds == sorted(kinds)
    answer = ui.show_why("/IT/Identity")
    assert answer is not None and (answer.user, answer.subject) == ("hannah.wang@acme.com",
                                                                     "/IT/Identity")
    assert "hannah.wang@acme.com → /IT/Identity: Edit" in why_shown(ui)
    secret = next(v[1] for _, v in ui.why_pick.options if v[0] == "secret")
    assert ui.show_why(secret) is not None and ui.why is not None and ui.why.kind == "secret"

    ui.show("secret", SECRET)
    holder = ui.why_pick.options[0][1][1]
    answer = ui.show_why(holder)
    assert answer is not None and answer.subject == SECRET and answer.reaches
    ui.show("group", "IT Admins")  # a Why is of one user: no panel for a group
    assert ui.why_pick.options == () and ui.why_box.layout.display == "none"
    with pytest.raises(ValueError, match="not among the Why choices for group IT Admins"):
        ui.show_why("hannah.wang@acme.com")
    ui.kind.value = "folder"  # switching kind shows nothing, so offers no Why
    assert ui.why_pick.options == () and why_shown(ui) == ""


def test_a_long_why_list_is_cut_and_any_choice_is_still_one_call_away(
        access: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(widgets, "WHY_CHOICES", 2)
    ui = AccessExplorer(access, "folder", FOLDER)
    users = access.who_reaches(FOLDER)["user"].tolist()
    assert len(users) > 2 and len(ui.why_pick.options) == 2
    assert f"the first 2 of {len(users)} listed" in ui.why_prompt.value
    answer = ui.show_why(users[-1])  # not listed: listed now, and picked
    assert answer is not None and answer.user == users[-1]
    assert ui.why_pick.value == ("user", users[-1]) and users[-1] in why_shown(ui)


def test_the_widgets_can_be_found_by_their_classes(access: Any) -> None:
    ui = AccessExplorer(access)
    assert "opskit-explorer-tabs" in ui.widget._dom_classes
    assert ui.tabs.titles == ("Explore",) and ui.tabs.children == (ui.explore,)
    assert "opskit-why-pick" in ui.why_pick._dom_classes and ui.why_pick.description == "Why for"
    assert "opskit-why" in ui.why_output._dom_classes
    assert "opskit-why-panel" in ui.why_box._dom_classes


def test_headless_the_explorer_shows_one_why_and_waits_for_nothing(
        access: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUN_DIR_ENV, "/nowhere")
    static = explorer(access)
    assert isinstance(static, StaticExplorer) and static.why is not None
    user = access.who_reaches(FOLDER)["user"].iloc[0]
    assert (static.why.user, static.why.subject) == (user, FOLDER)
    html = static._repr_html_()
    assert f"<h4>Why {user} reaches {FOLDER}</h4>" in html and "alone removes it" in html
    assert (f"<ol><li>Owner: group Secret Server Admins (Owner) set on {FOLDER}, via Secret "
            "Server Admins</li></ol>") in html  # a list: the one table is the explorer's
    assert f"opskit.audit.why(access, &#x27;{user}&#x27;, &#x27;{FOLDER}&#x27;)" in html
    by_user = StaticExplorer(access, "user", "hannah.wang@acme.com")
    assert by_user.why is not None and by_user.why.subject == "/IT"
    assert why_options(access, "group", "IT Admins") == []


def later(inv: Inventory, **frames: Any) -> Inventory:
    return replace(inv, **frames, meta={**inv.meta, "fetched_at": "2999-01-01T00:00:00+00:00"})


def test_two_snapshots_compared_in_lab_and_headless(inventory: Inventory, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    first = save_snapshot(inventory, tmp_path / "snaps" / "b-first")
    with pytest.raises(ConfigError, match=r"1 snapshot.* comparing needs two"):
        snapshot_folders(tmp_path / "snaps")
    gone = inventory.group_members.iloc[0]
    second = save_snapshot(later(inventory, group_members=inventory.group_members.iloc[1:]),
                           tmp_path / "snaps" / "a-second")  # named to sort first: dates rule
    assert snapshot_folders(tmp_path / "snaps") == [first, second]
    assert snapshot_folders([second, first]) == [first, second]

    inferred = snapshot_compare(tmp_path / "snaps", interactive=True)
    assert isinstance(inferred, SnapshotCompare) and inferred.comparison is None
    assert "--service-account USER" in inferred.output.outputs[0]["data"]["text/html"]
    ui = snapshot_compare(tmp_path / "snaps", service_account=SA, interactive=True)
    assert isinstance(ui, SnapshotCompare) and (ui.before.value, ui.after.value) == (first, second)
    assert ui.comparison is not None and ui.comparison.counts()["members"] == {"removed": 1}
    assert ui.comparison.members["group"].tolist() == [
        inventory.groups.set_index("id").at[gone["group_id"], "displayName"]]
    shown = ui.output.outputs[0]["data"]["text/html"]
    assert "members: 1 removed" in shown and "grants: no change" in shown
    assert "opskit-compare" in ui.widget._dom_classes and ui.before.description == "Before"
    ui.before.value = second  # the same snapshot twice
    assert ui.comparison is None and "Pick two different" in ui.output.outputs[0]["data"][
        "text/html"]
    ui.after.value = first  # the wrong order: one clear message, no traceback
    assert ui.comparison is None
    refused = ui.output.outputs[0]["data"]["text/html"]
    assert "Cannot compare" in refused and "give the older snapshot first" in refused

    monkeypatch.setenv(RUN_DIR_ENV, "/nowhere")
    static = snapshot_compare(tmp_path / "snaps", service_account=SA)
    assert isinstance(static, StaticCompare)
    html = static._repr_html_()
    assert "b-first → a-second" in html and "members: 1 removed" in html and "<table" in html
    with pytest.raises(ConfigError, match="is not a folder"):
        snapshot_folders(tmp_path / "nowhere")


# --------------------------------------------------------------------------- what if
def test_each_single_change_a_why_offers_previews_as_removing_the_access(run: AuditRun) -> None:
    ui = explorer(run, interactive=True)
    assert isinstance(ui, AccessExplorer) and ui.whatif is not None
    assert ui.tabs.titles == ("Explore", "What if") and ui.tabs.selected_index == 0
    user, folder = "hannah.wang@acme.com", "/IT/Identity/Dev"  # inherits from /IT
    ui.show("user", user)
    answer = ui.show_why(folder)
    assert answer is not None and len(answer.removals) == 3
    offered = ui.why_preview.options
    assert [label for label, _ in offered] == [r.text for r in answer.removals]
    assert offered[1][1] == (audit.BreakInheritance(folder),
                             audit.RevokeGrant(folder, user, "user"))  # the copy leaves it out
    for _, changes in offered:
        ui.why_preview.value = changes  # the person picks it: the What if tab shows it
        assert ui.tabs.selected_index == 1 and ui.whatif.changes == list(changes)
        result = ui.whatif.view.result if ui.whatif.view is not None else None
        assert result is not None
        lost = result.access[(result.access["user"] == user)
                             & (result.access["folder"] == folder)]
        assert lost["change"].tolist() == ["loses"]
    ui.show("group", "IT Admins")
    assert ui.why_preview.options == () and ui.why_preview.layout.display == "none"


def test_the_what_if_tab_previews_a_picked_change_and_writes_both_files(
        run: AuditRun, tmp_path: Path) -> None:
    panel = WhatIfPanel(run, tmp_path)
    assert panel.kind.description == "Change" and "opskit-whatif" in panel.widget._dom_classes
    panel.kind.value = "revoke"
    assert panel.target.options[0] == FOLDER and panel.detail.layout.display == "flex"
    panel.preview.click()  # nothing picked yet: it says so
    assert "Pick a folder and which member or grant first" in panel.output.outputs[0]["data"][
        "text/html"]
    assert panel.write_csv.disabled and panel.export() == []
    panel.target.value = FOLDER
    assert panel.detail.options == (("group Secret Server Admins (Owner)",
                                     ("group", "Secret Server Admins")),)
    panel.preview.click()
    html = panel.output.outputs[0]["data"]["text/html"]
    assert ("What if: revoke the grant of group &#x27;Secret Server Admins&#x27; on /Break Glass"
            in html) and "3 users" in html and not panel.write_csv.disabled
    panel.write_csv.click()
    csv_file = tmp_path / PLANNED_FILE
    assert PLANNED_FILE in panel.links.value and not (tmp_path / SCIM_OPS_FILE).exists()
    planned = read_planned_changes(csv_file, [run.inventory, run.reference_inventory])
    assert audit.changes_of(planned) == panel.changes
    panel.write_ops.click()
    ops = json.loads((tmp_path / SCIM_OPS_FILE).read_text())
    assert [(op["method"], op["path"].split("/")[0]) for op in ops["operations"]] == [
        ("DELETE", "ContainerPermissions")] and SCIM_OPS_FILE in panel.links.value

    panel.kind.value = "remove-member"
    panel.target.value = "Secret Server Admins"
    assert "chloe.baker@acme.com" in [v for _, v in panel.detail.options]
    panel.detail.value = "chloe.baker@acme.com"
    assert panel.picked() == audit.RemoveMember("Secret Server Admins", "chloe.baker@acme.com")
    panel.target.value = "IT Service Desk"  # the demo's leaver: listed by the cloud view only
    assert "hannah.wang@acme.com" in [v for _, v in panel.detail.options]
    assert "hannah.wang@acme.com" not in set(run.reference_inventory.users["userName"])
    panel.detail.value = "hannah.wang@acme.com"
    assert panel.show([panel.picked()]) is not None  # the engine takes what the tab offers
    panel.kind.value = "disable-user"  # no second pick
    assert panel.detail.layout.display == "none" and panel.target.value == ""
    assert "hannah.wang@acme.com" not in panel.target.options  # disabled already
    assert "chloe.baker@acme.com" in panel.target.options
    refused = panel.show([audit.RevokeGrant("/IT/Identity/Dev", "hannah.wang@acme.com", "user")])
    assert refused is None and panel.write_csv.disabled  # inherited there: one clear message
    assert "Cannot preview" in panel.output.outputs[0]["data"]["text/html"]
    assert panel.show(["not a change"]) is None  # a bug says what it is, in the tab
    assert "Could not preview: TypeError: not a change" in panel.output.outputs[0]["data"][
        "text/html"] and panel.write_csv.disabled
    assert change_targets(run, "restore-inheritance")[0].count("/") > 1
    assert change_details(run, "delete-group", "IT Admins") == []
