"""The permission audit's input files: planned changes and folder exports, good and bad."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from opskit import audit
from opskit.csvfile import CsvFileError
from opskit.inputs.audit import read_folder_export, read_planned_changes, write_planned_changes
from opskit.inventory import Inventory, fetch_inventory
from opskit.sandbox.serve import running

from .conftest import SMALL
from .servers import cloud_profile, onprem_profile


@pytest.fixture(scope="module")
def views() -> tuple[Inventory, Inventory]:
    with running(SMALL) as sb:
        return (fetch_inventory(cloud_profile(sb), progress=False),
                fetch_inventory(onprem_profile(sb), progress=False))


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.replace("\n", "\r\n").encode(encoding))
    return path


def raises_at(path: Path, line: int, fragment: str) -> pytest.RaisesExc:
    return pytest.raises(CsvFileError, match=rf"{path.name}, line {line}: .*{fragment}")


# --------------------------------------------------------------------------- planned changes
def test_planned_changes_with_bom_semicolons_and_several_rights(
        tmp_path: Path, views: tuple[Inventory, Inventory]) -> None:
    cloud, onprem = views
    path = write(tmp_path / "planned.csv",
                 "\ufeffFolder Path;Principal;Principal Type;Rights\n"
                 "\\IT\\Databases\\;dba;group;Edit\n"
                 "/HR;bob@acme.com;;View|Edit\n"
                 "/IT;DBA Juniors;Group;\"view; add secret\"\n")
    planned = read_planned_changes(path, [cloud, onprem])
    assert planned.drop(columns="_line").to_dict("records") == [
        {"folder": "/IT/Databases", "principal": "DBA", "principal_type": "group",
         "rights": ["Edit"]},
        {"folder": "/HR", "principal": "bob@acme.com", "principal_type": "user",
         "rights": ["View", "Edit"]},
        {"folder": "/IT", "principal": "DBA Juniors", "principal_type": "group",
         "rights": ["View", "Add Secret"]}]
    assert planned["_line"].tolist() == [2, 3, 4]
    findings = audit.permission_findings(cloud, onprem, tenant="acme", planned=planned)
    by = {(f.code, f.subject): f.message for f in findings}
    assert "planned for bob@acme.com as [View, Edit] (line 3)" in by["RIGHTS_TRUNCATED", "/HR"]
    assert "(line 4)" in by["RIGHTS_TRUNCATED", "/IT"]


def test_planned_changes_in_utf16_with_tabs(tmp_path: Path,
                                            views: tuple[Inventory, Inventory]) -> None:
    path = tmp_path / "planned.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "folder\tprincipal\trights\r\n/IT\tbob@acme.com\t"
                     "Owner\r\n".encode("utf-16-le"))
    planned = read_planned_changes(path, views[1])
    assert planned[["folder", "principal", "rights"]].values.tolist() == [
        ["/IT", "bob@acme.com", ["Owner"]]]


@pytest.mark.parametrize(("body", "line", "fragment"), [
    ("Folder Path,Rights\n/IT,View\n", 1, "no column 'Principal'"),
    ("Folder Path,Principal,Rights\n/IT,DBA,View\n/IT/Databses,DBA,View\n", 3,
     "unknown folder '/IT/Databses'"),
    ("Folder Path,Principal,Rights\nIT/Databases/Prod/Old,DBA,View\n", 2, "unknown folder"),
    ("Folder Path,Principal,Rights\n/IT,Dave,View\n", 2, "unknown principal 'Dave'"),
    ("Folder Path,Principal,Type,Rights\n/IT,DBA,user,View\n", 2,
     r"no user \(userName\) of that name"),
    ("Folder Path,Principal,Type,Rights\n/IT,DBA,role,View\n", 2, "neither User nor Group"),
    ("Folder Path,Principal,Rights\n/IT,DBA,Read\n", 2, "unknown right 'Read'"),
    ("Folder Path,Principal,Rights\n/IT,,View\n", 2, "principal column is empty"),
    ("Folder Path,Principal,Rights\n/IT,DBA,;\n", 2, "names no right"),
    ("Folder Path,Principal,Rights\n/IT,DBA,View,Edit\n", 2, "has 4 fields"),
])
def test_bad_planned_changes_name_file_line_and_problem(
        tmp_path: Path, views: tuple[Inventory, Inventory], body: str, line: int,
        fragment: str) -> None:
    path = write(tmp_path / "planned.csv", body)
    with raises_at(path, line, fragment):
        read_planned_changes(path, list(views))


def test_a_folder_unknown_to_the_cloud_view_alone_may_be_hidden(
        tmp_path: Path, views: tuple[Inventory, Inventory]) -> None:
    cloud, onprem = views
    path = write(tmp_path / "planned.csv", "Folder Path,Principal,Rights\n/HR,DBA,View\n")
    with pytest.raises(CsvFileError) as hidden:
        read_planned_changes(path, cloud)  # /HR exists; the service account does not own it
    assert "only the folders the service account owns" in str(hidden.value)
    assert read_planned_changes(path, [cloud, onprem])["folder"].tolist() == ["/HR"]


def test_a_name_that_is_both_a_user_and_a_group(tmp_path: Path,
                                                views: tuple[Inventory, Inventory]) -> None:
    cloud = views[0]
    users = cloud.users.copy()
    users.loc[len(users)] = ["u9", "DBA", "A person called DBA", True, None, None]
    clash = Inventory(users, cloud.groups, cloud.group_members, cloud.containers,
                      cloud.container_permissions, cloud.privileged_data)
    path = write(tmp_path / "planned.csv", "Folder Path,Principal,Rights\n/IT,dba,View\n")
    with raises_at(path, 2, "names both a user and a group"):
        read_planned_changes(path, clash)
    path = write(tmp_path / "typed.csv",
                 "Folder Path,Principal,Principal Type,Rights\n/IT,dba,Group,View\n")
    assert read_planned_changes(path, clash)["principal"].tolist() == ["DBA"]


# --------------------------------------------------------------------------- folder export
def test_a_folder_export_measures_coverage_like_the_onprem_view(
        tmp_path: Path, views: tuple[Inventory, Inventory]) -> None:
    cloud, onprem = views
    rows = ["Secret Name;Template;Folder"]  # Secret Server's export, with folder paths
    path_of = dict(zip(onprem.containers["id"], onprem.containers["path"], strict=True))
    for name, cid in zip(onprem.privileged_data["name"], onprem.privileged_data["container_id"],
                         strict=True):
        rows.append(f"{name};Password;{path_of[cid].replace('/', chr(92))}")
    path = write(tmp_path / "export.csv", "\ufeff" + "\n".join(rows) + "\n")
    export = read_folder_export(path, cloud=cloud)
    assert set(export.folders["path"]) == set(onprem.containers["path"])
    by_export = audit.coverage(cloud, export)
    by_onprem = audit.coverage(cloud, onprem)
    assert by_export.hidden_roots.equals(by_onprem.hidden_roots)
    assert by_export.not_owned["path"].tolist() == by_onprem.not_owned["path"].tolist() == [
        "/IT/it-root"]
    assert by_export.reference == "export.csv"
    findings = audit.permission_findings(cloud, export, tenant="acme")
    codes = {(f.code, f.subject) for f in findings}
    assert {("FOLDER_NOT_VISIBLE", "/HR"), ("SECRET_NOT_OWNED", "/IT/it-root")} <= codes
    # The export shows no permissions: the grant findings come from the cloud view alone.
    assert ("RIGHTS_TRUNCATED", "/Shared") not in codes


def test_an_export_row_without_a_secret_lists_an_empty_folder(
        tmp_path: Path, views: tuple[Inventory, Inventory]) -> None:
    path = write(tmp_path / "export.csv", "Folder Path,Secret Name\n/IT/Empty/Deep,\n/IT,x\n")
    export = read_folder_export(path, cloud=views[0])
    assert set(export.folders["path"]) == {"/IT", "/IT/Empty", "/IT/Empty/Deep"}
    assert export.secrets[["folder", "name"]].values.tolist() == [["/IT", "x"]]


@pytest.mark.parametrize(("body", "line", "fragment"), [
    ("Secret Name,Template\nx,Password\n", 1, "no column 'Folder Path'"),
    ("Folder Path,Secret Name\n/IT,a\n,b\n", 3, "folder path column is empty"),
    ("Folder Path,Secret Name\n/IT//Prod,a\n", 2, "empty folder name"),
    ("Folder Path,Secret Name\n/Finance/Payroll,a\n/Finance,b\n", 2,
     "unknown folder '/Finance'.*none of the export's 2 folders"),
])
def test_bad_folder_exports_name_file_line_and_problem(
        tmp_path: Path, views: tuple[Inventory, Inventory], body: str, line: int,
        fragment: str) -> None:
    path = write(tmp_path / "export.csv", body)
    with raises_at(path, line, fragment):
        read_folder_export(path, cloud=views[0])


def test_a_folder_export_may_be_a_url(tmp_path: Path) -> None:
    """An export shared by link is downloaded like any other (and named without its query)."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from opskit.sandbox.serve import serving

    body = "Folder Path,Secret Name\r\n\\IT,sql-sa\r\n\\IT\\Databases,\r\n".encode("utf-8-sig")

    async def export(request):  # type: ignore[no-untyped-def]
        return Response(body, media_type="text/csv")

    with serving(Starlette(routes=[Route("/exports/folders.csv", export)])) as url:
        view = read_folder_export(f"{url}/exports/folders.csv?sig=abc")
    assert sorted(view.folders["path"]) == ["/IT", "/IT/Databases"]
    assert "abc" not in str(view.source)


def test_a_formula_name_is_written_guarded_and_reads_back(
        tmp_path: Path, views: tuple[Inventory, Inventory]) -> None:
    """A what-if's planned-changes file opens in a spreadsheet: a name that would run as a
    formula is written with a leading ' (as findings.csv does), and reads back as the name."""
    cloud = views[0]
    formula = "=cmd|' /C calc'!A0"
    users = cloud.users.copy()
    users.loc[len(users)] = ["u9", formula, "A formula", True, None, None]
    inv = Inventory(users, cloud.groups, cloud.group_members, cloud.containers,
                    cloud.container_permissions, cloud.privileged_data)
    changes = [audit.SetGrant("/IT", formula, ("View",), "user"),
               audit.DisableUser(formula)]
    path = write_planned_changes(changes, tmp_path / "planned.csv")
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    assert all(f",'{formula}" in line or f",\"'{formula}" in line for line in lines), lines
    assert audit.changes_of(read_planned_changes(path, inv)) == changes
