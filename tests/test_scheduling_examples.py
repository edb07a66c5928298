"""The scheduling files shipped in deploy/: docs/scheduling.md shows them as they are, the
systemd units pass `systemd-analyze verify`, the cron line hands opskit a secret intact, and
the example profile file's [airflow] table is one opskit reads."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from opskit.config import load_airflow
from opskit.errors import ConfigError
from opskit.sandbox.serve import running

from .conftest import SMALL

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DOCS = ROOT / "docs" / "scheduling.md"
UNITS = ("opskit-report.service", "opskit-report.timer")
# What sourcing an env file, or an unquoted shell word, would change: all of it must arrive.
AWKWARD_SECRET = "p$HOME`id`a\"b'c\\d$(x) e"


def _code_blocks(text: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^```[a-z]*\n(.*?)^```$", text, re.M | re.S)]


@pytest.mark.parametrize("shipped", sorted(p.relative_to(DEPLOY).as_posix()
                                           for p in DEPLOY.rglob("*") if p.is_file()))
def test_the_docs_show_each_shipped_file_as_it_is(shipped: str) -> None:
    assert (DEPLOY / shipped).read_text(encoding="utf-8") in _code_blocks(
        DOCS.read_text(encoding="utf-8"))


def _verify(folder: Path) -> subprocess.CompletedProcess[str]:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    return subprocess.run([analyze, "verify", *(str(folder / u) for u in UNITS)],
                          capture_output=True, text=True, timeout=60)


def _units(tmp_path: Path) -> Path:
    """The shipped units, their ExecStart pointed at this checkout's opskit (verify checks
    that the program exists)."""
    for unit in UNITS:
        text = (DEPLOY / "systemd" / unit).read_text(encoding="utf-8")
        (tmp_path / unit).write_text(text.replace("/srv/opskit/.venv/bin/opskit",
                                                  str(Path(sys.executable).parent / "opskit")))
    return tmp_path


def test_the_systemd_units_verify_and_bound_the_run(tmp_path: Path) -> None:
    service = (DEPLOY / "systemd" / UNITS[0]).read_text(encoding="utf-8")
    assert "\nTimeoutStartSec=" in service and " --timeout " in service
    assert "LoadCredential=" in service and "EnvironmentFile" not in service
    run = _verify(_units(tmp_path))
    assert (run.returncode, run.stdout + run.stderr) == (0, "")


def test_systemd_analyze_verify_sees_a_misspelt_setting(tmp_path: Path) -> None:
    folder = _units(tmp_path)
    service = folder / UNITS[0]
    service.write_text(service.read_text().replace("TimeoutStartSec", "TimeoutStartSecs"))
    assert "Unknown key 'TimeoutStartSecs'" in (lambda r: r.stdout + r.stderr)(_verify(folder))


def _cron(tmp_path: Path, secret_on_file: str) -> subprocess.CompletedProcess[str]:
    """The shipped cron file's token check, run as cron runs it: its variables, /bin/sh -c."""
    srv, etc, logs = tmp_path / "srv", tmp_path / "etc", tmp_path / "log"
    for folder in (srv, etc / "secrets", logs):
        folder.mkdir(parents=True, exist_ok=True)
    (srv / ".venv").unlink(missing_ok=True)
    (srv / ".venv").symlink_to(Path(sys.executable).parent.parent)
    (etc / "secrets" / "acme").write_text(secret_on_file + "\n", encoding="utf-8")
    text = (DEPLOY / "cron" / "opskit").read_text(encoding="utf-8")
    for shipped, here in (("/srv/opskit", srv), ("/etc/opskit", etc), ("/var/log/opskit", logs)):
        text = text.replace(shipped, str(here))
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    env = dict(line.split("=", 1) for line in lines if re.match(r"^[A-Z_]+=", line))
    jobs = [line.split(None, 6) for line in lines if not re.match(r"^[A-Z_]+=", line)]
    [command] = [job[6] for job in jobs if "token-check" in job[6]]
    return subprocess.run([env.pop("SHELL"), "-c", command], env=env | {"HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=120)


def test_the_cron_line_hands_opskit_a_secret_with_dollars_quotes_and_backslashes(
        tmp_path: Path) -> None:
    tenant = tmp_path / "acme.yaml"
    tenant.write_text(SMALL.read_text(encoding="utf-8").replace(
        "practice-only", json.dumps(AWKWARD_SECRET)), encoding="utf-8")
    with running(tenant) as sb:
        assert sb.tenant.file.service_account.client_secret == AWKWARD_SECRET
        (tmp_path / "srv").mkdir()
        (tmp_path / "srv" / "opskit.toml").write_text(f"""
[profiles.acme]
kind = "cloud"
tenant = "{sb.url}"
client_id = "scim.integration@acme.com"
client_secret = "file:{tmp_path / 'etc' / 'secrets' / 'acme'}"
""", encoding="utf-8")
        intact = _cron(tmp_path, AWKWARD_SECRET)
        log = (tmp_path / "log" / "token.log").read_text(encoding="utf-8")
        # The secret less its backslashes, as a shell would leave it: the tenant refuses it.
        mangled = _cron(tmp_path, AWKWARD_SECRET.replace("\\", ""))
    assert intact.returncode == 0, log
    assert mangled.returncode == 1
    assert AWKWARD_SECRET not in log


@pytest.mark.parametrize(("table", "expected"), [
    ("", "has no [airflow] table"),
    ("[airflow]\nnotebooks = [\"permission_audit\"]\n", "airflow.profiles is missing"),
    ("[airflow]\nprofiles = [\"nobody\"]\n", "names 'nobody', which is not a profile"),
    ("[airflow]\nprofiles = [\"acme.eu\"]\n", "must be a list of names"),
    ("[airflow]\nprofiles = [\"acme\"]\ntimeout = 0\n", "timeout must be a number of seconds"),
    ("[airflow]\nprofiles = [\"acme\"]\nretries = -1\n", "retries must be a whole number"),
    ("[airflow]\nprofiles = [\"acme\"]\nfail_on = \"severe\"\n", "fail_on is 'severe'"),
    ("[airflow]\nprofiles = [\"acme\"]\nschedul = \"@daily\"\n", "unknown key(s) schedul"),
])
def test_a_wrong_airflow_table_gets_one_clear_message(tmp_path: Path, table: str,
                                                      expected: str) -> None:
    config = tmp_path / "opskit.toml"
    config.write_text('[profiles.acme]\nkind = "sandbox"\n' + table, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_airflow(config)


def test_the_example_profile_file_describes_the_dag() -> None:
    settings = load_airflow(DEPLOY / "airflow" / "opskit.toml")
    assert settings.profiles == ("acme", "globex-eu")
    assert settings.timeout == 3600 and settings.out == Path("/srv/opskit/reports")
