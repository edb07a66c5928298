"""Permission findings: coverage gaps and risky grants, with stable codes.

Which view each finding reads:

- coverage findings compare the cloud view with the reference (see ``_coverage``); the secret
  findings read the service account's secret roles from the reference's secret permissions
  where its server lists them (see ``_secrets``);
- grant findings read the fullest view of the permissions: the reference inventory when there
  is one (it shows every folder and every right as sent), else the cloud view. Users are named
  from both views: the cloud lists disabled users, the on-prem connector leaves them out;
- group membership is read from the cloud view when it has the group (the on-prem view hides
  disabled members), else from the reference.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import OpskitError
from ..findings import PERMISSION_AUDIT, Finding, raised_by
from ..findings import finding as _finding
from ._coverage import Coverage, FolderView, _count
from ._coverage import coverage as measure
from ._names import casefold
from ._secrets import (
    SecretGaps,
    roles_clause,
    secret_gaps,
    secret_permissions,
    service_account_roles,
)
from ._views import View


class _Directory:
    """Users and groups across the views, named as people read them."""

    def __init__(self, views: list[View], more_users: pd.DataFrame | None = None):
        frames = [v.inv.users for v in views] + ([more_users] if more_users is not None else [])
        self.by_id: dict[str, tuple[str, Any]] = {}
        # A user missing from a view's Users list (the on-prem connector leaves disabled users
        # out) is looked up by displayName in the *other* frames only: within its own view a
        # namesake would be another person.
        self._by_display: list[dict[str, tuple[str, Any]]] = []
        for users in frames:
            ids, names = users["id"].tolist(), users["userName"].tolist()
            displays, actives = users["displayName"].tolist(), users["active"].tolist()
            for uid, name, active in zip(ids, names, actives, strict=True):
                self.by_id.setdefault(uid, (name, active))
            # Each displayName's one (userName, active), None once a second differs: no set
            # per name (200,000 users at the largest tenants).
            by_display: dict[str, tuple[str, Any] | None] = {}
            for name, display, active in zip(names, displays, actives, strict=True):
                if isinstance(display, str):
                    who = (name, active)
                    if by_display.setdefault(display, who) != who:
                        by_display[display] = None
            self._by_display.append({d: who for d, who in by_display.items()
                                     if who is not None})
        self._others: dict[int, dict[str, tuple[str, Any] | None]] = {}
        # A group's members come from the first view that has it (the cloud's first).
        self.members: dict[str, frozenset[str]] = {}
        for n, v in enumerate(views):
            group_names = v.reach.groups["displayName"].tolist()
            # Lists, made sets once: only for the groups no earlier view had (a set per group
            # and its frozen copy held 60 MB at once at the largest tenants).
            per_group: dict[str, list[str]] = {str(name): [] for name in group_names
                                               if str(name) not in self.members}
            folded: dict[str, str] = {}
            for g, uid in zip(v.reach.users["group"].tolist(), v.reach.users["user_id"].tolist(),
                              strict=True):
                listed = per_group.get(str(group_names[g]))
                if listed is None:
                    continue
                if uid not in folded:
                    folded[uid] = casefold(self.user(uid, None, n)[0])
                listed.append(folded[uid])
            for name, members in per_group.items():
                self.members[name] = frozenset(members)

    def user(self, uid: Any, display: Any, view: int = -1) -> tuple[str, Any]:
        """(userName, active) of a user named in view number ``view``: by id, else by a
        displayName unique in the other frames, else the display itself, active unknown."""
        if uid in self.by_id:
            return self.by_id[uid]
        if view not in self._others:
            merged: dict[str, tuple[str, Any] | None] = {}
            for i, frame in enumerate(self._by_display):
                if i == view:
                    continue
                for d, who in frame.items():
                    merged[d] = who if merged.get(d, who) == who else None
            self._others[view] = merged
        found = self._others[view].get(display) if isinstance(display, str) else None
        if found is not None:
            return found
        return (display if isinstance(display, str) else str(uid)), None


def infer_service_account(cloud: Any, view: View | None = None) -> str:
    """The userName that holds Owner, directly or through groups, on every folder the cloud
    view shows: the cloud connector shows only such folders, so its service account is one."""
    view = view or View.of(cloud)
    e_folder, e_row = view.grants.effective_rows()
    own = view.grants.own
    is_owner = (own["right"] == "Owner").to_numpy()[e_row]
    kinds = own["principal_type"].to_numpy(dtype=object)[e_row[is_owner]]
    pids = own["principal_id"].to_numpy(dtype=object)[e_row[is_owner]]
    folders = e_folder[is_owner]
    members: dict[str, list[str]] = {}
    gid = view.reach.groups["id"].tolist()
    for g, uid in zip(view.reach.users["group"].tolist(), view.reach.users["user_id"].tolist(),
                      strict=True):
        members.setdefault(gid[g], []).append(uid)
    owners: dict[str, set[int]] = {}
    for kind, pid, folder in zip(kinds.tolist(), pids.tolist(), folders.tolist(), strict=True):
        for uid in [pid] if kind == "user" else members.get(pid, []):
            owners.setdefault(uid, set()).add(folder)
    n = len(view.grants.folders)
    everywhere = sorted(u for u, f in owners.items() if len(f) == n)
    names = dict(zip(cloud.users["id"].tolist(), cloud.users["userName"].tolist(), strict=True))
    if n and len(everywhere) == 1 and everywhere[0] in names:
        return str(names[everywhere[0]])
    found = ", ".join(str(names.get(u, u)) for u in everywhere) or "none"
    raise OpskitError(f"cannot tell which user is the cloud service account (Owner of every "
                      f"visible folder: {found})",
                      "pass service_account= the service user's userName (the profile's "
                      "client_id, e.g. scim.integration@acme.com)")


def _known_false(value: Any) -> bool:
    return value is not None and value is not pd.NA and not bool(value)


def _rights(rights: Any) -> str:
    return "[" + ", ".join(map(str, rights)) + "]"


def _grouped(rows: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for subject, note in rows:
        notes = out.setdefault(subject, [])
        if note not in notes:
            notes.append(note)
    return out


def _coverage_findings(cov: Coverage, tenant: str, ref: View | None, sa: str,
                       directory: _Directory, gaps: SecretGaps,
                       roles: dict[str, str] | None) -> list[Finding]:
    if not cov.measured:
        return [_finding("COVERAGE_NOT_MEASURED", tenant, cov.statement)]
    out: list[Finding] = []
    hidden_f = (cov.folders_total or 0) - (cov.folders_visible or 0)
    if hidden_f:
        out.append(_finding(
            "PARTIAL_FOLDER_VISIBILITY", tenant,
            f"the service account is Owner of {cov.folders_visible:,} of {cov.folders_total:,} "
            f"folders; {_count(hidden_f, 'folder')} in "
            f"{_count(len(cov.hidden_roots), 'subtree')} {_are(hidden_f)} hidden from the cloud "
            "connector, so the IGA will not see them"))
    fixes = _fix_points(cov, ref)
    causes = _hidden_causes(ref, set(fixes), sa, directory) if ref is not None else {}
    for path, fix in sorted(fixes.items()):
        cause = causes.get(path, "the service account holds no Owner grant on it")
        if fix.top != path:
            cause += (f"; it sits in the hidden subtree of {fix.top}, but granting Owner there "
                      "will not reveal it")
        n = fix.following
        tail = (f"; {_count(n, 'subfolder')} that {'inherits' if n == 1 else 'inherit'} from "
                f"it {_are(n)} hidden too" if n else "")
        if fix.own_below:
            tail += (f"; {_count(fix.own_below, 'folder')} below it with permissions of "
                     f"{'its' if fix.own_below == 1 else 'their'} own "
                     f"{'stays' if fix.own_below == 1 else 'stay'} hidden when it is fixed "
                     "(see their own findings)")
        out.append(_finding("FOLDER_NOT_VISIBLE", path,
                            f"{cause}, so the cloud connector does not return it{tail} "
                            f"({_count(fix.secrets, 'secret')} in what it hides)"))
    for path, n_sub, n_sec, held in zip(*(gaps.subtrees[c].tolist() for c in (
            "path", "subfolders", "secrets", "roles")), strict=True):
        where = "the folder" + (f" and its {_count(n_sub, 'inheriting subfolder')}"
                                if n_sub else "")
        out.append(_finding("SECRETS_NOT_VISIBLE", path,
                            f"the service account is folder Owner, so the cloud connector "
                            f"returns the folder, but owns none of the "
                            f"{_count(n_sec, 'secret')} in {where}: the IGA sees none of "
                            f"them; {held}"))
    not_owned = cov.not_owned[~cov.not_owned["folder"].isin(gaps.paths)]
    for path, sid in zip(not_owned["path"].tolist(), not_owned["id"].tolist(), strict=True):
        held = roles_clause(None if roles is None else [roles.get(sid)], "on it")
        out.append(_finding("SECRET_NOT_OWNED", path,
                            "the folder is returned but the secret is not: the service "
                            f"account is not Owner of it ({held}), so its privileged data is "
                            "not returned and a container update that touches it is refused "
                            "with Access Denied"))
    return out



def _are(n: int) -> str:
    return "is" if n == 1 else "are"


@dataclass(frozen=True)
class _Fix:
    """One hidden folder to fix on its own: the top of a hidden subtree, or a folder inside
    one whose own permissions keep it hidden when the top is fixed."""

    top: str  # the top of the hidden subtree it is in (itself for a top)
    following: int  # hidden subfolders that inherit from it, so appear once it is fixed
    own_below: int  # folders below it that are fixes of their own
    secrets: int  # secrets in it and in the subfolders that follow it


def _fix_points(cov: Coverage, ref: View | None) -> dict[str, _Fix]:
    """Every hidden folder an operator must fix on its own, by path. Without a reference
    inventory (a folder export has no permissions) only the tops of hidden subtrees."""
    hidden = cov.folders[cov.folders["hidden_root"].notna()]
    paths, parents = hidden["path"].tolist(), hidden["parent"].tolist()
    tops, secrets = hidden["hidden_root"].tolist(), hidden["secrets"].tolist()
    own: set[str] = set()
    if ref is not None:
        folders = ref.grants.folders
        codes = range(len(folders))
        own = {p for p, c, src in zip(folders["path"].tolist(), codes,
                                      folders["source"].tolist(), strict=True) if c == src}
    fixes = {p for p, top in zip(paths, tops, strict=True) if p == top or p in own}
    # A parent's path sorts before its children's, so each folder's parent is placed first.
    point: dict[str, str] = {}
    for p, parent in sorted(zip(paths, parents, strict=True)):
        point[p] = p if p in fixes else point.get(parent, p)
    following = dict.fromkeys(fixes, 0)
    own_below = dict.fromkeys(fixes, 0)
    in_it = dict.fromkeys(fixes, 0)
    for p, parent, n in zip(paths, parents, secrets, strict=True):
        in_it[point[p]] += int(n)
        if p in fixes:
            if parent in point:
                own_below[point[parent]] += 1
        else:
            following[point[p]] += 1
    top_of = dict(zip(paths, tops, strict=True))
    return {p: _Fix(top_of[p], following[p], own_below[p], in_it[p]) for p in fixes}


def _no_visible_secrets(cloud: Any, cov: Coverage, tenant: str,
                        roles: dict[str, str] | None) -> list[Finding]:
    """NO_VISIBLE_SECRETS: folders but no secret, where Secret Server holds (or may hold) some."""
    folders, secrets = len(cloud.containers), len(cloud.privileged_data)
    if not folders or secrets or (cov.measured and not cov.secrets_total):
        return []
    if cov.measured:
        held = (f" of the {cov.secrets_total:,} secrets the reference holds; " + roles_clause(
            None if roles is None else map(roles.get, cov.hidden_secrets["id"]), "on them"))
    else:
        held = " (without a reference nothing shows whether Secret Server holds any)"
    return [_finding("NO_VISIBLE_SECRETS", tenant,
                     f"the service account sees {_count(folders, 'folder')} but no secret"
                     f"{held}, so the IGA will aggregate no privileged data")]


def _sa_secret_roles(ref: View | None, sa: str, directory: _Directory
                     ) -> dict[str, str] | None:
    """The service account's secret role on each secret the reference's secret permissions
    name it on; None when the reference lists none (roles unknown)."""
    perms = secret_permissions(ref.inv if ref is not None else None)
    if ref is None or perms is None:
        return None
    gname = dict(zip(ref.inv.groups["id"].tolist(), ref.inv.groups["displayName"].tolist(),
                     strict=True))

    def names_sa(kind: str, pid: Any, pname: Any) -> bool:
        name = (directory.user(pid, pname, 1)[0] if kind == "user"
                else gname.get(pid, pname if isinstance(pname, str) else str(pid)))
        return _is_sa(kind, name, sa, directory)

    return service_account_roles(perms, names_sa)


def _is_sa(kind: str, name: str, sa: str, directory: _Directory) -> bool:
    if kind == "user":
        return casefold(name) == sa
    return sa in directory.members.get(name, frozenset())


def _hidden_causes(ref: View, roots: set[str], sa: str, directory: _Directory
                   ) -> dict[str, str]:
    """Why each hidden folder with own permissions hides from the service account, by path."""
    own = _named_own(ref, directory, 1)
    own = own[np.array([f in roots for f in own["folder"].tolist()], dtype=bool)]
    sent: dict[str, list[str]] = {}
    for folder, kind, name, right, rights in zip(*(own[c].tolist() for c in (
            "folder", "principal_type", "principal", "right", "rights")), strict=True):
        if _is_sa(kind, name, sa, directory) and "Owner" in list(rights) and right != "Owner":
            sent.setdefault(folder, list(rights))
    return {f: (f"the service account's grant was sent as {_rights(sent[f])} and the cloud "
                "keeps only the first right" if f in sent else
                "no Owner grant for the service account, directly or through a group, in its "
                "own permissions") for f in roots}


def _named_own(view: View, directory: _Directory, index: int = 0) -> pd.DataFrame:
    """The view's own (not inherited) permission rows: folder path, principal_type, principal
    (userName or group displayName), active (users), right, rights."""
    own = view.grants.own
    paths = view.grants.folders["path"].to_numpy(dtype=object)
    gname = dict(zip(view.inv.groups["id"].tolist(), view.inv.groups["displayName"].tolist(),
                     strict=True))
    principal, active = [], []
    for kind, pid, pname in zip(own["principal_type"].tolist(), own["principal_id"].tolist(),
                                own["principal_name"].tolist(), strict=True):
        if kind == "user":
            name, act = directory.user(pid, pname, index)
        else:
            name, act = gname.get(pid, pname if isinstance(pname, str) else str(pid)), None
        principal.append(name)
        active.append(act)
    return pd.DataFrame({"folder": paths[own["folder"].to_numpy()],
                         "principal_type": own["principal_type"].to_numpy(dtype=object),
                         "principal": np.array(principal, dtype=object),
                         "active": np.array(active, dtype=object),
                         "right": own["right"].to_numpy(dtype=object),
                         "rights": own["rights"].to_numpy(dtype=object)})


def _grant_findings(view: View, index: int, directory: _Directory, sa: str,
                    planned: pd.DataFrame | None) -> list[Finding]:
    own = _named_own(view, directory, index)
    folder, kind = own["folder"].tolist(), own["principal_type"].tolist()
    principal, active = own["principal"].tolist(), own["active"].tolist()
    right, rights = own["right"].tolist(), own["rights"].tolist()
    where = [f"{_rights(r)} on {f}" for r, f in zip(rights, folder, strict=True)]
    rows = list(zip(kind, principal, active, where, strict=True))
    people = [(p, a, w) for k, p, a, w in rows if k == "user" and casefold(p) != sa]
    groups = [(p, w) for k, p, _, w in rows if k != "user"]
    out: list[Finding] = []

    for user, notes in _grouped((p, w) for p, a, w in people if _known_false(a)).items():
        out.append(_finding("GRANT_TO_DISABLED_USER", user,
                            f"disabled user still holds {'; '.join(notes)}"))
    empty = ((g, w) for g, w in groups if g in directory.members and not directory.members[g])
    for group, notes in _grouped(empty).items():
        out.append(_finding("GRANT_TO_EMPTY_GROUP", group,
                            f"group has no members but holds {'; '.join(notes)}"))

    truncated = [(f, f"{p} set with {_rights(r)}, in effect {r[0]}")
             for f, p, r in zip(folder, principal, rights, strict=True) if len(r) > 1]
    if planned is not None and len(planned):
        truncated += [(f, f"planned for {p} as {_rights(r)} (line {line}), would take effect as "
                      f"{r[0]}")
                  for f, p, r, line in zip(*(planned[c].tolist() for c in (
                      "folder", "principal", "rights", "_line")), strict=True) if len(r) > 1]
    for path, why in _grouped(truncated).items():
        out.append(_finding("RIGHTS_TRUNCATED", path,
                            f"{'; '.join(why)} (the cloud connector keeps only the first right)"))

    # FOLDER_WITHOUT_OWNER: own permissions make the service account Owner and nobody else.
    sa_owner: set[str] = set()
    person_owner: set[str] = set()
    for f, k, p, r in zip(folder, kind, principal, right, strict=True):
        if r != "Owner":
            continue
        if k == "user":
            (sa_owner if casefold(p) == sa else person_owner).add(f)
        else:
            members = directory.members.get(p, frozenset())
            if sa in members:
                sa_owner.add(f)
            if members - {sa}:
                person_owner.add(f)
    for f in sorted(sa_owner - person_owner):
        out.append(_finding("FOLDER_WITHOUT_OWNER", f,
                            "its own permissions make only the service account Owner; no "
                            "person or group can manage the folder"))

    for user, notes in _grouped((p, w) for p, _, w in people).items():
        out.append(_finding("DIRECT_USER_GRANT", user,
                            f"granted directly, not through a group: {'; '.join(notes)}"))
    return out


def permission_findings(cloud: Any, reference: Any = None, *, tenant: str | None = None,
                        service_account: str | None = None,
                        planned: pd.DataFrame | None = None) -> list[Finding]:
    """The permission findings for a cloud inventory, against an optional reference.

    ``reference``: an on-prem Inventory (or any fuller inventory of the same Secret Server),
    a :class:`FolderView` (e.g. a folder export), or None. ``tenant`` names the tenant in
    tenant-wide findings (default: the inventory's source). ``service_account``: the cloud
    service user's userName (default: inferred, see :func:`infer_service_account`).
    ``planned``: planned changes (``opskit.inputs.audit.read_planned_changes``); each one with
    several rights is reported as RIGHTS_TRUNCATED.
    """
    views = prepare(cloud, reference)
    cov = measure(cloud, reference)
    return findings_of(views, cov, tenant=tenant, service_account=service_account,
                       planned=planned)


def prepare(cloud: Any, reference: Any) -> list[View]:
    """The cloud view, then the reference inventory's when there is one."""
    ref_inv = reference.inventory if isinstance(reference, FolderView) else reference
    return [View.of(cloud)] + ([View.of(ref_inv)] if ref_inv is not None else [])


def findings_of(views: list[View], cov: Coverage, *, tenant: str | None,
                service_account: str | None, planned: pd.DataFrame | None) -> list[Finding]:
    cloud = views[0].inv
    tenant = tenant or str(cloud.meta.get("source") or "tenant")
    sa = casefold(service_account or infer_service_account(cloud, views[0]))
    directory = _Directory(views)
    ref = views[1] if len(views) > 1 else None
    roles = _sa_secret_roles(ref, sa, directory)
    gaps = secret_gaps(views[0], cov, roles)
    found = _no_visible_secrets(cloud, cov, tenant, roles)
    found += _coverage_findings(cov, tenant, ref, sa, directory, gaps, roles)
    found += _grant_findings(views[-1], len(views) - 1, directory, sa, planned)
    order = {c.code: i for i, c in enumerate(raised_by(PERMISSION_AUDIT))}
    return sorted(found, key=lambda f: (order[f.code], f.subject))
