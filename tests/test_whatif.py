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


# --------------------------------------------------------------------------- the tenant file, edited
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
