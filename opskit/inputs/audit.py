"""Files the permission audit reads and keeps: planned changes, folder exports, grant history.

``opskit.audit`` does no I/O; this module reads what people bring (CSV files, checked line by
line, every problem named with file, line and column) and keeps the grant history between runs.
docs/audit.md describes both CSV formats.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .._escaping import FORMULA_PREFIXES, csv_cell
from ..audit import RIGHTS, Change, FolderView
from ..audit._changes import KINDS, PLANNED_HEADERS, planned_rows
from ..audit._drift import HISTORY_COLUMNS
from ..csvfile import CsvFileError, read_table, shown_source
from ..errors import ConfigError

PLANNED_COLUMNS = {
    "folder": ("Folder Path", "Folder", "FolderPath", "Path"),
    "principal": ("Principal", "User or Group", "Principal Name", "Name"),
    "principal_type": ("Principal Type", "Type", "PrincipalType"),
    "rights": ("Rights", "Right", "Permissions", "Permission"),
    # Optional, so files that hold only grants to set read as before.
    "change": ("Change", "Action"),
    "group": ("Group", "Group Name"),
}
EXPORT_COLUMNS = {
    "folder": ("Folder Path", "Folder", "FolderPath", "Path"),
    "secret": ("Secret Name", "SecretName", "Secret"),
}
RIGHT_SEPARATORS = re.compile(r"[;|,]")
_RIGHTS = {r.casefold(): r for r in RIGHTS}


def folder_path(value: str) -> str | None:
    """`/IT/Databases` from `/IT/Databases`, `\\IT\\Databases`, `IT/Databases/`; None when a
    name between separators is empty."""
    parts = re.split(r"[\\/]", value.strip().strip("\\/"))
    if not parts or any(not p.strip() for p in parts):
        return None
    return "/" + "/".join(p.strip() for p in parts)


def _need(path: str | os.PathLike[str], line: int, column: str, value: str) -> str:
    if not value:
        raise CsvFileError.at(path, line, f"the {column} column is empty",
                              f"Fill in the {column} on this line, or delete the line.")
    return value


# --------------------------------------------------------------------------- planned changes
def read_planned_changes(path: str | os.PathLike[str], known: Any | Sequence[Any]
                         ) -> pd.DataFrame:
    """Read a planned-changes CSV and check it against inventories of the tenant.

    ``known``: one Inventory or several (e.g. the cloud view and an on-prem reference): the
    folders, users and groups a line may name. Returns folder (path as the inventory writes it),
    principal (userName or group displayName), principal_type (``user`` | ``group``), rights (a
    list, in the order given) and ``_line``. A file whose optional Change column holds other
    changes than grants (``revoke``, ``remove-member``, ``disable-user``, ``delete-group``,
    ``break-inheritance``, ``restore-inheritance``) adds change, group (of a remove-member
    line) and type_given (the line gave a Principal Type). ``opskit.audit.changes_of`` turns
    either into what-if changes. Any unusable line raises :class:`CsvFileError` naming the
    file, the line and the problem.
    """
    table = read_table(path, PLANNED_COLUMNS, optional=("principal_type", "change", "group"),
                       what="planned-changes file")
    path = shown_source(path) or ""  # named in messages without a URL's password or signature
    invs: list[Any] = list(known) if isinstance(known, list | tuple) else [known]
    # A folder absent from the cloud view may exist and be hidden: the cloud connector shows
    # only the folders the service account owns.
    cloud_only = all(getattr(inv, "meta", {}).get("flavor") == "cloud" for inv in invs)
    folders: dict[str, str] = {}
    for inv in invs:
        for p in inv.containers["path"].tolist():
            if isinstance(p, str) and not p.startswith("…"):
                folders.setdefault(p, p)
                folders.setdefault(p.casefold(), p)
    users: dict[str, str] = {}
    groups: dict[str, str] = {}
    for inv in invs:
        for u in inv.users["userName"].tolist():
            if isinstance(u, str):
                users.setdefault(u, u)  # as written when one view spells it so
                users.setdefault(u.casefold(), u)
        for g in inv.groups["displayName"].tolist():
            if isinstance(g, str):
                groups.setdefault(g, g)
                groups.setdefault(g.casefold(), g)

    def folder_of(raw_folder: str, line: int) -> str:
        raw_folder = _need(path, line, "folder path", raw_folder)
        normal = folder_path(raw_folder)
        folder = folders.get(normal or "") or folders.get((normal or "").casefold())
        if folder is None:
            raise CsvFileError.at(
                path, line, f"unknown folder {raw_folder!r}: no such folder in the inventory "
                f"({len({v for v in folders.values()}):,} folders known)",
                "Write the folder's full path from the root, as /IT/Databases/Prod; check its "
                "spelling, and that the inventory is of the same tenant." + (
                    " A cloud inventory holds only the folders the service account owns: to "
                    "plan changes on the others, give an on-prem profile as the reference."
                    if cloud_only else ""))
        return folder

    def principal_of(principal: str, raw_kind: str, line: int, column: str = "principal"
                     ) -> tuple[str, str]:
        principal = _unguarded(_need(path, line, column, principal))
        kind = (raw_kind or "").strip().casefold()
        if kind not in ("", "user", "group"):
            raise CsvFileError.at(path, line, f"principal type {raw_kind!r} is "
                                  "neither User nor Group", "Write User or Group, or leave it "
                                  "empty when the name says which.")
        as_user = (users.get(principal) or users.get(principal.casefold())
                   if kind in ("", "user") else None)
        as_group = (groups.get(principal) or groups.get(principal.casefold())
                    if kind in ("", "group") else None)
        if as_user and as_group:
            raise CsvFileError.at(path, line, f"{principal!r} names both a user and a group",
                                  "Add a Principal Type column (User or Group) to say which.")
        if not as_user and not as_group:
            what = {"user": "user (userName)", "group": "group (displayName)"}.get(
                kind, "user (userName) or group (displayName)")
            raise CsvFileError.at(path, line, f"unknown {column} {principal!r}: no {what} of "
                                  "that name in the inventory",
                                  "Check the spelling; a group must exist in Secret Server "
                                  "before a folder permission can name it.")
        return (as_user, "user") if as_user else (str(as_group), "group")

    rows = []
    for raw_folder, principal, raw_kind, rights_text, raw_change, group, line in zip(
            *(table[c].tolist() for c in ("folder", "principal", "principal_type", "rights",
                                           "change", "group", "_line")), strict=True):
        change = (raw_change or "grant").strip().casefold().replace(" ", "-").replace("_", "-")
        if change not in KINDS:
            raise CsvFileError.at(path, line, f"unknown change {raw_change!r}",
                                  f"Write one of {', '.join(KINDS)}, or leave it empty for a "
                                  "grant to set.")
        typed = bool((raw_kind or "").strip())
        folder: str | None = None
        name: str | None = None
        kind: str | None = None
        rights: list[str] = []
        group_name: str | None = None
        if change in ("grant", "revoke", "break-inheritance", "restore-inheritance"):
            folder = folder_of(raw_folder, line)
        if change in ("grant", "revoke"):
            name, kind = principal_of(principal, raw_kind, line)
        elif change in ("remove-member", "disable-user", "delete-group"):
            wanted = "group" if change == "delete-group" else "user"
            name, kind = principal_of(principal, raw_kind if typed else wanted, line, wanted)
            if kind != wanted:
                raise CsvFileError.at(path, line, f"{change} names a {wanted}, not {kind} "
                                      f"{principal!r}", "Write the user's userName."
                                      if wanted == "user" else "Write the group's displayName.")
        if change == "remove-member":
            group_name, _ = principal_of(group, "group", line, "group")
        if change == "grant":
            rights_text = _need(path, line, "rights", rights_text)
            for r in (x.strip() for x in RIGHT_SEPARATORS.split(rights_text)):
                if not r:
                    continue
                if r.casefold() not in _RIGHTS:
                    raise CsvFileError.at(path, line, f"unknown right {r!r} in {rights_text!r}",
                                          f"Folder rights are {', '.join(reversed(RIGHTS))}; "
                                          "separate several with ';' or '|'.")
                rights.append(_RIGHTS[r.casefold()])
            if not rights:
                raise CsvFileError.at(path, line, "the rights column names no right",
                                      "Write one right, e.g. Edit.")
        rows.append((folder, name, kind, rights, line, change, group_name, typed))
    frame = pd.DataFrame(rows, columns=["folder", "principal", "principal_type", "rights",
                                        "_line", "change", "group", "type_given"])
    if (frame["change"] == "grant").all():  # grants only: the frame as it has always been
        frame = frame.drop(columns=["change", "group", "type_given"])
    return frame


def write_planned_changes(changes: Sequence[Change], path: str | os.PathLike[str]) -> Path:
    """Write changes (``opskit.audit`` what-if changes) as a planned-changes CSV, one line
    each, that :func:`read_planned_changes` reads back to the same changes (with
    ``opskit.audit.changes_of``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(PLANNED_HEADERS))
        writer.writeheader()
        # A name a spreadsheet would run as a formula gets a leading ' (read back without it).
        writer.writerows({k: csv_cell(v) for k, v in row.items()}
                         for row in planned_rows(list(changes)))
    return path


def _unguarded(name: str) -> str:
    """A name as written, without the ' that :func:`csv_cell` puts before a formula's first
    character (a spreadsheet shows the name without it too)."""
    return name[1:] if name.startswith("'") and name[1:].startswith(FORMULA_PREFIXES) else name


# --------------------------------------------------------------------------- folder export
def read_folder_export(path: str | os.PathLike[str], *, cloud: Any = None,
                       source: str | None = None) -> FolderView:
    """Read a Secret Server folder export (CSV) as a reference view for coverage.

    One row per secret (``Folder Path``, ``Secret Name``), as Secret Server's secret export
    writes them with the folder path included; a row without a secret name lists a folder
    alone (an empty folder). Ancestors of every listed folder are implied. Other columns are
    ignored and never read into memory (an export may hold passwords: leave them out anyway).
    With ``cloud`` (the cloud inventory), an export that shares no folder with it is refused:
    it is of another Secret Server, or its paths do not start at the root.
    """
    table = read_table(path, EXPORT_COLUMNS, optional=("secret",), what="folder export")
    path = shown_source(path) or ""
    folders: dict[str, int] = {}
    secrets: list[tuple[str, str, None]] = []
    for raw, secret, line in zip(table["folder"].tolist(), table["secret"].tolist(),
                                 table["_line"].tolist(), strict=True):
        line = int(line)
        normal = folder_path(_need(path, line, "folder path", raw))
        if normal is None:
            raise CsvFileError.at(path, line, f"folder path {raw!r} has an empty folder name "
                                  "between separators", "Write the path as /IT/Databases/Prod.")
        parts = normal.split("/")[1:]
        for k in range(1, len(parts) + 1):
            folders.setdefault("/" + "/".join(parts[:k]), line)
        if secret:
            secrets.append((normal, secret, None))
    if not folders:
        raise CsvFileError.at(path, None, "the folder export lists no folder",
                              "Export with the folder path included (Export Folder Path).")
    if cloud is not None:
        shown = {p for p in cloud.containers["path"].tolist()
                 if isinstance(p, str) and not p.startswith("…")}
        if shown and not shown & set(folders):
            first, line = next(iter(folders.items()))
            raise CsvFileError.at(
                path, line, f"unknown folder {first!r}: none of the export's {len(folders):,} "
                f"folders is among the {len(shown):,} folders the cloud view shows",
                "Export the same Secret Server, with folder paths from the root "
                "(\\IT\\Databases or /IT/Databases).")
    frame = pd.DataFrame({"path": list(folders), "id": [None] * len(folders)})
    return FolderView(frame, pd.DataFrame(secrets, columns=["folder", "name", "id"]),
                      source or os.path.basename(path).split("?")[0])


# --------------------------------------------------------------------------- grant history
def load_grant_history(path: str | os.PathLike[str]) -> pd.DataFrame | None:
    """The grant history saved by :func:`save_grant_history`, or None if there is none yet."""
    path = Path(path)
    if not path.exists():
        return None
    import pyarrow.parquet as pq

    try:
        missing = [c for c in HISTORY_COLUMNS if c not in pq.read_schema(path).names]
        # Only the history's own columns, as Arrow-backed text: no Python string per cell.
        frame = None if missing else pd.read_parquet(path, columns=HISTORY_COLUMNS)
    except Exception as exc:  # any parquet or arrow failure means the same to the user
        raise ConfigError(f"{path} is not a grant history ({type(exc).__name__})",
                          "point at the grant_history.parquet an earlier audit wrote, or "
                          "remove it to start a new history") from None
    if frame is None:
        raise ConfigError(f"{path} is not a grant history: it lacks {', '.join(missing)}",
                          "point at the grant_history.parquet an earlier audit wrote")
    return frame


def save_grant_history(history: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write the grant history atomically (a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        history[HISTORY_COLUMNS].to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

