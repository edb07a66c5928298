"""Secret roles: which secrets of the folders it sees the cloud service account owns, and why.

A Secret Server folder permission gives a folder role and, apart from it, a secret role on the
secrets that inherit the folder's permissions. The cloud connector returns a folder to a folder
Owner but a secret only to a secret Owner (FAQ), so a folder Owner holding View on the secrets
sees folders and no secrets. Coverage (the cloud view against a reference) shows which secrets
are left out; the reference's secret permissions, where its server lists them
(PrivilegedDataPermissions), show the service account's secret role on each. Without them the
roles are unknown, and said to be: they are never guessed from folder roles.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._coverage import Coverage
from ._views import View

SECRET_ROLE_RANK = ("None", "List", "View", "Edit", "Owner")  # lowest first
_RUN = 1 << 21  # secret permissions read at a time, where a step would copy every row


def secret_permissions(inv: Any) -> pd.DataFrame | None:
    """An inventory's secret permissions; None when they were not read (not asked for, not
    offered, or refused)."""
    if inv is None or not inv.meta.get("secret_permissions_read"):
        return None
    frame: pd.DataFrame = inv.privileged_data_permissions
    return frame


def service_account_roles(perms: pd.DataFrame,
                          names_sa: Callable[[str, Any, Any], bool]) -> dict[str, str]:
    """The service account's highest secret role on each secret whose permissions name it
    (``names_sa(principal_type, principal_id, principal_name)``), by secret id."""
    kinds, ids = perms["principal_type"], perms["principal_id"]
    named: dict[str, dict[Any, Any]] = {"user": {}, "group": {}}
    # Each principal once, with the name its first row gives: one column's duplicates, not a
    # frame's on two, and a run of rows at a time: a selection of millions of rows (17 million
    # at the largest tenants) carries an index of 8 bytes a row.
    for start in range(0, len(perms), _RUN):
        run = perms.iloc[start:start + _RUN]
        for kind, first_names in named.items():
            first = run["principal_id"][(run["principal_type"] == kind).to_numpy(bool)]
            first = first.drop_duplicates()
            names = run["principal_name"].loc[first.index].tolist()
            for pid, name in zip(first.tolist(), names, strict=True):
                first_names.setdefault(pid, name)
    wanted = np.zeros(len(perms), dtype=bool)
    for kind, first_names in named.items():
        chosen = [pid for pid, name in first_names.items() if names_sa(kind, pid, name)]
        wanted |= (kinds == kind).to_numpy(dtype=bool) & ids.isin(chosen).to_numpy(dtype=bool)
    # Only the columns read: a selection of every column would copy all the ids' text first
    # (Arrow's take joins a column's chunks: 340 MB at scale 1,000).
    rows = perms.loc[wanted, ["privileged_data_id", "right"]]
    rank = rows["right"].map({r: i for i, r in enumerate(SECRET_ROLE_RANK)}).fillna(-1)
    best = rows.assign(rank=rank.to_numpy()).sort_values("rank", kind="stable")
    best = best.drop_duplicates("privileged_data_id", keep="last")
    return dict(zip(best["privileged_data_id"].tolist(), best["right"].tolist(), strict=True))


def roles_clause(roles: Iterable[str | None] | None, where: str) -> str:
    """The service account's secret role(s) on some secrets (None: a secret no permission
    names it on; ``roles`` None: unknown), as a finding says it: "its secret role there is
    View"."""
    if roles is None:
        return (f"its secret role {where} is unknown: the reference's secret permissions "
                "(PrivilegedDataPermissions) were not read")
    counts = Counter("no role" if r is None else str(r) for r in roles)
    if len(counts) == 1:
        [role] = counts
        return (f"no permission {where} names it" if role == "no role"
                else f"its secret role {where} is {role}")
    return f"its secret roles {where}: " + ", ".join(f"{role} on {n:,}"
                                                     for role, n in counts.most_common())


@dataclass(frozen=True)
class SecretGaps:
    """Where the cloud returns a folder but none of its secrets.

    ``subtrees``: one row per folder whose own permissions apply to a subtree (it and the
    subfolders inheriting from it) that holds secrets, none of which the cloud returns: path,
    subfolders, secrets, roles (the service account's secret role there, as a clause).
    ``paths``: every folder path in those subtrees.
    """

    subtrees: pd.DataFrame
    paths: frozenset[str]


def secret_gaps(cloud: View, cov: Coverage, roles: dict[str, str] | None) -> SecretGaps:
    """The subtrees of visible folders whose secrets the cloud returns none of (needs a
    measured coverage; ``roles`` from :func:`service_account_roles`, None: unknown)."""
    columns = ["path", "subfolders", "secrets", "roles"]
    if not cov.measured:
        return SecretGaps(pd.DataFrame(columns=columns), frozenset())
    folders = cloud.grants.folders
    ids = folders["id"].tolist()
    sources = folders["id"].to_numpy(dtype=object)[folders["source"].to_numpy()].tolist()
    rows = [(cov.cloud_paths[i], cov.cloud_paths.get(s)) for i, s in zip(ids, sources,
                                                                          strict=True)
            if i in cov.cloud_paths]
    domain = pd.DataFrame(rows, columns=["path", "top"]).dropna()
    if domain.empty:  # the cloud shows no folder: no subtree to be dark (and pandas' join
        # of an empty frame names its index like a column, which the merge below refuses)
        return SecretGaps(pd.DataFrame(columns=columns), frozenset())
    counts = cov.folders.set_index("path")[["secrets", "hidden_secrets"]]
    domain = domain.join(counts, on="path", how="inner")
    tops = domain.groupby("top").agg(folders=("path", "size"), secrets=("secrets", "sum"),
                                     hidden=("hidden_secrets", "sum"))
    dark = tops[(tops["secrets"] > 0) & (tops["hidden"] == tops["secrets"])]
    inside = domain[domain["top"].isin(dark.index)]
    hidden = cov.hidden_secrets.merge(inside[["path", "top"]], left_on="folder",
                                      right_on="path", suffixes=("", "_folder"))
    per_top: dict[str, list[str | None]] = {}
    for top, sid in zip(hidden["top"].tolist(), hidden["id"].tolist(), strict=True):
        per_top.setdefault(top, []).append(None if roles is None else roles.get(sid))
    subtrees = pd.DataFrame({
        "path": dark.index.tolist(), "subfolders": (dark["folders"] - 1).tolist(),
        "secrets": dark["secrets"].tolist(),
        "roles": [roles_clause(None if roles is None else per_top.get(t, []), "there")
                  for t in dark.index.tolist()]}, columns=columns)
    return SecretGaps(subtrees.sort_values("path").reset_index(drop=True),
                      frozenset(inside["path"].tolist()))
