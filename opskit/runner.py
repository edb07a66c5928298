"""Run a notebook headless and turn it into a report you can trust.

`run_notebook` checks the parameters against the notebook's parameters cell (no unknown names,
nothing that looks like a secret) before any kernel starts, executes the notebook with papermill
in a kernel whose OPSKIT_RUN_DIR is the run's folder, and writes into
``<out>/<notebook>/<profile>/<UTC timestamp>/``:

- ``<notebook>.ipynb``: the executed notebook, parameters and outputs scrubbed of secrets;
- ``report.html``: the outputs without code, offline, failures shown where they happened;
  plotly.js embedded (``single_file``) or linked from the one copy in ``<out>/_static/``;
- ``results.json`` (schema in docs/reports.md) and ``findings.csv``;
- ``manifest.json``, last: the SHA-256 of every file above and of the shared files report.html
  links, versions, parameters (docs/evidence.md).

The folder is built hidden and renamed into place last; then ``<out>/index.json`` and
``index.html`` are updated. Status and exit code: ``ok`` 0, ``findings`` 1 (a finding at or
above ``fail_on``), ``failed`` 2 (a cell raised, or the kernel died). For `token_check` and
`tenant_onboarding`, a refused token or an unreachable tenant is a finding the notebook
records itself; the runner only reads what it recorded.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from ._localfile import safe_component
from ._run import (
    assets,
    drift,
    engine,
    evidence,
    files,
    html,
    index,
    isolation,
    outputs,
    params,
)
from ._run.secrets import scrub_markup, scrub_tree
from .config import config_path, get_profile, insecure_note, load_profiles
from .errors import RunError
from .findings import SEVERITIES, by_severity
from .report.record import FINDINGS_CSV, RECORD_FILE, RUN_DIR_ENV
from .report.results import (
    EXIT_CODES,
    RecordError,
    Status,
    findings_csv,
    judge,
    ordered,
    read_record,
)

REPORT_FILE, RESULTS_FILE, FINDINGS_FILE = "report.html", "results.json", FINDINGS_CSV
DEFAULT_OUT = Path("out")


@dataclass(frozen=True)
class RunResult:
    """How one run went, and where its files are."""

    notebook: str
    profile: str
    status: Status
    exit_code: int
    run_dir: Path
    results: dict[str, Any]
    notes: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase, for benchmarks

    @property
    def report(self) -> Path:
        return self.run_dir / REPORT_FILE

    @property
    def error(self) -> str | None:
        err = self.results.get("error")
        if not err:
            return None
        where = f"cell [{err['cell']}]" if err.get("cell") else "the kernel"
        return f"{where}: {err['ename']}: {err['evalue']}" if err.get("evalue") else \
            f"{where}: {err['ename']}"

    def summary(self) -> dict[str, Any]:
        """One line of `opskit run --json`."""
        return {"notebook": self.notebook, "profile": self.profile, "status": self.status,
                "exit_code": self.exit_code, "run_dir": str(self.run_dir),
                "report": str(self.report),
                "findings": by_severity(self.results["findings"]), "error": self.error,
                "manifest_sha256": evidence.manifest_digest(self.run_dir)}


def package_notebooks() -> Path:
    """The notebooks shipped in the package (``opskit/notebooks``), wherever it is installed."""
    folder = resources.files("opskit") / "notebooks"
    if not isinstance(folder, Path):  # e.g. imported from a zip: papermill needs real files
        raise RunError(f"opskit's notebooks are not files on disk ({folder})",
                       "install opskit with pip into a virtual environment (not as a zip)")
    return folder


def notebook_folders() -> list[Path]:
    """Where notebooks are found by name: opskit's own (in the package), then ./notebooks."""
    folders = [package_notebooks(), Path.cwd() / "notebooks"]
    return [f for i, f in enumerate(folders) if f.is_dir() and f.resolve() not in
            [g.resolve() for g in folders[:i]]]


def project_notebooks() -> list[Path]:
    """Every notebook opskit ships (what `opskit report` runs by default): each ``*.ipynb`` in
    the first folder of :func:`notebook_folders` that holds any."""
    for folder in notebook_folders():
        found = sorted(folder.glob("*.ipynb"))
        if found:
            return found
    return []


def resolve_notebook(notebook: str | Path) -> Path:
    """A notebook given by name (``token_check``) or by path; a path must hold a notebook."""
    path = Path(notebook)
    if path.suffix == ".ipynb" or len(path.parts) > 1 or (path.suffix and path.is_file()):
        if path.is_file():
            _require_notebook(path)
            return path.resolve()
        raise RunError(f"no notebook at {path}", "check the path, or give a notebook's name")
    for folder in notebook_folders():
        candidate = folder / f"{path.name}.ipynb"
        if candidate.is_file():
            return candidate.resolve()
    known = ", ".join(p.stem for p in project_notebooks()) or "none found"
    raise RunError(f"no notebook named {str(notebook)!r}",
                   f"known notebooks: {known}; or give the path of an .ipynb file")


def _require_notebook(path: Path) -> None:
    """Refuse a file that is not a Jupyter notebook before papermill meets it."""
    import nbformat  # after opskit._run: see there
    from nbformat.reader import NotJSONError

    try:
        nbformat.read(path, as_version=4)
        return
    except (NotJSONError, UnicodeDecodeError):
        reason = "it is not JSON"
    except OSError as exc:
        reason = f"it cannot be read ({exc.strerror or exc})"
    except Exception:  # nbformat fails in many ways on JSON that is not a notebook
        reason = "it is JSON, but not in the notebook format"
    raise RunError(f"{path} is not a Jupyter notebook: {reason}",
                   "give the path of an .ipynb file saved by Jupyter, or a notebook's name")


def _now() -> datetime:
    return datetime.now(UTC)


def _kernel_environment(run_dir: Path) -> dict[str, str]:
    """What the kernel needs beyond this process's environment. The kernel starts in the
    notebook's folder, so the profile file this process found (in its working directory, or
    through a relative OPSKIT_CONFIG) is handed over by absolute path."""
    env = {RUN_DIR_ENV: str(run_dir.resolve())}  # the kernel runs elsewhere
    found = config_path()
    if found is not None:
        env["OPSKIT_CONFIG"] = str(found.resolve())
    return env


def run_notebook(notebook: str | Path, *, profile: str = "sandbox",
                 parameters: Mapping[str, Any] | None = None, out_dir: str | Path = DEFAULT_OUT,
                 fail_on: str = "high", update_index: bool = True,
                 single_file: bool = True, timeout: float | None = None) -> RunResult:
    """Run one notebook against one profile; see the module docstring. ``single_file``:
    report.html embeds the scripts it needs; otherwise it links the copy every run under
    ``out_dir`` shares (the command line's default). ``timeout``: seconds for the whole
    execution (kernel start and every cell); at expiry the kernel is stopped and the run is
    ``failed`` with the error ``RunTimeout``.

    Raises an OpskitError (exit 2, nothing written) when the run cannot start: unknown notebook,
    profile or parameter, a secret-looking parameter, a bad ``fail_on``. A failing cell does
    not raise: it is a run with status ``failed``.
    """
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[phase] = timings.get(phase, 0.0) + now - clock
        clock = now

    if fail_on not in SEVERITIES:
        raise RunError(f"--fail-on {fail_on!r} is not a severity",
                       f"use one of {', '.join(SEVERITIES)}")
    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        raise RunError(f"--timeout {timeout!r} is not a number of seconds above 0",
                       "give the seconds a whole run may take, e.g. --timeout 600")
    path = resolve_notebook(notebook)
    name = path.stem
    profiles = load_profiles()
    prof = get_profile(profile, profiles=profiles)
    # Every profile's secrets, not only this run's: whatever the notebook prints is masked,
    # even a secret of another tenant it reached by itself.
    isolation.learn_secrets(profiles.values())
    declared = params.declared_parameters(path)
    params.require_profile_parameter(declared, name)
    passed = {**params.check_parameters(dict(parameters or {}), declared, name),
              params.PROFILE: prof.name}
    used = isolation.profiles_used(prof.name, profiles, [str(passed.get("reference") or "")])
    lap("parameters")

    out = Path(out_dir)
    started = _now()
    folder = files.RunFolder(out / safe_component(name) / safe_component(prof.name),
                             files.run_stamp(started))
    try:
        lap("folder")
        # papermill's own copy keeps parameters and outputs in clear: a hidden name, then gone.
        raw_output = folder.path / f".{name}.unredacted.ipynb"
        run = engine.execute(path, parameters=passed, output_path=raw_output,
                             env=_kernel_environment(folder.path),
                             hidden=isolation.foreign_variables(used, profiles),
                             timeout=timeout, scope=used)
        raw_output.unlink(missing_ok=True)
        finished = _now()
        lap("execute")
        results, notes = _write_outputs(run, folder.path, name=name, input_path=str(path),
                                        profile=prof.name, parameters=passed, fail_on=fail_on,
                                        started=started, finished=finished, lap=lap,
                                        profile_note=insecure_note(prof), expected=prof.expect,
                                        index_html=out / index.INDEX_HTML if update_index
                                        else None, shared_in=None if single_file else out)
        evidence.write_manifest(folder.path, results)  # last: it covers every file there
        run_dir = folder.commit()
        lap("commit")
    except BaseException:
        folder.discard(stop_at=out)
        raise
    if update_index:
        # In a fleet run, `opskit report` draws index.html once at its end.
        index.update_index(out, run_dir, redraw=not os.environ.get("OPSKIT_FLEET_RUN"))
        lap("index")
    status = results["status"]
    return RunResult(name, prof.name, status, EXIT_CODES[status], run_dir, results,
                     tuple(notes), timings)


def _write_outputs(run: engine.Execution, run_dir: Path, *, name: str, input_path: str,
                   profile: str, parameters: dict[str, Any], fail_on: str,
                   started: datetime, finished: datetime, lap: Callable[[str], None],
                   profile_note: str | None = None, expected: str | None = None,
                   index_html: Path | None = None,
                   shared_in: Path | None = None) -> tuple[dict[str, Any], list[str]]:
    """Everything beside the executed cells: record, notebook, HTML, results, CSV."""
    notes = [profile_note] if profile_note else []
    error = run.error
    try:
        recorded = read_record(run_dir)
    except RecordError as exc:
        recorded = None
        error = error or engine.CellError(None, "RecordError", str(exc))
    (run_dir / RECORD_FILE).unlink(missing_ok=True)  # a hand-off: results.json supersedes it
    if recorded is None and error is None:
        notes.append("The notebook did not call record(): no findings were reported.")
    findings, metrics = recorded or ([], {})
    status = judge(findings, fail_on, failed=error is not None)
    results = scrub_tree({
        "notebook": name, "profile": profile, "started_at": files.iso_time(started),
        "finished_at": files.iso_time(finished), "status": status, "fail_on": fail_on,
        "expected": expected,
        "fleet_run": os.environ.get("OPSKIT_FLEET_RUN") or None,  # the `opskit report` run
        "parameters": parameters, "findings": [f.as_dict() for f in ordered(findings)],
        "metrics": metrics,
        "error": None if error is None else {"cell": error.execution_count,
                                             "ename": error.ename, "evalue": error.evalue},
    })
    # Against the previous run of this notebook and profile: the folder this one goes into.
    results |= drift.compare(results["findings"],
                             drift.previous_run(run_dir.parent, files.run_stamp(started)),
                             started_at=results["started_at"],
                             complete=results["status"] != "failed")
    lap("record")

    outputs.redact_notebook(run.notebook, parameters=parameters, input_path=input_path,
                            output_name=f"{name}.ipynb")
    import nbformat  # after opskit._run: see there

    files.atomic_write_text(run_dir / f"{name}.ipynb", nbformat.writes(run.notebook))
    lap("notebook")
    # The run folder is renamed into place later, at the same depth: the links hold.
    links = html.RunLinks(
        notebook=f"{name}.ipynb", results=RESULTS_FILE, findings=FINDINGS_FILE,
        index=None if index_html is None else assets.relative_url(index_html, run_dir))
    history = [] if index_html is None else index.pair_history(index_html.parent, results)
    report = html.render_report(run.notebook, results, notes, links,
                                None if shared_in is None else assets.Shared(shared_in, run_dir),
                                history)
    files.atomic_write_text(run_dir / REPORT_FILE, scrub_markup(report))
    lap("html")
    files.atomic_write_text(run_dir / RESULTS_FILE, json.dumps(results, indent=2) + "\n")
    files.atomic_write_text(run_dir / FINDINGS_FILE, findings_csv(results["findings"]))
    lap("results")
    return results, notes
