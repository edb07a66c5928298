"""Why a user reaches a folder or secret: every path, and the single changes that remove it.

Each offered change is checked by applying it to the inventory's frames and recomputing the
effective access: the user must no longer reach the target. A diamond of nested groups
(All Staff > IT > DBA and All Staff > Ops > DBA) proves that every chain is listed, not only the
shortest the access table keeps.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pandas as pd
import pytest

from opskit import audit
from opskit.inventory import Inventory, fetch_inventory
from opskit.sandbox.serve import running
from opskit.sandbox.tenantfile import parse_tenant

from .servers import cloud_profile, onprem_profile

TENANT: dict[str, Any] = {
    "tenant": "acme",
    "service_account": {"user": "u-scim", "client_id": "scim.integration@acme.com",
                        "client_secret": "practice-only"},
    "onprem": {"token": "practice-onprem-token"},
    "users": [
        {"id": "u-scim", "userName": "scim.integration@acme.com", "displayName": "SCIM",
         "active": True},
        {"id": "u1", "userName": "alice@acme.com", "displayName": "Alice", "active": True},
        {"id": "u2", "userName": "bob@acme.com", "displayName": "Bob", "active": True},
        {"id": "u3", "userName": "carol@acme.com", "displayName": "Carol", "active": False},
    ],
    "groups": [
        {"id": "g1", "displayName": "All Staff", "members": ["g2", "g3"]},
        {"id": "g2", "displayName": "IT", "members": ["g4"]},
        {"id": "g3", "displayName": "Ops", "members": ["g4"]},
        {"id": "g4", "displayName": "DBA", "members": ["u1", "u3"]},
        {"id": "g5", "displayName": "Leads", "members": ["u1", "u2"]},
    ],
    "folders": [
        {"id": "f1", "name": "IT", "parent": None},
        {"id": "f2", "name": "Databases", "parent": "f1"},
        {"id": "f3", "name": "Prod", "parent": "f2"},
        {"id": "f4", "name": "HR", "parent": None},
        {"id": "f5", "name": "Vault", "parent": None},
    ],
    "permissions": [
        {"folder": "f1", "user": "u-scim", "rights": ["Owner"]},
        {"folder": "f1", "group": "g1", "rights": ["Edit"]},
        {"folder": "f1", "group": "g5", "rights": ["View"]},
        {"folder": "f4", "user": "u-scim", "rights": ["Owner"]},
        {"folder": "f4", "group": "g4", "rights": ["View"]},
        {"folder": "f4", "user": "u2", "rights": ["Owner"]},
        {"folder": "f5", "user": "u-scim", "rights": ["Owner"]},
    ],
    "secrets": [
        {"id": "s1", "name": "prod-db", "folder": "f3"},
        {"id": "s2", "name": "payroll", "folder": "f4",
         "permissions": [{"user": "u2", "rights": ["Owner"]},
                         {"group": "g4", "rights": ["View"]}]},
    ],
}


@pytest.fixture(scope="module")
def views() -> tuple[Inventory, Inventory]:
    """(cloud, on-prem): the on-prem view leaves disabled users out, the cloud one lists them."""
    with running(parse_tenant(TENANT, "<why>")) as sb:
        return (fetch_inventory(cloud_profile(sb), progress=False),
                fetch_inventory(onprem_profile(sb), progress=False, secret_permissions=True))


@pytest.fixture(scope="module")
def inv(views: tuple[Inventory, Inventory]) -> Inventory:
    return views[1]


def reaches(inv: Inventory, user: str, folder: str | None = None, *,
            secret: str | None = None) -> bool:
    access = audit.effective_access(inv)
    if secret is not None:
        return user in set(access.who_reaches_secret(secret)["user"])
    return user in set(access.who_reaches(folder or "")["user"])


def applied(inv: Inventory, change: audit.Removal) -> Inventory:
    """The inventory with one change made, by plain frame edits."""
    gm, cp, sp = inv.group_members, inv.container_permissions, inv.privileged_data_permissions
    fid = dict(zip(inv.containers["path"], inv.containers["id"], strict=True))
    sid = {f"{p}/{n}": i for p, n, i in zip(
        inv.containers.set_index("id").loc[inv.privileged_data["container_id"], "path"],
        inv.privileged_data["name"], inv.privileged_data["id"], strict=True)}
    if change.kind == "remove member":
        gm = gm[~((gm["group_id"] == change.group_id) & (gm["member_id"] == change.member_id))]
    elif change.kind == "revoke grant" and change.secret is None:
        # Set on the folder, listed again (inherited) on every folder below that takes it.
        cp = cp[~((cp["principal_type"] == change.principal_type)
                  & (cp["principal_id"] == change.principal_id))]
    elif change.kind == "revoke grant":
        sp = sp[~((sp["privileged_data_id"] == sid[change.secret])
                  & (sp["principal_type"] == change.principal_type)
                  & (sp["principal_id"] == change.principal_id))]
    elif change.secret is not None:  # break inheritance on a secret, leaving the grants out
        out = set(change.leave_out)
        keep = [(k, p) not in out for k, p in zip(sp["principal_type"], sp["principal_id"],
                                                  strict=True)]
        sp = sp[~((sp["privileged_data_id"] == sid[change.secret]) & ~pd.Series(keep,
                                                                                 index=sp.index))]
    else:  # break inheritance on a folder: its own copy of the permissions, fresh ids
        f = fid[change.folder]
        mine = cp["container_id"] == f
        out = set(change.leave_out)
        left = [(k, p) in out for k, p in zip(cp["principal_type"], cp["principal_id"],
                                              strict=True)]
        cp = cp[~(mine & pd.Series(left, index=cp.index))].copy()
        cp.loc[cp["container_id"] == f, "id"] = [
            f"own{i}" for i in range((cp["container_id"] == f).sum())]
    return replace(inv, group_members=gm, container_permissions=cp,
                   privileged_data_permissions=sp)


def test_every_chain_through_a_diamond_and_the_inheritance_root(inv: Inventory) -> None:
    w = audit.effective_access(inv).why("Alice@acme.com", "/IT/Databases/Prod")
    assert w.user == "alice@acme.com" and w.granted_on == "/IT"
    assert w.inherits_through == ("/IT/Databases", "/IT/Databases/Prod")
    assert w.right == "Edit"
    assert w.paths[["right", "principal", "via"]].values.tolist() == [
        ["Edit", "All Staff", "All Staff > IT > DBA"],
        ["Edit", "All Staff", "All Staff > Ops > DBA"],
        ["View", "Leads", "Leads"]]
    # No membership or grant is on all three paths; only breaking inheritance removes it.
    assert [c.kind for c in w.removals] == ["break inheritance", "break inheritance"]
    assert w.removals[0].folder == "/IT/Databases/Prod"
    assert set(w.removals[0].leave_out) == {("group", "g1"), ("group", "g5")}
    assert reaches(inv, "alice@acme.com", "/IT/Databases/Prod")
    assert not reaches(applied(inv, w.removals[0]), "alice@acme.com", "/IT/Databases/Prod")
    # A step on some paths but not all is not enough: each leaves the access in place.
    for partial in (audit.Removal("remove member", "", group_id="g4", member_id="u1"),
                    audit.Removal("remove member", "", group_id="g2", member_id="g4"),
                    audit.Removal("revoke grant", "", principal_type="group", principal_id="g1"),
                    audit.Removal("revoke grant", "", principal_type="group", principal_id="g5")):
        assert reaches(applied(inv, partial), "alice@acme.com", "/IT/Databases/Prod"), partial
    assert "3 paths" in w.summary() and "| 1 | Edit | group All Staff |" in w.markdown()


def test_no_single_change_where_the_grants_are_set(inv: Inventory) -> None:
    w = audit.why(audit.effective_access(inv), "alice@acme.com", "/IT")
    assert w.removals == () and w.inherits_through == ()
    assert w.summary() == ("alice@acme.com → /IT: Edit through 3 paths; no single change: "
                           "3 paths share no step")


def test_each_offered_change_removes_the_access(inv: Inventory) -> None:
    access = audit.effective_access(inv)
    w = access.why("alice@acme.com", "/HR")  # one path: HR's View grant to DBA, listing Alice
    assert w.paths["via"].tolist() == ["DBA"] and w.granted_on == "/HR"
    assert [c.text for c in w.removals] == ["remove alice@acme.com from group 'DBA'",
                                            "revoke the group grant to 'DBA' on /HR"]
    for change in w.removals:
        assert not reaches(applied(inv, change), "alice@acme.com", "/HR"), change
    direct = access.why("bob@acme.com", "/HR")
    assert direct.paths["via"].tolist() == ["direct"]
    [change] = direct.removals
    assert change.principal_id == "u2"
    assert not reaches(applied(inv, change), "bob@acme.com", "/HR")


def test_a_disabled_user_keeps_access_in_the_audit(views: tuple[Inventory, Inventory]) -> None:
    w = audit.effective_access(views[0]).why("carol@acme.com", "/HR")
    assert w.active is False and w.reaches
    assert "disabling is no way to remove access" in w.note
    assert all(c.kind != "disable user" for c in w.removals)


def test_secrets_read_their_own_permissions_or_their_folders(inv: Inventory) -> None:
    access = audit.effective_access(inv)
    own = access.why("alice@acme.com", secret="/HR/payroll")
    assert own.kind == "secret" and own.granted_on == "/HR/payroll" and own.right == "View"
    assert own.inherits_through == ()
    for change in own.removals:
        assert not reaches(applied(inv, change), "alice@acme.com", secret="/HR/payroll"), change
    inherited = access.why("bob@acme.com", secret="/IT/Databases/Prod/prod-db")
    assert inherited.granted_on == "/IT" and inherited.paths["via"].tolist() == ["Leads"]
    assert inherited.inherits_through[-1] == "/IT/Databases/Prod/prod-db"
    assert [c.kind for c in inherited.removals][:2] == ["remove member", "revoke grant"]


def test_no_access_and_unknown_names(inv: Inventory) -> None:
    access = audit.effective_access(inv)
    none = access.why("bob@acme.com", "/Vault")
    assert not none.reaches and none.right is None and none.removals == ()
    assert none.summary() == "bob@acme.com → /Vault: no access"
    assert access.why("scim.integration@acme.com", "/HR").right == "Owner"
    assert access.why("bob@acme.com", secret="/HR/payroll").paths["via"].tolist() == ["direct"]
    with pytest.raises(audit.UnknownName, match=r"(?s)no user 'alicia@acme.com'.*alice@acme.com"):
        access.why("alicia@acme.com", "/HR")
    with pytest.raises(audit.UnknownName, match="no folder '/Hr'"):
        access.why("alice@acme.com", "/Hr")
    with pytest.raises(audit.UnknownName, match="no secret '/HR/pay'"):
        access.why("alice@acme.com", secret="/HR/pay")


def test_the_markdown_shows_hostile_names_as_text() -> None:
    """What Lab shows for a Why (its Markdown) keeps a group's and a folder's markup as text."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    from .hostile_names import IMG, MD_LINK, SVG, scan

    tenant = copy.deepcopy(TENANT)
    tenant["groups"][3]["displayName"] = f"DBA {IMG} {MD_LINK}"  # g4, which lists alice
    tenant["folders"][1]["name"] = f"Data {SVG} `x`"  # f2, between the grant and Prod
    with running(parse_tenant(tenant, "<why-hostile>")) as sb:
        onprem = fetch_inventory(onprem_profile(sb), progress=False)
    access = audit.effective_access(onprem)
    w = audit.why(access, "alice@acme.com", f"/IT/Data {SVG} `x`/Prod")
    assert w.reaches and "DBA" in w.markdown()
    html = markdown2html_mistune(w.markdown())
    page = scan(html)
    assert page.problems == [], page.problems
    assert "<img" not in html and "<svg" not in html and "<a " not in html
    assert IMG in page.text and SVG in page.text  # shown, as text
