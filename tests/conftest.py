"""Shared fixtures (a running practice tenant over real HTTP on 127.0.0.1, the demo's build), and
how the suite is split across pytest-xdist's workers."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from opskit._imports import skip_unused_slow_imports
from opskit.sandbox.app import Sandbox
from opskit.sandbox.serve import RunningSandbox, serving
from opskit.sandbox.store import Tenant
from opskit.sandbox.tenantfile import TenantFile, load_tenant

skip_unused_slow_imports()  # the tests import nbformat too (opskit/_imports.py says why)

# pytest keeps each test module's assert-rewritten code as a .pyc only where bytecode may be
# written. Where PYTHONDONTWRITEBYTECODE is set, every worker rewrote every test module (and
# hypothesis's and faker's: plugins' packages are rewritten too) on every run, ~5 s of the ~9 s
# of CPU each worker's collection took. This process only: the kernels and `opskit` processes
# it starts keep the environment's setting.
sys.dont_write_bytecode = False

DATA = Path(__file__).parent / "data"
SMALL = DATA / "small.yaml"


@dataclass(frozen=True)
class DemoBuild:
    """One `make demo` reports step (`python -m opskit.demo`) and the folder it wrote."""

    run: subprocess.CompletedProcess[str]
    out: Path

    def runs(self) -> dict[str, list[dict[str, Any]]]:
        """The index's runs by profile."""
        by_profile: dict[str, list[dict[str, Any]]] = {}
        for run in json.loads((self.out / "index.json").read_text())["runs"]:
            by_profile.setdefault(run["profile"], []).append(run)
        return by_profile

    def latest(self) -> dict[str, list[dict[str, Any]]]:
        """The index's latest run of each notebook, by profile (the demo's second night for
        the tenants it runs twice)."""
        by_profile: dict[str, list[dict[str, Any]]] = {}
        for profile, runs in self.runs().items():
            newest: dict[str, dict[str, Any]] = {}
            for run in runs:
                if run["run_dir"] >= newest.get(run["notebook"], run)["run_dir"]:  # by stamp
                    newest[run["notebook"]] = run
            by_profile[profile] = list(newest.values())
        return by_profile


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> DemoBuild:
    """Built once: test_demo checks it whole, test_onboarding_rehearsals reads its onboarding
    rehearsals (the same runs `opskit run tenant_onboarding` makes on each), and
    browser/test_demo_pages opens its pages. One worker runs these modules (RUN_TOGETHER), so it
    is built once."""
    out = tmp_path_factory.mktemp("demo") / "reports"
    run = subprocess.run([sys.executable, "-m", "opskit.demo", "--data", str(SMALL), "--out",
                          str(out)], capture_output=True, text=True, timeout=600)
    return DemoBuild(run, out)


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


class _CurrentTenant:
    """The ASGI app of one server kept for the session: each request goes to the tenant of the
    test that is running. A server's start and stop cost ~0.2 s of waiting (uvicorn's shutdown
    polls at 0.1 s); a tenant costs nothing, so each test still gets a fresh one."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        app = self.app
        if app is None:  # between tests: nothing from an ended test reaches the next one
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b"no practice tenant"})
            return
        await app(scope, receive, send)


@pytest.fixture(scope="session")
def _practice_server() -> Iterator[tuple[str, _CurrentTenant]]:
    current = _CurrentTenant()
    # As `running()` serves a tenant: the same server settings, another app in front.
    with serving(current, log_level="warning", name="the practice tenant") as url:
        yield url, current


@pytest.fixture
def sandbox(small_tenant: TenantFile,
            _practice_server: tuple[str, _CurrentTenant]) -> Iterator[RunningSandbox]:
    """A fresh small tenant per test, so writes never leak between tests (what `running()`
    builds, served by the session's server)."""
    url, current = _practice_server
    tenant = Tenant(small_tenant)
    current.app = (sandbox := Sandbox(tenant)).app
    try:
        yield RunningSandbox(url, tenant, sandbox)
    finally:
        current.app = None


@pytest.fixture
def scim(sandbox: RunningSandbox) -> Iterator[Flavors]:
    flavors = Flavors(sandbox)
    yield flavors
    flavors.close()


# Third-party pytest plugins whose servers one test each uses: kept off in every process
# (pyproject's addopts) and registered by the fixture that needs one. Loaded at start, they cost
# every worker ~1.7 s of CPU (Canaille, faker, scim2-server and scim2-models imported, faker's
# modules assert-rewritten).
def _plugin_fixture(request: pytest.FixtureRequest, plugin: str, name: str) -> Any:
    module = importlib.import_module(plugin)
    manager = request.config.pluginmanager
    if not manager.is_registered(module):
        manager.register(module, f"{plugin} (on first use)")
    return request.getfixturevalue(name)  # looked up now: the plugin's own fixture


@pytest.fixture
def canaille(request: pytest.FixtureRequest) -> Any:
    """pytest-iam's Canaille OAuth2/OIDC server (its ``iam_server``)."""
    return _plugin_fixture(request, "pytest_iam", "iam_server")


@pytest.fixture
def plain_scim_server(request: pytest.FixtureRequest) -> Any:
    """pytest-scim2-server's SCIM server, Users and Groups only (its ``scim2_server``)."""
    return _plugin_fixture(request, "pytest_scim2_server", "scim2_server")


def service_account_gap(small: TenantFile) -> dict[str, Any]:
    """The small tenant with an IGA side that lists 'Vault Admins' (the only way the service
    account owns /IT/Databases/Prod and its secret prod-db-sa) without the service account,
    and one group the Platform lacks: a plan of two operations, one touching the account."""
    data = small.model_dump(exclude_none=True)
    data["iga"] = {"groups": [{"name": "DBA", "members": ["alice@acme.com"]},
                              {"name": "Vault Admins", "members": ["alice@acme.com"]},
                              {"name": "New Team", "members": ["bob@acme.com"]}]}
    return data


# --------------------------------------------------------------------------- the browser
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a browser Playwright downloads): skipped,
    saying why, where it is missing, unless OPSKIT_REQUIRE_BROWSER=1 (CI) makes that a failure."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the playwright package is not installed (pip install -e '.[dev]')"
    if missing is None and not CHROMIUM.exists():
        missing = f"{CHROMIUM} is missing (make browser, or apt-get install chromium)"
    if missing:
        if os.environ.get("OPSKIT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"OPSKIT_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(f"no browser: {missing}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# --------------------------------------------------------------------------- running in parallel
# `make test` runs the suite on pytest-xdist's workers (addopts in pyproject.toml: -n auto
# --dist loadscope, both as refined here). A worker takes a whole module, so a module's fixtures
# (a notebook run, a tenant) run once. Modules marked slow are handed out first, so no long one
# starts last while the other workers idle.

# Modules that share a session fixture, so one worker runs both: module → the one it joins.
# (An xdist_group mark would say so, but on pytest 9.2 xdist's loadgroup loses the mark's
# nodeid suffix and splits the group silently: pytest-xdist issue 1386.)
RUN_TOGETHER = {"tests/test_onboarding_rehearsals.py": "tests/test_demo.py",  # demo_build
                "tests/browser/test_demo_pages.py": "tests/test_demo.py"}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """-n auto: a worker per core, and two more. Workers spend much of their time waiting (a
    kernel starting or stopping, a Retry-After, a timeout that is the point of a test, Airflow
    scheduling its tasks, a browser drawing), and the extra ones run meanwhile: on 2 cores,
    3 workers took 3:11 to 3:16, 4 took 3:05 (before issue 17: 3 took 2:49, 2 took 3:13)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own way to say how many
    modules = {arg.split("::")[0] for arg in config.args}
    if len(modules) == 1 and modules.pop().endswith(".py"):
        return 0  # one module is one worker's work: run it here, without starting workers
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) + 2


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Stable: browser modules (the longest) first, then the other slow ones, then the rest.
    items.sort(key=lambda item: (item.get_closest_marker("browser") is None,
                                 item.get_closest_marker("slow") is None))


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadscope":
        return None  # another distribution asked for on the command line is used as asked
    from xdist.scheduler import LoadScopeScheduling

    class Modules(LoadScopeScheduling):
        """loadscope's whole modules (not classes), RUN_TOGETHER's joined, in the collection's
        order (slow first) rather than by test count."""

        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return RUN_TOGETHER.get(module, module)

    config.option.loadscopereorder = False
    return Modules(config, log)
