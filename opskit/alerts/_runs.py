"""The runs an alert is about, read from what the runner wrote (results.json, schema in
docs/reports.md): those of one fleet run in an output folder, or those `opskit report` just
made, with the tenants whose process could not run at all."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._run.fleet import TenantOutcome

RESULTS_FILE, REPORT_FILE = "results.json", "report.html"
FAILED = ("failed", "not run")  # a run that failed in a cell, or could not start at all


@dataclass(frozen=True)
class Run:
    """One notebook run on one profile, as an alert sees it."""

    profile: str
    notebook: str | None  # None: the tenant's process failed before any notebook ran
    status: str  # ok, findings, failed (results.json), or "not run"
    findings: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    report: str | None = None
    fleet_run: str | None = None
    started_at: str = ""

    @property
    def failed(self) -> bool:
        return self.status in FAILED


def _error_line(err: Any) -> str | None:
    """results.json's ``error`` as one line, as `opskit run` prints it."""
    if not isinstance(err, dict) or not err.get("ename"):
        return None
    where = f"cell [{err['cell']}]" if err.get("cell") else "the kernel"
    return f"{where}: {err['ename']}" + (f": {err['evalue']}" if err.get("evalue") else "")


def read_run(run_dir: Path) -> Run | None:
    """The run in ``run_dir``; None when its results.json is missing or unreadable."""
    try:
        results = json.loads((run_dir / RESULTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(results, dict):
        return None
    findings = results.get("findings")
    return Run(profile=str(results.get("profile") or run_dir.parent.name),
               notebook=str(results.get("notebook") or run_dir.parent.parent.name),
               status=str(results.get("status") or "failed"),
               findings=[f for f in findings if isinstance(f, dict)]
               if isinstance(findings, list) else [],
               error=_error_line(results.get("error")),
               report=str((run_dir / REPORT_FILE).absolute()),
               fleet_run=results.get("fleet_run") if isinstance(results.get("fleet_run"), str)
               else None,
               started_at=str(results.get("started_at") or ""))


def runs_in(out_dir: Path) -> list[Run]:
    """Every committed run in an output folder (hidden, partial folders skipped), oldest first."""
    runs = [run for path in out_dir.glob(f"*/*/*/{RESULTS_FILE}")
            if not any(p.startswith(".") for p in path.parent.relative_to(out_dir).parts)
            and (run := read_run(path.parent)) is not None]
    return sorted(runs, key=lambda r: (r.started_at, r.report or ""))


def latest_fleet_run(out_dir: Path, fleet_run: str | None = None) -> tuple[str | None,
                                                                           list[Run]]:
    """The newest run of each notebook and profile in ``fleet_run`` (default: the fleet run
    of the newest run that has one): a failed attempt that a retry or resume ran again within
    the fleet run is not alerted on.

    Without any fleet run in the folder (runs made by `opskit run` alone), the latest run of
    each notebook and profile stands in, so the configuration can be tried on any output.
    """
    runs = runs_in(out_dir)
    if fleet_run is None:
        fleet_run = next((r.fleet_run for r in reversed(runs) if r.fleet_run), None)
    if fleet_run is not None:
        runs = [r for r in runs if r.fleet_run == fleet_run]
    latest: dict[tuple[str, str | None], Run] = {}
    for run in runs:  # oldest first: the newest of each pair is kept
        latest[(run.profile, run.notebook)] = run
    return fleet_run, list(latest.values())


def runs_of_outcomes(outcomes: Sequence[TenantOutcome]) -> list[Run]:
    """What `opskit report` just did: each run's results.json, a refused run from its summary,
    and a tenant whose process failed as one failed run of no notebook."""
    runs: list[Run] = []
    for outcome in outcomes:
        if not outcome.runs:
            runs.append(Run(outcome.profile, None, "not run",
                            error=outcome.problem or "its process failed"))
        for summary in outcome.runs:
            run_dir = summary.get("run_dir")
            run = read_run(Path(run_dir)) if run_dir else None
            runs.append(run or Run(outcome.profile, str(summary.get("notebook")),
                                   "not run", error=str(summary.get("error") or "no results")))
    return runs
