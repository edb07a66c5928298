"""Many tenants at once: each profile runs in its own process (`python -m opskit.cli run …
--json`), a bounded number at a time, and one tenant failing never stops the others.

A process per tenant, not a thread: a kernel or a tenant that misbehaves (hangs, crashes, leaks
memory) takes only its own process down, and each process's environment is its own: it holds
no other tenant's secrets (see isolation), and each run's files are checked for every tenant's
secrets when its process ends.

A fleet run has an id (``fleet_run``), handed to every tenant process as OPSKIT_FLEET_RUN and
recorded in each run's results.json; its plan is kept in ``<out>/_fleet/<id>.json``, so that a
resume finds what failed or is missing. Within a fleet run, a tenant's notebooks that could not
run for a transient reason (its process crashed or timed out, the kernel died before the first
cell) are run again, the others are not: a refused token or a failing cell fails the same way
twice.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._localfile import safe_component
from .._redact import redact
from ..config import Profile, load_profiles
from ..findings import DEFAULT_FAIL_ON, SEVERITIES, at_or_above
from ..report.results import EXIT_CODES
from . import evidence, files, index, isolation

EXIT_CANNOT_RUN = 2
NOT_RUN = "not run"  # status of a run refused before it started (no folder, no results.json)
FLEET_RUN_ENV = "OPSKIT_FLEET_RUN"
FLEET_FOLDER = "_fleet"  # <out>/_fleet/<fleet_run>.json: each fleet run's plan and summary
TOKEN_CHECK = "token_check"  # the notebook that gates a tenant's others
RUN_TIMEOUT = "RunTimeout"  # the ename of a run stopped by `opskit run --timeout`
# What nbclient says when a kernel dies or stays silent before its first reply (a death in a
# cell is a DeadKernelError instead), and the engine once its own start attempts are spent.
KERNEL_DID_NOT_START = ("Kernel died before replying to kernel_info", "Kernel didn't respond")
KERNEL_START_ENAME = "KernelStartError"


@dataclass(frozen=True)
class TenantOutcome:
    """What one profile's process did: one summary per notebook, and its log (stderr)."""

    profile: str
    exit_code: int
    runs: list[dict[str, Any]]
    log: str
    problem: str | None = None  # the process itself failed and said nothing we could read
    attempts: int = 1


def worst(codes: Sequence[int]) -> int:
    """2 (could not run) over 1 (findings) over 0 (ok)."""
    return max(codes, default=0)


def refused(notebook: str, profile: str, message: str) -> dict[str, Any]:
    """The summary of a run that could not start."""
    return {"notebook": notebook, "profile": profile, "status": NOT_RUN,
            "exit_code": EXIT_CANNOT_RUN, "run_dir": None, "report": None,
            "findings": dict.fromkeys(SEVERITIES, 0), "error": message}


def skipped(notebook: str, profile: str, reason: str) -> dict[str, Any]:
    """The summary of a run left out because the tenant's token check did not pass."""
    return {**refused(notebook, profile, reason), "skipped": True}


# --- the fleet run's id and plan ------------------------------------------------------------

def new_fleet_run(moment: datetime | None = None) -> str:
    """A fleet run's id: its UTC start and a short random part (two starting in one second)."""
    return f"{files.run_stamp(moment or datetime.now(UTC))}-{secrets.token_hex(2)}"


def plan_path(out_dir: Path, fleet_run: str) -> Path:
    return out_dir / FLEET_FOLDER / f"{safe_component(fleet_run)}.json"


def write_plan(out_dir: Path, plan: Mapping[str, Any]) -> Path:
    path = plan_path(out_dir, str(plan["fleet_run"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    files.atomic_write_text(path, json.dumps(plan, indent=2) + "\n")
    return path


def read_plan(out_dir: Path, fleet_run: str | None) -> dict[str, Any]:
    """The plan of ``fleet_run`` (None: the latest) in ``out_dir``; a ValueError says why not."""
    folder = out_dir / FLEET_FOLDER
    if fleet_run is None:
        known = sorted(folder.glob("*.json")) if folder.is_dir() else []
        if not known:
            raise ValueError(f"no fleet run to resume in {out_dir}: `opskit report` records "
                             f"each one in {folder}; run it first (same --out)")
        path = known[-1]  # ids begin with their UTC start
    else:
        path = plan_path(out_dir, fleet_run)
        if not path.is_file():
            names = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
            raise ValueError(f"no fleet run {fleet_run!r} in {out_dir}: fleet runs there: "
                             f"{', '.join(names[-5:]) or 'none'}; give one of them (or none: "
                             "the latest)")
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(plan, dict) or not {"fleet_run", "profiles", "notebooks"} <= set(plan):
            raise ValueError("not a fleet run's plan")
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} cannot be read as a fleet run's plan ({exc}); give "
                         "another fleet run") from None
    return plan


# --- reading what a fleet run left on disk --------------------------------------------------

def recorded_runs(out_dir: Path, fleet_run: str, profile: str, notebooks: Iterable[Path],
                  since: str = "") -> dict[str, dict[str, Any]]:
    """The newest complete run of each notebook for ``profile`` in ``fleet_run`` (started at
    ``since`` or later, an ISO time), as a run summary with its results (``results``), by
    notebook name. Hidden (partial) folders are not runs: only a folder renamed into place
    holds a complete run."""
    found: dict[str, dict[str, Any]] = {}
    for notebook in notebooks:
        folder = out_dir / safe_component(notebook.stem) / safe_component(profile)
        newest: tuple[str, Path, dict[str, Any]] | None = None
        for results_path in folder.glob("[!.]*/results.json"):
            try:
                results = json.loads(results_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(results, dict) or results.get("fleet_run") != fleet_run \
                    or str(results.get("started_at", "")) < since:
                continue
            key = str(results.get("started_at", "")), results_path.parent
            if newest is None or key > newest[:2]:
                newest = (*key, results)
        if newest is not None:
            found[notebook.stem] = summary_of(newest[1], newest[2], profile)
    return found


def summary_of(run_dir: Path, results: Mapping[str, Any], profile: str) -> dict[str, Any]:
    """A run's summary (as `opskit run --json` prints it) from its folder's results.json."""
    from ..findings import by_severity

    status = str(results.get("status", "failed"))
    err = results.get("error") or None
    error = None
    if isinstance(err, dict):
        where = f"cell [{err['cell']}]" if err.get("cell") else "the kernel"
        error = f"{where}: {err.get('ename')}" + (f": {err['evalue']}" if err.get("evalue")
                                                  else "")
    return {"notebook": str(results.get("notebook") or run_dir.parent.parent.name),
            "profile": profile, "status": status, "exit_code": EXIT_CODES.get(status, 2),
            "run_dir": str(run_dir), "report": str(run_dir / "report.html"),
            "findings": by_severity(list(results.get("findings") or [])), "error": error,
            "results": dict(results)}


def token_check_failure(results: Mapping[str, Any]) -> str | None:
    """Why a token check's run did not pass (None: it passed), in the words the others' "not
    run" gives. Its own threshold (high), not the fleet's --fail-on: a tenant whose token is
    refused cannot be audited, whatever severity the fleet fails on."""
    err = results.get("error")
    if results.get("status") == "failed" or err:
        ename = err.get("ename") if isinstance(err, dict) else None
        return f"token check could not run: {ename or 'failed'}"
    for found in results.get("findings") or []:
        if isinstance(found, dict) and at_or_above(str(found.get("severity")), DEFAULT_FAIL_ON):
            return f"token check failed: {found.get('code')}"
    return None


def token_check_first(notebooks: Sequence[str | Path]) -> list[str | Path]:
    """The token check (when it is among them) before every other notebook."""
    return sorted(notebooks, key=lambda n: Path(n).stem != TOKEN_CHECK)


def transient(run: Mapping[str, Any]) -> bool:
    """Whether a run could not run for a reason that may not recur: its process crashed or
    timed out, its kernel did not start (died before it replied), or the run timed out. A
    refused run, a failing cell, a kernel that died in a cell (it would again: a notebook that
    exhausts memory, say) are not."""
    if run.get("transient"):
        return True
    if run.get("status") != "failed" or not run.get("run_dir"):
        return False
    results = run.get("results") or read_results(Path(run["run_dir"]))
    err = results.get("error")
    if not isinstance(err, dict) or err.get("cell"):
        return False
    return err.get("ename") in (RUN_TIMEOUT, KERNEL_START_ENAME) or (
        err.get("ename") == "RuntimeError"
        and str(err.get("evalue", "")).startswith(KERNEL_DID_NOT_START))


def read_results(run_dir: Path) -> dict[str, Any]:
    """A run folder's results.json; {} when it cannot be read."""
    try:
        results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return results if isinstance(results, dict) else {}


# --- one tenant's process -------------------------------------------------------------------

def run_tenant(profile: str, notebooks: Sequence[Path], *, out_dir: Path, fail_on: str,
               known: Mapping[str, Profile], single_file: bool = False,
               fleet_run: str | None = None, timeout: float | None = None) -> TenantOutcome:
    """One profile's runs in a process of their own, with only its own secrets in reach;
    what they wrote is then checked for every profile's (``known``). ``timeout``: seconds
    the process may take, then it and its kernels are killed."""
    command = [sys.executable, "-m", "opskit.cli", "run", *map(str, notebooks),
               "--profile", profile, "--out", str(out_dir), "--fail-on", fail_on, "--json",
               *(["--single-file"] if single_file else []),
               # Each run stops its own kernel at the tenant's bound, recording RunTimeout;
               # the process-level kill below is the backstop.
               *(["--timeout", f"{timeout:g}"] if timeout else [])]
    env = isolation.environment_for(isolation.profiles_used(profile, known), known)
    if fleet_run is not None:
        env[FLEET_RUN_ENV] = fleet_run
    # A session of its own: at a timeout its whole process group is killed, nothing else.
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    timed_out = False
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_tree(proc.pid)
        stdout, stderr = proc.communicate()
        _discard_partial(out_dir, profile, notebooks, proc.pid)
    log = redact(stderr)
    try:
        if timed_out:
            raise ValueError("timed out")
        runs = json.loads(stdout)
        if not isinstance(runs, list):
            raise ValueError("not a list")
    except ValueError:
        problem = f"timed out after {timeout:g} s" if timed_out else \
            (log.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"])[0]
        return TenantOutcome(profile, EXIT_CANNOT_RUN, [], log, problem)
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


def _kill_tree(pid: int) -> None:
    """Kill a process group and every process below its leader: Jupyter starts each kernel in
    a session of its own, which the group's kill does not reach."""
    below = _descendants(pid)  # before the leader dies and its children are handed on
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    for child in below:
        with suppress(ProcessLookupError, PermissionError):
            os.kill(child, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from /proc (Linux); elsewhere none are found."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid …": comm may hold spaces and parentheses.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _discard_partial(out_dir: Path, profile: str, notebooks: Iterable[Path], pid: int) -> None:
    """Remove the hidden folders a killed process was building (``.<stamp>.<pid>.….partial``):
    nothing of a run cut short stays behind, and nothing of it ever looked complete."""
    import shutil

    for notebook in notebooks:
        folder = out_dir / safe_component(notebook.stem) / safe_component(profile)
        for partial in folder.glob(f".*.{pid}.*{files.PARTIAL_SUFFIX}"):
            shutil.rmtree(partial, ignore_errors=True)


def run_tenant_until_done(profile: str, notebooks: Sequence[Path], *, out_dir: Path,
                          fail_on: str, known: Mapping[str, Profile], fleet_run: str,
                          retries: int = 1, timeout: float | None = None,
                          single_file: bool = False) -> TenantOutcome:
    """:func:`run_tenant`, then again for the notebooks that could not run for a transient
    reason (at most ``retries`` times more); the others keep their first outcome."""
    by_name: dict[str, dict[str, Any]] = {}
    todo = [Path(n) for n in token_check_first(notebooks)]
    log, problem, attempt = "", None, 0
    while True:
        attempt += 1
        started = files.iso_time()
        outcome = run_tenant(profile, todo, out_dir=out_dir, fail_on=fail_on, known=known,
                             single_file=single_file, fleet_run=fleet_run, timeout=timeout)
        log += outcome.log
        problem = outcome.problem
        if problem is None:
            runs = {str(r.get("notebook")): r for r in outcome.runs if isinstance(r, dict)}
        else:  # what the process finished before it died is on disk, complete
            runs = recorded_runs(out_dir, fleet_run, profile, todo, since=started)
            reason = problem if problem.startswith("timed out") else \
                f"its process failed: {problem}"
            for notebook in todo:
                if notebook.stem not in runs or transient(runs[notebook.stem]):
                    runs[notebook.stem] = {**refused(notebook.stem, profile, reason),
                                           "transient": True}
        by_name.update(runs)
        again = _to_retry(todo, runs)
        if not again or attempt > retries:
            break
        log += (f"retrying {', '.join(n.stem for n in again)} (attempt {attempt + 1} of "
                f"{retries + 1}): " + "; ".join(
                    f"{n.stem}: {runs[n.stem].get('error') or 'failed'}" for n in again) + "\n")
        todo = again
    ordered = [by_name[n.stem] for n in notebooks if n.stem in by_name]
    code = worst([int(r.get("exit_code", EXIT_CANNOT_RUN)) for r in ordered]) if ordered \
        else EXIT_CANNOT_RUN
    return TenantOutcome(profile, code, ordered, log, problem, attempt)


def _to_retry(todo: Sequence[Path], runs: Mapping[str, dict[str, Any]]) -> list[Path]:
    """The notebooks of ``todo`` to run again: each that failed for a transient reason, and
    those skipped because the token check did (they run again behind it)."""
    gate = runs.get(TOKEN_CHECK)
    gate_again = gate is not None and transient(gate)
    return [n for n in todo if n.stem in runs and (
        transient(runs[n.stem]) or (gate_again and runs[n.stem].get("skipped")))]


def run_tenants(profiles: Sequence[str], notebooks: Sequence[Path] | Mapping[str, Sequence[Path]],
                *, out_dir: Path, fail_on: str, jobs: int,
                on_done: Callable[[TenantOutcome], None] | None = None,
                single_file: bool = False, fleet_run: str | None = None, retries: int = 0,
                timeout: float | None = None) -> list[TenantOutcome]:
    """Every profile's runs, at most ``jobs`` processes at once; results in ``profiles`` order.
    ``notebooks``: the same for every profile, or each profile's own (a resume)."""
    known = load_profiles()
    isolation.learn_secrets(known.values())  # what every run's files are checked for
    fleet = fleet_run or new_fleet_run()

    def tenant(profile: str) -> TenantOutcome:
        own = notebooks[profile] if isinstance(notebooks, Mapping) else notebooks
        return run_tenant_until_done(profile, own, out_dir=out_dir, fail_on=fail_on,
                                     known=known, fleet_run=fleet, retries=retries,
                                     timeout=timeout, single_file=single_file)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(tenant, profile) for profile in profiles]
        if on_done is not None:
            for future in as_completed(futures):
                on_done(future.result())
        return [future.result() for future in futures]


def resume_todo(out_dir: Path, plan: Mapping[str, Any]) -> tuple[dict[str, list[Path]],
                                                                  list[dict[str, Any]]]:
    """What a resume of ``plan`` runs (per profile, the notebooks whose newest run in the fleet
    run failed or is missing; the token check again, in front, when it did not pass) and the
    runs already done, which it keeps."""
    notebooks = [Path(n) for n in plan["notebooks"]]
    todo: dict[str, list[Path]] = {}
    done: list[dict[str, Any]] = []
    for profile in plan["profiles"]:
        runs = recorded_runs(out_dir, str(plan["fleet_run"]), profile, notebooks)

        def finished(notebook: Path, runs: dict[str, dict[str, Any]] = runs) -> bool:
            run = runs.get(notebook.stem)
            if run is None or run["status"] == "failed":
                return False
            return notebook.stem != TOKEN_CHECK or token_check_failure(run["results"]) is None

        missing = [n for n in notebooks if not finished(n)]
        if missing:
            todo[profile] = missing
        done += [runs[n.stem] for n in notebooks if finished(n)]
    return todo, done


# --- what a terminal shows ------------------------------------------------------------------

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


@dataclass
class FleetSummary:
    """The end of `opskit report`: findings apart from what could not run, and counts (of
    runs: a tenant whose process failed counts each of its notebooks)."""

    clean: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    could_not_run: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, outcomes: Sequence[TenantOutcome]) -> FleetSummary:
        summary = cls()
        for outcome in outcomes:
            if not outcome.runs:
                summary.could_not_run.append(f"{outcome.profile} (its process failed)")
            for run in outcome.runs:
                name = f"{outcome.profile}/{run['notebook']}"
                if run.get("skipped"):
                    summary.skipped.append(name)
                elif run.get("transient"):  # no run of it: its process failed or timed out
                    summary.could_not_run.append(f"{outcome.profile} (its process failed)")
                elif run["exit_code"] == EXIT_CANNOT_RUN:
                    summary.could_not_run.append(name)
                elif run["exit_code"] == 1:
                    summary.findings.append(name)
                else:
                    summary.clean.append(name)
        return summary

    def counts(self) -> dict[str, int]:
        return {"clean": len(self.clean), "findings": len(self.findings),
                "could_not_run": len(self.could_not_run), "skipped": len(self.skipped)}

    def lines(self, fail_on: str) -> list[str]:
        """Two sections, findings then what could not run, and the counts."""
        lines = []
        if self.findings:
            lines.append(f"findings at or above {fail_on} (exit 1): {', '.join(self.findings)}")
        if self.could_not_run or self.skipped:
            names = [*dict.fromkeys(self.could_not_run),
                     *(f"{n} (skipped after a failed token check)" for n in self.skipped)]
            lines.append(f"could not run (exit 2): {', '.join(names)}")
        lines.append(f"{len(self.clean)} ran clean, {len(self.findings)} with findings, "
                     f"{len(self.could_not_run)} could not run, {len(self.skipped)} skipped "
                     "after a failed token check")
        return lines
