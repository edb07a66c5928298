"""Alerts ([alerts] in opskit.toml) received by real local receivers: an SMTP server (aiosmtpd,
with STARTTLS and AUTH, so the login is real) and an HTTP receiver (http.server in a thread).

Runs are results.json files written here by `write_run`, following the documented schema
(docs/reports.md, plus the issue-17 additions `fleet_run` and the drift fields `change`,
`first_seen`, `resolved`, `previous_run`, `changes`). One real `opskit report` run (a token check
on a rehearsal) proves the hook at its end; no other kernel runs in this file.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from secrets import token_hex
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from opskit._redact import is_known_secret
from opskit.alerts import SCHEMA, parse_settings
from opskit.cli import main
from opskit.errors import ConfigError

from .servers import closed_port, self_signed_cert

SMTP_USER = "opskit-alerts"
# Each test gets new values (fresh_secrets): none is known to the redactor before it runs.
SMTP_PASSWORD = HOOK_TOKEN = URL_SECRET = PROFILE_SECRET = ""
FLEET, OLDER_FLEET = "20261205T061500Z-3f2a", "20261204T061500Z-9c1d"


def every_secret() -> tuple[str, ...]:
    return SMTP_PASSWORD, HOOK_TOKEN, URL_SECRET, PROFILE_SECRET


def bait() -> str:
    """Text a tenant controls may quote a secret (a run that leaked one past the runner's
    scrubbing): the alert must mask it all the same."""
    return " ".join(every_secret())


@pytest.fixture(autouse=True)
def fresh_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    tag = token_hex(8)
    for name, prefix in (("SMTP_PASSWORD", "smtp-Pw-"), ("HOOK_TOKEN", "hookTok3n-"),
                         ("URL_SECRET", "urlSecret-"), ("PROFILE_SECRET", "acmeClient-Secret-")):
        monkeypatch.setitem(globals(), name, prefix + tag)
    assert not any(is_known_secret(value) for value in every_secret())


@dataclass
class Mailbox:
    """What the SMTP server received: each message, and whether it came over TLS and logged in."""

    messages: list[tuple[Envelope, bool, bool]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append((envelope, session.ssl is not None, session.authenticated))
        return "250 OK"

    def only(self) -> tuple[Envelope, Message]:
        assert len(self.messages) == 1
        envelope = self.messages[0][0]
        assert isinstance(envelope.content, bytes)
        return envelope, message_from_bytes(envelope.content, policy=policy.default)


def _login(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
           auth_data: Any) -> AuthResult:
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode()
          and auth_data.password == SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_cert(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def smtp(certificate: tuple[Path, Path]) -> Iterator[tuple[int, Mailbox]]:
    """A real SMTP server on 127.0.0.1: STARTTLS required, AUTH required (over TLS only)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    mailbox = Mailbox()
    port = closed_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, authenticator=_login,
                            auth_required=True, require_starttls=True, tls_context=context)
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()


@dataclass
class Receiver:
    url: str
    status: int = 204
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver: http.server in a thread, recording each POST."""
    state = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append((self.path, dict(self.headers), body))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def finding(code: str, severity: str, subject: str, change: str | None = "new") -> dict[str, Any]:
    found = {"code": code, "severity": severity, "subject": subject,
             "message": f"{code} on {subject}", "remediation": "fix it"}
    if change is not None:
        found |= {"change": change, "first_seen": "2026-12-04T06:15:03Z"}
    return found


def write_run(out: Path, profile: str, notebook: str, stamp: str, *, fleet_run: str | None,
              findings: Sequence[dict[str, Any]] = (), status: str = "findings",
              error: dict[str, Any] | None = None, drift: bool = True) -> Path:
    """A run folder as the runner writes it, results.json by the documented schema."""
    run_dir = out / notebook / profile / stamp
    run_dir.mkdir(parents=True)
    started = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}Z"
    results: dict[str, Any] = {
        "notebook": notebook, "profile": profile, "started_at": started, "finished_at": started,
        "status": status, "parameters": {"profile": profile}, "findings": list(findings),
        "metrics": {}, "fail_on": "high", "error": error, "expected": None,
        "fleet_run": fleet_run}
    if drift:
        news = sum(f.get("change") == "new" for f in findings)
        results |= {"resolved": [], "previous_run": None,
                    "changes": {"new": news, "resolved": 0, "still_open": len(findings) - news}}
    (run_dir / "results.json").write_text(json.dumps(results), encoding="utf-8")
    (run_dir / "report.html").write_text("<html></html>", encoding="utf-8")
    return run_dir


@pytest.fixture
def profile_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with opskit.toml; every secret reference resolves from the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPSKIT_CONFIG", raising=False)
    monkeypatch.setenv("ACME_SCIM_SECRET", PROFILE_SECRET)
    monkeypatch.setenv("ALERT_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("ALERT_HOOK_AUTH", f"Bearer {HOOK_TOKEN}")
    return tmp_path / "opskit.toml"


def configure(path: Path, *, hook: str | None, smtp_port: int | None, ca: Path | None = None,
              extra: str = "") -> None:
    lines = ['[profiles.acme]', 'kind = "cloud"', 'tenant = "acme"',
             'client_id = "scim.integration@acme.com"', 'client_secret = "env:ACME_SCIM_SECRET"',
             '', '[alerts]', 'min_severity = "high"', extra]
    if hook is not None:
        lines += ['[alerts.webhook]', 'url = "env:ALERT_HOOK_URL"',
                  '[alerts.webhook.headers]', 'Authorization = "env:ALERT_HOOK_AUTH"']
    if smtp_port is not None:
        lines += ['[alerts.email]', 'host = "127.0.0.1"', f'port = {smtp_port}',
                  'security = "starttls"', f'username = "{SMTP_USER}"',
                  'password = "env:ALERT_SMTP_PASSWORD"', 'from = "opskit@example.com"',
                  'to = ["ops@example.com", "oncall@example.com"]',
                  f'verify = "{ca}"' if ca else '']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def webhook_only(profile_file: Path, receiver: Receiver,
                 monkeypatch: pytest.MonkeyPatch) -> None:
    """[alerts] with the webhook alone, pointed at ``receiver``."""
    monkeypatch.setenv("ALERT_HOOK_URL", f"{receiver.url}/hook")
    configure(profile_file, hook=receiver.url, smtp_port=None)


def fleet(out: Path) -> None:
    """An older fleet run, then FLEET: acme with one new high finding (and one still open, one
    new but low), globex whose permission audit failed in a cell."""
    write_run(out, "acme", "token_check", "20261204T061500Z", fleet_run=OLDER_FLEET,
              findings=[finding("TOKEN_INVALID_CLIENT", "critical", "scim.integration")])
    write_run(out, "acme", "permission_audit", "20261205T061503Z", fleet_run=FLEET, findings=[
        finding("GRANT_TO_DISABLED_USER", "high", f"Finance/Payroll {bait()}"),
        finding("SECRET_NOT_OWNED", "high", "Ops/Root", change="still open"),
        finding("GRANT_TO_EMPTY_GROUP", "low", "Ops/Empty")])
    write_run(out, "globex", "permission_audit", "20261205T061509Z", fleet_run=FLEET,
              status="failed",
              error={"cell": 4, "ename": "ScimError", "evalue": f"refused {bait()}"})
    write_run(out, "globex", "token_check", "20261205T061507Z", fleet_run=FLEET, status="ok")


def nothing_alerted(out: Path, receiver: Receiver,
                    capsys: pytest.CaptureFixture[str]) -> None:
    """`opskit alert` on the fleet run's one run finds nothing to send, and sends nothing."""
    assert main(["alert", str(out)]) == 0
    assert capsys.readouterr().out.startswith(
        f"nothing to alert: 1 run(s) of fleet run {FLEET}, no new finding at or above high")
    assert receiver.received == []


def no_secret(*texts: str) -> None:
    for text in texts:
        for secret in every_secret():
            assert secret not in text


def test_webhook_and_email_receive_the_new_findings_and_failures_with_no_secret(
        tmp_path: Path, profile_file: Path, smtp: tuple[int, Mailbox], receiver: Receiver,
        certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ALERT_HOOK_URL", f"{receiver.url}/hook/T0PATH?key={URL_SECRET}")
    port, mailbox = smtp
    configure(profile_file, hook=receiver.url, smtp_port=port, ca=certificate[0])
    fleet(out := tmp_path / "out")

    assert main(["alert", str(out)]) == 0
    stdout, stderr = capsys.readouterr()
    assert "alert sent: webhook (URL from env:…); e-mail to ops@example.com" in stdout

    [(path, headers, body)] = receiver.received
    assert path == f"/hook/T0PATH?key={URL_SECRET}"  # the URL as configured, resolved
    assert headers["Authorization"] == f"Bearer {HOOK_TOKEN}"
    assert headers["Content-Type"] == "application/json"
    payload = json.loads(body)
    assert payload["schema"] == SCHEMA and payload["fleet_run"] == FLEET
    assert payload["counts"] == {"new": 1, "failed": 1}
    assert payload["tenants"] == ["acme", "globex"]
    assert payload["notebooks"] == ["permission_audit", "token_check"]
    [new] = payload["new_findings"]  # not the still-open high, not the new low
    assert (new["profile"], new["notebook"], new["code"], new["severity"]) == (
        "acme", "permission_audit", "GRANT_TO_DISABLED_USER", "high")
    assert new["subject"].startswith("Finance/Payroll ") and "***" in new["subject"]
    [failure] = payload["failures"]
    assert (failure["profile"], failure["notebook"], failure["status"]) == (
        "globex", "permission_audit", "failed")
    assert failure["error"].startswith("cell [4]: ScimError: refused")
    assert payload["reports"] == sorted(
        str((out / nb / p / stamp / "report.html").absolute()) for nb, p, stamp in (
            ("permission_audit", "acme", "20261205T061503Z"),
            ("permission_audit", "globex", "20261205T061509Z")))
    assert payload["summary"] == ("1 new finding at or above high and 1 run could not run in "
                                  f"fleet run {FLEET} (2 tenants)")
    assert payload["text"].startswith(f"opskit: {payload['summary']}")

    envelope, mail = mailbox.only()
    _, over_tls, logged_in = mailbox.messages[0]
    assert over_tls and logged_in
    assert envelope.rcpt_tos == ["ops@example.com", "oncall@example.com"]
    assert mail["Subject"] == f"opskit: {payload['summary']}"
    parts = {part.get_content_type(): part.get_payload(decode=True).decode()
             for part in mail.walk() if not part.is_multipart()}
    assert parts["text/plain"].replace("\r\n", "\n").strip() == payload["text"]
    assert "<td>GRANT_TO_DISABLED_USER</td>" in parts["text/html"]
    no_secret(body.decode(), envelope.content.decode(), *parts.values(), stdout, stderr)


def test_dry_run_shows_each_message_and_host_and_sends_nothing(
        tmp_path: Path, profile_file: Path, smtp: tuple[int, Mailbox], receiver: Receiver,
        capsys: pytest.CaptureFixture[str]) -> None:
    port, mailbox = smtp
    configure(profile_file, hook=None, smtp_port=port)
    # A URL given as it is: the dry run names its host, never its path or query.
    with profile_file.open("a") as toml:
        toml.write(f'[alerts.webhook]\nurl = "{receiver.url}/services/T0PATH?key={URL_SECRET}"\n'
                   '[alerts.webhook.headers]\nAuthorization = "env:ALERT_HOOK_AUTH"\n')
    fleet(out := tmp_path / "out")

    assert main(["alert", str(out), "--dry-run"]) == 0
    stdout, stderr = capsys.readouterr()
    assert receiver.received == [] and mailbox.messages == []
    assert "→ webhook at 127.0.0.1: POST application/json" in stdout
    assert f"→ e-mail to ops@example.com, oncall@example.com via 127.0.0.1:{port}" in stdout
    assert '"schema": "opskit.alert/1"' in stdout and "GRANT_TO_DISABLED_USER" in stdout
    assert "dry run: nothing sent; 3 run(s) of fleet run " + FLEET in stdout
    assert "T0PATH" not in stdout
    no_secret(stdout, stderr)


def test_the_fleet_run_chosen_and_what_counts_as_new(
        webhook_only: None, tmp_path: Path, receiver: Receiver,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    # The latest fleet run holds nothing new at or above high, and nothing failed.
    write_run(out, "acme", "token_check", "20261204T061500Z", fleet_run=OLDER_FLEET,
              findings=[finding("TOKEN_INVALID_CLIENT", "critical", "scim.integration")])
    write_run(out, "acme", "token_check", "20261205T061500Z", fleet_run=FLEET, findings=[
        finding("TOKEN_INVALID_CLIENT", "critical", "scim.integration", change="still open"),
        finding("FOLDER_WITHOUT_OWNER", "medium", "Ops/Empty")])
    nothing_alerted(out, receiver, capsys)

    assert main(["alert", str(out), "--fleet-run", OLDER_FLEET]) == 0  # its critical was new
    assert json.loads(receiver.received[0][2])["fleet_run"] == OLDER_FLEET

    # A run without the drift fields (an older opskit) counts every finding as new; without
    # any fleet run, the latest run of each notebook and profile is what is alerted on.
    lone = tmp_path / "lone"
    write_run(lone, "acme", "token_check", "20261203T061500Z", fleet_run=None, status="failed",
              error={"cell": None, "ename": "DeadKernelError", "evalue": ""})
    write_run(lone, "acme", "token_check", "20261205T061500Z", fleet_run=None, drift=False,
              findings=[finding("TOKEN_INVALID_CLIENT", "critical", "scim.integration", None)])
    assert main(["alert", str(lone)]) == 0
    payload = json.loads(receiver.received[1][2])
    assert payload["fleet_run"] is None and payload["failures"] == []
    assert [f["code"] for f in payload["new_findings"]] == ["TOKEN_INVALID_CLIENT"]

    assert main(["alert", str(out), "--fleet-run", "nope"]) == 2
    assert "no runs of fleet run nope in" in capsys.readouterr().err


def test_a_failure_that_a_retry_ran_again_is_not_alerted(
        webhook_only: None, tmp_path: Path, receiver: Receiver,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    # Within one fleet run: the kernel died, the retry (or a resume) then ran clean.
    write_run(out, "acme", "token_check", "20261205T061500Z", fleet_run=FLEET, status="failed",
              error={"cell": None, "ename": "DeadKernelError", "evalue": ""})
    write_run(out, "acme", "token_check", "20261205T061530Z", fleet_run=FLEET, status="ok")
    nothing_alerted(out, receiver, capsys)


def test_a_resume_alerts_only_on_what_it_ran_and_keeps_its_fleet_runs_settings(
        webhook_only: None, tmp_path: Path, receiver: Receiver,
        capsys: pytest.CaptureFixture[str]) -> None:
    from opskit._run.fleet import write_plan

    out = tmp_path / "out"
    # The fleet run's one run is done, its new high finding alerted on when it ran.
    write_run(out, "acme", "permission_audit", "20261205T061503Z", fleet_run=FLEET,
              findings=[finding("GRANT_TO_DISABLED_USER", "high", "Finance/Payroll")])
    write_plan(out, {"fleet_run": FLEET, "started_at": "2026-12-05T06:15:00Z",
                     "profiles": ["acme"], "notebooks": [str(tmp_path / "permission_audit.ipynb")],
                     "fail_on": "medium", "timeout": 600, "single_file": False})

    assert main(["report", "--resume", "--out", str(out), "--fail-on", "low"]) == 2
    assert capsys.readouterr().err == (
        f"opskit: --resume keeps fleet run {FLEET}'s settings (--fail-on medium, --timeout "
        "600): leave out --fail-on, or start a new fleet run without --resume\n")

    assert main(["report", "--resume", "--out", str(out), "--fail-on", "medium"]) == 1
    said = capsys.readouterr().out
    assert "its settings: --fail-on medium, --timeout 600\n" in said
    assert "findings at or above medium (exit 1): acme/permission_audit" in said
    assert receiver.received == []  # the summary covers the fleet run; alerts, what just ran


def test_a_delivery_failure_is_one_line_without_secret_or_url(
        tmp_path: Path, profile_file: Path, smtp: tuple[int, Mailbox], receiver: Receiver,
        certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    port, mailbox = smtp
    receiver.status = 500
    monkeypatch.setenv("ALERT_HOOK_URL", f"{receiver.url}/hook/T0PATH?key={URL_SECRET}")
    monkeypatch.setenv("ALERT_SMTP_PASSWORD", "wrong-password-" + SMTP_PASSWORD)
    configure(profile_file, hook=receiver.url, smtp_port=port, ca=certificate[0])
    fleet(out := tmp_path / "out")

    assert main(["alert", str(out)]) == 2
    stdout, stderr = capsys.readouterr()
    assert stderr.splitlines() == [
        "opskit: alert not sent to webhook (URL from env:…): the receiver answered HTTP 500 → "
        "check the URL and its token",
        f"opskit: alert not sent to e-mail to ops@example.com, oncall@example.com via "
        f"127.0.0.1:{port}: the server refused the login (SMTP 535) → check username and "
        "password"]
    assert len(receiver.received) == 1 and mailbox.messages == []
    no_secret(stdout, stderr)
    assert "T0PATH" not in stderr

    # An unreachable server, and a certificate no CA here signed: still one line each.
    monkeypatch.setenv("ALERT_HOOK_URL", f"http://127.0.0.1:{closed_port()}/hook?key={URL_SECRET}")
    configure(profile_file, hook="", smtp_port=port)
    assert main(["alert", str(out)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == ("opskit: alert not sent to webhook (URL from env:…): ConnectError → "
                        "check the URL and that the receiver is up")
    assert lines[1].startswith("opskit: alert not sent to e-mail") and "certificate verify " \
        "failed" in lines[1] and len(lines) == 2


def test_after_report_alerts_on_tenants_that_could_not_run_and_says_a_bad_table(
        webhook_only: None, tmp_path: Path, profile_file: Path, receiver: Receiver) -> None:
    """The hook at the end of `opskit report`, given what its tenants' processes said."""
    from opskit._run.fleet import TenantOutcome, refused
    from opskit.alerts import after_report

    run_dir = write_run(tmp_path / "out", "acme", "token_check", "20261205T061500Z",
                        fleet_run=FLEET, status="ok")
    ran = {"notebook": "token_check", "profile": "acme", "status": "ok", "exit_code": 0,
           "run_dir": str(run_dir), "report": str(run_dir / "report.html"), "error": None}
    outcomes = [TenantOutcome("acme", 2, [ran, refused("permission_audit", "acme",
                                                       "the environment variable X is not set")],
                              ""),
                TenantOutcome("globex", 2, [], "", problem="exit status -9")]
    said: list[str] = []
    after_report(outcomes, say=said.append)
    assert said == ["alert sent: webhook (URL from env:…)"]
    payload = json.loads(receiver.received[0][2])
    assert payload["fleet_run"] == FLEET and payload["new_findings"] == []
    assert [(f["profile"], f["notebook"], f["status"], f["error"], f["report"])
            for f in payload["failures"]] == [
        ("acme", "permission_audit", "not run", "the environment variable X is not set", None),
        ("globex", None, "not run", "exit status -9", None)]
    assert "- globex/(every notebook): exit status -9" in payload["text"]

    with profile_file.open("a") as toml:
        toml.write('[alerts.email]\nhost = "smtp.example.com"\n')
    said.clear()
    after_report(outcomes, say=said.append)
    assert said == ["alerts not sent: alerts.email.from must be an e-mail address → e.g. "
                    'from = "opskit@example.com"']
    assert len(receiver.received) == 1


def test_alert_without_an_alerts_table_says_where_to_add_one(
        tmp_path: Path, profile_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configure(profile_file, hook=None, smtp_port=None)
    profile_file.write_text(profile_file.read_text().split("[alerts]")[0])
    assert main(["alert", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("opskit: no [alerts] table in the profile file; add one "
                          "(docs/alerts.md). The profile file is the first found of: ")


@pytest.mark.parametrize(("table", "said"), [
    ({"min_severity": "urgent", "webhook": {"url": "http://x"}},
     "alerts.min_severity is 'urgent' → use one of critical, high, medium, low, info"),
    ({"on_failure": True}, "alerts names nowhere to send alerts"),
    ({"webhook": {"url": "ftp://x"}}, "alerts.webhook.url is not an http(s) URL"),
    ({"webhook": {"url": "http://x", "token": "t"}}, "alerts.webhook: unknown key(s) token"),
    ({"email": {"host": "h", "from": "a@b", "to": "c@d", "username": "u",
                "password": "Hunter2-literal"}},
     "alerts.email.password must be a secret reference"),
    ({"email": {"host": "h", "from": "a@b", "to": [], }},
     "alerts.email.to must be one or more e-mail addresses"),
    ({"email": {"host": "h", "from": "a@b", "to": "c@d", "security": "tls"}},
     "alerts.email.security is 'tls'"),
    ({"email": {"host": "smtp.example.com", "from": "a@b", "to": "c@d", "security": "none",
                "username": "u", "password": "env:P"}},
     'alerts.email: security = "none" would send the password unencrypted to smtp.example.com'),
])
def test_bad_settings_get_one_clear_message(table: dict[str, Any], said: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(table)
    message = str(caught.value).replace("\n  → ", " → ")
    assert message.startswith(said)
    assert "Hunter2-literal" not in message


def test_defaults() -> None:
    settings = parse_settings({"email": {"host": "smtp.example.com", "from": "a@example.com",
                                         "to": "ops@example.com"}})
    assert (settings.min_severity, settings.on_failure) == ("high", True)
    assert settings.email is not None and (settings.email.port, settings.email.security) == (
        587, "starttls")
    assert settings.email.to == ("ops@example.com",) and settings.webhook is None


def test_the_payload_shape_is_documented() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "alerts.md").read_text()
    for key in ("schema", "text", "summary", "fleet_run", "min_severity", "tenants", "notebooks",
                "counts", "new_findings", "failures", "reports", "truncated", "code", "severity",
                "subject", "profile", "notebook", "report", "status", "error"):
        assert f"`{key}`" in doc, key
    assert SCHEMA in doc


def test_opskit_report_alerts_at_its_end_and_keeps_its_exit_code(
        tmp_path: Path, profile_file: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The one real run: a token check on a rehearsal whose client secret was rotated."""
    monkeypatch.setenv("ALERT_HOOK_URL", f"{receiver.url}/hook")
    configure(profile_file, hook=receiver.url, smtp_port=closed_port(),
              extra='[profiles.rotated]\nkind = "sandbox"\nrehearsal = "wrong-secret"\n')
    out = tmp_path / "out"
    code = main(["report", "--profile", "rotated", "--notebooks", "token_check", "--out",
                 str(out), "--jobs", "1"])
    stdout, stderr = capsys.readouterr()
    assert code == 1, stdout + stderr  # the finding's exit code, not the failed e-mail's
    [(_, _, body)] = receiver.received
    payload = json.loads(body)
    assert [(f["profile"], f["notebook"], f["code"]) for f in payload["new_findings"]] == [
        ("rotated", "token_check", "TOKEN_INVALID_CLIENT")]
    assert payload["failures"] == [] and payload["tenants"] == ["rotated"]
    [report] = payload["reports"]
    assert Path(report).is_file()
    assert "opskit: alert sent: webhook (URL from env:…)" in stderr
    assert "opskit: alert not sent to e-mail to ops@example.com" in stderr
    no_secret(stdout, stderr, body.decode())
