"""Drift: grants added and removed since the previous run, with first and last seen kept.

A grant is a folder permission where it is set (not repeated on every inheriting folder): the
folder path, principal type, principal (userName or group displayName) and rights as the view
shows them. The grant history is a small frame with one row per grant ever seen and when it was
first and last seen; the caller keeps it between runs (``opskit.inputs.audit`` saves and loads
it), and each run returns it updated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ._findings import _Directory, _named_own
from ._views import View

KEY = ["folder", "principal_type", "principal", "rights"]
HISTORY_COLUMNS = [*KEY, "first_seen", "last_seen"]


def grants(inv: Any, *, more_users: pd.DataFrame | None = None) -> pd.DataFrame:
    """The grants of an inventory where they are set: folder, principal_type, principal, rights
    (text, e.g. ``View, Edit``). ``more_users`` names users the inventory does not list (the
    cloud view's users for an on-prem inventory, which leaves disabled users out)."""
    view = View.of(inv)
    own = _named_own(view, _Directory([view], more_users))
    out = own[["folder", "principal_type", "principal"]].copy()
    out["rights"] = own["rights"].map(lambda r: ", ".join(map(str, r)))
    return out.drop_duplicates().sort_values(KEY).reset_index(drop=True)


@dataclass(frozen=True)
class Drift:
    """``added`` and ``removed`` grants since ``previous_run`` (None on the first run, when
    there is nothing to compare with), and the updated ``history``: one row per grant ever
    seen with ``first_seen`` and ``last_seen`` (ISO timestamps as given)."""

    added: pd.DataFrame
    removed: pd.DataFrame
    history: pd.DataFrame
    previous_run: str | None
    seen_at: str

    @property
    def baseline(self) -> bool:
        """True when this run only started the history."""
        return self.previous_run is None


def _empty_history() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in HISTORY_COLUMNS})


def _seen_at(inv: Any, seen_at: str | None) -> str:
    stamp = seen_at or getattr(inv, "meta", {}).get("fetched_at")
    if not stamp:
        raise ValueError("seen_at is required when the inventory has no fetched_at")
    return str(stamp)


def drift(current: Any, *, previous: Any = None, history: pd.DataFrame | None = None,
          seen_at: str | None = None, more_users: pd.DataFrame | None = None) -> Drift:
    """Compare the current grants with the previous run's.

    ``current`` / ``previous``: Inventories (or frames from :func:`grants`). ``history``: the
    grant history from earlier runs; without it, ``previous`` seeds one. ``seen_at``: when the
    current inventory was taken (default its ``meta["fetched_at"]``). Running twice with the
    same ``seen_at`` changes nothing. ``more_users``: see :func:`grants`.
    """
    now = _seen_at(current, seen_at)
    cur = (current if isinstance(current, pd.DataFrame)
           else grants(current, more_users=more_users))
    cur = cur[KEY].drop_duplicates()
    if history is None:
        history = _empty_history()
        if previous is not None:
            prev = (previous if isinstance(previous, pd.DataFrame)
                    else grants(previous, more_users=more_users))
            then = _seen_at(previous, None) if not isinstance(previous, pd.DataFrame) else None
            if then is None:
                raise ValueError("a previous grants frame needs a history with its dates")
            history = prev[KEY].drop_duplicates().assign(first_seen=then, last_seen=then)
    history = history[HISTORY_COLUMNS].reset_index(drop=True)
    runs = sorted(set(history["last_seen"].dropna()))
    if now in runs:  # this run was recorded already: compare with the one before it
        earlier = [r for r in runs if r < now]
        previous_run = earlier[-1] if earlier else None
        before = history[history["first_seen"] < now] if earlier else history.iloc[0:0]
        before = before.assign(last_seen=before["last_seen"].where(
            before["last_seen"] != now, previous_run))
    else:
        previous_run = runs[-1] if runs else None
        if previous_run is not None and now < previous_run:
            raise ValueError(f"seen_at {now} is older than the last run in the history "
                             f"({previous_run})")
        before = history
    last = before[before["last_seen"] == previous_run][KEY] if previous_run else before.iloc[0:0]
    merged = cur.merge(last.assign(_was=True), on=KEY, how="left")
    added = merged[merged["_was"].isna()][KEY] if previous_run else cur.iloc[0:0]
    gone = last.merge(cur.assign(_now=True), on=KEY, how="left")
    removed = gone[gone["_now"].isna()][KEY]

    kept = before.merge(cur.assign(_now=True), on=KEY, how="outer")
    kept["first_seen"] = kept["first_seen"].fillna(now)
    kept.loc[kept["_now"].notna(), "last_seen"] = now
    new_history = kept[HISTORY_COLUMNS].sort_values(KEY).reset_index(drop=True)
    return Drift(added.sort_values(KEY).reset_index(drop=True),
                 removed.sort_values(KEY).reset_index(drop=True), new_history,
                 previous_run, now)
