"""Many tenants at once: each profile runs in its own process (`python -m opskit.cli run …
--json`), a bounded number at a time, and one tenant failing never stops the others.

A process per tenant, not a thread: a kernel or a tenant that misbehaves (hangs, crashes, leaks
memory) takes only its own process down, and each process's environment is its own: it holds
no other tenant's secrets (see isolation), and each run's files are checked for every tenant's
secrets when its process ends.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._redact import redact
from ..config import Profile, load_profiles
from ..findings import SEVERITIES
from . import evidence, index, isolation

EXIT_CANNOT_RUN = 2
NOT_RUN = "not run"  # status of a run refused before it started (no folder, no results.json)


@dataclass(frozen=True)
class TenantOutcome:
    """What one profile's process did: one summary per notebook, and its log (stderr)."""

    profile: str
    exit_code: int
    runs: list[dict[str, Any]]
    log: str
    problem: str | None = None  # the process itself failed and said nothing we could read


def worst(codes: Sequence[int]) -> int:
    """2 (could not run) over 1 (findings) over 0 (ok)."""
    return max(codes, default=0)


def refused(notebook: str, profile: str, message: str) -> dict[str, Any]:
    """The summary of a run that could not start."""
    return {"notebook": notebook, "profile": profile, "status": NOT_RUN,
            "exit_code": EXIT_CANNOT_RUN, "run_dir": None, "report": None,
            "findings": dict.fromkeys(SEVERITIES, 0), "error": message}


def run_tenant(profile: str, notebooks: Sequence[Path], *, out_dir: Path, fail_on: str,
               known: Mapping[str, Profile], single_file: bool = False) -> TenantOutcome:
    """One profile's runs in a process of their own, with only its own secrets in reach;
    what they wrote is then checked for every profile's (``known``)."""
    command = [sys.executable, "-m", "opskit.cli", "run", *map(str, notebooks),
               "--profile", profile, "--out", str(out_dir), "--fail-on", fail_on, "--json",
               *(["--single-file"] if single_file else [])]
    env = isolation.environment_for(isolation.profiles_used(profile, known), known)
    proc = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    log = redact(proc.stderr)
    try:
        runs = json.loads(proc.stdout)
        if not isinstance(runs, list):
            raise ValueError("not a list")
    except ValueError:
        last = log.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        return TenantOutcome(profile, EXIT_CANNOT_RUN, [], log, last[0])
    for run in runs:
        if isinstance(run, dict) and run.get("error"):
            run["error"] = redact(str(run["error"]))
        if isinstance(run, dict) and run.get("run_dir"):
            for leaked in isolation.scrub_files(Path(run["run_dir"])):
                log += f"a secret was masked in {leaked} after the run\n"
                run["manifest_sha256"] = evidence.refresh_manifest(Path(run["run_dir"]))
                index.update_index(out_dir, Path(run["run_dir"]))  # the digest it records
    # An interpreter that died says 1 or a signal; only a clean 0/1/2 is a verdict.
    code = proc.returncode if proc.returncode in (0, 1, 2) else EXIT_CANNOT_RUN
    return TenantOutcome(profile, code, runs, log)


def run_tenants(profiles: Sequence[str], notebooks: Sequence[Path], *, out_dir: Path,
                fail_on: str, jobs: int,
                on_done: Callable[[TenantOutcome], None] | None = None,
                single_file: bool = False) -> list[TenantOutcome]:
    """Every profile's runs, at most ``jobs`` processes at once; results in ``profiles`` order."""
    known = load_profiles()
    isolation.learn_secrets(known.values())  # what every run's files are checked for
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(run_tenant, profile, notebooks, out_dir=out_dir, fail_on=fail_on,
                               known=known, single_file=single_file) for profile in profiles]
        if on_done is not None:
            for future in as_completed(futures):
                on_done(future.result())
        return [future.result() for future in futures]


def describe(run: dict[str, Any]) -> str:
    """One line about one run, for a terminal."""
    counts = run.get("findings") or {}
    found = ", ".join(f"{counts[s]} {s}" for s in SEVERITIES if counts.get(s))
    line = f"{run['notebook']} · {run['profile']}: {run['status']}"
    if run.get("error"):
        line += f": {run['error']}"
    elif found:
        line += f" ({found})"
    return f"{line} — exit {run['exit_code']}"


def summary_table(outcomes: Sequence[TenantOutcome]) -> str:
    """A plain-text table: one row per profile and notebook, worst exit code last."""
    header = ["profile", "notebook", "status", *SEVERITIES, "exit", "report or reason"]
    rows: list[list[str]] = []
    for outcome in outcomes:
        if not outcome.runs:
            rows.append([outcome.profile, "-", "failed", *("-" * len(SEVERITIES)),
                         str(outcome.exit_code), outcome.problem or ""])
        for run in outcome.runs:
            counts = run.get("findings") or {}
            detail = " — ".join(str(x) for x in (run.get("error"), run.get("report")) if x)
            rows.append([outcome.profile, run["notebook"], run["status"],
                         *(("-" if run["status"] == NOT_RUN else str(counts.get(s, 0)))
                           for s in SEVERITIES),
                         str(run["exit_code"]), detail])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    numeric = set(range(3, len(header) - 1))

    def line(cells: list[str]) -> str:
        parts = [c.rjust(w) if i in numeric else c.ljust(w)
                 for i, (c, w) in enumerate(zip(cells, widths, strict=False))]
        return "  ".join([*parts, cells[-1]]).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])
