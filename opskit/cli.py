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
    return EXIT_OK


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from ._redact import redact
    from .errors import OpskitError
    from .sandbox.tenantfile import TenantFileError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (UsageError, TenantFileError, OpskitError) as exc:
        print(f"opskit: {redact(str(exc))}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        print("opskit: interrupted", file=sys.stderr)
        return EXIT_CANNOT_RUN


if __name__ == "__main__":
    sys.exit(main())
