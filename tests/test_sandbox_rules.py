"""The practice tenant's Delinea rules, each over real HTTP (the FAQ's rules first)."""

from __future__ import annotations

import httpx
import orjson
import pytest

from opskit.sandbox import schemas as urn
from opskit.sandbox import store
from opskit.sandbox.tenantfile import TenantFile

from .conftest import Flavors, cloud_token

pytestmark = pytest.mark.slow  # 7-20 s in all: handed out early, so it does not start last

PATCH = {"schemas": [urn.PATCH_OP]}


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["Resources"]]


def scim_error(response: httpx.Response, status: int, scim_type: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [urn.ERROR]
    assert body["status"] == str(status)  # a string, as Delinea and RFC 7644 send it
    if scim_type is not None:
        assert body.get("scimType") == scim_type
    assert body["detail"]
    return body


def schema(client: httpx.Client, urn_id: str) -> dict:
    """The attributes of a schema the server advertises, by name."""
    r = client.get(f"/Schemas/{urn_id}")
    assert r.status_code == 200, r.text
    return {a["name"]: a for a in r.json()["attributes"]}


# --- FAQ: cloud filters accept only eq and co --------------------------------------------
@pytest.mark.parametrize("flt", ['userName eq "bob@acme.com"', 'userName co "bob"',
                                 'userName co "bob" and active eq true'])
def test_cloud_accepts_eq_and_co(scim: Flavors, flt: str) -> None:
    assert ids(scim.cloud.get("/Users", params={"filter": flt})) == ["u2"]


@pytest.mark.parametrize("flt", ['userName sw "bob"', 'userName ew "acme.com"', "userName pr",
                                 'userName ne "x"', 'userName eq "a" or userName eq "b"',
                                 'not (userName eq "a")', 'emails[type eq "work"]',
                                 'meta.lastModified gt "2020-01-01T00:00:00Z"'])
def test_cloud_refuses_other_operators(scim: Flavors, flt: str) -> None:
    scim_error(scim.cloud.get("/Users", params={"filter": flt}), 400, "invalidFilter")


@pytest.mark.parametrize(("flt", "expected"), [
    ('userName sw "bob"', ["u2"]),
    ('emails[type eq "work" and value ew "@acme.com"]', ["u1", "u2"]),
    ('not (userName eq "bob@acme.com") and displayName pr', ["u-scim", "u1"]),
    ('userName eq "nobody" or displayName co "alice"', ["u1"]),
    ('meta.lastModified gt "2000-01-01T00:00:00Z" and userName ew "acme.com"', ["u-scim", "u1",
                                                                               "u2"]),
])
def test_onprem_takes_the_full_filter_grammar(scim: Flavors, flt: str, expected: list) -> None:
    assert ids(scim.onprem.get("/Users", params={"filter": flt})) == expected


def test_bad_filters_are_invalid_filter_errors(scim: Flavors) -> None:
    scim_error(scim.onprem.get("/Users", params={"filter": 'userName eq'}), 400, "invalidFilter")
    scim_error(scim.onprem.get("/Users", params={"filter": "active gt true"}), 400,
               "invalidFilter")


def test_reference_shorthand_filters_on_value(scim: Flavors) -> None:
    # Since connector 2.5 `container eq "f3"` reads as `container.value eq "f3"`.
    a = ids(scim.onprem.get("/ContainerPermissions", params={"filter": 'container eq "f3"'}))
    b = ids(scim.onprem.get("/ContainerPermissions",
                            params={"filter": 'container.value eq "f3"'}))
    assert a == b and len(a) == 2


# --- FAQ: only what the service account owns -------------------------------------------
def test_cloud_containers_are_those_the_service_account_owns(scim: Flavors) -> None:
    # f1 direct Owner, f2 inherits f1, f3 Owner through group g2; f4 not granted;
    # f5 granted [View, Owner] and the first right is the one that counts.
    assert ids(scim.cloud.get("/Containers")) == ["f1", "f2", "f3"]
    assert ids(scim.onprem.get("/Containers")) == ["f1", "f2", "f3", "f4", "f5"]
    assert scim.onprem.get("/Containers/f4").status_code == 200


def test_cloud_answers_403_for_what_exists_unowned_and_404_for_what_does_not(
        scim: Flavors) -> None:
    # Delinea's troubleshooting page: retrieving a container, its permissions or privileged
    # data without Owner is refused with 403.
    f4 = {"filter": 'container.value eq "f4"'}
    perm = ids(scim.onprem.get("/ContainerPermissions", params=f4))[0]
    for path in ("/Containers/f4", f"/ContainerPermissions/{perm}", "/PrivilegedData/s3",
                 "/PrivilegedData/s4"):  # s4: in an owned folder, with its own permissions
        assert "Access Denied" in scim_error(scim.cloud.get(path), 403)["detail"]
        assert scim.onprem.get(path).status_code == 200
        scim_error(scim.cloud.get(path.rsplit("/", 1)[0] + "/nope"), 404)
    # Changing what it does not own is refused the same way.
    rename = {**PATCH, "Operations": [{"op": "replace", "path": "name", "value": "X"}]}
    scim_error(scim.cloud.patch("/Containers/f4", json=rename), 403)
    scim_error(scim.cloud.delete(f"/ContainerPermissions/{perm}"), 403)
    sub = {"schemas": [urn.CONTAINER], "name": "Sub", "parent": {"value": "f4"}}
    scim_error(scim.cloud.post("/Containers", json=sub), 403)
    # Lists still leave it out, by id too; users and groups keep 404 (g5 is not on the Platform).
    assert ids(scim.cloud.get("/Containers", params={"filter": 'id eq "f4"'})) == []
    scim_error(scim.cloud.get("/Groups/g5"), 404)


def test_cloud_permissions_only_for_owned_containers(scim: Flavors) -> None:
    cloud = scim.cloud.get("/ContainerPermissions").json()["Resources"]
    assert {p["container"]["value"] for p in cloud} == {"f1", "f2", "f3"}
    onprem = scim.onprem.get("/ContainerPermissions").json()["Resources"]
    assert {p["container"]["value"] for p in onprem} == {"f1", "f2", "f3", "f4", "f5"}
    # An inheriting folder shows its parent's permissions as its own effective ones.
    f2 = [p for p in cloud if p["container"]["value"] == "f2"]
    assert sorted(p.get("user", p.get("group"))["value"] for p in f2) == ["g1", "u-scim"]


def test_cloud_privileged_data_only_where_owner(scim: Flavors) -> None:
    # s4 lists its own permissions without the service account, inside an owned folder.
    assert ids(scim.cloud.get("/PrivilegedData")) == ["s1", "s2"]
    assert ids(scim.onprem.get("/PrivilegedData")) == ["s1", "s2", "s3", "s4", "s5"]
    f1 = scim.cloud.get("/Containers/f1").json()
    assert f1["privilegedData"] == []  # s4 sits in f1 but is not the account's to see


def test_container_update_touching_unowned_secret_is_denied(scim: Flavors) -> None:
    for secret in ("s4", "s3"):
        body = {**PATCH, "Operations": [{"op": "add", "path": "privilegedData",
                                         "value": [{"value": secret}]}]}
        detail = scim_error(scim.cloud.patch("/Containers/f1", json=body), 403)["detail"]
        assert "Access Denied" in detail
    # Owned secrets move freely.
    body = {**PATCH, "Operations": [{"op": "add", "path": "privilegedData",
                                     "value": [{"value": "s2"}]}]}
    r = scim.cloud.patch("/Containers/f1", json=body)
    assert r.status_code == 200, r.text
    assert [d["value"] for d in r.json()["privilegedData"]] == ["s2"]
    assert scim.cloud.get("/PrivilegedData/s2").json()["container"]["value"] == "f1"
    # The application account administers everything on-prem.
    r = scim.onprem.patch("/Containers/f1", json={**PATCH, "Operations": [
        {"op": "add", "path": "privilegedData", "value": [{"value": "s3"}]}]})
    assert r.status_code == 200, r.text


# --- Delinea's overview and troubleshooting pages: what the cloud connector writes ----------
def test_cloud_refuses_privileged_data_writes(scim: Flavors) -> None:
    # The Platform prevents creating privileged data; secrets move through their folders.
    body = {"schemas": [urn.PRIVILEGED_DATA], "name": "new-key", "container": {"value": "f1"}}
    r = scim.cloud.post("/PrivilegedData", json=body)
    assert "does not create privileged data" in scim_error(r, 405)["detail"]
    assert r.headers["allow"] == "GET"
    rename = {**PATCH, "Operations": [{"op": "replace", "path": "name", "value": "x"}]}
    for r in (scim.cloud.put("/PrivilegedData/s2", json=body),
              scim.cloud.patch("/PrivilegedData/s2", json=rename),
              scim.cloud.delete("/PrivilegedData/s2")):
        assert "privilegedData" in scim_error(r, 405)["detail"]
        assert r.headers["allow"] == "GET"
    assert scim.cloud.get("/PrivilegedData/s2").json()["name"] == "dev-db-sa"
    # On-prem keeps create, update and delete.
    made = scim.onprem.post("/PrivilegedData", json=body)
    assert made.status_code == 201, made.text
    sid = made.json()["id"]
    assert scim.onprem.patch(f"/PrivilegedData/{sid}", json=rename).json()["name"] == "x"
    assert scim.onprem.delete(f"/PrivilegedData/{sid}").status_code == 204


def test_cloud_does_not_update_or_delete_folders_nor_change_permissions(scim: Flavors) -> None:
    r = scim.cloud.delete("/Containers/f2")
    assert "does not delete folders" in scim_error(r, 405)["detail"]
    assert r.headers["allow"] == "GET, PUT, PATCH"
    for attr, value in (("name", "Renamed"), ("parent", {"value": "-1"}),
                        ("description", "moved")):
        change = {**PATCH, "Operations": [{"op": "replace", "path": attr, "value": value}]}
        detail = scim_error(scim.cloud.patch("/Containers/f2", json=change), 400,
                            "mutability")["detail"]
        assert f"'{attr}' cannot be changed" in detail
    # What a cloud folder update may do: add or remove its secrets (and keep its name).
    put = {"schemas": [urn.CONTAINER], "name": "Databases", "parent": {"value": "f1"},
           "privilegedData": []}
    assert scim.cloud.put("/Containers/f2", json=put).json()["privilegedData"] == []
    grant = ids(scim.cloud.get("/ContainerPermissions",
                               params={"filter": 'container.value eq "f1"'}))[0]
    view = {"schemas": [urn.CONTAINER_PERMISSION], "container": {"value": "f1"},
            "user": {"value": "u-scim"}, "rights": ["View"]}
    for r in (scim.cloud.put(f"/ContainerPermissions/{grant}", json=view),
              scim.cloud.patch(f"/ContainerPermissions/{grant}", json={**PATCH, "Operations": [
                  {"op": "replace", "path": "rights", "value": ["View"]}]})):
        assert "DELETE, then POST" in scim_error(r, 405)["detail"]
        assert r.headers["allow"] == "GET, DELETE"
    # On-prem does all of it; a folder that still holds folders or secrets is not deleted (409).
    assert scim.onprem.patch("/Containers/f2", json={**PATCH, "Operations": [
        {"op": "replace", "path": "name", "value": "DBs"}]}).json()["name"] == "DBs"
    scim_error(scim.onprem.delete("/Containers/f1"), 409, "mutability")
    empty = scim.onprem.post("/Containers", json={"schemas": [urn.CONTAINER], "name": "Old"})
    assert scim.onprem.delete(f"/Containers/{empty.json()['id']}").status_code == 204
    assert scim.onprem.put(f"/ContainerPermissions/{grant}", json=view).status_code == 200


def test_cloud_keeps_only_the_first_right(scim: Flavors) -> None:
    body = {"schemas": [urn.CONTAINER_PERMISSION], "container": {"value": "f1"},
            "user": {"value": "u2"}, "rights": ["View", "Owner"]}
    r = scim.cloud.post("/ContainerPermissions", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["rights"] == ["View"]
    again = scim.cloud.get(f"/ContainerPermissions/{r.json()['id']}").json()
    assert again["rights"] == ["View"]
    r = scim.onprem.post("/ContainerPermissions", json={**body, "container": {"value": "f4"}})
    assert r.status_code == 201 and r.json()["rights"] == ["View", "Owner"]


def test_onprem_maps_rights_and_an_unmapped_one_becomes_view(scim: Flavors) -> None:
    # The endpoint's permission-value mapping (small.yaml maps admin and PowerUser to Owner);
    # a value neither mapped nor Secret Server's own is stored as View, the documented default.
    body = {"schemas": [urn.CONTAINER_PERMISSION], "container": {"value": "f4"},
            "user": {"value": "u2"}, "rights": ["admin"]}
    for rights, stored in ((["admin"], ["Owner"]), (["PowerUser", "admin", "Edit"],
                                                     ["Owner", "Edit"]),
                           (["Read"], ["View"]), (["Add Secret"], ["Add Secret"])):
        r = scim.onprem.post("/ContainerPermissions", json={**body, "rights": rights})
        assert r.status_code == 201 and r.json()["rights"] == stored, r.text
        assert scim.onprem.delete(f"/ContainerPermissions/{r.json()['id']}").status_code == 204
    # The cloud's vocabulary is undocumented: we refuse what is not Secret Server's (400).
    cloud = {**body, "container": {"value": "f1"}}
    scim_error(scim.cloud.post("/ContainerPermissions", json=cloud), 400, "invalidValue")


def test_permission_to_unowned_container_is_denied_on_cloud(scim: Flavors) -> None:
    body = {"schemas": [urn.CONTAINER_PERMISSION], "container": {"value": "f4"},
            "user": {"value": "u2"}, "rights": ["View"]}
    scim_error(scim.cloud.post("/ContainerPermissions", json=body), 403)


def test_client_meta_is_ignored(scim: Flavors) -> None:
    fake = {"created": "2001-01-01T00:00:00Z", "lastModified": "2001-01-01T00:00:00Z",
            "version": 'W/"fake"', "location": "https://evil.example/Users/1",
            "resourceType": "Group"}
    r = scim.cloud.post("/Groups", json={"schemas": [urn.GROUP], "displayName": "Probe",
                                         "meta": fake})
    assert r.status_code == 201, r.text
    meta = r.json()["meta"]
    assert meta["created"] != fake["created"] and meta["version"] != fake["version"]
    assert meta["location"] == f"{scim.sb.cloud_url}/Groups/{r.json()['id']}"
    assert meta["resourceType"] == "Group"
    assert r.headers["location"] == meta["location"]


def test_roles_are_not_implemented_on_cloud(scim: Flavors) -> None:
    scim_error(scim.cloud.get("/Roles"), 404)
    assert "Roles" not in {rt["name"] for rt in scim.cloud.get("/ResourceTypes").json()[
        "Resources"]}


def test_delete_user_deletes_on_cloud(scim: Flavors) -> None:
    assert scim.cloud.delete("/Users/u2").status_code == 204
    scim_error(scim.cloud.get("/Users/u2"), 404)
    members = [m["value"] for m in scim.cloud.get("/Groups/g3").json()["members"]]
    assert "u2" not in members
    scim_error(scim.onprem.get("/Users/u2"), 404)


def test_delete_user_disables_on_prem(scim: Flavors) -> None:
    assert scim.onprem.delete("/Users/u2").status_code == 204
    scim_error(scim.onprem.get("/Users/u2"), 404)  # disabled users are hidden on-prem
    scim_error(scim.onprem.delete("/Users/u2"), 404)  # deleting it again: 404, as in the logs
    kept = scim.cloud.get("/Users/u2").json()
    assert kept["active"] is False


def test_user_name_comes_back_lowercase_on_cloud(scim: Flavors) -> None:
    assert scim.cloud.get("/Users/u1").json()["userName"] == "alice@acme.com"
    assert scim.onprem.get("/Users/u1").json()["userName"] == "Alice@Acme.com"
    r = scim.cloud.post("/Users", json={"schemas": [urn.USER], "userName": "New.Person@ACME.com"})
    assert r.status_code == 201 and r.json()["userName"] == "new.person@acme.com"
    scim_error(scim.cloud.post("/Users", json={"schemas": [urn.USER],
                                               "userName": "NEW.person@acme.com"}),
               409, "uniqueness")


def test_onprem_takes_the_email_as_username_when_the_username_is_taken(scim: Flavors) -> None:
    # The on-prem FAQ: the e-mail must be unique; a username clash with a new e-mail creates
    # the user with the e-mail as its username.
    def user(name: str, email: str | None = None) -> dict:
        body = {"schemas": [urn.USER], "userName": name}
        return {**body, "emails": [{"value": email, "type": "work"}]} if email else body

    r = scim.onprem.post("/Users", json=user("bob@acme.com", "robert.li@acme.com"))
    assert r.status_code == 201, r.text
    assert r.json()["userName"] == "robert.li@acme.com"
    scim_error(scim.onprem.post("/Users", json=user("new.alice", "ALICE@acme.com")), 409,
               "uniqueness")
    scim_error(scim.onprem.post("/Users", json=user("bob@acme.com")), 409, "uniqueness")
    # The cloud refuses a taken username (troubleshooting page: 409), whatever the e-mail.
    scim_error(scim.cloud.post("/Users", json=user("bob@acme.com", "bobby@acme.com")), 409,
               "uniqueness")


def test_onprem_creates_a_user_sent_without_a_password(scim: Flavors) -> None:
    # The on-prem FAQ: a null or empty password is replaced by one the connector makes up, so
    # the create succeeds; the practice tenant keeps no passwords, and never returns one.
    for n, password in enumerate((None, "")):
        body = {"schemas": [urn.USER], "userName": f"nopass{n}@acme.com",
                "emails": [{"value": f"nopass{n}@acme.com", "type": "work"}]}
        if password is not None:
            body["password"] = password
        r = scim.onprem.post("/Users", json=body)
        assert r.status_code == 201, r.text
        assert "password" not in r.json()


def test_onprem_user_roles_are_patched_and_the_cloud_refuses_them(scim: Flavors) -> None:
    # SailPoint's on-prem connector (4.4.4+) assigns and removes roles by PATCH on Users.
    roles = schema(scim.onprem, urn.USER)["roles"]
    assert [a["name"] for a in roles["subAttributes"]] == ["value"]
    assert "roles" not in schema(scim.cloud, urn.USER)
    assert scim.onprem.get("/Users/u2").json()["roles"] == [{"value": "User"}]

    def patch(client: httpx.Client, *ops: dict) -> httpx.Response:
        return client.patch("/Users/u2", json={**PATCH, "Operations": list(ops)})

    r = patch(scim.onprem, {"op": "add", "path": "roles", "value": [{"value": "Auditor"}]})
    assert r.status_code == 200 and r.json()["roles"] == [{"value": "User"},
                                                          {"value": "Auditor"}], r.text
    r = patch(scim.onprem, {"op": "remove", "path": 'roles[value eq "User"]'})
    assert r.json()["roles"] == [{"value": "Auditor"}], r.text
    r = patch(scim.onprem, {"op": "replace", "path": "roles", "value": [{"value": "Admin"}]})
    assert r.json()["roles"] == [{"value": "Admin"}]
    # A PUT that leaves roles out leaves them; the cloud neither shows nor drops them.
    put = {"schemas": [urn.USER], "userName": "bob@acme.com", "displayName": "Bob"}
    assert scim.onprem.put("/Users/u2", json=put).json()["roles"] == [{"value": "Admin"}]
    assert "roles" not in scim.cloud.put("/Users/u2", json=put).json()
    # The cloud has no roles yet: any write that touches them is refused, never a silent 200.
    for r in (patch(scim.cloud, {"op": "add", "path": "roles", "value": [{"value": "X"}]}),
              patch(scim.cloud, {"op": "remove", "path": "roles"}),
              patch(scim.cloud, {"op": "replace", "value": {"roles": [{"value": "X"}]}}),
              scim.cloud.put("/Users/u2", json={**put, "roles": [{"value": "X"}]}),
              scim.cloud.post("/Users", json={**put, "userName": "new@acme.com",
                                              "roles": [{"value": "X"}]})):
        assert "not implemented" in scim_error(r, 400, "invalidValue")["detail"]
    assert scim.onprem.get("/Users/u2").json()["roles"] == [{"value": "Admin"}]


def test_platform_group_membership_is_not_edited_on_prem(scim: Flavors) -> None:
    # Platform Groups Sync: the membership of a Platform group cannot be managed in Secret
    # Server. g3 (DBA Juniors) is a synced Platform group; g5 (SS Only) is Secret Server's own.
    add = {**PATCH, "Operations": [{"op": "add", "path": "members", "value": [{"value": "u1"}]}]}
    rename = {**PATCH, "Operations": [{"op": "replace", "path": "displayName", "value": "Jr"}]}
    on_platform = scim.cloud.get("/Groups/g3").json()
    for r in (scim.onprem.patch("/Groups/g3", json=add),
              scim.onprem.patch("/Groups/g3", json=rename),
              scim.onprem.put("/Groups/g3", json={"schemas": [urn.GROUP],
                                                  "displayName": "DBA Juniors"}),
              scim.onprem.delete("/Groups/g3")):
        assert "on the Delinea Platform" in scim_error(r, 400, "mutability")["detail"]
    assert [m["value"] for m in scim.onprem.get("/Groups/g3").json()["members"]] == ["u2"]
    # A write that changes nothing is answered, and leaves the Platform's group as it was.
    same = {"schemas": [urn.GROUP], "displayName": "DBA Juniors", "members": [{"value": "u2"}]}
    assert scim.onprem.put("/Groups/g3", json=same).status_code == 200
    assert scim.cloud.get("/Groups/g3").json() == on_platform
    # Secret Server's own groups, and the cloud: fine.
    assert scim.onprem.patch("/Groups/g5", json=add).status_code == 200
    r = scim.cloud.patch("/Groups/g3", json=add)
    assert [m["value"] for m in r.json()["members"]] == ["u2", "u1"], r.text
    assert scim.onprem.delete("/Groups/g5").status_code == 204


# --- what each flavor shows ----------------------------------------------------------------
def test_onprem_hides_disabled_users_and_platform_only_groups(scim: Flavors) -> None:
    assert ids(scim.onprem.get("/Users")) == ["u-scim", "u1", "u2"]
    assert ids(scim.cloud.get("/Users")) == ["u-scim", "u1", "u2", "u3"]
    assert ids(scim.onprem.get("/Groups")) == ["g1", "g2", "g3", "g5"]
    assert ids(scim.cloud.get("/Groups")) == ["g1", "g2", "g3", "g4"]


def test_unsynced_group_cannot_be_granted_until_sync(scim: Flavors) -> None:
    created = scim.cloud.post("/Groups", json={"schemas": [urn.GROUP], "displayName": "New Team"})
    gid = created.json()["id"]
    scim_error(scim.onprem.get(f"/Groups/{gid}"), 404)
    body = {"schemas": [urn.CONTAINER_PERMISSION], "container": {"value": "f1"},
            "group": {"value": gid}, "rights": ["View"]}
    detail = scim_error(scim.cloud.post("/ContainerPermissions", json=body), 400)["detail"]
    assert "Platform Groups Sync" in detail
    assert httpx.post(scim.sb.url + "/_sandbox/sync-groups").json()["synced"] >= 1
    assert scim.cloud.post("/ContainerPermissions", json=body).status_code == 201
    assert scim.onprem.get(f"/Groups/{gid}").status_code == 200


def test_disabled_user_cannot_be_granted(scim: Flavors) -> None:
    # An on-prem documentation rule; the cloud writes to the same Secret Server (assumption).
    body = {"schemas": [urn.CONTAINER_PERMISSION], "container": {"value": "f1"},
            "user": {"value": "u3"}, "rights": ["View"]}
    for client in (scim.cloud, scim.onprem):
        detail = scim_error(client.post("/ContainerPermissions", json=body), 400)["detail"]
        assert detail == "'u3' not found or disabled."


def test_grant_on_inheriting_folder_breaks_inheritance(scim: Flavors) -> None:
    body = {"schemas": [urn.CONTAINER_PERMISSION], "container": {"value": "f2"},
            "user": {"value": "u2"}, "rights": ["Edit"]}
    assert scim.cloud.post("/ContainerPermissions", json=body).status_code == 201
    f2 = scim.cloud.get("/ContainerPermissions", params={"filter": 'container.value eq "f2"'})
    principals = sorted(p.get("user", p.get("group"))["value"] for p in f2.json()["Resources"])
    assert principals == ["g1", "u-scim", "u2"]  # the copied parent grants, plus the new one
    assert "f2" in ids(scim.cloud.get("/Containers"))


def test_inherited_permission_cannot_be_deleted_in_place(scim: Flavors) -> None:
    inherited = [p["id"] for p in scim.cloud.get("/ContainerPermissions").json()["Resources"]
                 if p["container"]["value"] == "f2"]
    scim_error(scim.cloud.delete(f"/ContainerPermissions/{inherited[0]}"), 400, "mutability")



@pytest.mark.parametrize(("endpoint", "schema", "target", "own", "other", "inheriting"), [
    ("ContainerPermissions", urn.CONTAINER_PERMISSION, "container", "f1", "f4", "f2"),
    ("PrivilegedDataPermissions", urn.PRIVILEGED_DATA_PERMISSION, "privilegedData", "s4", "s3",
     "s2")])
def test_folder_and_secret_permissions_share_their_write_rules(
        scim: Flavors, endpoint: str, schema: str, target: str, own: str, other: str,
        inheriting: str) -> None:
    # f1 and s4 have permissions of their own (u-scim and u1 hold Owner), f2 and s2 inherit.
    def listed(on: str) -> list[dict]:
        return scim.onprem.get(f"/{endpoint}",
                               params={"filter": f'{target} eq "{on}"'}).json()["Resources"]

    [held] = [p for p in listed(own) if p["rights"] == ["Owner"] and "user" in p]
    body = {"schemas": [schema], target: {"value": own}, "user": held["user"], "rights": ["View"]}
    scim_error(scim.onprem.post(f"/{endpoint}", json=body), 409, "uniqueness")
    for moved in ({**body, target: {"value": other}}, {**body, "user": {"value": "u2"}}):
        r = scim.onprem.put(f"/{endpoint}/{held['id']}", json=moved)
        assert "immutable" in scim_error(r, 400, "mutability")["detail"]
    inherited = listed(inheriting)[0]
    body = {**body, target: {"value": inheriting}, "user": inherited["user"]}
    for r in (scim.onprem.put(f"/{endpoint}/{inherited['id']}", json=body),
              scim.onprem.delete(f"/{endpoint}/{inherited['id']}")):
        assert "inherited" in scim_error(r, 400, "mutability")["detail"]
    assert scim.onprem.put(f"/{endpoint}/{held['id']}", json=body | {
        target: {"value": own}, "user": held["user"]}).json()["rights"] == ["View"]


# --- envelope, paging, discovery -------------------------------------------------------------
def test_list_envelope_and_paging(scim: Flavors) -> None:
    body = scim.onprem.get("/PrivilegedData", params={"startIndex": 2, "count": 2}).json()
    assert body["schemas"] == [urn.LIST_RESPONSE]
    assert body["totalResults"] == 5 and body["startIndex"] == 2
    assert [r["id"] for r in body["Resources"]] == ["s2", "s3"]
    # On-prem echoes the requested count; cloud reports what it returned.
    echoed = scim.onprem.get("/PrivilegedData", params={"startIndex": 5, "count": 10}).json()
    assert echoed["itemsPerPage"] == 10 and len(echoed["Resources"]) == 1
    cloud = scim.cloud.get("/PrivilegedData", params={"count": 10}).json()
    assert cloud["itemsPerPage"] == len(cloud["Resources"]) == 2
    empty = scim.cloud.get("/Users", params={"count": 0}).json()
    assert empty["totalResults"] == 4 and empty["Resources"] == []
    scim_error(scim.cloud.get("/Users", params={"count": "many"}), 400, "invalidValue")


def test_a_page_read_again_after_a_write_shows_the_write(scim: Flavors) -> None:
    """Pages are cached per revision: any write must be seen by the next read of that page."""
    def page() -> dict:
        return scim.onprem.get("/PrivilegedData", params={"startIndex": 1, "count": 10,
                                                           "attributes": "name"}).json()

    before = page()
    assert before == page()  # the cached page, unchanged
    secret = before["Resources"][0]
    renamed = scim.onprem.patch(f"/PrivilegedData/{secret['id']}", json={
        **PATCH, "Operations": [{"op": "replace", "path": "name", "value": "renamed"}]})
    assert renamed.status_code == 200, renamed.text
    after = page()
    assert after["Resources"][0] == {**secret, "name": "renamed"}
    assert scim.onprem.delete(f"/PrivilegedData/{secret['id']}").status_code == 204
    gone = page()
    assert gone["totalResults"] == before["totalResults"] - 1
    assert secret["id"] not in [r["id"] for r in gone["Resources"]]


def test_rendered_resources_stay_within_their_byte_budget(
        small_tenant: TenantFile, monkeypatch: pytest.MonkeyPatch) -> None:
    # In-process: the bound, not HTTP, is what is tested. A budget of a few resources makes
    # every kind's renderings overflow it, and each answer must still be the resource itself.
    monkeypatch.setattr(store, "RENDER_CACHE_BYTES", 2000)
    tenant = store.Tenant(small_tenant)
    base = "http://127.0.0.1/SCIMConnector/v2"
    with tenant.lock:
        for _ in range(2):  # the second pass reads what the cache kept
            for kind in store.KINDS:
                for rid in tenant.ids("onprem", kind):
                    got = orjson.loads(tenant.render_bytes("onprem", kind, rid, base))
                    assert got == tenant.render("onprem", kind, rid, base)
                    assert tenant._rendered.size <= 2000


def test_page_size_is_capped_at_the_advertised_maximum(sandbox, small_tenant) -> None:
    from opskit.sandbox.serve import running

    small_tenant.limits.max_results = 2
    with running(small_tenant) as sb:
        f = Flavors(sb)
        spc = f.onprem.get("/ServiceProviderConfig").json()
        assert spc["filter"]["maxResults"] == 2
        page = f.onprem.get("/PrivilegedData", params={"count": 100}).json()
        assert len(page["Resources"]) == 2 and page["totalResults"] == 5
        f.close()


def test_service_provider_config_per_flavor(scim: Flavors) -> None:
    cloud = scim.cloud.get("/ServiceProviderConfig").json()
    onprem = scim.onprem.get("/ServiceProviderConfig").json()
    assert cloud["bulk"]["supported"] is False
    assert onprem["bulk"] == {"supported": True, "maxOperations": 1000,
                              "maxPayloadSize": 1048576}
    assert cloud["filter"] == {"supported": True, "maxResults": 1000}


def test_discovery_names_the_pam_schemas(scim: Flavors) -> None:
    for client in (scim.cloud, scim.onprem):
        types = {rt["name"]: rt for rt in client.get("/ResourceTypes").json()["Resources"]}
        assert set(types) == {"User", "Group", "Container", "ContainerPermission",
                              "PrivilegedData", "PrivilegedDataPermission"}
        assert types["Container"]["schema"] == "urn:ietf:params:scim:schemas:pam:1.0:Container"
        assert types["ContainerPermission"]["endpoint"] == "/ContainerPermissions"
        assert types["PrivilegedDataPermission"]["endpoint"] == "/PrivilegedDataPermissions"
        schemas = {s["id"] for s in client.get("/Schemas").json()["Resources"]}
        assert {urn.CONTAINER, urn.CONTAINER_PERMISSION, urn.PRIVILEGED_DATA, urn.USER,
                urn.GROUP, urn.PRIVILEGED_DATA_PERMISSION} <= schemas
    # Old on-prem docs address schemas by short name.
    assert scim.onprem.get("/Schemas/Container").json()["id"] == urn.CONTAINER


def test_onprem_refs_are_lowercase_like_the_real_connector(scim: Flavors) -> None:
    p = scim.onprem.get("/ContainerPermissions/1000").json()
    assert p["container"]["$ref"].endswith("/SCIMConnector/v2/containers/f1")
    assert scim.onprem.get(p["container"]["$ref"]).json()["id"] == "f1"


def test_attributes_projection(scim: Flavors) -> None:
    r = scim.onprem.get("/Users/u1", params={"attributes": "userName"}).json()
    assert set(r) == {"schemas", "id", "userName"}
    r = scim.onprem.get("/Users", params={"excludedAttributes": "emails,groups"}).json()
    assert all("emails" not in u for u in r["Resources"])


# --- on-prem bulk ------------------------------------------------------------------------------
def test_bulk_with_bulk_id_references(scim: Flavors) -> None:
    body = {"schemas": [urn.BULK_REQUEST], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "u",
         "data": {"schemas": [urn.USER], "userName": "dave@acme.com"}},
        {"method": "POST", "path": "/Groups", "bulkId": "g",
         "data": {"schemas": [urn.GROUP], "displayName": "Bulk Team",
                  "members": [{"value": "bulkId:u"}]}},
        {"method": "DELETE", "path": "/Groups/nope"},
    ]}
    r = scim.onprem.post("/Bulk", json=body)
    assert r.status_code == 200, r.text
    ops = r.json()["Operations"]
    assert [o["status"] for o in ops] == ["201", "201", "404"]
    group = scim.onprem.get(ops[1]["location"]).json()
    assert [m["display"] for m in group["members"]] == ["dave@acme.com"]


def test_bulk_limits_answer_413(scim: Flavors) -> None:
    op = {"method": "DELETE", "path": "/Users/none"}
    too_many = {"schemas": [urn.BULK_REQUEST], "Operations": [op] * 1001}
    assert "maxOperation (1000)" in scim_error(scim.onprem.post("/Bulk", json=too_many),
                                               413)["detail"]
    big = {"schemas": [urn.BULK_REQUEST], "Operations": [
        {"method": "POST", "path": "/Users",
         "data": {"schemas": [urn.USER], "userName": "x" * 200, "displayName": "y" * 400_000}}
    ] * 3}
    assert "maxPayloadSize (1048576)" in scim_error(scim.onprem.post("/Bulk", json=big),
                                                    413)["detail"]
    exactly = {"schemas": [urn.BULK_REQUEST], "Operations": [op] * 1000}
    assert scim.onprem.post("/Bulk", json=exactly).status_code == 200
    scim_error(scim.cloud.post("/Bulk", json=exactly), 404)


# --- authentication ------------------------------------------------------------------------
def test_token_endpoint_errors(sandbox) -> None:
    ok = cloud_token(sandbox)
    assert ok.status_code == 200 and ok.json()["scope"] == "xpm.platform"
    assert ok.json()["token_type"] == "Bearer" and ok.json()["expires_in"] == 3600
    assert ok.json()["access_token"].count(".") == 2  # JWT-shaped
    assert cloud_token(sandbox, scope="xpmheadless").status_code == 200
    cases = [({"client_secret": "wrong"}, 401, "invalid_client"),
             ({"client_id": "nobody@acme.com"}, 401, "invalid_client"),
             ({"scope": "openid"}, 400, "invalid_scope"),
             ({"scope": ""}, 400, "invalid_scope"),
             ({"grant_type": "password"}, 400, "unsupported_grant_type")]
    for overrides, status, error in cases:
        r = cloud_token(sandbox, **overrides)
        assert (r.status_code, r.json()["error"]) == (status, error), overrides
        assert "practice-only" not in r.text


def test_rejected_scope_when_switched_off(small_tenant) -> None:
    from opskit.sandbox.serve import running

    small_tenant.cloud.accepted_scopes = ["xpm.platform"]
    with running(small_tenant) as sb:
        assert cloud_token(sb, scope="xpmheadless").json()["error"] == "invalid_scope"


def test_unknown_and_missing_tokens_get_401(sandbox) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
        scim_error(httpx.get(sandbox.cloud_url + "/Users", headers=headers), 401)
    scim_error(httpx.get(sandbox.onprem_url + "/Users",
                         headers={"Authorization": "Bearer wrong"}), 401)
    # The cloud's OAuth token is no good on-prem, and the static token none on cloud.
    token = cloud_token(sandbox).json()["access_token"]
    scim_error(httpx.get(sandbox.onprem_url + "/Users",
                         headers={"Authorization": f"Bearer {token}"}), 401)
    scim_error(httpx.get(sandbox.cloud_url + "/Users", headers={
        "Authorization": f"Bearer {sandbox.tenant.file.onprem.token}"}), 401)


def test_expired_token_gets_401(small_tenant) -> None:
    import time

    from opskit.sandbox.serve import running

    small_tenant.cloud.expires_in = 1
    with running(small_tenant) as sb:
        token = cloud_token(sb).json()
        assert token["expires_in"] == 1
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert httpx.get(sb.cloud_url + "/Users", headers=headers).status_code == 200
        time.sleep(1.2)
        scim_error(httpx.get(sb.cloud_url + "/Users", headers=headers), 401)


def test_service_account_without_role_gets_403(small_tenant) -> None:
    from opskit.sandbox.serve import running

    small_tenant.service_account.has_scim_role = False
    with running(small_tenant) as sb:
        token = cloud_token(sb)
        assert token.status_code == 200  # the token is issued...
        r = httpx.get(sb.cloud_url + "/Users",
                      headers={"Authorization": f"Bearer {token.json()['access_token']}"})
        scim_error(r, 403)  # ...and SCIM refuses it


def test_sub_attribute_projection(scim: Flavors) -> None:
    r = scim.onprem.get("/ContainerPermissions", params={
        "attributes": "container.value,user.display,rights"}).json()["Resources"]
    first = r[0]
    assert set(first) == {"schemas", "id", "container", "user", "rights"} or set(first) == {
        "schemas", "id", "container", "rights"}
    assert set(first["container"]) == {"value"}
    # A URN-qualified name selects the same attribute.
    u = scim.onprem.get("/Users/u1", params={
        "attributes": "urn:ietf:params:scim:schemas:core:2.0:User:userName"}).json()
    assert set(u) == {"schemas", "id", "userName"}
