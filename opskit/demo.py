"""`make demo`: every report on three practice tenants, two nights running with each tenant
changed in between, plus rehearsals of the classic failures.

Serves three practice tenants on loopback ports, as real tenants would be served: the demo
company (``acme``, or whatever ``--data`` holds) and two more of the same shape under other
names and credentials (``globex``, ``initech``). The demo company is reached through the
built-in profiles the notebooks default to, `sandbox` and `sandbox-onprem` (pointed at it by
OPSKIT_SANDBOX_DATA and OPSKIT_SANDBOX_URL); the other two through cloud profiles (each with its
on-prem view as `reference`) in a profiles file written beside the demo data.

Night 1: `opskit report` for every notebook on `sandbox`, `globex` and `initech`. Then each
tenant changes through its own HTTP APIs, as its administrators and the IGA would change it:
a user who holds a folder grant is disabled (SCIM PATCH active=false) and a user is granted
View on a folder (SCIM POST ContainerPermission), both through the on-prem connector, and
the Platform groups Secret Server lacks are synced (the practice tenant's Sync Now). Night 2:
the same reports, plus `sandbox-onprem`; each report and the index say what is new and what was
resolved since night 1. Then the rehearsals, each a profile named `rehearsal-<what>`: the token
check with a wrong secret, a wrong scope and an unreachable tenant, and the onboarding runbook
on the tenant in each state that breaks onboarding. Prints what changed and where index.html is.
Exits 0 when the reports ran, whatever they found; 2 when one could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from .config import CONFIG_ENV, SANDBOX_DATA_ENV
from .sandbox.entry import REHEARSALS as TENANT_REHEARSALS
from .sandbox.entry import load_tenant, practice, running

MAIN_PROFILES = ("sandbox", "sandbox-onprem")  # built in; the notebooks' default is sandbox
# The other practice tenants, each reached through a cloud profile of its name, as a customer
# tenant is; their on-prem views are `<name>-onprem`, named only as the `reference`.
OTHER_TENANTS = ("globex", "initech")
NIGHTLY = (MAIN_PROFILES[0], *OTHER_TENANTS)  # night 1; night 2 adds sandbox-onprem
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CONTAINER_PERMISSION = "urn:ietf:params:scim:schemas:pam:1.0:ContainerPermission"
PREFIX = "rehearsal-"  # every rehearsal's profile: rehearsal-<what>
# The token check's rehearsals: the tenant's own (a rotated secret, a scope it refuses, served
# broken), and a tenant URL where nothing listens, the one mistake a profile alone makes.
TOKEN_REHEARSALS = ("wrong-secret", "wrong-scope")
UNREACHABLE = f"{PREFIX}unreachable"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Served:
    """A practice tenant the demo serves: its name, tenant file, URL, and the environment
    variables holding its credentials (for the profiles' ``env:`` references)."""

    name: str
    data: Path
    url: str

    @property
    def secret_env(self) -> str:
        return f"OPSKIT_DEMO_{self.name.upper()}_SECRET"

    @property
    def token_env(self) -> str:
        return f"OPSKIT_DEMO_{self.name.upper()}_TOKEN"

    def environment(self) -> dict[str, str]:
        tf = load_tenant(self.data)
        return {self.secret_env: tf.service_account.client_secret,
                self.token_env: tf.onprem.token}

    def profiles(self) -> str:
        """A cloud profile of its name and its on-prem view, as a customer tenant has them."""
        with practice(self.data, "cloud", url=self.url) as cloud, \
                practice(self.data, "onprem", url=self.url) as onprem:
            return (f'\n[profiles.{self.name}]\nkind = "cloud"\ntenant = "{cloud.scim_url}"\n'
                    f'client_id = "{cloud.client_id}"\nclient_secret = "env:{self.secret_env}"\n'
                    f'reference = "{self.name}-onprem"\n'
                    f'iga_export = "{cloud.iga_export_url}"\n'
                    f'\n[profiles.{self.name}-onprem]\nkind = "onprem"\n'
                    f'base_url = "{onprem.scim_url}"\ntoken = "env:{self.token_env}"\n')


def other_tenant(data: Path, name: str, folder: Path) -> Path:
    """The demo company under another name, with credentials of its own: a tenant file."""
    tf = load_tenant(data)
    other = tf.model_copy(update={
        "tenant": name,
        "service_account": tf.service_account.model_copy(
            update={"client_secret": secrets.token_urlsafe(24)}),
        "onprem": tf.onprem.model_copy(update={"token": secrets.token_urlsafe(24)})})
    path = folder / f"tenant-{name}.json"
    path.write_text(json.dumps(other.model_dump(mode="json", exclude_none=True), indent=1),
                    encoding="utf-8")
    return path


@contextmanager
def serving(data: Path, folder: Path) -> Iterator[list[Served]]:
    """The demo company and the other tenants, each served on its own loopback port."""
    files = [(load_tenant(data).tenant, data)]
    files += [(name, other_tenant(data, name, folder)) for name in OTHER_TENANTS]
    with ExitStack() as stack:
        yield [Served(name, path, stack.enter_context(running(load_tenant(path))).url)
               for name, path in files]


def change(tenant: Served) -> list[str]:
    """What happens to a tenant between two nights, through its own HTTP APIs: a user holding a
    folder grant is disabled, a user holding none is granted View on a folder, and the Platform
    groups Secret Server lacks are synced. What was done, one line each."""
    tf = load_tenant(tenant.data)
    sa = tf.service_account.user
    users = {u.id: u for u in tf.users}
    folders = {f.id: f for f in tf.folders}
    granted = [p.user for p in tf.permissions if p.user and p.user != sa]
    leaver = next(u for u in granted if users[u].active)  # one whose grant stays behind
    newcomer = next(u.id for u in tf.users
                    if u.active and u.id not in (sa, leaver, *granted))
    # A folder the service account holds a grant on: the cloud view shows its permissions.
    folder = next(p.folder for p in tf.permissions if p.user == sa)
    unsynced = [g.displayName for g in tf.groups if g.platform and not g.secret_server]
    with practice(tenant.data, "onprem", url=tenant.url) as onprem:
        assert onprem.token  # served with its credentials
        onprem_auth = {"Authorization": f"Bearer {onprem.token}"}
        # Through the on-prem connector: a cloud write stores the userName lower-cased.
        httpx.patch(f"{onprem.scim_url}/Users/{leaver}", headers=onprem_auth, json={
            "schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "path": "active", "value": False}]}).raise_for_status()
        httpx.post(f"{onprem.scim_url}/ContainerPermissions", headers=onprem_auth, json={
            "schemas": [CONTAINER_PERMISSION], "container": {"value": folder},
            "user": {"value": newcomer}, "rights": ["View"]}).raise_for_status()
        synced = httpx.post(f"{tenant.url}/_sandbox/sync-groups").raise_for_status().json()
    return [f"user {users[leaver].userName} disabled (SCIM PATCH active=false)",
            f"{users[newcomer].userName} granted View on folder {folders[folder].name} "
            "(SCIM POST ContainerPermission)",
            f"{synced['synced']} Platform group(s) synced to Secret Server (Sync Now): "
            + (", ".join(unsynced) or "none")]


def write_profiles(path: Path, url: str, client_id: str, data: Path,
                   others: list[Served] | None = None) -> None:
    # Each tenant rehearsal serves its own practice tenant in a broken state and expects its
    # rehearsal's code (the profile's default); the unreachable one expects TENANT_UNREACHABLE.
    broken = "".join(f'\n[profiles.{PREFIX}{name}]\nkind = "sandbox"\ndata = '
                     f'{json.dumps(str(data.resolve()))}\nrehearsal = "{name}"\n'
                     for name in TENANT_REHEARSALS)
    tenants = "".join(t.profiles() for t in others or [])
    path.write_text(f"""# Written by `make demo`: the other tenants' and the rehearsals' profiles.
# The demo company runs on the built-in sandbox and sandbox-onprem, served at {url}.
{tenants}
[profiles.{UNREACHABLE}]
kind = "cloud"
client_id = "{client_id}"
tenant = "http://127.0.0.1:{_closed_port()}"
client_secret = "env:PRACTICE_SCIM_SECRET"
expect = "TENANT_UNREACHABLE"
{broken}""", encoding="utf-8")


def _report_command(profiles: list[str], out: Path,
                    notebooks: str | None) -> tuple[list[str], str]:
    """The command, and how the demo shows it."""
    command = [sys.executable, "-m", "opskit.cli", "report", "--profile", ",".join(profiles),
               "--out", str(out), *(["--notebooks", notebooks] if notebooks else [])]
    return command, (f"$ opskit report --profile {','.join(profiles)}"
                     + (f" --notebooks {notebooks}" if notebooks else "") + f" --out {out}")


def report(profiles: list[str], out: Path, env: dict[str, str],
           notebooks: str | None = None) -> int:
    command, shown = _report_command(profiles, out, notebooks)
    print(f"\n{shown}", flush=True)
    return subprocess.run(command, env=env, check=False).returncode


@dataclass
class Background:
    """An `opskit report` running beside the nights (the rehearsals touch none of the served
    tenants), its output kept until it is shown."""

    shown: str
    proc: subprocess.Popen[str]

    @classmethod
    def start(cls, profiles: list[str], out: Path, env: dict[str, str],
              notebooks: str) -> Background:
        command, shown = _report_command(profiles, out, notebooks)
        return cls(shown, subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, text=True))

    def finish(self) -> int:
        output, _ = self.proc.communicate()
        print(f"\n{self.shown}\n{output}", end="", flush=True)
        return self.proc.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m opskit.demo", description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="tenant file (demo data)")
    parser.add_argument("--out", type=Path, required=True, help="reports folder")
    args = parser.parse_args(argv)
    tenant = load_tenant(args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    config = (args.out.parent / "opskit.toml").resolve()
    with serving(args.data, args.out.parent) as served:
        demo, others = served[0], served[1:]
        for t in served:
            print(f"practice tenant {t.name!r} running at {t.url}")
        write_profiles(config, demo.url, tenant.service_account.client_id, args.data, others)
        env = {**os.environ, CONFIG_ENV: str(config),
               SANDBOX_DATA_ENV: str(args.data.resolve()), "OPSKIT_SANDBOX_URL": demo.url,
               "PRACTICE_SCIM_SECRET": tenant.service_account.client_secret}
        for t in others:
            env |= t.environment()
        # The rehearsals run meanwhile: the nights' wall time is mostly waiting on kernels.
        token_rehearsals = Background.start(
            [*(PREFIX + n for n in TOKEN_REHEARSALS), UNREACHABLE], args.out, env,
            notebooks="token_check")
        tenant_rehearsals = Background.start(
            [PREFIX + name for name in TENANT_REHEARSALS], args.out, env,
            notebooks="tenant_onboarding")
        print("\nNight 1: every report on three tenants (the rehearsals run meanwhile; they "
              "are shown after night 2).")
        codes = [report(list(NIGHTLY), args.out, env)]
        print("\nBetween the nights, each tenant changes:")
        for t in served:
            for line in change(t):
                print(f"  {t.name}: {line}")
        print("\nNight 2: the same reports (and the demo company's on-prem view); each says "
              "what is new and what was resolved since night 1.")
        codes.append(report([*NIGHTLY[:1], MAIN_PROFILES[1], *NIGHTLY[1:]], args.out, env))
        print("\nRehearsals of the failures the token check exists to find:")
        for name in TOKEN_REHEARSALS:
            rehearsal = TENANT_REHEARSALS[name]
            print(f"  {PREFIX}{name}: {rehearsal.what} → expect {rehearsal.code}")
        print(f"  {UNREACHABLE}: a tenant URL where nothing listens → expect TENANT_UNREACHABLE")
        codes.append(token_rehearsals.finish())
        print("\nRehearsals of the tenant states the onboarding runbook exists to find:")
        for name, rehearsal in TENANT_REHEARSALS.items():
            print(f"  {PREFIX}{name}: {rehearsal.what} → expect {rehearsal.code}")
        codes.append(tenant_rehearsals.finish())
    index = args.out / "index.html"
    print(f"\nindex: {index.resolve()}")
    # Findings (1) are what a demo is for; only a report that could not run (2) fails it.
    return 2 if 2 in codes else 0


if __name__ == "__main__":
    sys.exit(main())
