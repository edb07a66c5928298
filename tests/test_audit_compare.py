"""Two snapshots of one practice tenant, with changes made over SCIM in between: the comparison
shows exactly those changes, in Python and from `opskit compare`; two different tenants, or the
snapshots in the wrong order, are refused with one clear message."""

from __future__ import annotations

from pathlib import Path

import httpx
import pandas as pd
import pytest

from opskit import audit
from opskit.cli import main
from opskit.errors import OpskitError
from opskit.inventory import fetch_inventory, load_snapshot, save_snapshot
from opskit.sandbox import schemas as urn
from opskit.sandbox.entry import RunningSandbox

from .conftest import Flavors
from .servers import cloud_profile, onprem_profile
from .test_sandbox_rules import PATCH


def snapshot(sb: RunningSandbox, folder: Path, *, onprem: bool = False) -> Path:
    profile = onprem_profile(sb) if onprem else cloud_profile(sb)
    return save_snapshot(fetch_inventory(profile, progress=False), folder)


def ok(r: httpx.Response) -> None:
    assert r.status_code in (200, 201), r.text


def make_changes(scim: Flavors) -> None:
    """A grant added, a member removed, a user disabled, a folder added (tests/data/small.yaml:
    groups and users are the Platform's, so changed through the cloud connector)."""
    ok(scim.onprem.post("/ContainerPermissions", json={
        "schemas": [urn.CONTAINER_PERMISSION], "container": {"value": "f1"},
        "user": {"value": "u2"}, "rights": ["View"]}))
    ok(scim.cloud.patch("/Groups/g3", json={**PATCH, "Operations": [
        {"op": "remove", "path": 'members[value eq "u2"]'}]}))
    ok(scim.cloud.patch("/Users/u1", json={**PATCH, "Operations": [
        {"op": "replace", "path": "active", "value": False}]}))
    ok(scim.onprem.post("/Containers", json={"schemas": [urn.CONTAINER], "name": "Ops",
                                             "parent": {"value": "f1"}}))


def rows(table: pd.DataFrame) -> list[list[object]]:
    return table.astype(str).values.tolist()


def test_compare_shows_exactly_the_changes(tmp_path: Path, sandbox: RunningSandbox,
                                           scim: Flavors, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    before = snapshot(sandbox, tmp_path / "before")
    same = audit.compare(load_snapshot(before), load_snapshot(before))
    assert not same.changed
    make_changes(scim)
    after = snapshot(sandbox, tmp_path / "after")
    c = audit.compare(load_snapshot(before), load_snapshot(after))
    assert rows(c.grants) == [["added", "/IT", "user", "bob@acme.com", "View"]]
    assert rows(c.members) == [["removed", "DBA Juniors", "User", "bob@acme.com"]]
    assert rows(c.folders) == [["added", "/IT/Ops", ""]]
    assert rows(c.users) == [["disabled", "alice@acme.com", "Alice Ng", "False", "active True"]]
    assert c.secrets.empty
    assert rows(c.findings[["change", "code", "subject"]]) == [
        ["added", "DIRECT_USER_GRANT", "bob@acme.com"]]
    assert c.summary().endswith(
        ": grants +1 −0, members +0 −1, folders +1 −0, users +0 −0 (1 disabled), "
        "secrets +0 −0, findings +1 −0")
    assert c.summary().startswith(f"cloud at {sandbox.cloud_url}, ")

    # The same from the command line; DIRECT_USER_GRANT is info: below --fail-on high, exit 0.
    out = tmp_path / "changes"
    assert main(["compare", str(before), str(after), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert c.summary() in printed and "grants   added  /IT  user  bob@acme.com  View" in printed
    assert pd.read_csv(out / "members.csv").values.tolist() == [
        ["removed", "DBA Juniors", "User", "bob@acme.com"]]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{s}.csv" for s in audit._compare.SECTIONS)
    assert main(["compare", str(before), str(after), "--fail-on", "info"]) == 1


def test_compare_refuses_other_tenants_and_the_wrong_order(
        tmp_path: Path, sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]) -> None:
    cloud = snapshot(sandbox, tmp_path / "cloud")
    onprem = snapshot(sandbox, tmp_path / "onprem", onprem=True)
    with pytest.raises(audit.DifferentTenants, match="not of the same tenant: before is cloud"):
        audit.compare(load_snapshot(cloud), load_snapshot(onprem))
    later = snapshot(sandbox, tmp_path / "later")
    inv_later = load_snapshot(later)
    inv_later.meta["fetched_at"] = "2999-01-01T00:00:00+00:00"
    with pytest.raises(OpskitError, match="give the older snapshot first"):
        audit.compare(inv_later, load_snapshot(cloud))

    assert main(["compare", str(cloud), str(onprem)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not of the same tenant" in err[0] and "→ compare two" in err[0]
    assert main(["compare", str(cloud), str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing" in err[0] and "Traceback" not in err[0]


def test_two_runs_of_the_practice_tenant_compare_though_each_starts_on_its_own_port(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPSKIT_SANDBOX_URL", raising=False)
    monkeypatch.delenv("OPSKIT_SANDBOX_DATA", raising=False)
    first, second = (load_snapshot(save_snapshot(fetch_inventory("sandbox", progress=False),
                                                 tmp_path / name)) for name in ("a", "b"))
    assert first.meta["base_url"] != second.meta["base_url"]  # a new port each time
    c = audit.compare(first, second)
    assert c.tenant == "cloud practice tenant acme" and not c.changed
    # Snapshots that name the practice tenant by its address only: the hint pins one.
    for inv in (first, second):
        del inv.meta["practice_tenant"]
    with pytest.raises(audit.DifferentTenants, match=r"opskit sandbox serve.*OPSKIT_SANDBOX_URL"):
        audit.compare(first, second)
