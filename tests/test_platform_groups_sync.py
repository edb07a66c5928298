"""Platform Groups Sync as Delinea documents it (issue 14, item 8): the practice tenant's timer
and tenant age over real HTTP, the group-gap findings that say which case applies, and the
bounded wait for the sync after applying the plan."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from opskit.config import PlatformGroupsSync, PracticeProfile, connect, parse_profile
from opskit.errors import ConfigError
from opskit.findings import Finding
from opskit.groupgap import (
    GroupGapReport,
    GroupSource,
    group_gap,
    plan_remediation,
    platform_groups,
    secret_server_groups,
)
from opskit.inventory import fetch_inventory
from opskit.reports.group_gap import run_group_gap
from opskit.sandbox import schemas as urn
from opskit.sandbox.serve import running
from opskit.sandbox.tenantfile import TenantFileError, parse_tenant

from .conftest import SMALL, Flavors
from .servers import ScimProxy, cloud_profile, onprem_profile, serve_asgi

LONG_AGO = "2024-01-08T09:00:00Z"  # long before any test's tenant is served


def small_data(**sync: Any) -> dict[str, Any]:
    """The small tenant with its Platform Groups Sync settings; its unsynced Platform group
    'Cloud Only' (g4) was made long ago, so it missed its timed sync."""
    data = yaml.safe_load(SMALL.read_text())
    data["platform_groups_sync"] = sync
    data["groups"][3]["created"] = LONG_AGO
    return data


@pytest.fixture
def serve() -> Iterator[Callable[[dict[str, Any]], Flavors]]:
    """Serve tenant data for the test; one client per flavor."""
    with ExitStack() as stack:

        def start(data: dict[str, Any]) -> Flavors:
            flavors = Flavors(stack.enter_context(running(parse_tenant(data))))
            stack.callback(flavors.close)
            return flavors

        yield start


def onprem_groups(scim: Flavors) -> set[str]:
    """Secret Server's groups, as the on-prem connector lists them (a cached page)."""
    response = scim.onprem.get("/Groups")
    assert response.status_code == 200, response.text
    return {g["displayName"] for g in response.json()["Resources"]}


def until(condition: Callable[[], bool], within: float = 10.0) -> bool:
    """Poll until condition() holds; False if it still does not after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def new_group(scim: Flavors, name: str) -> dict[str, Any]:
    created = scim.cloud.post("/Groups", json={"schemas": [urn.GROUP], "displayName": name})
    assert created.status_code == 201, created.text
    return created.json()


def grant(scim: Flavors, gid: str) -> httpx.Response:
    return scim.cloud.post("/ContainerPermissions", json={
        "schemas": [urn.CONTAINER_PERMISSION], "container": {"value": "f1"},
        "group": {"value": gid}, "rights": ["View"]})


# --------------------------------------------------------------------------- the practice tenant
def test_an_older_tenant_keeps_a_new_group_out_of_secret_server_until_a_sync(
        serve: Callable[[dict[str, Any]], Flavors]) -> None:
    scim = serve(small_data())  # the default timer: once a day
    made = new_group(scim, "New Team")
    assert "New Team" not in onprem_groups(scim)
    assert grant(scim, made["id"]).status_code == 400  # an assumption: see docs/connectors.md
    assert httpx.post(scim.sb.url + "/_sandbox/sync-groups").json() == {"synced": 2}
    assert {"New Team", "Cloud Only"} <= onprem_groups(scim)
    assert grant(scim, made["id"]).status_code == 201
    # The sync changes Secret Server, not the Platform group: its meta stays as saved.
    assert scim.cloud.get(f"/Groups/{made['id']}").json()["meta"] == made["meta"]


def test_the_timer_brings_saved_groups_and_leaves_a_missed_one_for_sync_now(
        serve: Callable[[dict[str, Any]], Flavors]) -> None:
    scim = serve(small_data(interval_seconds=0.2))
    made = new_group(scim, "New Team")
    assert until(lambda: "New Team" in onprem_groups(scim))
    assert grant(scim, made["id"]).status_code == 201
    # A run has passed since 'Cloud Only' was served, and it missed it: it waits for Sync Now.
    assert "Cloud Only" not in onprem_groups(scim)
    assert scim.cloud.get("/Groups/g4").json()["meta"]["created"] == "2024-01-08T09:00:00.000Z"
    # FAQ: a group saved on the Platform syncs by itself; a PATCH saves it.
    patched = scim.cloud.patch("/Groups/g4", json={"schemas": [urn.PATCH_OP], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": "u2"}]}]})
    assert patched.status_code == 200, patched.text
    assert until(lambda: "Cloud Only" in onprem_groups(scim))


def test_a_new_platform_tenant_needs_no_sync(
        serve: Callable[[dict[str, Any]], Flavors]) -> None:
    data = small_data(platform_groups_searched_directly=True)
    with pytest.raises(TenantFileError, match=r"groups\[3\]\.secret_server: Secret Server "
                                              "searches Platform groups directly"):
        parse_tenant(data)
    del data["groups"][3]["secret_server"]  # every Platform group is in Secret Server
    scim = serve(data)
    assert "Cloud Only" in onprem_groups(scim)
    made = new_group(scim, "New Team")
    assert "New Team" in onprem_groups(scim)  # at once: no timer, no Sync Now
    assert grant(scim, made["id"]).status_code == 201
    assert httpx.post(scim.sb.url + "/_sandbox/sync-groups").json() == {"synced": 0}


def test_sync_settings_are_checked_when_the_file_is_loaded() -> None:
    for bad, where in (({"interval_seconds": 0}, "platform_groups_sync.interval_seconds"),
                       ({"every": 3600}, "platform_groups_sync.every")):
        with pytest.raises(TenantFileError, match=where):
            parse_tenant(small_data(**bad))
    data = small_data()
    data["groups"][3]["created"] = "2024-01-08T09:00:00"  # no time zone: which 09:00?
    with pytest.raises(TenantFileError, match=r"groups\[3\]\.created"):
        parse_tenant(data)


# --------------------------------------------------------------------------- which case applies
@pytest.fixture(scope="module")
def sides() -> Iterator[tuple[GroupSource, GroupSource]]:
    """The small tenant's Platform and Secret Server sides, with one group just made through
    the cloud connector ('New Team') beside one made long ago that missed its sync ('Cloud
    Only') and whose members the IGA has just changed."""
    with running(parse_tenant(small_data())) as sb:
        scim = Flavors(sb)
        new_group(scim, "New Team")
        patched = scim.cloud.patch("/Groups/g4", json={"schemas": [urn.PATCH_OP], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": "u2"}]}]})
        assert patched.status_code == 200, patched.text
        assert patched.json()["meta"]["lastModified"] > "2025"  # saved just now
        scim.close()
        yield (platform_groups(fetch_inventory(cloud_profile(sb), progress=False)),
               secret_server_groups(fetch_inventory(onprem_profile(sb), progress=False)))


def missing(report: GroupGapReport) -> dict[str, Finding]:
    return {f.subject: f for f in report.findings if f.subject in ("New Team", "Cloud Only")}


def test_a_group_created_within_the_interval_is_pending_an_older_one_needs_a_manual_sync(
        sides: tuple[GroupSource, GroupSource]) -> None:
    platform, ss = sides
    daily = PlatformGroupsSync(24, given=True)
    found = missing(group_gap(platform, secret_server=ss, sync=daily))
    new, old = found["New Team"], found["Cloud Only"]
    assert (new.code, new.severity) == ("GROUP_SYNC_PENDING", "low")  # no false alarm
    assert "within the sync interval (every 1 d)" in new.message
    assert "if it is among the groups enabled for sync" in new.message
    assert "still missing then, select it for sync and click Sync Now" in new.message
    assert "if it is among the groups enabled for sync" in new.remediation
    # Saved just now by a membership change, but created long ago: a change does not restart
    # the interval, or an actively governed group would stay pending for ever.
    assert (old.code, old.severity) == ("GROUP_NOT_IN_SECRET_SERVER", "high")
    assert "2024-01-08 09:00:00 UTC" in old.message and "longer ago than" in old.message
    for step in ("select each group named here", "Save", "Sync Now"):
        assert step in old.remediation
    # A day later the timer has run: a group still missing then needs the manual sync too.
    later = missing(group_gap(platform, secret_server=ss, sync=daily,
                              now=datetime.now(UTC) + timedelta(days=1, minutes=1)))
    assert {f.code for f in later.values()} == {"GROUP_NOT_IN_SECRET_SERVER"}
    # The interval opskit assumes when the profile does not give one is said to be assumed.
    assumed = missing(group_gap(platform, secret_server=ss))["New Team"]
    assert "assumed: give the tenant's own" in assumed.message
    plan = plan_remediation(group_gap(platform, secret_server=ss, sync=daily))
    by_hand = {m.code: m for m in plan.manual}
    assert by_hand["GROUP_NOT_IN_SECRET_SERVER"].subjects == ("Cloud Only",)
    assert by_hand["GROUP_SYNC_PENDING"].subjects == ("New Team",)
    assert "if these groups are among those enabled for sync" in by_hand["GROUP_SYNC_PENDING"].what


def test_a_tenant_that_searches_platform_groups_directly_has_no_sync_to_blame(
        sides: tuple[GroupSource, GroupSource]) -> None:
    platform, ss = sides
    direct = PlatformGroupsSync(platform_groups_searched_directly=True, given=True)
    found = missing(group_gap(platform, secret_server=ss, sync=direct))
    assert {(f.code, f.severity) for f in found.values()} == {
        ("GROUP_NOT_FOUND_BY_SECRET_SERVER", "medium")}
    assert "not a sync matter" in found["New Team"].message
    assert "Sync Now" not in found["New Team"].remediation
    # Without meta times the Platform says nothing of when a group was saved.
    bare = replace(platform, groups=platform.groups.drop(columns="created"))
    unknown = missing(group_gap(bare, secret_server=ss))["New Team"]
    assert unknown.code == "GROUP_NOT_IN_SECRET_SERVER"
    assert "sent no meta.created" in unknown.message


def test_the_profile_says_how_its_groups_sync(tmp_path: Path) -> None:
    base = {"kind": "cloud", "tenant": "acme", "client_id": "svc", "client_secret": "env:X"}
    assert parse_profile("acme", base).platform_groups_sync == PlatformGroupsSync()
    given = parse_profile("acme", {**base, "platform_groups_sync": {
        "interval_hours": 6, "platform_groups_searched_directly": True}})
    assert given.platform_groups_sync == PlatformGroupsSync(6.0, True, given=True)
    for bad, said in (({"interval_hours": 0}, "interval_hours must be a number of hours"),
                      ({"interval_hours": "1d"}, "interval_hours must be a number of hours"),
                      ({"platform_groups_searched_directly": "yes"}, "must be true or false"),
                      ({"every": 6}, "unknown key"), ("daily", "is not a table")):
        with pytest.raises(ConfigError, match=said) as exc:
            parse_profile("acme", {**base, "platform_groups_sync": bad})
        assert "→" in str(exc.value)  # what to do, too
    with connect(PracticeProfile("p", "cloud", data=str(tenant_file(
            tmp_path, small_data(interval_seconds=1800))))) as prof:
        assert prof.platform_groups_sync == PlatformGroupsSync(0.5, False, given=True)


# --------------------------------------------------------------------------- waiting after apply
def tenant_file(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "tenant.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def planned_data(**sync: Any) -> dict[str, Any]:
    """The small tenant with an IGA whose plan creates 'New Team' and saves 'Cloud Only'."""
    data = small_data(**sync)
    data["iga"]["groups"] += [{"name": "New Team", "members": ["bob@acme.com"]},
                              {"name": "Cloud Only",
                               "members": ["alice@acme.com", "bob@acme.com"]}]
    return data


@pytest.fixture
def profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """A practice profile for the small tenant with its sync settings, an IGA that wants one
    group the Platform lacks ('New Team') and one member more in 'Cloud Only', and the
    tenant's on-prem view as its reference: the plan creates one group and saves the other."""

    def write(**sync: Any) -> str:
        path = tenant_file(tmp_path, planned_data(**sync))
        config = tmp_path / "opskit.toml"
        config.write_text(f'[profiles.gs]\nkind = "sandbox"\ndata = "{path}"\n'
                          'reference = "gs-ss"\n\n'
                          f'[profiles.gs-ss]\nkind = "sandbox"\nflavor = "onprem"\n'
                          f'data = "{path}"\n')
        monkeypatch.setenv("OPSKIT_CONFIG", str(config))
        return "gs"

    return write


def test_the_wait_sees_the_sync_land_within_its_bound(profiles: Callable[..., str]) -> None:
    run = run_group_gap(profiles(interval_seconds=0.3), apply=True, wait_for_sync_minutes=0.1,
                        progress=False)
    assert run.applied is not None and len(run.applied.done) == 2  # a POST and a PATCH
    assert run.sync_wait is not None
    assert {w.group: w.synced for w in run.sync_wait} == {"New Team": True, "Cloud Only": True}
    assert all(w.next_step.startswith("none") for w in run.sync_wait)
    # The report after is made from Secret Server read again: nothing is missing there now.
    assert not {"GROUP_NOT_IN_SECRET_SERVER", "GROUP_SYNC_PENDING"} & {
        f.code for f in run.findings}
    assert run.metrics()["sync_wait"] == {"minutes": 0.1, "synced": 2, "still_missing": 0,
                                           "not_checked": 0}
    assert "2 of 2 group(s) reached Secret Server" in run.headline()


def test_the_wait_ends_at_its_bound_and_says_what_to_do(profiles: Callable[..., str]) -> None:
    run = run_group_gap(profiles(interval_seconds=3600), apply=True,
                        wait_for_sync_minutes=0.01, progress=False)
    assert run.sync_wait is not None
    assert {w.group for w in run.sync_wait if not w.synced} == {"New Team", "Cloud Only"}
    for w in run.sync_wait:
        assert w.waited == pytest.approx(0.6) and w.outcome == "still missing after 0.6 s"
        assert "Sync Now" in w.next_step
    waits = {w.group: w for w in run.sync_wait}
    assert "wait for the timed sync" in waits["New Team"].next_step
    # The PATCH saved 'Cloud Only', created long ago: still a manual sync, not pending.
    assert "wait for the timed sync" not in waits["Cloud Only"].next_step
    assert {(f.code, f.subject) for f in run.findings if f.code.startswith("GROUP_")
            and f.subject in waits} >= {("GROUP_SYNC_PENDING", "New Team"),
                                        ("GROUP_NOT_IN_SECRET_SERVER", "Cloud Only")}
    assert list(run.sync_wait_frame().columns) == ["group", "outcome", "next step"]
    assert run.metrics()["sync_wait"] == {"minutes": 0.01, "synced": 0, "still_missing": 2,
                                           "not_checked": 0}
    with pytest.raises(ConfigError, match="wait_for_sync_minutes must be a number"):
        run_group_gap("gs", wait_for_sync_minutes=-1, progress=False)


def test_a_wait_that_cannot_ask_secret_server_keeps_the_apply_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Secret Server's view answers the inventory, then 503s every lookup: the wait stops
    after one lookup's few attempts (the profile allows ten) with a note and each group's
    outcome, and the applied plan is still returned."""
    with running(parse_tenant(planned_data(interval_seconds=3600))) as sb, \
            serve_asgi(proxy := ScimProxy(sb.url, fail_filters=503)) as proxy_url:
        monkeypatch.setenv("OPSKIT_SANDBOX_URL", sb.url)
        monkeypatch.setenv("GS_SS_TOKEN", sb.tenant.file.onprem.token)
        config = tmp_path / "opskit.toml"
        config.write_text(f'[profiles.gs]\nkind = "sandbox"\nreference = "gs-ss"\n'
                          f'data = "{tenant_file(tmp_path, planned_data())}"\n\n'
                          f'[profiles.gs-ss]\nkind = "onprem"\n'
                          f'base_url = "{proxy_url + sb.onprem_url.removeprefix(sb.url)}"\n'
                          'token = "env:GS_SS_TOKEN"\n')
        monkeypatch.setenv("OPSKIT_CONFIG", str(config))
        run = run_group_gap("gs", apply=True, wait_for_sync_minutes=10, progress=False)
    assert run.applied is not None and len(run.applied.done) == 2
    assert run.after is not None and run.sync_wait is not None
    assert 1 <= proxy.failed <= 3  # one lookup, first contact's attempts; then no more
    for w in run.sync_wait:
        assert not w.synced and w.outcome.startswith("could not check: ")
        assert "HTTP 503" in w.outcome and "Sync Now" in w.next_step
    assert any("the wait for Platform Groups Sync stopped" in n and "The plan was applied" in n
               for n in run.notes)
    assert run.metrics()["sync_wait"]["not_checked"] == 2
