"""The practice tenant's state, its two views (cloud and on-prem) and every write rule.

Records are plain dicts indexed by id. What each flavor may see is derived lazily and cached
per revision, and each resource is rendered to JSON once per revision, so a page read is a
slice of a precomputed id list and a join of cached bytes: cheap even at 100,000 secrets.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import ValidationError
from scim2_models import Context, PatchOp, SCIMException

from . import schemas as urn
from .errors import ScimError, access_denied, invalid_value, not_found, uniqueness
from .tenantfile import (
    FOLDER_RIGHTS,
    SECRET_RIGHTS,
    TenantFile,
    derived_secret_role,
    folder_inherits,
)

Flavor = Literal["cloud", "onprem"]
KINDS = ("User", "Group", "Container", "ContainerPermission", "PrivilegedData",
         "PrivilegedDataPermission")
ENDPOINTS = {"User": "Users", "Group": "Groups", "Container": "Containers",
             "ContainerPermission": "ContainerPermissions", "PrivilegedData": "PrivilegedData",
             "PrivilegedDataPermission": "PrivilegedDataPermissions"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def secret_role(perm: dict[str, Any]) -> str:
    """The secret role a folder permission gives: as set, else derived from its first right."""
    return str(perm["secret_role"] or derived_secret_role(perm["rights"][0]))


# What the page cache may hold: the pages of a scale-100 tenant several times over.
PAGE_CACHE_BYTES = 256 * 2**20


@dataclass
class _Views:
    """What each flavor sees at one revision."""

    ids: dict[tuple[Flavor, str], list[str]] = field(default_factory=dict)
    visible: dict[tuple[Flavor, str], set[str]] = field(default_factory=dict)
    perm_views: dict[str, tuple[str, str]] = field(default_factory=dict)  # id → (folder, perm)
    folder_perms: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by source
    source: dict[str, str] = field(default_factory=dict)  # folder → whose permissions apply
    # Secret permissions in effect, made on first use (several per secret: the largest
    # listing by far): id → (secret, the permission record, inherited from the folder), and
    # each secret's ids in order.
    secret_perm_views: dict[str, tuple[str, dict[str, Any], bool]] | None = None
    secret_perms: dict[str, list[str]] = field(default_factory=dict)
    user_groups: dict[str, list[str]] = field(default_factory=dict)
    folder_secrets: dict[str, list[str]] = field(default_factory=dict)


class Tenant:
    """One practice tenant, served in two flavors. Thread-safe: one lock guards every write."""

    def __init__(self, tf: TenantFile):
        self.name = tf.tenant
        self.file = tf
        self.service_user = tf.service_account.user
        self.max_results = tf.limits.max_results
        self.lock = threading.RLock()
        self.rev = 0
        self._next = 1000
        stamp = _now()

        def meta() -> dict[str, Any]:
            return {"created": stamp, "modified": stamp, "version": 1}

        self.users: dict[str, dict[str, Any]] = {
            u.id: {"id": u.id, "userName": u.userName, "displayName": u.displayName,
                   "active": u.active, "email": u.email, "externalId": u.externalId, **meta()}
            for u in tf.users}
        self.groups: dict[str, dict[str, Any]] = {
            g.id: {"id": g.id, "displayName": g.displayName, "members": list(g.members),
                   "platform": g.platform, "secret_server": g.secret_server,
                   "externalId": g.externalId, **meta()}
            for g in tf.groups}
        self.folders: dict[str, dict[str, Any]] = {
            f.id: {"id": f.id, "name": f.name, "parent": f.parent, "inherit": folder_inherits(f),
                   "description": None, "externalId": None, **meta()}
            for f in tf.folders}
        self.perms: dict[str, dict[str, Any]] = {}
        for p in tf.permissions:
            pid = self.new_id(self.perms)
            kind, principal = p.principal
            self.perms[pid] = {"id": pid, "folder": p.folder, "kind": kind,
                               "principal": principal, "rights": list(p.rights),
                               "secret_role": p.secret_role, "externalId": None, **meta()}
        self.secrets: dict[str, dict[str, Any]] = {
            s.id: {"id": s.id, "name": s.name, "folder": s.folder, "template": s.template,
                   "permissions": None if s.permissions is None else [
                       {"id": self.new_id(self.perms), "kind": g.principal[0],
                        "principal": g.principal[1], "rights": list(g.rights),
                        "externalId": None, **meta()} for g in s.permissions],
                   "externalId": None, **meta()}
            for s in tf.secrets}
        self._views: _Views | None = None
        self._views_rev = -1
        self._rendered: dict[tuple[Any, ...], bytes] = {}
        self._pages: dict[tuple[Any, ...], bytes] = {}
        self._pages_size = 0
        self._models: dict[tuple[Flavor, str, str], Any] = {}

    # ------------------------------------------------------------------ bookkeeping
    def new_id(self, table: dict[str, Any]) -> str:
        while str(self._next) in table:
            self._next += 1
        self._next += 1
        return str(self._next - 1)

    def _touch(self, rec: dict[str, Any]) -> None:
        rec["modified"] = _now()
        rec["version"] += 1

    def _changed(self) -> None:
        self.rev += 1
        self._rendered.clear()
        self._pages.clear()
        self._pages_size = 0
        self._models.clear()

    # ------------------------------------------------------------------ derived views
    def _groups_of(self, member: str) -> set[str]:
        """Groups a user or group belongs to, directly or through nesting."""
        parents: dict[str, list[str]] = {}
        for g in self.groups.values():
            for m in g["members"]:
                parents.setdefault(m, []).append(g["id"])
        out: set[str] = set()
        todo = [member]
        while todo:
            for gid in parents.get(todo.pop(), []):
                if gid not in out:
                    out.add(gid)
                    todo.append(gid)
        return out

    def folder_source(self, fid: str) -> str:
        """The folder whose own permissions apply to fid (itself unless it inherits)."""
        seen = 0
        while self.folders[fid]["inherit"] and self.folders[fid]["parent"] is not None:
            fid = self.folders[fid]["parent"]
            seen += 1
            if seen > len(self.folders):  # a cycle cannot be built, but never loop forever
                break
        return fid

    def views(self) -> _Views:
        with self.lock:
            if self._views is not None and self._views_rev == self.rev:
                return self._views
            v = _Views()
            sa = self.service_user
            sa_groups = self._groups_of(sa)

            def names_sa(g: dict[str, Any]) -> bool:
                return ((g["kind"] == "user" and g["principal"] == sa)
                        or (g["kind"] == "group" and g["principal"] in sa_groups))

            def sa_owns(grants: Iterable[dict[str, Any]]) -> bool:
                return any(g["rights"] and g["rights"][0] == "Owner" and names_sa(g)
                           for g in grants)

            perms_by_folder: dict[str, list[dict[str, Any]]] = {}
            for p in self.perms.values():
                perms_by_folder.setdefault(p["folder"], []).append(p)
            source = {fid: self.folder_source(fid) for fid in self.folders}
            owned_sources = {s for s in set(source.values()) if sa_owns(perms_by_folder.get(s, []))}
            # Secret Server's folder permissions carry a secret role apart from the folder
            # role: a folder Owner holding View on the secrets sees no secret (FAQ: Get All
            # PrivilegedData needs Owner on each secret).
            secrets_owned_sources = {s for s in set(source.values()) if any(
                names_sa(p) and secret_role(p) == "Owner" for p in perms_by_folder.get(s, []))}

            v.ids["cloud", "User"] = list(self.users)
            v.ids["onprem", "User"] = [u for u, r in self.users.items() if r["active"]]
            v.ids["cloud", "Group"] = [g for g, r in self.groups.items() if r["platform"]]
            v.ids["onprem", "Group"] = [g for g, r in self.groups.items() if r["secret_server"]]
            v.ids["onprem", "Container"] = list(self.folders)
            v.ids["cloud", "Container"] = [f for f in self.folders if source[f] in owned_sources]
            for flavor in ("cloud", "onprem"):
                ids = []
                for fid in v.ids[flavor, "Container"]:
                    for p in perms_by_folder.get(source[fid], []):
                        vid = p["id"] if source[fid] == fid else f"{p['id']}-{fid}"
                        v.perm_views[vid] = (fid, p["id"])
                        ids.append(vid)
                v.ids[flavor, "ContainerPermission"] = ids
            v.ids["onprem", "PrivilegedData"] = list(self.secrets)
            v.ids["cloud", "PrivilegedData"] = [
                s for s, r in self.secrets.items()
                if (sa_owns(r["permissions"]) if r["permissions"] is not None
                    else r["folder"] is not None
                    and source[r["folder"]] in secrets_owned_sources)]
            v.source, v.folder_perms = source, perms_by_folder
            for key, ids in v.ids.items():
                v.visible[key] = set(ids)
            for g in self.groups.values():
                for m in g["members"]:
                    v.user_groups.setdefault(m, []).append(g["id"])
            for s in self.secrets.values():
                if s["folder"] is not None:
                    v.folder_secrets.setdefault(s["folder"], []).append(s["id"])
            self._views, self._views_rev = v, self.rev
            return v

    def views_of(self, kind: str) -> _Views:
        """The views, with what `kind` needs made: secret permissions only when asked for."""
        with self.lock:
            v = self.views()
            if kind == "PrivilegedDataPermission" and v.secret_perm_views is None:
                self._secret_permission_views(v)
            return v

    def _secret_permission_views(self, v: _Views) -> None:
        """The secret permissions in effect on each secret: its own, or else its folder's
        permissions with their secret roles (ids `<folder permission id>-<secret id>`)."""
        views: dict[str, tuple[str, dict[str, Any], bool]] = {}
        for sid, s in self.secrets.items():
            listed = v.secret_perms[sid] = []
            if s["permissions"] is not None:
                for g in s["permissions"]:
                    views[g["id"]] = (sid, g, False)
                    listed.append(g["id"])
            elif s["folder"] is not None:
                for p in v.folder_perms.get(v.source[s["folder"]], []):
                    vid = f"{p['id']}-{sid}"
                    views[vid] = (sid, p, True)
                    listed.append(vid)
        for flavor in ("cloud", "onprem"):
            ids = [i for sid in v.ids[flavor, "PrivilegedData"] for i in v.secret_perms[sid]]
            v.ids[flavor, "PrivilegedDataPermission"] = ids
            v.visible[flavor, "PrivilegedDataPermission"] = set(ids)
        v.secret_perm_views = views

    def ids(self, flavor: Flavor, kind: str) -> list[str]:
        return self.views_of(kind).ids[flavor, kind]

    def is_visible(self, flavor: Flavor, kind: str, rid: str) -> bool:
        return rid in self.views_of(kind).visible[flavor, kind]

    def sa_owns_secret(self, sid: str) -> bool:
        return self.is_visible("cloud", "PrivilegedData", sid)

    def sa_owns_folder(self, fid: str) -> bool:
        return self.is_visible("cloud", "Container", fid)

    # ------------------------------------------------------------------ rendering
    def render(self, flavor: Flavor, kind: str, rid: str, base: str) -> dict[str, Any]:
        """The SCIM representation of one visible resource (base: the flavor's /v2 URL)."""
        v = self.views_of(kind)
        # The on-prem connector writes $ref paths in lower case (seen in its real output).
        ref_base = base
        seg = (lambda k: ENDPOINTS[k].lower()) if flavor == "onprem" else ENDPOINTS.__getitem__

        def ref(k: str, i: str, display: str | None, **extra: Any) -> dict[str, Any]:
            out = {"value": i, "$ref": f"{ref_base}/{seg(k)}/{i}", **extra}
            if display is not None:
                out["display"] = display
            return out

        if kind == "ContainerPermission":
            fid, pid = v.perm_views[rid]
            rec = self.perms[pid]
        elif kind == "PrivilegedDataPermission":
            sid, rec, inherited = self._secret_perm_view(rid)
        else:
            rec = getattr(self, _TABLE[kind])[rid]
        out: dict[str, Any] = {"schemas": [_URN[kind]], "id": rid}
        if kind == "User":
            out["userName"] = rec["userName"].lower() if flavor == "cloud" else rec["userName"]
            if rec["displayName"]:
                out["displayName"] = rec["displayName"]
            out["active"] = rec["active"]
            if rec["email"]:
                out["emails"] = [{"value": rec["email"], "type": "work", "primary": True}]
            visible_groups = v.visible[flavor, "Group"]
            groups = [ref("Group", g, self.groups[g]["displayName"], type="direct")
                      for g in v.user_groups.get(rid, []) if g in visible_groups]
            if groups:
                out["groups"] = groups
        elif kind == "Group":
            out["displayName"] = rec["displayName"]
            members = []
            for m in rec["members"]:
                if m in self.users and m in v.visible[flavor, "User"]:
                    u = self.users[m]
                    members.append(ref("User", m, u["displayName"] or u["userName"], type="User"))
                elif m in self.groups and m in v.visible[flavor, "Group"]:
                    members.append(ref("Group", m, self.groups[m]["displayName"], type="Group"))
            out["members"] = members
        elif kind == "Container":
            out["name"] = rec["name"]
            out["displayName"] = rec["name"]
            if rec["description"]:
                out["description"] = rec["description"]
            if rec["parent"] is not None:
                out["parent"] = ref("Container", rec["parent"], self.folders[rec["parent"]]["name"])
            visible_secrets = v.visible[flavor, "PrivilegedData"]
            out["privilegedData"] = [
                ref("PrivilegedData", s, self.secrets[s]["name"], type=self.secrets[s]["template"])
                for s in v.folder_secrets.get(rid, []) if s in visible_secrets]
        elif kind in ("ContainerPermission", "PrivilegedDataPermission"):
            if kind == "ContainerPermission":
                folder = self.folders[fid]
                out["container"] = ref("Container", fid, folder["name"], name=folder["name"])
                rights = rec["rights"]
            else:
                secret = self.secrets[sid]
                out["privilegedData"] = ref("PrivilegedData", sid, secret["name"],
                                            name=secret["name"])
                # Inherited: the folder permission's secret role; own: its rights as set.
                rights = [secret_role(rec)] if inherited else rec["rights"]
            if rec["kind"] == "user":
                u = self.users[rec["principal"]]
                out["user"] = ref("User", u["id"], u["displayName"] or u["userName"])
            else:
                out["group"] = ref("Group", rec["principal"],
                                   self.groups[rec["principal"]]["displayName"])
            out["rights"] = list(rights[:1] if flavor == "cloud" else rights)
        elif kind == "PrivilegedData":
            out["name"] = rec["name"]
            out["type"] = rec["template"]
            if rec["folder"] is not None:
                out["container"] = ref("Container", rec["folder"],
                                       self.folders[rec["folder"]]["name"])
        if rec.get("externalId"):
            out["externalId"] = rec["externalId"]
        out["meta"] = {"resourceType": kind, "created": rec["created"],
                       "lastModified": rec["modified"],
                       "location": f"{base}/{ENDPOINTS[kind]}/{rid}",
                       "version": f'W/"{rec["version"]}"'}
        return out

    def render_bytes(self, flavor: Flavor, kind: str, rid: str, base: str,
                     projection: Any = None) -> bytes:
        """The resource's JSON, cached per revision (and per attribute projection)."""
        key = (flavor, kind, rid) if projection is None else (flavor, kind, rid, projection.key)
        cached = self._rendered.get(key)
        if cached is None:
            doc = self.render(flavor, kind, rid, base)
            if projection is not None:
                doc = projection.apply(doc)
            # orjson's bytes keep a ~4 KB allocation whatever their size: copying to an exact-size
            # object cuts the cache from ~1 GB to ~170 MB at 100,000 secrets.
            cached = bytes(memoryview(orjson.dumps(doc)))
            self._rendered[key] = cached
        return cached

    def render_joined(self, flavor: Flavor, kind: str, ids: list[str], base: str,
                      projection: Any = None) -> bytes:
        """The comma-joined JSON of these resources, as a list answer's `Resources` holds it."""
        return b",".join([self.render_bytes(flavor, kind, i, base, projection) for i in ids])

    def render_page(self, flavor: Flavor, kind: str, start: int, count: int, base: str,
                    projection: Any = None) -> bytes:
        """The comma-joined JSON of resources start … start+count-1 (1-based) of an unfiltered
        listing, cached per revision: a client paging through a tenant asks for the same
        pages again, and one cached page answers in one lookup instead of a thousand."""
        key = (flavor, kind, start, count, None if projection is None else projection.key)
        page = self._pages.get(key)
        if page is None:
            ids = self.ids(flavor, kind)[start - 1:start - 1 + count]
            page = self.render_joined(flavor, kind, ids, base, projection)
            if self._pages_size + len(page) > PAGE_CACHE_BYTES:
                self._pages.clear()  # a bound, not an LRU: pages are cheap to join again
                self._pages_size = 0
            self._pages[key] = page
            self._pages_size += len(page)
        return page

    def model(self, flavor: Flavor, kind: str, rid: str, base: str) -> Any:
        """The resource as a scim2-models instance, for filter evaluation; None if invalid."""
        key = (flavor, kind, rid)
        if key not in self._models:
            try:
                self._models[key] = urn.models()[kind].model_validate(
                    self.render(flavor, kind, rid, base),
                    scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
            except ValidationError:
                self._models[key] = None
        return self._models[key]

    # ------------------------------------------------------------------ lookups
    def get(self, flavor: Flavor, kind: str, rid: str) -> None:
        """Raise 404 unless the resource exists and the flavor may see it."""
        if not self.is_visible(flavor, kind, rid):
            if kind == "PrivilegedDataPermission" and self.is_visible("onprem", kind, rid):
                raise access_denied()  # TRB: reading one without Owner on the secret is a 403
            raise not_found(kind, rid)

    def index_lookup(self, flavor: Flavor, kind: str, attr: str, value: Any) -> list[str] | None:
        """Ids whose attr equals value, for the attributes worth an index; None otherwise."""
        if not isinstance(value, str):
            return None
        a = attr.lower()
        v = self.views_of(kind)
        vis = v.visible[flavor, kind]
        if a == "id":
            if kind == "ContainerPermission":
                return [value] if value in vis else []
            return [value] if value in vis else []
        fold = value.lower()
        if kind == "User" and a == "username":
            return [u for u, r in self.users.items() if r["userName"].lower() == fold
                    and u in vis]
        if kind == "Group" and a == "displayname":
            return [g for g, r in self.groups.items()
                    if r["displayName"].lower() == fold and g in vis]
        if kind == "ContainerPermission" and a in ("container.value", "container"):
            return [i for i in v.ids[flavor, kind] if v.perm_views[i][0] == value]
        if kind == "PrivilegedData" and a in ("container.value", "container"):
            return [s for s in v.folder_secrets.get(value, []) if s in vis]
        if kind == "PrivilegedDataPermission" and a in ("privilegeddata.value", "privilegeddata"):
            return [i for i in v.secret_perms.get(value, []) if i in vis]
        return None

    # ------------------------------------------------------------------ writes
    def create(self, flavor: Flavor, kind: str, body: dict[str, Any]) -> str:
        with self.lock:
            model = _validate(kind, body, Context.RESOURCE_CREATION_REQUEST)
            rid = getattr(self, f"_write_{kind}")(flavor, None, model)
            self._changed()
            return rid

    def replace(self, flavor: Flavor, kind: str, rid: str, body: dict[str, Any]) -> None:
        with self.lock:
            self.get(flavor, kind, rid)
            model = _validate(kind, body, Context.RESOURCE_REPLACEMENT_REQUEST)
            getattr(self, f"_write_{kind}")(flavor, rid, model)
            self._changed()

    def patch(self, flavor: Flavor, kind: str, rid: str, body: dict[str, Any],
              base: str) -> None:
        with self.lock:
            self.get(flavor, kind, rid)
            model_cls = urn.models()[kind]
            current = model_cls.model_validate(self.render(flavor, kind, rid, base),
                                               scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
            if kind == "User":
                kept = _without_ignored_operations(body)
                if kept is None:
                    return  # only attributes the tenant does not keep: nothing changes
                body = kept
            try:
                op = PatchOp[model_cls].model_validate(  # type: ignore[index]
                    body, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
                op.patch(current)
            except ValidationError as exc:
                raise _from_validation(exc) from None
            except SCIMException as exc:
                raise _from_scim_exception(exc) from None
            if kind == "Container" and current.privileged_data is None:
                # The patched resource is whole, so no privilegedData means an explicit
                # remove (unlike a PUT that leaves the attribute out): empty the folder.
                current.privileged_data = []
            getattr(self, f"_write_{kind}")(flavor, rid, current)
            self._changed()

    def delete(self, flavor: Flavor, kind: str, rid: str) -> None:
        with self.lock:
            self.get(flavor, kind, rid)
            getattr(self, f"_delete_{kind}")(flavor, rid)
            self._changed()

    # Users ---------------------------------------------------------------
    def _write_User(self, flavor: Flavor, rid: str | None, m: Any) -> str:
        user_name = m.user_name
        if flavor == "cloud":
            user_name = user_name.lower()
        for other in self.users.values():
            if other["id"] != rid and other["userName"].lower() == user_name.lower():
                raise uniqueness("userName")
        email = None
        if m.emails:
            primary = [e for e in m.emails if e.primary] or list(m.emails)
            email = primary[0].value
        active = True if m.active is None else bool(m.active)
        rec = self.users.get(rid) if rid else None
        if rec is None:
            rid = self.new_id(self.users)
            stamp = _now()
            rec = self.users[rid] = {"id": rid, "created": stamp, "modified": stamp, "version": 1}
        else:
            self._touch(rec)
        rec.update(userName=user_name, displayName=m.display_name, active=active, email=email,
                   externalId=m.external_id)
        return rid

    def _delete_User(self, flavor: Flavor, rid: str) -> None:
        if flavor == "onprem":
            # Secret Server keeps users for audit: the connector's DELETE disables.
            self.users[rid]["active"] = False
            self._touch(self.users[rid])
            return
        del self.users[rid]
        for g in self.groups.values():
            if rid in g["members"]:
                g["members"].remove(rid)
        self._drop_grants("user", rid)

    def _drop_grants(self, kind: str, principal: str) -> None:
        for pid in [p for p, r in self.perms.items()
                    if r["kind"] == kind and r["principal"] == principal]:
            del self.perms[pid]
        for s in self.secrets.values():
            if s["permissions"]:
                s["permissions"] = [g for g in s["permissions"]
                                    if not (g["kind"] == kind and g["principal"] == principal)]

    # Groups --------------------------------------------------------------
    def _write_Group(self, flavor: Flavor, rid: str | None, m: Any) -> str:
        members: list[str] = []
        for member in m.members or []:
            mid = member.value
            if mid in self.users:
                if flavor == "onprem" and not self.users[mid]["active"]:
                    raise invalid_value(f"'{mid}' not found or disabled.")
            elif mid not in self.groups or mid == rid:
                raise invalid_value(f"Member '{mid}' is not a user or group of this tenant.")
            if mid not in members:
                members.append(mid)
        for other in self.groups.values():
            if (other["id"] != rid and other["displayName"].lower() == m.display_name.lower()
                    and self.is_visible(flavor, "Group", other["id"])):
                raise uniqueness("displayName")
        rec = self.groups.get(rid) if rid else None
        if rec is None:
            rid = self.new_id(self.groups)
            stamp = _now()
            # A group made through the cloud connector is a Platform group that Secret Server
            # has not synced yet; one made on-prem exists only in Secret Server.
            rec = self.groups[rid] = {"id": rid, "created": stamp, "modified": stamp, "version": 1,
                                      "platform": flavor == "cloud",
                                      "secret_server": flavor == "onprem"}
        else:
            self._touch(rec)
            # The on-prem view cannot see disabled users, so keeping them is not a removal.
            if flavor == "onprem":
                members += [u for u in rec["members"]
                            if u in self.users and not self.users[u]["active"]]
            hidden = {g for g in rec["members"] if g in self.groups
                      and not self.is_visible(flavor, "Group", g)}
            members += [g for g in hidden if g not in members]
        if rid in self._groups_of_members(members):
            raise invalid_value("Membership would make a group a member of itself.")
        rec.update(displayName=m.display_name, members=members, externalId=m.external_id)
        return rid

    def _groups_of_members(self, members: list[str]) -> set[str]:
        out: set[str] = set()
        todo = [g for g in members if g in self.groups]
        while todo:
            g = todo.pop()
            if g not in out:
                out.add(g)
                todo.extend(x for x in self.groups[g]["members"] if x in self.groups)
        return out

    def _delete_Group(self, flavor: Flavor, rid: str) -> None:
        del self.groups[rid]
        for g in self.groups.values():
            if rid in g["members"]:
                g["members"].remove(rid)
        self._drop_grants("group", rid)

    # Containers ------------------------------------------------------------
    def _write_Container(self, flavor: Flavor, rid: str | None, m: Any) -> str:
        parent = m.parent.value if m.parent is not None and m.parent.value else None
        if parent in ("-1", ""):
            parent = None  # Secret Server's root
        if parent is not None:
            if parent not in self.folders or not self.is_visible(flavor, "Container", parent):
                raise invalid_value(f"Parent container '{parent}' not found.")
            p = parent
            while p is not None:
                if p == rid:
                    raise invalid_value("A container cannot be moved below itself.")
                p = self.folders[p]["parent"]
        rec = self.folders.get(rid) if rid else None
        creating = rec is None
        if creating:
            rid = self.new_id(self.folders)
            stamp = _now()
            rec = self.folders[rid] = {"id": rid, "created": stamp, "modified": stamp,
                                       "version": 1, "inherit": parent is not None,
                                       "externalId": None}
        assert rid is not None
        # An update without privilegedData leaves the folder's secrets where they are: moving
        # every secret out because a client omitted the attribute would be a disaster.
        if m.privileged_data is not None:
            self._move_secrets(flavor, rid, [r.value for r in m.privileged_data], creating)
        if not creating:
            self._touch(rec)
        rec.update(name=m.name, parent=parent, description=m.description,
                   externalId=m.external_id)
        if creating and flavor == "cloud" and parent is None:
            # Secret Server makes the creator of a root folder its Owner.
            pid = self.new_id(self.perms)
            stamp = _now()
            self.perms[pid] = {"id": pid, "folder": rid, "kind": "user",
                               "principal": self.service_user, "rights": ["Owner"],
                               "secret_role": None, "externalId": None, "created": stamp,
                               "modified": stamp, "version": 1}
        return rid

    def _move_secrets(self, flavor: Flavor, fid: str, wanted: list[str], creating: bool) -> None:
        current = set() if creating else set(self.views().folder_secrets.get(fid, []))
        if flavor == "cloud":
            # Only the secrets the service account owns are visible (and settable) on cloud.
            current = {s for s in current if self.sa_owns_secret(s)}
        for sid in wanted:
            if sid not in self.secrets:
                raise invalid_value(f"PrivilegedData '{sid}' not found.")
        changed = set(wanted) ^ current
        if flavor == "cloud":
            for sid in changed:
                if not self.sa_owns_secret(sid):
                    # FAQ: adding or removing privileged data needs Owner on the secret.
                    raise access_denied(
                        f"Access Denied: the service account is not Owner of secret '{sid}'.")
        for sid in changed:
            s = self.secrets[sid]
            s["folder"] = fid if sid in wanted else None
            self._touch(s)

    def _delete_Container(self, flavor: Flavor, rid: str) -> None:
        if any(f["parent"] == rid for f in self.folders.values()):
            raise ScimError(409, "The container holds other containers; delete them first.",
                            "mutability")
        if rid in self.views().folder_secrets:
            raise ScimError(409, "The container holds privileged data; move or delete it first.",
                            "mutability")
        del self.folders[rid]
        for pid in [p for p, r in self.perms.items() if r["folder"] == rid]:
            del self.perms[pid]

    # ContainerPermissions ---------------------------------------------------
    def _write_ContainerPermission(self, flavor: Flavor, rid: str | None, m: Any) -> str:
        if (m.user is None) == (m.group is None):
            raise invalid_value("A ContainerPermission names exactly one of 'user' or 'group'.")
        fid = m.container.value if m.container is not None else None
        if not fid or fid not in self.folders or not self.is_visible(flavor, "Container", fid):
            if fid in self.folders and flavor == "cloud":
                raise access_denied()
            raise invalid_value(f"Container '{fid}' not found.")
        rights = [r for r in (m.rights or []) if r]
        if not rights:
            raise ScimError(400, "Attribute 'rights' is required.", "invalidValue")
        for r in rights:
            if r not in FOLDER_RIGHTS:
                raise invalid_value(f"The 'rights' attribute was invalid: {r!r} "
                                    f"(use {', '.join(FOLDER_RIGHTS)}).")
        if flavor == "cloud":
            rights = rights[:1]  # FAQ: the Platform keeps only the first right
        kind, principal = self._grantee(flavor, m)
        if rid is not None:
            pid = self.views().perm_views[rid][1]
            if pid != rid:
                raise ScimError(400, "This permission is inherited from a parent folder; "
                                "change it there, or break inheritance first.", "mutability")
            rec = self.perms[pid]
            if fid != rec["folder"] or (kind, principal) != (rec["kind"], rec["principal"]):
                raise ScimError(400, "Attribute 'container', 'user' and 'group' are immutable "
                                "and cannot be changed.", "mutability")
            self._touch(rec)
            rec.update(rights=rights, externalId=m.external_id)
            return rid
        if self.folders[fid]["inherit"]:
            self._break_inheritance(fid)
        for p in self.perms.values():
            if p["folder"] == fid and (p["kind"], p["principal"]) == (kind, principal):
                raise uniqueness("container, user/group")
        pid = self.new_id(self.perms)
        stamp = _now()
        # A SCIM write sets the folder role; the secret role follows it (see docs/connectors.md).
        self.perms[pid] = {"id": pid, "folder": fid, "kind": kind, "principal": principal,
                           "rights": rights, "secret_role": None, "externalId": m.external_id,
                           "created": stamp, "modified": stamp, "version": 1}
        return pid

    def _grantee(self, flavor: Flavor, m: Any) -> tuple[str, str]:
        """(kind, id) of the one user or group a permission names, if it may be granted."""
        if m.user is not None:
            kind, principal = "user", m.user.value
            u = self.users.get(principal)
            if u is None or not self.is_visible(flavor, "User", principal):
                raise invalid_value(f"'{principal}' not found or disabled.")
            if not u["active"]:
                raise invalid_value(f"'{principal}' not found or disabled.")
        else:
            kind, principal = "group", m.group.value
            g = self.groups.get(principal)
            if g is None or not self.is_visible(flavor, "Group", principal):
                raise invalid_value(f"Group '{principal}' not found.")
            if not g["secret_server"]:
                raise invalid_value(
                    f"Group '{g['displayName']}' has not been synchronized to Secret Server yet; "
                    "run Platform Groups Sync, then retry.")
        return kind, principal

    def _break_inheritance(self, fid: str) -> None:
        """Copy the inherited permissions onto the folder, as Secret Server does."""
        source = self.folder_source(fid)
        stamp = _now()
        for p in [p for p in self.perms.values() if p["folder"] == source]:
            pid = self.new_id(self.perms)
            self.perms[pid] = {**p, "id": pid, "folder": fid, "rights": list(p["rights"]),
                               "externalId": None, "created": stamp, "modified": stamp,
                               "version": 1}
        # Subfolders that inherited through fid keep seeing the same permissions.
        self.folders[fid]["inherit"] = False

    def _delete_ContainerPermission(self, flavor: Flavor, rid: str) -> None:
        pid = self.views().perm_views[rid][1]
        if pid != rid:
            raise ScimError(400, "This permission is inherited from a parent folder; "
                            "delete it there, or break inheritance first.", "mutability")
        del self.perms[pid]

    # PrivilegedData ---------------------------------------------------------
    def _write_PrivilegedData(self, flavor: Flavor, rid: str | None, m: Any) -> str:
        fid = m.container.value if m.container is not None and m.container.value else None
        if fid is not None and (fid not in self.folders
                                or not self.is_visible(flavor, "Container", fid)):
            raise invalid_value(f"Container '{fid}' not found.")
        if flavor == "cloud" and fid is None:
            raise invalid_value("Attribute 'container' is required.")
        rec = self.secrets.get(rid) if rid else None
        if rec is None:
            rid = self.new_id(self.secrets)
            stamp = _now()
            rec = self.secrets[rid] = {"id": rid, "created": stamp, "modified": stamp,
                                       "version": 1, "permissions": None}
        else:
            self._touch(rec)
        rec.update(name=m.name, template=m.type or "Password", folder=fid,
                   externalId=m.external_id)
        return rid

    def _delete_PrivilegedData(self, flavor: Flavor, rid: str) -> None:
        del self.secrets[rid]

    # PrivilegedDataPermissions ------------------------------------------------
    def _write_PrivilegedDataPermission(self, flavor: Flavor, rid: str | None, m: Any) -> str:
        _secret_permissions_read_only(flavor)
        if (m.user is None) == (m.group is None):
            raise invalid_value("A PrivilegedDataPermission names exactly one of 'user' or "
                                "'group'.")
        sid = m.privileged_data.value if m.privileged_data is not None else None
        if not sid or sid not in self.secrets:
            raise invalid_value(f"PrivilegedData '{sid}' not found.")
        rights = [r for r in (m.rights or []) if r]
        if not rights:
            raise ScimError(400, "Attribute 'rights' is required.", "invalidValue")
        # The connector gives a value its mapping does not know the View role.
        rights = [r if r in SECRET_RIGHTS else "View" for r in rights]
        kind, principal = self._grantee(flavor, m)
        secret = self.secrets[sid]
        if rid is not None:
            owner, rec, inherited = self._secret_perm_view(rid)
            if inherited:
                raise ScimError(400, "This permission is inherited from the secret's folder; "
                                "change it there, or break the secret's inheritance first.",
                                "mutability")
            if sid != owner or (kind, principal) != (rec["kind"], rec["principal"]):
                raise ScimError(400, "Attribute 'privilegedData', 'user' and 'group' are "
                                "immutable and cannot be changed.", "mutability")
            self._touch(rec)
            rec.update(rights=rights, externalId=m.external_id)
            return rid
        if secret["permissions"] is None:
            self._break_secret_inheritance(sid)
        if any((g["kind"], g["principal"]) == (kind, principal) for g in secret["permissions"]):
            raise uniqueness("privilegedData, user/group")
        stamp = _now()
        pid = self.new_id(self.perms)
        secret["permissions"].append({"id": pid, "kind": kind, "principal": principal,
                                      "rights": rights, "externalId": m.external_id,
                                      "created": stamp, "modified": stamp, "version": 1})
        return pid

    def _secret_perm_view(self, rid: str) -> tuple[str, dict[str, Any], bool]:
        views = self.views_of("PrivilegedDataPermission").secret_perm_views
        assert views is not None
        return views[rid]

    def _break_secret_inheritance(self, sid: str) -> None:
        """Copy the folder's permissions onto the secret with their secret roles, as Secret
        Server does when a secret stops inheriting."""
        folder = self.secrets[sid]["folder"]
        source = self.folder_source(folder) if folder is not None else None
        stamp = _now()
        self.secrets[sid]["permissions"] = [
            {"id": self.new_id(self.perms), "kind": p["kind"], "principal": p["principal"],
             "rights": [secret_role(p)], "externalId": None, "created": stamp,
             "modified": stamp, "version": 1}
            for p in list(self.perms.values()) if p["folder"] == source]

    def _delete_PrivilegedDataPermission(self, flavor: Flavor, rid: str) -> None:
        _secret_permissions_read_only(flavor)
        sid, rec, inherited = self._secret_perm_view(rid)
        if inherited:
            raise ScimError(400, "This permission is inherited from the secret's folder; "
                            "delete it there, or break the secret's inheritance first.",
                            "mutability")
        self.secrets[sid]["permissions"].remove(rec)

    # ------------------------------------------------------------------ sandbox admin
    def sync_groups(self) -> int:
        """Platform Groups Sync: every Platform group now exists in Secret Server."""
        with self.lock:
            n = 0
            for g in self.groups.values():
                if g["platform"] and not g["secret_server"]:
                    g["secret_server"] = True
                    self._touch(g)
                    n += 1
            self._changed()
            return n


def _secret_permissions_read_only(flavor: Flavor) -> None:
    if flavor == "cloud":
        # TRB: "the Platform prevents the creation of privileged data and privileged data
        # permissions"; the status is our choice (the document gives none).
        raise access_denied("Access Denied: the Delinea Platform does not create, change or "
                            "delete privileged data permissions; manage secret permissions in "
                            "Secret Server.")


_TABLE = {"User": "users", "Group": "groups", "Container": "folders",
          "PrivilegedData": "secrets"}
_URN = {"User": urn.USER, "Group": urn.GROUP, "Container": urn.CONTAINER,
        "ContainerPermission": urn.CONTAINER_PERMISSION, "PrivilegedData": urn.PRIVILEGED_DATA,
        "PrivilegedDataPermission": urn.PRIVILEGED_DATA_PERMISSION}


def _validate(kind: str, body: dict[str, Any], ctx: Context) -> Any:
    if not isinstance(body, dict):
        raise ScimError(400, "The request body must be a JSON object.", "invalidSyntax")
    body = {k: v for k, v in body.items() if k.lower() != "meta"}  # FAQ: client meta is ignored
    if kind == "User":
        body = {k: v for k, v in body.items() if _user_attribute(k) not in
                urn.IGNORED_USER_ATTRIBUTES}
    try:
        return urn.models()[kind].model_validate(body, scim_ctx=ctx)
    except ValidationError as exc:
        raise _from_validation(exc) from None
    except SCIMException as exc:
        raise _from_scim_exception(exc) from None


def _user_attribute(path: str) -> str:
    """The top-level attribute a User attribute path names, lower-cased."""
    p = path.strip()
    if p.lower().startswith(urn.USER.lower() + ":"):
        p = p[len(urn.USER) + 1:]
    return p.split("[", 1)[0].split(".", 1)[0].lower()


def _without_ignored_operations(body: dict[str, Any]) -> dict[str, Any] | None:
    """A User PatchOp without the operations on core attributes the tenant does not keep;
    None if that leaves none of the operations sent."""
    key = next((k for k in body if k.lower() == "operations"), None)
    ops = body.get(key) if key else None
    if not isinstance(ops, list) or not ops:
        return body  # let validation say what is wrong
    kept: list[Any] = []
    for op in ops:
        if isinstance(op, dict):
            path = op.get("path")
            if isinstance(path, str) and _user_attribute(path) in urn.IGNORED_USER_ATTRIBUTES:
                continue
            value = op.get("value")
            if path is None and isinstance(value, dict):
                value = {k: v for k, v in value.items()
                         if _user_attribute(k) not in urn.IGNORED_USER_ATTRIBUTES}
                if not value:
                    continue
                op = {**op, "value": value}
        kept.append(op)
    if not kept:
        return None
    return {**{k: v for k, v in body.items() if k != key}, "Operations": kept}


def _from_validation(exc: ValidationError) -> ScimError:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if not isinstance(p, int)) or "body"
    if err["type"] == "missing":
        return ScimError(400, f"Attribute '{loc}' is required.", "invalidValue")
    ctx = err.get("ctx") or {}
    if err["type"] == "required_error" and isinstance(ctx.get("field_name"), str):
        # scim2-models' own check of a required attribute or sub-attribute.
        name = ctx["field_name"] if loc == "body" else f"{loc}.{ctx['field_name']}"
        return ScimError(400, f"Attribute '{name}' is required.", "invalidValue")
    scim_type = "invalidValue"
    if isinstance(ctx.get("error"), SCIMException):
        scim_type = getattr(ctx["error"], "scim_type", None) or scim_type
    elif isinstance(ctx.get("scim_type"), str):
        # scim2-models reports its own checks (mutability, uniqueness…) this way.
        scim_type = ctx["scim_type"]
    if loc == "body":
        return ScimError(400, f"The request was invalid: {err['msg']}", scim_type)
    return ScimError(400, f"The '{loc}' attribute was invalid: {err['msg']}", scim_type)


def _from_scim_exception(exc: SCIMException) -> ScimError:
    status = int(getattr(exc, "status", 400) or 400)
    return ScimError(status, str(exc) or "Invalid request.", getattr(exc, "scim_type", None))
