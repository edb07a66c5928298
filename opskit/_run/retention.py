"""Retention: which run folders `opskit prune` removes, and the shared assets left unreferenced.

A run is kept when any rule keeps it: it is among the newest ``keep_runs`` of its notebook ×
profile, or younger than ``keep_days``; always, the latest run of each pair, and every run holding
the first sighting of a finding still open in that pair's latest run (so the evidence of when
an open problem appeared survives). The first sighting is the run whose start is the finding's
``first_seen``; for a finding recorded before runs were compared, it is the oldest run of the
unbroken streak of complete runs holding it, up to the latest.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import index
from .assets import STATIC

_STATIC_LINK = re.compile(rb"_static/([A-Za-z0-9._-]+)")


@dataclass(frozen=True)
class Plan:
    """What a prune removes (run entries, newest first) and keeps, and why it keeps what a rule
    alone would have removed."""

    remove: list[dict[str, Any]]
    kept: int
    protected: dict[str, str] = field(default_factory=dict)  # run_dir → why it stays
    unused_static: list[Path] = field(default_factory=list)


def _findings(out_dir: Path, run: Mapping[str, Any]) -> list[dict[str, Any]]:
    try:
        results = json.loads((out_dir / run["results"]).read_text(encoding="utf-8"))
        return [f for f in results.get("findings", []) if isinstance(f, dict)]
    except (OSError, ValueError, AttributeError):
        return []


def _key(finding: Mapping[str, Any]) -> tuple[str, str]:
    return str(finding.get("code", "")), str(finding.get("subject", ""))


def first_sightings(out_dir: Path, pair_runs: list[dict[str, Any]]) -> dict[str, str]:
    """The runs (run_dir → why) of one pair (newest first) that first saw a finding still open
    in its latest complete run (a failed run's findings are partial: not what is open); that
    run too, when a failed run came after it."""
    complete = [r for r in pair_runs if r.get("status") in ("ok", "findings")]
    if not complete:
        return {}
    latest = complete[0]
    older = pair_runs[pair_runs.index(latest) + 1:]
    found: dict[str, str] = {}
    if latest is not pair_runs[0]:
        found[latest["run_dir"]] = "the latest complete run"
    by_start = {r["started_at"]: r for r in reversed(pair_runs)}  # the oldest at a start wins
    streak: set[tuple[str, str]] = set()
    for finding in _findings(out_dir, latest):
        seen = finding.get("first_seen")
        if isinstance(seen, str) and seen in by_start:
            run = by_start[seen]
        elif isinstance(seen, str):
            continue  # its first sighting was pruned, or lies in another folder
        else:
            streak.add(_key(finding))
            continue
        if run is not latest:
            found.setdefault(run["run_dir"], f"first saw {finding.get('code')} (still open)")
    # Before drift: walk back through the complete runs while the finding stays present.
    oldest: dict[tuple[str, str], dict[str, Any]] = {}
    for run in older:
        if not streak:
            break
        if run.get("status") not in ("ok", "findings"):
            continue  # a failed run's findings are partial: it neither breaks nor holds a streak
        present = {_key(f) for f in _findings(out_dir, run)} & streak
        for key in present:
            oldest[key] = run
        streak = present
    for (code, _), run in oldest.items():
        found.setdefault(run["run_dir"], f"first saw {code} (still open)")
    return found


def plan(out_dir: Path, *, keep_runs: int | None, keep_days: float | None,
         now: datetime) -> Plan:
    """What a prune of ``out_dir`` would remove; nothing is touched."""
    runs = index.read_index(out_dir)
    if runs is None:
        runs = index.collect_runs(out_dir)
    pairs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:  # newest first
        pairs.setdefault((run["notebook"], run["profile"]), []).append(run)
    cutoff = None if keep_days is None else now - timedelta(days=keep_days)
    remove: list[dict[str, Any]] = []
    protected: dict[str, str] = {}
    for pair_runs in pairs.values():
        sightings: dict[str, str] | None = None  # read only when a rule would remove a run
        for rank, run in enumerate(pair_runs):
            if rank == 0 or (keep_runs is not None and rank < keep_runs) or (
                    cutoff is not None and _started(run) >= cutoff):
                continue
            if sightings is None:
                sightings = first_sightings(out_dir, pair_runs)
            if run["run_dir"] in sightings:
                protected[run["run_dir"]] = sightings[run["run_dir"]]
                continue
            remove.append(run)
    gone = {r["run_dir"] for r in remove}
    kept = [r for r in runs if r["run_dir"] not in gone]
    return Plan(remove, len(kept), protected, unused_static(out_dir, kept))


def _started(run: Mapping[str, Any]) -> datetime:
    try:
        moment = datetime.fromisoformat(run["started_at"])
    except (KeyError, TypeError, ValueError):
        return datetime.max.replace(tzinfo=UTC)  # unknown age: never old enough to remove
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# A run links its shared file before its folder is in place: a file this recent may be one a
# run being written now links (e.g. the first run after a plotly upgrade), so it stays.
STATIC_GRACE_S = 3600.0


def unused_static(out_dir: Path, kept: Iterable[Mapping[str, Any]]) -> list[Path]:
    """The files of ``<out>/_static`` that no kept run's report.html links, older than an
    hour."""
    folder = out_dir / STATIC
    if not folder.is_dir():
        return []
    recent = time.time() - STATIC_GRACE_S
    linked: set[str] = set()
    for run in kept:
        try:
            page = (out_dir / run["report"]).read_bytes()
        except OSError:
            continue
        linked.update(m.decode() for m in _STATIC_LINK.findall(page))
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name not in linked
                  and p.stat().st_mtime < recent)


def apply(out_dir: Path, planned: Plan) -> None:
    """Remove what ``planned`` names, then the index entries of the removed runs."""
    for run in planned.remove:
        folder = out_dir / run["run_dir"]
        shutil.rmtree(folder, ignore_errors=True)
        for parent in (folder.parent, folder.parent.parent):  # a pair's folders left empty
            try:
                parent.rmdir()
            except OSError:
                break
    for path in planned.unused_static:
        path.unlink(missing_ok=True)
    index.remove_runs(out_dir, [r["run_dir"] for r in planned.remove])
