"""The shipped Airflow DAG, run by `airflow dags test` against practice tenants on 127.0.0.1.

Airflow lives in its own virtual environment (`make airflow`: .venv-airflow, its pins conflict
with Jupyter's). Without it the test is skipped, saying so, unless OPSKIT_REQUIRE_AIRFLOW=1 (as
CI sets it) makes that a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from opskit.sandbox.serve import running

from .conftest import SMALL

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW_VENV = ROOT / ".venv-airflow"
TEMPLATE_DB = AIRFLOW_VENV / "home" / "airflow.db"  # migrated once by `make airflow`
DAG_FILE = ROOT / "deploy" / "airflow" / "opskit_reports.py"
# Secrets only this test uses, so finding one anywhere is a leak, not a coincidence.
CLIENT_SECRET = "acme-client-7Qz$x\"y'z\\w"
ONPREM_TOKEN = "acme-onprem-K9w$token"

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


@pytest.fixture(scope="module")
def airflow_bin() -> Path:
    airflow = AIRFLOW_VENV / "bin" / "airflow"
    if not (airflow.exists() and TEMPLATE_DB.exists()):
        missing = f"{airflow} (and its migrated database) is missing: run `make airflow`"
        if os.environ.get("OPSKIT_REQUIRE_AIRFLOW") == "1":
            pytest.fail(f"OPSKIT_REQUIRE_AIRFLOW=1 but {missing}")
        pytest.skip(f"no Airflow: {missing}")
    return airflow


def _profiles(url: str, tenant_file: Path) -> str:
    return f"""
[profiles.acme]
kind = "cloud"
tenant = "{url}"
client_id = "scim.integration@acme.com"
client_secret = "env:ACME_SCIM_SECRET"
reference = "acme-onprem"

[profiles.acme-onprem]
kind = "onprem"
base_url = "{url}/SCIMConnector/v2"
token = "env:ACME_ONPREM_TOKEN"

# A practice tenant whose service user's secret was rotated: its token is refused.
[profiles.globex-eu]
kind = "sandbox"
data = "{tenant_file}"
rehearsal = "wrong-secret"

[airflow]
profiles = ["acme", "globex-eu"]
notebooks = ["permission_audit"]
out = "reports"
timeout = 300
retries = 1
retry_delay = 1
"""


def test_the_dag_runs_each_tenant_s_token_check_then_its_reports(
        airflow_bin: Path, tmp_path: Path) -> None:
    text = SMALL.read_text(encoding="utf-8")
    tenant_file = tmp_path / "acme.yaml"
    tenant_file.write_text(text.replace("practice-only", json.dumps(CLIENT_SECRET))
                           .replace("practice-onprem-token", ONPREM_TOKEN), encoding="utf-8")
    home, dags, work = tmp_path / "home", tmp_path / "dags", tmp_path / "srv"
    for folder in (home, dags, work):
        folder.mkdir()
    shutil.copy(TEMPLATE_DB, home / "airflow.db")
    (work / "opskit.toml").write_text("", encoding="utf-8")
    # The shipped DAG file, pointed at this test's profile file.
    (dags / "opskit_reports.py").write_text(DAG_FILE.read_text(encoding="utf-8").replace(
        "/srv/opskit/opskit.toml", str(work / "opskit.toml")), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OPSKIT"))}
    env |= {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            # acme's secret as a connection, its reference's token as a variable (hyphen-safe)
            "AIRFLOW_CONN_OPSKIT_ACME": json.dumps({"conn_type": "generic",
                                                     "password": CLIENT_SECRET}),
            "AIRFLOW_VAR_OPSKIT_ACME_ONPREM": ONPREM_TOKEN}
    with running(tenant_file) as sb:
        (work / "opskit.toml").write_text(_profiles(sb.url, tenant_file), encoding="utf-8")
        run = subprocess.run([str(airflow_bin), "dags", "test", "opskit_reports", "2026-12-01"],
                             capture_output=True, text=True, env=env, timeout=300)
    said = run.stdout + run.stderr

    db = sqlite3.connect(home / "airflow.db")
    states = {task: (state, tries) for task, state, tries in db.execute(
        "SELECT task_id, state, try_number FROM task_instance")}
    assert states == {
        "acme.token_check": ("success", 1), "acme.permission_audit": ("success", 1),
        # a refused token: failed at once (no retry), and the tenant's report never started
        "globex-eu.token_check": ("failed", 1),
        "globex-eu.permission_audit": ("upstream_failed", 0)}, said
    xcom = {task: json.loads(value) for task, value in db.execute(
        "SELECT task_id, value FROM xcom WHERE key = 'return_value'")}
    audit = xcom["acme.permission_audit"]
    assert audit["status"] in ("ok", "findings") and audit["exit_code"] in (0, 1)
    assert set(audit["findings"]) == {"critical", "high", "medium", "low", "info"}
    report = Path(audit["report"])
    assert report.is_file() and report.parent.parent.parent.parent == work / "reports"
    results = json.loads((report.parent / "results.json").read_text(encoding="utf-8"))
    assert results["profile"] == "acme" and results["metrics"]["folder_share"] is not None
    # the real exit code in the task's log, and why the check stopped the tenant
    assert (f"opskit run permission_audit --profile acme: exit code {audit['exit_code']}, "
            f"{audit['status']}") in said
    assert ("opskit run token_check --profile globex-eu: exit code 1: the token check found "
            "1 critical; this tenant's reports are not run") in said

    rendered = "".join(row[0] for row in db.execute(
        "SELECT rendered_fields FROM rendered_task_instance_fields"))
    assert "globex-eu" in rendered  # the table holds the tasks' arguments: it was read
    logs = "".join(p.read_text(errors="replace") for p in (home / "logs").rglob("*")
                   if p.is_file())
    everything = said + logs + rendered + json.dumps(xcom) + _files(work / "reports")
    stored = (home / "airflow.db").read_bytes()  # every table: XCom, rendered fields, logs
    for secret in (CLIENT_SECRET, ONPREM_TOKEN):
        for form in (secret, json.dumps(secret)[1:-1]):
            assert form not in everything and form.encode() not in stored


def _files(folder: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


# Each outcome of `opskit run --json` as the task state it becomes: which exception (none:
# success, AirflowFailException: failed at once, AirflowException: retried) and its message.
_OUTCOMES = r'''
import json, os, sys
from pathlib import Path
import opskit.airflow as airflow_module
from opskit.airflow import _environment, _judged, _secrets, run_report
from opskit.config import load_profiles

config, out, cell, kernel = sys.argv[1:5]
folders = dict(zip(("died in a cell", "did not start", "refused", "high", "info", "unreadable"),
                   sys.argv[5:]))
for folder, error in ((cell, {"cell": 4, "ename": "ScimError"}),
                      (kernel, {"cell": None, "ename": "DeadKernelError"}),
                      (folders["died in a cell"], {"cell": 3, "ename": "DeadKernelError"}),
                      (folders["did not start"], {"cell": None, "ename": "RuntimeError",
                       "evalue": "Kernel died before replying to kernel_info"})):
    (Path(folder) / "results.json").write_text(json.dumps({"error": error}))
# token checks: refused (critical), refused (high) under fail_on critical, passed (info) under
# fail_on info: exit 1 and "findings", yet it passed the gate
for name, severity, code in (("refused", "critical", "TOKEN_REFUSED"),
                             ("high", "high", "TOKEN_REFUSED"), ("info", "info", "TOKEN_OK")):
    (Path(folders[name]) / "results.json").write_text(json.dumps(
        {"status": "ok", "error": None, "findings": [{"severity": severity, "code": code}]}))

def outcome(call):
    try:
        call()
    except Exception as exc:
        return [type(exc).__name__, str(exc)]
    return ["success", ""]

def judged(notebook, status, error=None, run_dir=None, findings={"high": 1}):
    code = {"ok": 0, "findings": 1}.get(status, 2)
    return lambda: _judged("x", notebook, code, {
        "status": status, "exit_code": code, "findings": findings, "report": "r.html",
        "run_dir": run_dir, "error": error})

# The worker's environment: another tenant's connection, variable and secret, Airflow's own
# settings; what globex-eu's run is given of them.
os.environ |= {"AIRFLOW_CONN_OPSKIT_ACME": '{"password": "acme-secret"}',
               "AIRFLOW_VAR_OPSKIT_ACME": "acme-secret", "ACME_SCIM_SECRET": "acme-secret",
               "AIRFLOW__CORE__FERNET_KEY": "fernet", "AIRFLOW_HOME": "/home/airflow"}
seen = _environment({"globex-eu"}, load_profiles(Path(config)))
def two_secrets():
    """Two profiles, one variable, different secrets in their connections (stood in for here:
    outside a running task, Airflow 3 answers no lookup)."""
    real = airflow_module._airflow_secret
    airflow_module._airflow_secret = {"opskit_team_a": "a-secret", "opskit_team_b": "b-secret"}.get
    try:
        _secrets({"team-a", "team-b"}, load_profiles(Path(config)))
    finally:
        airflow_module._airflow_secret = real

print(json.dumps({
    "findings": outcome(judged("permission_audit", "findings")),
    "token check findings": outcome(judged("token_check", "findings", None,
                                           folders["refused"], {"critical": 1})),
    "not run": outcome(judged("permission_audit", "not run", "X is not set")),
    "failing cell": outcome(judged("permission_audit", "failed", "cell [4]: ScimError", cell)),
    "dead kernel": outcome(judged("permission_audit", "failed", "the kernel: Dead", kernel)),
    "kernel died in a cell": outcome(judged("permission_audit", "failed", "cell [3]: Dead",
                                            folders["died in a cell"])),
    "kernel did not start": outcome(judged("permission_audit", "failed", "the kernel: x",
                                           folders["did not start"])),
    "unreadable results": outcome(judged("permission_audit", "failed", "the kernel: x",
                                         folders["unreadable"])),
    "token check refused, high": outcome(judged("token_check", "ok", None, folders["high"],
                                                {"high": 1})),
    "token check passed, info": outcome(judged("token_check", "findings", None,
                                               folders["info"], {"info": 1})),
    "token check unreadable": outcome(judged("token_check", "ok", None, folders["unreadable"],
                                             {})),
    "environment": [k for k in sorted(seen) if k.startswith(("AIRFLOW", "ACME"))],
    "one variable, two secrets": outcome(two_secrets),
    "no connection": outcome(lambda: _secrets({"globex-eu"}, load_profiles(Path(config)))),
    "timeout": outcome(lambda: run_report("token_check", "sandbox", config, out, 0.5)),
}))
'''


def test_each_outcome_of_a_run_is_the_task_state_documented(airflow_bin: Path,
                                                             tmp_path: Path) -> None:
    config = tmp_path / "opskit.toml"
    config.write_text('[profiles.globex-eu]\nkind = "cloud"\ntenant = "globex-eu"\n'
                      'client_id = "scim@globex.example"\n'
                      'client_secret = "env:GLOBEX_EU_SCIM_SECRET"\n'
                      + "".join(f'[profiles.{name}]\nkind = "cloud"\ntenant = "{name}"\n'
                                f'client_id = "scim@{name}.example"\n'
                                f'client_secret = "env:{variable}"\n'
                                for name, variable in (("acme", "ACME_SCIM_SECRET"),
                                                       ("team-a", "SHARED_SCIM_SECRET"),
                                                       ("team-b", "SHARED_SCIM_SECRET"))),
                      encoding="utf-8")
    folders = ("out", "cell", "kernel", "died", "start", "refused", "high", "info", "unreadable")
    for folder in folders:
        (tmp_path / folder).mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "OPSKIT", "GLOBEX"))}
    env |= {"AIRFLOW_HOME": str(tmp_path / "home"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    run = subprocess.run([str(airflow_bin.parent / "python"), "-c", _OUTCOMES, str(config),
                          *(str(tmp_path / f) for f in folders)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout.splitlines()[-1])
    # a run cannot see another tenant's connection, variable or secret, nor Airflow's settings
    assert found.pop("environment") == ["AIRFLOW_HOME"]
    states = {case: name for case, (name, _) in found.items()}
    # Retried by the fleet's rule (fleet.transient): a timeout, a kernel that did not start; not
    # a kernel that died (in a cell, or with no cell recorded), nor unreadable results.
    assert states == {"findings": "success",
                      "token check findings": "AirflowFailException",
                      "not run": "AirflowFailException",
                      "failing cell": "AirflowFailException",
                      "dead kernel": "AirflowFailException",
                      "kernel died in a cell": "AirflowFailException",
                      "kernel did not start": "AirflowException",
                      "unreadable results": "AirflowFailException",
                      # the token check's gate is high, whatever fail_on says
                      "token check refused, high": "AirflowFailException",
                      "token check passed, info": "success",
                      "token check unreadable": "AirflowFailException",
                      "one variable, two secrets": "AirflowFailException",
                      "no connection": "AirflowFailException",
                      "timeout": "AirflowException"}
    assert ("profiles 'team-a' and 'team-b' both take their secret from SHARED_SCIM_SECRET"
            in found["one variable, two secrets"][1])
    assert "a-secret" not in run.stdout and "b-secret" not in run.stdout
    assert "(token check failed: TOKEN_REFUSED;" in found["token check refused, high"][1]
    assert "no Airflow connection 'opskit_globex_eu'" in found["no connection"][1]
    assert found["timeout"][1].startswith("opskit run token_check --profile sandbox: timed out "
                                          "after 0.5 s and was stopped")
    assert "exit code 2: cell [4]: ScimError" in found["failing cell"][1]
