"""The practice tenant's state, its two views (cloud and on-prem) and every write rule.

Records are plain dicts indexed by id. What each flavor may see is derived lazily and cached
per revision, and each resource is rendered to JSON once per revision, so a page read is a
slice of a precomputed id list and a join of cached bytes: cheap even at 100,000 secrets.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import orjson
from pydantic import ValidationError

from . import schemas as urn
from .errors import ScimError, access_denied, invalid_value, not_found, uniqueness
from .tenantfile import (
    FOLDER_RIGHTS,
    SECRET_RIGHTS,
    TenantFile,
    derived_secret_role,
    folder_inherits,
)

# scim2-models (~0.4 s of CPU to import) is imported where a request is validated, filtered or
# patched: a tenant that is only read, as a notebook kernel's mostly is, never needs it.
if TYPE_CHECKING:
    from scim2_models import Context, SCIMException

Flavor = Literal["cloud", "onprem"]
KINDS = ("User", "Group", "Container", "ContainerPermission", "PrivilegedData",
         "PrivilegedDataPermission")
ENDPOINTS = {"User": "Users", "Group": "Groups", "Container": "Containers",
             "ContainerPermission": "ContainerPermissions", "PrivilegedData": "PrivilegedData",
             "PrivilegedDataPermission": "PrivilegedDataPermissions"}
# Writes the SCIM Cloud Connector does not offer, with what to do instead. Delinea's overview
# lists users in full, groups created and updated (Okta's guide adds delete), folders created,
# permissions added and deleted, and secrets added to or removed from folders; its
# troubleshooting page says the Platform prevents creating privileged data and privileged-data
# permissions.
CLOUD_REFUSED: dict[tuple[str, str], str] = {
    ("PrivilegedData", "POST"): "does not create privileged data: the Platform prevents it. "
    "Create the secret in Secret Server; a Container update adds it to a folder.",
    ("PrivilegedData", "PUT"): "does not change privileged data. To move a secret between "
    "folders, update the folders' privilegedData (Container PUT or PATCH).",
    ("PrivilegedData", "DELETE"): "does not delete privileged data. To take a secret out of a "
    "folder, update the folder's privilegedData (Container PUT or PATCH).",
    ("Container", "DELETE"): "does not delete folders: delete the folder in Secret Server.",
    ("ContainerPermission", "PUT"): "does not change folder permissions: delete the "
    "permission, then add the new one (DELETE, then POST).",
}
CLOUD_REFUSED.update({("PrivilegedDataPermission", method): "does not create, change or delete "
                      "privileged-data permissions: the Platform prevents it. Manage secret "
                      "permissions in Secret Server." for method in ("POST", "PUT", "DELETE")})
CLOUD_REFUSED[("PrivilegedDataPermission", "PATCH")] = CLOUD_REFUSED[
    ("PrivilegedDataPermission", "PUT")]
CLOUD_REFUSED[("PrivilegedData", "PATCH")] = CLOUD_REFUSED[("PrivilegedData", "PUT")]
CLOUD_REFUSED[("ContainerPermission", "PATCH")] = CLOUD_REFUSED[("ContainerPermission", "PUT")]
# The kinds the cloud connector serves only where the service account holds Owner. One that
# exists but is not owned is left out of lists and answers 403 when named by id (Delinea's
# troubleshooting page); the on-prem application account sees every one of them.
OWNER_GATED = frozenset({"Container", "ContainerPermission", "PrivilegedData",
                         "PrivilegedDataPermission"})


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now() -> str:
    return _stamp(datetime.now(UTC))


def secret_role(perm: dict[str, Any]) -> str:
    """The secret role a folder permission gives: as set, else derived from its first right."""
    return str(perm["secret_role"] or derived_secret_role(perm["rights"][0]))


# What each cache of JSON may hold: the pages of a scale-100 tenant several times over, and
# its resources' renderings (870,000 secret permissions among them) in part.
PAGE_CACHE_BYTES = 256 * 2**20
RENDER_CACHE_BYTES = 256 * 2**20


class _ByteCache:
    """JSON by key, emptied whenever it would grow past `budget` bytes: a bound, not an LRU,
    since what it drops is cheap to make again."""

    def __init__(self, budget: int):
        self.budget = budget
        self.size = 0
        self._items: dict[tuple[Any, ...], bytes] = {}

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        return self._items.get(key)

    def put(self, key: tuple[Any, ...], value: bytes) -> None:
        if self.size + len(value) > self.budget:
            self.clear()
        self._items[key] = value
        self.size += len(value)

    def clear(self) -> None:
        self._items.clear()
        self.size = 0


@dataclass
class _Views:
    """What each flavor sees at one revision."""

    ids: dict[tuple[Flavor, str], list[str]] = field(default_factory=dict)
    visible: dict[tuple[Flavor, str], Container[str]] = field(default_factory=dict)
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


class _OfVisibleSecrets:
    """The secret permissions a flavor sees, as a membership test: those of the secrets it
    sees. A set of their ids would hold millions of entries per flavor at scale 1,000."""

    def __init__(self, views: dict[str, tuple[str, dict[str, Any], bool]],
                 secrets: Container[str]) -> None:
        self.views, self.secrets = views, secrets

    def __contains__(self, rid: object) -> bool:
        found = self.views.get(rid) if isinstance(rid, str) else None
        return found is not None and found[0] in self.secrets


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
        self.groups_sync = tf.platform_groups_sync
        self.served_at = time.time()
        stamp = _stamp(datetime.fromtimestamp(self.served_at, UTC))

        def meta(created: datetime | None = None) -> dict[str, Any]:
            at = stamp if created is None else _stamp(created)
            return {"created": at, "modified": at, "version": 1}

        self.users: dict[str, dict[str, Any]] = {
            u.id: {"id": u.id, "userName": u.userName, "displayName": u.displayName,
                   "active": u.active, "email": u.email, "externalId": u.externalId,
                   "roles": list(u.roles), **meta()}
            for u in tf.users}
        self.groups: dict[str, dict[str, Any]] = {
            g.id: {"id": g.id, "displayName": g.displayName, "members": list(g.members),
                   "platform": g.platform, "secret_server": g.secret_server,
                   "externalId": g.externalId, **meta(g.created)}
            for g in tf.groups}
        # Platform Groups Sync's timer: group id → when its next run brings the group into
        # Secret Server. A group saved before the tenant was served missed its run (it was not
        # among the groups selected for sync) and waits for Sync Now.
        self._sync_due: dict[str, float] = {}
        self._next_sync_run = math.inf
        for g in tf.groups:
            if g.platform and not g.secret_server and (
                    g.created is None or g.created.timestamp() >= self.served_at):
                self._schedule_sync(g.id, self.served_at if g.created is None
                                    else g.created.timestamp())
        self.folders: dict[str, dict[str, Any]] = {
            f.id: {"id": f.id, "name": f.name, "parent": f.parent, "inherit": folder_inherits(f),
                   "description": None, "externalId": None, **meta()}
            for f in tf.folders}
        self.perms: dict[str, dict[str, Any]] = {}
        # Ids the file gives its permissions (a twin keeps a tenant's own): never made anew.
        self._reserved = {g.id for g in [*tf.permissions,
                                         *(g for s in tf.secrets for g in s.permissions or [])]
                          if g.id is not None}
        for p in tf.permissions:
            pid = p.id or self.new_id(self.perms)
            kind, principal = p.principal
            self.perms[pid] = {"id": pid, "folder": p.folder, "kind": kind,
                               "principal": principal, "rights": list(p.rights),
                               "secret_role": p.secret_role, "externalId": None, **meta()}
        self.secrets: dict[str, dict[str, Any]] = {
            s.id: {"id": s.id, "name": s.name, "folder": s.folder, "template": s.template,
                   "permissions": None if s.permissions is None else [
                       {"id": g.id or self.new_id(self.perms), "kind": g.principal[0],
                        "principal": g.principal[1], "rights": list(g.rights),
                        "externalId": None, **meta()} for g in s.permissions],
                   "externalId": None, **meta()}
            for s in tf.secrets}
        self._views: _Views | None = None
        self._views_rev = -1
        self._rendered = _ByteCache(RENDER_CACHE_BYTES)
        self._pages = _ByteCache(PAGE_CACHE_BYTES)
        self._models: dict[tuple[Flavor, str, str], Any] = {}

    # ------------------------------------------------------------------ bookkeeping
    def new_id(self, table: dict[str, Any]) -> str:
        while str(self._next) in table or str(self._next) in self._reserved:
            self._next += 1
        self._next += 1
        return str(self._next - 1)

    def _touch(self, rec: dict[str, Any]) -> None:
        rec["modified"] = _now()
        rec["version"] += 1

    # ------------------------------------------------------------------ Platform Groups Sync
    def _schedule_sync(self, gid: str, saved: float) -> None:
        """The timer's first run after a save: one interval after the tenant was served, then
        every interval (Secret Server: Settings > Platform Groups Sync > Configuration)."""
        interval = self.groups_sync.interval_seconds
        runs = math.floor((saved - self.served_at) / interval) + 1
        self._sync_due[gid] = self.served_at + runs * interval
        self._next_sync_run = min(self._next_sync_run, self._sync_due[gid])

    def _sync_when_due(self) -> None:
        """Run the timer lazily: on every read, before any cached view is trusted, so no thread
        is needed and a page never shows a group on one side of a run it has passed."""
        if time.time() < self._next_sync_run:
            return
        now = time.time()
        ready = [g for g, at in self._sync_due.items() if at <= now]
        for gid in ready:
            del self._sync_due[gid]
        self._next_sync_run = min(self._sync_due.values(), default=math.inf)
        self._into_secret_server(ready)

    def _into_secret_server(self, ids: list[str]) -> None:
        # The Platform group itself is unchanged (its meta stays the Platform's): the sync
        # only makes Secret Server have it.
        synced = [g for g in ids if g in self.groups and self.groups[g]["platform"]]
        for gid in synced:
            self.groups[gid]["secret_server"] = True
        if synced:
            self._changed()

    def _changed(self) -> None:
        self.rev += 1
        self._rendered.clear()
        self._pages.clear()
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
            self._sync_when_due()
            if self._views is not None and self._views_rev == self.rev:
                return self._views
            v = _Views()
            sa = self.service_user
            sa_groups = self._groups_of(sa)

            # Owner through any group the account is in, nested ones too, and through
            # inheritance: our reading of the FAQ's rule (docs/connectors.md, Assumptions).
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
            v.visible[flavor, "PrivilegedDataPermission"] = _OfVisibleSecrets(
                views, v.visible[flavor, "PrivilegedData"])
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
            if flavor == "onprem" and rec["roles"]:
                out["roles"] = [{"value": r} for r in rec["roles"]]
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
        """The resource's JSON, cached per revision (and per attribute projection). Call it
        under self.lock: a write in between could leave a stale rendering in the cache."""
        key = (flavor, kind, rid) if projection is None else (flavor, kind, rid, projection.key)
        cached = self._rendered.get(key)
        if cached is None:
            doc = self.render(flavor, kind, rid, base)
            if projection is not None:
                doc = projection.apply(doc)
            # orjson's bytes keep a ~4 KB allocation whatever their size: copying to an exact-size
            # object cuts the cache from ~1 GB to ~170 MB at 100,000 secrets.
            cached = bytes(memoryview(orjson.dumps(doc)))
            self._rendered.put(key, cached)
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
            self._pages.put(key, page)
        return page

    def model(self, flavor: Flavor, kind: str, rid: str, base: str) -> Any:
        """The resource as a scim2-models instance, for filter evaluation; None if invalid."""
        key = (flavor, kind, rid)
        if key not in self._models:
            from scim2_models import Context

            try:
                self._models[key] = urn.models()[kind].model_validate(
                    self.render(flavor, kind, rid, base),
                    scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
            except ValidationError:
                self._models[key] = None
        return self._models[key]

    # ------------------------------------------------------------------ lookups
    def get(self, flavor: Flavor, kind: str, rid: str) -> None:
        """Raise unless the flavor may see the resource (see require): 404 if not."""
        self.require(flavor, kind, rid, not_found(kind, rid))

    def require(self, flavor: Flavor, kind: str, rid: str | None, missing: ScimError) -> None:
        """Raise unless the flavor may see rid: ``missing`` if it cannot, but 403 on cloud for
        an Owner-gated resource that exists and the service account does not own."""
        if rid is not None and self.is_visible(flavor, kind, rid):
            return
        if (flavor == "cloud" and kind in OWNER_GATED and rid is not None
                and self.is_visible("onprem", kind, rid)):
            raise access_denied(f"Access Denied: the service account is not Owner of {kind} "
                                f"'{rid}'.")
        raise missing

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
    @staticmethod
    def offered(flavor: Flavor, kind: str, method: str) -> None:
        """Raise 405 for a write the flavor does not offer, naming what to do instead."""
        if flavor != "cloud" or (kind, method) not in CLOUD_REFUSED:
            return
        single = ("GET", "PUT", "PATCH", "DELETE")
        allowed = ("GET", "POST") if method == "POST" else single
        allow = ", ".join(m for m in allowed if (kind, m) not in CLOUD_REFUSED)
        raise ScimError(405, f"The SCIM Cloud Connector {CLOUD_REFUSED[kind, method]}",
                        headers={"Allow": allow})

    def create(self, flavor: Flavor, kind: str, body: dict[str, Any]) -> str:
        from scim2_models import Context

        self.offered(flavor, kind, "POST")
        with self.lock:
            model = _validate(kind, body, Context.RESOURCE_CREATION_REQUEST)
            rid = getattr(self, f"_write_{kind}")(flavor, None, model)
            self._changed()
            return rid

    def replace(self, flavor: Flavor, kind: str, rid: str, body: dict[str, Any]) -> None:
        from scim2_models import Context

        self.offered(flavor, kind, "PUT")
        with self.lock:
            self.get(flavor, kind, rid)
            model = _validate(kind, body, Context.RESOURCE_REPLACEMENT_REQUEST)
            getattr(self, f"_write_{kind}")(flavor, rid, model)
            self._changed()

    def patch(self, flavor: Flavor, kind: str, rid: str, body: dict[str, Any],
              base: str) -> None:
        from scim2_models import Context, PatchOp, SCIMException

        self.offered(flavor, kind, "PATCH")
        with self.lock:
            self.get(flavor, kind, rid)
            model_cls = urn.models()[kind]
            current = model_cls.model_validate(self.render(flavor, kind, rid, base),
                                               scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
            if kind == "User":
                if flavor == "cloud" and "roles" in _patched_user_attributes(body):
                    raise _no_cloud_roles()
                kept = _without_ignored_operations(body)
                if kept is None:
                    return  # only attributes the tenant does not keep: nothing changes
                body = kept
            try:
                # scim2-models binds a PatchOp to a model by subscripting, here one chosen at
                # run time, which mypy reads as a static type.
                op = PatchOp[model_cls].model_validate(  # type: ignore[valid-type]
                    body, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
                op.patch(current)
            except ValidationError as exc:
                raise _from_validation(exc) from None
            except SCIMException as exc:
                raise _from_scim_exception(exc) from None
            kept_list = _KEPT_WHEN_LEFT_OUT.get(kind)
            if kept_list and getattr(current, kept_list) is None:
                # The patched resource is whole, so here the list missing means an explicit
                # remove (unlike a PUT that leaves the attribute out): empty it.
                setattr(current, kept_list, [])
            getattr(self, f"_write_{kind}")(flavor, rid, current)
            self._changed()

    def delete(self, flavor: Flavor, kind: str, rid: str) -> None:
        self.offered(flavor, kind, "DELETE")
        with self.lock:
            self.get(flavor, kind, rid)
            getattr(self, f"_delete_{kind}")(flavor, rid)
            self._changed()

    # Users ---------------------------------------------------------------
    def _write_User(self, flavor: Flavor, rid: str | None, m: Any) -> str:
        user_name = m.user_name
        if flavor == "cloud":
            user_name = user_name.lower()
        email = None
        if m.emails:
            primary = [e for e in m.emails if e.primary] or list(m.emails)
            email = primary[0].value
        if flavor == "onprem" and rid is None and email:
            # The on-prem connector first checks that the e-mail is unique, then takes the
            # e-mail as the username when the username is taken (its FAQ).
            if any((u["email"] or "").lower() == email.lower() for u in self.users.values()):
                raise uniqueness("emails")
            if self._user_name_taken(user_name, rid):
                user_name = email
        if self._user_name_taken(user_name, rid):
            raise uniqueness("userName")
        active = True if m.active is None else bool(m.active)
        if flavor == "cloud" and m.roles:
            raise _no_cloud_roles()
        rec = self.users.get(rid) if rid else None
        if rid is None or rec is None:  # rid None has no record either: the test is for mypy
            rid = self.new_id(self.users)
            stamp = _now()
            rec = self.users[rid] = {"id": rid, "created": stamp, "modified": stamp, "version": 1,
                                     "roles": []}
        else:
            self._touch(rec)
        # Roles are on-prem's alone; a PUT that leaves them out leaves them as they are
        # (taking every role away because a client omitted the attribute would be a surprise).
        if flavor == "onprem" and m.roles is not None:
            rec["roles"] = list(dict.fromkeys(r.value for r in m.roles))
        rec.update(userName=user_name, displayName=m.display_name, active=active, email=email,
                   externalId=m.external_id)
        return rid

    def _user_name_taken(self, user_name: str, rid: str | None) -> bool:
        fold = user_name.lower()
        return any(u["id"] != rid and u["userName"].lower() == fold
                   for u in self.users.values())

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
        if rid is None or rec is None:  # rid None has no record either: the test is for mypy
            rid = self.new_id(self.groups)
            stamp = _now()
            # A group made through the cloud connector is a Platform group that Secret Server
            # has not synced yet; one made on-prem exists only in Secret Server.
            rec = self.groups[rid] = {
                "id": rid, "created": stamp, "modified": stamp, "version": 1,
                "platform": flavor == "cloud",
                # A new Platform tenant's Secret Server searches Platform groups directly.
                "secret_server": flavor == "onprem"
                or self.groups_sync.platform_groups_searched_directly}
        else:
            # The on-prem view cannot see disabled users, so keeping them is not a removal.
            if flavor == "onprem":
                members += [u for u in rec["members"]
                            if u in self.users and not self.users[u]["active"]]
            hidden = {g for g in rec["members"] if g in self.groups
                      and not self.is_visible(flavor, "Group", g)}
            members += [g for g in hidden if g not in members]
            if flavor == "onprem" and rec["platform"]:
                # The Platform owns its groups (Platform Groups Sync): an on-prem write may
                # change nothing of one, so its Platform meta never moves either.
                if (m.display_name, set(members), m.external_id) != (
                        rec["displayName"], set(rec["members"]), rec["externalId"]):
                    raise _platform_group(rec["displayName"], "its name, members and "
                                          "externalId are managed")
                return rid
            self._touch(rec)
        if rid in self._groups_of_members(members):
            raise invalid_value("Membership would make a group a member of itself.")
        rec.update(displayName=m.display_name, members=members, externalId=m.external_id)
        if rec["platform"] and not rec["secret_server"]:
            # FAQ: a group saved on the Platform syncs by itself (at the timer's next run).
            self._schedule_sync(rid, time.time())
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
        if flavor == "onprem" and self.groups[rid]["platform"]:
            raise _platform_group(self.groups[rid]["displayName"], "it is deleted")
        del self.groups[rid]
        self._sync_due.pop(rid, None)
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
            self.require(flavor, "Container", parent,
                         invalid_value(f"Parent container '{parent}' not found."))
            p = parent
            while p is not None:
                if p == rid:
                    raise invalid_value("A container cannot be moved below itself.")
                p = self.folders[p]["parent"]
        rec = self.folders.get(rid) if rid else None
        creating = rec is None
        if flavor == "cloud" and rec is not None:
            # Renaming or moving a folder is not among the cloud's capabilities: an update may
            # change the secrets it holds, and the client's own externalId.
            for attr, value in (("name", m.name), ("parent", parent),
                                ("description", m.description)):
                if value != rec[attr]:
                    raise ScimError(400, "The SCIM Cloud Connector does not update folders: "
                                    f"attribute '{attr}' cannot be changed (a folder update "
                                    "adds or removes secrets only). Change it in Secret "
                                    "Server.", "mutability")
        if rec is None:  # creating, said so that mypy knows rec is set below
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
        FOLDER_GRANTS.check_one_principal(m)
        fid = m.container.value if m.container is not None else None
        self.require(flavor, "Container", fid, invalid_value(f"Container '{fid}' not found."))
        assert fid is not None
        rights = _rights_sent(m)
        if flavor == "onprem":
            rights = self._mapped_rights(rights)
        else:
            for r in rights:
                if r not in FOLDER_RIGHTS:
                    raise invalid_value(f"The 'rights' attribute was invalid: {r!r} "
                                        f"(use {', '.join(FOLDER_RIGHTS)}).")
            rights = rights[:1]  # FAQ: the Platform keeps only the first right
        grantee = self._grantee(flavor, m)
        if rid is not None:
            pid = self.views().perm_views[rid][1]
            rec = self.perms[pid]
            FOLDER_GRANTS.check_change(pid != rid, rec, fid != rec["folder"], grantee)
            self._touch(rec)
            rec.update(rights=rights, externalId=m.external_id)
            return rid
        if self.folders[fid]["inherit"]:
            self._break_inheritance(fid)
        FOLDER_GRANTS.check_unique(self._permissions_on(fid), grantee)
        # A SCIM write sets the folder role; the secret role follows it (see docs/connectors.md).
        rec = {**self._new_grant(grantee, rights, m.external_id), "folder": fid,
               "secret_role": None}
        self.perms[rec["id"]] = rec
        return str(rec["id"])

    def _mapped_rights(self, sent: list[str], table: str = "container") -> list[str]:
        """Rights as the on-prem endpoint stores them: through its permission-value mapping
        (``container`` or ``privileged_data``), a Secret Server value as it is, and anything
        else as View (the documented default)."""
        mapping: dict[str, str] = getattr(self.file.onprem.rights_mapping, table)
        known = FOLDER_RIGHTS if table == "container" else SECRET_RIGHTS
        out: list[str] = []
        for r in sent:
            right = mapping.get(r) or (r if r in known else "View")
            if right not in out:
                out.append(right)
        return out

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
                # An assumption (docs/connectors.md): Secret Server cannot hold a permission
                # for a group it does not have yet.
                raise invalid_value(
                    f"Group '{g['displayName']}' has not been synchronized to Secret Server yet; "
                    "run Platform Groups Sync, then retry.")
        return kind, principal

    def _new_grant(self, grantee: tuple[str, str], rights: list[str],
                   external_id: str | None) -> dict[str, Any]:
        """A new permission (of a folder or a secret) with its own id and meta."""
        stamp = _now()
        return {"id": self.new_id(self.perms), "kind": grantee[0], "principal": grantee[1],
                "rights": rights, "externalId": external_id, "created": stamp,
                "modified": stamp, "version": 1}

    def _permissions_on(self, folder: str | None) -> list[dict[str, Any]]:
        """The folder's own permissions (a copy of the list: callers add to self.perms)."""
        return [p for p in self.perms.values() if p["folder"] == folder]

    def _break_inheritance(self, fid: str) -> None:
        """Copy the inherited permissions onto the folder, as Secret Server does."""
        for p in self._permissions_on(self.folder_source(fid)):
            rec = {**self._new_grant((p["kind"], p["principal"]), list(p["rights"]), None),
                   "folder": fid, "secret_role": p["secret_role"]}
            self.perms[rec["id"]] = rec
        # Subfolders that inherited through fid keep seeing the same permissions.
        self.folders[fid]["inherit"] = False

    def _delete_ContainerPermission(self, flavor: Flavor, rid: str) -> None:
        pid = self.views().perm_views[rid][1]
        FOLDER_GRANTS.check_own(pid != rid, "delete")
        del self.perms[pid]

    # PrivilegedData ---------------------------------------------------------
    def _write_PrivilegedData(self, flavor: Flavor, rid: str | None, m: Any) -> str:
        fid = m.container.value if m.container is not None and m.container.value else None
        if fid is not None:
            self.require(flavor, "Container", fid, invalid_value(f"Container '{fid}' not found."))
        rec = self.secrets.get(rid) if rid else None
        if rid is None or rec is None:  # rid None has no record either: the test is for mypy
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
        SECRET_GRANTS.check_one_principal(m)
        sid = m.privileged_data.value if m.privileged_data is not None else None
        if not sid or sid not in self.secrets:
            raise invalid_value(f"PrivilegedData '{sid}' not found.")
        rights = self._mapped_rights(_rights_sent(m), "privileged_data")
        grantee = self._grantee(flavor, m)
        secret = self.secrets[sid]
        if rid is not None:
            owner, rec, inherited = self._secret_perm_view(rid)
            SECRET_GRANTS.check_change(inherited, rec, sid != owner, grantee)
            self._touch(rec)
            rec.update(rights=rights, externalId=m.external_id)
            return rid
        if secret["permissions"] is None:
            self._break_secret_inheritance(sid)
        SECRET_GRANTS.check_unique(secret["permissions"], grantee)
        rec = self._new_grant(grantee, rights, m.external_id)
        secret["permissions"].append(rec)
        return str(rec["id"])

    def _secret_perm_view(self, rid: str) -> tuple[str, dict[str, Any], bool]:
        views = self.views_of("PrivilegedDataPermission").secret_perm_views
        assert views is not None
        return views[rid]

    def _break_secret_inheritance(self, sid: str) -> None:
        """Copy the folder's permissions onto the secret with their secret roles, as Secret
        Server does when a secret stops inheriting."""
        folder = self.secrets[sid]["folder"]
        source = self.folder_source(folder) if folder is not None else None
        self.secrets[sid]["permissions"] = [
            self._new_grant((p["kind"], p["principal"]), [secret_role(p)], None)
            for p in self._permissions_on(source)]

    def _delete_PrivilegedDataPermission(self, flavor: Flavor, rid: str) -> None:
        sid, rec, inherited = self._secret_perm_view(rid)
        SECRET_GRANTS.check_own(inherited, "delete")
        self.secrets[sid]["permissions"].remove(rec)

    # ------------------------------------------------------------------ sandbox admin
    def sync_groups(self) -> int:
        """Sync Now: every Platform group now exists in Secret Server. A real administrator
        first selects the groups to sync (only enabled platform groups sync); the practice
        tenant does not model that selection and syncs them all."""
        with self.lock:
            ids = [g for g, r in self.groups.items() if r["platform"] and not r["secret_server"]]
            for gid in ids:
                self._sync_due.pop(gid, None)
            self._next_sync_run = min(self._sync_due.values(), default=math.inf)
            self._into_secret_server(ids)
            return len(ids)


_TABLE = {"User": "users", "Group": "groups", "Container": "folders",
          "PrivilegedData": "secrets"}
# List attributes that a PUT leaving them out leaves as they are (a folder's secrets, a user's
# roles), by resource type: after a PATCH, the resource is whole, so their absence is a remove.
_KEPT_WHEN_LEFT_OUT = {"Container": "privileged_data", "User": "roles"}


@dataclass(frozen=True)
class _Grants:
    """The rules folder permissions and secret permissions share, and the words that tell
    the two apart in their answers."""

    kind: str  # the resource type
    target: str  # the attribute naming the folder or secret
    inherited_from: str
    whose: str  # whose inheritance a write would break

    def check_one_principal(self, m: Any) -> None:
        if (m.user is None) == (m.group is None):
            raise invalid_value(f"A {self.kind} names exactly one of 'user' or 'group'.")

    def check_own(self, inherited: bool, verb: str) -> None:
        """An inherited permission is changed where it is set (400 mutability)."""
        if inherited:
            raise ScimError(400, f"This permission is inherited from {self.inherited_from}; "
                            f"{verb} it there, or break {self.whose} inheritance first.",
                            "mutability")

    def check_change(self, inherited: bool, rec: dict[str, Any], moved: bool,
                     grantee: tuple[str, str]) -> None:
        """A change in place changes rights only: not an inherited permission, not what it is
        on (moved), not whom it names."""
        self.check_own(inherited, "change")
        if moved or grantee != (rec["kind"], rec["principal"]):
            raise ScimError(400, f"Attribute '{self.target}', 'user' and 'group' are immutable "
                            "and cannot be changed.", "mutability")

    def check_unique(self, existing: Iterable[dict[str, Any]], grantee: tuple[str, str]) -> None:
        """One permission per user or group on a folder or secret."""
        if any((g["kind"], g["principal"]) == grantee for g in existing):
            raise uniqueness(f"{self.target}, user/group")


FOLDER_GRANTS = _Grants("ContainerPermission", "container", "a parent folder", "the folder's")
SECRET_GRANTS = _Grants("PrivilegedDataPermission", "privilegedData", "the secret's folder",
                        "the secret's")


def _rights_sent(m: Any) -> list[str]:
    rights = [r for r in (m.rights or []) if r]
    if not rights:
        raise ScimError(400, "Attribute 'rights' is required.", "invalidValue")
    return rights


def _platform_group(name: str, what: str) -> ScimError:
    # Secret Server cannot manage the membership of a Platform group (Platform Groups Sync).
    return ScimError(400, f"Group '{name}' is a Platform group: {what} on the Delinea Platform "
                     "(Access > Groups, or the SCIM Cloud Connector), not in Secret Server.",
                     "mutability")


def _no_cloud_roles() -> ScimError:
    # The cloud has no roles yet (its FAQ: planned): setting one must not be a silent success.
    return ScimError(400, "Roles are not implemented by the SCIM Cloud Connector yet (planned, "
                     "per Delinea's FAQ): 'roles' cannot be set or removed here. Assign the "
                     "role in Secret Server, or through the on-prem connector.", "invalidValue")
_URN = {"User": urn.USER, "Group": urn.GROUP, "Container": urn.CONTAINER,
        "ContainerPermission": urn.CONTAINER_PERMISSION, "PrivilegedData": urn.PRIVILEGED_DATA,
        "PrivilegedDataPermission": urn.PRIVILEGED_DATA_PERMISSION}


def _validate(kind: str, body: dict[str, Any], ctx: Context) -> Any:
    from scim2_models import SCIMException

    if not isinstance(body, dict):
        raise ScimError(400, "The request body must be a JSON object.", "invalidSyntax")
    body = {k: v for k, v in body.items() if k.lower() != "meta"}  # FAQ: client meta is ignored
    if kind == "User":
        body = {k: v for k, v in body.items() if _user_attribute(k) not in
                urn.ignored_user_attributes()}
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


def _patched_user_attributes(body: dict[str, Any]) -> set[str]:
    """The top-level User attributes a PatchOp's operations name, lower-cased."""
    key = next((k for k in body if k.lower() == "operations"), None)
    ops = body.get(key) if key else None
    out: set[str] = set()
    for op in ops if isinstance(ops, list) else []:
        if not isinstance(op, dict):
            continue
        path, value = op.get("path"), op.get("value")
        if isinstance(path, str):
            out.add(_user_attribute(path))
        elif isinstance(value, dict):
            out.update(_user_attribute(k) for k in value)
    return out


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
            if isinstance(path, str) and _user_attribute(path) in urn.ignored_user_attributes():
                continue
            value = op.get("value")
            if path is None and isinstance(value, dict):
                value = {k: v for k, v in value.items()
                         if _user_attribute(k) not in urn.ignored_user_attributes()}
                if not value:
                    continue
                op = {**op, "value": value}
        kept.append(op)
    if not kept:
        return None
    return {**{k: v for k, v in body.items() if k != key}, "Operations": kept}


def _from_validation(exc: ValidationError) -> ScimError:
    from scim2_models import SCIMException

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
