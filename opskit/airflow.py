"""Apache Airflow: one DAG, built from opskit.toml's ``[airflow]`` table.

Per tenant the token check runs first, then its reports, each task one ``opskit run NOTEBOOK
--profile P --json`` in a process of its own, bounded in time. What a task's state means:

- success: the report ran; its XCom is ``{status, exit_code, findings, report, run_dir,
  error}``, and ``status`` says "ok" or "findings" (exit 1: found something at or above
  ``fail_on``);
- failed at once (no retry): the run cannot succeed by trying again (the token check found
  something at or above ``high``, whatever ``fail_on`` says, which also stops the tenant's
  reports; a missing secret; an unknown profile; a failing cell; a kernel that died in a cell);
- up for retry: it may pass next time (the run timed out, its kernel did not start, its process
  crashed): the fleet's rule, ``opskit._run.fleet.transient``.

Secrets: each ``env:`` secret of every profile a tenant's runs use (its own and its
``reference``) is the password of the Airflow connection ``opskit_<profile>`` (hyphens as
underscores), else the Airflow variable of that name, fetched when the task runs and handed to
the run's environment only; a profile without one (a practice tenant) needs neither. The run's
environment holds none of Airflow's own connections, variables or settings.

Importable only where Airflow (3.1, or 2.11) is installed; opskit itself never imports it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

try:  # Airflow 3
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG, Connection, Variable
    from airflow.sdk.log import mask_secret

    def _password(key: str) -> str | None:
        return Connection.get(key).password

    def _variable(key: str) -> str | None:
        return Variable.get(key, default=None)
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.hooks.base import BaseHook
    from airflow.models import Variable
    from airflow.operators.python import PythonOperator
    from airflow.utils.log.secrets_masker import mask_secret

    def _password(key: str) -> str | None:
        return BaseHook.get_connection(key).password

    def _variable(key: str) -> str | None:
        return Variable.get(key, default_var=None)
from airflow.exceptions import AirflowException, AirflowFailException

from ._run.fleet import TOKEN_CHECK, read_results, token_check_failure, transient
from ._run.isolation import environment_for, profiles_used, secret_refs
from .config import CONFIG_ENV, AirflowSettings, Profile, load_airflow, load_profiles

__all__ = ["build_dag", "connection_id", "run_report"]

KILL_GRACE = 10.0  # seconds between SIGINT and SIGKILL for a run past its timeout
# The worker's Airflow connections, variables and settings (the metadata database, the Fernet
# key): a run resolves its own secrets through the task, it needs none of these.
AIRFLOW_OWN = ("AIRFLOW_CONN_", "AIRFLOW_VAR_", "AIRFLOW__")
log = logging.getLogger("opskit.airflow")


def connection_id(profile: str) -> str:
    """The Airflow connection (or variable) holding a profile's secret: ``opskit_globex_eu``
    for ``globex-eu`` (a hyphen cannot stand in ``AIRFLOW_CONN_…`` nor in a Jinja name)."""
    return "opskit_" + profile.replace("-", "_")


def build_dag(config: str | Path | None = None, **dag_arguments: Any) -> DAG:
    """The DAG ``[airflow]`` describes in the profile file ``config`` (default: the one opskit
    finds, ``$OPSKIT_CONFIG`` first). ``dag_arguments`` go to ``DAG`` (start_date, tags, …)."""
    settings = load_airflow(Path(config) if config else None)
    notebooks = [n for n in settings.notebooks if n != TOKEN_CHECK]
    arguments: dict[str, Any] = {
        "schedule": settings.schedule, "catchup": False,
        "start_date": datetime(2026, 1, 1, tzinfo=UTC), "max_active_tasks": 4,
        "default_args": {"retries": settings.retries,
                         "retry_delay": timedelta(seconds=settings.retry_delay),
                         # Airflow's own bound, past ours: the run is stopped by run_report.
                         "execution_timeout": timedelta(seconds=settings.timeout + 2 * KILL_GRACE)},
        **dag_arguments}
    with DAG(settings.dag_id, **arguments) as dag:
        for tenant in settings.profiles:
            check = _task(settings, tenant, TOKEN_CHECK)
            for notebook in notebooks:
                check >> _task(settings, tenant, notebook)  # no report on a refused token
    return dag


def _task(settings: AirflowSettings, profile: str, notebook: str) -> PythonOperator:
    # Only names and paths: these arguments are rendered into the task's record, secrets never.
    return PythonOperator(
        task_id=f"{profile}.{notebook}", python_callable=run_report,
        op_kwargs={"notebook": notebook, "profile": profile, "config": str(settings.source),
                   "out": str(settings.out), "timeout": settings.timeout,
                   "fail_on": settings.fail_on})


def run_report(notebook: str, profile: str, config: str, out: str, timeout: float,
               fail_on: str = "high") -> dict[str, Any]:
    """One ``opskit run``, its outcome as a task state (module docstring); its summary as XCom."""
    profiles = load_profiles(Path(config))
    used = profiles_used(profile, profiles)
    env = _environment(used, profiles) | _secrets(used, profiles) | {CONFIG_ENV: config}
    command = [sys.executable, "-m", "opskit.cli", "run", notebook, "--profile", profile,
               "--out", out, "--fail-on", fail_on, "--json"]
    shown = f"opskit run {notebook} --profile {profile}"
    # A session of its own: on timeout the whole run (and its kernel's parent) is stopped.
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=Path(config).parent, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(proc)
        raise AirflowException(f"{shown}: timed out after {timeout:g} s and was stopped "
                               "(retried: a slow tenant may answer next time)") from None
    for line in stderr.splitlines():
        log.info("%s: %s", shown, line)
    if proc.returncode not in (0, 1, 2):  # killed by a signal, or crashed outside opskit
        raise AirflowException(f"{shown}: exit code {proc.returncode} (the process ended "
                               "abnormally; retried)")
    try:
        summary = json.loads(stdout)[0]
    except (ValueError, IndexError, KeyError, TypeError):  # exit 2 before any run: bad input
        said = stderr.strip().splitlines()[-1] if stderr.strip() else "no output"
        raise AirflowFailException(f"{shown}: exit code {proc.returncode}: {said}") from None
    return _judged(shown, notebook, proc.returncode, summary)


def _judged(shown: str, notebook: str, code: int, summary: dict[str, Any]) -> dict[str, Any]:
    status = summary.get("status")
    counts = ", ".join(f"{n} {s}" for s, n in summary.get("findings", {}).items() if n)
    log.info("%s: exit code %d, %s (%s); report: %s", shown, code, status,
             counts or "no findings", summary.get("report"))
    result = {key: summary.get(key) for key in
              ("status", "exit_code", "findings", "report", "run_dir", "error")}
    if status == "failed":
        if transient(summary):  # the fleet's rule: timed out, or the kernel did not start
            raise AirflowException(f"{shown}: exit code {code}: {summary.get('error')} (retried)")
        raise AirflowFailException(f"{shown}: exit code {code}: {summary.get('error')}")
    if status not in ("ok", "findings"):  # refused before it ran: a missing secret, say
        raise AirflowFailException(f"{shown}: exit code {code}: {summary.get('error')}")
    if notebook == TOKEN_CHECK:
        # The fleet's gate (high and above, whatever fail_on says), judged on results.json.
        results = read_results(Path(summary["run_dir"])) if summary.get("run_dir") else {}
        why = token_check_failure(results) if results else "its results.json is unreadable"
        if why:
            raise AirflowFailException(f"{shown}: exit code {code}: the token check found "
                                       f"{counts or 'no findings'}; this tenant's reports are "
                                       f"not run ({why}; see {summary.get('report')})")
    return result


def _environment(used: set[str], profiles: dict[str, Profile]) -> dict[str, str]:
    """The worker's environment, less other profiles' secrets and Airflow's own variables."""
    return {k: v for k, v in environment_for(used, profiles).items()
            if not k.startswith(AIRFLOW_OWN)}


def _secrets(used: set[str], profiles: dict[str, Profile]) -> dict[str, str]:
    """The ``env:`` secrets of the profiles a run uses, from Airflow, masked in its logs."""
    found: dict[str, str] = {}
    owner: dict[str, str] = {}  # variable -> the profile whose secret it holds
    for name in sorted(used):
        for ref in secret_refs(profiles[name]):
            if not ref.ref.startswith("env:"):
                continue  # file: and keyring: are read by opskit on the worker itself
            variable, key = ref.ref.removeprefix("env:"), connection_id(name)
            value = _airflow_secret(key) or os.environ.get(variable)
            if not value:
                raise AirflowFailException(
                    f"profile {name!r} takes its secret from {variable}, and there is no "
                    f"Airflow connection {key!r} (its password the secret) nor variable {key!r}: "
                    "create one, or set the variable in the worker's environment")
            mask_secret(value)
            if found.get(variable, value) != value:  # one variable cannot hold both
                raise AirflowFailException(
                    f"profiles {owner[variable]!r} and {name!r} both take their secret from "
                    f"{variable}, and their secrets differ (connections or variables "
                    f"{connection_id(owner[variable])!r} and {key!r}): give each profile a "
                    "variable of its own (client_secret/token = \"env:NAME\")")
            found[variable] = value
            owner.setdefault(variable, name)
    return found


def _airflow_secret(key: str) -> str | None:
    for lookup in (_password, _variable):
        try:
            value = lookup(key)
        except Exception:  # not found, whichever exception this Airflow version raises for it
            continue
        if value:
            return value
    return None


def _stop(proc: subprocess.Popen[str]) -> None:
    """Stop a run past its timeout: SIGINT to its session (opskit then removes its partial run
    folder and stops its kernel), SIGKILL if it lingers."""
    for sig in (signal.SIGINT, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.communicate(timeout=KILL_GRACE)
            break
        except subprocess.TimeoutExpired:
            continue
