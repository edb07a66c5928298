"""The practice tenant's CRUD and discovery behaviour that a conformance checker relies on.

Each test pins a server fix that scim2-tester's `check_server` found (see test_conformance.py):
none of them is a Delinea rule, and none weakens one.
"""

from __future__ import annotations

import pytest

from opskit.sandbox import schemas as urn

from .conftest import Flavors
from .test_sandbox_rules import PATCH, ids, schema, scim_error


def flavors(scim: Flavors) -> list:
    return [scim.cloud, scim.onprem]


# --- discovery ---------------------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas",
                                      "/Schemas/" + urn.USER, "/ResourceTypes/User"])
def test_discovery_endpoints_are_read_only_405(scim: Flavors, endpoint: str) -> None:
    # RFC 7644 §4: the endpoint exists and only GET is allowed, so 405, not 404.
    for client in flavors(scim):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            r = client.request(method, endpoint, json={})
            scim_error(r, 405)
            assert r.headers["allow"] == "GET"
        assert client.get(endpoint).status_code == 200


def test_search_across_resource_types_is_not_implemented(scim: Flavors) -> None:
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName eq "bob@acme.com"'}
    for client in flavors(scim):
        assert "POST /Users/.search" in scim_error(client.post("/.search", json=body),
                                                   501)["detail"]
        assert ids(client.post("/Users/.search", json=body)) == ["u2"]
    scim_error(scim.onprem.get("/.search"), 404)


# --- users: the schema says what is kept -------------------------------------------------------
def test_user_schema_lists_only_the_attributes_kept(scim: Flavors) -> None:
    kept = ["userName", "displayName", "active", "password", "emails", "groups"]
    for client, more in ((scim.cloud, []), (scim.onprem, ["roles"])):
        attrs = schema(client, urn.USER)
        assert list(attrs) == kept + more  # on-prem keeps roles (test_sandbox_rules)
        assert attrs["password"]["returned"] == "never"
        assert attrs["groups"]["mutability"] == "readOnly"


def test_other_core_user_attributes_are_accepted_and_ignored(scim: Flavors) -> None:
    # Okta and Entra send name, title, phoneNumbers…: no 400, and nothing claims they are kept.
    body = {"schemas": [urn.USER], "userName": "erin@acme.com", "displayName": "Erin Po",
            "name": {"givenName": "Erin", "familyName": "Po"}, "title": "DBA",
            "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
            "emails": [{"value": "erin@acme.com", "type": "work", "primary": True}]}
    r = scim.onprem.post("/Users", json=body)
    assert r.status_code == 201, r.text
    user = r.json()
    assert {"name", "title", "phoneNumbers"}.isdisjoint(user)
    assert user["displayName"] == "Erin Po" and user["emails"][0]["value"] == "erin@acme.com"
    uid = user["id"]
    r = scim.onprem.put(f"/Users/{uid}", json={**body, "displayName": "Erin P."})
    assert r.status_code == 200 and r.json()["displayName"] == "Erin P."
    version = r.json()["meta"]["version"]
    # PATCH: operations on attributes the tenant does not keep change nothing…
    only_ignored = {**PATCH, "Operations": [
        {"op": "replace", "path": "name.givenName", "value": "E."},
        {"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:User:title", "value": "x"},
        {"op": "replace", "value": {"nickName": "ep"}}]}
    r = scim.onprem.patch(f"/Users/{uid}", json=only_ignored)
    assert r.status_code == 200, r.text
    assert r.json()["meta"]["version"] == version and r.json()["displayName"] == "Erin P."
    # …and the others in the same request still apply.
    mixed = {**PATCH, "Operations": [{"op": "replace", "path": "title", "value": "DBA"},
                                     {"op": "replace", "value": {"displayName": "Erin",
                                                                 "nickName": "ep"}}]}
    r = scim.onprem.patch(f"/Users/{uid}", json=mixed)
    assert r.status_code == 200, r.text
    assert r.json()["displayName"] == "Erin" and "nickName" not in r.json()
    # An attribute the schema does not have is not a valid PATCH path otherwise.
    bad = {**PATCH, "Operations": [{"op": "replace", "path": "shoeSize", "value": "9"}]}
    assert scim.onprem.patch(f"/Users/{uid}", json=bad).status_code == 400


# --- PAM resources ------------------------------------------------------------------------------
def test_external_id_is_kept_on_pam_resources(scim: Flavors) -> None:
    c = scim.onprem.post("/Containers", json={"schemas": [urn.CONTAINER], "name": "Ops",
                                              "externalId": "iga-ops"})
    assert c.status_code == 201 and c.json()["externalId"] == "iga-ops"
    cid = c.json()["id"]
    s = scim.onprem.post("/PrivilegedData", json={
        "schemas": [urn.PRIVILEGED_DATA], "name": "ops-key", "container": {"value": cid},
        "externalId": "iga-key"})
    assert s.status_code == 201 and s.json()["externalId"] == "iga-key"
    p = scim.onprem.post("/ContainerPermissions", json={
        "schemas": [urn.CONTAINER_PERMISSION], "container": {"value": cid},
        "user": {"value": "u1"}, "rights": ["View"], "externalId": "iga-grant"})
    assert p.status_code == 201 and p.json()["externalId"] == "iga-grant"
    for path in (f"/Containers/{cid}", f"/PrivilegedData/{s.json()['id']}",
                 f"/ContainerPermissions/{p.json()['id']}"):
        replaced = scim.onprem.patch(path, json={**PATCH, "Operations": [
            {"op": "replace", "path": "externalId", "value": "renamed"}]})
        assert replaced.status_code == 200 and replaced.json()["externalId"] == "renamed"
        assert scim.onprem.get(path).json()["externalId"] == "renamed"
        removed = scim.onprem.patch(path, json={**PATCH, "Operations": [
            {"op": "remove", "path": "externalId"}]})
        assert removed.status_code == 200 and "externalId" not in removed.json()
    assert ids(scim.onprem.get("/Containers", params={"filter": 'name eq "Ops"'})) == [cid]


def test_container_display_name_is_the_folder_name(scim: Flavors) -> None:
    # Secret Server has one folder name: displayName shows it and is read-only.
    assert schema(scim.onprem, urn.CONTAINER)["displayName"]["mutability"] == "readOnly"
    r = scim.cloud.post("/Containers", json={"schemas": [urn.CONTAINER], "name": "Ops",
                                             "displayName": "Something else"})
    assert r.status_code == 201 and r.json()["displayName"] == "Ops"  # ignored, as RFC 7643
    cid = r.json()["id"]
    scim_error(scim.cloud.patch(f"/Containers/{cid}", json={**PATCH, "Operations": [
        {"op": "replace", "path": "displayName", "value": "X"}]}), 400, "mutability")
    # Renamed on-prem: the cloud connector does not update folders (test_sandbox_rules).
    renamed = scim.onprem.patch(f"/Containers/{cid}", json={**PATCH, "Operations": [
        {"op": "replace", "path": "name", "value": "Operations"}]})
    assert renamed.json()["displayName"] == "Operations"


def test_patch_remove_privileged_data_empties_the_folder(scim: Flavors) -> None:
    remove = {**PATCH, "Operations": [{"op": "remove", "path": "privilegedData"}]}
    r = scim.onprem.patch("/Containers/f2", json=remove)
    assert r.status_code == 200 and r.json()["privilegedData"] == []
    assert "container" not in scim.onprem.get("/PrivilegedData/s2").json()  # gone to the root
    # Cloud: only what the service account owns moves; s4 (in f1, not owned) stays put.
    assert scim.cloud.patch("/Containers/f1", json=remove).status_code == 200
    assert scim.onprem.get("/PrivilegedData/s4").json()["container"]["value"] == "f1"
    r = scim.cloud.patch("/Containers/f3", json=remove)
    assert r.status_code == 200 and r.json()["privilegedData"] == []
    assert "container" not in scim.onprem.get("/PrivilegedData/s1").json()
    # A PUT that leaves privilegedData out still leaves the folder's secrets where they are.
    put = scim.onprem.put("/Containers/f4", json={"schemas": [urn.CONTAINER], "name": "HR"})
    assert put.status_code == 200
    assert [d["value"] for d in put.json()["privilegedData"]] == ["s3"]


def test_references_resolved_by_value_declare_it_required(scim: Flavors) -> None:
    perm = schema(scim.onprem, urn.CONTAINER_PERMISSION)
    for attr in ("container", "user", "group"):
        subs = {a["name"]: a for a in perm[attr]["subAttributes"]}
        assert subs["value"]["required"] is True and subs["$ref"]["required"] is False
    assert perm["rights"]["canonicalValues"] == ["Owner", "Edit", "Add Secret", "View"]
    pd = {a["name"]: a for a in schema(scim.onprem, urn.CONTAINER)["privilegedData"][
        "subAttributes"]}
    assert pd["value"]["required"] is True
    # A reference sent without its value is refused as such.
    body = {"schemas": [urn.CONTAINER_PERMISSION], "user": {"value": "u1"}, "rights": ["View"],
            "container": {"$ref": f"{scim.sb.onprem_url}/containers/f1"}}
    assert scim_error(scim.onprem.post("/ContainerPermissions", json=body), 400,
                      "invalidValue")["detail"] == "Attribute 'container.value' is required."
    del body["container"]
    assert scim_error(scim.onprem.post("/ContainerPermissions", json=body), 400,
                      "invalidValue")["detail"] == "Attribute 'container' is required."
    # Parent and container may still be left empty: the root, or no folder (on-prem).
    r = scim.onprem.post("/Containers", json={"schemas": [urn.CONTAINER], "name": "Top",
                                              "parent": {}})
    assert r.status_code == 201 and "parent" not in r.json()
