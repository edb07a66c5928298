"""Permission audit: effective access, coverage, findings and drift, over real HTTP.

The demo tenant's expected findings (computed from the raw tenant data by the generator) are
the acceptance test: the audit of the cloud view against the on-prem view must report exactly
the permission codes listed there, nothing more. The inventories are fetched once per module.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from opskit import audit
from opskit.audit._groups import expand_groups
from opskit.errors import ConfigError, LimitExceeded, OpskitError
from opskit.findings import declared
from opskit.inputs.audit import load_grant_history, save_grant_history
from opskit.inventory import Inventory, fetch_inventory, load_snapshot, save_snapshot
from opskit.sandbox import demodata
from opskit.sandbox.serve import running
from opskit.sandbox.tenantfile import parse_tenant

from .bounded import run_bounded
from .conftest import SMALL
from .nesting import chain_frames, expand_chain
from .servers import cloud_profile, onprem_profile

pytestmark = pytest.mark.slow  # 7-20 s in all: handed out early, so it does not start last

PERMISSION_CODES = {"PARTIAL_FOLDER_VISIBILITY", "NO_VISIBLE_SECRETS", "FOLDER_NOT_VISIBLE",
                    "SECRETS_NOT_VISIBLE", "SECRET_NOT_OWNED",
                    "FOLDER_WITHOUT_OWNER", "GRANT_TO_DISABLED_USER", "GRANT_TO_EMPTY_GROUP",
                    "RIGHTS_TRUNCATED", "DIRECT_USER_GRANT"}
SA = "scim.integration@acme.com"


def both_views(data: Any) -> tuple[Inventory, Inventory]:
    """(cloud, on-prem) inventories of tenant data, each fetched over HTTP."""
    tenant = data if not isinstance(data, dict) else parse_tenant(data, "<test data>")
    with running(tenant) as sb:
        return (fetch_inventory(cloud_profile(sb), progress=False, secret_permissions=True),
                fetch_inventory(onprem_profile(sb), progress=False, secret_permissions=True))


@pytest.fixture(scope="module")
def demo() -> tuple[Inventory, Inventory]:
    """The built-in profiles: the demo tenant at scale 1, seed 0."""
    return (fetch_inventory("sandbox", progress=False, secret_permissions=True),
            fetch_inventory("sandbox-onprem", progress=False, secret_permissions=True))


@pytest.fixture(scope="module")
def demo_audit(demo: tuple[Inventory, Inventory]) -> audit.PermissionAudit:
    cloud, onprem = demo
    return audit.audit_permissions(cloud, onprem, tenant="acme")


def test_the_audit_of_snapshots_read_in_part_is_the_whole_audit(
        tmp_path: Path, demo: tuple[Inventory, Inventory],
        demo_audit: audit.PermissionAudit) -> None:
    cloud, onprem = (load_snapshot(save_snapshot(inv, tmp_path / name),
                                   columns=audit.COLUMNS_READ)
                     for inv, name in zip(demo, ("cloud", "onprem"), strict=True))
    assert "id" not in onprem.privileged_data_permissions.columns
    part = audit.audit_permissions(cloud, onprem, tenant="acme")
    assert [f.as_dict() for f in part.findings] == [f.as_dict() for f in demo_audit.findings]
    assert part.access.count_rows("folder").equals(demo_audit.access.count_rows("folder"))
    secret = demo_audit.access.secrets["path"].iloc[0]
    pd.testing.assert_frame_equal(part.access.who_reaches_secret(secret),
                                  demo_audit.access.who_reaches_secret(secret))


@pytest.fixture(scope="module")
def small() -> tuple[Inventory, Inventory]:
    return both_views(SMALL)


def expected(data: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["code"], f["subject"]) for f in demodata.expected_findings(data)
            if f["code"] in PERMISSION_CODES}


def found(findings: list[Any]) -> set[tuple[str, str]]:
    pairs = [(f.code, f.subject) for f in findings]
    assert len(pairs) == len(set(pairs)), "a (code, subject) pair is reported twice"
    return set(pairs)


# --------------------------------------------------------------------------- acceptance
def test_demo_tenant_findings_are_exactly_the_expected_ones(
        demo_audit: audit.PermissionAudit) -> None:
    assert found(demo_audit.findings) == expected(demodata.generate(1, 0))
    assert demo_audit.service_account == SA  # inferred from the cloud view
    for f in demo_audit.findings:
        severity, remediation = declared(f.code).severity, declared(f.code).remediation
        assert (f.severity, f.remediation) == (severity, remediation)
        assert f.message and not f.subject.startswith("…")


@pytest.mark.parametrize(("scale", "seed"), [(1, 3), (2, 0)])
def test_other_demo_tenants_give_exactly_the_expected_findings(scale: int, seed: int) -> None:
    data = demodata.generate(scale, seed)
    cloud, onprem = both_views(data)
    findings = audit.permission_findings(cloud, onprem, tenant="acme", service_account=SA)
    assert found(findings) == expected(data)


def test_demo_messages_say_what_was_found(demo_audit: audit.PermissionAudit) -> None:
    by = {(f.code, f.subject): f.message for f in demo_audit.findings}
    assert "Owner of 90 of 100 folders" in by["PARTIAL_FOLDER_VISIBILITY", "acme"]
    assert "[View, Owner]" in by["FOLDER_NOT_VISIBLE", "/Vendors"]
    assert "2 subfolders that inherit from it are hidden too" in by["FOLDER_NOT_VISIBLE",
                                                                    "/Vendors"]
    assert by["GRANT_TO_DISABLED_USER", "hannah.wang@acme.com"].endswith("[Edit] on /IT")
    assert "[View, Edit], in effect View" in by["RIGHTS_TRUNCATED",
                                                "/Engineering/API Gateway/Prod"]


def test_small_tenant_findings(small: tuple[Inventory, Inventory]) -> None:
    cloud, onprem = small
    findings = audit.permission_findings(cloud, onprem, tenant="acme")
    assert found(findings) == {
        ("PARTIAL_FOLDER_VISIBILITY", "acme"),
        ("FOLDER_NOT_VISIBLE", "/HR"), ("FOLDER_NOT_VISIBLE", "/Shared"),
        ("SECRET_NOT_OWNED", "/IT/it-root"),
        # /IT: only the service account is Owner; Prod: Owner only through Vault Admins,
        # whose one member is the service account.
        ("FOLDER_WITHOUT_OWNER", "/IT"), ("FOLDER_WITHOUT_OWNER", "/IT/Databases/Prod"),
        ("GRANT_TO_DISABLED_USER", "carol@acme.com"),
        ("RIGHTS_TRUNCATED", "/Shared"),
        ("DIRECT_USER_GRANT", "alice@acme.com"), ("DIRECT_USER_GRANT", "carol@acme.com"),
    }


def test_a_person_beside_the_service_account_in_the_owner_group_is_an_owner() -> None:
    data = parse_tenant_dict(SMALL)
    next(g for g in data["groups"] if g["id"] == "g2")["members"].append("u2")  # Vault Admins
    data["groups"].append({"id": "g6", "displayName": "Nobody", "members": []})
    data["permissions"].append({"folder": "f1", "group": "g6", "rights": ["View"]})
    cloud, onprem = both_views(data)
    pairs = found(audit.permission_findings(cloud, onprem, tenant="acme"))
    assert ("FOLDER_WITHOUT_OWNER", "/IT/Databases/Prod") not in pairs
    assert ("FOLDER_WITHOUT_OWNER", "/IT") in pairs
    assert ("GRANT_TO_EMPTY_GROUP", "Nobody") in pairs


def test_a_folder_with_its_own_permissions_in_a_hidden_subtree_gets_its_own_finding() -> None:
    # /HR is hidden; below it /HR/Payroll breaks inheritance (no service account there) and
    # /HR/Payroll/2026 inherits from it; /HR/Staff inherits from /HR. Granting Owner on /HR
    # reveals /HR/Staff but not /HR/Payroll, so each needs a finding of its own.
    data = parse_tenant_dict(SMALL)
    data["folders"] += [
        {"id": "f6", "name": "Payroll", "parent": "f4", "inherit_permissions": False},
        {"id": "f7", "name": "2026", "parent": "f6"},
        {"id": "f8", "name": "Staff", "parent": "f4"}]
    data["permissions"].append({"folder": "f6", "user": "u2", "rights": ["Owner"]})
    data["secrets"] += [{"id": "s6", "name": "bank", "folder": "f7"},
                        {"id": "s7", "name": "hris", "folder": "f8"}]
    cloud, onprem = both_views(data)
    findings = audit.permission_findings(cloud, onprem, tenant="acme")
    folder_codes = {"PARTIAL_FOLDER_VISIBILITY", "FOLDER_NOT_VISIBLE"}
    assert ({p for p in found(findings) if p[0] in folder_codes}
            == {p for p in expected(data) if p[0] in folder_codes})
    by = {f.subject: f.message for f in findings if f.code == "FOLDER_NOT_VISIBLE"}
    assert set(by) == {"/HR", "/HR/Payroll", "/Shared"}  # /Shared: [View, Owner], truncated
    assert "1 subfolder that inherits from it is hidden too" in by["/HR"]
    assert "1 folder below it with permissions of its own stays hidden" in by["/HR"]
    assert "(2 secrets in what it hides)" in by["/HR"]
    assert "hidden subtree of /HR, but granting Owner there will not reveal it" in by[
        "/HR/Payroll"]
    assert "(1 secret in what it hides)" in by["/HR/Payroll"]
    [partial] = [f.message for f in findings if f.code == "PARTIAL_FOLDER_VISIBILITY"]
    assert "5 folders in 2 subtrees are hidden" in partial


def parse_tenant_dict(path: Path) -> dict[str, Any]:
    import yaml

    return copy.deepcopy(yaml.safe_load(path.read_text()))


def test_without_a_reference_coverage_is_not_measured(demo: tuple[Inventory, Inventory]) -> None:
    cloud, _ = demo
    cov = audit.coverage(cloud)
    assert not cov.measured and cov.folder_share is None and cov.secret_share is None
    assert "cannot be measured" in cov.statement and "not 100%" in cov.statement
    findings = audit.permission_findings(cloud, tenant="acme")
    codes = Counter(f.code for f in findings)
    assert codes["COVERAGE_NOT_MEASURED"] == 1
    assert not codes.keys() & {"PARTIAL_FOLDER_VISIBILITY", "FOLDER_NOT_VISIBLE",
                               "SECRET_NOT_OWNED"}
    # Grants the cloud view shows are still audited.
    assert ("GRANT_TO_DISABLED_USER", "hannah.wang@acme.com") in found(findings)


def test_coverage_share_and_tree(demo_audit: audit.PermissionAudit) -> None:
    cov = demo_audit.coverage
    assert (cov.folders_visible, cov.folders_total) == (90, 100)
    assert cov.folder_share == 0.9
    assert cov.secrets_total == 1000 and 0 < cov.secret_share < 1
    roots = cov.hidden_roots.set_index("path")
    assert set(roots.index) == {"/Break Glass", "/Finance/Internal Audit", "/Vendors"}
    assert roots.at["/Break Glass", "subfolders"] == 3
    tree = cov.folders.set_index("path")
    assert tree.at["/Break Glass/Domain", "parent"] == "/Break Glass"
    assert tree.at["/Break Glass/Domain", "hidden_root"] == "/Break Glass"
    assert tree["visible"].sum() == 90
    # Every secret of a hidden subtree is counted once, at its root.
    assert roots["secrets"].sum() == (cov.hidden_secrets["reason"] == "folder hidden").sum()
    # Not owned, in a folder the cloud returns: the two SECRET_NOT_OWNED, and the 18 of the
    # subtree whose permission gives the service account secret role View.
    dark = cov.not_owned["folder"] == "/Finance/Accounts Receivable/Applications/Prod"
    assert (dark.sum(), (~dark).sum()) == (18, 2) and "IGA will not see them" in cov.statement


# --------------------------------------------------------------------------- effective access
def independent_access(data: dict[str, Any]) -> Counter[tuple[str, str, str, str]]:
    """(userName, folder path, right, granted principal) from the raw tenant data, with the
    documented rules; disabled users are left out of groups (the on-prem view hides them)."""
    users = {u["id"]: u for u in data["users"]}
    groups = {g["id"]: g for g in data["groups"]}
    folders = {f["id"]: f for f in data["folders"]}

    def path(fid: str) -> str:
        f = folders[fid]
        return (path(f["parent"]) if f["parent"] else "") + "/" + f["name"]

    def source(fid: str) -> str:
        f = folders[fid]
        while f["parent"] and f.get("inherit_permissions", True):
            f = folders[f["parent"]]
        return f["id"]

    def members(gid: str, seen: frozenset[str] = frozenset()) -> set[str]:
        out = set()
        for m in groups[gid]["members"]:
            if m in groups and m not in seen:
                out |= members(m, seen | {gid})
            elif m in users and users[m]["active"]:
                out.add(m)
        return out

    out: Counter[tuple[str, str, str, str]] = Counter()
    for fid in folders:
        for p in (p for p in data["permissions"] if p["folder"] == source(fid)):
            right = p["rights"][0]
            if p.get("user"):
                out[users[p["user"]]["userName"], path(fid), right, "direct"] += 1
            elif groups[p["group"]].get("secret_server", True):
                for uid in members(p["group"]):
                    out[users[uid]["userName"], path(fid), right,
                        groups[p["group"]]["displayName"]] += 1
    return out


def test_effective_access_matches_the_rules(demo_audit: audit.PermissionAudit) -> None:
    table = demo_audit.access.table  # built from the on-prem view: every folder
    got = Counter(zip(table["user"].astype(str), table["folder"].astype(str),
                      table["right"].astype(str),
                      table["via"].astype(str).str.split(" > ").str[0], strict=True))
    assert got == independent_access(demodata.generate(1, 0))
    assert set(table["folder"].cat.categories) == set(demo_audit.coverage.folders["path"])


def test_who_reaches_a_folder(demo: tuple[Inventory, Inventory]) -> None:
    access = audit.effective_access(demo[0])
    who = access.who_reaches("/IT/Identity/")
    hannah = who[who["user"] == "hannah.wang@acme.com"].iloc[0]
    assert (hannah["right"], hannah["via"], hannah["granted_on"]) == ("Edit", "direct", "/IT")
    assert not hannah["active"]
    assert who["right"].iloc[0] == "Owner"  # strongest first
    assert (who["via"] == "IT Staff > IT Identity").any()
    # Nested three levels: All Staff > <Dept> Staff > <team group>.
    shared = access.who_reaches("/Shared/Wi-Fi")
    assert shared["via"].str.count(" > ").max() == 2
    assert (shared["granted_on"] == "/Shared").all()
    with pytest.raises(audit.UnknownName, match="did you mean '/IT/Identity'"):
        access.who_reaches("/IT/Identityy")


def test_what_a_user_reaches_and_group_grants(demo: tuple[Inventory, Inventory]) -> None:
    access = audit.effective_access(demo[0])
    reach = access.what_user_reaches("Hannah.Wang@acme.com", strongest=True)
    assert not reach.duplicated("folder").any()
    assert set(reach.columns) == {"folder", "right", "via", "granted_on"}
    assert reach.set_index("folder").at["/IT", "right"] == "Edit"
    grants = access.group_grants("IT Identity")
    top = grants[grants["folder"] == "/IT"].iloc[0]
    assert (top["right"], top["through"]) == ("View", "IT Staff > IT Identity")
    assert (grants["through"] == "IT Identity").any()  # its own grants too
    with pytest.raises(audit.UnknownName):
        access.group_grants("No Such Group")
    with pytest.raises(audit.UnknownName):
        access.what_user_reaches("nobody@acme.com")


def first(findings: list[Any], code: str) -> Any:
    return next(f for f in findings if f.code == code)


def test_secrets_through_their_secret_permissions(demo_audit: audit.PermissionAudit) -> None:
    access = demo_audit.access
    own = first(demo_audit.findings, "SECRET_NOT_OWNED").subject
    holders = access.who_reaches_secret(own)
    assert len(holders) and SA not in set(holders["user"])
    assert set(holders["granted_on"]) == {own}  # its own permissions
    dark = first(demo_audit.findings, "SECRETS_NOT_VISIBLE").subject
    secret = access.secrets[access.secrets["folder"] == dark].iloc[0]
    by = access.who_reaches_secret(secret["path"])
    assert set(by["user"]) == set(access.who_reaches(dark)["user"])
    assert set(by["granted_on"]) == {dark}  # inherited from its folder
    # Folder Owner, but the secret role is what reaches the secret.
    assert by.loc[by["user"] == SA, "right"].tolist() == ["View"]
    mine = access.secrets_user_reaches(SA).set_index("secret")
    assert mine.at[secret["path"], "right"] == "View"
    assert own not in mine.index


def test_secret_inheritance_is_read_from_the_data_not_the_ids(
        demo: tuple[Inventory, Inventory], demo_audit: audit.PermissionAudit) -> None:
    # Ids of no particular form (the practice tenant's `<permission>-<secret>` is its own).
    onprem = demo[1]
    perms = onprem.privileged_data_permissions
    opaque = replace(onprem, privileged_data_permissions=perms.assign(
        id=[f"p{i}x" for i in range(len(perms))]))
    access = audit.effective_access(opaque)
    own = first(demo_audit.findings, "SECRET_NOT_OWNED").subject
    assert set(access.who_reaches_secret(own)["granted_on"]) == {own}
    dark = first(demo_audit.findings, "SECRETS_NOT_VISIBLE").subject
    secret = access.secrets[access.secrets["folder"] == dark].iloc[0]
    assert set(access.who_reaches_secret(secret["path"])["granted_on"]) == {dark}


def test_without_secret_permissions_secret_roles_are_unknown(
        demo: tuple[Inventory, Inventory], demo_audit: audit.PermissionAudit) -> None:
    cloud, onprem = demo
    blind = replace(onprem, meta={**onprem.meta, "secret_permissions_read": False})
    result = audit.audit_permissions(cloud, blind, tenant="acme")
    assert found(result.findings) == found(demo_audit.findings)
    for code in ("SECRETS_NOT_VISIBLE", "SECRET_NOT_OWNED"):
        assert "secret role" in first(result.findings, code).message
        assert "is unknown" in first(result.findings, code).message
    # Secret access is then read through the folder; one known to have permissions of its
    # own is not (the subtree's secrets inherit, so they are not taken for such).
    access = result.access
    not_owned = first(result.findings, "SECRET_NOT_OWNED").subject
    empty = access.who_reaches_secret(not_owned)
    assert empty.empty and "permissions of its own" in empty.attrs["note"]
    dark = first(result.findings, "SECRETS_NOT_VISIBLE").subject
    plain = access.secrets[access.secrets["folder"] == dark].iloc[0]
    assert len(access.who_reaches_secret(plain["path"])) == len(access.who_reaches(dark))
    user = access.who_reaches(dark)["user"].iloc[0]
    mine = access.secrets_user_reaches(user)
    assert plain["path"] in set(mine["secret"])
    assert not_owned not in set(mine["secret"])


def roles_tenant(*sa_permissions: int) -> dict[str, Any]:
    """The small tenant with the service account's secret role View on those permissions."""
    data = parse_tenant_dict(SMALL)
    for i in sa_permissions:
        data["permissions"][i]["secret_role"] = "View"
    return data


def test_folder_owner_without_secret_role_owner_hides_a_subtree() -> None:
    cloud, onprem = both_views(roles_tenant(0))  # /IT: u-scim Owner, secret role View
    findings = audit.permission_findings(cloud, onprem, tenant="acme")
    pairs = found(findings)
    # /IT and the inheriting /IT/Databases hold s4 (its own permissions) and s2 (inherits):
    # the service account owns neither, so one finding at the top, and none per secret.
    assert ("SECRETS_NOT_VISIBLE", "/IT") in pairs
    assert ("SECRET_NOT_OWNED", "/IT/it-root") not in pairs
    message = first(findings, "SECRETS_NOT_VISIBLE").message
    assert "none of the 2 secrets in the folder and its 1 inheriting subfolder:" in message
    assert "secret roles there: " in message and "View on 1" in message
    assert "NO_VISIBLE_SECRETS" not in {c for c, _ in pairs}  # /IT/Databases/Prod's is seen


def test_folders_and_no_secrets_at_all() -> None:
    cloud, onprem = both_views(roles_tenant(0, 2))  # and Prod: Vault Admins, View
    assert len(cloud.containers) == 3 and cloud.privileged_data.empty
    findings = audit.permission_findings(cloud, onprem, tenant="acme")
    nothing = first(findings, "NO_VISIBLE_SECRETS")
    assert (nothing.subject, nothing.severity) == ("acme", "high")
    assert "3 folders but no secret of the 5 secrets the reference holds" in nothing.message
    assert "Owner secret role" in nothing.remediation
    assert {("SECRETS_NOT_VISIBLE", "/IT"), ("SECRETS_NOT_VISIBLE", "/IT/Databases/Prod")} <= \
        found(findings)
    alone = first(audit.permission_findings(cloud, tenant="acme"), "NO_VISIBLE_SECRETS")
    assert "without a reference" in alone.message


def test_access_names_users_the_onprem_view_hides(demo: tuple[Inventory, Inventory]) -> None:
    cloud, onprem = demo
    alone = audit.effective_access(onprem).what_user_reaches("Hannah Wang")  # only a display
    assert len(alone) and "hannah.wang@acme.com" not in set(
        audit.effective_access(onprem).table["user"].cat.categories)
    named = audit.effective_access(onprem, more_users=cloud.users)
    assert len(named.what_user_reaches("hannah.wang@acme.com")) == len(alone)


def test_group_nesting_is_cycle_safe_and_keeps_the_shortest_chain() -> None:
    groups = pd.DataFrame({"id": ["a", "b", "c"], "displayName": ["A", "B", "C"]})
    members = pd.DataFrame({
        "group_id": ["a", "b", "c", "a", "c"], "member_id": ["b", "c", "a", "u1", "u2"],
        "member_type": ["Group", "Group", "Group", "User", "User"],
        "member_display": ["B", "C", "A", "U1", "U2"]})
    reach = expand_groups(groups, members)
    users = {(reach.groups["displayName"][g], u): via for g, u, via in
             zip(reach.users["group"], reach.users["user_id"], reach.users["via"], strict=True)}
    assert users == {("A", "u1"): "A", ("A", "u2"): "A > B > C", ("B", "u1"): "B > C > A",
                     ("B", "u2"): "B > C", ("C", "u1"): "C > A", ("C", "u2"): "C"}


def test_group_nesting_deeper_than_the_limit_is_refused_within_a_memory_ceiling() -> None:
    """A chain n deep costs n² rows and n³ characters of `via` (1,000 deep took 4 GB): past
    64 levels the audit refuses, in a child that may grow by 300 MB at most."""
    r = run_bounded(expand_chain, 3000, timeout=60, max_growth_mb=300)
    assert r.exit_code == 1 and r.stdout == (
        "LimitExceeded groups nest more than 64 levels deep (Chain 0 > Chain 1 > Chain 2 > … > "
        "Chain 64 > Chain 65, 66 groups) → flatten the nesting in the directory, or raise the "
        "limit with OPSKIT_MAX_GROUP_NESTING=128 (docs/audit.md)\n"), r.stderr


def test_the_nesting_limit_can_be_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LimitExceeded, match="more than 64 levels deep"):
        expand_groups(*chain_frames(70))
    monkeypatch.setenv("OPSKIT_MAX_GROUP_NESTING", "100")
    reach = expand_groups(*chain_frames(70))
    top = reach.users[reach.users["group"] == 0]
    assert top[["user_id", "depth"]].values.tolist() == [["u1", 69]]
    assert top["via"].iloc[0].startswith("Chain 0 > Chain 1 > ")
    monkeypatch.setenv("OPSKIT_MAX_GROUP_NESTING", "deep")
    with pytest.raises(ConfigError, match="OPSKIT_MAX_GROUP_NESTING='deep' is not a number"):
        expand_groups(*chain_frames(3))


def test_a_connector_listing_only_own_permissions(small: tuple[Inventory, Inventory]) -> None:
    """Without the `<id>-<folder>` rows, a folder listed with no permissions takes its
    parent's: access is the same."""
    _, onprem = small
    perms = onprem.container_permissions
    own_only = replace(onprem, container_permissions=perms[~perms["id"].str.contains("-")])
    a = audit.effective_access(onprem).table
    b = audit.effective_access(own_only).table
    key = ["user", "folder", "right", "via"]
    pd.testing.assert_frame_equal(
        a[key].astype(str).sort_values(key).reset_index(drop=True),
        b[key].astype(str).sort_values(key).reset_index(drop=True))


def test_the_service_account_must_be_named_when_it_is_ambiguous(
        small: tuple[Inventory, Inventory]) -> None:
    cloud, onprem = small
    extra = cloud.container_permissions.assign(
        id=lambda d: d["id"] + "x", principal_id="u2", principal_type="user",
        principal_name="Bob Li", right="Owner")
    both_own = replace(cloud, container_permissions=pd.concat([cloud.container_permissions,
                                                               extra]))
    with pytest.raises(OpskitError, match="pass service_account="):
        audit.permission_findings(both_own, onprem)
    assert audit.permission_findings(both_own, onprem, service_account=SA)


# --------------------------------------------------------------------------- drift
def test_drift_across_runs_keeps_first_and_last_seen(tmp_path: Path) -> None:
    before = parse_tenant_dict(SMALL)
    after = copy.deepcopy(before)
    after["permissions"] = [p for p in after["permissions"] if p.get("user") != "u3"]
    after["permissions"].append({"folder": "f1", "group": "g3", "rights": ["View"]})
    week1 = both_views(before)[0]
    week2 = both_views(after)[0]
    t1, t2, t3 = "2026-01-05T06:00:00+00:00", "2026-01-12T06:00:00+00:00", \
        "2026-01-19T06:00:00+00:00"

    first = audit.drift(week1, seen_at=t1)
    assert first.baseline and first.added.empty and first.removed.empty
    store = tmp_path / "acme" / "grant_history.parquet"
    assert load_grant_history(store) is None
    save_grant_history(first.history, store)

    second = audit.drift(week2, history=load_grant_history(store), seen_at=t2)
    assert second.previous_run == t1
    assert second.added.to_dict("records") == [
        {"folder": "/IT", "principal_type": "group", "principal": "DBA Juniors",
         "rights": "View"}]
    # carol's grant was on /IT/Databases/Prod, a folder the cloud view shows.
    assert second.removed.to_dict("records") == [
        {"folder": "/IT/Databases/Prod", "principal_type": "user",
         "principal": "carol@acme.com", "rights": "View"}]
    h = second.history.set_index(["folder", "principal"])
    assert h.loc[("/IT", "DBA"), ["first_seen", "last_seen"]].tolist() == [t1, t2]
    assert h.loc[("/IT/Databases/Prod", "carol@acme.com"), "last_seen"] == t1
    assert h.loc[("/IT", "DBA Juniors"), "first_seen"] == t2

    again = audit.drift(week2, history=second.history, seen_at=t2)  # the same run twice
    pd.testing.assert_frame_equal(again.history, second.history)
    third = audit.drift(week2, history=second.history, seen_at=t3)
    assert third.added.empty and third.removed.empty
    assert third.history.set_index(["folder", "principal"]).loc[
        ("/IT", "DBA"), "first_seen"] == t1
    with pytest.raises(ValueError, match="older than the last run"):
        audit.drift(week1, history=third.history, seen_at="2026-01-01T00:00:00+00:00")


def test_drift_from_a_previous_inventory(small: tuple[Inventory, Inventory]) -> None:
    cloud, _ = small
    perms = cloud.container_permissions
    dba = perms.loc[perms["principal_name"] == "DBA", "id"].iloc[0]  # on /IT, inherited below
    kept = perms[~perms["id"].str.match(rf"{dba}(-|$)")]
    later = replace(cloud, meta={**cloud.meta, "fetched_at": "2999-01-01T00:00:00+00:00"},
                    container_permissions=kept)
    d = audit.drift(later, previous=cloud)
    assert d.previous_run == cloud.meta["fetched_at"] and d.added.empty
    assert d.removed.to_dict("records") == [
        {"folder": "/IT", "principal_type": "group", "principal": "DBA", "rights": "Edit"}]


def test_a_grant_history_file_that_is_not_one(tmp_path: Path) -> None:
    bad = tmp_path / "grant_history.parquet"
    bad.write_text("not parquet")
    with pytest.raises(ConfigError, match="is not a grant history"):
        load_grant_history(bad)
    pd.DataFrame({"x": [1]}).to_parquet(bad)
    with pytest.raises(ConfigError, match="lacks folder"):
        load_grant_history(bad)
