"""The demo-data generator: valid, deterministic, realistic, and honest about its planted problems.

The checks of the planted problems recompute every condition here, from the raw data, with the
rules of docs/demo-data.md; they never call the generator's own analysis.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from opskit.sandbox import demodata
from opskit.sandbox.tenantfile import load_tenant, parse_tenant

SA = "u-scim"
ALL_CODES = {
    "PARTIAL_FOLDER_VISIBILITY", "FOLDER_NOT_VISIBLE", "SECRETS_NOT_VISIBLE", "SECRET_NOT_OWNED",
    "FOLDER_WITHOUT_OWNER",
    "GRANT_TO_DISABLED_USER", "GRANT_TO_EMPTY_GROUP", "RIGHTS_TRUNCATED", "DIRECT_USER_GRANT",
    "GROUP_NOT_IN_SECRET_SERVER", "GROUP_SYNC_PENDING", "GROUP_NOT_ON_PLATFORM",
    "GROUP_NOT_IN_IGA",
    "GROUP_NAME_MISMATCH", "GROUP_MEMBERSHIP_DIFFERS",
}
CSV_HEADER = ["Identity Name", "Email", "Source Name", "Entitlement Attribute",
              "Entitlement Value", "Entitlement Display Name"]


@cache
def _generated(scale: int, seed: int = 0) -> dict[str, Any]:
    return demodata.generate(scale, seed)


@pytest.fixture(scope="module", params=[1, 3])
def data(request: pytest.FixtureRequest) -> dict[str, Any]:
    return _generated(request.param)


class World:
    """An independent reading of tenant data: paths, inheritance, membership, visibility."""

    def __init__(self, data: dict[str, Any]):
        self.data = data
        self.users = {u["id"]: u for u in data["users"]}
        self.by_name = {u["userName"]: u for u in data["users"]}
        self.groups = {g["id"]: g for g in data["groups"]}
        self.folders = {f["id"]: f for f in data["folders"]}
        self.perms: dict[str, list[dict[str, Any]]] = {}
        for p in data["permissions"]:
            self.perms.setdefault(p["folder"], []).append(p)

    def path(self, fid: str) -> str:
        parts = []
        while fid is not None:
            parts.append(self.folders[fid]["name"])
            fid = self.folders[fid]["parent"]
        return "/" + "/".join(reversed(parts))

    def inherits(self, fid: str) -> bool:
        f = self.folders[fid]
        return f["parent"] is not None and f.get("inherit_permissions", True) is not False

    def source(self, fid: str) -> str:
        while self.inherits(fid):
            fid = self.folders[fid]["parent"]
        return fid

    def effective(self, fid: str) -> list[dict[str, Any]]:
        return self.perms.get(self.source(fid), [])

    def members(self, gid: str, seen: frozenset[str] = frozenset()) -> set[str]:
        """User ids in a group, nested groups expanded."""
        out: set[str] = set()
        for m in self.groups[gid]["members"]:
            if m in self.groups:
                if m not in seen:
                    out |= self.members(m, seen | {gid})
            else:
                out.add(m)
        return out

    def has_sa(self, grant: dict[str, Any]) -> bool:
        if "user" in grant:
            return grant["user"] == SA
        return SA in self.members(grant["group"])

    def sa_owner(self, grants: list[dict[str, Any]]) -> bool:
        return any(g["rights"][0] == "Owner" and self.has_sa(g) for g in grants)

    def visible(self, fid: str) -> bool:
        return self.sa_owner(self.effective(fid))

    def owns_secret(self, secret: dict[str, Any]) -> bool:
        """Secret role Owner: through the secret's own permissions, else through the secret
        roles of its folder's (a folder role without one gives the role of its name; Add
        Secret gives View)."""
        if secret.get("permissions") is not None:
            return self.sa_owner(secret["permissions"])
        derived = {"Owner": "Owner", "Edit": "Edit", "View": "View", "Add Secret": "View"}
        return any(self.has_sa(g) and g.get("secret_role", derived[g["rights"][0]]) == "Owner"
                   for g in self.effective(secret["folder"]))

    def folder_at(self, path: str) -> str:
        matches = [fid for fid in self.folders if self.path(fid) == path]
        assert len(matches) == 1, f"{path!r} names {len(matches)} folders"
        return matches[0]

    def descendants(self, fid: str) -> list[str]:
        prefix = self.path(fid) + "/"
        return [d for d in self.folders if self.path(d).startswith(prefix)]


def _norm(name: str) -> str:
    return " ".join(name.split("\\", 1)[-1].split()).lower()


def _findings(data: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    by_code: dict[str, list[dict[str, str]]] = {}
    for f in demodata.expected_findings(data):
        by_code.setdefault(f["code"], []).append(f)
    return by_code


# ---- validity, determinism, size ----------------------------------------------------------


def test_generated_data_passes_the_tenant_file_contract(data: dict[str, Any]) -> None:
    tf = parse_tenant(data, "demo")
    assert tf.tenant == "acme"
    assert tf.service_account.user == SA
    assert tf.service_account.client_id == "scim.integration@acme.com"
    assert tf.service_account.client_secret == "practice-only"
    assert tf.onprem.token == "practice-onprem-token"
    assert World(data).users[SA]["userName"] == "scim.integration@acme.com"


def test_same_seed_same_data_other_seed_other_data() -> None:
    assert demodata.generate(1, 0) == demodata.generate(1, 0)
    assert demodata.generate(1, 1) != demodata.generate(1, 0)
    assert demodata.expected_findings(demodata.generate(1, 7)) == demodata.expected_findings(
        demodata.generate(1, 7))


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_every_seed_gives_valid_data_with_every_problem(seed: int) -> None:
    data = demodata.generate(1, seed)
    parse_tenant(data)
    assert {f["code"] for f in demodata.expected_findings(data)} == ALL_CODES


def test_a_new_platform_tenant_of_the_same_company_has_no_sync_finding() -> None:
    data = _generated(1)
    new = demodata.new_platform_tenant(data)
    parse_tenant(new)  # every Platform group in Secret Server, as such a tenant requires
    assert all(g.get("secret_server", True) for g in new["groups"])
    codes = {f["code"] for f in demodata.expected_findings(new)}
    assert codes == ALL_CODES - {"GROUP_NOT_IN_SECRET_SERVER", "GROUP_SYNC_PENDING"}
    assert data == _generated(1) != new  # the demo data itself is unchanged


def test_the_cli_writes_the_company_on_a_new_platform_tenant(tmp_path: Path) -> None:
    from opskit import cli

    assert cli.main(["sandbox", "demo-data", "--out", str(tmp_path), "--new-platform-tenant"]) == 0
    tenant = load_tenant(tmp_path / "tenant.yaml")
    assert tenant.platform_groups_sync.platform_groups_searched_directly
    codes = {f["code"] for f in json.loads((tmp_path / "expected_findings.json").read_text())}
    assert codes == ALL_CODES - {"GROUP_NOT_IN_SECRET_SERVER", "GROUP_SYNC_PENDING"}


@pytest.mark.parametrize("scale", [1, 3])
def test_sizes_grow_with_scale(scale: int) -> None:
    data = _generated(scale)
    assert 190 * scale <= len(data["users"]) <= 215 * scale
    assert 90 * scale <= len(data["folders"]) <= 115 * scale
    assert 900 * scale <= len(data["secrets"]) <= 1100 * scale


def test_scale_must_be_positive() -> None:
    with pytest.raises(ValueError):
        demodata.generate(0)


# ---- realism ------------------------------------------------------------------------------


def test_company_looks_like_a_company(data: dict[str, Any]) -> None:
    w = World(data)
    tops = {f["name"] for f in data["folders"] if f["parent"] is None}
    assert {"IT", "Finance", "HR", "Engineering", "Sales", "Operations"} <= tops
    depths = Counter(w.path(fid).count("/") for fid in w.folders)
    assert max(depths) >= 4  # department → team → environment → area
    assert any(w.path(fid).endswith("/Prod") for fid in w.folders)
    inheriting = [fid for fid in w.folders if w.inherits(fid)]
    subfolders = [fid for fid in w.folders if w.folders[fid]["parent"] is not None]
    assert len(subfolders) / 2 < len(inheriting) < len(subfolders)  # most, not all, inherit
    templates = {s["template"] for s in data["secrets"]}
    assert {"Windows Account", "SQL Server Account", "Web Password", "Unix Account (SSH)",
            "Active Directory Account"} <= templates
    people = [u for u in data["users"] if u["id"] != SA]
    assert all(re.fullmatch(r"[a-z-]+\.[a-z-]+\d*@acme\.com", u["userName"]) for u in people)
    disabled = [u for u in people if not u["active"]]
    assert 0 < len(disabled) < len(people) / 10


def test_groups_nest_without_cycles_and_grants_are_mostly_to_groups(data: dict[str, Any]) -> None:
    w = World(data)
    nested = [g for g in data["groups"] if any(m in w.groups for m in g["members"])]
    assert nested
    # Depth: a group containing a group that itself contains a group.
    assert any(any(m in w.groups and any(n in w.groups for n in w.groups[m]["members"])
                   for m in g["members"]) for g in data["groups"])
    user_grants = [p for p in data["permissions"] if "user" in p and p["user"] != SA]
    group_grants = [p for p in data["permissions"] if "group" in p]
    assert 0 < len(user_grants) < len(group_grants) / 3
    assert any(s.get("permissions") for s in data["secrets"])


def test_service_account_owns_most_top_level_folders_but_not_all(data: dict[str, Any]) -> None:
    w = World(data)
    tops = [fid for fid, f in w.folders.items() if f["parent"] is None]
    owned = [fid for fid in tops if w.visible(fid)]
    assert len(tops) / 2 < len(owned) < len(tops)
    via = {("user" if "user" in g else "group")
           for fid in owned for g in w.perms[fid] if w.has_sa(g) and g["rights"][0] == "Owner"}
    assert via == {"user", "group"}  # directly on some, through SCIM Owners on others


# ---- planted problems, each checked from the raw data ---------------------------------------


def test_every_code_is_planted_once_or_more(data: dict[str, Any]) -> None:
    findings = demodata.expected_findings(data)
    assert {f["code"] for f in findings} == ALL_CODES
    assert all(set(f) == {"code", "subject", "why"} and f["why"] for f in findings)
    pairs = [(f["code"], f["subject"]) for f in findings]
    assert len(pairs) == len(set(pairs))
    assert len(_findings(data)["PARTIAL_FOLDER_VISIBILITY"]) == 1


def test_more_problems_at_larger_scale() -> None:
    small, large = _findings(_generated(1)), _findings(_generated(3))
    for code in ("FOLDER_NOT_VISIBLE", "SECRET_NOT_OWNED", "GRANT_TO_DISABLED_USER",
                 "RIGHTS_TRUNCATED", "FOLDER_WITHOUT_OWNER", "GROUP_MEMBERSHIP_DIFFERS"):
        assert len(large[code]) > len(small[code]), code


def test_hidden_folders(data: dict[str, Any]) -> None:
    w = World(data)
    hidden = {fid for fid in w.folders if not w.visible(fid)}
    roots = {w.path(fid) for fid in hidden
             if w.folders[fid]["parent"] is None or w.folders[fid]["parent"] not in hidden}
    listed = _findings(data)["FOLDER_NOT_VISIBLE"]
    assert {f["subject"] for f in listed} == roots
    for f in listed:
        fid = w.folder_at(f["subject"])
        assert not w.visible(fid)
        below = w.descendants(fid)
        assert all(d in hidden for d in below)  # inheriting subfolders are hidden too
        assert any(w.inherits(d) for d in below) == ("hidden too" in f["why"])
    (partial,) = _findings(data)["PARTIAL_FOLDER_VISIBILITY"]
    assert partial["subject"] == "acme"
    total = len(w.folders)
    assert f"{total - len(hidden)} of {total} folders" in partial["why"]
    assert 0 < len(hidden) < total


def test_secrets_not_owned(data: dict[str, Any]) -> None:
    w = World(data)
    by_subject = {f"{w.path(s['folder'])}/{s['name']}": s for s in data["secrets"]}
    dark = {w.folder_at(f["subject"]) for f in _findings(data)["SECRETS_NOT_VISIBLE"]}
    listed = set()
    for f in _findings(data)["SECRET_NOT_OWNED"]:
        s = by_subject[f["subject"]]
        assert s.get("permissions"), "planted: own permissions that leave the account out"
        assert not w.owns_secret(s) and w.visible(s["folder"])
        assert w.source(s["folder"]) not in dark
        listed.add(f["subject"])
    assert listed == {path for path, s in by_subject.items() if w.visible(s["folder"])
                      and not w.owns_secret(s) and w.source(s["folder"]) not in dark}


def test_folder_owner_without_the_owner_secret_role(data: dict[str, Any]) -> None:
    w = World(data)
    secrets_in: dict[str, list[dict[str, Any]]] = {}
    for s in data["secrets"]:
        if w.visible(s["folder"]):
            secrets_in.setdefault(w.source(s["folder"]), []).append(s)
    dark = {w.path(top) for top, held in secrets_in.items()
            if not any(w.owns_secret(s) for s in held)}
    listed = _findings(data)["SECRETS_NOT_VISIBLE"]
    assert {f["subject"] for f in listed} == dark and dark
    for f in listed:  # planted: folder Owner, secret role View, no secret of its own
        sa = [g for g in w.perms[w.folder_at(f["subject"])] if w.has_sa(g)]
        assert [(g["rights"][0], g.get("secret_role")) for g in sa] == [("Owner", "View")]
        assert "secret role is View" in f["why"]
    # Other folder permissions carry secret roles below their folder roles, too.
    others = [p for p in data["permissions"] if p.get("secret_role") and not w.has_sa(p)]
    assert {(p["rights"][0], p["secret_role"]) for p in others} == {("Edit", "View"),
                                                                   ("View", "List")}
    assert "NO_VISIBLE_SECRETS" not in _findings(data)  # the account owns most secrets


def test_grants_to_disabled_users_and_empty_groups(data: dict[str, Any]) -> None:
    w = World(data)
    granted_users = {w.users[p["user"]]["userName"] for p in data["permissions"] if "user" in p}
    for f in _findings(data)["GRANT_TO_DISABLED_USER"]:
        assert f["subject"] in granted_users
        assert w.by_name[f["subject"]]["active"] is False
    groups = {g["displayName"]: g for g in data["groups"]}
    granted_groups = {p["group"] for p in data["permissions"] if "group" in p}
    for f in _findings(data)["GRANT_TO_EMPTY_GROUP"]:
        assert groups[f["subject"]]["members"] == []
        assert groups[f["subject"]]["id"] in granted_groups


def test_folders_whose_only_owner_is_the_service_account(data: dict[str, Any]) -> None:
    w = World(data)
    for f in _findings(data)["FOLDER_WITHOUT_OWNER"]:
        fid = w.folder_at(f["subject"])
        assert not w.inherits(fid)
        owners = [g for g in w.perms[fid] if g["rights"][0] == "Owner"]
        assert owners and all(
            g.get("user") == SA or ("group" in g and w.members(g["group"]) == {SA})
            for g in owners)


def test_direct_user_grants_and_truncated_rights(data: dict[str, Any]) -> None:
    w = World(data)
    direct = {w.users[p["user"]]["userName"] for p in data["permissions"]
              if "user" in p and p["user"] != SA}
    assert {f["subject"] for f in _findings(data)["DIRECT_USER_GRANT"]} == direct
    truncated = {w.path(p["folder"]) for p in data["permissions"] if len(p["rights"]) > 1}
    assert {f["subject"] for f in _findings(data)["RIGHTS_TRUNCATED"]} == truncated


def test_group_gaps(data: dict[str, Any]) -> None:
    w = World(data)
    findings = _findings(data)
    platform = {g["displayName"]: g for g in data["groups"] if g.get("platform", True)}
    loose = {_norm(name): g for name, g in platform.items()}
    assert len(loose) == len(platform)  # a normalised name points at one Platform group
    iga = {g["name"]: g for g in data["iga"]["groups"]}
    named = {p["group"] for p in data["permissions"] if "group" in p}
    named |= {g["group"] for s in data["secrets"] for g in s.get("permissions") or []
              if "group" in g}

    unsynced = {name: g for name, g in platform.items() if g.get("secret_server") is False}
    assert not {g["id"] for g in unsynced.values()} & named
    # Made long before the tenant is served, a group missed its timed sync; made as it is
    # served (no created time), the timer brings it within the interval.
    missed = {name for name, g in unsynced.items() if "created" in g}
    assert {f["subject"] for f in findings["GROUP_NOT_IN_SECRET_SERVER"]} == missed
    day_ago = datetime.now(UTC) - timedelta(days=1)  # the practice tenant's default interval
    assert all(datetime.fromisoformat(unsynced[name]["created"]) < day_ago for name in missed)
    assert {f["subject"] for f in findings["GROUP_SYNC_PENDING"]} == {
        name for name, g in unsynced.items() if "created" not in g}
    for name in (f["subject"] for f in findings["GROUP_SYNC_PENDING"]):
        # The IGA provisioned it as it is: its only finding is the pending sync.
        assert {w.users[m]["userName"] for m in unsynced[name]["members"]} == set(
            iga[name]["members"])
    for f in findings["GROUP_NOT_ON_PLATFORM"]:
        assert f["subject"] in iga and _norm(f["subject"]) not in loose
    iga_norms = {_norm(name) for name in iga}
    for f in findings["GROUP_NOT_IN_IGA"]:
        assert _norm(platform[f["subject"]]["displayName"]) not in iga_norms
    mismatched = [f["subject"] for f in findings["GROUP_NAME_MISMATCH"]]
    for name in mismatched:
        assert name in iga and name not in platform and _norm(name) in loose
    # Each kind of difference: case, spacing, domain prefix.
    kinds = Counter()
    for name in mismatched:
        real = loose[_norm(name)]["displayName"]
        kinds["case"] += name.casefold() == real.casefold()
        kinds["spaces"] += " ".join(name.split()) == real
        kinds["prefix"] += name.startswith("ACME\\")
    assert all(kinds[k] for k in ("case", "spaces", "prefix")), kinds
    for f in findings["GROUP_MEMBERSHIP_DIFFERS"]:
        g = loose[_norm(f["subject"])]
        on_platform = {w.users[m]["userName"] for m in g["members"] if m in w.users}
        in_iga = set(iga[f["subject"]]["members"])
        assert on_platform - in_iga and in_iga - on_platform  # missing on each side


# ---- files ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return demodata.write_demo(tmp_path_factory.mktemp("demo"), scale=1)


def test_write_demo_writes_three_complete_files(written: dict[str, Path]) -> None:
    out = written["tenant"].parent
    assert sorted(p.name for p in out.iterdir()) == [
        "expected_findings.json", "iga_export.csv", "tenant.yaml"]  # no temporary files left
    assert set(written) == {"tenant", "iga_export", "findings"}
    with written["tenant"].open(encoding="utf-8") as f:
        assert yaml.load(f, Loader=yaml.CSafeLoader) == _generated(1)
    findings = json.loads(written["findings"].read_text(encoding="utf-8"))
    assert findings == demodata.expected_findings(_generated(1))


def test_tenant_file_round_trips_through_load_tenant(written: dict[str, Path]) -> None:
    tf = load_tenant(written["tenant"])
    data = _generated(1)
    assert len(tf.users) == len(data["users"]) and len(tf.secrets) == len(data["secrets"])
    assert tf.model_dump(mode="json", exclude_unset=True)["folders"] == data["folders"]


def test_iga_export_csv_matches_the_tenant_data(written: dict[str, Path]) -> None:
    raw = written["iga_export"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, as spreadsheet exports carry
    with written["iga_export"].open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == CSV_HEADER
    groups: dict[str, list[str]] = {}
    for name, email, source, attribute, value, display in rows[1:]:
        assert source and attribute == "groups" and display == value
        members = groups.setdefault(value, [])
        if email:
            members.append(email)
        else:
            assert name == ""  # an entitlement nobody holds: identity columns empty
    expected = {g["name"]: g["members"] for g in _generated(1)["iga"]["groups"]}
    assert groups == expected


def test_a_crash_while_writing_leaves_no_half_written_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = demodata.write_demo(tmp_path)
    before = first["iga_export"].read_bytes()

    def broken(data: dict[str, Any], f: Any) -> None:
        f.write("Identity Name,Em")
        raise OSError("disk full")

    monkeypatch.setattr(demodata, "write_iga_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        demodata.write_demo(tmp_path, seed=5)
    assert first["iga_export"].read_bytes() == before  # the old complete file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "expected_findings.json", "iga_export.csv", "tenant.yaml"]
