"""What changed since the last run: each finding new or still open (with the time it was first
seen), and the findings of the previous run that are gone (resolved).

The previous run is the latest committed run of the same notebook and profile, in the same
``<out>/<notebook>/<profile>/`` folder, started before this one, that did not fail (a failed
run's findings are not a baseline). Only that folder is listed and, failed runs aside, one
results.json read, so the cost stays flat however many runs the report folder holds.

A finding is the same across runs when its (code, subject) is; a pair repeated in one run is
matched by occurrence (the first with the first, and so on).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NEW, STILL_OPEN, RESOLVED = "new", "still open", "resolved"
RESULTS_FILE = "results.json"  # as the runner names it (a run folder's machine-readable result)
_RUN_FOLDER = re.compile(r"(\d{8}T\d{6}Z)(?:-(\d+))?")  # files.run_stamp, "-2" on a collision


@dataclass(frozen=True)
class Baseline:
    """The previous run compared against: its folder (``<notebook>/<profile>/<stamp>``, relative
    to the report folder), when it started, and what it found."""

    run_dir: str
    started_at: str
    findings: list[dict[str, Any]]


def _earlier_folders(pair_dir: Path, stamp: str) -> list[tuple[tuple[str, int], Path]]:
    """The committed run folders of one notebook and profile whose stamp is not after
    ``stamp``, latest first (hidden ``.…partial`` folders do not match the pattern)."""
    found = []
    try:
        entries = list(pair_dir.iterdir())
    except OSError:  # no earlier run made the folder
        return []
    for entry in entries:
        match = _RUN_FOLDER.fullmatch(entry.name)
        if match and match.group(1) <= stamp:
            found.append(((match.group(1), int(match.group(2) or 1)), entry))
    return sorted(found, key=lambda item: item[0], reverse=True)


def previous_run(pair_dir: Path, stamp: str) -> Baseline | None:
    """The baseline for a run of stamp ``stamp`` whose run folder goes into ``pair_dir``
    (``<out>/<notebook>/<profile>``): the latest earlier run there that did not fail and whose
    results.json can be read; None when there is none."""
    for _, folder in _earlier_folders(pair_dir, stamp):
        try:
            results = json.loads((folder / RESULTS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):  # being removed by retention, or not a run's folder
            continue
        if not isinstance(results, dict) or results.get("status") == "failed":
            continue
        findings = results.get("findings")
        if not isinstance(findings, list):
            continue
        return Baseline(f"{pair_dir.parent.name}/{pair_dir.name}/{folder.name}",
                        str(results.get("started_at") or ""),
                        [f for f in findings if isinstance(f, dict)])
    return None


def _key(finding: Mapping[str, Any]) -> tuple[str, str]:
    return str(finding.get("code", "")), str(finding.get("subject", ""))


def _by_occurrence(findings: list[dict[str, Any]]) -> Iterator[tuple[tuple[str, str, int],
                                                                     dict[str, Any]]]:
    """Each finding with its identity: (code, subject, how many times the pair came before)."""
    seen: dict[tuple[str, str], int] = defaultdict(int)
    for f in findings:
        key = _key(f)
        yield (*key, seen[key]), f
        seen[key] += 1


def compare(findings: list[dict[str, Any]], baseline: Baseline | None, *,
            started_at: str, complete: bool = True) -> dict[str, Any]:
    """The drift fields of results.json for a run that started at ``started_at`` and found
    ``findings`` (docs/reports.md): ``findings`` (each with ``first_seen`` and ``change``),
    ``resolved``, ``previous_run`` and ``changes``. A finding of a baseline written before
    first_seen existed was first seen, as far as anyone knows, when that run started.
    A run that did not finish (``complete`` false) never looked for the rest: nothing is
    resolved by it (``resolved`` empty, its count null: not checked)."""
    before: dict[tuple[str, str, int], dict[str, Any]] = {}
    if baseline is not None:
        before = dict(_by_occurrence(baseline.findings))
    annotated = []
    for ident, f in _by_occurrence(findings):
        earlier = before.pop(ident, None)
        if earlier is None:
            annotated.append({**f, "first_seen": started_at, "change": NEW})
        else:
            first = earlier.get("first_seen") or (baseline.started_at if baseline else "")
            annotated.append({**f, "first_seen": str(first or started_at),
                              "change": STILL_OPEN})
    resolved = [{**f, "first_seen": str(f.get("first_seen") or
                                        (baseline.started_at if baseline else "")),
                 "change": RESOLVED} for f in before.values()] if complete else []
    new = sum(f["change"] == NEW for f in annotated)
    return {
        "findings": annotated,
        "resolved": resolved,
        "previous_run": None if baseline is None else {"run_dir": baseline.run_dir,
                                                       "started_at": baseline.started_at},
        "changes": {"new": new, "resolved": len(resolved) if complete else None,
                    "still_open": len(annotated) - new},
    }
