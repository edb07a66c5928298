"""`opskit …` on the command line: parses, calls the package, sets exit codes.

Exit codes: 0 ran and nothing at or above the failure threshold; 1 findings at or above it;
2 could not run (bad input, unreachable tenant, auth failure).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_OK, EXIT_FINDINGS, EXIT_CANNOT_RUN = 0, 1, 2


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit 2."""


def _sandbox_serve(args: argparse.Namespace) -> int:
    from .sandbox.faults import FaultSpec
    from .sandbox.serve import serve_forever
    from .sandbox.tenantfile import load_tenant

    try:
        faults = FaultSpec.parse(args.faults)
    except ValueError as exc:
        raise UsageError(f"--faults: {exc}") from None
    data = load_tenant(args.data) if args.data else _default_tenant()
    if args.rehearsal:
        from .sandbox.rehearsals import REHEARSALS, rehearse

        data = rehearse(data, args.rehearsal)
        print(f"rehearsal {args.rehearsal}: {REHEARSALS[args.rehearsal].what} (the onboarding "
              f"runbook should report {REHEARSALS[args.rehearsal].code})", flush=True)

    def ready(sb: object) -> None:
        print(f"practice tenant {data.tenant!r} at {sb.url}", flush=True)  # type: ignore[attr-defined]
        print(f"  cloud    SCIM  {sb.cloud_url}", flush=True)  # type: ignore[attr-defined]
        print(f"  cloud    token {sb.token_url}", flush=True)  # type: ignore[attr-defined]
        print(f"  on-prem  SCIM  {sb.onprem_url}", flush=True)  # type: ignore[attr-defined]
        if faults.active or faults.token_expiry or args.latency_ms:
            print(f"  faults: {faults or 'none'}; latency {args.latency_ms} ms", flush=True)
        print("stop with Ctrl-C or SIGTERM", flush=True)

    try:
        serve_forever(data, host=args.host, port=args.port, faults=faults,
                      latency_ms=args.latency_ms, on_ready=ready)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
                         "choose another --port") from None
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def _rehearsal_names() -> list[str]:
    from .sandbox.rehearsals import REHEARSALS

    return list(REHEARSALS)


def _default_tenant():  # type: ignore[no-untyped-def]
    from .sandbox.demodata import generate
    from .sandbox.tenantfile import parse_tenant

    return parse_tenant(generate(scale=1, seed=0), "<demo data, scale 1>")


def _sandbox_demo_data(args: argparse.Namespace) -> int:
    from .sandbox.demodata import write_demo

    if args.scale < 1:
        raise UsageError("--scale must be 1 or more")
    paths = write_demo(args.out, scale=args.scale, seed=args.seed)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return EXIT_OK


def _sandbox_tour(args: argparse.Namespace) -> int:
    from .sandbox.tour import tour

    return tour(args.data)


def _inventory(args: argparse.Namespace) -> int:
    from .inventory import fetch_inventory, save_snapshot

    inv = fetch_inventory(args.profile, progress=not args.quiet)
    path = save_snapshot(inv, args.out)
    meta = inv.meta
    print(f"inventory of {meta['source']} ({meta['flavor']}, {meta['base_url']}) "
          f"in {meta['seconds']:.1f} s, {meta['requests']} requests")
    for name, count in inv.counts().items():
        print(f"  {name:<22}{count:>10,}")
    for note in meta["notes"]:
        print(f"  note: {note}")
    print(f"snapshot: {path}")
    if not inv.complete:  # written, and marked incomplete in its manifest
        print("opskit: the inventory is incomplete (see the notes above); the snapshot says so",
              file=sys.stderr)
        return EXIT_CANNOT_RUN
    return EXIT_OK


def _token_check(args: argparse.Namespace) -> int:
    """A failed token or an unreachable tenant is what this command exists to find: exit 1."""
    from .checks.token import check_token

    result = check_token(args.profile)
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

    from ._run.fleet import describe, refused, worst
    from .errors import OpskitError
    from .runner import run_notebook

    profile = args.profile or "sandbox"
    parameters = _parameters(args.param)
    # Several notebooks (what `opskit report` hands each tenant's process): one refused run
    # does not stop the next. One notebook: a refusal is this command's error (exit 2).
    keep_going = args.json or len(args.notebooks) > 1
    summaries = []
    for notebook in args.notebooks:
        try:
            result = run_notebook(notebook, profile=profile, parameters=parameters,
                                  out_dir=args.out, fail_on=args.fail_on)
        except OpskitError as exc:
            if not keep_going:
                raise
            from ._redact import redact

            message = redact(str(exc)).replace("\n  → ", " → ")
            summaries.append(refused(Path(notebook).stem, profile, message))
            if not args.json:
                print(f"opskit: {Path(notebook).stem}: {message}", file=sys.stderr)
            continue
        summary = result.summary()
        summaries.append(summary)
        if not args.json:
            print(describe(summary))
            print(f"  report: {result.report}")
            for note in result.notes:
                print(f"  note: {note}")
    if args.json:
        print(json.dumps(summaries, indent=2))
    else:
        print(f"index: {Path(args.out) / 'index.html'}")
    return worst([s["exit_code"] for s in summaries])


def _report(args: argparse.Namespace) -> int:
    from ._run.fleet import TenantOutcome, describe, run_tenants, summary_table, worst
    from ._run.index import rebuild_index
    from .runner import project_notebooks, resolve_notebook

    profiles = [p.strip() for p in (args.profile or "sandbox").split(",") if p.strip()]
    if not profiles:
        raise UsageError("--profile: give one or more profile names, e.g. --profile acme,globex")
    if len(set(profiles)) != len(profiles):
        raise UsageError("--profile: a profile is named twice")
    if args.jobs < 1:
        raise UsageError("--jobs must be 1 or more")
    if args.notebooks:
        notebooks = [resolve_notebook(n.strip()) for n in args.notebooks.split(",") if n.strip()]
    else:
        notebooks = project_notebooks()
    if not notebooks:
        raise UsageError("no notebooks to run: notebooks/ has none; name some with --notebooks")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def done(outcome: TenantOutcome) -> None:
        for line in outcome.log.strip().splitlines():
            print(f"[{outcome.profile}] {line}", file=sys.stderr)
        for run in outcome.runs:
            print(f"[{outcome.profile}] {describe(run)}", flush=True)
        if outcome.problem:
            print(f"[{outcome.profile}] failed: {outcome.problem}", flush=True)

    print(f"running {len(notebooks)} notebook(s) on {len(profiles)} profile(s), "
          f"{min(args.jobs, len(profiles))} at a time", flush=True)
    outcomes = run_tenants(profiles, notebooks, out_dir=out, fail_on=args.fail_on,
                           jobs=args.jobs, on_done=done)
    index_html = rebuild_index(out)  # once more: tenants finishing together may race on it
    print()
    print(summary_table(outcomes))
    failed = [f"{o.profile}/{r['notebook']}" for o in outcomes for r in o.runs
              if r["exit_code"] == EXIT_CANNOT_RUN]
    failed += [f"{o.profile} (its process failed)" for o in outcomes if not o.runs]
    flagged = [f"{o.profile}/{r['notebook']}" for o in outcomes for r in o.runs
               if r["exit_code"] == EXIT_FINDINGS]
    if failed:
        print(f"could not run (exit 2): {', '.join(failed)}")
    if flagged:
        print(f"findings at or above {args.fail_on} (exit 1): {', '.join(flagged)}")
    print(f"index: {index_html}")
    return worst([o.exit_code for o in outcomes])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opskit", description="Operations toolkit for IGA-to-Delinea SCIM integrations.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sandbox = sub.add_parser("sandbox", help="the practice tenant (a local Delinea-like service)")
    ssub = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="ACTION")

    serve = ssub.add_parser("serve", help="serve a tenant file (cloud and on-prem flavors)")
    serve.add_argument("--data", type=Path, help="tenant file (YAML or JSON); default demo data")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")
    serve.add_argument("--rehearsal", choices=_rehearsal_names(), default=None,
                       help="serve the tenant in a state that breaks onboarding")
    serve.add_argument("--faults", default=None,
                       help="e.g. 429=0.1,503=0.05,drop=0.02,token_expiry=20,seed=7")
    serve.set_defaults(func=_sandbox_serve)

    demo = ssub.add_parser("demo-data", help="write a demo company tenant with planted problems")
    demo.add_argument("--out", type=Path, required=True)
    demo.add_argument("--scale", type=int, default=1, help="1 ≈ 200 users; 100 ≈ 20,000")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_sandbox_demo_data)

    tour_p = ssub.add_parser("tour", help="start a tenant, fetch a token, count what each "
                             "flavor serves, stop")
    tour_p.add_argument("--data", type=Path, required=True)
    tour_p.set_defaults(func=_sandbox_tour)
    inv = sub.add_parser("inventory", help="fetch a tenant into a snapshot (parquet + manifest)")
    inv.add_argument("--profile", default=None, help="profile name (default: sandbox)")
    inv.add_argument("--out", type=Path, required=True, help="snapshot folder to write")
    inv.add_argument("--quiet", action="store_true", help="no progress bar")
    inv.set_defaults(func=_inventory)

    token = sub.add_parser("token-check", help="retrieve a token, make one SCIM call, say what "
                           "that proves (exit 1 when it fails)")
    token.add_argument("--profile", default=None, help="profile name (default: sandbox)")
    token.add_argument("--json", action="store_true", help="one JSON document on stdout")
    token.set_defaults(func=_token_check)

    from .report.findings import SEVERITIES as severities

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
    run.set_defaults(func=_run)

    rep = sub.add_parser("report", help="run notebooks for one or more profiles, each tenant "
                         "in its own process; summary table and index.html")
    rep.add_argument("--profile", default=None,
                     help="profile name(s), comma-separated (default: sandbox)")
    rep.add_argument("--notebooks", default=None,
                     help="comma-separated names or paths (default: every notebooks/*.ipynb)")
    rep.add_argument("--out", type=Path, default=Path("out"), help="output folder (out/)")
    rep.add_argument("--jobs", type=int, default=2, help="tenants at a time (default: 2)")
    rep.add_argument("--fail-on", default="high", choices=severities,
                     help="lowest severity that fails a run (default: high)")
    rep.set_defaults(func=_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from ._redact import redact
    from .errors import OpskitError
    from .sandbox.tenantfile import TenantFileError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (UsageError, TenantFileError, OpskitError) as exc:
        print(f"opskit: {redact(str(exc)).replace(chr(10) + '  → ', ' → ')}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        print("opskit: interrupted", file=sys.stderr)
        return EXIT_CANNOT_RUN


if __name__ == "__main__":
    sys.exit(main())
