"""Folder roles and secret roles, and the PrivilegedDataPermissions resource, over real HTTP.

The small tenant with one change: the service account's permission on /IT keeps folder role
Owner but gives secret role View. /IT and its inheriting /IT/Databases stay visible on the cloud,
their secrets do not; /IT/Databases/Prod (Owner through Vault Admins, secret role derived:
Owner) keeps its secret.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opskit.sandbox import schemas as urn
from opskit.sandbox.serve import running
from opskit.sandbox.tenantfile import TenantFile, parse_tenant

from .conftest import Flavors
from .test_sandbox_rules import PATCH, ids, scim_error


@pytest.fixture
def roles(small_tenant: TenantFile) -> Iterator[Flavors]:
    data = small_tenant.model_dump(exclude_none=True)
    data["permissions"][0]["secret_role"] = "View"  # f1, u-scim, [Owner]
    data["onprem"]["rights_mapping"] = {"privileged_data": {"Steward": "Owner"}}
    with running(parse_tenant(data, "secret-roles")) as sb:
        flavors = Flavors(sb)
        yield flavors
        flavors.close()


def grants(response_json: dict) -> list[tuple[str, str, list[str]]]:
    return [(p["privilegedData"]["value"], p.get("user", p.get("group"))["value"], p["rights"])
            for p in response_json["Resources"]]


def test_folder_owner_with_secret_role_view_sees_folders_but_not_their_secrets(
        roles: Flavors) -> None:
    assert ids(roles.cloud.get("/Containers")) == ["f1", "f2", "f3"]
    assert ids(roles.cloud.get("/PrivilegedData")) == ["s1"]
    assert ids(roles.onprem.get("/PrivilegedData")) == ["s1", "s2", "s3", "s4", "s5"]
    assert roles.cloud.get("/Containers/f2").json()["privilegedData"] == []
    assert [d["value"] for d in roles.onprem.get("/Containers/f2").json()["privilegedData"]] \
        == ["s2"]
    # A container update touching s2 needs Owner on the secret: the folder role is not enough.
    body = {**PATCH, "Operations": [{"op": "add", "path": "privilegedData",
                                     "value": [{"value": "s2"}]}]}
    assert "Access Denied" in scim_error(roles.cloud.patch("/Containers/f1", json=body),
                                         403)["detail"]


def test_privileged_data_permissions_are_those_in_effect_on_each_secret(roles: Flavors) -> None:
    onprem = roles.onprem.get("/PrivilegedDataPermissions").json()
    assert onprem["totalResults"] == 7
    by_secret: dict[str, list[tuple[str, list[str]]]] = {}
    for secret, principal, rights in grants(onprem):
        by_secret.setdefault(secret, []).append((principal, rights))
    # s2 inherits /IT's permissions, each with its secret role: View as set, Edit derived.
    assert by_secret["s2"] == [("u-scim", ["View"]), ("g1", ["Edit"])]
    assert by_secret["s4"] == [("u1", ["Owner"])]  # its own permissions
    assert by_secret["s5"] == [("u-scim", ["View"])]  # [View, Owner]: the first right counts
    first = onprem["Resources"][0]
    assert first["schemas"] == [urn.PRIVILEGED_DATA_PERMISSION]
    assert first["meta"]["resourceType"] == "PrivilegedDataPermission"
    assert first["privilegedData"]["$ref"].endswith("/SCIMConnector/v2/privilegeddata/s1")
    assert first["privilegedData"]["name"] == "prod-db-sa"
    # The shorthand reads as privilegedData.value, as `container eq` does.
    short = roles.onprem.get("/PrivilegedDataPermissions",
                             params={"filter": 'privilegedData eq "s2"'}).json()
    full = roles.onprem.get("/PrivilegedDataPermissions",
                            params={"filter": 'privilegedData.value eq "s2"'}).json()
    assert short == full and short["totalResults"] == 2
    # The cloud lists them only for the secrets the service account owns; others are a 403.
    cloud = roles.cloud.get("/PrivilegedDataPermissions").json()
    assert {s for s, _, _ in grants(cloud)} == {"s1"}
    hidden = next(p["id"] for p in onprem["Resources"] if p["privilegedData"]["value"] == "s2")
    assert roles.onprem.get(f"/PrivilegedDataPermissions/{hidden}").status_code == 200
    scim_error(roles.cloud.get(f"/PrivilegedDataPermissions/{hidden}"), 403)
    scim_error(roles.cloud.get("/PrivilegedDataPermissions/no-such-id"), 404)


def test_onprem_secret_permission_writes(roles: Flavors) -> None:
    base = {"schemas": [urn.PRIVILEGED_DATA_PERMISSION], "privilegedData": {"value": "s2"}}
    inherited = ids(roles.onprem.get("/PrivilegedDataPermissions",
                                     params={"filter": 'privilegedData eq "s2"'}))
    scim_error(roles.onprem.put(f"/PrivilegedDataPermissions/{inherited[0]}",
                                json={**base, "user": {"value": "u-scim"},
                                      "rights": ["Owner"]}), 400, "mutability")
    # A grant on an inheriting secret breaks its inheritance: the folder's permissions are
    # copied with their secret roles. A value the connector does not map becomes View.
    r = roles.onprem.post("/PrivilegedDataPermissions",
                          json={**base, "user": {"value": "u2"}, "rights": ["Admin"]})
    assert r.status_code == 201, r.text
    assert r.json()["rights"] == ["View"]
    now = roles.onprem.get("/PrivilegedDataPermissions",
                           params={"filter": 'privilegedData eq "s2"'}).json()
    assert [(p, r) for _, p, r in grants(now)] == [("u-scim", ["View"]), ("g1", ["Edit"]),
                                                   ("u2", ["View"])]
    scim_error(roles.onprem.post("/PrivilegedDataPermissions",
                                 json={**base, "user": {"value": "u2"}, "rights": ["View"]}),
               409, "uniqueness")
    # Owner for the service account on the secret: the cloud now returns it.
    sa = next(p["id"] for p in now["Resources"] if p.get("user", {}).get("value") == "u-scim")
    r = roles.onprem.put(f"/PrivilegedDataPermissions/{sa}",  # through the endpoint's mapping
                         json={**base, "user": {"value": "u-scim"}, "rights": ["Steward"]})
    assert r.status_code == 200 and r.json()["rights"] == ["Owner"]
    assert ids(roles.cloud.get("/PrivilegedData")) == ["s1", "s2"]
    assert roles.onprem.delete(f"/PrivilegedDataPermissions/{sa}").status_code == 204
    assert ids(roles.cloud.get("/PrivilegedData")) == ["s1"]


def test_the_cloud_refuses_secret_permission_writes(roles: Flavors) -> None:
    own = ids(roles.cloud.get("/PrivilegedDataPermissions"))[0]
    body = {"schemas": [urn.PRIVILEGED_DATA_PERMISSION], "privilegedData": {"value": "s1"},
            "user": {"value": "u2"}, "rights": ["View"]}
    for response in (roles.cloud.post("/PrivilegedDataPermissions", json=body),
                     roles.cloud.put(f"/PrivilegedDataPermissions/{own}", json=body),
                     roles.cloud.delete(f"/PrivilegedDataPermissions/{own}")):
        assert "privileged-data permissions" in scim_error(response, 405)["detail"]
        assert response.headers["Allow"] == "GET"
    assert ids(roles.cloud.get("/PrivilegedDataPermissions"))[0] == own
    assert len(ids(roles.onprem.get("/PrivilegedDataPermissions"))) == 7  # nothing changed
