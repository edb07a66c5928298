"""Tenant files: a bad one is refused whole, with file, path and problem named."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from opskit.cli import main
from opskit.sandbox import schemas as urn
from opskit.sandbox.serve import running
from opskit.sandbox.tenantfile import TenantFileError, json_schema, load_tenant, parse_tenant

from .conftest import SMALL, Flavors
from .nesting import chain_groups

ROOT = Path(__file__).parent.parent


@pytest.fixture
def data() -> dict:
    return yaml.safe_load(SMALL.read_text())


def problem(data: dict, source: str = "acme.yaml") -> str:
    with pytest.raises(TenantFileError) as info:
        parse_tenant(data, source)
    message = str(info.value)
    assert message.startswith(source + ": ")
    assert "Traceback" not in message
    return message


def test_small_tenant_loads(data: dict) -> None:
    tf = parse_tenant(data)
    assert tf.tenant == "acme" and len(tf.users) == 4 and len(tf.secrets) == 5


def test_unknown_field_is_named(data: dict) -> None:
    data["users"][1]["mail"] = "alice@acme.com"
    assert "users[1].mail: unknown field" in problem(data)


def test_missing_required_field(data: dict) -> None:
    del data["service_account"]["client_id"]
    assert "service_account.client_id: required field is missing" in problem(data)


def test_wrong_type(data: dict) -> None:
    data["users"][0]["active"] = "sometimes"
    assert "users[0].active:" in problem(data)


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda d: d["permissions"][0].update(folder="f9"), "permissions[0].folder: no folder with "
                                                        "id 'f9'"),
    (lambda d: d["permissions"][1].update(group="g9"), "permissions[1].group: no group with id "
                                                       "'g9'"),
    (lambda d: d["groups"][0]["members"].append("u9"), "groups[0].members[2]: no user or group "
                                                       "with id 'u9'"),
    (lambda d: d["secrets"][0].update(folder="nowhere"), "secrets[0].folder: no folder"),
    (lambda d: d["folders"][1].update(parent="f9"), "folders[1].parent: no folder with id 'f9'"),
    (lambda d: d["service_account"].update(user="ghost"), "service_account.user: no user with "
                                                          "id 'ghost'"),
])
def test_dangling_references(data: dict, edit, expected: str) -> None:
    edit(data)
    assert expected in problem(data)


def test_duplicate_ids(data: dict) -> None:
    data["users"].append(copy.deepcopy(data["users"][1]) | {"userName": "other@acme.com"})
    assert "users[4].id: duplicate id 'u1' (first at users[1])" in problem(data)


def test_duplicate_user_names_ignore_case(data: dict) -> None:
    data["users"].append({"id": "u9", "userName": "BOB@acme.com"})
    assert "users[4].userName: duplicate userName" in problem(data)


def test_a_role_listed_twice_and_a_mapping_to_no_folder_right(data: dict) -> None:
    data["users"][2]["roles"] = ["User", "Auditor", "User"]
    data["onprem"]["rights_mapping"] = {"container": {"admin": "Administrator"}}
    assert ("onprem.rights_mapping.container.admin: Input should be 'Owner', 'Edit', "
            "'Add Secret' or 'View'") in problem(data)
    del data["onprem"]["rights_mapping"]
    assert "users[2].roles: role 'User' listed 2 times" in problem(data)


def test_group_membership_cycle(data: dict) -> None:
    data["groups"][2]["members"].append("g1")  # g1 → g3 → g1
    assert "groups[0].members: group membership cycle: g1 -> g3 -> g1" in problem(data)


def chain(data: dict, depth: int) -> dict:
    data["groups"] += chain_groups(depth)
    return data


def test_a_chain_3000_groups_deep_loads_and_serves(tmp_path: Path, data: dict) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text(json.dumps(chain(copy.deepcopy(data), 3000)))
    tenant = load_tenant(deep)  # walked with its own stack: no RecursionError
    with running(tenant) as sb:
        scim = Flavors(sb)
        try:
            # Each write walks the nesting below its members, here 3,000 groups down.
            top = scim.cloud.post("/Groups", json={"schemas": [urn.GROUP], "displayName": "Top",
                                                   "members": [{"value": "c0"}]})
            assert top.status_code == 201, top.text
            loop = scim.cloud.put("/Groups/c2999", json={
                "schemas": [urn.GROUP], "displayName": "Chain 2999",
                "members": [{"value": "u1"}, {"value": "c0"}]})
            assert loop.status_code == 400 and "member of itself" in loop.text
        finally:
            scim.close()
    cyclic = chain(data, 3000)
    cyclic["groups"][-1]["members"].append("c0")
    assert ("group membership cycle: c0 -> c1 -> c2 -> … -> c2998 -> c2999 -> c0 "
            "(3000 groups)") in problem(cyclic)


def test_a_key_given_twice_is_refused_with_its_line(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    twice = tmp_path / "twice.yaml"
    twice.write_text(SMALL.read_text() + "users: []\n")  # YAML alone would keep this one
    lines = SMALL.read_text().splitlines()
    end, first = len(lines) + 1, lines.index("users:") + 1
    assert main(["sandbox", "serve", "--data", str(twice)]) == 2
    assert capsys.readouterr().err == (f"opskit: {twice}: line {end}, column 1: not valid "
                                       f"YAML: duplicate key 'users' (first on line {first})\n")
    as_json = tmp_path / "twice.json"
    as_json.write_text('{"tenant": "acme", "users": [], "tenant": "other"}')
    with pytest.raises(TenantFileError, match="the key 'tenant' appears twice"):
        load_tenant(as_json)
    merged = tmp_path / "merge.yaml"  # a merge key's values may be overridden: not a duplicate
    merged.write_text("base: &b {a: 1, b: 2}\nthis:\n  <<: *b\n  a: 3\n")
    with pytest.raises(TenantFileError, match="this: unknown field"):
        load_tenant(merged)


def test_nesting_too_deep_to_read_is_refused(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(TenantFileError, match="nested too deeply to read"):
        load_tenant(deep)


@pytest.mark.parametrize(("text", "said"), [
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n"
        for p, n in zip("abcdefghi", "bcdefghij", strict=True)), "expand to more than"),
    ("a: &a [1, *a]\n", "refers to a value that contains it"),
])
def test_aliases_that_would_not_fit_in_memory_are_refused(tmp_path: Path, text: str,
                                                          said: str) -> None:
    """Ten lines of ten aliases each read as ten billion values; an alias inside itself, as
    one without end."""
    bomb = tmp_path / "laughs.yaml"
    bomb.write_text(text)
    with pytest.raises(TenantFileError, match=said):
        load_tenant(bomb)


def test_a_file_larger_than_the_alias_bound_without_aliases_loads(
        tmp_path: Path, data: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bound is on what aliases add: a scale-1,000 demo tenant holds some ten million
    values, none of them an alias."""
    import opskit.sandbox.tenantfile as tenantfile

    monkeypatch.setattr(tenantfile, "MAX_YAML_VALUES", 10)
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump(data))
    assert len(load_tenant(plain).users) == len(data["users"])
    plain.write_text("a: &a [1, 2, 3, 4]\nb: [*a, *a, *a]\n")  # aliases add 15 values
    with pytest.raises(TenantFileError, match="expand to more than 10 values"):
        load_tenant(plain)


def test_folder_cycle(data: dict) -> None:
    data["folders"][0]["parent"] = "f2"
    assert "folder tree cycle" in problem(data)


def test_permission_on_inheriting_folder(data: dict) -> None:
    data["permissions"].append({"folder": "f2", "user": "u1", "rights": ["View"]})
    assert "inherits its parent's permissions" in problem(data)


def test_permission_naming_an_unsynced_group(data: dict) -> None:
    data["permissions"].append({"folder": "f1", "group": "g4", "rights": ["View"]})
    assert "is not in Secret Server" in problem(data)


def test_unknown_right_and_two_principals(data: dict) -> None:
    data["permissions"][0]["rights"] = ["Admin"]
    assert "permissions[0].rights[0]: unknown right 'Admin'" in problem(data)
    data = yaml.safe_load(SMALL.read_text())
    data["permissions"][0]["group"] = "g1"
    assert "exactly one of 'user' or 'group'" in problem(data)
    data = yaml.safe_load(SMALL.read_text())
    data["permissions"][0]["secret_role"] = "Add Secret"  # a folder role, not a secret role
    assert "permissions[0].secret_role: Input should be 'Owner', 'Edit', 'View', 'List' or " \
        "'None'" in problem(data)


def test_every_problem_is_reported_at_once(data: dict) -> None:
    data["permissions"][0]["folder"] = "f9"
    data["secrets"][1]["folder"] = "f8"
    message = problem(data)
    assert "f9" in message and "f8" in message


def test_secret_from_environment(data: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    data["service_account"]["client_secret"] = "env:OPSKIT_TEST_SECRET"
    assert "environment variable OPSKIT_TEST_SECRET is not set" in problem(data)
    monkeypatch.setenv("OPSKIT_TEST_SECRET", "from-env")
    assert parse_tenant(data).service_account.client_secret == "from-env"


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(TenantFileError, match=r"missing\.yaml: file not found"):
        load_tenant(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tenant: acme\nusers: [\n")
    with pytest.raises(TenantFileError, match=r"bad.yaml: line \d+, column \d+: not valid YAML"):
        load_tenant(bad)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"tenant": }')
    with pytest.raises(TenantFileError, match=r"bad\.json: line 1, column 12: not valid JSON"):
        load_tenant(bad_json)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(TenantFileError, match=r"mapping at the top level"):
        load_tenant(listy)


def test_json_and_yaml_are_the_same_tenant(tmp_path: Path, data: dict) -> None:
    as_json = tmp_path / "acme.json"
    as_json.write_text(json.dumps(data))
    assert load_tenant(as_json) == load_tenant(SMALL)


def test_published_json_schema_is_current_and_accepts_the_example(data: dict) -> None:
    published = json.loads((ROOT / "docs" / "tenant-file.schema.json").read_text())
    assert published == json_schema(), (
        "docs/tenant-file.schema.json is stale: "
        "python -m opskit.sandbox.tenantfile > docs/tenant-file.schema.json")
    jsonschema.validate(data, published)
    data["users"][0]["bogus"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, published)
