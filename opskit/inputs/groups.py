"""The three systems' groups from export CSV files (and, for Secret Server, whatever the caller
has): :class:`opskit.groupgap.GroupSource` frames like those made from inventories.

docs/group-gap.md describes both files' layouts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ..csvfile import CsvFileError, is_url, read_table, shown_source
from ..errors import ConfigError
from ..groupgap import GroupSource, secret_server_groups
from ..inventory import Inventory, fetch_inventory

# The SailPoint Identity Security Cloud entitlement export (docs/group-gap.md): one row per
# identity × entitlement; `Email` is the Platform userName.
IGA_COLUMNS: dict[str, tuple[str, ...]] = {
    "group": ("Entitlement Value",),
    "group_name": ("Entitlement Display Name",),
    "member": ("Email",),
    "attribute": ("Entitlement Attribute",),
    "source": ("Source Name",),
    "external_id": ("External Id", "externalId"),
}
IGA_OPTIONAL = ("group_name", "attribute", "source", "external_id")
# A Secret Server group export: one row per group (repeats, e.g. one per member, are fine).
SECRET_SERVER_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("Group Name", "Group", "Name", "displayName"),
    "id": ("Group Id", "GroupId", "Id"),
    "external_id": ("External Id", "externalId"),
}
SECRET_SERVER_OPTIONAL = ("id", "external_id")


# --------------------------------------------------------------------------- CSV files
def _columns(defaults: Mapping[str, tuple[str, ...]],
             overrides: Mapping[str, str | Sequence[str]] | None) -> dict[str, list[str]]:
    out = {k: list(v) for k, v in defaults.items()}
    for name, spellings in (overrides or {}).items():
        if name not in out:
            raise ConfigError(f"unknown column name {name!r}",
                              f"name one of {', '.join(out)}")
        out[name] = [spellings] if isinstance(spellings, str) else list(spellings)
    return out


def read_iga_export(path: str | os.PathLike[str], *,
                    columns: Mapping[str, str | Sequence[str]] | None = None,
                    attribute: str | None = "groups",
                    source: str | None = None) -> GroupSource:
    """The IGA's groups and direct members from an entitlement export CSV.

    The default layout is SailPoint's (``Entitlement Value``, ``Entitlement Display Name``,
    ``Email``, ``Entitlement Attribute``, ``Source Name``); ``columns`` names the file's own
    header for any of ``group``, ``group_name``, ``member``, ``attribute``, ``source``,
    ``external_id``. Rows whose attribute is not ``attribute`` (when the column is there) or
    whose source is not ``source`` (when given) are left out. A row with an empty member is a
    group nobody holds directly.
    """
    spec = _columns(IGA_COLUMNS, columns)
    shown = shown_source(path) or ""  # a URL's password or signature never reaches a message
    rows = read_table(path, spec, optional=IGA_OPTIONAL, what="IGA export")
    if attribute is not None:
        rows = rows[(rows["attribute"] == "")
                    | (rows["attribute"].str.casefold() == attribute.casefold())]
    if source is not None:
        rows = rows[rows["source"].str.casefold() == source.casefold()]
    empty = rows[rows["group"] == ""]
    if len(empty):
        raise CsvFileError.at(shown, int(empty["_line"].iloc[0]),
                              f"column {spec['group'][0]!r} is empty",
                              "Every row needs the entitlement (group) it is about.")
    rows = rows.assign(group_name=rows["group_name"].where(rows["group_name"] != "",
                                                           rows["group"]))
    firsts = rows.drop_duplicates("group")
    groups = pd.DataFrame({"key": firsts["group"], "name": firsts["group_name"],
                           "external_id": firsts["external_id"].where(
                               firsts["external_id"] != "", None)})
    held = rows[rows["member"] != ""].drop_duplicates(["group", "member"])
    members = pd.DataFrame({"key": held["group"], "user_name": held["member"],
                            "user_id": None})
    return GroupSource("IGA", shown, groups.reset_index(drop=True),
                       members.reset_index(drop=True))


def read_secret_server_export(path: str | os.PathLike[str], *,
                              columns: Mapping[str, str | Sequence[str]] | None = None
                              ) -> GroupSource:
    """Secret Server's groups from an export CSV: ``Group Name`` and, optionally, ``Group Id``
    and ``External Id`` (other columns are ignored, repeated rows of a group are fine)."""
    spec = _columns(SECRET_SERVER_COLUMNS, columns)
    shown = shown_source(path) or ""  # a URL's password or signature never reaches a message
    rows = read_table(path, spec, optional=SECRET_SERVER_OPTIONAL,
                      what="Secret Server group export")
    empty = rows[rows["name"] == ""]
    if len(empty):
        raise CsvFileError.at(shown, int(empty["_line"].iloc[0]),
                              f"column {spec['name'][0]!r} is empty",
                              "Every row needs the group's name.")
    keys = rows["id"].where(rows["id"] != "", rows["name"])
    rows = rows.assign(key=keys).drop_duplicates("key")
    groups = pd.DataFrame({"key": rows["key"], "name": rows["name"],
                           "external_id": rows["external_id"].where(
                               rows["external_id"] != "", None)})
    return GroupSource("Secret Server", shown, groups.reset_index(drop=True))


def read_secret_server(source: str | os.PathLike[str] | Inventory | GroupSource, *,
                       progress: bool = True) -> GroupSource:
    """Secret Server's groups from whatever the caller has: an export CSV (a path to a file),
    an on-prem inventory, or the name of an on-prem profile to fetch one from."""
    if isinstance(source, GroupSource):
        return source
    if isinstance(source, Inventory):
        return secret_server_groups(source)
    text = os.fspath(source)
    if is_url(text) or Path(text).is_file() or Path(text).suffix.lower() in (".csv", ".txt",
                                                                              ".tsv"):
        return read_secret_server_export(text)
    return secret_server_groups(fetch_inventory(text, progress=progress))
