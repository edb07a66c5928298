"""`make demo`: every report on the practice tenant, plus rehearsals of the classic failures.

Starts the practice tenant on a loopback port, writes a profiles file beside the demo data
(secrets by environment reference, as a scheduler would hand them over), then runs
`opskit report` for every notebook on the tenant's cloud and on-prem views, the token check
with a wrong secret, a wrong scope and an unreachable tenant, and the onboarding runbook on the
tenant in each state that breaks onboarding. Prints where index.html is.
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

from .sandbox.entry import REHEARSALS as TENANT_REHEARSALS
from .sandbox.entry import load_tenant, running

# Rehearsals: profile name → (what it gets wrong, the finding code the token check must give).
REHEARSALS = {
    "rehearsal-wrong-secret": ("a wrong client secret", "TOKEN_INVALID_CLIENT"),
    "rehearsal-wrong-scope": ("scope openid instead of xpm.platform", "TOKEN_INVALID_SCOPE"),
    "rehearsal-unreachable": ("a tenant URL where nothing listens", "TENANT_UNREACHABLE"),
}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_profiles(path: Path, url: str, client_id: str, data: Path) -> None:
    cloud = f'kind = "cloud"\nclient_id = "{client_id}"\n'

    def expect(profile: str) -> str:  # the index marks the code a rehearsal is meant to give
        return f'expect = "{REHEARSALS[profile][1]}"\n'

    # The onboarding rehearsals each serve their own practice tenant in a broken state, and
    # expect their rehearsal's code (the profile's default).
    broken = "".join(f'\n[profiles.rehearse-{name}]\nkind = "sandbox"\ndata = '
                     f'{json.dumps(str(data.resolve()))}\nrehearsal = "{name}"\n'
                     for name in TENANT_REHEARSALS)
    path.write_text(f"""# Written by `make demo`: profiles for the practice tenant at {url}.
# Secrets are references; the demo puts the practice values into the environment.
[profiles.practice]
{cloud}tenant = "{url}"
client_secret = "env:PRACTICE_SCIM_SECRET"
reference = "practice-onprem"
iga_export = "{url}/_sandbox/iga-export.csv"

[profiles.practice.platform_groups_sync]   # as the demo tenant syncs its groups
interval_hours = 24
platform_groups_searched_directly = false

[profiles.practice-onprem]
kind = "onprem"
base_url = "{url}/SCIMConnector/v2"
token = "env:PRACTICE_ONPREM_TOKEN"
iga_export = "{url}/_sandbox/iga-export.csv"

[profiles.rehearsal-wrong-secret]
{cloud}tenant = "{url}"
client_secret = "env:REHEARSAL_WRONG_SECRET"
{expect("rehearsal-wrong-secret")}
[profiles.rehearsal-wrong-scope]
{cloud}tenant = "{url}"
client_secret = "env:PRACTICE_SCIM_SECRET"
scope = "openid"
{expect("rehearsal-wrong-scope")}
[profiles.rehearsal-unreachable]
{cloud}tenant = "http://127.0.0.1:{_closed_port()}"
client_secret = "env:PRACTICE_SCIM_SECRET"
{expect("rehearsal-unreachable")}{broken}""", encoding="utf-8")


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
        env = {**os.environ, "OPSKIT_CONFIG": str(config),
               "PRACTICE_SCIM_SECRET": tenant.service_account.client_secret,
               "PRACTICE_ONPREM_TOKEN": tenant.onprem.token,
               "REHEARSAL_WRONG_SECRET": "not-the-practice-secret"}
        codes = [report(["practice", "practice-onprem"], args.out, env)]
        print("\nRehearsals of the failures the token check exists to find:")
        for name, (wrong, code) in REHEARSALS.items():
            print(f"  {name}: {wrong} → expect {code}")
        codes.append(report(list(REHEARSALS), args.out, env, notebooks="token_check"))
        print("\nRehearsals of the tenant states the onboarding runbook exists to find:")
        for name, rehearsal in TENANT_REHEARSALS.items():
            print(f"  rehearse-{name}: {rehearsal.what} → expect {rehearsal.code}")
        codes.append(report([f"rehearse-{name}" for name in TENANT_REHEARSALS], args.out, env,
                            notebooks="tenant_onboarding"))
    index = args.out / "index.html"
    print(f"\nindex: {index.resolve()}")
    # Findings (1) are what a demo is for; only a report that could not run (2) fails it.
    return 2 if 2 in codes else 0


if __name__ == "__main__":
    sys.exit(main())
