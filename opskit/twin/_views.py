"""The snapshots a twin is made from, checked and put side by side: the cloud view, the on-prem
view, or both (the cloud view with the on-prem view as its reference)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..errors import ConfigError
from ..inventory import Inventory

_FLAVORS = ("cloud", "onprem")


@dataclass(frozen=True)
class Views:
    """What the twin copies: either view may be missing, not both."""

    cloud: Inventory | None
    onprem: Inventory | None

    @property
    def views(self) -> list[Inventory]:
        """The views there are, the on-prem one first: it sees every folder and secret, and
        shows rights and userNames as stored, so what it says wins."""
        return [v for v in (self.onprem, self.cloud) if v is not None]

    @property
    def source(self) -> str:
        """The tenant's name, as the snapshots tell it."""
        for inv in self.views:
            name = inv.meta.get("practice_tenant") or inv.meta.get("source")
            if isinstance(name, str) and name.strip():
                return name.strip()
        return "twin"

    @classmethod
    def of(cls, snapshot: Inventory, reference: Inventory | None = None, *,
           folder_export: bool = False) -> Views:
        """The views, each checked: complete, of a known flavor, and (with a reference) of the
        other flavor and of the same tenant; a folder export stands beside a cloud view
        alone."""
        for inv, what in ((snapshot, "the snapshot"), (reference, "the reference snapshot")):
            if inv is not None:
                _check_complete(inv, what)
        first = _flavor(snapshot, "the snapshot")
        by_flavor: dict[str, Inventory] = {first: snapshot}
        if reference is not None:
            second = _flavor(reference, "the reference snapshot")
            if second == first:
                raise ConfigError(
                    f"the snapshot and the reference are both the {first} view",
                    "give the other connector's view as --reference (the cloud view and the "
                    "on-prem view of one tenant), or leave --reference out")
            by_flavor[second] = reference
        views = cls(by_flavor.get("cloud"), by_flavor.get("onprem"))
        if folder_export and views.onprem is not None:
            raise ConfigError(
                "a folder export stands in for the on-prem view, and "
                + ("the snapshot is the on-prem view" if reference is None else
                   "--reference gives it already"),
                "give the cloud view as SNAPSHOT with --folder-export, or the on-prem view "
                "as --reference without it")
        views._check_one_tenant()
        return views

    def _check_one_tenant(self) -> None:
        """The on-prem view sees every folder and secret, and every enabled user: a cloud view
        of the same tenant shows none it lacks."""
        if self.cloud is None or self.onprem is None:
            return
        for frame, what in (("containers", "folders"), ("privileged_data", "secrets")):
            missing = _ids(self.cloud, frame) - _ids(self.onprem, frame)
            if missing:
                raise ConfigError(
                    f"the views are not of one tenant: {len(missing)} of the cloud view's "
                    f"{what} (id {sorted(missing)[0]!r}, …) are not in the on-prem view, "
                    "which sees them all",
                    "give two snapshots of the same tenant, taken close together")
        missing = _ids(self.onprem, "users") - _ids(self.cloud, "users")
        if missing:
            raise ConfigError(
                f"the views are not of one tenant: {len(missing)} of the on-prem view's users "
                f"(id {sorted(missing)[0]!r}, …) are not in the cloud view, which shows every "
                "user", "give two snapshots of the same tenant, taken close together")


def _check_complete(inv: Inventory, what: str) -> None:
    if not inv.complete:
        notes = "; ".join(str(n) for n in inv.meta.get("notes") or []) or "no reason given"
        raise ConfigError(f"{what} is incomplete ({notes}), and a twin of it would be too",
                          "take a new snapshot (opskit inventory --out DIR) that reads "
                          "everything")


def _flavor(inv: Inventory, what: str) -> str:
    flavor = inv.meta.get("flavor")
    if flavor not in _FLAVORS:
        raise ConfigError(f"{what} does not say which connector's view it is (flavor "
                          f"{flavor!r})", "take it with opskit inventory against a cloud or "
                          "on-prem profile")
    return str(flavor)


def _ids(inv: Inventory, frame: str) -> set[str]:
    return set(getattr(inv, frame)["id"].astype(str))


def text(value: Any) -> str | None:
    """A frame's cell as text, or None where it is missing."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return str(value)


def merged(first: list[str], second: list[str] | None = None) -> list[str]:
    """Ids of two listings in one order that keeps each listing's own: each flavor lists a part
    of the tenant file in the file's order, so the twin keeps that order too."""
    a, b = first, second or []
    in_a, in_b = set(a), set(b)
    out: list[str] = []
    seen: set[str] = set()
    i = j = 0
    while i < len(a) or j < len(b):
        if i < len(a) and a[i] in seen:
            i += 1
        elif j < len(b) and b[j] in seen:
            j += 1
        elif j < len(b) and (i >= len(a) or (b[j] not in in_a and a[i] in in_b)):
            seen.add(b[j])  # only in the second, before the next they share
            out.append(b[j])
            j += 1
        else:  # only in the first, or shared (in different orders, the first's wins)
            seen.add(a[i])
            out.append(a[i])
            i += 1
    return out
