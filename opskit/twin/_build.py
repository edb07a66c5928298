"""Tenant-file data from inventory snapshots: what the practice tenant needs to serve, in both
flavors, what the snapshots show.

Ids are kept; names go through ``name`` (the operator's pseudonyms, or kept as they are). What
a tenant file holds that no snapshot shows is inferred (inheritance, secret roles, the service
account) or chosen, as docs/twin.md says.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ..audit import FolderView, coverage
from ..audit._coverage import parent_path
from ..errors import ConfigError
from ..groupgap import GroupSource
from ..inventory import Inventory
from ._views import Views, merged, text

Names = Callable[[str], str]
Principal = tuple[str, str]  # ("user" | "group", id)
SECRET_ROLES = ("Owner", "Edit", "View", "List")
# A user the on-prem connector does not show (disabled), standing in for a cloud service
# account no snapshot names: a twin of the on-prem view alone.
STAND_IN_SERVICE_ACCOUNT = "twin-service-account"


@dataclass
class Twin:
    """Tenant-file data (``data``), the service account it acts as and how it was found, and
    what the snapshots showed that the twin could not keep (``notes``)."""

    data: dict[str, Any]
    service_account: str  # the user's id
    how: str
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {k: len(self.data.get(k) or []) for k in ("users", "groups", "folders",
                                                         "permissions", "secrets")}


def make_twin(snapshot: Inventory, reference: Inventory | None = None, *,
              name: Names | None = None, iga: GroupSource | None = None,
              folder_export: FolderView | None = None) -> Twin:
    """The practice tenant of ``snapshot`` (either view) and ``reference`` (the other view of
    the same tenant, if any): served, its views inventory as the snapshots do. ``name`` maps
    every name (default: kept); ``iga``, an IGA export, becomes its ``iga:`` section;
    ``folder_export`` (beside a cloud view alone) adds the folders and secrets it lists that
    the cloud view does not show, without permissions."""
    views = Views.of(snapshot, reference, folder_export=folder_export is not None)
    return _Builder(views, name or (lambda value: value)).build(iga, folder_export)


def check_snapshots(snapshot: Inventory, reference: Inventory | None = None, *,
                    folder_export: bool = False) -> None:
    """Refuse snapshots no twin can be made of (incomplete, of one view twice, of two tenants,
    an on-prem view beside a folder export), in one message saying what to do."""
    Views.of(snapshot, reference, folder_export=folder_export)


def _export_id(kind: str, *parts: str) -> str:
    """An id for what a folder export lists (it gives none): a hash of where the twin puts it,
    in the twin's names, so the same key gives the same id and no original name shows."""
    digest = hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:16]
    return f"export-{kind}-{digest}"


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as dicts (a missing cell None or NaN, as ``text`` reads it)."""
    columns = [str(c) for c in df.columns]
    return [dict(zip(columns, row, strict=True))
            for row in zip(*(df[c].tolist() for c in columns), strict=True)]


def _by(rows: Iterable[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(str(row[key]), []).append(row)
    return out


def _ids(df: pd.DataFrame) -> list[str]:
    return [str(i) for i in df["id"]]


def _derived_role(folder_right: str) -> str:
    """The secret role a folder permission without one gives (docs/tenant-file.md)."""
    return folder_right if folder_right in SECRET_ROLES else "View"


def _created(value: Any) -> str | None:
    """A group's ``meta.created`` as the tenant file takes it: with its time zone (none sent
    is UTC, as the group-gap report reads it)."""
    stamp = text(value)
    if stamp is None:
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if moment.tzinfo is not None else moment.replace(tzinfo=UTC).isoformat()


class _Builder:
    def __init__(self, views: Views, name: Names) -> None:
        self.v, self.name = views, name
        self.notes: list[str] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.folders: dict[str, dict[str, Any]] = {}
        self.placeholders: dict[str, dict[str, Any]] = {}
        self.permissions: dict[str, list[dict[str, Any]]] = {}  # by folder, own ones only
        self.own_ids: dict[str, list[str]] = {}  # a source folder's permission ids, in order
        self.source: dict[str, str] = {}  # folder → whose permissions apply
        self.secrets: dict[str, dict[str, Any]] = {}
        self.exported: dict[str, dict[str, Any]] = {}  # folders only a folder export lists

    def named(self, value: Any) -> str | None:
        shown = text(value)
        return None if shown is None or shown == "" else self.name(shown)

    # ---------------------------------------------------------------- the tenant
    def build(self, iga: GroupSource | None, folder_export: FolderView | None = None) -> Twin:
        self._users()
        self._groups()
        self._folders()
        self._secrets()
        sa, how = self._service_account()
        if folder_export is not None:
            self._from_export(folder_export)
        tenant = "".join("-" if c in "/?#" else c for c in self.name(self.v.source))[:200]
        data: dict[str, Any] = {
            "tenant": tenant or "twin",
            "service_account": {
                "user": sa, "client_id": self.users[sa]["userName"],
                # Fresh practice-only credentials: no real one is ever read, nor copied.
                "client_secret": f"twin-practice-{secrets.token_hex(16)}"},
            "onprem": {"token": f"twin-practice-onprem-{secrets.token_hex(16)}"},
            "users": list(self.users.values()),
            "groups": list(self.groups.values()),
            "folders": [*self.placeholders.values(), *self.folders.values(),
                        *self.exported.values()],
            "permissions": [p for f in self.folders for p in self.permissions.get(f, [])],
            "secrets": list(self.secrets.values()),
        }
        if iga is not None:
            data["iga"] = self._iga(iga)
        return Twin(data, sa, how, self.notes)

    # ---------------------------------------------------------------- users and groups
    def _users(self) -> None:
        cloud, onprem = self.v.cloud, self.v.onprem
        rows = {str(r["id"]): r for inv in reversed(self.v.views) for r in _records(inv.users)}
        order = merged(*(_ids(inv.users) for inv in (cloud, onprem) if inv is not None))
        shown = self._shown_user_names() if onprem is None else {}
        active = ({str(i): bool(a) for i, a in zip(cloud.users["id"], cloud.users["active"],
                                                    strict=True)} if cloud is not None else {})
        for uid in order:
            row = rows[uid]
            user_name = str(row["userName"])
            if onprem is None and text(row["displayName"]) is None:
                # The cloud lower-cases userName, but shows a member or grantee without a
                # display name by the userName as stored.
                user_name = next((s for s in sorted(shown.get(uid, ()))
                                  if s.casefold() == user_name.casefold()), user_name)
            rec: dict[str, Any] = {"id": uid, "userName": self.name(user_name)}
            for key in ("displayName", "email", "externalId"):
                if (value := self.named(row[key])) is not None:
                    rec[key] = value
            rec["active"] = active.get(uid, True)
            self.users[uid] = rec

    def _shown_user_names(self) -> dict[str, set[str]]:
        """How the cloud view names each user where it shows one as a member or grantee."""
        assert self.v.cloud is not None
        inv = self.v.cloud
        shown: dict[str, set[str]] = {}
        members = inv.group_members[inv.group_members["member_type"] == "User"]
        pairs = [zip(members["member_id"], members["member_display"], strict=True)]
        for frame in (inv.container_permissions, inv.privileged_data_permissions):
            users = frame[frame["principal_type"] == "user"]
            pairs.append(zip(users["principal_id"], users["principal_name"], strict=True))
        for pairing in pairs:
            for uid, display in pairing:
                if (seen := text(display)) is not None:
                    shown.setdefault(str(uid), set()).add(seen)
        return shown

    def _groups(self) -> None:
        cloud, onprem = self.v.cloud, self.v.onprem
        rows = {str(r["id"]): r for inv in reversed(self.v.views) for r in _records(inv.groups)}
        in_cloud = set(_ids(cloud.groups)) if cloud is not None else set()
        in_onprem = set(_ids(onprem.groups)) if onprem is not None else set()
        order = merged(*(_ids(inv.groups) for inv in (cloud, onprem) if inv is not None))
        members = [_by(_records(inv.group_members), "group_id")
                   for inv in (cloud, onprem) if inv is not None]
        for gid in order:
            row = rows[gid]
            rec: dict[str, Any] = {"id": gid, "displayName": self.name(str(row["displayName"]))}
            if (external := self.named(row["externalId"])) is not None:
                rec["externalId"] = external
            if (created := _created(row.get("created"))) is not None:
                rec["created"] = created
            # A view alone: the other side is taken to have the group too, except that an
            # on-prem view alone is a Secret Server without the Platform.
            rec["platform"] = gid in in_cloud if cloud is not None else False
            rec["secret_server"] = gid in in_onprem if onprem is not None else True
            rec["members"] = merged(*([str(m["member_id"]) for m in listed.get(gid, [])]
                                      for listed in members))
            self.groups[gid] = rec
        for gid, rec in self.groups.items():
            unknown = [m for m in rec["members"] if m not in self.users and m not in self.groups]
            if unknown:
                self.notes.append(f"group {gid}: {len(unknown)} member(s) neither view shows "
                                  f"as a user or group (id {unknown[0]}) left out")
                rec["members"] = [m for m in rec["members"] if m not in unknown]

    # ---------------------------------------------------------------- folders
    def _folder_view(self) -> Inventory:
        """The view whose folder permissions the twin copies: on-prem sees every folder and
        every right, the cloud only the folders it owns and the first right."""
        view = self.v.onprem or self.v.cloud
        assert view is not None
        return view

    def _folders(self) -> None:
        cloud, onprem = self.v.cloud, self.v.onprem
        rows = {str(r["id"]): r for inv in reversed(self.v.views)
                for r in _records(inv.containers)}
        order = merged(*(_ids(inv.containers) for inv in (onprem, cloud) if inv is not None))
        for fid in order:
            row = rows[fid]
            parent = text(row["parent_id"])
            self.folders[fid] = {"id": fid, "name": self.name(str(row["name"])), "parent": parent}
            if parent is not None and parent not in rows:
                self._placeholder(parent, row["parent_name"], f"folder {fid}'s parent")
        granted = _by(_records(self._folder_view().container_permissions), "container_id")
        for fid in order:
            self._permissions_of(fid, granted, set())

    def _placeholder(self, fid: str, shown_name: Any, whose: str) -> None:
        """A folder neither view shows but one names (the cloud shows a folder's parent, or a
        secret's folder, it does not own): a root folder with no permissions, named as shown."""
        if fid in self.placeholders:
            return
        self.placeholders[fid] = {"id": fid, "name": self.name(text(shown_name) or fid),
                                  "parent": None}
        self.source[fid] = fid
        self.own_ids[fid] = []
        self.notes.append(f"folder {fid} ({whose}) is in no view: a root folder without "
                          "permissions stands in for it")

    def _permissions_of(self, fid: str, granted: dict[str, list[dict[str, Any]]],
                        on_the_way: set[str]) -> None:
        """Whether the folder inherits (its permissions are its parent's, listed with ids
        `<id>-<folder>`), else its own permissions: parents first."""
        if fid in self.source:
            return
        folder = self.folders[fid]
        parent = folder["parent"]
        if parent is not None and parent not in on_the_way | {fid}:
            self._permissions_of(parent, granted, on_the_way | {fid})
        rows = granted.get(fid, [])
        if parent is not None and parent in self.source:
            inherited = self.own_ids[self.source[parent]]
            suffix = f"-{fid}"
            if ([str(r["id"])[:-len(suffix)] for r in rows if str(r["id"]).endswith(suffix)]
                    == inherited and len(rows) == len(inherited)):
                self.source[fid] = self.source[parent]
                return
            folder["inherit_permissions"] = False
        self.source[fid] = fid
        own = self.permissions[fid] = []
        for r in rows:
            principal = self._principal(r, f"folder {fid}'s permission {r['id']}")
            if principal is None:
                continue
            rights = [str(x) for x in (r["rights"] if isinstance(r["rights"], list | tuple)
                                       and len(r["rights"]) else [r["right"]])]
            own.append({"id": str(r["id"]), "folder": fid, principal[0]: principal[1],
                        "rights": rights})
        self.own_ids[fid] = [p["id"] for p in own]

    def _principal(self, row: dict[str, Any], what: str) -> Principal | None:
        kind, pid = str(row["principal_type"]), str(row["principal_id"])
        if kind == "user" and pid not in self.users and self.v.cloud is None:
            self._disabled_user(pid, row["principal_name"])
        if kind == "user" and pid in self.users:
            return kind, pid
        if kind == "group" and pid in self.groups and self.groups[pid]["secret_server"]:
            return kind, pid
        where = " in Secret Server" if kind == "group" else ""
        self.notes.append(f"{what} names {kind} {pid}, which no view shows{where}: left out")
        return None

    def _disabled_user(self, uid: str, shown: Any) -> None:
        """A user an on-prem grant names that the on-prem view does not list: a disabled one
        (the connector hides them), named as the grant shows it (its display name, else its
        userName), which is all the on-prem view will show of it."""
        display = self.name(text(shown) or uid)
        taken = {u["userName"].casefold() for u in self.users.values()}
        user_name = display if display.casefold() not in taken else f"{display} {uid}"
        self.users[uid] = {"id": uid, "userName": user_name, "displayName": display,
                           "active": False}
        self.notes.append(f"user {uid} is named by a grant but not listed, so disabled (the "
                          "on-prem view hides disabled users): kept as a disabled user named "
                          "as the grant shows it")

    # ---------------------------------------------------------------- secrets
    def _secret_permission_rows(self) -> tuple[dict[str, list[dict[str, Any]]], set[str]]:
        """Each secret's permissions in effect, from the view that read them (on-prem first),
        and which secrets they are known for."""
        rows: dict[str, list[dict[str, Any]]] = {}
        known: set[str] = set()
        for inv in self.v.views:
            if not inv.meta.get("secret_permissions_read"):
                continue
            listed = _by(_records(inv.privileged_data_permissions), "privileged_data_id")
            for sid in _ids(inv.privileged_data):
                if sid not in known:
                    known.add(sid)
                    rows[sid] = listed.get(sid, [])
        return rows, known

    def _secrets(self) -> None:
        cloud, onprem = self.v.cloud, self.v.onprem
        rows = {str(r["id"]): r for inv in reversed(self.v.views)
                for r in _records(inv.privileged_data)}
        order = merged(*(_ids(inv.privileged_data) for inv in (onprem, cloud)
                         if inv is not None))
        granted, known = self._secret_permission_rows()
        roles: dict[str, str] = {}  # folder permission id → the secret role it gives
        for sid in order:
            row = rows[sid]
            fid = text(row["container_id"])
            if fid is None:
                self.notes.append(f"secret {sid} is in no folder, which a tenant file cannot "
                                  "hold: left out")
                continue
            if fid not in self.folders and fid not in self.placeholders:
                self._placeholder(fid, row["container_name"], f"secret {sid}'s folder")
            rec: dict[str, Any] = {"id": sid, "name": self.name(str(row["name"])),
                                   "folder": fid, "template": text(row["type"]) or "Password"}
            self.secrets[sid] = rec
            if sid not in known:
                continue  # secret roles unknown: it inherits, as most secrets do
            listed = granted[sid]
            inherited = self.own_ids[self.source[fid]]
            suffix = f"-{sid}"
            bases = [str(r["id"])[:-len(suffix)] for r in listed
                     if str(r["id"]).endswith(suffix)]
            if bases == inherited and len(listed) == len(inherited):
                for base, r in zip(bases, listed, strict=True):
                    roles[base] = str(r["right"])
                continue
            own = []
            for r in listed:
                principal = self._principal(r, f"secret {sid}'s permission {r['id']}")
                if principal is not None:
                    own.append({"id": str(r["id"]), principal[0]: principal[1],
                                "rights": [str(r["right"])]})
            rec["permissions"] = own
        for perms in self.permissions.values():
            for p in perms:
                if p["id"] in roles:
                    p["secret_role"] = roles[p["id"]]

    # ---------------------------------------------------------------- a folder export
    def _from_export(self, export: FolderView) -> None:
        """The folders and secrets the export lists and the cloud view does not show, matched
        by path as the permission audit's coverage matches them: no permissions (the export
        has none), so the twin's cloud view does not show them either."""
        assert self.v.cloud is not None
        cov = coverage(self.v.cloud, export)
        id_of = {path: fid for fid, path in cov.cloud_paths.items()}
        twin_path = {path: self._twin_path(path) for path in cov.folders["path"].tolist()}
        for fid, path in cov.cloud_paths.items():
            # A parent the cloud names but does not show is the export's folder above.
            parent, up = self.folders[fid]["parent"], parent_path(path)
            if parent in self.placeholders and up is not None and up not in id_of:
                id_of[up] = parent
        self._place_secrets_folders(export, id_of)
        for path in cov.folders["path"].tolist():  # parents first, as the export lists them
            known, up = id_of.get(path), parent_path(path)
            if known is None:
                known = id_of[path] = _export_id("folder", twin_path[path])
                self.exported[known] = {"id": known, "name": self.name(path.rsplit("/", 1)[1]),
                                        "parent": None}
            placed = self.exported.get(known) or self.placeholders.get(known)
            if placed is not None and up is not None:
                # Its own (no) permissions: inheriting would show it to the service account.
                placed.update(parent=id_of[up], inherit_permissions=False)
        copies: dict[tuple[str, str], int] = {}
        added = 0
        shown = {(s["folder"], s["name"]) for s in self.secrets.values()}
        for folder, secret in zip(cov.hidden_secrets["folder"].tolist(),
                                  cov.hidden_secrets["name"].tolist(), strict=True):
            if (id_of[folder], self.name(secret)) in shown:
                continue  # the cloud shows it, in a folder it does not show
            where = (twin_path[folder], self.name(secret))
            n = copies[where] = copies.get(where, 0) + 1
            sid = _export_id("secret", *where, str(n))
            # Its own permissions, none: in a folder the cloud sees, it is not the account's.
            self.secrets[sid] = {"id": sid, "name": where[1], "folder": id_of[folder],
                                 "template": "Password", "permissions": []}
            added += 1
        # A stand-in root the export placed in its tree is one no longer.
        in_tree = set(self.placeholders) & set(id_of.values())
        self.notes = [n for n in self.notes if not any(
            n.startswith(f"folder {fid} (") and n.endswith("stands in for it") for fid in in_tree)]
        unmatched = len(self.v.cloud.containers) - len(cov.cloud_paths)
        self.notes.append(
            f"{len(self.exported):,} folders and {added:,} secrets only the "
            "folder export lists: without permissions (an export has none), secrets as "
            "template Password")
        if unmatched:
            self.notes.append(f"{unmatched:,} of the cloud view's folders are not in the folder "
                              "export (older, or of another Secret Server?)")

    def _place_secrets_folders(self, export: FolderView, id_of: dict[str, str]) -> None:
        """A folder the cloud names but does not show as a shown secret's is the export's one
        folder of that name holding a secret of that name, where there is one."""
        assert self.v.cloud is not None
        shown = self.v.cloud.privileged_data
        waiting = set(self.placeholders) - set(id_of.values())
        if not waiting:
            return
        paths: dict[tuple[str, str], set[str]] = {}  # (folder's name, secret's) → folders
        for folder, secret in zip(export.secrets["folder"].tolist(),
                                  export.secrets["name"].tolist(), strict=True):
            paths.setdefault((folder.rsplit("/", 1)[1], str(secret)), set()).add(folder)
        for fid, folder_name, secret in zip(shown["container_id"].tolist(),
                                            shown["container_name"].tolist(),
                                            shown["name"].tolist(), strict=True):
            found = paths.get((text(folder_name) or "", str(secret)), set())
            if text(fid) in waiting and len(found) == 1 and (path := min(found)) not in id_of:
                id_of[path] = str(fid)
                waiting.discard(str(fid))

    def _twin_path(self, path: str) -> str:
        return "/".join(p and self.name(p) for p in path.split("/"))

    # ---------------------------------------------------------------- the service account
    def _service_account(self) -> tuple[str, str]:
        """The user whose Owner grants make the cloud view show what it shows."""
        cloud = self.v.cloud
        if cloud is None:
            return self._stand_in(), ("none is seen in the on-prem view: a disabled user the "
                                      "on-prem view does not show stands in, with no grants")
        folders = set(_ids(cloud.containers))
        secrets_shown = set(_ids(cloud.privileged_data))
        owners = self._owners()
        secret_owners = self._secret_owners()
        reached = self._groups_reaching()
        first = sorted(folders)[:1] or sorted(secrets_shown)[:1]
        if first:
            pool = owners.get(self.source.get(first[0], ""), set()) if folders else \
                secret_owners.get(first[0], set())
            candidates = {pid for kind, pid in pool if kind == "user"}
            for kind, pid in pool:
                if kind == "group":
                    candidates |= {u for u, gs in reached.items() if pid in gs}
        else:
            candidates = set(self.users)
        found = []
        for uid in self.users:  # in the tenant's order: the first of equals is taken
            if uid not in candidates:
                continue
            names = {("user", uid), *(("group", g) for g in reached.get(uid, ()))}
            owns = {f for f in self.folders if owners.get(self.source[f], set()) & names}
            owns_secrets = {s for s, who in secret_owners.items() if who & names}
            if owns == folders and owns_secrets == secrets_shown:
                found.append(uid)
        if not found:
            raise ConfigError(
                "no one user holds Owner on exactly the folders and secrets the cloud view "
                f"shows ({len(folders)} folders, {len(secrets_shown)} secrets)"
                + (", as the on-prem view grants them: the views differ (taken at different "
                   "times, or of different tenants)" if self.v.onprem is not None else ""),
                "give a cloud view and an on-prem view of one tenant taken close together, "
                "both with their secret permissions (opskit inventory reads them by default)")
        how = ("the user holding Owner on exactly the folders and secrets the cloud view shows"
               + (f" (the first of {len(found)} that do)" if len(found) > 1 else ""))
        return found[0], how

    def _owners(self) -> dict[str, set[Principal]]:
        """Who holds the Owner folder role on each source folder's permissions."""
        return {fid: {(k, p[k]) for p in perms if p["rights"][0] == "Owner"
                      for k in ("user", "group") if k in p}
                for fid, perms in self.permissions.items()}

    def _secret_owners(self) -> dict[str, set[Principal]]:
        """Who holds the Owner secret role on each secret: by its own permissions, else by its
        folder's (their secret role, set or derived)."""
        out: dict[str, set[Principal]] = {}
        for sid, s in self.secrets.items():
            if "permissions" in s:
                grants = [g for g in s["permissions"] if g["rights"][0] == "Owner"]
            else:
                grants = [p for p in self.permissions.get(self.source[s["folder"]], [])
                          if p.get("secret_role", _derived_role(p["rights"][0])) == "Owner"]
            out[sid] = {(k, g[k]) for g in grants for k in ("user", "group") if k in g}
        return out

    def _groups_reaching(self) -> dict[str, set[str]]:
        """Each user's groups, directly or through nesting."""
        parents: dict[str, list[str]] = {}
        for g in self.groups.values():
            for m in g["members"]:
                parents.setdefault(m, []).append(g["id"])
        out: dict[str, set[str]] = {}
        for uid in self.users:
            seen: set[str] = set()
            todo = list(parents.get(uid, []))
            while todo:
                gid = todo.pop()
                if gid not in seen:
                    seen.add(gid)
                    todo.extend(parents.get(gid, []))
            out[uid] = seen
        return out

    def _stand_in(self) -> str:
        uid, n = STAND_IN_SERVICE_ACCOUNT, 1
        while uid in self.users or uid in self.groups:
            n += 1
            uid = f"{STAND_IN_SERVICE_ACCOUNT}-{n}"
        taken = {u["userName"].casefold() for u in self.users.values()}
        user_name = f"{uid}@practice.invalid"
        while user_name.casefold() in taken:
            user_name = "x" + user_name
        self.users[uid] = {"id": uid, "userName": user_name, "displayName": "Twin Service Account",
                           "active": False}
        return uid

    # ---------------------------------------------------------------- the IGA
    def _iga(self, iga: GroupSource) -> dict[str, Any]:
        members = _by(_records(iga.members), "key")
        groups = []
        for g in _records(iga.groups):
            rec: dict[str, Any] = {"name": self.name(str(g["name"])), "members": [
                self.name(str(m["user_name"])) for m in members.get(str(g["key"]), [])
                if text(m["user_name"])]}
            if (external := self.named(g.get("external_id"))) is not None:
                rec["externalId"] = external
            groups.append(rec)
        return {"groups": groups}
