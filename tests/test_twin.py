"""Practice twins (issue 19): a demo tenant served and inventoried in both flavors, its twin
made, served and inventoried again, gives the same frames (ids equal, names through the same
pseudonyms) and the same findings; a pseudonymised twin names nothing of the original; the
command refuses bad input in one line and writes nothing then."""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from opskit import audit
from opskit._pseudonyms import Pseudonyms
from opskit.cli import main
from opskit.config import PlatformGroupsSync
from opskit.errors import OpskitError
from opskit.groupgap import GroupSource, group_gap, platform_groups, secret_server_groups
from opskit.inputs.audit import read_folder_export
from opskit.inputs.groups import read_iga_export
from opskit.inventory import Inventory, fetch_inventory, load_snapshot, save_snapshot
from opskit.reports.tenant_onboarding import onboard
from opskit.reports.token_check import check_token
from opskit.sandbox import demodata
from opskit.sandbox import schemas as urn
from opskit.sandbox.serve import running
from opskit.sandbox.tenantfile import TenantFile, TenantFileError, load_tenant, parse_tenant
from opskit.twin import Twin, make_twin, twin_text

from .conftest import SMALL, Flavors, service_account_gap
from .servers import cloud_profile, onprem_profile

pytestmark = pytest.mark.slow  # 7-20 s in all: handed out early, so it does not start last

KEY = "5e" * 32
# Name columns of each frame; ids and everything else are kept as they are.
NAMED = {"users": ("userName", "displayName", "email", "externalId"),
         "groups": ("displayName", "externalId"), "group_members": ("member_display",),
         "containers": ("name", "parent_name", "path"),
         "container_permissions": ("container_name", "principal_name"),
         "privileged_data": ("name", "container_name"),
         "privileged_data_permissions": ("principal_name",)}


def _tenants() -> dict[str, tuple[dict[str, Any], bool]]:
    """Tenant data by case, and whether Secret Server searches Platform groups directly: every
    demo seed the tests serve, the hand-written small tenant, and scale 10 once."""
    return {"small": (service_account_gap(load_tenant(SMALL)), False),
            "seed0": (demodata.generate(1, 0), False),
            "seed3": (demodata.generate(1, 3), False),
            "seed7-new-platform": (demodata.new_platform_tenant(demodata.generate(1, 7)), True),
            "scale10": (demodata.generate(10, 0), False)}


@dataclass
class Trip:
    case: str
    data: dict[str, Any]
    names: Pseudonyms
    sync: PlatformGroupsSync
    cloud: Inventory
    onprem: Inventory
    iga_csv: str
    twin: Twin
    twin_cloud: Inventory
    twin_onprem: Inventory
    twin_iga: GroupSource


@pytest.fixture(scope="module", params=list(_tenants()))
def trip(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Trip:
    data, searched_directly = _tenants()[request.param]
    out = tmp_path_factory.mktemp(request.param)
    with (out / "iga.csv").open("w", encoding="utf-8-sig", newline="") as f:
        demodata.write_iga_csv(data, f)
    names = Pseudonyms(KEY)
    with running(parse_tenant(data, "<test>")) as sb:
        cloud = fetch_inventory(cloud_profile(sb), progress=False, secret_permissions=True)
        onprem = fetch_inventory(onprem_profile(sb), progress=False, secret_permissions=True)
    twin = make_twin(cloud, onprem, name=names.name, iga=read_iga_export(out / "iga.csv"))
    twin_text(twin, as_json=True)  # checked by the practice tenant's loader, as the command does
    with running(parse_tenant(twin.data, "<twin>")) as sb:
        twin_cloud = fetch_inventory(cloud_profile(sb), progress=False, secret_permissions=True)
        twin_onprem = fetch_inventory(onprem_profile(sb), progress=False,
                                      secret_permissions=True)
        # Its iga section as the practice tenant serves it, read as a profile's export is.
        twin_iga = read_iga_export(sb.url + "/_sandbox/iga-export.csv")
    sync = PlatformGroupsSync(platform_groups_searched_directly=searched_directly, given=True)
    return Trip(request.param, data, names, sync, cloud, onprem, str(out / "iga.csv"), twin,
                twin_cloud, twin_onprem, twin_iga)


def pseudonymised(df: pd.DataFrame, columns: tuple[str, ...], names: Pseudonyms
                  ) -> pd.DataFrame:
    """A frame with its name columns mapped through the pseudonyms, each of its own dtype; a
    path's `…` (an unseen ancestor) is no name."""
    out = df.copy()

    def one(value: Any, column: str) -> Any:
        if not isinstance(value, str):
            return value
        if column == "path":
            return "/".join(p if p in ("", "…") else names.name(p) for p in value.split("/"))
        return names.name(value)

    for column in columns:
        values = df[column]
        mapping = {v: one(v, column) for v in pd.unique(values.astype(object))}
        if isinstance(values.dtype, pd.CategoricalDtype):  # categories in text order, as read
            out[column] = pd.Categorical(values.astype(object).map(mapping))
        else:
            out[column] = values.astype(object).map(mapping).astype(values.dtype)
    return out


def assert_same(got: pd.DataFrame, expected: pd.DataFrame, frame: str) -> None:
    """pandas' assert_frame_equal, but categorical columns compared by their categories and
    codes: the same test, a tenth of the time on the longest listings."""
    categorical = [c for c in expected.columns
                   if isinstance(expected[c].dtype, pd.CategoricalDtype)]
    assert len(got) == len(expected), f"{frame}: {len(got)} rows, expected {len(expected)}"
    for c in categorical:
        assert isinstance(got[c].dtype, pd.CategoricalDtype), f"{frame}.{c}"
        assert got[c].cat.categories.tolist() == expected[c].cat.categories.tolist(), c
        assert (got[c].cat.codes.to_numpy() == expected[c].cat.codes.to_numpy()).all(), c
    pd.testing.assert_frame_equal(got.drop(columns=categorical),
                                  expected.drop(columns=categorical), obj=frame)


def test_twin_inventories_equal_the_originals_modulo_pseudonyms(trip: Trip) -> None:
    for original, again in ((trip.cloud, trip.twin_cloud), (trip.onprem, trip.twin_onprem)):
        for frame, columns in NAMED.items():
            expected = pseudonymised(getattr(original, frame), columns, trip.names)
            assert_same(getattr(again, frame), expected, frame)
            assert list(getattr(again, frame).columns) == list(expected.columns)
        assert again.meta["secret_permissions_read"] and again.complete
    assert trip.twin.service_account == trip.data["service_account"]["user"]
    assert trip.twin.notes == []


@pytest.mark.parametrize("trip", ["small", "seed0"], indirect=True)  # the others add nothing
def test_a_twin_of_one_view_serves_that_view(trip: Trip) -> None:
    """The cloud view alone (folders it cannot see stand in as empty roots), or the on-prem
    view alone (a stand-in service account, disabled users as grants name them)."""
    for view, profile in ((trip.cloud, cloud_profile), (trip.onprem, onprem_profile)):
        twin = make_twin(view, name=trip.names.name)
        with running(parse_tenant(twin.data, "<twin of one view>")) as sb:
            again = fetch_inventory(profile(sb), progress=False, secret_permissions=True)
        for frame, columns in NAMED.items():
            assert_same(getattr(again, frame), pseudonymised(getattr(view, frame), columns,
                                                             trip.names), frame)
    assert twin.service_account == "twin-service-account"
    assert not twin.data["users"][-1]["active"]


def _folder_export(inv: Inventory, path: Path) -> Path:
    """An on-prem view as Secret Server's secret export with folder paths: a row a secret, and
    one for each folder without a secret."""
    path_of = dict(zip(inv.containers["id"], inv.containers["path"], strict=True))
    secrets = inv.privileged_data
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        rows = csv.writer(f)
        rows.writerow(["Secret Name", "Template", "Folder"])
        rows.writerows([name, "Password", path_of[fid].replace("/", "\\")] for name, fid in
                       zip(secrets["name"], secrets["container_id"], strict=True))
        rows.writerows(["", "", p] for fid, p in path_of.items()
                       if fid not in set(secrets["container_id"]))
    return path


COVERAGE_CODES = {"FOLDER_NOT_VISIBLE", "PARTIAL_FOLDER_VISIBILITY", "SECRETS_NOT_VISIBLE",
                  "SECRET_NOT_OWNED"}


@pytest.mark.parametrize("trip", ["small", "seed0"], indirect=True)
def test_a_twin_of_the_cloud_view_and_a_folder_export(trip: Trip, tmp_path: Path) -> None:
    """The export's folders and secrets join the twin without permissions: its cloud view is
    the snapshot's, and its on-prem view measures the coverage the export measured."""
    export = read_folder_export(_folder_export(trip.onprem, tmp_path / "export.csv"),
                                cloud=trip.cloud)
    twin = make_twin(trip.cloud, name=trip.names.name, iga=read_iga_export(trip.iga_csv),
                     folder_export=export)
    with running(parse_tenant(twin.data, "<twin with an export>")) as sb:
        cloud = fetch_inventory(cloud_profile(sb), progress=False, secret_permissions=True)
        onprem = fetch_inventory(onprem_profile(sb), progress=False, secret_permissions=True)
    for frame, columns in NAMED.items():
        assert_same(getattr(cloud, frame), pseudonymised(getattr(trip.cloud, frame), columns,
                                                         trip.names), frame)

    def counts(c: audit.Coverage) -> tuple[int | None, ...]:
        return c.folders_total, c.folders_visible, c.secrets_total, c.secrets_visible

    before, after = audit.coverage(trip.cloud, export), audit.coverage(cloud, onprem)
    assert counts(after) == counts(before) and before.folders_visible < before.folders_total

    def found(cloud: Inventory, reference: Any, tenant: str, sa: str) -> set[tuple[str, str]]:
        return {(f.code, f.subject) for f in audit.permission_findings(
            cloud, reference, tenant=tenant, service_account=sa) if f.code in COVERAGE_CODES}

    def path(value: str) -> str:
        return "/".join(p and trip.names.name(p) for p in value.split("/"))

    original = found(trip.cloud, export, "acme", trip.data["service_account"]["client_id"])
    again = found(cloud, onprem, path("acme"), twin.data["service_account"]["client_id"])
    assert original and again == {(code, path(subject)) for code, subject in original}
    assert "only the folder export lists: without permissions" in twin.notes[-1]
    _assert_names_nothing_of(trip.data, twin)


def test_a_secret_the_cloud_shows_in_a_folder_it_does_not_is_not_copied_twice(
        tmp_path: Path) -> None:
    """The account owns /HR's secret, not /HR: the twin's HR is the cloud's (its id), in its
    place in the export's tree, holding that one secret."""
    data = load_tenant(SMALL).model_dump(exclude_none=True)
    data["secrets"][2]["permissions"] = [{"user": "u-scim", "rights": ["Owner"]}]
    with running(parse_tenant(data, "<owner of payroll>")) as sb:
        cloud = fetch_inventory(cloud_profile(sb), progress=False, secret_permissions=True)
        onprem = fetch_inventory(onprem_profile(sb), progress=False, secret_permissions=True)
    export = read_folder_export(_folder_export(onprem, tmp_path / "export.csv"), cloud=cloud)
    twin = make_twin(cloud, folder_export=export)
    assert sorted(f["id"] for f in twin.data["folders"]) == [
        "export-folder-" + hashlib.sha256(b"/Shared").hexdigest()[:16], "f1", "f2", "f3", "f4"]
    assert [s["id"] for s in twin.data["secrets"] if s["name"] == "payroll"] == ["s3"]
    assert twin.counts()["secrets"] == len(data["secrets"]) and twin_text(twin)  # it loads
    # The notes count what was added, and no stand-in root the export placed is left said.
    assert not [n for n in twin.notes if n.endswith("stands in for it")], twin.notes
    added = sum(s["id"].startswith("export-secret-") for s in twin.data["secrets"])
    assert any(f"and {added:,} secrets only the folder export lists" in n for n in twin.notes)


def _pairs(findings: list[Any], name: Any = str) -> set[tuple[str, str]]:
    return {(f.code, name(f.subject)) for f in findings}


def test_twin_findings_equal_the_originals_modulo_pseudonyms(trip: Trip) -> None:
    name = trip.names.name
    sa = trip.data["service_account"]["client_id"]
    original = audit.permission_findings(trip.cloud, trip.onprem, tenant="acme",
                                         service_account=sa)
    twin = audit.permission_findings(trip.twin_cloud, trip.twin_onprem, tenant=name("acme"),
                                     service_account=trip.twin.data["service_account"]
                                     ["client_id"])
    assert original and _pairs(twin) == _pairs(original, name)

    def gap(cloud: Inventory, onprem: Inventory, iga: Any) -> set[tuple[str, str]]:
        report = group_gap(platform_groups(cloud), iga=iga,
                           secret_server=secret_server_groups(onprem), sync=trip.sync)
        return {(f.code, f.subject) for f in report.findings}

    before = gap(trip.cloud, trip.onprem, read_iga_export(trip.iga_csv))
    after = gap(trip.twin_cloud, trip.twin_onprem, trip.twin_iga)
    assert before and after == {(code, name(subject)) for code, subject in before}


# --------------------------------------------------------------------------- nothing leaks
def _originals(data: dict[str, Any]) -> set[str]:
    """Every name, e-mail, external id and credential of tenant data."""
    found = {data["tenant"], data["service_account"]["client_id"],
             data["service_account"]["client_secret"], data["onprem"]["token"]}
    for table, keys in (("users", ("userName", "displayName", "email", "externalId")),
                        ("groups", ("displayName", "externalId")), ("folders", ("name",)),
                        ("secrets", ("name",))):
        found |= {r[k] for r in data.get(table, []) for k in keys if r.get(k)}
    for g in (data.get("iga") or {}).get("groups", []):
        found |= {g["name"], *g.get("members", [])}
    return found


def _names(data: dict[str, Any]) -> list[str]:
    """The names a twin holds (its name fields), every other value being an id, a right, a
    template, a flag or a credential."""
    return [r[k] for table, keys in (("users", ("userName", "displayName", "email",
                                                "externalId")),
                                     ("groups", ("displayName", "externalId")),
                                     ("folders", ("name",)), ("secrets", ("name",)))
            for r in data[table] for k in keys if r.get(k)] + [
        n for g in data["iga"]["groups"] for n in (g["name"], *g["members"])]


def test_a_pseudonymised_twin_names_nothing_of_the_original(trip: Trip) -> None:
    _assert_names_nothing_of(trip.data, trip.twin)


def _assert_names_nothing_of(data: dict[str, Any], twin: Twin) -> None:
    # YAML as the command writes it; JSON (its other form) for the large tenant: quicker.
    text = twin_text(twin, as_json=len(data["users"]) > 1000)
    for template in sorted({s["template"] for s in twin.data["secrets"]}, key=len,
                           reverse=True):
        text = text.replace(template, "")  # kept, as no name ("Web Password" holds "Web")
    originals = _originals(data)
    # An original in the text has each of its words among the text's words: only those
    # originals are searched for (one search each over the whole text would be slow).
    in_text = set(re.findall(r"[^\W_]+", text))
    suspects = [o for o in originals if set(re.findall(r"[^\W_]+", o)) <= in_text]
    assert not [o for o in suspects if re.search(rf"(?<!\w){re.escape(o)}(?!\w)", text)]
    # Nor a word of one in any name the twin holds: a pseudonym keeps separators only.
    words = {w.casefold() for o in originals for w in re.findall(r"[^\W_]{3,}", o)}
    assert not words & {w.casefold() for value in _names(twin.data)
                        for w in re.findall(r"[^\W_]+", value)}
    assert len(originals) > 20 and ("iga:" in text or '"iga":' in text)


# --------------------------------------------------------------------------- the command
@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The small tenant's two views, saved; a snapshot of another tenant; one incomplete."""
    out = tmp_path_factory.mktemp("snapshots")
    with running(load_tenant(SMALL)) as sb:
        cloud = fetch_inventory(cloud_profile(sb), progress=False, secret_permissions=True)
        onprem = fetch_inventory(onprem_profile(sb), progress=False, secret_permissions=True)
    other = load_tenant(SMALL).model_dump(exclude_none=True)
    other["folders"].append({"id": "f-elsewhere", "name": "Elsewhere"})
    other["permissions"].append({"folder": "f-elsewhere", "user": "u-scim", "rights": ["Owner"]})
    with running(parse_tenant(other, "<other>")) as sb:
        other_cloud = fetch_inventory(cloud_profile(sb), progress=False)
    # A folder the cloud shows while the on-prem view says nobody owns it: taken at two times.
    owned, unowned = (load_tenant(SMALL).model_dump(exclude_none=True) for _ in range(2))
    for tenant in (owned, unowned):
        tenant["folders"].append({"id": "f-new", "name": "New", "inherit_permissions": False})
    owned["permissions"].append({"folder": "f-new", "user": "u-scim", "rights": ["Owner"]})
    with running(parse_tenant(owned, "<owned>")) as sb:
        save_snapshot(fetch_inventory(cloud_profile(sb), progress=False), out / "owned")
    with running(parse_tenant(unowned, "<unowned>")) as sb:
        save_snapshot(fetch_inventory(onprem_profile(sb), progress=False,
                                      secret_permissions=True), out / "unowned")
    paths = {name: out / name for name in ("cloud", "onprem", "other", "partial", "owned",
                                           "unowned")}
    save_snapshot(cloud, paths["cloud"])
    save_snapshot(onprem, paths["onprem"])
    save_snapshot(other_cloud, paths["other"])
    onprem.meta = {**onprem.meta, "complete": False, "notes": ["Groups: a page kept failing"]}
    save_snapshot(onprem, paths["partial"])
    return paths


def _twin(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["sandbox", "twin", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("args", "problem"), [
    (["{tmp}", "--out", "{tmp}/t.yaml"], "{tmp} is not an opskit snapshot (no manifest.json)"),
    (["{partial}", "--out", "{tmp}/t.yaml"], "the snapshot is incomplete (Groups: a page kept "
                                             "failing)"),
    (["{cloud}", "--reference", "{cloud}", "--out", "{tmp}/t.yaml"],
     "the snapshot and the reference are both the cloud view"),
    (["{other}", "--reference", "{onprem}", "--out", "{tmp}/t.yaml"],
     "the views are not of one tenant: 1 of the cloud view's folders (id 'f-elsewhere', …)"),
    (["{owned}", "--reference", "{unowned}", "--out", "{tmp}/t.yaml"],
     "no one user holds Owner on exactly the folders and secrets the cloud view shows"),
    (["{cloud}", "--out", "{tmp}/t.txt"], "--out {tmp}/t.txt: a tenant file ends in .yaml"),
    (["{onprem}", "--folder-export", "{tmp}/x.csv", "--out", "{tmp}/t.yaml"],
     "a folder export stands in for the on-prem view, and the snapshot is the on-prem view"),
    (["{cloud}", "--reference", "{onprem}", "--folder-export", "{tmp}/x.csv", "--out",
      "{tmp}/t.yaml"], "--folder-export stands in for the on-prem view --reference gives"),
    (["{cloud}", "--out", "{tmp}/t.yaml", "--keep-names", "--key-file", "{tmp}/k"],
     "--keep-names uses no pseudonym key"),
])
def test_bad_input_gets_one_line_and_nothing_is_written(
        args: list[str], problem: str, snapshots: dict[str, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    places = {"tmp": tmp_path, **snapshots}
    code, out, err = _twin([a.format(**places) for a in args], capsys)
    assert code == 2 and out == ""
    assert err.startswith(f"opskit: {problem.format(**places)}") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no twin, no key


def test_the_command_makes_the_key_once_and_the_same_key_gives_the_same_twin(
        snapshots: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    key = tmp_path / "config" / "opskit" / "pseudonym.key"
    args = [str(snapshots["cloud"]), "--reference", str(snapshots["onprem"])]
    iga = tmp_path / "iga.csv"
    with iga.open("w", encoding="utf-8-sig", newline="") as f:
        demodata.write_iga_csv(service_account_gap(load_tenant(SMALL)), f)
    code, out, _ = _twin([*args, "--iga-export", str(iga), "--out", str(tmp_path / "a.yaml")],
                         capsys)
    assert code == 0 and f"made a new pseudonym key in {key}" in out and "keep it" in out
    assert (key.stat().st_mode & 0o777) == 0o600 and key.read_text().strip() not in out
    code, again, _ = _twin([*args, "--out", str(tmp_path / "b.json")], capsys)
    assert code == 0 and "made a new pseudonym key" not in again
    a, b = load_tenant(tmp_path / "a.yaml"), load_tenant(tmp_path / "b.json")
    assert a.users == b.users and a.folders == b.folders and b.iga is None
    names = Pseudonyms(key.read_text().strip()).name
    assert a.iga is not None and [(g.name, g.members) for g in a.iga.groups] == [
        (names("DBA"), [names("alice@acme.com")]),
        (names("Vault Admins"), [names("alice@acme.com")]),
        (names("New Team"), [names("bob@acme.com")])]
    # Fresh practice credentials each time, never the tenant's.
    assert a.service_account.client_secret != b.service_account.client_secret
    assert a.service_account.user == "u-scim" and "service account: " in out
    code, kept, _ = _twin([*args, "--out", str(tmp_path / "c.yaml"), "--keep-names"], capsys)
    assert code == 0 and "KEPT (--keep-names)" in kept
    def people(users: list[Any]) -> list[tuple[Any, ...]]:
        return [(u.id, u.userName, u.displayName, u.email, u.active) for u in users]

    assert people(load_tenant(tmp_path / "c.yaml").users) == people(load_tenant(SMALL).users)


def test_the_command_takes_a_folder_export_beside_the_cloud_view(
        snapshots: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = _folder_export(load_snapshot(snapshots["onprem"]), tmp_path / "export.csv")
    code, out, _ = _twin([str(snapshots["cloud"]), "--folder-export", str(export), "--out",
                          str(tmp_path / "t.json"), "--key-file", str(tmp_path / "k")], capsys)
    made = load_tenant(tmp_path / "t.json")
    assert code == 0 and len(made.folders) == len(load_tenant(SMALL).folders)
    assert "note: 2 folders and 3 secrets only the folder export lists" in out


# --------------------------------------------------------------------------- permission ids
@pytest.fixture
def small_tenant() -> TenantFile:
    """The small tenant whose permissions give ids, as a twin's do: the second one the id the
    practice tenant would make for the first (1000), one of a secret's own 1001."""
    data = load_tenant(SMALL).model_dump(exclude_none=True)
    data["permissions"][1]["id"] = "1000"
    data["secrets"][3]["permissions"][0]["id"] = "1001"
    return parse_tenant(data, "<small, ids given>")


def test_permission_ids_a_file_gives_are_served_and_never_made_again(scim: Flavors) -> None:
    listed = [p["id"] for p in scim.onprem.get("/ContainerPermissions").json()["Resources"]]
    own = [i for i in listed if "-" not in i]  # not inherited
    assert len(own) == len(set(own)) == len(scim.sb.tenant.file.permissions) and "1000" in own
    secret = scim.onprem.get("/PrivilegedDataPermissions", params={
        "filter": 'privilegedData.value eq "s4"'}).json()["Resources"]
    assert [p["id"] for p in secret] == ["1001"]
    made = scim.onprem.post("/ContainerPermissions", json={
        "schemas": [urn.CONTAINER_PERMISSION], "container": {"value": "f4"},
        "user": {"value": "u2"}, "rights": ["View"]})
    assert made.status_code == 201 and made.json()["id"] not in {"1000", "1001"}


def test_a_permission_id_given_twice_is_refused() -> None:
    data = load_tenant(SMALL).model_dump(exclude_none=True)
    data["permissions"][0]["id"] = data["permissions"][1]["id"] = "27"
    with pytest.raises(TenantFileError, match=r"permissions\[1\]\.id: duplicate id '27' "
                                              r"\(first at permissions\[0\]\)"):
        parse_tenant(data, "twin.yaml")


def test_what_a_tenant_file_cannot_hold_is_said_in_one_message() -> None:
    data = load_tenant(SMALL).model_dump(exclude_none=True)
    data["groups"][2]["displayName"] = "dba"  # beside "DBA": equal ignoring case
    with pytest.raises(OpskitError) as caught:
        twin_text(Twin(data, "u-scim", "given"))
    assert caught.value.message == ("the twin would not load in the practice tenant: "
                                    "groups[2].displayName: duplicate displayName 'dba' (first "
                                    "at groups[0])")
    assert "docs/twin.md" in (caught.value.remediation or "")


@pytest.mark.parametrize("trip", ["small"], indirect=True)
def test_the_token_check_and_onboarding_find_the_same_on_the_twin(trip: Trip) -> None:
    """The other two reports, in both flavors: the same findings on the tenant and its twin."""
    def found(data: dict[str, Any]) -> list[set[tuple[str, str]]]:
        with running(parse_tenant(data, "<tenant>")) as sb:
            return [{(f.code, f.subject.replace(sb.url, "<url>")) for f in report.findings}
                    for profile in (cloud_profile(sb), onprem_profile(sb))
                    for report in (check_token(profile), onboard(profile))]

    original, twin = found(trip.data), found(trip.twin.data)
    assert any(original) and twin == [{(code, subject if "<url>" in subject
                                        else trip.names.name(subject))
                                       for code, subject in report} for report in original]
