"""What if: the engine's prediction equals the audit of the tenant with the change made.

The proof: random small tenant files, random changes applied to the tenant FILE here (plain
dict edits, as a person would edit the file, sharing no code with the engine), both served by
the practice tenant, inventoried over HTTP and audited; the engine's prediction from the first
pair of inventories must equal the audit of the second in effective access, findings and
coverage. Then each change type, the CSV round trip and the SCIM operations, one by one.
"""

from __future__ import annotations

import copy
import os
import random
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from opskit import audit
from opskit.audit import (
    BreakInheritance,
    ChangeNotApplicable,
    DeleteGroup,
    DisableUser,
    RemoveMember,
    RestoreInheritance,
    RevokeGrant,
    SetGrant,
    UnknownName,
)
from opskit.inventory import Inventory, fetch_inventory
from opskit.sandbox.app import Sandbox
from opskit.sandbox.serve import RunningSandbox
from opskit.sandbox.store import Tenant
from opskit.sandbox.tenantfile import parse_tenant

from .conftest import SMALL
from .servers import cloud_profile, onprem_profile

pytestmark = pytest.mark.slow  # 7-20 s in all: handed out early, so it does not start last

SA = "scim.integration@acme.com"
SMALL_DATA: dict[str, Any] = yaml.safe_load(SMALL.read_text())
RIGHT_CHOICES = [["Owner"], ["Edit"], ["View"], ["Add Secret"], ["View", "Owner"],
                 ["Edit", "View"]]


# --------------------------------------------------------------------------- serving
@pytest.fixture
def serve(_practice_server: tuple[str, Any]) -> Iterator[Any]:
    """serve(data) -> (cloud, on-prem) inventories of tenant data, over HTTP, on the
    session's practice server (a fresh tenant each call)."""
    url, current = _practice_server

    def views(data: dict[str, Any]) -> tuple[Inventory, Inventory]:
        tenant = Tenant(parse_tenant(copy.deepcopy(data), "<what-if test>"))
        current.app = (sandbox := Sandbox(tenant)).app
        sb = RunningSandbox(url, tenant, sandbox)
        return (fetch_inventory(cloud_profile(sb), progress=False, secret_permissions=True),
                fetch_inventory(onprem_profile(sb), progress=False, secret_permissions=True))

    try:
        yield views
    finally:
        current.app = None


# --------------------------------------------------------------------------- random tenants
def random_tenant(rng: random.Random) -> dict[str, Any]:
    """A small tenant: nested groups, a folder tree with inheritance on and off, grants of
    several rights (some to the service account, some through groups), secrets with their own
    permissions now and then."""
    users = [{"id": "u-scim", "userName": SA, "active": True}]
    for i in range(rng.randint(3, 5)):
        users.append({"id": f"u{i}", "userName": f"user{i}@acme.com",
                      "displayName": f"User {i}", "active": rng.random() > 0.2})
    groups: list[dict[str, Any]] = []
    for i in range(rng.randint(2, 4)):
        members = rng.sample([u["id"] for u in users[1:]], rng.randint(0, 2))
        if rng.random() < 0.3:
            members.append("u-scim")
        groups.append({"id": f"g{i}", "displayName": f"Group {i}", "members": members})
    for i, g in enumerate(groups[:-1]):  # nesting only downwards: never a cycle
        if rng.random() < 0.4:
            g["members"].append(f"g{rng.randint(i + 1, len(groups) - 1)}")
    folders: list[dict[str, Any]] = []
    for i in range(rng.randint(4, 7)):
        parent = rng.choice([None, *[f["id"] for f in folders]]) if folders else None
        folder: dict[str, Any] = {"id": f"f{i}", "name": f"F{i}", "parent": parent}
        if parent is not None and rng.random() < 0.4:
            folder["inherit_permissions"] = False
        folders.append(folder)
    principals = [("user", u["id"]) for u in users] + [("group", g["id"]) for g in groups]
    permissions = []
    for f in folders:
        if f["parent"] is not None and f.get("inherit_permissions") is not False:
            continue
        if rng.random() < 0.7:
            permissions.append({"folder": f["id"], "user": "u-scim",
                                "rights": rng.choice([["Owner"], ["Owner"], ["View", "Owner"]])})
        for kind, pid in rng.sample([p for p in principals if p[1] != "u-scim"],
                                    rng.randint(0, 3)):
            grant: dict[str, Any] = {"folder": f["id"], kind: pid,
                                     "rights": rng.choice(RIGHT_CHOICES)}
            if rng.random() < 0.15:
                grant["secret_role"] = rng.choice(["View", "Owner", "List"])
            permissions.append(grant)
    secrets = []
    for i in range(rng.randint(2, 5)):
        secret: dict[str, Any] = {"id": f"s{i}", "name": f"secret{i}",
                                  "folder": rng.choice(folders)["id"]}
        if rng.random() < 0.2:
            kind, pid = rng.choice(principals)
            secret["permissions"] = [{kind: pid, "rights": [rng.choice(["Owner", "View"])]}]
        secrets.append(secret)
    return {"tenant": "acme", "service_account": SMALL_DATA["service_account"],
            "onprem": {"token": SMALL_DATA["onprem"]["token"]}, "users": users,
            "groups": groups, "folders": folders, "permissions": permissions,
            "secrets": secrets}


def _paths(data: dict[str, Any]) -> dict[str, str]:
    folders = {f["id"]: f for f in data["folders"]}

    def path(fid: str) -> str:
        f = folders[fid]
        return (path(f["parent"]) if f["parent"] else "") + "/" + f["name"]

    return {fid: path(fid) for fid in folders}


def _inherits(folder: dict[str, Any]) -> bool:
    return folder["parent"] is not None and folder.get("inherit_permissions") is not False


def _names(data: dict[str, Any]) -> dict[str, str]:
    return {**{u["id"]: u["userName"] for u in data["users"]},
            **{g["id"]: g["displayName"] for g in data["groups"]}}


def random_change(rng: random.Random, data: dict[str, Any]) -> Any:
    """A change that applies to the tenant data as it stands."""
    paths, names = _paths(data), _names(data)
    folders = {f["id"]: f for f in data["folders"]}
    options: list[Any] = []
    for g in data["groups"]:
        options += [RemoveMember(g["displayName"], names[m]) for m in g["members"]
                    if m.startswith("u")]
        options.append(DeleteGroup(g["displayName"]))
    for p in data["permissions"]:
        kind = "user" if "user" in p else "group"
        options.append(RevokeGrant(paths[p["folder"]], names[p[kind]], kind))
    for f in data["folders"]:
        if f["parent"] is not None:
            options.append(BreakInheritance(paths[f["id"]]) if _inherits(f)
                           else RestoreInheritance(paths[f["id"]]))
    options += [DisableUser(u["userName"]) for u in data["users"]
                if u["active"] and u["id"] != "u-scim"]
    grantees = [(u["userName"], "user") for u in data["users"] if u["active"]] + \
        [(g["displayName"], "group") for g in data["groups"]]
    for _ in range(3):
        who, kind = rng.choice(grantees)
        options.append(SetGrant(paths[rng.choice(list(folders))], who,
                                tuple(rng.choice(RIGHT_CHOICES)), kind))  # type: ignore[arg-type]
    return rng.choice(options)


# --------------------------------------------------------------------------- the file, edited
def edit_tenant(data: dict[str, Any], change: Any) -> dict[str, Any]:
    """The tenant file with the change made, as a person would edit it."""
    data = copy.deepcopy(data)
    by_path = {p: fid for fid, p in _paths(data).items()}
    folders = {f["id"]: f for f in data["folders"]}
    ids = {n.casefold(): i for i, n in _names(data).items()}

    def source(fid: str) -> str:
        while _inherits(folders[fid]):
            fid = folders[fid]["parent"]
        return fid

    def break_inheritance(fid: str) -> None:
        src = source(fid)
        data["permissions"] += [{**copy.deepcopy(p), "folder": fid}
                                for p in data["permissions"] if p["folder"] == src]
        folders[fid]["inherit_permissions"] = False

    def holds(p: dict[str, Any], kind: str, pid: str) -> bool:
        return p.get(kind) == pid

    if isinstance(change, RemoveMember):
        group = next(g for g in data["groups"] if g["displayName"] == change.group)
        group["members"].remove(ids[change.user.casefold()])
    elif isinstance(change, DeleteGroup):
        gid = ids[change.group.casefold()]
        data["groups"] = [g for g in data["groups"] if g["id"] != gid]
        for g in data["groups"]:
            g["members"] = [m for m in g["members"] if m != gid]
        data["permissions"] = [p for p in data["permissions"] if not holds(p, "group", gid)]
        for s in data["secrets"]:
            if s.get("permissions") is not None:
                s["permissions"] = [p for p in s["permissions"] if not holds(p, "group", gid)]
    elif isinstance(change, DisableUser):
        next(u for u in data["users"] if u["userName"] == change.user)["active"] = False
    elif isinstance(change, RevokeGrant):
        fid, pid = by_path[change.folder], ids[change.principal.casefold()]
        data["permissions"] = [p for p in data["permissions"] if not (
            p["folder"] == fid and holds(p, change.principal_type or "user", pid))]
    elif isinstance(change, BreakInheritance):
        break_inheritance(by_path[change.folder])
    elif isinstance(change, RestoreInheritance):
        fid = by_path[change.folder]
        folders[fid]["inherit_permissions"] = True
        data["permissions"] = [p for p in data["permissions"] if p["folder"] != fid]
    elif isinstance(change, SetGrant):
        fid, pid = by_path[change.folder], ids[change.principal.casefold()]
        kind = change.principal_type or "user"
        if _inherits(folders[fid]):
            break_inheritance(fid)
        data["permissions"] = [p for p in data["permissions"]
                               if not (p["folder"] == fid and holds(p, kind, pid))]
        data["permissions"].append({"folder": fid, kind: pid, "rights": list(change.rights)})
    return data


# --------------------------------------------------------------------------- what to compare
def outcome(result: audit.PermissionAudit) -> dict[str, Any]:
    strongest = result.access.strongest()
    cov = result.coverage
    return {
        "access": set(zip(strongest["user"].astype(str), strongest["folder"].astype(str),
                          strongest["right"].astype(str), strict=True)),
        "findings": {(f.code, f.subject, f.message) for f in result.findings},
        "visible folders": set(cov.folders.loc[cov.folders["visible"], "path"]),
        "hidden secrets": set(cov.hidden_secrets["path"]),
        "counts": (cov.folders_total, cov.folders_visible, cov.secrets_total,
                   cov.secrets_visible),
    }


@pytest.mark.parametrize("seed", range(int(os.environ.get("OPSKIT_WHATIF_SEEDS", "6"))))
def test_what_if_equals_the_audit_of_the_tenant_with_the_change_made(serve: Any,
                                                                      seed: int) -> None:
    rng = random.Random(seed)
    data = random_tenant(rng)
    cloud, onprem = serve(data)
    changes = []
    edited = data
    for _ in range(rng.randint(1, 3)):
        change = random_change(rng, edited)
        changes.append(change)
        edited = edit_tenant(edited, change)
    predicted = audit.what_if(cloud, changes, reference=onprem, tenant="acme",
                              service_account=SA)
    cloud_after, onprem_after = serve(edited)
    rerun = audit.audit_permissions(cloud_after, onprem_after, tenant="acme", service_account=SA)
    want, got = outcome(rerun), outcome(predicted.after)
    for key in want:
        assert got[key] == want[key], (key, [c.describe() for c in changes])
    # The differences read the same two audits.
    before = outcome(predicted.before)
    gained = {(u, f) for u, f, _ in want["access"]} - {(u, f) for u, f, _ in before["access"]}
    assert gained == set(zip(*(predicted.access.loc[predicted.access["change"] == "gains", c]
                               for c in ("user", "folder")), strict=True))
    assert {(c, s) for c, s, _ in want["findings"] - before["findings"]} >= set(zip(
        *(predicted.findings.loc[predicted.findings["change"] == "appears", c]
          for c in ("code", "subject")), strict=True))


# --------------------------------------------------------------------------- each change, by hand
@pytest.fixture(scope="module")
def small(_practice_server: tuple[str, Any]) -> tuple[Inventory, Inventory]:
    url, current = _practice_server
    tenant = Tenant(parse_tenant(copy.deepcopy(SMALL_DATA), "small.yaml"))
    current.app = (sandbox := Sandbox(tenant)).app
    try:
        sb = RunningSandbox(url, tenant, sandbox)
        return (fetch_inventory(cloud_profile(sb), progress=False, secret_permissions=True),
                fetch_inventory(onprem_profile(sb), progress=False, secret_permissions=True))
    finally:
        current.app = None


def rows(frame: Any, *columns: str) -> set[tuple[Any, ...]]:
    return set(zip(*(frame[c].tolist() for c in columns), strict=True))


ALICE, BOB, CAROL = "Alice@Acme.com", "bob@acme.com", "carol@acme.com"
PROD = "/IT/Databases/Prod"
CASES = [
    (RevokeGrant(PROD, "Vault Admins", "group"), {(SA, PROD, "loses")},
     {("appears", "FOLDER_NOT_VISIBLE", PROD), ("disappears", "FOLDER_WITHOUT_OWNER", PROD)},
     {("folder", PROD, "newly hidden"), ("secret", PROD + "/prod-db-sa", "newly hidden")}),
    (RemoveMember("DBA", "alice@acme.com"),
     {(ALICE, "/IT", "loses"), (ALICE, "/IT/Databases", "loses")}, set(), set()),
    (DisableUser(BOB), {(BOB, "/IT", "loses"), (BOB, "/IT/Databases", "loses")}, set(), set()),
    (DeleteGroup("DBA"), {(u, f, "loses") for u in (ALICE, BOB)
                          for f in ("/IT", "/IT/Databases")}, set(), set()),
    (BreakInheritance("/IT/Databases"), set(), set(), set()),
    (RestoreInheritance(PROD), {(ALICE, PROD, "gains"), (BOB, PROD, "gains"),
                                (CAROL, PROD, "loses")},
     {("disappears", c, s) for c, s in (("FOLDER_WITHOUT_OWNER", PROD),
                                         ("GRANT_TO_DISABLED_USER", CAROL),
                                         ("DIRECT_USER_GRANT", CAROL))}, set()),
    (SetGrant("/HR", "Vault Admins", ("Owner",), "group"), {(SA, "/HR", "gains")},
     {("disappears", "FOLDER_NOT_VISIBLE", "/HR")},
     {("folder", "/HR", "newly visible"), ("secret", "/HR/payroll", "newly visible")}),
]


@pytest.mark.parametrize(("change", "access", "findings", "coverage"), CASES,
                         ids=[c[0].kind for c in CASES])
def test_each_change_type_on_the_small_tenant(small: tuple[Inventory, Inventory], change: Any,
                                              access: set[Any], findings: set[Any],
                                              coverage: set[Any]) -> None:
    cloud, onprem = small
    frames = {k: v.copy() for k, v in cloud.frames().items()}
    result = audit.what_if(cloud, change, reference=onprem, tenant="acme")
    assert rows(result.access, "user", "folder", "change") == access
    assert rows(result.findings, "change", "code", "subject") == findings
    assert rows(result.coverage, "kind", "path", "change") == coverage
    assert change.describe() in result.summary()
    for name, frame in cloud.frames().items():  # the inventories given are left as they were
        assert frame.equals(frames[name]), name


def test_secrets_follow_the_folders_whose_access_changes(
        small: tuple[Inventory, Inventory]) -> None:
    cloud, onprem = small
    result = audit.what_if(cloud, RemoveMember("DBA", ALICE), reference=onprem)
    assert rows(result.secrets, "user", "secret", "change") == {
        (ALICE, "/IT/Databases/dev-db-sa", "loses")}  # it-root has permissions of its own


def test_a_change_that_cannot_be_made_says_why(small: tuple[Inventory, Inventory]) -> None:
    cloud, onprem = small
    with pytest.raises(ChangeNotApplicable, match="inherits its grants from /IT"):
        audit.what_if(cloud, RevokeGrant("/IT/Databases", "DBA"), reference=onprem)
    with pytest.raises(ChangeNotApplicable, match="not a direct member of DBA"):
        audit.what_if(cloud, RemoveMember("DBA", BOB), reference=onprem)  # through DBA Juniors
    with pytest.raises(ChangeNotApplicable, match="root"):
        audit.apply_changes(onprem, BreakInheritance("/IT"))
    with pytest.raises(UnknownName, match="did you mean '/IT/Databases'"):
        audit.apply_changes(onprem, RevokeGrant("/IT/Databasse", "DBA"))
    with pytest.raises(ChangeNotApplicable, match=r"carol@acme\.com is disabled already"):
        audit.what_if(cloud, DisableUser(CAROL), reference=onprem)
    with pytest.raises(ChangeNotApplicable, match=r"bob@acme\.com is disabled already"):
        audit.what_if(cloud, [DisableUser(BOB), DisableUser(BOB)], reference=onprem)
    # A revoke after breaking the inheritance is fine: the copy is revoked.
    after = audit.apply_changes(onprem, [BreakInheritance("/IT/Databases"),
                                         RevokeGrant("/IT/Databases", "DBA")])
    access = audit.effective_access(after)
    assert access.who_reaches("/IT/Databases")["user"].tolist() == [SA]


def test_a_tenant_without_folders_previews_each_change(serve: Any) -> None:
    data = {**{k: SMALL_DATA[k] for k in ("tenant", "service_account", "onprem")},
            "users": [{"id": "u-scim", "userName": SA, "active": True},
                      {"id": "u1", "userName": "ann@acme.com", "active": True}],
            "groups": [{"id": "g1", "displayName": "Staff", "members": ["u1"]}],
            "folders": [], "permissions": [], "secrets": []}
    cloud, onprem = serve(data)
    for change in (RemoveMember("Staff", "ann@acme.com"), DeleteGroup("Staff"),
                   DisableUser("ann@acme.com")):
        result = audit.what_if(cloud, change, reference=onprem, service_account=SA)
        assert result.access.empty and result.secrets.empty, change
        assert list(result.secrets.columns) == ["user", "secret", "folder", "before", "after",
                                                "change"]


def test_one_right_given_as_a_string_is_one_right(small: tuple[Inventory, Inventory]) -> None:
    grant = SetGrant("/HR", "Vault Admins", "Owner", "group")  # type: ignore[arg-type]
    assert grant.rights == ("Owner",) and grant == SetGrant("/HR", "Vault Admins", ("Owner",),
                                                           "group")
    assert SetGrant("/HR", BOB, ["Edit", "View"]).rights == ("Edit", "View")  # type: ignore
    cloud, onprem = small
    result = audit.what_if(cloud, grant, reference=onprem)
    assert rows(result.access, "user", "folder", "change") == {(SA, "/HR", "gains")}


def test_apply_changes_to_a_lone_inventory(small: tuple[Inventory, Inventory]) -> None:
    cloud, onprem = small
    # Without a reference, the cloud view can only lose folders: it cannot know the others.
    after = audit.apply_changes(cloud, RevokeGrant(PROD, "Vault Admins"))
    assert PROD not in set(after.containers["path"])
    assert "prod-db-sa" not in set(after.privileged_data["name"])
    disabled = audit.apply_changes(onprem, DisableUser(BOB))
    assert BOB not in set(disabled.users["userName"])  # the on-prem connector lists no
    assert "u2" not in set(disabled.group_members["member_id"])  # disabled users


# --------------------------------------------------------------------------- exports
ALL_CHANGES = [SetGrant("/HR", "Vault Admins", ("View", "Owner"), "group"),
               RevokeGrant(PROD, "carol@acme.com", "user"), RemoveMember("DBA", ALICE),
               BreakInheritance("/IT/Databases"), RestoreInheritance(PROD),
               DisableUser(BOB), DeleteGroup("DBA Juniors")]


def test_the_planned_changes_csv_reads_back_to_the_same_changes(
        small: tuple[Inventory, Inventory], tmp_path: Any) -> None:
    from opskit.csvfile import CsvFileError
    from opskit.inputs.audit import read_planned_changes, write_planned_changes

    path = write_planned_changes(ALL_CHANGES, tmp_path / "planned.csv")
    planned = read_planned_changes(path, list(small))
    assert audit.changes_of(planned) == ALL_CHANGES
    # The grants the audit has always read are still there, as before.
    grants = planned[planned["change"] == "grant"]  # the grants, as the audit reads them
    assert grants[["folder", "principal", "principal_type"]].values.tolist() == [
        ["/HR", "Vault Admins", "group"]]
    assert grants["rights"].tolist() == [["View", "Owner"]]
    old = tmp_path / "old.csv"
    old.write_text("Folder Path,Principal,Rights\n/HR,DBA,Edit\n")
    assert audit.changes_of(read_planned_changes(old, list(small))) == [
        SetGrant("/HR", "DBA", ("Edit",), "group")]  # a grants-only file, as it always was
    bad = tmp_path / "bad.csv"
    bad.write_text("Change,Folder Path,Principal,Rights,Group\nremove-member,,bob@acme.com,,\n"
                   "rename,/HR,,,\n")
    with pytest.raises(CsvFileError, match=r"line 2.*group column is empty"):
        read_planned_changes(bad, list(small))
    bad.write_text("Change,Folder Path,Principal,Rights\nrename,/HR,,\n")
    with pytest.raises(CsvFileError, match="unknown change 'rename'"):
        read_planned_changes(bad, list(small))


def test_scim_plan_names_ids_in_paths_and_users_by_name(
        small: tuple[Inventory, Inventory]) -> None:
    cloud, onprem = small
    plan = audit.scim_plan(cloud, ALL_CHANGES, reference=onprem)
    steps = [(op.method, op.path) for op in plan.operations]
    carol = next(i for i, c, p in zip(onprem.container_permissions["id"],
                                      onprem.container_permissions["container_id"],
                                      onprem.container_permissions["principal_id"],
                                      strict=True) if (c, p) == ("f3", "u3"))
    assert steps == [("POST", "ContainerPermissions"), ("DELETE", f"ContainerPermissions/{carol}"),
                     ("PATCH", "Groups/g1"), ("PUT", "Users/u2"), ("DELETE", "Groups/g3")]
    assert plan.operations[0].body["group"] == {"value": "g2"}
    assert "keeps only the first right" in plan.operations[0].summary
    assert plan.operations[2].members == "remove: alice@acme.com (u1)"  # as the cloud lists
    assert plan.operations[3].body["active"] is False
    assert [(m.code, m.subjects) for m in plan.manual] == [
        ("break-inheritance", ("/IT/Databases",)), ("restore-inheritance", (PROD,))]
    assert "no SCIM operation" in str(plan)


def test_the_scim_plan_sent_makes_what_the_what_if_predicted(scim: Any) -> None:
    """Sent to the practice tenant's cloud connector, the plan's operations leave the tenant as
    the what-if said."""
    sb = scim.sb

    def views() -> tuple[Inventory, Inventory]:
        return (fetch_inventory(cloud_profile(sb), progress=False, secret_permissions=True),
                fetch_inventory(onprem_profile(sb), progress=False, secret_permissions=True))

    cloud, onprem = views()
    changes = [RevokeGrant(PROD, "carol@acme.com"), RemoveMember("DBA", ALICE),
               SetGrant("/IT", BOB, ("View",)), DisableUser(BOB),
               DeleteGroup("DBA Juniors")]
    predicted = audit.what_if(cloud, changes, reference=onprem, tenant="acme")
    plan = audit.scim_plan(cloud, changes, reference=onprem)
    assert not plan.manual and not plan.skipped
    for op in plan.operations:
        answer = scim.cloud.request(op.method, op.path, json=op.body or None)
        assert answer.status_code < 300, (op.method, op.path, answer.text)
    rerun = audit.audit_permissions(*views(), tenant="acme")
    assert outcome(predicted.after) == outcome(rerun)


def test_the_what_if_view_shows_the_summary_and_each_part(
        small: tuple[Inventory, Inventory]) -> None:
    from opskit.widgets import WhatIfView, what_if

    cloud, onprem = small
    view = what_if(cloud, RevokeGrant(PROD, "Vault Admins"), reference=onprem, tenant="acme")
    assert isinstance(view, WhatIfView)
    html = view._repr_html_()
    assert "revoke the grant of &#x27;Vault Admins&#x27; on /IT/Databases/Prod" in html
    assert "FOLDER_NOT_VISIBLE" in html and "newly hidden" in html
    assert set(view.tables()) == {"access", "secrets", "findings", "coverage"}
