"""What if: apply changes to copies of the inventories, audit again, and say what differs.

Nothing is sent and nothing is read: the changes are applied to a model of Secret Server's
permissions built from the fullest inventory (the reference when there is one), and each view
is drawn again from it the way its connector lists a tenant:

- every folder lists the permissions in effect on it, an inheriting one its source's with ids
  ``<permission id>-<folder id>`` (and a secret its folder's, ``<permission id>-<secret id>``),
  the form the audit reads (``_folders``);
- the on-prem connector leaves disabled users out of Users and out of group members;
- the cloud connector shows a folder only where its service account holds Owner (first right)
  on the folder whose permissions apply, directly or through nested groups, keeps only the
  first right of a grant, and shows a secret only where the account's secret role is Owner.

Then :func:`audit_permissions` runs on the views before and after, and :class:`WhatIf` holds the
differences. Secret roles are read from the reference's secret permissions when it lists them;
without them a secret's visibility follows its folder's ownership only where that changes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import OpskitError
from ..findings import Finding
from ._access import Access
from ._audit import PermissionAudit, audit_permissions
from ._changes import (
    BreakInheritance,
    Change,
    DeleteGroup,
    DisableUser,
    RemoveMember,
    RestoreInheritance,
    RevokeGrant,
    SetGrant,
)
from ._coverage import FolderView
from ._findings import infer_service_account
from ._folders import RIGHTS
from ._names import UnknownName, casefold

_SECRET_ROLES = ("Owner", "Edit", "View", "List")
_PERMISSION_COLUMNS = ["id", "container_id", "container_name", "principal_type", "principal_id",
                       "principal_name", "right", "rights"]
_SECRET_PERMISSION_COLUMNS = ["id", "privileged_data_id", "principal_type", "principal_id",
                              "principal_name", "right"]


class ChangeNotApplicable(OpskitError, ValueError):
    """A change that cannot be made to this tenant as it stands (e.g. revoking a grant the
    folder only inherits)."""


def derived_secret_role(folder_right: str) -> str:
    """The secret role a folder grant gives when none is known: the role of the same name,
    View for Add Secret (Secret Server's dialog offers no such secret role)."""
    return folder_right if folder_right in _SECRET_ROLES else "View"


# --------------------------------------------------------------------------- the model
@dataclass
class _Grant:
    id: str
    principal_type: str
    principal_id: str
    principal_name: Any
    rights: list[str]
    secret_role: str | None = None  # for folder grants: the role on inheriting secrets

    def role(self) -> str:
        return self.secret_role or derived_secret_role(self.rights[0] if self.rights else "")


@dataclass
class _Model:
    """Secret Server's permissions as the fullest view shows them, changed in place."""

    full: Any  # the inventory the model was built from
    order: list[str]  # folder ids, in the inventory's order
    parent: dict[str, str | None]
    name: dict[str, Any]
    inherits: dict[str, bool]
    own: dict[str, list[_Grant]]
    secret_folder: dict[str, Any]
    # A secret's own permissions; a secret absent here inherits its folder's. None: the
    # inventory does not list secret permissions, so which secrets have their own is unknown.
    secret_own: dict[str, list[_Grant]] | None
    unlisted: set[str] = field(default_factory=set)  # folders listed with no permission
    removed_members: set[tuple[str, str]] = field(default_factory=set)
    disabled: set[str] = field(default_factory=set)
    deleted_groups: set[str] = field(default_factory=set)
    made: int = 0

    def source(self, fid: str) -> str:
        seen = 0
        while self.inherits.get(fid) and self.parent.get(fid) in self.parent:
            fid = str(self.parent[fid])
            seen += 1
            if seen > len(self.order):
                break
        return fid

    def new_id(self) -> str:
        self.made += 1
        return f"whatif.{self.made}"  # no dash: never read as an inherited row's id

    def permissions(self, folders: Iterable[str], *, first_right_only: bool) -> pd.DataFrame:
        rows = []
        for fid in folders:
            src = self.source(fid)
            for g in self.own.get(src, []):
                rights = g.rights[:1] if first_right_only else list(g.rights)
                rows.append((g.id if src == fid else f"{g.id}-{fid}", fid, self.name[fid],
                             g.principal_type, g.principal_id, g.principal_name,
                             rights[0] if rights else None, rights))
        return pd.DataFrame(rows, columns=_PERMISSION_COLUMNS)

    def secret_grants(self, sid: str) -> list[tuple[str, _Grant, str]]:
        """(id, grant, secret role) of every secret permission in effect on a secret."""
        assert self.secret_own is not None
        if sid in self.secret_own:
            return [(g.id, g, g.rights[0] if g.rights else "") for g in self.secret_own[sid]]
        folder = self.secret_folder.get(sid)
        if folder not in self.parent:
            return []
        return [(f"{g.id}-{sid}", g, g.role()) for g in self.own.get(self.source(folder), [])]

    def secret_permissions(self, secrets: Iterable[str]) -> pd.DataFrame:
        rows = [(pid, sid, g.principal_type, g.principal_id, g.principal_name, role)
                for sid in secrets for pid, g, role in self.secret_grants(sid)]
        return pd.DataFrame(rows, columns=_SECRET_PERMISSION_COLUMNS)


def _model(full: Any) -> _Model:
    containers = full.containers.drop_duplicates("id")
    ids = containers["id"].tolist()
    parent = {f: (p if isinstance(p, str) else None)
              for f, p in zip(ids, containers["parent_id"].tolist(), strict=True)}
    perms = full.container_permissions
    perms = perms[perms["container_id"].isin(set(ids))]
    on: dict[str, set[str]] = {}
    for rid, cid in zip(perms["id"].tolist(), perms["container_id"].tolist(), strict=True):
        on.setdefault(cid, set()).add(str(rid))
    every = {rid for rows in on.values() for rid in rows}
    # A row is inherited when its id is `<id of a row elsewhere>-<this folder>`, or repeats an
    # id the parent lists; not when it merely names what the parent's rows name (two folders
    # may hold the same grants of their own: the audit cannot tell, but a change must).
    own: dict[str, list[_Grant]] = {}
    inherited_rows: dict[str, int] = {}
    for rid, cid, kind, principal, pname, rights in zip(*(perms[c].tolist() for c in (
            "id", "container_id", "principal_type", "principal_id", "principal_name",
            "rights")), strict=True):
        base, dash, tail = str(rid).rpartition("-")
        if (dash and tail == cid and base in every and base not in on[cid]) \
                or str(rid) in on.get(parent.get(cid) or "", ()):
            inherited_rows[cid] = inherited_rows.get(cid, 0) + 1
        else:
            own.setdefault(cid, []).append(
                _Grant(str(rid), kind, principal, pname, list(rights)))
    inherits = {f: bool(parent[f] in parent and f in on and f not in own) for f in ids}
    model = _Model(full, ids, parent, dict(zip(ids, containers["name"].tolist(), strict=True)),
                   inherits, own, dict(zip(full.privileged_data["id"].tolist(),
                                           full.privileged_data["container_id"].tolist(),
                                           strict=True)), None)
    # A folder listed with no permission at all either inherits from a folder with none, or
    # has its own permissions and none of them: only where the parent's source has some can
    # the two be told apart (an inheriting folder would list those). Parents first.
    depth = dict(zip(ids, (str(p).count("/") for p in containers["path"].tolist()),
                     strict=True))
    unlisted = [f for f in ids if f not in on and parent[f] in parent]
    for fid in sorted(unlisted, key=lambda f: depth[f]):
        model.unlisted.add(fid)
        model.inherits[fid] = not model.own.get(model.source(str(parent[fid])))
    if full.meta.get("secret_permissions_read"):
        by_id = {g.id: g for grants in own.values() for g in grants}
        model.secret_own = {}
        sp = full.privileged_data_permissions
        for rid, sid, kind, principal, pname, right in zip(*(sp[c].tolist() for c in (
                "id", "privileged_data_id", "principal_type", "principal_id", "principal_name",
                "right")), strict=True):
            base, dash, tail = str(rid).rpartition("-")
            if dash and tail == sid and base in by_id:
                # Inherited: the folder grant's secret role (a missing one reads as NaN).
                by_id[base].secret_role = right if isinstance(right, str) else None
            else:
                model.secret_own.setdefault(sid, []).append(
                    _Grant(str(rid), kind, principal, pname,
                           [right] if isinstance(right, str) and right else []))
    return model


# --------------------------------------------------------------------------- names
class _Names:
    """Users, groups and folders of the inventories, by the names people use."""

    def __init__(self, invs: Sequence[Any]):
        self.users: dict[str, tuple[str, str]] = {}
        self.user_rows: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, tuple[str, str]] = {}
        self.folders: dict[str, str] = {}
        self.members: set[tuple[str, str]] = set()
        for inv in invs:
            for row in inv.users.to_dict("records"):
                if isinstance(row["userName"], str):
                    self.users.setdefault(casefold(row["userName"]), (row["id"], row["userName"]))
                    self.user_rows.setdefault(row["id"], row)
            for gid, name in zip(inv.groups["id"].tolist(), inv.groups["displayName"].tolist(),
                                 strict=True):
                if isinstance(name, str):
                    self.groups.setdefault(name, (gid, name))
                    self.groups.setdefault(casefold(name), (gid, name))
            self.members.update(zip(inv.group_members["group_id"].tolist(),
                                    inv.group_members["member_id"].tolist(), strict=True))
        self.sources = invs

    def user(self, name: str) -> tuple[str, str]:
        found = self.users.get(casefold(name))
        if found is None:
            raise UnknownName.of("user", name, [n for _, n in self.users.values()])
        return found

    def group(self, name: str) -> tuple[str, str]:
        found = self.groups.get(name) or self.groups.get(casefold(name))
        if found is None:
            raise UnknownName.of("group", name, sorted({n for _, n in self.groups.values()}))
        return found

    def direct_users(self, group: str) -> list[str]:
        """The userNames of the users directly in ``group``, in name order."""
        gid, _ = self.group(group)
        by_id = dict(self.users.values())
        return sorted({by_id[m] for g, m in self.members if g == gid and m in by_id},
                      key=str.casefold)

    def principal(self, name: str, kind: str | None) -> tuple[str, str, str]:
        """(principal_type, id, name as the inventory writes it)."""
        as_user = self.users.get(casefold(name)) if kind in (None, "user") else None
        as_group = (self.groups.get(name) or self.groups.get(casefold(name))
                    if kind in (None, "group") else None)
        if as_user and as_group:
            raise ChangeNotApplicable(f"{name!r} names both a user and a group",
                                      "say which with principal_type='user' or 'group'")
        if as_user:
            return "user", *as_user
        if as_group:
            return "group", *as_group
        if kind == "group":
            return "group", *self.group(name)
        return "user", *self.user(name)

    def folder(self, model: _Model, path: str) -> str:
        if not self.folders:
            containers = model.full.containers
            for fid, p in zip(containers["id"].tolist(), containers["path"].tolist(),
                              strict=True):
                if isinstance(p, str):
                    self.folders.setdefault(p.rstrip("/") or p, fid)
                    self.folders.setdefault(casefold(p.rstrip("/") or p), fid)
        key = path.rstrip("/") or path
        found = self.folders.get(key) or self.folders.get(casefold(key))
        if found is None:
            raise UnknownName.of("folder", path, [k for k in self.folders if k.startswith("/")])
        return found


# --------------------------------------------------------------------------- applying
def _apply_one(model: _Model, names: _Names, change: Change) -> None:
    if isinstance(change, SetGrant | RevokeGrant):
        fid = names.folder(model, change.folder)
        kind, pid, pname = names.principal(change.principal, change.principal_type)
        if isinstance(change, SetGrant):
            bad = [r for r in change.rights if r not in RIGHTS]
            if not change.rights or bad:
                what = f"{bad[0]!r} is no folder right" if bad else "no right given"
                raise ChangeNotApplicable(f"{change.describe()}: {what}",
                                          f"give folder rights among {', '.join(reversed(RIGHTS))}")
            if model.inherits.get(fid):
                _break(model, fid)
            grants = model.own.setdefault(fid, [])
            display: Any = pname
            if kind == "user":  # a user is named in a grant by displayName, as listed
                shown = names.user_rows.get(pid, {}).get("displayName")
                display = shown if isinstance(shown, str) and shown else pname
            kept = [g for g in grants if (g.principal_type, g.principal_id) != (kind, pid)]
            model.own[fid] = [*kept, _Grant(model.new_id(), kind, pid, display,
                                            list(dict.fromkeys(change.rights)))]
            return
        if model.inherits.get(fid):
            raise ChangeNotApplicable(
                f"{change.describe()}: {change.folder} inherits its grants from "
                f"{model.full.containers.set_index('id').at[model.source(fid), 'path']}",
                "revoke it where it is set, or break the inheritance first (a BreakInheritance "
                "change before this one)")
        grants = model.own.get(fid, [])
        kept = [g for g in grants if (g.principal_type, g.principal_id) != (kind, pid)]
        if len(kept) == len(grants):
            raise ChangeNotApplicable(f"{change.describe()}: {change.principal!r} holds no "
                                      f"grant set on {change.folder}",
                                      "check the folder's own permissions")
        model.own[fid] = kept
    elif isinstance(change, BreakInheritance | RestoreInheritance):
        fid = names.folder(model, change.folder)
        if model.parent.get(fid) is None:
            raise ChangeNotApplicable(f"{change.describe()}: a folder at the root inherits "
                                      "nothing", "pick a subfolder")
        if isinstance(change, BreakInheritance):
            if not model.inherits.get(fid) and fid not in model.unlisted:
                raise ChangeNotApplicable(f"{change.describe()}: it already has permissions "
                                          "of its own", "nothing to break")
            _break(model, fid)
        else:
            if model.inherits.get(fid) and fid not in model.unlisted:
                raise ChangeNotApplicable(f"{change.describe()}: it already inherits",
                                          "nothing to restore")
            model.own.pop(fid, None)
            model.inherits[fid] = True
    elif isinstance(change, RemoveMember):
        gid, gname = names.group(change.group)
        uid, uname = names.user(change.user)
        if (gid, uid) not in names.members or (gid, uid) in model.removed_members:
            raise ChangeNotApplicable(f"{change.describe()}: {uname} is not a direct member "
                                      f"of {gname}", "remove the user from the group that "
                                      "lists it (the access table's via column names it)")
        model.removed_members.add((gid, uid))
    elif isinstance(change, DisableUser):
        uid, uname = names.user(change.user)
        if uid in model.disabled or names.user_rows.get(uid, {}).get("active") is False:
            raise ChangeNotApplicable(f"{change.describe()}: {uname} is disabled already",
                                      "remove what it still holds instead: its grants "
                                      "(RevokeGrant) and memberships (RemoveMember)")
        model.disabled.add(uid)
    elif isinstance(change, DeleteGroup):
        gid, _ = names.group(change.group)
        model.deleted_groups.add(gid)
        for fid, grants in model.own.items():
            model.own[fid] = [g for g in grants if (g.principal_type, g.principal_id)
                              != ("group", gid)]
        for sid, grants in (model.secret_own or {}).items():
            model.secret_own[sid] = [g for g in grants  # type: ignore[index]
                                     if (g.principal_type, g.principal_id) != ("group", gid)]
    else:  # pragma: no cover - the Change union is closed
        raise TypeError(f"not a change: {change!r}")


def _break(model: _Model, fid: str) -> None:
    """Copy what the folder inherits onto it, as Secret Server does when inheritance breaks."""
    model.own[fid] = [_Grant(model.new_id(), g.principal_type, g.principal_id, g.principal_name,
                             list(g.rights), g.secret_role)
                      for g in model.own.get(model.source(fid), [])]
    model.inherits[fid] = False


# --------------------------------------------------------------------------- drawing views
def _directory(model: _Model, inv: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(users, groups, group_members) of one view after the changes."""
    onprem = inv.meta.get("flavor") == "onprem"
    users = inv.users.copy()
    if onprem:
        users = users[~users["id"].isin(model.disabled)]
    elif model.disabled:
        users["active"] = users["active"].where(~users["id"].isin(model.disabled), False)
    groups = inv.groups[~inv.groups["id"].isin(model.deleted_groups)].copy()
    m = inv.group_members
    pairs = list(zip(m["group_id"].tolist(), m["member_id"].tolist(), strict=True))
    keep = [g not in model.deleted_groups and not (t == "Group" and u in model.deleted_groups)
            and (g, u) not in model.removed_members and not (onprem and u in model.disabled)
            for (g, u), t in zip(pairs, m["member_type"].tolist(), strict=True)]
    members = m[pd.Series(keep, index=m.index, dtype=bool)].reset_index(drop=True)
    if "member_count" in groups.columns:
        counts = members["group_id"].value_counts()
        groups["member_count"] = groups["id"].map(counts).fillna(0).astype("int64").to_numpy()
    return users.reset_index(drop=True), groups.reset_index(drop=True), members


def _secret_counts(containers: pd.DataFrame, secrets: pd.DataFrame) -> pd.DataFrame:
    if "secret_count" in containers.columns:
        per = secrets["container_id"].value_counts()
        containers["secret_count"] = containers["id"].map(per).fillna(0).astype("Int64")
    return containers


def _full_view(model: _Model) -> Any:
    inv = model.full
    users, groups, members = _directory(model, inv)
    secrets = inv.privileged_data.copy()
    out = copy.copy(inv)
    out.users, out.groups, out.group_members = users, groups, members
    out.containers = _secret_counts(inv.containers.copy(), secrets)
    out.container_permissions = model.permissions(model.order, first_right_only=False)
    out.privileged_data = secrets
    if model.secret_own is not None:
        out.privileged_data_permissions = model.secret_permissions(secrets["id"].tolist())
    out.meta = {**inv.meta, "what_if": True}
    return out


def _sa_principals(model: _Model, views: Sequence[Any], sa: str) -> set[tuple[str, str]]:
    """The service account and every group it is in, nested, after the changes."""
    names = _Names(views)
    found = names.users.get(casefold(sa))
    if found is None:
        return set()
    parents: dict[str, set[str]] = {}
    for v in views:
        _, _, members = _directory(model, v)
        for g, u in zip(members["group_id"].tolist(), members["member_id"].tolist(), strict=True):
            parents.setdefault(u, set()).add(g)
    out = {("user", found[0])}
    todo = [found[0]]
    while todo:
        for g in parents.get(todo.pop(), ()):
            if ("group", g) not in out:
                out.add(("group", g))
                todo.append(g)
    return out


def _cloud_view(model: _Model, cloud: Any, before_owned: set[str], sa: str,
                others: Sequence[Any]) -> Any:
    """The cloud connector's view after the changes: drawn from the model, as it lists."""
    sa_is = _sa_principals(model, [cloud, *others], sa)

    def owns(grants: Iterable[_Grant]) -> bool:
        return any((g.principal_type, g.principal_id) in sa_is and g.rights
                   and g.rights[0] == "Owner" for g in grants)

    owned = {f for f in model.order if owns(model.own.get(model.source(f), []))}
    full = model.full.containers.drop_duplicates("id")
    containers = full[full["id"].isin(owned)].copy()
    # Paths as the cloud writes them: `…/Parent/Child` below an ancestor it cannot see.
    from ..inventory import folder_paths

    containers["path"] = folder_paths(
        containers["id"].tolist(), containers["name"].tolist(),
        [p if isinstance(p, str) else None for p in containers["parent_id"].tolist()],
        [n if isinstance(n, str) else None for n in containers["parent_name"].tolist()])
    secrets = model.full.privileged_data
    shown: list[str] = []
    if model.secret_own is not None:
        shown = [sid for sid in secrets["id"].tolist()
                 if any((g.principal_type, g.principal_id) in sa_is and role == "Owner"
                        for _, g, role in model.secret_grants(sid))]
    else:
        # Secret roles unknown: a secret keeps what the cloud showed of it, unless the
        # ownership of its folder changed; then it follows the folder.
        was = set(cloud.privileged_data["id"].tolist())
        for sid, fid in zip(secrets["id"].tolist(), secrets["container_id"].tolist(),
                            strict=True):
            src = model.source(fid) if fid in model.parent else None
            now = src is not None and src in owned
            if (sid in was) if now == (src in before_owned) else now:
                shown.append(sid)
    secrets = secrets[secrets["id"].isin(shown)].copy()
    users, groups, members = _directory(model, cloud)
    out = copy.copy(cloud)
    out.users, out.groups, out.group_members = users, groups, members
    out.containers = _secret_counts(containers.reset_index(drop=True), secrets)
    out.container_permissions = model.permissions(containers["id"].tolist(),
                                                  first_right_only=True)
    out.privileged_data = secrets.reset_index(drop=True)
    if cloud.meta.get("secret_permissions_read") and model.secret_own is not None:
        perms = model.secret_permissions(secrets["id"].tolist())
        out.privileged_data_permissions = perms
    out.meta = {**cloud.meta, "what_if": True}
    return out


def _owned_sources(model: _Model, views: Sequence[Any], sa: str) -> set[str]:
    sa_is = _sa_principals(model, views, sa)
    return {f for f in model.order if f == model.source(f) and any(
        (g.principal_type, g.principal_id) in sa_is and g.rights and g.rights[0] == "Owner"
        for g in model.own.get(f, []))}


def _apply(cloud: Any, reference: Any, changes: Sequence[Change], sa: str | None
           ) -> tuple[Any, Any, _Model]:
    """(cloud view after, reference inventory after or None, the changed model)."""
    ref_inv = reference.inventory if isinstance(reference, FolderView) else reference
    if isinstance(reference, FolderView) and ref_inv is None:
        raise OpskitError("a what-if needs a reference inventory, not a folder export: an "
                          "export holds no permissions to change",
                          "give the on-prem inventory as the reference, or none")
    model = _model(ref_inv if ref_inv is not None else cloud)
    views = [cloud] + ([ref_inv] if ref_inv is not None else [])
    names = _Names(views)
    is_cloud = cloud.meta.get("flavor") != "onprem"
    before: set[str] = set()
    if is_cloud:
        sa = sa or infer_service_account(cloud)
        before = _owned_sources(model, views, sa)
    for change in changes:
        _apply_one(model, names, change)
    if not is_cloud and ref_inv is None:
        return _full_view(model), None, model
    after_cloud = (_cloud_view(model, cloud, before, str(sa), views[1:]) if is_cloud
                   else _full_view(model))
    return after_cloud, (_full_view(model) if ref_inv is not None else None), model


def apply_changes(inv: Any, changes: Sequence[Change] | Change, *, reference: Any = None,
                  service_account: str | None = None) -> Any:
    """The inventory ``inv`` as its connector would list the tenant after ``changes``.

    Pure: copies, never the inventory given. A cloud inventory is drawn again as the cloud
    connector shows it (folders and secrets the service account would own after the
    changes); with ``reference`` (the on-prem inventory of the same Secret Server) folders it
    would newly own appear too. Raises :class:`UnknownName` for a name the inventories do not
    hold and :class:`ChangeNotApplicable` for a change that cannot be made as things stand.
    """
    changes = [changes] if not isinstance(changes, Sequence) else list(changes)
    return _apply(inv, reference, changes, service_account)[0]


# --------------------------------------------------------------------------- the differences
@dataclass(frozen=True)
class WhatIf:
    """What ``changes`` would do, audited before and after.

    - ``access``: user, folder, before, after (the strongest right, or None), change
      (``gains``, ``loses``, ``raised``, ``lowered``), via_before, via_after;
    - ``secrets``: user, secret, folder, before, after, change: the secrets of those folders
      (a secret with permissions of its own is left out: its access is not its folder's);
    - ``findings``: change (``appears`` / ``disappears``), code, severity, subject, message;
    - ``coverage``: what the cloud connector would newly see or hide: kind (folder, secret),
      path, change (``newly visible`` / ``newly hidden``).
    """

    changes: tuple[Change, ...]
    before: PermissionAudit
    after: PermissionAudit
    cloud: Any = field(repr=False)  # the cloud inventory after the changes
    reference: Any = field(repr=False)  # the reference inventory after, or None
    access: pd.DataFrame = field(repr=False)
    secrets: pd.DataFrame = field(repr=False)
    findings: pd.DataFrame = field(repr=False)
    coverage: pd.DataFrame = field(repr=False)

    def summary(self) -> str:
        """The blast radius in a few lines."""
        def n(df: pd.DataFrame, col: str, value: str) -> int:
            return int((df[col] == value).sum())

        a, f, c = self.access, self.findings, self.coverage
        lines = [f"What if: {'; '.join(ch.describe() for ch in self.changes)}",
                 f"- access: {n(a, 'change', 'gains')} user×folder gained, "
                 f"{n(a, 'change', 'loses')} lost, {n(a, 'change', 'raised')} raised, "
                 f"{n(a, 'change', 'lowered')} lowered ({a['user'].nunique()} users)",
                 f"- findings: {n(f, 'change', 'appears')} appear, "
                 f"{n(f, 'change', 'disappears')} disappear",
                 f"- cloud connector: {n(c, 'change', 'newly visible')} newly visible, "
                 f"{n(c, 'change', 'newly hidden')} newly hidden"]
        return "\n".join(lines)

    def metrics(self) -> dict[str, int]:
        return {"access_changes": len(self.access), "secret_changes": len(self.secrets),
                "findings_appear": int((self.findings["change"] == "appears").sum()),
                "findings_disappear": int((self.findings["change"] == "disappears").sum()),
                "coverage_changes": len(self.coverage)}


def _changed(before: pd.DataFrame, after: pd.DataFrame, key: str, columns: list[str],
             *, ordered: bool = False) -> set[Any]:
    """The ``key`` values whose rows (``columns``) differ between two frames; ``ordered``:
    their order within a key counts too."""
    both = pd.concat([before[[key, *columns]], after[[key, *columns]]], ignore_index=True)
    both = both.astype({c: str for c in columns})
    if ordered:
        both["_n"] = pd.concat([before.groupby(key, sort=False).cumcount(),
                                after.groupby(key, sort=False).cumcount()], ignore_index=True)
    return set(both.drop_duplicates(keep=False)[key].tolist())


def _touched(before: Access, after: Access) -> tuple[list[str], list[str]]:
    """The folders whose grants in effect differ (in order: a tie's via is its first row) and
    the users whose groups or name differ: no other (user, folder) pair can change."""
    def grants(a: Access) -> pd.DataFrame:  # a group code moves when a group goes: not kept
        return a.grants.assign(known=a.grants["group_code"] >= 0)

    def members(a: Access) -> pd.DataFrame:
        return a.reach.users.assign(group=a.reach.groups["id"].to_numpy(dtype=object)[
            a.reach.users["group"].to_numpy()])

    folders = _changed(grants(before), grants(after), "folder",
                       ["principal_type", "principal_id", "right", "known"], ordered=True)
    ids = _changed(before.users, after.users, "id", ["userName"])
    ids |= _changed(members(before), members(after), "user_id", ["group", "via"])
    names = {u for a in (before, after) for u in
             a.users.loc[a.users["id"].isin(ids), "userName"].astype(str).tolist()}
    return sorted(map(str, folders)), sorted(names)


def _strongest(access: Access, folders: list[str], users: list[str]) -> pd.DataFrame:
    """The strongest right of every pair on ``folders`` or of ``users``, the slices expanded
    alone (a large tenant's whole table would not fit)."""
    rows = pd.concat([access.rows_on(folders), access.rows_of(users)], ignore_index=True)
    rows = access.strongest(rows)
    return pd.DataFrame({"user": rows["user"].astype(str).to_numpy(),
                         "folder": rows["folder"].astype(str).to_numpy(),
                         "right": rows["right"].astype(str).to_numpy(),
                         "via": rows["via"].astype(str).to_numpy()})


_RANK = {r: i for i, r in enumerate(RIGHTS)}


def access_changes(before: PermissionAudit, after: PermissionAudit) -> pd.DataFrame:
    """Who gains or loses what: one row per (user, folder) whose strongest right changes."""
    folders, users = _touched(before.access, after.access)
    both = _strongest(before.access, folders, users).merge(
        _strongest(after.access, folders, users), on=["user", "folder"], how="outer",
        suffixes=("_before", "_after"))
    b, a = both["right_before"], both["right_after"]
    change = []
    for rb, ra in zip(b.tolist(), a.tolist(), strict=True):
        if not isinstance(rb, str):
            change.append("gains")
        elif not isinstance(ra, str):
            change.append("loses")
        elif rb == ra:
            change.append("")
        else:
            change.append("raised" if _RANK.get(ra, -1) > _RANK.get(rb, -1) else "lowered")
    both["change"] = change
    out = both[both["change"] != ""].rename(columns={"right_before": "before",
                                                     "right_after": "after"})
    for column in ("before", "after", "via_before", "via_after"):
        out[column] = [v if isinstance(v, str) else None for v in out[column].tolist()]
    return out[["user", "folder", "before", "after", "change", "via_before", "via_after"]] \
        .sort_values(["user", "folder"]).reset_index(drop=True)


def _secrets_diff(access: pd.DataFrame, before: PermissionAudit, after: PermissionAudit
                  ) -> pd.DataFrame:
    """The secrets of the folders whose access changes, by folder rights."""
    frames = [audit.access.secrets for audit in (before, after)]
    secrets = pd.concat(frames).drop_duplicates("path")
    secrets = secrets[~secrets["own_permissions"].fillna(False).to_numpy(bool)]
    secrets = secrets[secrets["folder"].notna()]
    columns = ["user", "secret", "folder", "before", "after", "change"]
    if access.empty or secrets.empty:  # e.g. a tenant without folders: nothing to pair
        return pd.DataFrame(columns=columns)
    # An all-missing column reads as float64: pandas refuses to merge it with strings.
    keyed = pd.DataFrame({"folder": secrets["folder"].astype(str).to_numpy(),
                          "secret": secrets["path"].to_numpy()})
    out = access.assign(folder=access["folder"].astype(str)).merge(keyed, on="folder")
    return out[columns].sort_values(["user", "secret"]).reset_index(drop=True)


def finding_changes(before: list[Finding], after: list[Finding]) -> pd.DataFrame:
    """Findings that appear or disappear, by (code, subject)."""
    keys_b = {(f.code, f.subject) for f in before}
    keys_a = {(f.code, f.subject) for f in after}
    rows = [("disappears", f) for f in before if (f.code, f.subject) not in keys_a]
    rows += [("appears", f) for f in after if (f.code, f.subject) not in keys_b]
    return pd.DataFrame([{"change": c, "code": f.code, "severity": f.severity,
                          "subject": f.subject, "message": f.message} for c, f in rows],
                        columns=["change", "code", "severity", "subject", "message"])


def coverage_diff(before: PermissionAudit, after: PermissionAudit, cloud_before: Any,
                  cloud_after: Any) -> pd.DataFrame:
    """Folders and secrets the cloud connector would newly see or hide."""
    rows = []
    cb, ca = before.coverage, after.coverage
    if cb.measured and ca.measured:
        vis_b = dict(zip(cb.folders["path"].tolist(), cb.folders["visible"].tolist(),
                         strict=True))
        vis_a = dict(zip(ca.folders["path"].tolist(), ca.folders["visible"].tolist(),
                         strict=True))
        folders_b = {p for p, v in vis_b.items() if v}
        folders_a = {p for p, v in vis_a.items() if v}
        all_secrets = set(before.access.secrets["path"].dropna().tolist())
        secrets_b = all_secrets - set(cb.hidden_secrets["path"].tolist())
        secrets_a = all_secrets - set(ca.hidden_secrets["path"].tolist())
    else:
        folders_b = set(cloud_before.containers["path"].dropna().tolist())
        folders_a = set(cloud_after.containers["path"].dropna().tolist())
        secrets_b = set(before.access.secrets["path"].dropna().tolist())
        secrets_a = set(after.access.secrets["path"].dropna().tolist())
    for kind, b, a in (("folder", folders_b, folders_a), ("secret", secrets_b, secrets_a)):
        rows += [(kind, p, "newly visible") for p in sorted(a - b)]
        rows += [(kind, p, "newly hidden") for p in sorted(b - a)]
    return pd.DataFrame(rows, columns=["kind", "path", "change"])


def what_if(cloud: Any, changes: Sequence[Change] | Change, *, reference: Any = None,
            tenant: str | None = None, service_account: str | None = None,
            before: PermissionAudit | None = None) -> WhatIf:
    """Apply ``changes`` to copies of the inventories, audit again and compare.

    The parameters are :func:`audit_permissions`'s; ``before`` reuses an audit already made of
    the same inventories. Pure: nothing is sent, the inventories given are not changed.
    """
    changes = [changes] if not isinstance(changes, Sequence) else list(changes)
    before = before or audit_permissions(cloud, reference, tenant=tenant,
                                         service_account=service_account)
    sa = before.service_account
    cloud_after, ref_after, _ = _apply(cloud, reference, changes, sa)
    after = audit_permissions(cloud_after, ref_after, tenant=before.tenant, service_account=sa)
    access = access_changes(before, after)
    return WhatIf(tuple(changes), before, after, cloud_after, ref_after, access,
                  _secrets_diff(access, before, after), finding_changes(before.findings,
                                                                      after.findings),
                  coverage_diff(before, after, cloud, cloud_after))


# --------------------------------------------------------------------------- as SCIM operations
INHERITANCE_STEPS = (
    "In Secret Server, open the folder and its Folder Permissions (Edit).",
    "Turn 'Inherit Permissions' off (a copy of the inherited grants stays as the folder's "
    "own) or on (the folder's own grants are dropped), then Save.",
)


def scim_plan(cloud: Any, changes: Sequence[Change] | Change, *, reference: Any = None) -> Any:
    """The SCIM operations a dry run would send to make ``changes``, in order, as a
    :class:`opskit.groupgap.RemediationPlan` (the shape the group-gap plan has): ``method`` and
    ``path`` (ids, relative to the SCIM base) and ``body``; summaries name users by userName.
    Nothing is sent. Inheritance has no SCIM operation (Delinea documents no attribute for
    it): those changes are ``manual`` steps. docs/audit.md maps each change to its operation.
    """
    from ..groupgap import ManualAction, Operation, RemediationPlan
    from ..groupgap._plan import _members_text
    from ..scim import filters, urns

    changes = [changes] if not isinstance(changes, Sequence) else list(changes)
    ref_inv = reference.inventory if isinstance(reference, FolderView) else reference
    model = _model(ref_inv if ref_inv is not None else cloud)
    names = _Names([cloud] + ([ref_inv] if ref_inv is not None else []))
    user_names = {uid: name for name_id in names.users.values() for uid, name in [name_id]}
    ops: list[Any] = []
    manual: list[Any] = []
    skipped: list[str] = []

    def permission(fid: str, kind: str, pid: str) -> _Grant | None:
        return next((g for g in model.own.get(fid, []) if (g.principal_type, g.principal_id)
                     == (kind, pid)), None) if not model.inherits.get(fid) else None

    def delete(grant: _Grant, change: Change, subject: str, why: str) -> None:
        if grant.id.startswith("whatif."):
            skipped.append(f"{change.describe()}: the permission is the copy Secret Server "
                           "makes when an earlier change breaks the folder's inheritance; its "
                           "id is known only then: delete it after that step")
            return
        ops.append(Operation("DELETE", f"ContainerPermissions/{grant.id}", {}, why,
                             change.kind, subject))

    for change in changes:
        if isinstance(change, SetGrant | RevokeGrant):
            fid = names.folder(model, change.folder)
            kind, pid, pname = names.principal(change.principal, change.principal_type)
            who = f"{kind} {pname}"
            if isinstance(change, RevokeGrant):
                grant = permission(fid, kind, pid)
                _apply_one(model, names, change)  # refuses an inherited or absent grant
                assert grant is not None
                delete(grant, change, change.folder,
                       f"delete the permission of {who} on {change.folder}")
                continue
            inherits = bool(model.inherits.get(fid))
            if inherits and any((g.principal_type, g.principal_id) == (kind, pid)
                                for g in model.own.get(model.source(fid), [])):
                skipped.append(f"{change.describe()}: {who} inherits a grant there, and the "
                               "copy made when the POST breaks the inheritance would clash "
                               "with the new one: break the inheritance in Secret Server "
                               "first, then delete the copy and add the grant")
                _apply_one(model, names, change)
                continue
            old = permission(fid, kind, pid)
            if old is not None:
                delete(old, change, change.folder, f"delete the permission of {who} on "
                       f"{change.folder} (the cloud connector changes none in place: delete, "
                       "then add)")
            grant_body = {"schemas": [urns.CONTAINER_PERMISSION], "container": {"value": fid},
                          kind: {"value": pid}, "rights": list(change.rights)}
            ops.append(Operation(
                "POST", "ContainerPermissions", grant_body,
                f"give {who} {', '.join(change.rights)} on {change.folder}" + (
                    "; Secret Server first breaks the folder's inheritance, copying what it "
                    "inherited" if inherits else "")
                + ("; the cloud connector keeps only the first right"
                   if len(change.rights) > 1 else ""),
                change.kind, change.folder))
        elif isinstance(change, RemoveMember):
            gid, gname = names.group(change.group)
            uid, _ = names.user(change.user)
            ops.append(Operation(
                "PATCH", f"Groups/{gid}", {"schemas": [urns.PATCH_OP], "Operations": [
                    {"op": "remove", "path": f"members[{filters.eq('value', uid)}]"}]},
                f"remove 1 direct member of {gname!r}", change.kind, gname,
                "remove: " + _members_text([uid], user_names)))
        elif isinstance(change, DisableUser):
            uid, uname = names.user(change.user)
            row = names.user_rows.get(uid, {})
            body: dict[str, Any] = {"schemas": [urns.USER], "id": uid, "userName": uname,
                                    "active": False}
            if isinstance(row.get("displayName"), str):
                body["displayName"] = row["displayName"]
            if isinstance(row.get("email"), str):
                body["emails"] = [{"value": row["email"], "type": "work", "primary": True}]
            ops.append(Operation("PUT", f"Users/{uid}", body,
                                 f"disable user {uname} (the whole user, active false)",
                                 change.kind, uname, _members_text([uid], user_names)))
        elif isinstance(change, DeleteGroup):
            gid, gname = names.group(change.group)
            ops.append(Operation("DELETE", f"Groups/{gid}", {},
                                 f"delete group {gname!r} (its grants and memberships go too)",
                                 change.kind, gname))
        else:
            manual.append(ManualAction(
                change.kind, (change.folder,),
                f"{change.describe()}: no SCIM operation; Delinea documents no SCIM attribute "
                "for a folder's inheritance, so do it in Secret Server", INHERITANCE_STEPS))
        _apply_one(model, names, change)
    return RemediationPlan(ops, manual, skipped)

