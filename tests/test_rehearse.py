"""Planned changes applied over SCIM, and rehearsed on a twin (issue 19, item 4)."""

from __future__ import annotations

from typing import Any

from opskit import audit
from opskit.audit import DeleteGroup, DisableUser, RemoveMember, RevokeGrant, SetGrant
from opskit.inventory import Inventory, fetch_inventory
from opskit.rehearse import apply_change_plan
from opskit.sandbox.serve import RunningSandbox

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


def test_a_dry_run_sends_nothing_and_apply_makes_what_the_what_if_predicted(
        sandbox: RunningSandbox) -> None:
    cloud, onprem = views(sandbox)
    plan = audit.scim_plan(cloud, CHANGES, reference=onprem)
    dry = apply_change_plan(plan, cloud_profile(sandbox))  # apply=False: nothing is sent
    assert not dry.applied and dry.done == [] and dry.not_done == plan.operations
    assert str(dry) == "Dry run: 5 operation(s) planned, none sent."
    again = views(sandbox)
    assert [state(v) for v in again] == [state(cloud), state(onprem)]

    predicted = audit.what_if(cloud, CHANGES, reference=onprem, tenant="acme")
    done = apply_change_plan(plan, cloud_profile(sandbox), apply=True)
    assert done.ok and done.done == plan.operations and done.not_done == []
    after = audit.audit_permissions(*views(sandbox), tenant="acme")
    assert after.access.rows_of([ALICE]).equals(predicted.after.access.rows_of([ALICE]))
    assert sorted((f.code, f.subject) for f in after.findings) == sorted(
        (f.code, f.subject) for f in predicted.after.findings)


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
