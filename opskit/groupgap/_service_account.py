"""The cloud connector's service account, and what leaving a group would cost it.

The SCIM Cloud Connector shows only the folders (and their secrets) on which its service
account holds Owner, directly or through groups (FAQ). A plan that removes the account from a
group can therefore shrink what the connector, and so the IGA, sees. The cloud inventory is
the view that shows the account's grants as the connector applies them: from it,
:class:`ServiceAccount` says through which of its groups it owns each folder it sees.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..audit import View, infer_service_account
from ..errors import LimitExceeded, OpskitError


@dataclass(frozen=True)
class ServiceAccount:
    """The service user (``user_id`` None: it could not be identified, ``how`` says why).

    ``direct``: ids of the folders it owns by a grant to itself; ``through``: folder id → ids of
    the groups listing it directly through which it holds Owner there (a grant to the group,
    or to a group that contains it). ``folders`` and ``secrets`` name every folder the cloud
    view shows, and the secrets in each.
    """

    user_name: str
    user_id: str | None
    how: str
    folders: Mapping[str, str] = field(default_factory=dict)  # folder id → path
    secrets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # folder id → names
    direct: frozenset[str] = frozenset()
    through: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def stops_owning(self, leaving: Collection[str], group: str) -> list[str]:
        """Paths of the folders the account would no longer own through ``group`` once it has
        left every group in ``leaving`` (ids): those it holds Owner on only through them."""
        gone = set(leaving)
        return sorted(self.folders[f] for f, via in self.through.items()
                      if group in via and via <= gone and f not in self.direct)

    def secrets_in(self, paths: Collection[str]) -> list[str]:
        wanted = set(paths)
        return sorted(s for f, names in self.secrets.items() if self.folders[f] in wanted
                      for s in names)


def find_service_account(inv: Any, name: str | None = None) -> ServiceAccount:
    """The service account of a cloud inventory: the user named (the profile's ``client_id``),
    else the one user who holds Owner on every folder the view shows."""
    users = dict(zip(inv.users["id"].astype(str), inv.users["userName"], strict=True))
    by_name = {str(n).casefold(): i for i, n in users.items() if isinstance(n, str)}
    folders = dict(zip(inv.containers["id"].astype(str), inv.containers["path"], strict=True))
    secrets: dict[str, tuple[str, ...]] = {}
    for folder, secret in zip(inv.privileged_data["container_id"].astype(str),
                              inv.privileged_data["name"], strict=True):
        secrets[folder] = (*secrets.get(folder, ()), str(secret))
    try:
        # The audit's own reading of the view: the permissions in effect on each folder, and
        # who each group reaches through nesting.
        view = View.of(inv)
        how = "the profile's client_id"
        if name is None or name.casefold() not in by_name:
            missing = f"{name!r} is not among the Platform's users, so " if name else ""
            how = missing + "the user who holds Owner on every folder the cloud view shows"
            try:
                name = infer_service_account(inv, view)
            except OpskitError as exc:
                return ServiceAccount(name or "", None, missing + exc.message, folders, secrets)
    except LimitExceeded as exc:  # groups nested too deep to expand
        return ServiceAccount(name or "", None, exc.message, folders, secrets)
    uid = by_name[name.casefold()]
    direct, through = _owner_routes(view, inv.group_members, uid)
    return ServiceAccount(users[uid], uid, how, folders, secrets, direct, through)


def _owner_routes(view: View, members: Any, uid: str
                  ) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """The folders the user owns by a grant to itself, and, for each folder, the groups
    listing the user directly through which it holds Owner there."""
    listing = {str(g) for g, m, kind in zip(members["group_id"], members["member_id"],
                                            members["member_type"], strict=True)
               if kind != "Group" and str(m) == uid}
    group_id = view.reach.groups["id"].astype(str).tolist()
    holds: dict[str, set[str]] = {}  # a group → the listing groups it holds the user through
    for group, nested in zip(view.reach.nesting["group"].tolist(),
                             view.reach.nesting["member_group"].tolist(), strict=True):
        if group_id[nested] in listing:
            holds.setdefault(group_id[group], set()).add(group_id[nested])
    folder_id = view.grants.folders["id"].astype(str).tolist()
    own = view.grants.own
    e_folder, e_row = view.grants.effective_rows()
    direct: set[str] = set()
    through: dict[str, set[str]] = {f: set() for f in folder_id}
    for folder, right, kind, principal in zip(
            e_folder.tolist(), own["right"].to_numpy(dtype=object)[e_row].tolist(),
            own["principal_type"].to_numpy(dtype=object)[e_row].tolist(),
            own["principal_id"].astype(str).to_numpy(dtype=object)[e_row].tolist(),
            strict=True):
        if right != "Owner":  # the first right is the one in effect
            continue
        if kind == "user" and principal == uid:
            direct.add(folder_id[folder])
        elif kind == "group":
            through[folder_id[folder]] |= holds.get(principal, set())
    return frozenset(direct), {f: frozenset(via) for f, via in through.items()}
