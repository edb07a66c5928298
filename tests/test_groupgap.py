"""Group-gap report (issue 7): sources, matching, findings — against the practice tenant."""

from __future__ import annotations

import codecs
import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from opskit.config import PlatformGroupsSync
from opskit.csvfile import CsvFileError
from opskit.errors import ConfigError
from opskit.findings import GROUP_GAP, raised_by
from opskit.groupgap import (
    GroupGapReport,
    GroupSource,
    NameRules,
    group_gap,
    match_groups,
    name_differences,
    normalise_name,
    platform_groups,
    secret_server_groups,
)
from opskit.inputs.groups import read_iga_export, read_secret_server, read_secret_server_export
from opskit.inventory import Inventory, fetch_inventory
from opskit.sandbox import demodata
from opskit.sandbox.serve import running
from opskit.sandbox.tenantfile import parse_tenant

from .servers import cloud_profile, onprem_profile, self_signed_cert, send_json, serve_asgi

DOCS = Path(__file__).parent.parent / "docs"
# The codes this report raises, as declared: (severity, remediation) by code.
CATALOGUE = {c.code: (c.severity, c.remediation) for c in raised_by(GROUP_GAP)}
SAILPOINT_HEADER = ("Identity Name,Email,Source Name,Entitlement Attribute,Entitlement Value,"
                    "Entitlement Display Name")


def pairs(report: GroupGapReport) -> set[tuple[str, str]]:
    return {(f.code, f.subject) for f in report.findings}


def expected_pairs(path: Path) -> set[tuple[str, str]]:
    return {(f["code"], f["subject"]) for f in json.loads(path.read_text())
            if f["code"].startswith("GROUP_")}


# --------------------------------------------------------------------------- demo acceptance
class Demo:
    def __init__(self, paths: dict[str, Path], cloud: Inventory, onprem: Inventory,
                 sync: PlatformGroupsSync | None = None):
        self.paths, self.cloud, self.onprem = paths, cloud, onprem
        self.iga = read_iga_export(paths["iga_export"])
        self.report = group_gap(platform_groups(cloud), iga=self.iga,
                                secret_server=secret_server_groups(onprem), sync=sync)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """Scale 1, seed 0: the built-in `sandbox` and `sandbox-onprem` profiles serve this data."""
    paths = demodata.write_demo(tmp_path_factory.mktemp("demo"), scale=1, seed=0)
    return Demo(paths, fetch_inventory("sandbox", progress=False),
                fetch_inventory("sandbox-onprem", progress=False))


def new_platform_demo(out: Path, scale: int, seed: int) -> dict[str, Path]:
    """The demo company on a tenant whose Secret Server searches Platform groups directly."""
    data = demodata.new_platform_tenant(demodata.generate(scale, seed))
    paths = {"tenant": out / "tenant.yaml", "iga_export": out / "iga_export.csv",
             "findings": out / "expected_findings.json"}
    paths["tenant"].write_text(yaml.safe_dump(data))
    with paths["iga_export"].open("w", encoding="utf-8-sig", newline="") as f:
        demodata.write_iga_csv(data, f)
    paths["findings"].write_text(json.dumps(demodata.expected_findings(data)))
    return paths


@pytest.fixture(scope="module", params=[(1, 7, True), (2, 0, False)],
                ids=["seed7-new-platform-tenant", "scale2"])
def other_demo(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    scale, seed, new_platform = request.param
    out = tmp_path_factory.mktemp("demo")
    paths = (new_platform_demo(out, scale, seed) if new_platform
             else demodata.write_demo(out, scale=scale, seed=seed))
    sync = PlatformGroupsSync(platform_groups_searched_directly=new_platform, given=True)
    with running(paths["tenant"]) as sb:
        yield Demo(paths, fetch_inventory(cloud_profile(sb), progress=False),
                   fetch_inventory(onprem_profile(sb), progress=False), sync)


def test_demo_group_findings_are_exactly_the_expected(demo: Demo) -> None:
    assert pairs(demo.report) == expected_pairs(demo.paths["findings"])
    codes = {code for code, _ in pairs(demo.report)}
    assert codes == {"GROUP_NOT_IN_SECRET_SERVER", "GROUP_SYNC_PENDING", "GROUP_NOT_ON_PLATFORM",
                     "GROUP_NOT_IN_IGA", "GROUP_NAME_MISMATCH", "GROUP_MEMBERSHIP_DIFFERS"}


def test_other_seed_and_scale_give_exactly_the_expected(other_demo: Demo) -> None:
    assert pairs(other_demo.report) == expected_pairs(other_demo.paths["findings"])


def test_membership_differences_name_the_members_of_each_side(demo: Demo) -> None:
    expected = {f["subject"]: f["why"] for f in json.loads(demo.paths["findings"].read_text())
                if f["code"] == "GROUP_MEMBERSHIP_DIFFERS"}
    diff = demo.report.membership
    assert set(diff["group"]) == set(expected)
    for group, why in expected.items():
        mine = diff[diff["group"] == group]
        only_iga = sorted(u.casefold() for u in mine[mine["side"] == "only in the IGA"]
                          ["user_name"])
        only_platform = sorted(u.casefold() for u in mine[mine["side"] == "only on the Platform"]
                               ["user_name"])
        assert f"only in the IGA {only_iga}, only on the Platform {only_platform}" in why
        message = next(f.message for f in demo.report.findings if f.subject == group
                       and f.code == "GROUP_MEMBERSHIP_DIFFERS")
        assert all(u in message.casefold() for u in only_iga + only_platform)


def test_findings_carry_the_catalogue_and_the_sync_steps(demo: Demo) -> None:
    for f in demo.report.findings:
        assert (f.severity, f.remediation) == CATALOGUE[f.code]
    unsynced = next(f for f in demo.report.findings if f.code == "GROUP_NOT_IN_SECRET_SERVER")
    assert "Platform Groups Sync" in unsynced.remediation
    assert "Sync Now" in unsynced.remediation
    mismatch = {f.subject: f.message for f in demo.report.findings
                if f.code == "GROUP_NAME_MISMATCH"}
    kinds = {m.rsplit("normalising ", 1)[1] for m in mismatch.values()}
    assert kinds == {"case", "spaces", "domain prefix"}


def test_presence_frame_has_one_row_per_group(demo: Demo) -> None:
    p = demo.report.presence
    assert p["on_platform"].sum() == len(demo.cloud.groups)
    assert p["in_secret_server"].sum() == len(demo.onprem.groups)
    assert p["in_iga"].sum() == len(demo.iga.groups)
    assert not p["group"].duplicated().any()
    unsynced = p[p["codes"].map(lambda c: "GROUP_NOT_IN_SECRET_SERVER" in c)]
    assert list(unsynced["in_secret_server"]) == [False]
    assert list(unsynced["in_iga"]) == [True]
    renamed = p[p["iga_match"] == "normalised"]
    assert len(renamed) == 3 and renamed["codes"].map(lambda c: c == ["GROUP_NAME_MISMATCH"]).all()
    assert demo.report.affected_grants.empty  # the demo data never references a missing group
    assert demo.report.metrics["groups"] == {"IGA": len(demo.iga.groups),
                                             "Platform": len(demo.cloud.groups),
                                             "Secret Server": len(demo.onprem.groups)}


def test_sources_left_out_skip_their_findings(demo: Demo) -> None:
    only_platform = group_gap(platform_groups(demo.cloud))
    assert only_platform.findings == []
    assert only_platform.presence["in_iga"].isna().all()
    no_ss = group_gap(platform_groups(demo.cloud), iga=demo.iga)
    assert pairs(no_ss) == {p for p in pairs(demo.report)
                            if p[0] not in ("GROUP_NOT_IN_SECRET_SERVER", "GROUP_SYNC_PENDING")}
    assert no_ss.presence["in_secret_server"].isna().all()


def test_inventories_of_the_wrong_flavor_are_refused(demo: Demo) -> None:
    with pytest.raises(ConfigError, match="On-Prem SCIM Connector, but Platform groups"):
        platform_groups(demo.onprem)
    with pytest.raises(ConfigError, match="Cloud Connector, but Secret Server groups"):
        secret_server_groups(demo.cloud)
    with pytest.raises(ValueError, match="own"):
        group_gap(secret_server_groups(demo.onprem))


def test_read_secret_server_takes_an_inventory_a_csv_or_a_source(demo: Demo,
                                                                 tmp_path: Path) -> None:
    from_inventory = read_secret_server(demo.onprem)
    assert from_inventory.system == "Secret Server"
    path = tmp_path / "ss.csv"
    path.write_text("Group Name\n" + "\n".join(demo.onprem.groups["displayName"]) + "\n",
                    encoding="utf-8")
    from_csv = read_secret_server(path)
    assert sorted(from_csv.groups["name"]) == sorted(from_inventory.groups["name"])
    assert read_secret_server(from_csv) is from_csv
    report = group_gap(platform_groups(demo.cloud), iga=demo.iga, secret_server=from_csv)
    assert pairs(report) == pairs(demo.report)


# --------------------------------------------------------------------------- matching
def test_normalisation_rules() -> None:
    assert normalise_name("  ACME\\Finance   Payroll ") == "finance payroll"
    assert normalise_name("finance.payroll@acme.com") == "finance.payroll"
    assert normalise_name("ＦＩＮＡＮＣＥ") == "finance"  # full-width forms (NFKC)
    decomposed = unicodedata.normalize("NFD", "Björn Team")
    assert decomposed != "Björn Team"
    assert normalise_name(decomposed) == normalise_name("Björn Team")
    off = NameRules(strip_domain_prefix=False, strip_domain_suffix=False)
    assert normalise_name("ACME\\Ops", off) == "acme\\ops"
    assert normalise_name("ops@acme.com", off) == "ops@acme.com"
    assert normalise_name("@acme") == "@acme"  # nothing before the @: not a suffix
    assert name_differences("ACME\\FINANCE  Payroll", "Finance Payroll") == [
        "domain prefix", "spaces", "case"]
    assert name_differences(decomposed, "Björn Team") == ["Unicode form"]


def frame(*rows: tuple[str, str, str | None]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["key", "name", "external_id"])


def test_matching_order_exact_then_external_id_then_normalised() -> None:
    left = frame(("a", "DBA", None), ("b", "dba", None), ("c", "Old Name", "x-1"),
                 ("d", "  Ops Team", None), ("e", "Twin", None))
    right = frame(("1", "dba", None), ("2", "DBA", None), ("3", "New Name", "x-1"),
                  ("4", "ops team", None), ("5", "TWIN", None), ("6", "twin ", None))
    found = {(m.left, m.right, m.how) for m in match_groups(left, right)}
    assert found == {("a", "2", "exact"), ("b", "1", "exact"), ("c", "3", "external id"),
                     ("d", "4", "normalised")}  # 'Twin' is ambiguous: two candidates
    without_ids = match_groups(left, right, NameRules(match_external_id=False))
    assert "c" not in {m.left for m in without_ids}


def source(system: str, groups: list[tuple[str, str, str | None]],
           members: list[tuple[str, str]] | None = None) -> GroupSource:
    return GroupSource(system, "test", frame(*groups),  # type: ignore[arg-type]
                       pd.DataFrame([(k, u, None) for k, u in members or []],
                                    columns=["key", "user_name", "user_id"]))


def test_names_that_match_only_after_normalisation_are_reported_not_merged() -> None:
    nfd = unicodedata.normalize("NFD", "Björn Team")
    platform = source("Platform", [("g1", "Björn Team", None), ("g2", "Payroll", "sp-9")],
                      [("g1", "Alice@acme.com")])
    iga = source("IGA", [(nfd, nfd, None), ("pay", "Payroll Team", "sp-9")],
                 [(nfd, "alice@ACME.com")])
    ss = source("Secret Server", [("7", "ACME\\Björn Team", None), ("8", "Payroll", None)])
    report = group_gap(platform, iga=iga, secret_server=ss)
    by = {(f.code, f.subject): f.message for f in report.findings}
    assert set(by) == {("GROUP_NAME_MISMATCH", nfd), ("GROUP_NAME_MISMATCH", "Payroll Team"),
                       ("GROUP_NAME_MISMATCH", "ACME\\Björn Team")}
    assert "Unicode form" in by["GROUP_NAME_MISMATCH", nfd]
    assert "external id 'sp-9'" in by["GROUP_NAME_MISMATCH", "Payroll Team"]
    assert "domain prefix" in by["GROUP_NAME_MISMATCH", "ACME\\Björn Team"]
    # members compare case-insensitively: no membership finding
    assert report.membership.empty


def test_an_iga_group_made_directly_in_secret_server() -> None:
    platform = source("Platform", [("g1", "DBA", None)])
    iga = source("IGA", [("DBA", "DBA", None), ("Ops", "Ops", None)])
    ss = source("Secret Server", [("1", "DBA", None), ("2", "OPS", None), ("3", "Local", None)])
    report = group_gap(platform, iga=iga, secret_server=ss)
    assert pairs(report) == {("GROUP_NOT_ON_PLATFORM", "Ops"), ("GROUP_NAME_MISMATCH", "Ops"),
                             ("GROUP_ONLY_IN_SECRET_SERVER", "Local")}
    ops = report.presence[report.presence["group"] == "Ops"].iloc[0]
    assert (ops["in_iga"], ops["on_platform"], ops["in_secret_server"]) == (True, False, True)
    assert "made there directly" in next(f.message for f in report.findings
                                         if f.code == "GROUP_NOT_ON_PLATFORM")


# --------------------------------------------------------------------------- grants note
TENANT = """
tenant: acme
service_account: {user: u-scim, client_id: scim.integration@acme.com, client_secret: practice-only}
onprem: {token: practice-onprem-token}
users:
  - {id: u-scim, userName: scim.integration@acme.com, displayName: SCIM Service, active: true}
  - {id: u1, userName: alice@acme.com, displayName: Alice Ng, active: true}
  - {id: u2, userName: bob@acme.com, displayName: Bob Li, active: true}
groups:  # made long ago: a group Secret Server lacks missed its timed sync
  - {id: g1, displayName: DBA, members: [u1], created: 2024-01-08T09:00:00Z}
  - {id: g2, displayName: Cloud Only, members: [u2], secret_server: false,
     created: 2024-01-08T09:00:00Z}
  - {id: g3, displayName: Legacy Ops, members: [u2], platform: false}
  - {id: g4, displayName: Old Admins, members: [u1], platform: false}
folders:
  - {id: f1, name: IT, parent: null}
  - {id: f2, name: Prod, parent: f1, inherit_permissions: false}
permissions:
  - {folder: f1, user: u-scim, rights: [Owner]}
  - {folder: f1, group: g1, rights: [Edit]}
  - {folder: f2, user: u-scim, rights: [Owner]}
  - {folder: f2, group: g3, rights: [View]}
  - {folder: f2, group: g4, rights: [Owner]}
iga:
  groups:
    - {name: DBA, members: [alice@acme.com]}
    - {name: Cloud Only, members: [bob@acme.com]}
    - {name: Legacy Ops, members: [bob@acme.com]}
"""


def iga_csv(path: Path, groups: dict[str, list[str]], encoding: str = "utf-8-sig",
            delimiter: str = ",") -> Path:
    lines = [SAILPOINT_HEADER.replace(",", delimiter)]
    for name, members in groups.items():
        for m in members or [""]:
            lines.append(delimiter.join([m.split("@")[0], m, "Delinea Platform (SCIM)",
                                         "groups", name, name]))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


@pytest.fixture(scope="module")
def hand_made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data = yaml.safe_load(TENANT)
    tmp = tmp_path_factory.mktemp("hand")
    iga = iga_csv(tmp / "iga.csv", {g["name"]: g["members"] for g in data["iga"]["groups"]})
    with running(parse_tenant(data)) as sb:
        return {"cloud": fetch_inventory(cloud_profile(sb), progress=False),
                "onprem": fetch_inventory(onprem_profile(sb), progress=False),
                "iga": read_iga_export(iga), "tmp": tmp}


def test_grants_naming_a_group_missing_from_the_platform_are_noted(
        hand_made: dict[str, Any]) -> None:
    report = group_gap(platform_groups(hand_made["cloud"]), iga=hand_made["iga"],
                       secret_server=secret_server_groups(hand_made["onprem"]))
    by = {(f.code, f.subject): f.message for f in report.findings}
    assert set(by) == {("GROUP_NOT_IN_SECRET_SERVER", "Cloud Only"),
                       ("GROUP_NOT_ON_PLATFORM", "Legacy Ops"),
                       ("GROUP_ONLY_IN_SECRET_SERVER", "Old Admins")}
    assert "Note:" not in by["GROUP_NOT_IN_SECRET_SERVER", "Cloud Only"]
    assert "Note:" in by["GROUP_NOT_ON_PLATFORM", "Legacy Ops"]
    assert "/IT/Prod (View)" in by["GROUP_NOT_ON_PLATFORM", "Legacy Ops"]
    assert "/IT/Prod (Owner)" in by["GROUP_ONLY_IN_SECRET_SERVER", "Old Admins"]
    grants = report.affected_grants
    assert set(zip(grants["group"], grants["code"], grants["folder"], grants["right"],
                   strict=True)) == {
        ("Legacy Ops", "GROUP_NOT_ON_PLATFORM", "/IT/Prod", "View"),
        ("Old Admins", "GROUP_ONLY_IN_SECRET_SERVER", "/IT/Prod", "Owner")}


def test_grants_naming_a_group_missing_from_a_secret_server_export_are_noted(
        hand_made: dict[str, Any]) -> None:
    # An export taken before DBA reached Secret Server, while the Platform view names it.
    export = hand_made["tmp"] / "ss.csv"
    export.write_text("Group Id;Group Name;Members\n3;Legacy Ops;1\n4;Old Admins;1\n")
    report = group_gap(platform_groups(hand_made["cloud"]), iga=hand_made["iga"],
                       secret_server=read_secret_server_export(export))
    dba = next(f for f in report.findings
               if (f.code, f.subject) == ("GROUP_NOT_IN_SECRET_SERVER", "DBA"))
    assert "these grants fail" in dba.message and "/IT (Edit)" in dba.message
    grants = report.affected_grants
    assert ("DBA", "/IT", "Edit", "Platform") in set(zip(
        grants["group"], grants["folder"], grants["right"], grants["seen_in"], strict=True))
    # /IT/Prod does not inherit: DBA's grant is on /IT only
    assert list(grants.loc[grants["group"] == "DBA", "folder"]) == ["/IT"]


# --------------------------------------------------------------------------- CSV files
def test_iga_export_layout_bom_crlf_and_empty_groups(demo: Demo) -> None:
    raw = demo.paths["iga_export"].read_bytes()
    assert raw.startswith(codecs.BOM_UTF8) and b"\r\n" in raw
    data = demodata.generate(1, 0)
    want = {g["name"]: sorted(m.casefold() for m in g["members"]) for g in data["iga"]["groups"]}
    got = {name: sorted(demo.iga.members.loc[demo.iga.members["key"] == key, "user_name"]
                        .str.casefold())
           for key, name in zip(demo.iga.groups["key"], demo.iga.groups["name"], strict=True)}
    assert got == want
    assert want["All Staff"] == []  # one row with empty Identity Name and Email


@pytest.mark.parametrize(("encoding", "delimiter"), [
    ("utf-8", ";"), ("utf-16", ","), ("utf-16", "\t"), ("utf-8-sig", ";")])
def test_iga_export_encodings_and_delimiters(tmp_path: Path, encoding: str,
                                             delimiter: str) -> None:
    groups = {"São Paulo Ops": ["joão@acme.com", "ann@acme.com"], "Empty": []}
    got = read_iga_export(iga_csv(tmp_path / "x.csv", groups, encoding, delimiter))
    assert list(got.groups["name"]) == ["São Paulo Ops", "Empty"]
    assert sorted(got.members["user_name"]) == ["ann@acme.com", "joão@acme.com"]


def test_iga_export_with_its_own_column_names_and_filters(tmp_path: Path) -> None:
    path = tmp_path / "okta.csv"
    path.write_text("Group,User,Kind,App\nDBA,alice@acme.com,groups,Delinea\n"
                    "DBA,bob@acme.com,roles,Delinea\nOps,carol@acme.com,groups,Other\n")
    got = read_iga_export(path, columns={"group": "Group", "member": ["User", "Login"],
                                         "attribute": "Kind", "source": "App"},
                          source="delinea")
    assert list(got.groups["name"]) == ["DBA"]
    assert list(got.members["user_name"]) == ["alice@acme.com"]
    with pytest.raises(ConfigError, match="unknown column name 'grp'"):
        read_iga_export(path, columns={"grp": "Group"})


def message_of(exc: pytest.ExceptionInfo[CsvFileError]) -> str:
    text = str(exc.value)
    assert "Traceback" not in text
    return text


def test_bad_csv_files_get_one_clear_message(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    missing.write_text("Identity Name;Email;Entitlement Display Name\nA;a@x.com;DBA\n",
                       encoding="utf-16")
    with pytest.raises(CsvFileError) as exc:
        read_iga_export(missing)
    text = message_of(exc)
    assert re.search(r"missing\.csv, line 1: IGA export has no column 'Entitlement Value'", text)
    assert "→" in text  # the remediation

    empty_group = iga_csv(tmp_path / "empty.csv", {"DBA": ["a@x.com"], "": ["b@x.com"]})
    with pytest.raises(CsvFileError) as exc:
        read_iga_export(empty_group)
    assert "empty.csv, line 3: column 'Entitlement Value' is empty" in message_of(exc)

    ragged = tmp_path / "ragged.csv"
    ragged.write_text("Group Name\nDBA\nA,B\n")
    with pytest.raises(CsvFileError, match=r"ragged\.csv, line 3"):
        read_secret_server_export(ragged)
    no_name = tmp_path / "ss.csv"
    no_name.write_text("Id,Title\n1,DBA\n")
    with pytest.raises(CsvFileError) as exc:
        read_secret_server_export(no_name)
    assert "ss.csv, line 1: Secret Server group export has no column 'Group Name'" in \
        message_of(exc)
    blank = tmp_path / "blank.csv"
    blank.write_text("Group Id,Group Name\n1,DBA\n2,\n")
    with pytest.raises(CsvFileError, match=r"blank\.csv, line 3: column 'Group Name' is empty"):
        read_secret_server_export(blank)
    with pytest.raises(CsvFileError, match="not found"):
        read_secret_server(tmp_path / "nowhere.csv")


def test_secret_server_export_keys_groups_by_id_when_given(tmp_path: Path) -> None:
    path = tmp_path / "ss.csv"
    path.write_text("\ufeffGroup Id,Group Name,Member\n1,DBA,alice\n1,DBA,bob\n2,Ops,\n",
                    encoding="utf-8")
    got = read_secret_server_export(path)
    assert list(zip(got.groups["key"], got.groups["name"], strict=True)) == [
        ("1", "DBA"), ("2", "Ops")]


CSV_FILES = {  # what the tiny export server below publishes, by path
    "/iga.csv": f"{SAILPOINT_HEADER}\nA,a@x.com,S,groups,DBA,DBA\n",
    "/iga-bad.csv": f"{SAILPOINT_HEADER}\nA,a@x.com,S,groups,DBA,DBA\nB,b@x.com,S,groups,,\n",
    "/ss.csv": "Group Id,Group Name\n1,DBA\n",
    "/ss-bad.csv": "Group Id,Group Name\n1,DBA\n2,\n",
}


async def export_server(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = CSV_FILES.get(scope["path"], "").encode()
    await send_json(send, 200 if body else 404, body, b"text/csv")


def test_a_url_export_never_shows_its_password_or_signature(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    certfile, keyfile = self_signed_cert(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certfile))  # trust the test server's certificate
    with serve_asgi(export_server, certfile=certfile, keyfile=keyfile) as base:
        shown = base  # https://127.0.0.1:PORT, as origins and messages show it
        secret = base.replace("https://", "https://svc:pw@")

        def url(path: str) -> str:
            return f"{secret}{path}?sig=abc"

        sources = [read_iga_export(url("/iga.csv")), read_secret_server_export(url("/ss.csv")),
                   read_secret_server(url("/ss.csv"))]
        assert [s.origin for s in sources] == [f"{shown}/iga.csv?…", f"{shown}/ss.csv?…",
                                               f"{shown}/ss.csv?…"]
        assert len(sources[0].groups) == len(sources[1].groups) == 1
        errors = []
        for read, path in ((read_iga_export, "/iga-bad.csv"),
                           (read_secret_server_export, "/ss-bad.csv"),
                           (read_iga_export, "/nope.csv")):
            with pytest.raises(CsvFileError) as exc:
                read(url(path))
            errors.append(message_of(exc))
    assert errors[0].startswith(f"{shown}/iga-bad.csv?…, line 3: column 'Entitlement Value'")
    assert errors[1].startswith(f"{shown}/ss-bad.csv?…, line 3: column 'Group Name' is empty")
    assert "HTTP 404" in errors[2]
    for text in [*errors, *(repr(s) for s in sources)]:
        assert "pw" not in text and "abc" not in text and "svc" not in text


# --------------------------------------------------------------------------- docs
def test_every_code_is_in_the_guide() -> None:
    # docs/findings.md is checked against every declared code in tests/test_findings.py.
    guide = (DOCS / "group-gap.md").read_text()
    for code in CATALOGUE:
        assert code in guide, code
