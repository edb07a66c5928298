"""Group-gap remediation (issue 7, item 4): plan, apply to the practice tenant, report again."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx
import pandas as pd
import pytest

from opskit.errors import ConfigError
from opskit.groupgap import (
    GroupGapReport,
    GroupSource,
    RemediationPlan,
    ServiceAccount,
    apply_plan,
    group_gap,
    plan_remediation,
    platform_groups,
    secret_server_groups,
)
from opskit.inputs.groups import read_iga_export
from opskit.inventory import fetch_inventory
from opskit.limits import Limits
from opskit.reports.group_gap import run_group_gap
from opskit.sandbox import demodata
from opskit.sandbox.app import PREFIX
from opskit.sandbox.serve import RunningSandbox, running
from opskit.sandbox.tenantfile import TenantFile, parse_tenant

from .conftest import Flavors, service_account_gap
from .servers import ScimProxy, cloud_profile, onprem_profile, serve_asgi

pytestmark = pytest.mark.slow  # 7-20 s in all: handed out early, so it does not start last

CLOSED_BY_SCIM = {"GROUP_NOT_ON_PLATFORM", "GROUP_MEMBERSHIP_DIFFERS"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return demodata.write_demo(tmp_path_factory.mktemp("demo"), scale=1, seed=0)


@pytest.fixture(scope="module")
def iga(demo: dict[str, Path]) -> GroupSource:
    return read_iga_export(demo["iga_export"])


def report_of(sb: RunningSandbox, iga: GroupSource) -> GroupGapReport:
    return group_gap(platform_groups(fetch_inventory(cloud_profile(sb), progress=False)),
                     iga=iga, secret_server=secret_server_groups(
                         fetch_inventory(onprem_profile(sb), progress=False)))


def codes(report: GroupGapReport) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in report.findings:
        out.setdefault(f.code, set()).add(f.subject)
    return out


def test_plan_apply_report_again(demo: dict[str, Path], iga: GroupSource) -> None:
    with running(demo["tenant"]) as sb:
        before = report_of(sb, iga)
        plan = plan_remediation(before)
        found = codes(before)
        assert {op.subject for op in plan.operations} == (
            found["GROUP_NOT_ON_PLATFORM"] | found["GROUP_MEMBERSHIP_DIFFERS"])
        assert [op.method for op in plan.operations] == ["POST", "PATCH"]
        assert all("meta" not in op.body for op in plan.operations)
        assert plan.skipped == []
        frame = plan.as_frame()
        assert list(frame.columns) == ["step", "method", "path", "summary", "reason"]
        assert "Sync Now" in str(plan)

        dry = apply_plan(plan, cloud_profile(sb))  # apply=False: nothing is sent
        assert not dry.applied and dry.done == [] and dry.not_done == plan.operations
        assert set(dry.as_frame()["status"]) == {"planned"}
        assert pairs_of(report_of(sb, iga)) == pairs_of(before)

        done = apply_plan(plan, cloud_profile(sb), apply=True)
        assert done.ok and done.done == plan.operations and done.not_done == []
        created = next(iter(found["GROUP_NOT_ON_PLATFORM"]))
        assert created in done.created

        after = report_of(sb, iga)
        left = codes(after)
        assert not CLOSED_BY_SCIM & set(left)
        # A group made through the cloud connector is a Platform group not yet in Secret
        # Server: the timed sync brings it within the interval (one day here).
        assert left["GROUP_SYNC_PENDING"] == found["GROUP_SYNC_PENDING"] | {created}
        assert left["GROUP_NOT_IN_SECRET_SERVER"] == found["GROUP_NOT_IN_SECRET_SERVER"]
        for code in ("GROUP_NOT_IN_IGA", "GROUP_NAME_MISMATCH"):  # report only
            assert left[code] == found[code]
        again = plan_remediation(after)
        assert again.empty and "No SCIM operations" in str(again)
        second = apply_plan(again, cloud_profile(sb), apply=True)
        assert second.applied and second.done == [] and second.ok

        httpx.post(sb.url + "/_sandbox/sync-groups").raise_for_status()  # "Sync Now"
        assert not {"GROUP_NOT_IN_SECRET_SERVER", "GROUP_SYNC_PENDING"} & set(
            codes(report_of(sb, iga)))


def pairs_of(report: GroupGapReport) -> set[tuple[str, str]]:
    return {(f.code, f.subject) for f in report.findings}


@pytest.fixture(scope="module")
def plan(demo: dict[str, Path], iga: GroupSource) -> RemediationPlan:
    with running(demo["tenant"]) as sb:
        return plan_remediation(report_of(sb, iga))


def test_a_refusal_stops_the_run_and_says_what_was_done(demo: dict[str, Path],
                                                        plan: RemediationPlan) -> None:
    patch = plan.operations[1]
    added = patch.body["Operations"][0]["value"][0]["value"]
    with running(demo["tenant"]) as sb:
        scim = Flavors(sb)
        try:  # the user the PATCH adds leaves between planning and applying
            scim.cloud.delete(f"/Users/{added}").raise_for_status()
        finally:
            scim.close()
        result = apply_plan(plan, cloud_profile(sb), apply=True)
    assert not result.ok
    assert result.done == plan.operations[:1] and result.failed == patch
    assert result.not_done == plan.operations[2:]
    assert added in (result.error or "")
    statuses = list(result.as_frame()["status"])
    assert statuses == ["done", "refused", *["not done"] * len(plan.operations[2:])]
    assert "stopped at PATCH" in str(result)
    assert str(result).startswith("1 operation(s) done. Refused")


def test_a_service_user_without_the_scim_role_is_refused_at_once(
        plan: RemediationPlan) -> None:
    data = demodata.generate(1, 0)
    data["service_account"]["has_scim_role"] = False
    with running(parse_tenant(data)) as sb:
        result = apply_plan(plan, cloud_profile(sb), apply=True)
        assert sb.tenant.groups.keys() == {g["id"] for g in data["groups"]}
    assert result.done == [] and result.failed == plan.operations[0]
    assert result.not_done == plan.operations[1:]
    assert "403" in (result.error or "") or "access" in (result.error or "").lower()


def test_apply_needs_the_cloud_connector(plan: RemediationPlan) -> None:
    with running(parse_tenant(demodata.generate(1, 0))) as sb, \
            pytest.raises(ConfigError, match="on-prem profile"):
        apply_plan(plan, onprem_profile(sb), apply=True)


def test_plan_leaves_alone_what_it_cannot_close_safely() -> None:
    import pandas as pd

    def src(system: str, groups: list[tuple[str, str]], members: list[tuple[str, str, str]]
            ) -> GroupSource:
        users = pd.DataFrame([("u1", "alice@acme.com", True)],
                             columns=["id", "user_name", "active"])
        return GroupSource(system, "t",  # type: ignore[arg-type]
                           pd.DataFrame([(k, n, None) for k, n in groups],
                                        columns=["key", "name", "external_id"]),
                           pd.DataFrame(members, columns=["key", "user_name", "user_id"]),
                           users=users)

    platform = src("Platform", [("g1", "DBA")], [])
    iga = src("IGA", [("DBA", "DBA"), ("dba2", "ACME\\DBA"), ("Ops", "Ops"), ("New", "New")],
              [("DBA", "alice@acme.com", ""), ("DBA", "zed@acme.com", ""),
               ("New", "zed@acme.com", "")])
    ss = src("Secret Server", [("1", "DBA"), ("2", "Ops")], [])
    plan = plan_remediation(group_gap(platform, iga=iga, secret_server=ss))
    assert [(op.method, op.subject) for op in plan.operations] == [
        ("POST", "New"), ("PATCH", "DBA")]
    assert plan.operations[0].body["members"] == []
    assert plan.operations[1].body["Operations"] == [
        {"op": "add", "path": "members", "value": [{"value": "u1"}]}]
    text = "\n".join(plan.skipped)
    assert "Ops: not created, since Secret Server already has a group 'Ops'" in text
    assert "no Platform user zed@acme.com" in text
    assert "ACME\\DBA: not created, since its name clashes with Platform group 'DBA'" in text


def hand_source(system: str, groups: list[tuple[str, str]],
                members: list[tuple[str, str, str]], users: list[tuple[str, str]]
                ) -> GroupSource:
    """A small source by hand: groups (key, name), members (key, userName, user id), users
    (id, userName)."""
    return GroupSource(system, "t",  # type: ignore[arg-type]
                       pd.DataFrame([(k, n, None) for k, n in groups],
                                    columns=["key", "name", "external_id"]),
                       pd.DataFrame(members, columns=["key", "user_name", "user_id"]),
                       users=pd.DataFrame([(i, n, True) for i, n in users],
                                          columns=["id", "user_name", "active"]))


def test_a_member_missing_from_the_user_listing_is_never_removed() -> None:
    users = [("u1", "alice@acme.com"), ("u2", "bob@acme.com")]
    # u-lost is a member whose user the listing lacks: the source names it by its id.
    platform = hand_source("Platform", [("g1", "DBA")], [
        ("g1", "bob@acme.com", "u2"), ("g1", "u-lost", "u-lost")], users)
    iga = hand_source("IGA", [("DBA", "DBA")], [("DBA", "alice@acme.com", "")], [])
    plan = plan_remediation(group_gap(platform, iga=iga))
    [patch] = plan.operations
    assert patch.body["Operations"] == [
        {"op": "add", "path": "members", "value": [{"value": "u1"}]},
        {"op": "remove", "path": 'members[value eq "u2"]'}]
    [skipped] = plan.skipped
    assert "u-lost of Platform group 'DBA' not removed" in skipped
    assert plan.incomplete is None


def test_platform_groups_sharing_a_name_are_patched_by_id() -> None:
    users = [("u1", "alice@acme.com"), ("u2", "bob@acme.com")]
    platform = hand_source("Platform", [("g1", "DBA"), ("g2", "DBA")], [
        ("g1", "alice@acme.com", "u1"), ("g2", "bob@acme.com", "u2")], users)
    iga = hand_source("IGA", [("k1", "DBA"), ("k2", "DBA")], [("k2", "alice@acme.com", "")],
                      [])
    report = group_gap(platform, iga=iga)
    assert set(report.membership["platform_id"]) == {"g1", "g2"}
    plan = plan_remediation(report)
    assert {op.path: op.body["Operations"] for op in plan.operations} == {
        "Groups/g1": [{"op": "remove", "path": 'members[value eq "u1"]'}],
        "Groups/g2": [{"op": "add", "path": "members", "value": [{"value": "u1"}]},
                      {"op": "remove", "path": 'members[value eq "u2"]'}]}


def groups_of(sb: RunningSandbox) -> dict[str, tuple[str, list[str]]]:
    return {gid: (g["displayName"], sorted(g["members"])) for gid, g in sb.tenant.groups.items()}


def test_a_plan_from_an_incomplete_platform_listing_is_not_applied(
        demo: dict[str, Path], iga: GroupSource) -> None:
    with running(demo["tenant"]) as sb:
        inv = fetch_inventory(cloud_profile(sb), progress=False)
        inv.meta.update(complete=False, notes=["Users: page 3 could not be read"])
        plan = plan_remediation(group_gap(platform_groups(inv), iga=iga))
        assert not plan.empty and "Users: page 3 could not be read" in (plan.incomplete or "")
        assert "Not to be applied" in str(plan)
        before = groups_of(sb)
        assert not apply_plan(plan, cloud_profile(sb)).applied  # a dry run is still fine
        with pytest.raises(ConfigError, match="the plan is not applied") as exc:
            apply_plan(plan, cloud_profile(sb), apply=True)
        assert "complete" in (exc.value.remediation or "")
        assert groups_of(sb) == before


def test_applying_the_same_plan_twice_changes_nothing_the_second_time(
        demo: dict[str, Path], plan: RemediationPlan) -> None:
    with running(demo["tenant"]) as sb:
        first = apply_plan(plan, cloud_profile(sb), apply=True)
        assert first.ok and first.created and first.already == []
        after_first = groups_of(sb)
        second = apply_plan(plan, cloud_profile(sb), apply=True)
        assert groups_of(sb) == after_first  # no group made twice, no member added twice
    assert second.ok and second.created == {} and second.done == plan.operations
    assert second.already == [op for op in plan.operations if op.method == "POST"]
    assert list(second.as_frame()["status"]) == ["already done", "done"]
    assert "1 found done already, so not sent again" in str(second)


# --------------------------------------------------------------------------- guard rails
def test_removing_the_service_account_needs_an_opt_in_and_shows_its_cost(
        small_tenant: TenantFile) -> None:
    """The IGA lists 'Vault Admins' without the service account, which owns /IT/Databases/Prod
    only through it: without the opt-in the removal is left out and its cost said; with it,
    the removal is planned with the same cost, and applying it does cost that folder."""
    with running(parse_tenant(service_account_gap(small_tenant), "sa-gap")) as sb:
        prof = cloud_profile(sb, iga_export=sb.url + "/_sandbox/iga-export.csv")
        held = run_group_gap(prof, apply=True, progress=False)
        [change] = held.plan.service_account
        assert not change.planned and change.members == ("scim.integration@acme.com",)
        assert change.folders == ("/IT/Databases/Prod",) and change.secrets == ("prod-db-sa",)
        patch = next(op for op in held.plan.operations if op.subject == "Vault Admins")
        assert patch.body["Operations"] == [
            {"op": "add", "path": "members", "value": [{"value": "u1"}]}]
        [left_out] = [s for s in held.plan.skipped if "service account" in s]
        assert "/IT/Databases/Prod" in left_out and "allow_service_account_changes" in left_out
        assert sorted(sb.tenant.groups["g2"]["members"]) == ["u-scim", "u1"]  # kept, Alice added

        allowed = run_group_gap(prof, apply=True, allow_service_account_changes=True,
                                progress=False)
        [change] = allowed.plan.service_account
        assert change.planned and change.folders == ("/IT/Databases/Prod",)
        [patch] = allowed.plan.operations
        assert patch.body["Operations"] == [{"op": "remove", "path": 'members[value eq "u-scim"]'}]
        assert "removes the service account" in patch.summary
        assert "/IT/Databases/Prod" in patch.summary and "prod-db-sa" in patch.summary
        assert "/IT/Databases/Prod" in allowed.plan_markdown()
        after = fetch_inventory(prof, progress=False)
        seen = set(after.containers["path"])
        # Not named, the account is the one user who owns every folder the cloud view shows.
        inferred = platform_groups(after).service_account
        assert inferred is not None and inferred.user_id == "u-scim"
    assert "/IT/Databases/Prod" not in seen and "/IT/Databases" in seen  # the cost, as said


def test_an_unidentified_service_account_holds_back_every_removal() -> None:
    users = [("u1", "alice@acme.com"), ("u2", "bob@acme.com")]
    platform = replace(hand_source("Platform", [("g1", "DBA")], [("g1", "bob@acme.com", "u2")],
                                   users),
                       service_account=ServiceAccount("", None, "two users own every folder",
                                                      {"f1": "/IT"}))
    iga = hand_source("IGA", [("DBA", "DBA")], [("DBA", "alice@acme.com", "")], [])
    held = plan_remediation(group_gap(platform, iga=iga))
    [patch] = held.operations
    assert patch.body["Operations"] == [
        {"op": "add", "path": "members", "value": [{"value": "u1"}]}]  # bob stays
    [change] = held.service_account
    assert change.members == ("bob@acme.com",) and not change.planned
    assert "could not be identified (two users own every folder)" in held.skipped[0]
    allowed = plan_remediation(group_gap(platform, iga=iga), allow_service_account_changes=True)
    assert allowed.operations[0].body["Operations"][1] == {
        "op": "remove", "path": 'members[value eq "u2"]'}


def test_a_plan_larger_than_max_operations_is_applied_only_when_confirmed(
        small_tenant: TenantFile) -> None:
    with running(parse_tenant(service_account_gap(small_tenant), "large")) as sb:
        prof = cloud_profile(sb, iga_export=sb.url + "/_sandbox/iga-export.csv")
        platform = platform_groups(fetch_inventory(prof, progress=False),
                                   "scim.integration@acme.com")
        plan = plan_remediation(group_gap(platform, iga=read_iga_export(prof.iga_export or "")))
        assert len(plan.operations) == 2
        before = groups_of(sb)
        dry = apply_plan(plan, prof, max_operations=1)  # a dry run shows the plan as ever
        assert dry.held is None and list(dry.as_frame()["status"]) == ["planned"] * 2
        held = apply_plan(plan, prof, apply=True, max_operations=1)
        assert not held.applied and held.done == [] and held.not_done == plan.operations
        assert str(held).startswith("Not applied: the plan has 2 operations, more than "
                                    "max_operations = 1") and "confirm_large_plan" in str(held)
        assert groups_of(sb) == before  # nothing was sent
        done = apply_plan(plan, prof, apply=True, max_operations=1, confirm_large_plan=True)
        assert done.applied and done.done == plan.operations and groups_of(sb) != before
        with pytest.raises(ConfigError, match="max_operations must be"):
            apply_plan(plan, prof, apply=True, max_operations=0)


def test_a_server_that_ignores_filter_does_not_make_a_create_look_done(
        small_tenant: TenantFile) -> None:
    """Before each POST the group is looked up by name; a server answering every group to that
    look-up must not make the create look done already."""
    with running(parse_tenant(service_account_gap(small_tenant), "lax")) as sb:
        prof = cloud_profile(sb, iga_export=sb.url + "/_sandbox/iga-export.csv")
        plan = plan_remediation(group_gap(platform_groups(fetch_inventory(prof, progress=False)),
                                          iga=read_iga_export(prof.iga_export or "")))
        with serve_asgi(ScimProxy(sb.url, ignore_filter=True)) as url:
            result = apply_plan(plan, replace(prof, base_url=url + PREFIX["cloud"]), apply=True)
        assert result.ok and result.already == [] and "New Team" in result.created
        assert "New Team" in {name for name, _ in groups_of(sb).values()}


def test_a_platform_that_cannot_be_read_again_after_applying_keeps_the_applied_run(
        small_tenant: TenantFile) -> None:
    """The operations were sent, then the Platform stops answering reads: the run still says
    what was done, that the findings are from before, and what to do."""
    with running(parse_tenant(service_account_gap(small_tenant), "down-after")) as sb:
        proxy = ScimProxy(sb.url, fail_reads_after_write=500)
        with serve_asgi(proxy) as url:
            prof = cloud_profile(sb, base_url=url + PREFIX["cloud"],
                                 iga_export=sb.url + "/_sandbox/iga-export.csv",
                                 limits=Limits(max_attempts=2, retry_budget=2))
            run = run_group_gap(prof, apply=True, progress=False)
        assert run.applied is not None and run.applied.done and run.after is None
        assert run.refetch_failed and proxy.failed >= 1
        [note] = [n for n in run.notes if "could not be read again after applying" in n]
        assert "run the report again" in note
        assert "findings above are from before" in run.apply_markdown()
        assert "New Team" in {name for name, _ in groups_of(sb).values()}  # it was sent
