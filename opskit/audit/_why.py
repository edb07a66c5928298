"""Why a user reaches a folder or a secret: every path that gives the right, strongest first,
and the single changes that would take it away.

A path is a grant in effect there (set on the inheritance root, or on the secret itself) and,
for a group grant, one chain of nested groups from the granted group down to a group that lists
the user. Every simple chain counts, not only the shortest the access table keeps: a change
removes the access only when it cuts all of them. The changes offered are the steps every path
shares: a membership to remove, a grant to revoke, or inheritance to break on a folder between
the root and the target.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .._escaping import markdown_code
from .._escaping import markdown_text as _md  # names are data: never markup
from ._access import DIRECT, Access
from ._folders import RIGHTS
from ._groups import VIA_SEPARATOR
from ._names import UnknownName
from ._secrets import SECRET_ROLE_RANK

# Diamonds multiply chains; past this many paths the rest are counted, not listed.
MAX_PATHS = 1000
PATH_COLUMNS = ["right", "principal_type", "principal", "rights", "granted_on", "via"]


@dataclass(frozen=True)
class Removal:
    """One change that would remove the access, as a person reads it (``text``) and as a
    program applies it: ``kind`` is ``remove member`` (``member_id`` out of ``group_id``),
    ``revoke grant`` (the permission of ``principal_type``/``principal_id`` set on ``folder``,
    or on ``secret``) or ``break inheritance`` (on ``folder``, or on ``secret``: Secret Server
    copies the inherited permissions, and the copy must leave out ``leave_out``, the
    (principal_type, principal_id) of the grants that reach the user)."""

    kind: str
    text: str
    folder: str | None = None
    secret: str | None = None
    group_id: str | None = None
    member_id: str | None = None
    principal_type: str | None = None
    principal_id: str | None = None
    leave_out: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Why:
    """Why ``user`` reaches ``subject`` (a folder path, or a secret path when ``kind`` is
    ``secret``).

    ``paths``: one row per path, strongest first: ``right`` (folder right, or secret role),
    the grant (``principal_type``, ``principal``, ``rights``, ``granted_on``: where it is set)
    and ``via`` (``direct`` or the chain of groups down to the one listing the user).
    ``inherits_through``: the folders (and the secret) between ``granted_on`` and the subject
    that take its permissions. ``removals``: the single changes that remove the access (empty
    when none does). ``note``: what the answer cannot say, if anything.
    """

    user: str
    subject: str
    kind: str
    folder: str
    granted_on: str | None
    inherits_through: tuple[str, ...]
    paths: pd.DataFrame
    removals: tuple[Removal, ...]
    active: bool | None
    truncated: bool = False
    note: str = ""

    @property
    def reaches(self) -> bool:
        return not self.paths.empty

    @property
    def right(self) -> str | None:
        """The strongest right (or secret role) the user holds there; None when none."""
        return None if self.paths.empty else str(self.paths["right"].iloc[0])

    def table(self) -> pd.DataFrame:
        """The paths, numbered from 1, strongest first."""
        out = self.paths.copy()
        out.index = pd.RangeIndex(1, len(out) + 1, name="path")
        return out

    def changes(self) -> pd.DataFrame:
        """The single changes that remove the access: kind, change."""
        return pd.DataFrame({"kind": [c.kind for c in self.removals],
                             "change": [c.text for c in self.removals]})

    def summary(self) -> str:
        """One line: the right, how many paths, and what removes it."""
        what = f"{self.user} → {self.subject}"
        if not self.reaches:
            return f"{what}: no access" + (f" ({self.note})" if self.note else "")
        n = len(self.paths)
        more = "+" if self.truncated else ""
        paths = f"{n}{more} path{'s' if n > 1 else ''}"
        if self.removals:
            fix = f"{len(self.removals)} single change{'s' if len(self.removals) > 1 else ''} " \
                  f"remove{'' if len(self.removals) > 1 else 's'} it"
        else:
            fix = f"no single change: {n}{more} paths share no step"
        return f"{what}: {self.right} through {paths}; {fix}"

    def markdown(self) -> str:
        """The answer as Markdown: the summary, where the grants are set, the paths and the
        changes."""
        lines = [f"**{_md(self.summary())}**", ""]
        if self.granted_on is not None and self.reaches:
            where = f"Grants set on {markdown_code(self.granted_on)}"
            if self.inherits_through:
                where += " and inherited by " + ", ".join(markdown_code(p)
                                                          for p in self.inherits_through)
            lines += [where + ".", ""]
        if self.reaches:
            lines += ["| # | right | grant | rights | via |", "|---|---|---|---|---|"]
            for i, row in enumerate(self.paths.itertuples(index=False), 1):
                lines.append(f"| {i} | {_md(row.right)} | {_md(row.principal_type)} "
                             f"{_md(row.principal)} | {_md(row.rights)} | {_md(row.via)} |")
            lines.append("")
            if self.removals:
                lines += ["Each of these alone removes it:", ""]
                lines += [f"- {_md(c.text)}" for c in self.removals]
            else:
                lines.append("No single change removes it: every step is on some path but "
                             "not on all.")
        if self.note:
            lines += ["", f"_{_md(self.note)}_"]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.markdown()




def why(access: Access, user: str, folder: str | None = None, *,
        secret: str | None = None) -> Why:
    """Why ``user`` (a userName) reaches ``folder`` (a path), or ``secret`` (``/folder/name``).

    An unknown user, folder or secret raises :class:`UnknownName` with close matches. A user
    with no access there gets a Why whose ``paths`` is empty.
    """
    if (folder is None) == (secret is None):
        raise TypeError("why() takes a folder or a secret=, one of them")
    name = access._user_name(user)
    users = access.users
    row = users[users["userName"] == name].iloc[0]
    active = None if row["active"] is pd.NA else bool(row["active"])
    uid = row["id"]
    if secret is None:
        assert folder is not None
        path = access._folder_code(folder)
        grants = access.grants[access.grants["folder"] == path]
        root = _granted_on(access, path)
        return _answer(access, name, uid, active, path, "folder", path, root,
                       _between(access, root, path), _folder_grants(grants), RIGHTS, None)
    hit = access.secrets[access.secrets["path"] == secret]
    if hit.empty:
        raise UnknownName.of("secret", secret, access.secrets["path"].dropna())
    s = hit.iloc[0]
    fpath = str(s["folder"])
    root = _granted_on(access, fpath)
    if access.secret_grants is None:
        if s["own_permissions"] is not pd.NA and bool(s["own_permissions"]):
            note = (f"{secret} has permissions of its own, which the inventory does not list: "
                    "why a user reaches it cannot be derived from its folder")
            return Why(name, secret, "secret", fpath, None, (), pd.DataFrame(
                columns=PATH_COLUMNS), (), active, note=note)
        grants = access.grants[access.grants["folder"] == fpath]
        answer = _answer(access, name, uid, active, secret, "secret", fpath, root,
                         (*_between(access, root, fpath), secret), _folder_grants(grants),
                         RIGHTS, None)
        return answer
    rows, inherited = access.secret_rows(s)
    named = _secret_grants(access, rows, granted_on=root if inherited else secret)
    return _answer(access, name, uid, active, secret, "secret", fpath,
                   root if inherited else secret,
                   (*_between(access, root, fpath), secret) if inherited else (), named,
                   SECRET_ROLE_RANK, None if inherited else secret)


def _granted_on(access: Access, path: str) -> str:
    return str(access.folders.set_index("path").at[path, "granted_on"])


def _between(access: Access, root: str, path: str) -> tuple[str, ...]:
    """The folders below ``root`` down to ``path`` that take ``root``'s permissions."""
    if root == path:
        return ()
    f = access.folders
    inside = f[(f["granted_on"] == root) & f["path"].map(
        lambda p: path == p or path.startswith(p + "/")) & (f["path"] != root)]
    return tuple(sorted(inside["path"].tolist(), key=len))


def _folder_grants(grants: pd.DataFrame) -> pd.DataFrame:
    """The folder grants in effect, in the shape _answer reads."""
    return pd.DataFrame({
        "principal_type": grants["principal_type"].tolist(),
        "principal_id": grants["principal_id"].tolist(),
        "principal": grants["principal"].tolist(),
        "right": grants["right"].tolist(),
        "rights": [", ".join(map(str, r)) for r in grants["rights"].tolist()],
        "granted_on": grants["granted_on"].tolist()})


def _secret_grants(access: Access, rows: pd.DataFrame, granted_on: str) -> pd.DataFrame:
    """A secret's permissions, principals named as the access table names them."""
    uname = dict(zip(access.users["id"].tolist(), access.users["userName"].tolist(),
                     strict=True))
    gname = dict(zip(access.reach.groups["id"].tolist(),
                     access.reach.groups["displayName"].tolist(), strict=True))
    names = [(uname if k == "user" else gname).get(p, n) for k, p, n in zip(
        rows["principal_type"].tolist(), rows["principal_id"].tolist(),
        rows["principal_name"].tolist(), strict=True)]
    return pd.DataFrame({"principal_type": rows["principal_type"].tolist(),
                         "principal_id": rows["principal_id"].tolist(), "principal": names,
                         "right": rows["right"].tolist(), "rights": rows["right"].tolist(),
                         "granted_on": granted_on})


def _chains(access: Access, uid: Any) -> tuple[dict[int, list[int]], set[int]]:
    """The nesting edges among groups that reach the user, and the groups listing it."""
    reach = access.reach
    mine = reach.users[reach.users["user_id"] == uid]
    reaching = set(mine["group"].tolist())
    lists = set(mine.loc[mine["depth"] == 0, "group"].tolist())
    nest = reach.nesting[(reach.nesting["depth"] == 1)
                         & reach.nesting["member_group"].isin(list(reaching))]
    children: dict[int, list[int]] = {}
    for g, m in zip(nest["group"].tolist(), nest["member_group"].tolist(), strict=True):
        children.setdefault(g, []).append(m)
    return children, lists


def _walk(start: int, children: dict[int, list[int]], lists: set[int],
          limit: int) -> tuple[list[tuple[int, ...]], bool]:
    """Every simple chain from ``start`` to a group listing the user (at most ``limit``)."""
    out: list[tuple[int, ...]] = []
    stack: list[tuple[int, ...]] = [(start,)]
    while stack:
        chain = stack.pop()
        if chain[-1] in lists:
            if len(out) == limit:
                return out, True
            out.append(chain)
        for child in reversed(children.get(chain[-1], [])):
            if child not in chain:
                stack.append((*chain, child))
    return out, False


def _answer(access: Access, user: str, uid: Any, active: bool | None, subject: str, kind: str,
            folder: str, root: str, through: tuple[str, ...], grants: pd.DataFrame,
            rank: tuple[str, ...], own_secret: str | None) -> Why:
    children, lists = _chains(access, uid)
    code = access.reach.code_of()
    gname = access.reach.groups["displayName"].tolist()
    gid = access.reach.groups["id"].tolist()
    rows: list[dict[str, Any]] = []
    steps: list[set[tuple[Any, ...]]] = []
    reaching: list[tuple[str, str]] = []
    truncated = False
    for g in grants.to_dict("records"):
        grant = ("grant", g["principal_type"], g["principal_id"])
        if g["principal_type"] == "user":
            chains: list[tuple[int, ...]] = [()] if g["principal_id"] == uid else []
        elif g["principal_id"] in code:
            chains, cut = _walk(code[g["principal_id"]], children, lists,
                                MAX_PATHS - len(rows))
            truncated = truncated or cut
        else:
            chains = []
        if chains:
            reaching.append((g["principal_type"], g["principal_id"]))
        for chain in chains:
            via = VIA_SEPARATOR.join(gname[c] for c in chain) if chain else DIRECT
            rows.append({**{k: g[k] for k in PATH_COLUMNS if k != "via"}, "via": via,
                         "_rank": rank.index(g["right"]) if g["right"] in rank else -1,
                         "_depth": len(chain)})
            edges: set[tuple[Any, ...]] = {grant, *(("member", a, b)
                                                    for a, b in itertools.pairwise(chain))}
            if chain:
                edges.add(("user", chain[-1]))
            steps.append(edges)
    paths = pd.DataFrame(rows, columns=[*PATH_COLUMNS, "_rank", "_depth"])
    order = paths.sort_values(["_rank", "_depth", "principal", "via"],
                              ascending=[False, True, True, True], kind="stable")
    paths = order.drop(columns=["_rank", "_depth"]).reset_index(drop=True)
    removals: list[Removal] = []
    if steps and not truncated:
        common = set.intersection(*steps)
        # Nearest the user first: the narrowest change.
        for step in sorted(common, key=lambda s: {"user": 0, "member": 1, "grant": 2}[s[0]]):
            if step[0] == "user":
                removals.append(Removal("remove member", f"remove {user} from group "
                                       f"{gname[step[1]]!r}", group_id=gid[step[1]],
                                       member_id=str(uid)))
            elif step[0] == "member":
                removals.append(Removal("remove member", f"remove group {gname[step[2]]!r} from "
                                       f"group {gname[step[1]]!r}", group_id=gid[step[1]],
                                       member_id=gid[step[2]]))
            else:
                named = _name_of(grants, step[1], step[2])
                where = own_secret or root
                removals.append(Removal(
                    "revoke grant", f"revoke the {step[1]} grant to {named!r} on {where}",
                    folder=None if own_secret else root, secret=own_secret,
                    principal_type=step[1], principal_id=step[2]))
        left = ", ".join(f"{k} {_name_of(grants, k, p)!r}" for k, p in reaching)
        for place in reversed(through):  # the target itself first: the narrowest change
            is_secret = kind == "secret" and place == subject
            removals.append(Removal(
                "break inheritance", f"break inheritance on {place} and leave {left} out of "
                "the permissions it copies", folder=None if is_secret else place,
                secret=place if is_secret else None, leave_out=tuple(reaching)))
    note = ""
    if truncated:
        note = f"more than {MAX_PATHS} paths: the rest are not listed, nor changes derived"
    elif active is False and rows:
        note = (f"{user} is disabled; the audit still counts a disabled user's grants "
                "(GRANT_TO_DISABLED_USER), so disabling is no way to remove access")
    return Why(user, subject, kind, folder, root, through, paths, tuple(removals), active,
               truncated, note)


def _name_of(grants: pd.DataFrame, kind: str, pid: Any) -> str:
    hit = grants[(grants["principal_type"] == kind) & (grants["principal_id"] == pid)]
    return str(hit["principal"].iloc[0])
