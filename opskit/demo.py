"""`make demo`: every report on the practice tenant, plus rehearsals of the classic failures.

Starts the practice tenant on a loopback port and runs `opskit report` for every notebook on
its cloud and on-prem views, through the built-in profiles the notebooks default to, `sandbox`
and `sandbox-onprem` (pointed at it by OPSKIT_SANDBOX_DATA and OPSKIT_SANDBOX_URL). Then the
rehearsals, each a profile named `rehearsal-<what>` in a profiles file written beside the demo
data: the token check with a wrong secret, a wrong scope and an unreachable tenant, and the
onboarding runbook on the tenant in each state that breaks onboarding. Prints where index.html
is.
Exits 0 when the reports ran, whatever they found; 2 when one could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from .config import CONFIG_ENV, SANDBOX_DATA_ENV
from .sandbox.entry import REHEARSALS as TENANT_REHEARSALS
from .sandbox.entry import load_tenant, running

MAIN_PROFILES = ("sandbox", "sandbox-onprem")  # built in; the notebooks' default is sandbox
PREFIX = "rehearsal-"  # every rehearsal's profile: rehearsal-<what>
# The token check's rehearsals: the tenant's own (a rotated secret, a scope it refuses, served
# broken), and a tenant URL where nothing listens, the one mistake a profile alone makes.
TOKEN_REHEARSALS = ("wrong-secret", "wrong-scope")
UNREACHABLE = f"{PREFIX}unreachable"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_profiles(path: Path, url: str, client_id: str, data: Path) -> None:
    # Each tenant rehearsal serves its own practice tenant in a broken state and expects its
    # rehearsal's code (the profile's default); the unreachable one expects TENANT_UNREACHABLE.
    broken = "".join(f'\n[profiles.{PREFIX}{name}]\nkind = "sandbox"\ndata = '
                     f'{json.dumps(str(data.resolve()))}\nrehearsal = "{name}"\n'
                     for name in TENANT_REHEARSALS)
    path.write_text(f"""# Written by `make demo`: the rehearsals' profiles. The reports run on the
# built-in sandbox and sandbox-onprem, served by the practice tenant at {url}.
[profiles.{UNREACHABLE}]
kind = "cloud"
client_id = "{client_id}"
tenant = "http://127.0.0.1:{_closed_port()}"
client_secret = "env:PRACTICE_SCIM_SECRET"
expect = "TENANT_UNREACHABLE"
{broken}""", encoding="utf-8")


def report(profiles: list[str], out: Path, env: dict[str, str],
           notebooks: str | None = None) -> int:
    command = [sys.executable, "-m", "opskit.cli", "report", "--profile", ",".join(profiles),
               "--out", str(out)]
    if notebooks:
        command += ["--notebooks", notebooks]
    print(f"\n$ opskit report --profile {','.join(profiles)}"
          + (f" --notebooks {notebooks}" if notebooks else "") + f" --out {out}", flush=True)
    return subprocess.run(command, env=env, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m opskit.demo", description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="tenant file (demo data)")
    parser.add_argument("--out", type=Path, required=True, help="reports folder")
    args = parser.parse_args(argv)
    tenant = load_tenant(args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    config = (args.out.parent / "opskit.toml").resolve()
    with running(tenant) as sb:
        print(f"practice tenant {tenant.tenant!r} running at {sb.url}")
        write_profiles(config, sb.url, tenant.service_account.client_id, args.data)
        env = {**os.environ, CONFIG_ENV: str(config),
               SANDBOX_DATA_ENV: str(args.data.resolve()), "OPSKIT_SANDBOX_URL": sb.url,
               "PRACTICE_SCIM_SECRET": tenant.service_account.client_secret}
        codes = [report(list(MAIN_PROFILES), args.out, env)]
        print("\nRehearsals of the failures the token check exists to find:")
        for name in TOKEN_REHEARSALS:
            rehearsal = TENANT_REHEARSALS[name]
            print(f"  {PREFIX}{name}: {rehearsal.what} → expect {rehearsal.code}")
        print(f"  {UNREACHABLE}: a tenant URL where nothing listens → expect TENANT_UNREACHABLE")
        codes.append(report([*(PREFIX + n for n in TOKEN_REHEARSALS), UNREACHABLE], args.out,
                            env, notebooks="token_check"))
        print("\nRehearsals of the tenant states the onboarding runbook exists to find:")
        for name, rehearsal in TENANT_REHEARSALS.items():
            print(f"  {PREFIX}{name}: {rehearsal.what} → expect {rehearsal.code}")
        codes.append(report([PREFIX + name for name in TENANT_REHEARSALS], args.out, env,
                            notebooks="tenant_onboarding"))
    index = args.out / "index.html"
    print(f"\nindex: {index.resolve()}")
    # Findings (1) are what a demo is for; only a report that could not run (2) fails it.
    return 2 if 2 in codes else 0


if __name__ == "__main__":
    sys.exit(main())
