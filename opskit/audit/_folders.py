"""Folders and their permissions: which folder's own permissions apply where.

Both connectors list, for every folder they return, the permissions *in effect* on it; a folder
that inherits repeats its parent's, with ids of the form ``<permission id>-<folder id>``
(docs/connectors.md). Findings about a grant belong to the folder where it is set, so each
folder gets a ``source``: itself when it has permissions of its own, else the folder it
inherits from. A connector that lists only a folder's own permissions works too: a folder
listed with none takes its parent's.

Loops here run over plain lists: iterating pandas' Arrow-backed strings costs ten times more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

RIGHTS = ("View", "Add Secret", "Edit", "Owner")  # lowest first: the rank order of folder rights


@dataclass(frozen=True)
class FolderGrants:
    """``folders``: one row per folder, its position is its code: id, name, parent_id, path,
    source (code of the folder whose own permissions apply). ``own``: the permission rows set
    on source folders: folder (code), id, principal_type, principal_id, principal_name, right,
    rights."""

    folders: pd.DataFrame
    own: pd.DataFrame

    def effective_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(folder code, row of ``own``) for every permission in effect on every folder."""
        from ._access import csr, expand  # the vectorised join lives with the access table

        order, starts, counts = csr(self.own["folder"].to_numpy(np.int64), len(self.folders))
        source = self.folders["source"].to_numpy(np.int64)
        folder, pos = expand(source, starts, counts)
        return folder, order[pos]


def _inherited_source(pid: list[str], cid: list[str]) -> list[str | None]:
    """For each row listed as `<base id>-<folder id>`, the folder holding row `<base id>`."""
    where = dict(zip(pid, cid, strict=True))
    out: list[str | None] = []
    for p, c in zip(pid, cid, strict=True):
        base, dash, tail = p.rpartition("-") if isinstance(p, str) else ("", "", "")
        src = where.get(base) if dash and tail == c else None
        out.append(src if src is not None and src != c else None)
    return out


def folder_grants(containers: pd.DataFrame, permissions: pd.DataFrame) -> FolderGrants:
    folders = containers[["id", "name", "parent_id", "path"]].drop_duplicates("id")
    folders = folders.reset_index(drop=True)
    ids = folders["id"].tolist()
    known = set(ids)
    parent = {f: p for f, p in zip(ids, folders["parent_id"].tolist(), strict=True)
              if isinstance(p, str) and p in known}
    cids_all = permissions["container_id"].tolist()
    keep = np.fromiter((c in known for c in cids_all), bool, len(cids_all))
    perms = permissions[keep]
    pid, cid = perms["id"].tolist(), perms["container_id"].tolist()
    row_source = _inherited_source(pid, cid)
    listed = set(cid)
    inherits_from: dict[str, str] = {}
    if any(s is not None for s in row_source):
        # A folder inherits when every row it lists is inherited (from one folder, normally).
        has_own = {c for c, s in zip(cid, row_source, strict=True) if s is None}
        for c, s in zip(cid, row_source, strict=True):
            if c not in has_own and s is not None:  # s is set wherever c has no own row
                inherits_from.setdefault(c, s)
    elif cid:
        # Ids without the inherited form: a folder listing exactly its parent's grants is
        # taken to inherit (the two cannot be told apart, and access is the same either way).
        sig: dict[str, set[tuple[str, str, tuple[str, ...]]]] = {}
        for c, kind, p, rights in zip(cid, perms["principal_type"].tolist(),
                                      perms["principal_id"].tolist(), perms["rights"].tolist(),
                                      strict=True):
            sig.setdefault(c, set()).add((kind, p, tuple(rights)))
        inherits_from = {c: parent[c] for c in sig
                         if c in parent and sig.get(parent[c]) == sig[c]}
    source: dict[str, str] = {}

    def source_of(fid: str) -> str:
        chain: list[str] = []
        while fid not in source:
            nxt = inherits_from.get(fid)
            if nxt is None and fid not in listed:
                nxt = parent.get(fid)  # listed with no rows of its own: the parent's apply
            if nxt is None or nxt not in known or nxt in chain or nxt == fid:
                source[fid] = fid
                break
            chain.append(fid)
            fid = nxt
        for f in chain:
            source[f] = source[fid]
        return source[fid]

    code = {f: i for i, f in enumerate(ids)}
    folders["source"] = np.array([code[source_of(f)] for f in ids], dtype=np.int64)
    is_source = {f for f in ids if source[f] == f}
    mine = np.fromiter((c in is_source for c in cid), bool, len(cid))
    own = perms[mine][["id", "principal_type", "principal_id", "principal_name", "right",
                       "rights"]].reset_index(drop=True)
    own.insert(0, "folder", np.array([code[c] for c, m in zip(cid, mine, strict=True) if m],
                                     dtype=np.int64))
    return FolderGrants(folders, own)
