"""Planned changes applied over SCIM, and rehearsed on a twin (issue 19, item 4)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from opskit import audit
from opskit._pseudonyms import Pseudonyms
from opskit.audit import DeleteGroup, DisableUser, RemoveMember, RevokeGrant, SetGrant
from opskit.cli import main
from opskit.config import CloudProfile, PracticeProfile
from opskit.errors import ConfigError
from opskit.groupgap import Operation, RemediationPlan, apply_plan
from opskit.inputs.audit import write_planned_changes
from opskit.inventory import Inventory, fetch_inventory, load_snapshot
from opskit.rehearse import (
    NameMap,
    RehearsalResult,
    apply_change_plan,
    rehearse_changes,
    rehearse_group_gap,
)
from opskit.rehearse._names import production_names
from opskit.sandbox.serve import RunningSandbox

from .conftest import SMALL
from .servers import cloud_profile, onprem_profile

ALICE, BOB = "Alice@Acme.com", "bob@acme.com"
PROD = "/IT/Databases/Prod"
CHANGES = [RevokeGrant(PROD, "carol@acme.com"), RemoveMember("DBA", ALICE),
           SetGrant("/IT", BOB, ("View",)), DisableUser(BOB), DeleteGroup("DBA Juniors")]


def views(sb: RunningSandbox) -> tuple[Inventory, Inventory]:
    return (fetch_inventory(cloud_profile(sb), progress=False, secret_permissions=True),
            fetch_inventory(onprem_profile(sb), progress=False, secret_permissions=True))


def state(inv: Inventory) -> dict[str, Any]:
    return {name: frame.to_dict("records") for name, frame in inv.frames().items()}


def test_the_first_refusal_stops_and_is_reported(sandbox: RunningSandbox) -> None:
    cloud, onprem = views(sandbox)
    # The on-prem connector refuses to change a Platform group's members (400 mutability).
    plan = audit.scim_plan(cloud, [RemoveMember("DBA", ALICE), DeleteGroup("SS Only")],
                           reference=onprem)
    result = apply_change_plan(plan, onprem_profile(sandbox), apply=True)
    assert not result.ok and result.done == []
    assert result.failed == plan.operations[0] and result.not_done == plan.operations[1:]
    assert "Platform" in (result.error or "")
    assert str(result).startswith("0 operation(s) done. Refused, so stopped at PATCH Groups/g1")
    assert list(result.as_frame()["status"]) == ["refused", "not done"]
    assert [state(v) for v in views(sandbox)] == [state(cloud), state(onprem)]


def test_apply_plan_refuses_a_what_if_plan_before_connecting() -> None:
    # A DELETE is a what-if plan's (scim_plan): apply_plan sends group-gap plans only, and
    # says which function sends this one, before any profile is looked up or connected.
    plan = RemediationPlan([Operation("DELETE", "Groups/g9", {}, "delete group 'Old'",
                                      "WHAT_IF", "Old")])
    with pytest.raises(ValueError, match=r"DELETE .* opskit\.rehearse\.apply_change_plan"):
        apply_plan(plan, "no-such-profile", apply=True)


# --------------------------------------------------------------------------- on a twin
KEY = "0f" * 16


def pseudonymised(data: dict[str, Any], key: str) -> dict[str, Any]:
    """A stand-in for `opskit sandbox twin`: the tenant file with every name through
    Pseudonyms(key), every id kept."""
    p = Pseudonyms(key)
    out = copy.deepcopy(data)
    out["service_account"]["client_id"] = p.name(data["service_account"]["client_id"])
    for user in out["users"]:
        for field in ("userName", "displayName", "email"):
            if field in user:
                user[field] = p.name(user[field])
    for item in out["groups"]:
        item["displayName"] = p.name(item["displayName"])
    for item in out["folders"] + out["secrets"]:
        item["name"] = p.name(item["name"])
    for group in out["iga"]["groups"]:
        group["name"] = p.name(group["name"])
        group["members"] = [p.name(m) for m in group["members"]]
    return out


def test_a_rehearsal_is_read_only_unless_apply_and_only_on_a_twin(
        sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSKIT_SANDBOX_URL", sandbox.url)  # the twin is this test's tenant
    planned = write_planned_changes(CHANGES, tmp_path / "planned.csv")
    twin = PracticeProfile("twin", data=str(SMALL))
    before = [state(v) for v in views(sandbox)]
    dry = rehearse_changes(planned, twin)
    assert isinstance(dry, RehearsalResult)
    assert not dry.applied.applied and dry.as_predicted is None and dry.access is None
    assert "not changed" in dry.summary() and len(dry.plan.operations) == 5
    assert dry.production.operations == dry.plan.operations  # names kept: nothing to map
    assert [state(v) for v in views(sandbox)] == before  # nothing sent, not even to the twin
    done = rehearse_changes(planned, twin, apply=True)
    assert done.applied.ok and done.as_predicted is True and not done.access.empty
    assert [state(v) for v in views(sandbox)] != before
    with pytest.raises(ConfigError, match="not a twin"):
        rehearse_changes(planned, CloudProfile("acme", base_url="https://acme.example/scim"))


def test_a_pseudonymised_twin_gives_production_its_own_names(
        sandbox: RunningSandbox, tmp_path: Path) -> None:
    production = views(sandbox)
    twin_file = tmp_path / "twin.yaml"
    twin_file.write_text(yaml.safe_dump(pseudonymised(yaml.safe_load(SMALL.read_text()), KEY)))
    planned = write_planned_changes(CHANGES, tmp_path / "planned.csv")  # production names

    result = rehearse_changes(planned, PracticeProfile("twin", data=str(twin_file)),
                              production=production, key=KEY, apply=True)
    assert result.applied.ok and result.as_predicted is True
    pseudonyms = Pseudonyms(KEY)
    twin_words = {w for name in production_names(production)
                  for w in re.findall(r"\w{8,}", pseudonyms.name(name))}
    assert twin_words & set(re.findall(r"\w+", str(result.plan)))  # the twin ran on them ...
    expected = audit.scim_plan(production[0], CHANGES, reference=production[1])
    assert [(op.method, op.path, op.body, op.summary, op.members)
            for op in result.production.operations] == [
        (op.method, op.path, op.body, op.summary, op.members) for op in expected.operations]
    assert result.pseudonyms_left == []  # ... and production gets none of them
    assert not twin_words & set(re.findall(r"\w+", json.dumps(result.operations())))


def test_the_group_gap_apply_rehearsed_on_a_pseudonymised_twin(
        sandbox: RunningSandbox, tmp_path: Path) -> None:
    data = yaml.safe_load(SMALL.read_text())
    data["iga"]["groups"] = [{"name": "DBA", "members": ["alice@acme.com", "carol@acme.com"]},
                             {"name": "Auditors", "members": ["bob@acme.com"]}]
    twin_file = tmp_path / "twin.yaml"
    twin_file.write_text(yaml.safe_dump(pseudonymised(data, KEY)))
    iga = tmp_path / "iga.csv"  # production's IGA export: the created group's name is there
    iga.write_text("Identity Name,Email,Source Name,Entitlement Attribute,Entitlement Value,"
                   "Entitlement Display Name\n"
                   + "".join(f",{m},Delinea,groups,{g['name']},{g['name']}\n"
                             for g in data["iga"]["groups"] for m in g["members"]))

    production = views(sandbox)
    result = rehearse_group_gap(PracticeProfile("twin", data=str(twin_file)),
                                production=production, key=KEY, production_iga=str(iga),
                                apply=True)
    assert result.applied.ok and result.as_predicted is True
    assert set(result.findings["code"]) == {"GROUP_NOT_ON_PLATFORM", "GROUP_MEMBERSHIP_DIFFERS"}
    post, patch = result.production.operations
    assert (post.method, post.path, post.body["displayName"], post.members) == (
        "POST", "Groups", "Auditors", "bob@acme.com (u2)")
    assert post.body["members"] == [{"value": "u2"}]
    assert (patch.path, patch.summary, patch.members) == (
        "Groups/g1", "add 1, remove 0 direct member(s) of 'DBA'", "add: carol@acme.com (u3)")
    assert result.plan.operations[0].body["displayName"] == Pseudonyms(KEY).name("Auditors")
    assert result.pseudonyms_left == [] and "Auditors" in result.summary()
    # Without production's IGA export the created group's name cannot go back: it is said.
    blind = NameMap.over(production, KEY)
    twin_auditors = Pseudonyms(KEY).name("Auditors")
    left = blind.pseudonyms_in(blind.back_plan(result.plan), [twin_auditors])
    assert left == [twin_auditors]


def test_the_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "opskit.toml"
    config.write_text(f'[profiles.twin]\nkind = "sandbox"\ndata = "{SMALL}"\n')
    monkeypatch.setenv("OPSKIT_CONFIG", str(config))
    planned = str(write_planned_changes(CHANGES, tmp_path / "planned.csv"))
    out = tmp_path / "out"
    assert main(["rehearse", "changes", planned, "--twin", "twin", "--keep-names", "--apply",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "changed as the what-if predicted" in printed
    sent = json.loads((out / "operations.json").read_text())
    assert [op["method"] for op in sent] == ["DELETE", "PATCH", "POST", "PUT", "DELETE"]
    assert sent[3]["body"]["userName"] == BOB and sent[3]["path"] == "Users/u2"
    assert {"access.csv", "predicted-access.csv", "production-operations.csv"} <= {
        p.name for p in out.iterdir()}

    assert main(["apply-changes", planned, "--profile", "twin"]) == 0  # a dry run
    assert "Dry run: 5 operation(s) planned, none sent." in capsys.readouterr().out

    assert main(["rehearse", "changes", planned, "--twin", "twin",
                 "--key-file", str(tmp_path / "no.key")]) == 2
    assert "pseudonym key file" in capsys.readouterr().err
    (tmp_path / "twin.key").write_text("ab" * 16)
    assert main(["rehearse", "changes", planned, "--twin", "twin", "--key-file",
                 str(tmp_path / "twin.key")]) == 2  # pseudonymised, but no production given
    assert "production snapshot it was made from" in capsys.readouterr().err


def test_the_walkthrough_of_docs_twin_md(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """docs/twin.md's walk-through, command by command: production's two views → a
    pseudonymised twin → the planned changes rehearsed on it → the operations production gets,
    in its own names, equal to what `apply-changes` plans there."""
    twin_file, key = tmp_path / "twin.yaml", tmp_path / "pseudonym.key"
    config = tmp_path / "opskit.toml"
    config.write_text(
        f'[profiles.acme]\nkind = "sandbox"\ndata = "{SMALL}"\nreference = "acme-ss"\n'
        f'[profiles.acme-ss]\nkind = "sandbox"\ndata = "{SMALL}"\nflavor = "onprem"\n'
        f'[profiles.acme-twin]\nkind = "sandbox"\ndata = "{twin_file}"\n'
        f'reference = "acme-twin-onprem"\n'
        f'[profiles.acme-twin-onprem]\nkind = "sandbox"\ndata = "{twin_file}"\n'
        f'flavor = "onprem"\n')
    monkeypatch.setenv("OPSKIT_CONFIG", str(config))
    snapshots = [tmp_path / "acme", tmp_path / "acme-ss"]
    for profile, snapshot in zip(("acme", "acme-ss"), snapshots, strict=True):
        assert main(["inventory", "--profile", profile, "--out", str(snapshot)]) == 0
    assert main(["sandbox", "twin", str(snapshots[0]), "--reference", str(snapshots[1]),
                 "--out", str(twin_file), "--key-file", str(key)]) == 0
    assert "bob@acme.com" not in twin_file.read_text()
    planned = str(write_planned_changes(CHANGES, tmp_path / "planned.csv"))
    production = [arg for s in snapshots for arg in ("--production", str(s))]
    rehearsal = tmp_path / "rehearsal"
    capsys.readouterr()
    assert main(["rehearse", "changes", planned, "--twin", "acme-twin", *production,
                 "--key-file", str(key), "--apply", "--out", str(rehearsal)]) == 0
    assert "changed as the what-if predicted" in capsys.readouterr().out
    sent = json.loads((rehearsal / "operations.json").read_text())
    assert sent[3]["body"]["userName"] == BOB and sent[3]["path"] == "Users/u2"
    twin_words = set(re.findall(r"\w{8,}", Pseudonyms(key.read_text().strip()).name(BOB)))
    assert not twin_words & set(re.findall(r"\w+", json.dumps(sent)))

    # Production plans the same operations afresh (a dry run prints them, sends nothing).
    production_plan = audit.scim_plan(load_snapshot(snapshots[0]), CHANGES,
                                      reference=load_snapshot(snapshots[1]))
    assert [(op["method"], op["path"], op["body"]) for op in sent] == [
        (op.method, op.path, op.body) for op in production_plan.operations]
    assert main(["apply-changes", planned, "--profile", "acme", "--reference", "acme-ss"]) == 0
    assert "Dry run: 5 operation(s) planned, none sent." in capsys.readouterr().out
