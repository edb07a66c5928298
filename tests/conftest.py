"""Shared fixtures: a running practice tenant over real HTTP on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from opskit.sandbox.serve import RunningSandbox, running
from opskit.sandbox.tenantfile import TenantFile, load_tenant

DATA = Path(__file__).parent / "data"
SMALL = DATA / "small.yaml"


def run_opskit(*args: str, env: Mapping[str, str] | None = None, timeout: float = 120,
               cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m opskit.cli ARGS` in a fresh interpreter, for what needs a real process start
    (the working directory on sys.path, a process tree); ``timeout`` is the hang guard. For a
    bound on time and memory alone, tests/bounded.py forks one far cheaper."""
    return subprocess.run([sys.executable, "-m", "opskit.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=cwd)


def cloud_token(sb: RunningSandbox, **overrides: str) -> httpx.Response:
    sa = sb.tenant.file.service_account
    form = {"grant_type": "client_credentials", "client_id": sa.client_id,
            "client_secret": sa.client_secret, "scope": "xpm.platform", **overrides}
    return httpx.post(sb.token_url, data=form)


class Flavors:
    """One authenticated httpx client per flavor of a running tenant."""

    def __init__(self, sb: RunningSandbox):
        self.sb = sb
        token = cloud_token(sb).json()["access_token"]
        self.cloud = httpx.Client(base_url=sb.cloud_url,
                                  headers={"Authorization": f"Bearer {token}"}, timeout=30)
        self.onprem = httpx.Client(base_url=sb.onprem_url, timeout=30, headers={
            "Authorization": f"Bearer {sb.tenant.file.onprem.token}"})

    def close(self) -> None:
        self.cloud.close()
        self.onprem.close()


@pytest.fixture
def small_tenant() -> TenantFile:
    return load_tenant(SMALL)


@pytest.fixture
def sandbox(small_tenant: TenantFile) -> Iterator[RunningSandbox]:
    """A fresh small tenant per test, so writes never leak between tests."""
    with running(small_tenant) as sb:
        yield sb


@pytest.fixture
def scim(sandbox: RunningSandbox) -> Iterator[Flavors]:
    flavors = Flavors(sandbox)
    yield flavors
    flavors.close()


def service_account_gap(small: TenantFile) -> dict[str, Any]:
    """The small tenant with an IGA side that lists 'Vault Admins' (the only way the service
    account owns /IT/Databases/Prod and its secret prod-db-sa) without the service account,
    and one group the Platform lacks: a plan of two operations, one touching the account."""
    data = small.model_dump(exclude_none=True)
    data["iga"] = {"groups": [{"name": "DBA", "members": ["alice@acme.com"]},
                              {"name": "Vault Admins", "members": ["alice@acme.com"]},
                              {"name": "New Team", "members": ["bob@acme.com"]}]}
    return data
