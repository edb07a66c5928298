"""Names as people read them: userName for a user, displayName for a group, path for a folder."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..errors import OpskitError


class UnknownName(OpskitError, LookupError):
    """A folder path, userName or group name that the inventory does not hold."""

    @classmethod
    def of(cls, kind: str, name: str, known: Iterable[str]) -> UnknownName:
        close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(map(repr, close))}?" if close else \
            f"list the {kind}s the inventory holds to pick one"
        return cls(f"no {kind} {name!r} in this inventory", hint)


def user_table(users: pd.DataFrame, extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """id, userName, displayName, active; ``extra`` (id, display) adds users known only by a
    reference elsewhere (a grant or a membership naming a user the Users list leaves out, as
    the on-prem connector does with disabled users): named by display, active unknown."""
    ids = users["id"].tolist()
    first = np.fromiter(_first_seen(ids), bool, len(ids))
    table = users.loc[first, ["id", "userName", "displayName", "active"]]
    table = table.astype({"active": "boolean"})
    if extra is not None and len(extra):
        known = set(ids)
        add = []
        for i, d in zip(extra["id"].tolist(), extra["display"].tolist(), strict=True):
            if i not in known:
                known.add(i)
                add.append((i, d))
        if add:
            table = pd.concat([table, pd.DataFrame({
                "id": [i for i, _ in add],
                "userName": [d if isinstance(d, str) else i for i, d in add],
                "displayName": [d for _, d in add],
                "active": pd.array([pd.NA] * len(add), dtype="boolean")})], ignore_index=True)
    return table.reset_index(drop=True)


def _first_seen(values: list[Any]) -> Iterable[bool]:
    seen: set[Any] = set()
    for v in values:
        yield v not in seen
        seen.add(v)


def unique_labels(labels: pd.Series, ids: pd.Series) -> pd.Series:
    """Labels made unique for use as categories: a repeated one gets its id in brackets."""
    dup = labels.duplicated(keep=False)
    if not dup.any():
        return labels
    out = labels.copy()
    out[dup] = labels[dup] + " [" + ids[dup].astype(str) + "]"
    return out


def casefold(value: Any) -> str:
    return value.casefold() if isinstance(value, str) else ""
