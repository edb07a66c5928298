"""Coverage: what the cloud service account cannot see, measured against a fuller view.

The cloud connector returns only folders and secrets on which its service account is Owner
(FAQ), so the IGA never sees the rest. Only a second view of the same Secret Server (the
on-prem connector, or a folder export) shows what is missing; without one the gap cannot be
measured, and the result says so instead of reporting full coverage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from ._folders import arrow_text, paths_by_id

PARTIAL = "…"  # how an inventory starts a path whose ancestors it cannot see


@dataclass(frozen=True)
class FolderView:
    """The folders and secrets one view of Secret Server holds, by path.

    ``folders``: path (``/IT/Databases``), id (``None`` when the view has no ids, as an export).
    ``secrets``: folder (path), name, id. Built by :func:`folder_view` from an inventory, or by
    ``opskit.inputs.audit.read_folder_export`` from a CSV export.
    """

    folders: pd.DataFrame
    secrets: pd.DataFrame
    source: str = ""
    inventory: Any = field(default=None, repr=False, compare=False)  # when built from one


def folder_view(inv: Any) -> FolderView:
    """The folders and secrets of an inventory, as a :class:`FolderView`."""
    folders = inv.containers[["path", "id"]].drop_duplicates("id").reset_index(drop=True)
    containers = inv.containers.drop_duplicates("id")
    s = inv.privileged_data
    secrets = pd.DataFrame({
        "folder": paths_by_id(containers["id"], containers["path"].tolist(), s["container_id"]),
        "name": s["name"].array, "id": s["id"].array})
    return FolderView(folders, secrets, str(inv.meta.get("source", "")), inv)


def _all_text(column: pd.Series) -> bool:
    """Every value is text (not missing, not a number)."""
    if isinstance(column.dtype, pd.StringDtype):
        return bool(column.notna().all())
    return all(isinstance(v, str) for v in column.tolist())


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def parent_path(path: str) -> str | None:
    head = path.rsplit("/", 1)[0]
    return head if head and head != PARTIAL else None


@dataclass(frozen=True)
class Coverage:
    """What the cloud view shows against the reference view.

    ``measured`` is False without a reference: then every count of the reference is ``None``
    and ``statement`` says that coverage cannot be measured. Otherwise:

    - ``folders``: every reference folder: path, parent (path), visible, hidden_root (path of
      the top of the hidden subtree it is in, or None), secrets, hidden_secrets;
    - ``hidden_roots``: one row per top of a hidden subtree: path, folders (in the subtree,
      itself included), subfolders, secrets;
    - ``hidden_secrets``: folder, name, path, reason (``folder hidden`` or ``not owned``: in a
      folder the cloud sees, but not returned, so it carries its own permissions without the
      service account as Owner).
    """

    measured: bool
    statement: str
    reference: str
    folders_total: int | None
    folders_visible: int | None
    secrets_total: int | None
    secrets_visible: int | None
    folders: pd.DataFrame
    hidden_roots: pd.DataFrame
    hidden_secrets: pd.DataFrame
    cloud_paths: dict[str, str] = field(default_factory=dict, repr=False)  # cloud id → ref path

    @property
    def folder_share(self) -> float | None:
        """Share of the reference's folders the cloud view shows (None: not measured)."""
        if not self.measured or not self.folders_total:
            return None
        return (self.folders_visible or 0) / self.folders_total

    @property
    def secret_share(self) -> float | None:
        if not self.measured or not self.secrets_total:
            return None
        return (self.secrets_visible or 0) / self.secrets_total

    @property
    def not_owned(self) -> pd.DataFrame:
        return self.hidden_secrets[self.hidden_secrets["reason"] == "not owned"]


_FOLDER_COLUMNS = ["path", "parent", "visible", "hidden_root", "secrets", "hidden_secrets"]
_ROOT_COLUMNS = ["path", "folders", "subfolders", "secrets"]
_SECRET_COLUMNS = ["folder", "name", "path", "reason", "id"]


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _match_paths(cloud_paths: list[str], reference_paths: set[str]) -> list[str | None]:
    """Each cloud path as a reference path: itself, or for `…/Parent/Child` (ancestors the
    cloud cannot see) the one reference path ending in `/Parent/Child`, if only one does."""
    tails: dict[str, list[str]] | None = None
    out: list[str | None] = []
    for p in cloud_paths:
        if not isinstance(p, str):
            out.append(None)
        elif not p.startswith(PARTIAL):
            out.append(p if p in reference_paths else None)
        else:
            if tails is None:
                tails = {}
                for r in reference_paths:
                    parts = r.split("/")
                    for k in range(1, len(parts)):
                        tails.setdefault("/" + "/".join(parts[k:]), []).append(r)
            hits = tails.get(p[len(PARTIAL):], [])
            out.append(hits[0] if len(hits) == 1 else None)
    return out


def coverage(cloud: Any, reference: Any = None) -> Coverage:
    """Compare the cloud inventory with a reference (an Inventory, a FolderView or None)."""
    shown_f, shown_s = len(cloud.containers), len(cloud.privileged_data)
    if reference is None:
        statement = (f"Coverage cannot be measured: the cloud view shows {shown_f:,} folders "
                     f"and {shown_s:,} secrets, but without a second view (an on-prem "
                     "connector profile or a folder export) nothing shows what it leaves out. "
                     "This is not 100%.")
        return Coverage(False, statement, "", None, None, None, None,
                        _empty(_FOLDER_COLUMNS), _empty(_ROOT_COLUMNS), _empty(_SECRET_COLUMNS))
    ref = reference if isinstance(reference, FolderView) else folder_view(reference)
    ref_folders = ref.folders.drop_duplicates("path").reset_index(drop=True)
    ref_paths_list = ref_folders["path"].tolist()
    ref_ids = ref_folders["id"].tolist()
    ref_paths = set(ref_paths_list)

    # The cloud's folders, as reference paths: by id when both views have ids (two views of
    # one Secret Server), else by path.
    cloud_ids = cloud.containers["id"].tolist()
    use_ids = all(isinstance(i, str) for i in ref_ids)
    if use_ids:
        by_id = dict(zip(ref_ids, ref_paths_list, strict=True))
        mapped = [by_id.get(i) for i in cloud_ids]
    else:
        mapped = _match_paths(cloud.containers["path"].tolist(), ref_paths)
    cloud_paths = {i: p for i, p in zip(cloud_ids, mapped, strict=True) if p}
    visible = set(cloud_paths.values())

    parents = [parent_path(p) for p in ref_paths_list]
    is_visible = [p in visible for p in ref_paths_list]
    hidden = {p for p, v in zip(ref_paths_list, is_visible, strict=True) if not v}
    root_of: dict[str, str] = {}

    def hidden_root(p: str) -> str:
        chain = []
        while p not in root_of:
            chain.append(p)
            up = parent_path(p)
            if up is None or up not in hidden:
                root_of[p] = p
                break
            p = up
        for c in chain:
            root_of[c] = root_of[p]
        return root_of[p]

    roots_list = [hidden_root(p) if p in hidden else None for p in ref_paths_list]

    # Secrets: the reference's, each marked seen or not by the cloud; counted by column, as
    # the largest tenants hold a million (only the unseen become rows of their own).
    secrets = ref.secrets
    if use_ids and _all_text(secrets["id"]):
        # In Arrow: pandas' isin of a million texts took 400 MB and 7 s at scale 1,000.
        seen = pc.is_in(arrow_text(secrets["id"]),
                        value_set=arrow_text(cloud.privileged_data["id"])
                        ).to_numpy(zero_copy_only=False)
    else:
        cs = cloud.privileged_data
        keys = {(cloud_paths.get(c), n) for c, n in zip(cs["container_id"].tolist(),
                                                        cs["name"].tolist(), strict=True)}
        seen = np.array([k in keys for k in zip(secrets["folder"].tolist(),
                                                secrets["name"].tolist(), strict=True)],
                        dtype=bool)
    per_folder = secrets["folder"].value_counts()
    hidden_per_folder = secrets["folder"][~seen].value_counts()
    unseen = secrets[~seen]
    s_folder, s_name = unseen["folder"].tolist(), unseen["name"].tolist()
    missing = [(f, n, f"{f}/{n}", "folder hidden" if f in hidden else "not owned", i)
               for f, n, i in zip(s_folder, s_name, unseen["id"].tolist(), strict=True)]
    paths = pd.Series(ref_paths_list, dtype=object)
    folders = pd.DataFrame({
        "path": ref_paths_list, "parent": parents, "visible": is_visible,
        "hidden_root": roots_list,
        "secrets": paths.map(per_folder).fillna(0).astype(np.int64).to_numpy(),
        "hidden_secrets": paths.map(hidden_per_folder).fillna(0).astype(np.int64).to_numpy()})

    in_subtree = folders[folders["hidden_root"].notna()]
    roots = in_subtree.groupby("hidden_root").agg(folders=("path", "size"),
                                                  secrets=("secrets", "sum"))
    roots = roots.reset_index().rename(columns={"hidden_root": "path"})
    roots["subfolders"] = roots["folders"] - 1
    roots = roots[_ROOT_COLUMNS].sort_values("path").reset_index(drop=True)

    total_f, total_s = len(folders), len(secrets)
    vis_f, vis_s = sum(is_visible), int(seen.sum())
    unmatched = len(cloud_ids) - len(cloud_paths)
    where = f" ({ref.source})" if ref.source else ""
    statement = (f"The cloud service account sees {vis_f:,} of {total_f:,} folders and "
                 f"{vis_s:,} of {total_s:,} secrets that the reference view{where} holds. "
                 + (f"{_count(total_f - vis_f, 'folder')} in "
                    f"{_count(len(roots), 'hidden subtree')} and "
                    f"{_count(total_s - vis_s, 'secret')} are not returned by the cloud "
                    "connector, so "
                    "the IGA will not see them." if total_f - vis_f or total_s - vis_s else
                    "Nothing the reference holds is hidden from it.")
                 + (f" {unmatched:,} folders of the cloud view are not in the reference: is "
                    "the reference older, or of another Secret Server?" if unmatched else ""))
    hidden_secrets = pd.DataFrame(missing, columns=["folder", "name", "path", "reason", "id"])
    hidden_secrets = hidden_secrets[_SECRET_COLUMNS].sort_values("path").reset_index(drop=True)
    return Coverage(True, statement, ref.source, total_f, vis_f, total_s, vis_s,
                    folders[_FOLDER_COLUMNS], roots, hidden_secrets, cloud_paths)
