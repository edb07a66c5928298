"""`opskit …` on the command line: parses, calls the package, sets exit codes.

Exit codes: 0 ran and nothing at or above the failure threshold; 1 findings at or above it;
2 could not run (bad input, unreachable tenant, auth failure, or a crash: one line names the
crash log; ``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import argparse
import errno
import logging
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

if TYPE_CHECKING:  # the sandbox is imported only by the commands that use it
    from .sandbox.entry import RunningSandbox

EXIT_OK, EXIT_FINDINGS, EXIT_CANNOT_RUN = 0, 1, 2
MAX_SCALE = 1000  # ≈ 200,000 users, a million secrets: the largest Secret Server customers
MAX_LATENCY_MS = 60_000.0
MAX_SEED = 2**32 - 1
# A write that failed for want of room is the machine's state, not a bug: one line, no log.
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line like every other opskit error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_CANNOT_RUN, f"opskit: {message} (see {self.prog} --help)\n")


_HELP_DEBUG = "on a crash, show the traceback instead of writing a crash log (or OPSKIT_DEBUG=1)"


class _Command(_Parser):
    """A command's parser: it takes --debug too (`opskit run x --debug`); SUPPRESS leaves the
    value `opskit --debug run x` set alone."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                          help=_HELP_DEBUG)


def _say(line: str) -> None:
    print(f"opskit: {line}", file=sys.stderr)


def _warn(line: str) -> None:
    _say(f"warning: {line}")


def one_line(exc: BaseException) -> str:
    """An opskit error as the single line a terminal or a scheduler's log shows, secrets masked:
    "what is wrong → what to do"."""
    from ._redact import redact

    return redact(str(exc)).replace("\n  → ", " → ")


def _whole(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            allowed = f"{low} to {high}" if high is not None else f"{low} or more"
            raise argparse.ArgumentTypeError(f"{value} is out of range: give {allowed}")
        return value
    return parse


def _latency(text: str) -> float:
    """--latency-ms: finite, not negative, at most a minute (a longer one looks like a hang)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number") from None
    if not math.isfinite(value) or not 0 <= value <= MAX_LATENCY_MS:
        raise argparse.ArgumentTypeError(f"{text[:40]} is out of range: give 0 to "
                                         f"{MAX_LATENCY_MS:,.0f} milliseconds")
    return value


def _out_folder(out: Path) -> Path:
    """``--out`` checked before any work: a folder, there or creatable, that can be written.

    Missing folders are created later by the command, as always; only the nearest one that
    exists is tried here, with a file that vanishes when closed.
    """
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder; give a folder (one that does "
                         "not exist yet is created)")
    there = out
    while not there.exists():
        there = there.parent
    if not there.is_dir():
        raise UsageError(f"--out {out}: {there} is a file, so no folder can be made below it; "
                         "give another folder")
    try:
        with tempfile.TemporaryFile(dir=there):
            pass
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot write in {there} ({exc.strerror or exc}); give "
                         "a folder you can write to") from None
    return out


def _sandbox_serve(args: argparse.Namespace) -> int:
    from .config import is_loopback
    from .sandbox.entry import REHEARSALS, FaultSpec, serve_forever, tenant_file

    try:
        faults = FaultSpec.parse(args.faults)
    except ValueError as exc:
        raise UsageError(f"--faults: {exc}") from None
    if not is_loopback(args.host):
        _warn(f"--host {args.host or '(every address)'} lets other machines reach the practice "
              "tenant, and its credentials are the well-known practice ones: anyone on the "
              "network can use them; serve on 127.0.0.1 unless others must reach it")
    data = tenant_file(args.data, args.rehearsal)
    if args.rehearsal:
        chosen = REHEARSALS[args.rehearsal]
        print(f"rehearsal {args.rehearsal}: {chosen.what} (the onboarding runbook on the "
              f"{chosen.flavor} connector should report {chosen.code})", flush=True)

    def ready(sb: RunningSandbox) -> None:
        print(f"practice tenant {data.tenant!r} at {sb.url}", flush=True)
        print(f"  cloud    SCIM  {sb.cloud_url}", flush=True)
        print(f"  cloud    token {sb.token_url}", flush=True)
        print(f"  on-prem  SCIM  {sb.onprem_url}", flush=True)
        if faults.active or faults.token_expiry or args.latency_ms:
            print(f"  faults: {faults or 'none'}; latency {args.latency_ms} ms", flush=True)
        print("stop with Ctrl-C or SIGTERM", flush=True)

    with _in_foreground(args.host, args.port):
        serve_forever(data, host=args.host, port=args.port, faults=faults,
                      latency_ms=args.latency_ms, on_ready=ready)
    return EXIT_OK


@contextmanager
def _in_foreground(host: str, port: int) -> Iterator[None]:
    """A server run until stopped: a port it cannot have is a usage error, Ctrl-C a stop."""
    try:
        yield
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
                         "choose another --port") from None
    except KeyboardInterrupt:
        pass


def _rehearsal_names() -> list[str]:
    from .sandbox.entry import REHEARSALS

    return list(REHEARSALS)


def _sandbox_demo_data(args: argparse.Namespace) -> int:
    from .sandbox.entry import write_demo

    paths = write_demo(_out_folder(args.out), scale=args.scale, seed=args.seed,
                       on_new_platform=args.new_platform_tenant)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return EXIT_OK


def _sandbox_tour(args: argparse.Namespace) -> int:
    from .sandbox.entry import tour

    return tour(args.data)


def _sandbox_twin(args: argparse.Namespace) -> int:
    from ._pseudonyms import Pseudonyms, default_key_path, key_from_file, new_key, write_key
    from ._run.files import atomic_write_text
    from .inputs.audit import read_folder_export
    from .inputs.groups import read_iga_export
    from .inventory import load_snapshot
    from .twin import check_snapshots, make_twin, twin_text

    out: Path = args.out
    kind = out.suffix.lower()
    if kind not in (".yaml", ".yml", ".json"):
        raise UsageError(f"--out {out}: a tenant file ends in .yaml, .yml or .json (JSON is "
                         "written and served faster for large tenants); name it so")
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give the tenant file's name")
    if args.keep_names and args.key_file:
        raise UsageError("--keep-names uses no pseudonym key: drop --key-file, or --keep-names")
    if args.reference and args.folder_export:
        raise UsageError("--folder-export stands in for the on-prem view --reference gives: "
                         "give --reference where you have that view, else --folder-export")
    # Every input read before a key is made or anything is written.
    snapshot = load_snapshot(args.snapshot)
    reference = load_snapshot(args.reference) if args.reference else None
    check_snapshots(snapshot, reference, folder_export=bool(args.folder_export))
    export = read_folder_export(args.folder_export, cloud=snapshot) if args.folder_export \
        else None
    iga = read_iga_export(args.iga_export) if args.iga_export else None
    name, key_path, new_key_made = None, None, None
    if not args.keep_names:
        key_path = args.key_file or default_key_path()
        if key_path.exists():
            key, _ = key_from_file(key_path, create=False)
        else:  # kept only once the twin is made: a refused twin leaves no key behind
            key = new_key_made = new_key()
        name = Pseudonyms(key).name
    twin = make_twin(snapshot, reference, name=name, iga=iga, folder_export=export)
    text = twin_text(twin, as_json=kind == ".json", pseudonymised=not args.keep_names)
    if key_path is not None and new_key_made:
        try:
            write_key(key_path, new_key_made)
        except FileExistsError:  # made meanwhile by another run: this twin's key is not it
            raise UsageError(f"the key file {key_path} appeared while the twin was made; run "
                             "the command again: it reads that key") from None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, text)  # whole or not at all
    except BaseException:
        if key_path is not None and new_key_made:
            key_path.unlink(missing_ok=True)  # no twin: no new key left behind either
        raise
    if key_path is not None and new_key_made:
        print(f"made a new pseudonym key in {key_path} (readable by you only): keep it, "
              "and never hand it on with a twin. The same key gives the same pseudonyms, "
              "so later twins and captures of this tenant line up with this one")
    if key_path is not None and key_path.resolve().parent == out.resolve().parent:
        print(f"warning: the key {key_path} sits beside the twin: hand on the twin alone")
    counts = ", ".join(f"{n:,} {what}" for what, n in twin.counts().items())
    print(f"twin of {twin.data['tenant']!r} written to {out}: {counts}")
    print("  names: " + (f"pseudonymised with the key in {key_path}" if key_path else
                          "KEPT (--keep-names): hand this file only to those who may see them"))
    sa = twin.data["users"][[u["id"] for u in twin.data["users"]].index(twin.service_account)]
    print(f"  service account: {sa['userName']} ({twin.how})")
    print("  credentials: new practice-only ones (no real secret or token is ever read)")
    for note in twin.notes:
        print(f"  note: {note}")
    print(f"serve it: opskit sandbox serve --data {out}")
    return EXIT_OK


def _inventory(args: argparse.Namespace) -> int:
    from .inventory import fetch_inventory, save_snapshot

    _out_folder(args.out)
    inv = fetch_inventory(args.profile, progress=not args.quiet,
                          secret_permissions=args.secret_permissions)
    path = save_snapshot(inv, args.out)
    meta = inv.meta
    print(f"inventory of {meta['source']} ({meta['flavor']}, {meta['base_url']}) "
          f"in {meta['seconds']:.1f} s, {meta['requests']} requests")
    for name, count in inv.counts().items():
        print(f"  {name:<22}{count:>10,}")
    for warning in meta.get("warnings", []):
        print(f"  warning: {warning}")
    for note in meta["notes"]:
        print(f"  note: {note}")
    print(f"snapshot: {path}")
    if not inv.complete:  # written, and marked incomplete in its manifest
        print("opskit: the inventory is incomplete (see the notes above); the snapshot says so",
              file=sys.stderr)
        return EXIT_CANNOT_RUN
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    """Changes between two snapshots; exit 1 when findings at or above --fail-on appeared."""
    from ._escaping import csv_cell, visible
    from .audit import compare
    from .findings import at_or_above
    from .inventory import load_snapshot

    out = _out_folder(args.out) if args.out else None
    result = compare(load_snapshot(args.before), load_snapshot(args.after),
                     service_account=args.service_account)
    # Names are the tenant's: a control character in one must not act on the terminal.
    print(visible(result.summary()))
    for note in result.notes:
        print(f"  note: {visible(note)}")
    for name, table in result.tables().items():
        for row in table.head(args.rows).itertuples(index=False):
            print(f"  {name:<9}"
                  + "  ".join(visible(str(v)) for v in row if v is not None and v != ""))
        if len(table) > args.rows:
            print(f"  {name:<9}… and {len(table) - args.rows:,} more"
                  + (f" in {name}.csv" if out else " (--out DIR writes them all)"))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name, table in result.tables().items():
            table.map(csv_cell).to_csv(out / f"{name}.csv", index=False)
        print(f"tables: {out}")
    added = result.findings[result.findings["change"] == "added"]
    worse = [s for s in added["severity"].tolist() if at_or_above(s, args.fail_on)]
    if worse:
        print(f"{len(worse)} new finding(s) at or above {args.fail_on} (exit 1)")
        return EXIT_FINDINGS
    return EXIT_OK


def _token_check(args: argparse.Namespace) -> int:
    """A failed token or an unreachable tenant is what this command exists to find: exit 1."""
    from .reports.token_check import check_token

    result = check_token(args.profile, iga_settings=args.iga_settings)
    print(result.to_json() if args.json else result.render_text())
    return EXIT_OK if result.ok else EXIT_FINDINGS


def _parameters(pairs: list[list[str]] | None) -> dict[str, str]:
    given: dict[str, str] = {}
    for key, value in pairs or []:
        if key in given:
            raise UsageError(f"-p {key} is given twice")
        given[key] = value
    return given


def _run(args: argparse.Namespace) -> int:
    import json

    from ._run.fleet import (
        TOKEN_CHECK,
        describe,
        refused,
        skipped,
        token_check_failure,
        token_check_first,
        worst,
    )
    from .errors import OpskitError
    from .runner import run_notebook

    _out_folder(args.out)
    profile = args.profile or "sandbox"
    parameters = _parameters(args.param)
    # Several notebooks (what `opskit report` hands each tenant's process): one refused run
    # does not stop the next. One notebook: a refusal is this command's error (exit 2).
    keep_going = args.json or len(args.notebooks) > 1
    # The token check first: when it does not pass, the others cannot reach the tenant either.
    notebooks = token_check_first(args.notebooks) if len(args.notebooks) > 1 else args.notebooks
    gate: str | None = None  # why the rest is not run
    summaries = []
    for notebook in notebooks:
        name = Path(notebook).stem
        if gate is not None:
            summaries.append(skipped(name, profile, gate))
            if not args.json:
                print(describe(summaries[-1]))
            continue
        try:
            result = run_notebook(notebook, profile=profile, parameters=parameters,
                                  out_dir=args.out, fail_on=args.fail_on,
                                  single_file=args.single_file, timeout=args.timeout)
        except OpskitError as exc:
            if not keep_going:
                raise
            message = one_line(exc)
            summaries.append(refused(name, profile, message))
            if not args.json:
                print(f"opskit: {name}: {message}", file=sys.stderr)
            if name == TOKEN_CHECK:
                gate = f"token check could not run: {message}"
            continue
        summary = result.summary()
        summaries.append(summary)
        if name == TOKEN_CHECK and len(notebooks) > 1:
            gate = token_check_failure(result.results)
        if not args.json:
            print(describe(summary))
            print(f"  report: {result.report}")
            print(f"  manifest SHA-256: {summary['manifest_sha256']}")
            for note in result.notes:
                print(f"  note: {note}")
    if args.json:
        print(json.dumps(summaries, indent=2))
    else:
        print(f"index: {Path(args.out) / 'index.html'}")
    return worst([s["exit_code"] for s in summaries])


def _report(args: argparse.Namespace) -> int:
    from ._run import fleet
    from ._run.files import iso_time
    from ._run.index import refresh_index
    from .alerts import after_report
    from .findings import DEFAULT_FAIL_ON
    from .runner import project_notebooks, resolve_notebook

    out = _out_folder(args.out)
    done: list[dict[str, Any]] = []
    if args.resume is not None:
        if args.profile or args.notebooks:
            raise UsageError("--resume runs what that fleet run planned: leave out --profile "
                             "and --notebooks")
        try:
            plan = fleet.read_plan(out, None if args.resume == _LATEST else args.resume)
        except ValueError as exc:
            raise UsageError(f"--resume: {exc}") from None
        fail_on, timeout, single_file = _resumed_settings(args, plan)
        plan["timeout"] = timeout
        todo, done = fleet.resume_todo(out, plan)
        profiles = [p for p in plan["profiles"] if p in todo]
        notebooks: list[Path] | dict[str, list[Path]] = todo
        fleet_run = str(plan["fleet_run"])
        print(f"fleet run {fleet_run} (resumed): {sum(map(len, todo.values()))} run(s) failed "
              f"or missing on {len(profiles)} profile(s), {len(done)} done", flush=True)
        print(f"its settings: {_settings_text(fail_on, timeout, single_file)}", flush=True)
    else:
        profiles = [p.strip() for p in (args.profile or "sandbox").split(",") if p.strip()]
        if not profiles:
            raise UsageError("--profile: give one or more profile names, e.g. --profile "
                             "acme,globex")
        if len(set(profiles)) != len(profiles):
            raise UsageError("--profile: a profile is named twice")
        if args.notebooks:
            notebooks = [resolve_notebook(n.strip()) for n in args.notebooks.split(",")
                         if n.strip()]
        else:
            notebooks = project_notebooks()
        if not notebooks:
            raise UsageError("no notebooks to run: this opskit installation ships none; name "
                             "some with --notebooks")
        fail_on, timeout, single_file = args.fail_on or DEFAULT_FAIL_ON, args.timeout, \
            args.single_file
        fleet_run = fleet.new_fleet_run()
        plan = {"fleet_run": fleet_run,
                "started_at": iso_time(),
                "profiles": profiles, "notebooks": [str(n) for n in notebooks],
                "fail_on": fail_on, "timeout": timeout, "single_file": single_file}
        print(f"fleet run {fleet_run}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    fleet.write_plan(out, plan)  # before any run: a resume finds what never started

    def on_done(outcome: fleet.TenantOutcome) -> None:
        for line in outcome.log.strip().splitlines():
            print(f"[{outcome.profile}] {line}", file=sys.stderr)
        for run in outcome.runs:
            print(f"[{outcome.profile}] {fleet.describe(run)}", flush=True)
        if outcome.problem:
            print(f"[{outcome.profile}] failed: {outcome.problem}", flush=True)

    count = len(notebooks) if isinstance(notebooks, list) else "the failed or missing"
    print(f"running {count} notebook(s) on {len(profiles)} profile(s), "
          f"{min(args.jobs, max(1, len(profiles)))} at a time", flush=True)
    outcomes = fleet.run_tenants(profiles, notebooks, out_dir=out, fail_on=fail_on,
                                 jobs=args.jobs, on_done=on_done, single_file=single_file,
                                 fleet_run=fleet_run, retries=args.retries,
                                 timeout=timeout)
    ran_now = outcomes  # what alerts are about: a resume's done runs were alerted on before
    if done:  # a resume's verdict is the whole fleet run's
        kept: dict[str, list[dict[str, Any]]] = {}
        for run in done:
            kept.setdefault(run["profile"], []).append(run)
        ran = {o.profile: o for o in outcomes}
        outcomes = [fleet.TenantOutcome(p, 0, kept.get(p, []), "") if p not in ran else
                    fleet.TenantOutcome(p, ran[p].exit_code, kept.get(p, []) + ran[p].runs,
                                        ran[p].log, ran[p].problem, ran[p].attempts)
                    for p in plan["profiles"] if p in ran or p in kept]
    index_html = refresh_index(out)
    print()
    print(fleet.summary_table(outcomes))
    summary = fleet.FleetSummary.of(outcomes)
    for line in summary.lines(fail_on):
        print(line)
    fleet.write_plan(out, {**plan, "finished_at": iso_time(), "counts": summary.counts()})
    print(f"fleet run: {fleet_run}")
    print(f"index: {index_html}")
    after_report(ran_now, say=_say)  # [alerts]; a failed delivery leaves the exit code alone
    return fleet.worst([r["exit_code"] for o in outcomes for r in o.runs] +
                       [o.exit_code for o in outcomes])


_LATEST = "latest"  # `--resume` without an id


def _resumed_settings(args: argparse.Namespace, plan: dict[str, Any]) -> tuple[str, float | None,
                                                                              bool]:
    """A resume's --fail-on, --timeout and --single-file: its fleet run's. The command line may
    repeat --fail-on and --single-file, not change them (the whole fleet run is judged and
    written one way); its --timeout replaces the plan's (what timed out may need longer)."""
    from .findings import DEFAULT_FAIL_ON

    kept: dict[str, Any] = {"fail_on": plan.get("fail_on") or DEFAULT_FAIL_ON,
                            "timeout": args.timeout or plan.get("timeout"),
                            "single_file": bool(plan.get("single_file"))}
    given = {"fail_on": args.fail_on, "single_file": args.single_file or None}  # None: not given
    for name, value in given.items():
        if value is not None and value != kept[name]:
            option = "--" + name.replace("_", "-")
            raise UsageError(f"--resume keeps fleet run {plan['fleet_run']}'s settings "
                             f"({_settings_text(**kept)}): leave out {option}, or start a new "
                             "fleet run without --resume")
    return kept["fail_on"], kept["timeout"], kept["single_file"]


def _settings_text(fail_on: str, timeout: float | None, single_file: bool) -> str:
    return (f"--fail-on {fail_on}, --timeout {f'{timeout:g}' if timeout else 'none'}"
            + (", --single-file" if single_file else ""))


def _runs_folder(out: Path) -> Path:
    """An output folder of `opskit run`/`report`: one holding runs or an index."""
    from ._run.index import INDEX_JSON, RESULTS_FILE

    if not out.is_dir():
        raise UsageError(f"{out} is not a folder; give the --out folder of opskit run or "
                         "opskit report")
    if not (out / INDEX_JSON).is_file() and next(out.glob(f"*/*/*/{RESULTS_FILE}"), None) is None:
        raise UsageError(f"{out} holds no runs (no index.json, no <notebook>/<profile>/<run>/"
                         f"{RESULTS_FILE}); give the --out folder of opskit run or opskit report")
    return out


def _index(args: argparse.Namespace) -> int:
    from ._run.index import rebuild_index, refresh_index

    out = _runs_folder(args.out)
    page = rebuild_index(out) if args.rebuild else refresh_index(out)
    print(f"index: {page}")
    return 0


def _prune(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from ._run import retention

    if args.keep_runs is None and args.keep_days is None:
        raise UsageError("prune: say what to keep with --keep-runs N and/or --keep-days D "
                         "(the latest run of each notebook and profile is always kept)")
    out = _runs_folder(args.out)
    planned = retention.plan(out, keep_runs=args.keep_runs, keep_days=args.keep_days,
                             now=datetime.now(UTC))
    verb = "removed" if args.apply else "would remove"
    for run in planned.remove:
        print(f"{verb}: {run['run_dir']}")
    for run_dir, why in sorted(planned.protected.items()):
        print(f"kept: {run_dir} ({why})")
    for path in planned.unused_static:
        print(f"{verb}: {path.relative_to(out).as_posix()} (no kept report links it)")
    if args.apply:
        retention.apply(out, planned)
    print(f"{verb} {len(planned.remove)} run(s), {len(planned.unused_static)} shared file(s); "
          f"{planned.kept} run(s) kept" + ("" if args.apply else " (nothing removed: add "
                                            "--apply to remove them)"))
    return 0


def _verify(args: argparse.Namespace) -> int:
    """0: every file matches the manifest; 1: a line per difference; 2: not a bundle."""
    from ._run.evidence import verify

    digest = args.digest
    if digest is not None and not _is_sha256(digest):
        raise UsageError(f"--digest {digest[:80]!r} is not a SHA-256 (64 hexadecimal "
                         "characters, as `opskit run --json` prints manifest_sha256)")
    checked = verify(args.path, digest=digest)
    for problem in checked.problems:
        print(problem.line())
    if checked.problems:
        _say(f"{args.path} does not match its manifest: {len(checked.problems)} difference(s)")
        return EXIT_FINDINGS
    against = "the recorded digest" if digest else "its manifest"
    pdf = f"; report.pdf SHA-256 {checked.pdf_sha256}" if checked.pdf_sha256 else ""
    print(f"ok: {checked.checked} file(s) match {against} (manifest SHA-256 "
          f"{checked.manifest_sha256}{pdf})")
    return EXIT_OK


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)


def _bundle(args: argparse.Namespace) -> int:
    from ._run.evidence import bundle

    if args.out.is_dir():
        raise UsageError(f"--out {args.out} is a folder; give the zip file to write, e.g. "
                         f"{args.out / 'run.zip'}")
    if not args.run_dir.is_dir():
        raise UsageError(f"{args.run_dir} is not a folder; give a run folder "
                         "(<out>/<notebook>/<profile>/<stamp>)")
    _out_folder(args.out.parent)
    made = bundle(args.run_dir, args.out, pdf=args.pdf)
    for note in made.notes:
        _warn(note)
    pdf = f"; report.pdf SHA-256 {made.pdf_sha256}" if made.pdf_sha256 else ""
    print(f"bundle: {made.path} (manifest SHA-256 {made.manifest_sha256}{pdf})")
    return EXIT_OK


def _alert(args: argparse.Namespace) -> int:
    """The alert for the latest fleet run in OUT: sent, or shown with --dry-run."""
    from .alerts import deliver, latest_fleet_run, load_settings, prepare, preview
    from .config import searched_places

    settings = load_settings()
    if settings is None:
        raise UsageError("no [alerts] table in the profile file; add one (docs/alerts.md). "
                         f"The profile file is the first found of: {searched_places()}")
    if not args.out.is_dir():
        raise UsageError(f"{args.out} is not a folder; give the --out folder of opskit report")
    fleet_run, runs = latest_fleet_run(args.out, args.fleet_run)
    if not runs:
        which = f"of fleet run {args.fleet_run} " if args.fleet_run else ""
        raise UsageError(f"no runs {which}in {args.out}; give the folder opskit report wrote "
                         "(and a --fleet-run id its runs have)")
    which = f"fleet run {fleet_run}" if fleet_run else "the latest run of each notebook"
    alert = prepare(runs, settings, fleet_run)
    if alert is None:
        print(f"nothing to alert: {len(runs)} run(s) of {which}, no new finding at or above "
              f"{settings.min_severity}" + (", none failed" if settings.on_failure else ""))
        return EXIT_OK
    if args.dry_run:
        print(preview(alert, settings))
        print(f"(dry run: nothing sent; {len(runs)} run(s) of {which})")
        return EXIT_OK
    sent, problems = deliver(alert, settings)
    for line in problems:
        _say(line)
    if sent:
        print(f"alert sent: {'; '.join(sent)}")
    return EXIT_CANNOT_RUN if problems else EXIT_OK


# --------------------------------------------------------------------------- rehearse
def _rehearsal_key(args: argparse.Namespace) -> str | None:
    """The key the twin was made with (None: a twin that kept its names)."""
    from ._pseudonyms import default_key_path, key_from_file

    if args.keep_names:
        return None
    key, _ = key_from_file(args.key_file or default_key_path(), create=False)
    return key


def _rehearse(args: argparse.Namespace) -> int:
    """A rehearsal on a twin: exit 1 when the twin refused, did not change as predicted, or
    the operations for production still hold a twin name."""
    from ._escaping import visible
    from .rehearse import rehearse_changes, rehearse_group_gap

    out = _out_folder(args.out) if args.out else None
    key = _rehearsal_key(args)
    if args.rehearse_command == "changes":
        result = rehearse_changes(args.planned, args.twin, production=args.production, key=key,
                                  apply=args.apply)
    else:
        result = rehearse_group_gap(args.twin, production=args.production, key=key,
                                    apply=args.apply, reference=args.reference,
                                    iga_export=args.iga_export,
                                    production_iga=args.production_iga)
    print(visible(result.summary()))
    if out is not None:
        print(f"operations for production: {result.write(out)}")
    failed = (not result.applied.ok or result.as_predicted is False
              or bool(result.pseudonyms_left))
    return EXIT_FINDINGS if failed else EXIT_OK


def _apply_changes(args: argparse.Namespace) -> int:
    """A planned-changes file on a tenant: the plan printed, sent only with --apply; exit 1
    on a refusal."""
    from ._escaping import visible
    from .rehearse import apply_planned_changes

    plan, result = apply_planned_changes(args.planned, args.profile, reference=args.reference,
                                         apply=args.apply)
    print(visible(str(plan)))
    print(visible(str(result)))
    return EXIT_OK if result.ok else EXIT_FINDINGS


def _add_rehearse(sub: Any) -> None:
    reh = sub.add_parser("rehearse", help="rehearse planned changes or the group-gap apply on a "
                         "twin (a sandbox profile), and give the operations for production")
    rsub = reh.add_subparsers(dest="rehearse_command", required=True, metavar="WHAT")
    changes = rsub.add_parser("changes", help="a planned-changes CSV")
    changes.add_argument("planned", type=Path, metavar="PLANNED_CSV",
                         help="the planned-changes file, in production's names")
    gap = rsub.add_parser("group-gap", help="the group-gap plan and its apply")
    gap.add_argument("--reference", default="", help="the twin's Secret Server side (default: "
                     "the twin profile's reference)")
    gap.add_argument("--iga-export", default="", help="the IGA export in the twin's names "
                     "(default: the twin profile's, or the one the twin publishes)")
    gap.add_argument("--production-iga", default="", metavar="CSV",
                     help="production's IGA export: names the groups the plan creates")
    for parser in (changes, gap):
        parser.add_argument("--twin", required=True, metavar="PROFILE",
                            help="a profile of kind sandbox serving the twin's tenant file")
        parser.add_argument("--production", action="append", default=[], type=Path,
                            metavar="SNAPSHOT", help="a snapshot of production the twin was "
                            "made from (cloud, and on-prem if any: give it twice)")
        names = parser.add_mutually_exclusive_group()
        names.add_argument("--key-file", type=Path, default=None, help="the pseudonym key the "
                           "twin was made with (default: the operator's key file)")
        names.add_argument("--keep-names", action="store_true",
                           help="the twin kept production's names (no key)")
        parser.add_argument("--apply", action="store_true",
                            help="send the operations to the twin (default: nothing is sent)")
        parser.add_argument("--out", type=Path, default=None, help="write operations.json "
                            "(for production) and the tables as CSV here")
        parser.set_defaults(func=_rehearse)
    app = sub.add_parser("apply-changes", help="apply a planned-changes CSV to a tenant over "
                         "SCIM (prints the operations; sends them only with --apply)")
    app.add_argument("planned", type=Path, metavar="PLANNED_CSV")
    app.add_argument("--profile", default=None, help="the tenant (default: sandbox)")
    app.add_argument("--reference", default=None, help="an on-prem profile: the full view the "
                     "changes are checked against (default: the profile's reference)")
    app.add_argument("--apply", action="store_true", help="send the operations (default: "
                     "nothing is sent)")
    app.set_defaults(func=_apply_changes)


_HELP_SINGLE_FILE = ("embed plotly.js in each report.html (4.8 MB each; opens anywhere) instead "
                     "of linking one copy in <out>/_static/")

# ----------------------------------------------------------------- capture and replay
def _capture(args: argparse.Namespace) -> int:
    from .capture import capture

    _out_folder(args.out)
    made = capture(args.profile, args.out, key_file=args.key_file, keep_names=args.keep_names)
    if made.key_created:
        print(f"pseudonym key: made {made.key_file} (keep it, and never hand it on: the same "
              "key gives the same pseudonyms, so captures and twins of this tenant line up)")
    elif made.key_file is not None:
        print(f"pseudonym key: {made.key_file}")
    names = "names pseudonymised" if made.pseudonymised else "names KEPT (--keep-names)"
    print(f"capture: {made.exchanges} exchanges, {names}, no token or secret: {made.path}")
    token = "ok" if made.token_ok else f"failed ({', '.join(made.token_codes) or 'no code'})"
    print(f"  token check: {token}")
    if made.inventory_error:
        print(f"  inventory: failed: {made.inventory_error}")
    else:
        complete = "complete" if made.inventory_complete else "INCOMPLETE"
        counts = ", ".join(f"{n} {k}" for k, n in made.counts.items())
        print(f"  inventory: {complete} ({counts})")
    print(f"replay it anywhere: opskit sandbox replay {made.path}")
    if made.crash:
        from .errors import OpskitError

        raise OpskitError(f"the run failed ({made.crash}); the capture holds every exchange up "
                          f"to then: {made.path}", "hand the capture on (never the key): a "
                          "replay of it fails the same way")
    return EXIT_OK


def _sandbox_replay(args: argparse.Namespace) -> int:
    from .config import CLOUD_SCIM_PATH, TOKEN_PATH
    from .sandbox.entry import Replay, ReplayError, replay_forever

    def ready(url: str, replay: Replay) -> None:
        manifest = replay.manifest
        names = "pseudonymised" if manifest.get("pseudonymised") else "kept"
        print(f"replaying {args.folder} ({manifest.get('flavor')}, "
              f"{manifest.get('exchanges')} exchanges, names {names}) at {url}", flush=True)
        print(f"  SCIM  {url}{replay.scim_path}", flush=True)
        if replay.token_path:
            print(f"  token {url}{replay.token_path}", flush=True)
        print("a profile for it (any secret will do: set OPSKIT_REPLAY_SECRET to anything):",
              flush=True)
        if manifest.get("flavor") != "cloud":
            print(f'  [profiles.replay]\n  kind = "onprem"\n  base_url = "{url}'
                  f'{replay.scim_path}"\n  token = "env:OPSKIT_REPLAY_SECRET"', flush=True)
        elif replay.scim_path == CLOUD_SCIM_PATH and replay.token_path == TOKEN_PATH:
            print(f'  [profiles.replay]\n  kind = "cloud"\n  tenant = "{url}"\n  client_id = '
                  '"replay"\n  client_secret = "env:OPSKIT_REPLAY_SECRET"', flush=True)
        else:
            print("  (its paths are not a Delinea tenant's: from Python, a CloudProfile with "
                  "the base_url and token_url above)", flush=True)
        print("stop with Ctrl-C or SIGTERM", flush=True)

    try:
        with _in_foreground(args.host, args.port):
            replay_forever(args.folder, host=args.host, port=args.port, on_ready=ready)
    except ReplayError as exc:
        raise UsageError(str(exc)) from None
    return EXIT_OK


def _add_capture_commands(sub: Any, ssub: Any) -> None:
    cap = sub.add_parser("capture", help="record the HTTP exchanges of a token check and an "
                         "inventory, without secrets and names pseudonymised, for replay")
    cap.add_argument("--profile", default=None, help="profile name (default: sandbox)")
    cap.add_argument("--out", type=Path, required=True, help="capture folder to write")
    cap.add_argument("--key-file", type=Path, default=None,
                     help="the pseudonym key (default: in your config folder; made on first "
                     "use)")
    cap.add_argument("--keep-names", action="store_true",
                     help="keep real names in the capture (secrets are removed all the same)")
    cap.set_defaults(func=_capture)
    rep = ssub.add_parser("replay", help="serve a capture: each request gets its recorded "
                          "answer")
    rep.add_argument("folder", type=Path, help="a folder `opskit capture` wrote")
    rep.add_argument("--host", default="127.0.0.1")
    rep.add_argument("--port", type=_whole(0, 65535), default=8766,
                     help="0 to 65535 (0: any free port; default 8766)")
    rep.set_defaults(func=_sandbox_replay)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="opskit", description="Operations toolkit for IGA-to-Delinea SCIM integrations.")
    parser.add_argument("--debug", action="store_true", help=_HELP_DEBUG)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Command)

    sandbox = sub.add_parser("sandbox", help="the practice tenant (a local Delinea-like service)")
    ssub = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="ACTION")

    serve = ssub.add_parser("serve", help="serve a tenant file (cloud and on-prem flavors)")
    serve.add_argument("--data", type=Path, help="tenant file (YAML or JSON); default demo data")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_whole(0, 65535), default=8765,
                       help="0 to 65535 (0: any free port; default 8765)")
    serve.add_argument("--latency-ms", type=_latency, default=0.0,
                       help=f"added to every request, 0 to {MAX_LATENCY_MS:,.0f}")
    serve.add_argument("--rehearsal", choices=_rehearsal_names(), default=None,
                       help="serve the tenant in a state that breaks onboarding")
    serve.add_argument("--faults", default=None,
                       help="e.g. 429=0.1,503=0.05,drop=0.02,token_expiry=20,seed=7")
    serve.set_defaults(func=_sandbox_serve)

    demo = ssub.add_parser("demo-data", help="write a demo company tenant with planted problems")
    demo.add_argument("--out", type=Path, required=True)
    demo.add_argument("--scale", type=_whole(1, MAX_SCALE), default=1,
                      help=f"1 ≈ 200 users; 100 ≈ 20,000 (1 to {MAX_SCALE})")
    demo.add_argument("--seed", type=_whole(0, MAX_SEED), default=0,
                      help="0 to 4,294,967,295; the same scale and seed give the same data")
    demo.add_argument("--new-platform-tenant", action="store_true",
                      help="the same company on a Platform tenant new enough to need no "
                      "Platform Groups Sync (Secret Server searches Platform groups directly)")
    demo.set_defaults(func=_sandbox_demo_data)

    tour_p = ssub.add_parser("tour", help="start a tenant, fetch a token, count what each "
                             "flavor serves, stop")
    tour_p.add_argument("--data", type=Path, required=True)
    tour_p.set_defaults(func=_sandbox_tour)
    twin = ssub.add_parser("twin", help="a practice tenant file copying a tenant's inventory "
                           "snapshots, names pseudonymised (docs/twin.md)")
    twin.add_argument("snapshot", type=Path, metavar="SNAPSHOT",
                      help="an inventory snapshot folder (opskit inventory --out), either view")
    twin.add_argument("--reference", type=Path, default=None, metavar="SNAPSHOT",
                      help="the other connector's view of the same tenant (typically the "
                      "on-prem view beside the cloud view: it sees every folder and secret)")
    twin.add_argument("--folder-export", type=Path, default=None, metavar="FILE",
                      help="instead of --reference, beside the cloud view: Secret Server's "
                      "secret export with folder paths (docs/audit.md); its folders and secrets "
                      "join the twin, without permissions")
    twin.add_argument("--iga-export", type=Path, default=None, metavar="FILE",
                      help="the IGA export CSV (a profile's iga_export): the twin's iga section")
    twin.add_argument("--out", type=Path, required=True,
                      help="the tenant file to write (.yaml, .yml or .json)")
    twin.add_argument("--key-file", type=Path, default=None, metavar="PATH",
                      help="the pseudonym key (default: the user's config folder, "
                      "~/.config/opskit/pseudonym.key; made on first use)")
    twin.add_argument("--keep-names", action="store_true",
                      help="keep the real names (only by explicit choice: the file then "
                      "names every user, group, folder and secret)")
    twin.set_defaults(func=_sandbox_twin)
    _add_capture_commands(sub, ssub)
    inv = sub.add_parser("inventory", help="fetch a tenant into a snapshot (parquet + manifest)")
    inv.add_argument("--profile", default=None, help="profile name (default: sandbox)")
    inv.add_argument("--out", type=Path, required=True, help="snapshot folder to write")
    inv.add_argument("--quiet", action="store_true", help="no progress bar")
    # On by default: a snapshot is the record an audit may read later, and secret roles
    # cannot be read after the fact.
    inv.add_argument("--secret-permissions", action=argparse.BooleanOptionalAction,
                     default=True, help="also read PrivilegedDataPermissions, the secret roles "
                     "(default: on; --no-secret-permissions skips the longest listing)")
    inv.set_defaults(func=_inventory)

    token = sub.add_parser("token-check", help="retrieve a token, make one SCIM call, say what "
                           "that proves (exit 1 when it fails)")
    token.add_argument("--profile", default=None, help="profile name (default: sandbox)")
    token.add_argument("--json", action="store_true", help="one JSON document on stdout")
    token.add_argument("--iga-settings", default=None, metavar="FILE",
                       help="YAML or JSON file of what was entered in the IGA's source: the "
                       "check then also says whether the IGA will authenticate")
    token.set_defaults(func=_token_check)

    from .findings import SEVERITIES as severities

    run = sub.add_parser("run", help="run a notebook headless into a report (exit 1 on "
                         "findings at or above --fail-on, 2 when it could not run)")
    run.add_argument("notebooks", nargs="+", metavar="NOTEBOOK",
                     help="a notebook's name (token_check) or path; several run in turn")
    run.add_argument("--profile", default=None, help="profile name (default: sandbox)")
    run.add_argument("-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"),
                     help="a notebook parameter (repeatable); never a secret")
    run.add_argument("--out", type=Path, default=Path("out"), help="output folder (out/)")
    run.add_argument("--fail-on", default="high", choices=severities,
                     help="lowest severity that fails the run (default: high)")
    run.add_argument("--json", action="store_true",
                     help="one JSON list of run summaries on stdout")
    run.add_argument("--single-file", action="store_true", help=_HELP_SINGLE_FILE)
    run.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                     help="stop a notebook's run (kernel start and every cell) after SECONDS: "
                     "it fails with RunTimeout (default: no limit)")
    run.set_defaults(func=_run)

    rep = sub.add_parser("report", help="run notebooks for one or more profiles, each tenant "
                         "in its own process; summary table and index.html")
    rep.add_argument("--profile", default=None,
                     help="profile name(s), comma-separated (default: sandbox)")
    rep.add_argument("--notebooks", default=None,
                     help="comma-separated names or paths (default: every notebook opskit ships)")
    rep.add_argument("--out", type=Path, default=Path("out"), help="output folder (out/)")
    rep.add_argument("--jobs", type=_whole(1), default=2,
                     help="tenants at a time, 1 or more (default: 2)")
    rep.add_argument("--fail-on", default=None, choices=severities,  # None: a resume's own
                     help="lowest severity that fails a run (default: high; a resume: its "
                     "fleet run's)")
    rep.add_argument("--single-file", action="store_true", help=_HELP_SINGLE_FILE)
    rep.add_argument("--retries", type=_whole(0, 5), default=1,
                     help="times a tenant's runs that could not run for a transient reason "
                     "(process crashed or timed out, kernel died) are run again, 0 to 5 "
                     "(default: 1)")
    rep.add_argument("--timeout", type=_whole(1), default=None, metavar="SECONDS",
                     help="seconds each tenant's process may take (all its notebooks); then it "
                     "is killed and its unfinished runs could not run (default: none)")
    rep.add_argument("--resume", nargs="?", const=_LATEST, default=None, metavar="FLEET_RUN",
                     help="run only what failed or is missing in that fleet run (default: the "
                     "latest in --out), under its id")
    rep.set_defaults(func=_report)

    ver = sub.add_parser("verify", help="check a run folder or bundle against its manifest "
                         "(exit 1 names each altered, missing or added file)")
    ver.add_argument("path", type=Path, metavar="PATH", help="a run folder or a bundle .zip")
    ver.add_argument("--digest", default=None, metavar="SHA256",
                     help="also check the manifest itself against the SHA-256 recorded when "
                     "the run was made (manifest_sha256 in `opskit run --json`, index.json)")
    ver.set_defaults(func=_verify)

    bun = sub.add_parser("bundle", help="one zip an auditor can verify later: the run folder, "
                         "the shared files its report links, the manifest")
    bun.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                     help="a run folder (<out>/<notebook>/<profile>/<stamp>)")
    bun.add_argument("--out", type=Path, required=True, metavar="FILE.zip",
                     help="the zip to write")
    bun.add_argument("--pdf", action="store_true",
                     help="add report.pdf, printed by headless Chromium where it is installed")
    bun.set_defaults(func=_bundle)

    alert = sub.add_parser("alert", help="send the alert ([alerts] in opskit.toml) for the "
                           "latest fleet run in a folder, or show it with --dry-run")
    alert.add_argument("out", type=Path, metavar="OUT", help="the folder opskit report wrote")
    alert.add_argument("--fleet-run", default=None, metavar="ID",
                       help="this fleet run's runs (default: the latest fleet run)")
    alert.add_argument("--dry-run", action="store_true",
                       help="print each message and where it would go; send nothing")
    alert.set_defaults(func=_alert)

    cmp = sub.add_parser("compare", help="what changed between two snapshots of one tenant "
                         "(exit 1 on new findings at or above --fail-on)")
    cmp.add_argument("before", type=Path, metavar="BEFORE", help="the older snapshot folder")
    cmp.add_argument("after", type=Path, metavar="AFTER", help="the newer snapshot folder")
    cmp.add_argument("--out", type=Path, default=None,
                     help="also write one CSV per section (grants.csv, members.csv, …) here")
    cmp.add_argument("--rows", type=_whole(0), default=20,
                     help="rows shown per section (default: 20; --out writes all)")
    cmp.add_argument("--service-account", default=None, metavar="USER",
                     help="the cloud service user's userName, for the findings (default: "
                     "inferred)")
    cmp.add_argument("--fail-on", default="high", choices=severities,
                     help="lowest severity of a new finding that fails (default: high)")
    cmp.set_defaults(func=_compare)

    _add_rehearse(sub)

    idx = sub.add_parser("index", help="draw index.html again from index.json (--rebuild: "
                         "read every results.json)")
    idx.add_argument("out", type=Path, metavar="OUT", help="the output folder of opskit run/report")
    idx.add_argument("--rebuild", action="store_true",
                     help="rebuild index.json from every run folder's results.json")
    idx.set_defaults(func=_index)

    prune = sub.add_parser("prune", help="remove old runs (prints what it would remove unless "
                           "--apply); keeps the latest of each pair and first sightings of "
                           "open findings")
    prune.add_argument("out", type=Path, metavar="OUT", help="the output folder of opskit "
                       "run/report")
    prune.add_argument("--keep-runs", type=_whole(1), default=None, metavar="N",
                       help="keep the newest N runs of each notebook and profile")
    prune.add_argument("--keep-days", type=_whole(0), default=None, metavar="D",
                       help="keep every run started in the last D days")
    prune.add_argument("--apply", action="store_true",
                       help="remove them (without it, only print what would be removed)")
    prune.set_defaults(func=_prune)
    return parser


class _ClosedPipeGuard:
    """A text stream that, once its reader is gone (``opskit … | head``), sends the rest to
    /dev/null instead of raising BrokenPipeError: the command finishes its work and exits with
    its own code, quietly."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            self._to_devnull()
            return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            self._to_devnull()

    def _to_devnull(self) -> None:
        # What is still buffered, and all after it, goes nowhere; the interpreter's last
        # flush at exit then has nothing to complain about (Python's documented recipe).
        with suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextmanager
def _quiet_when_pipes_close() -> Iterator[None]:
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _ClosedPipeGuard(sys.stdout), _ClosedPipeGuard(sys.stderr)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        sys.stdout, sys.stderr = saved


@contextmanager
def _warnings_on_stderr() -> Iterator[None]:
    """opskit's warnings (a profile with verify = false, say) as `opskit: warning: …` lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("opskit: warning: %(message)s"))
    log = logging.getLogger("opskit")
    log.addHandler(handler)
    try:
        yield
    finally:
        log.removeHandler(handler)


@contextmanager
def _debug_for_children(debug: bool) -> Iterator[None]:
    """--debug reaches the processes `opskit report` starts, through the environment."""
    from ._crash import DEBUG_ENV

    if not debug or os.environ.get(DEBUG_ENV) == "1":
        yield
        return
    os.environ[DEBUG_ENV] = "1"
    try:
        yield
    finally:
        os.environ.pop(DEBUG_ENV, None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every way it can end is an exit code and at most one line on stderr
    (a crash too: its traceback goes to a crash log, or to stderr with --debug)."""
    from ._crash import DEBUG_ENV

    argv = list(sys.argv[1:] if argv is None else argv)
    with _quiet_when_pipes_close():
        args = build_parser().parse_args(argv)
        debug = args.debug or os.environ.get(DEBUG_ENV) == "1"
        with _debug_for_children(debug), _warnings_on_stderr():
            return _dispatch(args, argv, debug=debug)


def _dispatch(args: argparse.Namespace, argv: list[str], *, debug: bool) -> int:
    from .errors import OpskitError
    from .sandbox.entry import TenantFileError

    try:
        return int(args.func(args))
    except (UsageError, TenantFileError, OpskitError) as exc:
        _say(one_line(exc))
    except KeyboardInterrupt:
        _say("interrupted")
    except OSError as exc:
        if exc.errno not in _NO_ROOM:
            _crashed(exc, argv, debug)
        else:
            where = f" {exc.filename}" if exc.filename else ""
            _say(f"cannot write{where}: {exc.strerror} → free some disk space (or raise the "
                 "file size limit), or write somewhere else, then run again")
    except Exception as exc:
        _crashed(exc, argv, debug)
    return EXIT_CANNOT_RUN


def _crashed(exc: BaseException, argv: list[str], debug: bool) -> None:
    from ._crash import report_crash

    details, line = report_crash(exc, argv, debug=debug)
    if details:
        print(details, end="", file=sys.stderr)
    _say(line)


if __name__ == "__main__":
    sys.exit(main())
