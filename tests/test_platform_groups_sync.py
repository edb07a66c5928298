"""Platform Groups Sync as Delinea documents it (issue 14, item 8): the practice tenant's timer
and tenant age over real HTTP, the group-gap findings that say which case applies, and the
bounded wait for the sync after applying the plan."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
import yaml

from opskit.sandbox import schemas as urn
from opskit.sandbox.serve import running
from opskit.sandbox.tenantfile import TenantFileError, parse_tenant

from .conftest import SMALL, Flavors

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
