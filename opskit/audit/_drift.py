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

import numpy as np
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
    # Grants compared as one integer each (a history holds a million at the largest tenants:
    # merges and sorts on four text columns cost seconds, on integers milliseconds).
    hist_key, cur_key = _ordered_keys(history, cur)
    runs = sorted(pd.unique(history["last_seen"].dropna()))
    if now in runs:  # this run was recorded already: compare with the one before it
        earlier = [r for r in runs if r < now]
        previous_run = earlier[-1] if earlier else None
        keep = ((history["first_seen"] < now).to_numpy(dtype=bool) if earlier
                else np.zeros(len(history), dtype=bool))
        before, before_key = history[keep], hist_key[keep]
        before = before.assign(last_seen=before["last_seen"].where(
            before["last_seen"] != now, previous_run))
    else:
        previous_run = runs[-1] if runs else None
        if previous_run is not None and now < previous_run:
            raise ValueError(f"seen_at {now} is older than the last run in the history "
                             f"({previous_run})")
        before, before_key = history, hist_key
    in_last = ((before["last_seen"] == previous_run).to_numpy(dtype=bool) if previous_run
               else np.zeros(len(before), dtype=bool))
    last_key = before_key[in_last]
    if previous_run:
        new = ~np.isin(cur_key, last_key)
        added, added_key = cur[new], cur_key[new]
    else:
        added, added_key = cur.iloc[0:0], cur_key[:0]
    gone = ~np.isin(last_key, cur_key)
    removed, removed_key = before[in_last][KEY][gone], last_key[gone]

    still = np.isin(before_key, cur_key)
    kept = before.assign(first_seen=before["first_seen"].fillna(now),
                         last_seen=before["last_seen"].where(~still, now))
    fresh = ~np.isin(cur_key, before_key)
    first = cur[fresh].assign(first_seen=now, last_seen=now)
    new_history = pd.concat([kept, first], ignore_index=True)[HISTORY_COLUMNS]
    new_key = np.concatenate([before_key, cur_key[fresh]])
    return Drift(_in_order(added[KEY], added_key), _in_order(removed, removed_key),
                 _in_order(new_history, new_key), previous_run, now)


def _ordered_keys(history: pd.DataFrame, cur: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """One integer per grant of each frame: equal for equal grants, and ordered as the grants
    sort by KEY (each column's text order, a missing value last)."""
    key = np.zeros(len(history) + len(cur), dtype=np.int64)
    for column in KEY:
        codes, uniques = pd.factorize(pd.concat([history[column], cur[column]],
                                                ignore_index=True), sort=True)
        codes = np.where(codes < 0, len(uniques), codes)  # missing sorts last, as pandas does
        # A dense rank of (key so far, this column) keeps the numbers below the row count.
        key = pd.factorize(key * (len(uniques) + 1) + codes, sort=True)[0]
    return key[:len(history)], key[len(history):]


def _in_order(frame: pd.DataFrame, key: np.ndarray) -> pd.DataFrame:
    return frame.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)
