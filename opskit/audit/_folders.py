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
import pyarrow as pa
import pyarrow.compute as pc

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


def paths_by_id(folder_ids: pd.Series, paths: list[str], keys: pd.Series) -> np.ndarray:
    """The path (of ``paths``, by ``folder_ids``) of the folder each of ``keys`` names, None
    where none does: by column, as a million secrets each name their folder."""
    at = pd.Index(folder_ids).get_indexer(keys)
    return np.array([*paths, None], dtype=object)[at]  # at -1: the None


def arrow_text(column: pd.Series) -> pa.Array:
    """A column as Arrow text (values that are not text: null), without a Python object per
    row where it is Arrow-backed already."""
    try:
        text = pa.array(column.array, type=pa.large_string())
        return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([v if isinstance(v, str) else None for v in column.tolist()],
                        type=pa.large_string())


def _inherited_source(pid: pd.Series, cid: pd.Series, code: np.ndarray) -> np.ndarray:
    """For each row listed as `<base id>-<folder id>`, the code of the folder holding row
    `<base id>` (``code``: each row's folder code); -1 for a row that is not, or whose base row
    is on its own folder. Vectorised: the largest tenants list millions of rows."""
    ids, folders = arrow_text(pid), arrow_text(cid)
    parts = pc.extract_regex(ids, r"(?s)^(?P<base>.*)-(?P<tail>[^-]*)$")  # at the last dash
    base, tail = parts.field("base"), parts.field("tail")
    # The row a base names, the last listed with that id (as a mapping of ids would keep).
    reversed_ids = ids[::-1]
    at = pc.index_in(base, value_set=reversed_ids).to_numpy(zero_copy_only=False)
    found = ~np.isnan(at) if at.dtype.kind == "f" else np.ones(len(at), dtype=bool)
    at = np.where(found, len(ids) - 1 - np.nan_to_num(at).astype(np.int64), 0)
    same_folder = pc.fill_null(pc.equal(tail, folders), False).to_numpy(zero_copy_only=False)
    src = np.where(found & same_folder, code[at], -1)
    return np.where(src == code, -1, src)


def folder_grants(containers: pd.DataFrame, permissions: pd.DataFrame) -> FolderGrants:
    folders = containers[["id", "name", "parent_id", "path"]].drop_duplicates("id")
    folders = folders.reset_index(drop=True)
    n = len(folders)
    index = pd.Index(folders["id"])
    parent_code = index.get_indexer(folders["parent_id"])
    parent = {f: int(p) for f, p in enumerate(parent_code.tolist()) if p >= 0}
    all_codes = index.get_indexer(permissions["container_id"])
    keep = all_codes >= 0
    columns = ["id", "container_id", "principal_type", "principal_id", "principal_name",
               "right", "rights"]
    # No copy of millions of rows when every permission is on a known folder (the usual case).
    perms = permissions[columns] if keep.all() else permissions.loc[keep, columns]
    code = all_codes[keep]
    row_source = _inherited_source(perms["id"], perms["container_id"], code)
    listed = np.zeros(n, dtype=bool)
    listed[code] = True
    inherits_from: dict[int, int] = {}
    if (row_source >= 0).any():
        # A folder inherits when every row it lists is inherited (from one folder, normally):
        # it takes the source of its first such row.
        has_own = np.zeros(n, dtype=bool)
        has_own[code[row_source < 0]] = True
        rows = np.flatnonzero(~has_own[code] & (row_source >= 0))
        inheriting, first = np.unique(code[rows], return_index=True)
        inherits_from = dict(zip(inheriting.tolist(), row_source[rows[first]].tolist(),
                                 strict=True))
    elif len(perms):
        # Ids without the inherited form: a folder listing exactly its parent's grants is
        # taken to inherit (the two cannot be told apart, and access is the same either way).
        sig: dict[int, set[tuple[str, str, tuple[str, ...]]]] = {}
        for c, kind, p, rights in zip(code.tolist(), perms["principal_type"].tolist(),
                                      perms["principal_id"].tolist(), perms["rights"].tolist(),
                                      strict=True):
            sig.setdefault(c, set()).add((kind, p, tuple(rights)))
        inherits_from = {c: parent[c] for c in sig
                         if c in parent and sig.get(parent[c]) == sig[c]}
    source: dict[int, int] = {}

    def source_of(fid: int) -> int:
        chain: list[int] = []
        while fid not in source:
            nxt = inherits_from.get(fid)
            if nxt is None and not listed[fid]:
                nxt = parent.get(fid)  # listed with no rows of its own: the parent's apply
            if nxt is None or nxt in chain or nxt == fid:
                source[fid] = fid
                break
            chain.append(fid)
            fid = nxt
        for f in chain:
            source[f] = source[fid]
        return source[fid]

    sources = np.array([source_of(f) for f in range(n)], dtype=np.int64)
    folders["source"] = sources
    mine = (sources == np.arange(n))[code]
    own = perms.loc[mine, columns[:1] + columns[2:]].reset_index(drop=True)
    own.insert(0, "folder", code[mine].astype(np.int64))
    return FolderGrants(folders, own)
