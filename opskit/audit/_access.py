"""Effective access: which user reaches which folder, with which right, through what.

Held factorised, never as one row per (user, folder): the grants in effect on each folder (a
folder takes the grants of the folder it inherits from) and each group's members (nesting
expanded). A row of the access table is a direct grant in effect, or a group grant in effect
times one member of the group; at scale 300 of the demo data that table would have 146 million
rows, the factors a few hundred thousand. Every query expands only its slice: one folder, one
user, the folders where grants are set; counts come from the factors without expanding at all.
Folder-level facts (where its grants are set, its secrets) stay in the small frames beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._folders import RIGHTS, FolderGrants, paths_by_id
from ._groups import GroupReach
from ._names import UnknownName, unique_labels, user_table
from ._secrets import SECRET_ROLE_RANK, secret_permissions
from ._views import View

if TYPE_CHECKING:
    from ._why import Why

DIRECT = "direct"


@dataclass(frozen=True, repr=False, eq=False)  # arrays: compared by identity
class Factors:
    """Effective access as its factors, in integer codes: the table's ``user`` codes index
    ``users``, ``folder`` codes ``folders``, ``right`` codes ``rights``, ``via`` codes ``vias``.

    Direct rows (``d_*``): a grant to a user in effect on a folder. Group rows (``g_*``): a
    grant to a group in effect on a folder. Members (``m_*``): every (group, user) the group
    reaches, grouped by group (``starts``/``counts`` per group code), each with its via. Rows
    keep the order the effective grants come in, direct rows first: the order of the table.
    """

    users: pd.Index
    folders: pd.Index
    rights: pd.CategoricalDtype
    vias: pd.Index
    d_user: np.ndarray
    d_folder: np.ndarray
    d_right: np.ndarray
    g_group: np.ndarray
    g_folder: np.ndarray
    g_right: np.ndarray
    m_group: np.ndarray
    m_user: np.ndarray
    m_via: np.ndarray
    starts: np.ndarray
    counts: np.ndarray

    # ---- sizes, without expanding ----------------------------------------------------------
    def count(self, by: str | None = None) -> Any:
        """Rows of the table: in all (an int), or per ``right``, ``folder`` or ``user`` (a
        Series over every category, zeros included, as ``value_counts`` of the table)."""
        per_group_row = self.counts[self.g_group]
        if by is None:
            return int(len(self.d_user) + per_group_row.sum())
        if by == "user":
            # A member appears once for every group row of its group.
            rows_of_group = np.bincount(self.g_group, minlength=len(self.counts))
            n = (np.bincount(self.d_user, minlength=len(self.users))
                 + np.bincount(self.m_user, weights=rows_of_group[self.m_group],
                               minlength=len(self.users)).astype(np.int64))
            return pd.Series(n, index=self.users, name="count")
        if by not in ("right", "folder"):
            raise ValueError(f"count by {by!r}: one of right, folder, user, or None")
        d, g, index = ((self.d_right, self.g_right, pd.Index(self.rights.categories))
                       if by == "right" else (self.d_folder, self.g_folder, self.folders))
        known_d, known_g = d >= 0, g >= 0  # a grant without a right has code -1: uncounted
        n = (np.bincount(d[known_d], minlength=len(index))
             + np.bincount(g[known_g], weights=per_group_row[known_g],
                           minlength=len(index)).astype(np.int64))
        return pd.Series(n, index=index, name="count")

    def direct_rows(self) -> int:
        return len(self.d_user)

    # ---- slices ----------------------------------------------------------------------------
    def expand(self, direct: np.ndarray, grouped: np.ndarray,
               members: np.ndarray | None = None) -> pd.DataFrame:
        """The table's rows for the direct rows ``direct`` and the group rows ``grouped``
        (positions, in the order given), the latter expanded to their members, or only those
        with ``members`` (a mask over the member rows) set. Direct rows come first, as in the
        table."""
        m_user, m_via, starts, counts = self.m_user, self.m_via, self.starts, self.counts
        if members is not None:
            keep = np.flatnonzero(members)
            m_user, m_via = m_user[keep], m_via[keep]
            counts = np.bincount(self.m_group[keep], minlength=len(counts))
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        g_of = self.g_group[grouped]
        per = counts[g_of]
        # Each group's members are one contiguous block: a grant's rows are a slice, and
        # concatenating slices beats an index join.
        spans = list(zip(starts[g_of].tolist(), (starts[g_of] + per).tolist(), strict=True))
        user = np.concatenate([self.d_user[direct], *[m_user[a:b] for a, b in spans]])
        via = np.concatenate([np.zeros(len(direct), m_via.dtype),
                              *[m_via[a:b] for a, b in spans]])
        folder = np.concatenate([self.d_folder[direct], np.repeat(self.g_folder[grouped], per)])
        right = np.concatenate([self.d_right[direct], np.repeat(self.g_right[grouped], per)])
        return pd.DataFrame({
            "user": pd.Categorical.from_codes(user, categories=self.users, validate=False),
            "folder": pd.Categorical.from_codes(folder, categories=self.folders,
                                                validate=False),
            "right": pd.Categorical.from_codes(right, dtype=self.rights, validate=False),
            "via": pd.Categorical.from_codes(via, categories=self.vias, validate=False),
        }, copy=False)

    def on_folders(self, codes: np.ndarray) -> pd.DataFrame:
        """The rows on the folders ``codes``."""
        want = np.zeros(len(self.folders), bool)
        want[codes] = True
        return self.expand(np.flatnonzero(want[self.d_folder]),
                           np.flatnonzero(want[self.g_folder]))

    def of_users(self, codes: np.ndarray) -> pd.DataFrame:
        """The rows of the users ``codes``."""
        want = np.zeros(len(self.users), bool)
        want[codes] = True
        members = want[self.m_user]
        groups = np.zeros(len(self.counts), bool)
        groups[self.m_group[members]] = True
        return self.expand(np.flatnonzero(want[self.d_user]),
                           np.flatnonzero(groups[self.g_group]), members)

    def chunks(self, rows: int) -> Iterator[pd.DataFrame]:
        """The whole table, a run of folders at a time: each chunk about ``rows`` rows (a
        folder's rows are never split), folders in code order."""
        ends = np.cumsum(self.count("folder").to_numpy())
        start = 0
        while start < len(ends):
            before = int(ends[start - 1]) if start else 0
            end = max(start + 1, int(np.searchsorted(ends, before + rows, side="right")))
            chunk = self.on_folders(np.arange(start, end))
            if len(chunk):
                yield chunk
            start = end


@dataclass
class Access:
    """Effective access of one inventory, and the queries analysts ask of it.

    The access table has one row per (user, folder, grant that reaches the user there):
    ``user`` (userName), ``folder`` (path), ``right`` (the grant's right in effect, its first)
    and ``via`` (``direct``, or the chain of groups from the granted group down to the one that
    lists the user, e.g. ``All Staff > IT Staff > IT Databases``). A user reached by several
    grants on a folder has several rows; :meth:`strongest` keeps the highest right.

    It is held as its ``factors`` (:class:`Factors`) and expanded only as far as a question
    needs: :meth:`who_reaches` one folder, :meth:`what_user_reaches` one user,
    :meth:`rows_on` some folders, :meth:`count_rows` none at all. :meth:`chunks` streams the
    whole table; ``table`` builds it in memory, which a large tenant cannot afford (tens of
    millions of rows at scale 100 of the demo data).
    """

    factors: Factors = field(repr=False)
    folders: pd.DataFrame  # id, path, granted_on (path of the folder whose grants apply)
    users: pd.DataFrame  # id, userName, displayName, active
    reach: GroupReach = field(repr=False)
    # The inventory's secret permissions (the secret roles in effect), when its server lists
    # them: the secret queries then read secret roles, not the folder's rights.
    secret_grants: pd.DataFrame | None = field(default=None, repr=False)
    # What makes `grants` and `secrets`, on first use: a row per effective grant and per
    # secret, named (at scale 1,000 of the demo data 1.8 million and a million rows, 400 MB
    # of text), which counting and the findings never read.
    make_grants: Callable[[], pd.DataFrame] = field(repr=False, kw_only=True)
    make_secrets: Callable[[], pd.DataFrame] = field(repr=False, kw_only=True)

    @cached_property
    def grants(self) -> pd.DataFrame:
        """The grants in effect on every folder, named: folder, principal_type, principal,
        principal_id, right, rights, granted_on, group_code."""
        return self.make_grants()

    @cached_property
    def secrets(self) -> pd.DataFrame:
        """Every secret: id, name, folder, path, own_permissions (True/NA)."""
        return self.make_secrets()

    @cached_property
    def table(self) -> pd.DataFrame:
        """The whole access table in memory (about 7 bytes a row): for small tenants; see
        :meth:`chunks` for a large one."""
        f = self.factors
        return f.expand(np.arange(len(f.d_user)), np.arange(len(f.g_group)))

    def count_rows(self, by: str | None = None) -> Any:
        """The access table's rows counted without building it: in all (an int), or per
        ``"right"``, ``"folder"`` or ``"user"`` (a Series over every name, zeros included)."""
        return self.factors.count(by)

    def reached(self, kind: str) -> int:
        """How many users (``"user"``) or folders (``"folder"``) have a row in the table."""
        return int((self.factors.count(kind).to_numpy() > 0).sum())

    def rows_on(self, folders: Iterable[str]) -> pd.DataFrame:
        """The access table's rows on the given folders (paths; unknown ones give none)."""
        codes = self.factors.folders.get_indexer(list(folders))
        return self.factors.on_folders(codes[codes >= 0])

    def rows_of(self, users: Iterable[str]) -> pd.DataFrame:
        """The access table's rows of the given users (userNames as the table has them;
        unknown ones give none)."""
        codes = self.factors.users.get_indexer(list(users))
        return self.factors.of_users(codes[codes >= 0])

    def chunks(self, rows: int = 1_000_000) -> Iterator[pd.DataFrame]:
        """The whole access table, a run of folders at a time (about ``rows`` rows a chunk),
        to write or aggregate a large tenant's table without holding it: for example
        ``pyarrow.parquet.ParquetWriter`` one chunk after another."""
        return self.factors.chunks(rows)

    # ---- queries ---------------------------------------------------------------------------
    def _folder_code(self, path: str) -> str:
        path = path.rstrip("/") or path
        if path not in self.factors.folders:
            raise UnknownName.of("folder", path, self.folders["path"])
        return path

    def who_reaches(self, folder: str) -> pd.DataFrame:
        """Every user who reaches folder ``folder`` (a path), strongest right first."""
        path = self._folder_code(folder)
        rows = self.rows_on([path])
        out = rows.merge(self.users[["userName", "displayName", "active"]], left_on="user",
                         right_on="userName", how="left")
        out["granted_on"] = self.folders.set_index("path").at[path, "granted_on"]
        out = out[["user", "displayName", "active", "right", "via", "granted_on"]]
        return _sorted(out, ["right", "user"], [False, True])

    def what_user_reaches(self, user: str, *, strongest: bool = False) -> pd.DataFrame:
        """Every folder user ``user`` (a userName) reaches, with right, via and where the grant
        is set; ``strongest=True`` keeps one row per folder, the highest right."""
        name = self._user_name(user)
        rows = self.rows_of([name])
        if strongest:
            rows = self.strongest(rows)
        out = rows.merge(self.folders[["path", "granted_on"]], left_on="folder", right_on="path")
        out = out[["folder", "right", "via", "granted_on"]]
        return _sorted(out, ["folder", "right"], [True, False])

    def secrets_user_reaches(self, user: str) -> pd.DataFrame:
        """The secrets user ``user`` reaches: secret, folder, right, via (the strongest per
        secret).

        With the secret permissions listed, ``right`` is the secret role. Without them, the
        secrets of the folders the user reaches, with the folder's right; a secret known to
        carry its own permissions is then left out: its access is not its folder's.
        """
        if self.secret_grants is not None:
            return self._secret_roles_of(user)
        folders = self.what_user_reaches(user, strongest=True)
        secrets = self.secrets[~self.secrets["own_permissions"].fillna(False).to_numpy(bool)]
        out = folders.merge(secrets[["path", "name", "folder"]].rename(
            columns={"folder": "folder_path", "path": "secret"}),
            left_on="folder", right_on="folder_path")
        return out[["secret", "folder", "right", "via"]].reset_index(drop=True)

    def who_reaches_secret(self, secret: str) -> pd.DataFrame:
        """Who reaches a secret (``/folder/path/secret name``), strongest right first.

        With the secret permissions listed: from them, ``right`` being the secret role and
        ``granted_on`` the secret or the folder it inherits from. Without them: through its
        folder, with the folder's right; a secret known to carry its own permissions then
        gives an empty frame whose ``attrs["note"]`` says so.
        """
        hit = self.secrets[self.secrets["path"] == secret]
        if hit.empty:
            raise UnknownName.of("secret", secret, self.secrets["path"])
        row = hit.iloc[0]
        if self.secret_grants is not None:
            return self._holders_of(row)
        out = self.who_reaches(row["folder"])
        if _known_true(row["own_permissions"]):
            out = out.iloc[0:0]
            out.attrs["note"] = (f"{secret} has permissions of its own, which the inventory "
                                 "does not list: who reaches it cannot be derived from its folder")
        return out

    def why(self, user: str, folder: str | None = None, *, secret: str | None = None) -> Why:
        """Why ``user`` reaches ``folder`` (or ``secret=``): every path, and the single
        changes that remove it (see :func:`opskit.audit.why`)."""
        from ._why import why

        return why(self, user, folder, secret=secret)

    def secret_rows(self, secret: pd.Series) -> tuple[pd.DataFrame, bool]:
        """A secret's permission rows (needs secret_grants), and whether it inherits them."""
        assert self.secret_grants is not None
        sg = self.secret_grants
        rows = sg[sg["privileged_data_id"] == secret["id"]]
        # A secret inherits its folder's permissions, or has its own, whole. Inheriting, it
        # lists the folder's principals exactly; read from the data, not from permission ids,
        # whose form no document gives. Own permissions naming the same principals are taken
        # for inherited ones: the two cannot be told apart, and the access is the same.
        on_folder = self.grants[self.grants["folder"] == secret["folder"]]
        return rows, not rows.empty and _principals(rows) == _principals(on_folder)

    def _holders_of(self, secret: pd.Series) -> pd.DataFrame:
        """who_reaches_secret from the secret permissions."""
        rows, inherited = self.secret_rows(secret)
        granted = self.folders.set_index("path")["granted_on"].get(secret["folder"])
        rows = rows.assign(granted_on=granted if inherited else secret["path"])
        direct = rows[rows["principal_type"] == "user"].assign(user_id=lambda r: r[
            "principal_id"], via=DIRECT)
        groups = rows[rows["principal_type"] == "group"].assign(
            group=lambda r: r["principal_id"].map(self.reach.code_of()))
        groups = groups.dropna(subset=["group"]).astype({"group": "int64"}).merge(
            self.reach.users[["group", "user_id", "via"]], on="group")
        both = pd.concat([direct, groups], ignore_index=True)
        out = both.merge(self.users[["id", "userName", "displayName", "active"]], how="left",
                         left_on="user_id", right_on="id")
        out["user"] = out["userName"].fillna(out["principal_name"])
        out["right"] = _secret_role(out["right"])
        out = out[["user", "displayName", "active", "right", "via", "granted_on"]]
        return _sorted(out, ["right", "user"], [False, True])

    def _secret_roles_of(self, user: str) -> pd.DataFrame:
        """secrets_user_reaches from the secret permissions."""
        assert self.secret_grants is not None
        sg = self.secret_grants
        known = self.users["userName"]
        name = user if user in set(known) else {u.casefold(): u for u in known}.get(
            user.casefold())
        if name is None:
            raise UnknownName.of("user", user, known)
        uid = self.users.loc[known == name, "id"].iloc[0]
        member = self.reach.users[self.reach.users["user_id"] == uid]
        gids = self.reach.groups["id"].to_numpy(dtype=object)[member["group"].to_numpy()]
        via = dict(zip(gids.tolist(), member["via"].tolist(), strict=True))
        mine = sg[((sg["principal_type"] == "user") & (sg["principal_id"] == uid))
                  | ((sg["principal_type"] == "group") & sg["principal_id"].isin(list(via)))]
        mine = mine.assign(via=[DIRECT if k == "user" else via[p] for k, p in zip(
            mine["principal_type"].tolist(), mine["principal_id"].tolist(), strict=True)],
            right=_secret_role(mine["right"]))
        mine = mine.sort_values("right", ascending=False, kind="stable").drop_duplicates(
            "privileged_data_id")
        out = mine.merge(self.secrets[["id", "path", "folder"]], left_on="privileged_data_id",
                         right_on="id").rename(columns={"path": "secret"})
        return _sorted(out[["secret", "folder", "right", "via"]], ["secret"], [True])

    def group_grants(self, group: str) -> pd.DataFrame:
        """The folder grants group ``group`` (a displayName) carries: those naming it, and those
        naming a group that contains it (its members get them too). ``through`` is the chain
        from the granted group down to ``group``."""
        names = self.reach.groups["displayName"]
        if group not in set(names):
            raise UnknownName.of("group", group, names)
        codes = np.flatnonzero(names.to_numpy() == group)
        holders = self.reach.nesting[self.reach.nesting["member_group"].isin(codes)]
        granted = self.grants[self.grants["principal_type"] == "group"]
        out = granted.merge(holders[["group", "via"]], left_on="group_code", right_on="group")
        out = out.rename(columns={"via": "through"})
        out = out[["folder", "right", "rights", "granted_on", "through"]]
        return _sorted(out, ["folder", "right"], [True, False])

    def strongest(self, rows: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per (user, folder) of ``rows`` (a slice of the table; the whole table when
        None, which a large tenant cannot afford): the highest right, and the via that gives
        it (the first such row in the table's order)."""
        rows = self.table if rows is None else rows
        order = rows.sort_values(["user", "folder", "right"], ascending=[True, True, False])
        return order.drop_duplicates(["user", "folder"]).reset_index(drop=True)

    def strongest_where_set(self) -> pd.DataFrame:
        """Every (user, folder) pair's strongest right on the folders where grants are set,
        each ``weight``-ed by how many folders take that folder's grants (itself included):
        every pair of the table counted through the few folders that hold grants. Columns:
        ``user`` and ``folder`` (codes into ``users["userName"]`` and ``folders["path"]``),
        ``right`` and ``via`` (names), ``weight``."""
        f = self.factors
        weight = self.folders.groupby("granted_on").size()
        per_code = weight.reindex(f.folders).fillna(0).to_numpy(np.int64)
        rows = f.on_folders(np.flatnonzero(per_code > 0))
        if rows.empty:
            return pd.DataFrame({"user": [], "folder": [], "right": [], "via": [],
                                 "weight": []})
        u = rows["user"].cat.codes.to_numpy(np.int64)
        fo = rows["folder"].cat.codes.to_numpy(np.int64)
        r = rows["right"].cat.codes.to_numpy(np.int64)
        key = u * (len(f.folders) + 1) + fo
        order = np.lexsort((-r, key))  # stable: the first row of a tie, as strongest() keeps
        first = np.ones(len(order), bool)
        first[1:] = key[order][1:] != key[order][:-1]
        pick = order[first]
        rights = np.array([*f.rights.categories, None], dtype=object)  # code -1: no right
        vias = np.asarray(f.vias, dtype=object)
        return pd.DataFrame({"user": u[pick], "folder": fo[pick], "right": rights[r[pick]],
                             "via": vias[rows["via"].cat.codes.to_numpy(np.int64)[pick]],
                             "weight": per_code[fo[pick]]})

    def _user_name(self, user: str) -> str:
        cats = self.factors.users
        if user in cats:
            return user
        folded = {c.casefold(): c for c in cats}
        if user.casefold() in folded:
            return folded[user.casefold()]
        raise UnknownName.of("user", user, cats)


def _secret_role(roles: pd.Series) -> pd.Categorical:
    """Secret roles as an ordered categorical (Owner highest); other values rank lowest."""
    extra = sorted({r for r in roles.dropna().tolist() if r not in SECRET_ROLE_RANK})
    return pd.Categorical(roles, categories=[*extra, *SECRET_ROLE_RANK], ordered=True)


def _principals(rows: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(rows["principal_type"].tolist(), rows["principal_id"].tolist(), strict=True))


def _known_true(value: Any) -> bool:
    return value is not pd.NA and bool(value)


def _sorted(df: pd.DataFrame, by: list[str], ascending: list[bool]) -> pd.DataFrame:
    return df.sort_values(by, ascending=ascending, kind="stable").reset_index(drop=True)


def csr(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order of rows by key, and each key's start and count in that order."""
    order = np.argsort(keys, kind="stable")
    counts = np.bincount(keys, minlength=n)[:n]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return order, starts, counts


def expand(keys: np.ndarray, starts: np.ndarray, counts: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """For rows with keys, (row, position in the keyed rows) for every pair: a vectorised join
    of each row with all rows of its key, without pandas' merge overhead."""
    per = counts[keys]
    total = int(per.sum())
    idx = np.int32 if total < 2**31 else np.int64
    row = np.repeat(np.arange(len(keys), dtype=idx), per)
    pos: np.ndarray = np.arange(total, dtype=idx)
    pos -= np.repeat((np.cumsum(per) - per).astype(idx), per)
    pos += np.repeat(starts[keys].astype(idx), per)
    return row, pos


def _code_type(n: int) -> type[np.signedinteger[Any]]:
    """The integer width pandas keeps categorical codes in for n categories."""
    return np.int8 if n < 127 else np.int16 if n < 32767 else np.int32 if n < 2**31 else np.int64


def _lookup(values: list[Any], mapping: dict[Any, int]) -> np.ndarray:
    return np.fromiter((mapping.get(v, -1) for v in values), np.int64, len(values))


def effective_access(inv: Any, *, own_permission_secrets: Iterable[str] = (),
                     more_users: pd.DataFrame | None = None) -> Access:
    """Effective access of an inventory (an :class:`opskit.inventory.Inventory`).

    ``own_permission_secrets``: ids of secrets known to carry permissions of their own (for
    example those a reference view shows but the cloud view does not, see
    :func:`opskit.audit.coverage`); their access is not derived from their folder.
    ``more_users``: another view's users, to name users this inventory leaves out (the
    on-prem connector does not list disabled users, the cloud one does).
    """
    return build_access(View.of(inv), own_permission_secrets=own_permission_secrets,
                        more_users=more_users)


def build_access(view: View, *, own_permission_secrets: Iterable[str] = (),
                 more_users: pd.DataFrame | None = None) -> Access:
    inv, fg, reach = view.inv, view.grants, view.reach
    own = fg.own
    extra = pd.concat([
        own.loc[own["principal_type"] == "user", ["principal_id", "principal_name"]]
        .set_axis(["id", "display"], axis=1),
        inv.group_members.loc[inv.group_members["member_type"] != "Group",
                              ["member_id", "member_display"]].set_axis(["id", "display"], axis=1),
    ])
    listed = inv.users if more_users is None else pd.concat([inv.users, more_users])
    users = user_table(listed, extra)
    users["userName"] = unique_labels(users["userName"], users["id"])
    folders = fg.folders[["id", "path", "source"]].copy()
    folders["path"] = unique_labels(folders["path"], folders["id"])
    paths = folders["path"].to_numpy(dtype=object)
    folders["granted_on"] = paths[folders["source"].to_numpy()]

    # Each own permission row, coded: who it names and with which right.
    ucode = {u: i for i, u in enumerate(users["id"].tolist())}
    gcode = reach.code_of()
    kinds = own["principal_type"].tolist()
    principal_ids = own["principal_id"].tolist()
    is_user = np.array([k == "user" for k in kinds], dtype=bool)
    o_user = _lookup([p if u else None for p, u in zip(principal_ids, is_user, strict=True)],
                     ucode)
    o_group = _lookup([None if u else p for p, u in zip(principal_ids, is_user, strict=True)],
                      gcode)
    right_names = own["right"].tolist()
    rights = list(RIGHTS) + sorted({r for r in right_names if isinstance(r, str)} - set(RIGHTS))
    o_right = _lookup(right_names, {r: i for i, r in enumerate(rights)}).astype(np.int8)

    # Every (folder, own row) in effect: direct grants and group grants, in integer codes,
    # each in the width pandas keeps categorical codes in (no copy when a slice is built).
    e_folder, e_row = fg.effective_rows()
    direct = is_user[e_row] & (o_user[e_row] >= 0)
    by_group = ~is_user[e_row] & (o_group[e_row] >= 0)
    vias, via_code = np.unique(reach.users["via"].to_numpy(dtype=object), return_inverse=True)
    u_type, f_type = _code_type(len(users)), _code_type(len(folders))
    v_type = _code_type(len(vias) + 1)
    m_order, starts, counts = csr(reach.users["group"].to_numpy(np.int64), len(reach.groups))
    d_rows, g_rows = np.flatnonzero(direct), np.flatnonzero(by_group)
    factors = Factors(
        users=pd.Index(users["userName"]), folders=pd.Index(folders["path"]),
        rights=pd.CategoricalDtype(rights, ordered=True), vias=pd.Index([DIRECT, *vias]),
        d_user=o_user[e_row[d_rows]].astype(u_type), d_folder=e_folder[d_rows].astype(f_type),
        d_right=o_right[e_row[d_rows]],
        g_group=o_group[e_row[g_rows]], g_folder=e_folder[g_rows].astype(f_type),
        g_right=o_right[e_row[g_rows]],
        m_group=reach.users["group"].to_numpy(np.int64)[m_order],
        m_user=_lookup(reach.users["user_id"].tolist(), ucode).astype(u_type)[m_order],
        m_via=(via_code + 1).astype(v_type)[m_order], starts=starts, counts=counts)

    own_ids = list(own_permission_secrets)
    return Access(factors, folders[["id", "path", "granted_on"]], users, reach,
                  secret_permissions(inv),
                  make_grants=partial(_named_grants, fg, paths, is_user, o_user,
                                      users["userName"].to_numpy(dtype=object), o_group,
                                      reach),
                  make_secrets=partial(_secrets_frame, inv.privileged_data, folders["id"],
                                       paths, own_ids))


def _named_grants(fg: FolderGrants, paths: np.ndarray, is_user: np.ndarray,
                  o_user: np.ndarray, uname: np.ndarray, o_group: np.ndarray,
                  reach: GroupReach) -> pd.DataFrame:
    """The effective grants, named, for the group and folder queries (``o_user``, ``o_group``:
    each own row's user code into ``uname`` and group code, -1 for none)."""
    own = fg.own
    e_folder, e_row = fg.effective_rows()
    gname = reach.groups["displayName"].to_numpy(dtype=object)
    display = own["principal_name"].to_numpy(dtype=object)
    named = np.where(is_user, np.where(o_user >= 0, uname[np.maximum(o_user, 0)], display),
                     np.where(o_group >= 0, gname[np.maximum(o_group, 0)], display))
    return pd.DataFrame({
        "folder": paths[e_folder], "principal_type": own["principal_type"].to_numpy()[e_row],
        "principal": named[e_row], "principal_id": own["principal_id"].to_numpy()[e_row],
        "right": own["right"].to_numpy()[e_row],
        "rights": own["rights"].to_numpy()[e_row],
        "granted_on": paths[fg.folders["source"].to_numpy()[e_folder]],
        "group_code": o_group[e_row]})


def _secrets_frame(secrets: pd.DataFrame, folder_ids: pd.Series, paths: np.ndarray,
                   own_permission_secrets: list[str]) -> pd.DataFrame:
    """The secrets by column (a million at the largest tenants), named by their folder's
    path."""
    s_folder = paths_by_id(folder_ids, paths.tolist(), secrets["container_id"])
    names = pd.Series(secrets["name"].array)
    path = pd.Series(s_folder, dtype="str") + "/" + names.fillna("None")
    marked = secrets["id"].isin(own_permission_secrets).to_numpy(dtype=bool)
    return pd.DataFrame({
        "id": secrets["id"].array, "name": names.array, "folder": s_folder,
        "path": path.array, "own_permissions": pd.arrays.BooleanArray(marked, ~marked)})
