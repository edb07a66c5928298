"""The token check, its CLI and its notebook, against the practice tenant and small servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml

from opskit.checks import token as tc
from opskit.config import CloudProfile, OnPremProfile, Profile, SecretRef, cloud_urls
from opskit.errors import ConfigError
from opskit.findings import TOKEN_CHECK, declared, raised_by
from opskit.limits import Limits
from opskit.reports import Report
from opskit.reports.token_check import TokenCheck, check_token
from opskit.sandbox.serve import RunningSandbox, running
from opskit.sandbox.tenantfile import TenantFile, parse_tenant
from opskit.scim import urns

from .conftest import SMALL
from .servers import (
    OAuthError,
    Receive,
    ScimProxy,
    Scope,
    Send,
    closed_port,
    cloud_profile,
    onprem_profile,
    send_json,
    serve_asgi,
)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "opskit" / "notebooks" / "token_check.ipynb"
PRACTICE_SECRET = "practice-only"
FAILURE_CODES = {c.code for c in raised_by(TOKEN_CHECK) if c.severity in ("critical", "high")}


pytestmark = pytest.mark.slow  # a notebook run and subprocesses


def small(**changes: Any) -> TenantFile:
    """The small test tenant with top-level sections changed (e.g. cloud=…, service_account=…)."""
    data = yaml.safe_load(SMALL.read_text())
    for key, value in changes.items():
        data[key] = {**data.get(key, {}), **value}
    return parse_tenant(data, "small+changes")


def cloud_at(origin: str, secret: str = PRACTICE_SECRET, **overrides: Any) -> Profile:
    """A cloud profile for a tenant URL, derived the way opskit.toml's `tenant` is."""
    base, token_url = cloud_urls(origin)
    return CloudProfile("t", base_url=base, token_url=token_url,
                        client_id="scim.integration@acme.com",
                        client_secret=SecretRef.practice(secret, "client_secret"), **overrides)


def issued_tokens(sb: RunningSandbox) -> list[str]:
    # The issuer keeps every live token; the tests read them only to prove none leaks.
    return list(sb.sandbox.issuer._tokens)


def codes(result: TokenCheck) -> list[str]:
    return [f.code for f in result.findings]


def statuses(result: TokenCheck) -> dict[str, str]:
    return {p.key: p.status for p in result.proves}


def shown(result: TokenCheck) -> str:
    """Everything the check can show: repr, JSON, the CLI text and the tables' text."""
    return "\n".join([repr(result), result.to_json(), result.render_text(),
                      result.findings_frame().to_string(), result.summary_frame().to_string(),
                      result.proves_frame().to_string()])


# ---------------------------------------------------------------------------- small servers
class FakePlatform:
    """A token endpoint and /scim/v2/Users with fixed answers (what the sandbox cannot play)."""

    TOKEN = "fake-platform-access-token-0123456789"

    def __init__(self, *, scope_granted: str | None = "xpm.platform", scim_status: int = 200,
                 scim_detail: str = "The access token is invalid or has expired."):
        self.scope_granted, self.scim_status = scope_granted, scim_status
        self.scim_detail = scim_detail
        self.scim_calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        path = scope["path"]
        if scope["method"] == "POST" and path.endswith("/token/xpmplatform"):
            body: dict[str, Any] = {"access_token": self.TOKEN, "token_type": "Bearer",
                                    "expires_in": 3600}
            if self.scope_granted is not None:
                body["scope"] = self.scope_granted
            await send_json(send, 200, json.dumps(body).encode(), b"application/json")
        elif path == "/scim/v2/Users" and self.scim_status == 200:
            body = {"schemas": [urns.LIST_RESPONSE], "totalResults": 1, "startIndex": 1,
                    "itemsPerPage": 1, "Resources": [{"id": "1", "userName": "a@acme.com"}]}
            await send_json(send, 200, json.dumps(body).encode())
        elif path == "/scim/v2/Users":
            self.scim_calls += 1
            body = {"schemas": [urns.ERROR], "status": str(self.scim_status),
                    "detail": self.scim_detail}
            await send_json(send, self.scim_status, json.dumps(body).encode())
        else:
            await send_json(send, 404, b"Not Found", b"text/plain")


async def plain_site(scope: Scope, receive: Receive, send: Send) -> None:
    """An ordinary web server: a home page, 404 for everything else (no token endpoint)."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    if scope["path"] == "/":
        await send_json(send, 200, b"<html><body>Welcome</body></html>", b"text/html")
    else:
        await send_json(send, 404, b"Not Found", b"text/plain")


async def login_page(scope: Scope, receive: Receive, send: Send) -> None:
    """A proxy or SSO that answers every request with an HTML sign-in page."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    page = b"<!DOCTYPE html><html><body><form>Sign in</form></body></html>"
    await send_json(send, 200, page, b"text/html; charset=utf-8")


# ---------------------------------------------------------------------------- the happy path
def test_a_good_token_proves_the_four_tenant_side_faq_items(sandbox: RunningSandbox) -> None:
    result = check_token(cloud_profile(sandbox))
    assert result.ok and codes(result) == [tc.TOKEN_OK]
    assert statuses(result) == {**dict.fromkeys(
        [tc.ROLE, tc.OAUTH_CLIENT, tc.SCOPE, tc.TENANT_URL], tc.PROVEN),
        tc.IGA_AUTHENTICATION: tc.NOT_CHECKED}  # the fifth needs the IGA's settings
    assert result.scope_granted == "xpm.platform" and result.expires_in == 3600
    assert "expires in 3600 s" in result.findings[0].message
    assert result.scim_call.outcome == tc.ACCEPTED and result.scim_call.status == 200
    assert result.scim_call.total_results == len(sandbox.tenant.file.users)
    m = result.metrics()
    assert (m["token_status"], m["scim_status"], m["expires_in"], m["scope_granted"]) == \
        (200, 200, 3600, "xpm.platform")
    assert m["proven"] == 4 and m["not_checked"] == 1 and m["elapsed_ms"] > 0
    assert {limit.what for limit in result.does_not_prove} >= {
        "Owner on folders and secrets", "Groups synced between the Platform and Secret Server"}
    json.loads(result.to_json())  # one valid JSON document
    [proves] = result.section("proves")  # the styled FAQ table
    assert isinstance(result, Report) and proves.data.equals(result.proves_frame())
    with pytest.raises(ValueError, match="no section 'nope'; its sections are summary, proves"):
        result.section("nope")


def test_the_check_never_shows_the_secret_or_the_token(sandbox: RunningSandbox) -> None:
    result = check_token(cloud_profile(sandbox))
    tokens = issued_tokens(sandbox)
    assert len(tokens) == 1  # the SCIM call sends the very token that was diagnosed
    text = shown(result)
    for secret in [PRACTICE_SECRET, *tokens]:
        assert secret not in text
    assert "access_token" not in text


def test_builtin_onprem_profile_marks_token_endpoint_items_not_applicable(
        sandbox: RunningSandbox) -> None:
    result = check_token(onprem_profile(sandbox))
    assert result.ok and codes(result) == [tc.STATIC_TOKEN_OK] and result.diagnosis is None
    assert statuses(result) == {tc.ROLE: tc.PROVEN, tc.OAUTH_CLIENT: tc.NOT_APPLICABLE,
                                tc.SCOPE: tc.NOT_APPLICABLE, tc.TENANT_URL: tc.PROVEN,
                                tc.IGA_AUTHENTICATION: tc.NOT_CHECKED}
    assert sandbox.tenant.file.onprem.token not in shown(result)


# ---------------------------------------------------------------------------- classified failures
def test_wrong_secret_is_token_invalid_client(sandbox: RunningSandbox) -> None:
    result = check_token(cloud_profile(
        sandbox, client_secret=SecretRef.practice("wrong-secret-123", "client_secret")))
    assert not result.ok and codes(result) == [tc.TOKEN_INVALID_CLIENT]
    finding = result.findings[0]
    assert finding.severity == "critical" and "service user" in finding.remediation
    # The Platform may refuse a token for a missing role in the same words.
    assert "Platform User role" in finding.remediation
    assert "Bypass Direct API Authentication Restriction" in finding.remediation
    assert statuses(result) == {tc.ROLE: tc.NOT_PROVEN, tc.OAUTH_CLIENT: tc.REFUTED,
                                tc.SCOPE: tc.NOT_PROVEN, tc.TENANT_URL: tc.PROVEN,
                                tc.IGA_AUTHENTICATION: tc.NOT_CHECKED}
    assert result.scim_call.outcome == tc.SKIPPED and result.metrics()["token_status"] == 401
    assert "wrong-secret-123" not in shown(result)


def test_wrong_scope_is_token_invalid_scope(sandbox: RunningSandbox) -> None:
    result = check_token(cloud_profile(sandbox, scope="bogus.scope"))
    assert codes(result) == [tc.TOKEN_INVALID_SCOPE]
    assert result.findings[0].severity == "critical"
    assert result.proof(tc.SCOPE).status == tc.NOT_PROVEN  # xpm.platform was not asked for


def test_refused_xpm_platform_is_refuted_and_the_alternate_scope_is_named() -> None:
    with running(small(cloud={"accepted_scopes": ["xpmheadless"]})) as sb:
        result = check_token(cloud_profile(sb))
    assert codes(result) == [tc.TOKEN_INVALID_SCOPE]
    assert result.proof(tc.SCOPE).status == tc.REFUTED
    assert result.metrics()["alternate_scope_granted"] == "xpmheadless"
    assert "does grant scope 'xpmheadless'" in result.findings[0].message


def test_unreachable_tenant() -> None:
    result = check_token(cloud_at(f"http://127.0.0.1:{closed_port()}"))
    assert codes(result) == [tc.TENANT_UNREACHABLE] and not result.ok
    assert "refused" in result.findings[0].message
    assert result.proof(tc.TENANT_URL).status == tc.NOT_PROVEN


def test_token_endpoint_not_found_on_a_plain_web_server() -> None:
    with serve_asgi(plain_site) as url:
        result = check_token(cloud_at(url))
    assert codes(result) == [tc.TOKEN_ENDPOINT_NOT_FOUND]
    assert result.proof(tc.TENANT_URL).status == tc.REFUTED
    assert result.metrics()["token_status"] == 404


def test_html_login_page_is_token_not_json() -> None:
    with serve_asgi(login_page) as url:
        result = check_token(cloud_at(url))
    assert codes(result) == [tc.TOKEN_NOT_JSON]
    assert "HTML" in result.findings[0].message
    assert result.proof(tc.TENANT_URL).status == tc.REFUTED


def test_no_scim_role_is_scim_access_denied() -> None:
    with running(small(service_account={"has_scim_role": False})) as sb:
        result = check_token(cloud_profile(sb))
    assert codes(result) == [tc.SCIM_ACCESS_DENIED] and not result.ok
    finding = result.findings[0]
    assert finding.severity == "critical"
    first = finding.remediation.index("Bypass Direct API Authentication Restriction")
    assert first < finding.remediation.index("Administer Secret Server Folders")
    assert "Manage Identity Settings" in finding.remediation
    # The token proves the client and the scope; the SCIM call refutes the role.
    assert statuses(result) == {tc.ROLE: tc.REFUTED, tc.OAUTH_CLIENT: tc.PROVEN,
                                tc.SCOPE: tc.PROVEN, tc.TENANT_URL: tc.PROVEN,
                                tc.IGA_AUTHENTICATION: tc.NOT_CHECKED}
    assert result.metrics()["scim_status"] == 403


@pytest.mark.parametrize(("scim_status", "code", "role_status"), [
    (401, tc.SCIM_TOKEN_REJECTED, tc.NOT_PROVEN),
    (403, tc.SCIM_ACCESS_DENIED, tc.REFUTED),
    (404, tc.SCIM_BASE_URL_WRONG, tc.NOT_PROVEN),
    (500, tc.SCIM_CALL_FAILED, tc.NOT_PROVEN),
])
def test_issued_token_refused_by_scim(scim_status: int, code: str, role_status: str) -> None:
    with serve_asgi(FakePlatform(scim_status=scim_status)) as url:
        result = check_token(cloud_at(url))
    assert codes(result) == [code] and not result.ok
    assert result.proof(tc.ROLE).status == role_status
    assert result.proof(tc.OAUTH_CLIENT).status == tc.PROVEN
    assert result.metrics()["scim_status"] == scim_status
    assert FakePlatform.TOKEN not in shown(result)


def test_no_platform_user_role_fails_at_token_time_and_names_the_role() -> None:
    with running(small(service_account={"has_platform_user_role": False})) as sb:
        result = check_token(cloud_profile(sb))
    assert codes(result) == [tc.TOKEN_CLIENT_NOT_AUTHORIZED] and not result.ok
    finding = result.findings[0]
    assert finding.severity == "critical" and "Platform User role" in finding.remediation
    assert finding.remediation == declared(tc.TOKEN_CLIENT_NOT_AUTHORIZED).remediation
    # unauthorized_client also fits a client not allowed the grant: a likely cause, said so,
    # and nothing proven about the OAuth client.
    assert "likely" in finding.message and "likely" in finding.remediation
    assert "likely it lacks the Platform User role" in result.proof(tc.ROLE).reason
    assert statuses(result) == {tc.ROLE: tc.REFUTED, tc.OAUTH_CLIENT: tc.NOT_PROVEN,
                                tc.SCOPE: tc.NOT_PROVEN, tc.TENANT_URL: tc.PROVEN,
                                tc.IGA_AUTHENTICATION: tc.NOT_CHECKED}
    assert "not allowed the client-credentials grant" in result.proof(tc.OAUTH_CLIENT).reason
    assert result.scim_call.outcome == tc.SKIPPED
    assert result.metrics()["token_cause"] == "client_not_authorized"


def test_a_disabled_onprem_connector_is_named_with_its_remedy() -> None:
    with running(small(onprem={"disabled": True})) as sb, \
            serve_asgi(proxy := ScimProxy(sb.url)) as url:
        through = url + sb.onprem_url.removeprefix(sb.url)
        result = check_token(replace(onprem_profile(sb), base_url=through))
    assert len(proxy.sent) == 1  # asked once: only an administrator re-enables it
    assert codes(result) == [tc.ONPREM_CONNECTOR_DISABLED] and not result.ok
    finding = result.findings[0]
    assert finding.severity == "critical" and "SCIM Connector has been disabled" in \
        finding.message
    assert r"C:\inetpub\wwwroot\SCIMConnector\Log" in finding.remediation
    assert "SCIM_Connector_Disabled" in finding.remediation
    assert result.proof(tc.TENANT_URL).status == tc.PROVEN  # it answered, as SCIM
    assert result.proof(tc.ROLE).status == tc.NOT_PROVEN
    assert result.metrics()["scim_outcome"] == tc.CONNECTOR_DISABLED


def test_secret_server_down_behind_the_cloud_leaves_the_token_check_green() -> None:
    # Users are the Platform's own: the token check passes, and the runbook's folder read is
    # where the outage shows (the secret-server-down rehearsal).
    with running(small(cloud={"secret_server_reachable": False})) as sb:
        assert check_token(cloud_profile(sb)).ok


@pytest.mark.parametrize(("status", "detail", "code"), [
    (503, "Secret Server unreachable.", tc.SECRET_SERVER_UNREACHABLE),
    (503, "Secret Server service unavailable.", tc.SECRET_SERVER_UNREACHABLE),
    (503, "SCIM Connector has been disabled. Contact an administrator.",
     tc.ONPREM_CONNECTOR_DISABLED),
    (503, "Service Unavailable", tc.SCIM_CALL_FAILED),  # no state named: the generic code
    (500, "Secret Server unreachable.", tc.SCIM_CALL_FAILED),  # the documented status is 503
])
def test_a_persistent_503_ends_in_its_own_code_within_the_retries(
        status: int, detail: str, code: str) -> None:
    platform = FakePlatform(scim_status=status, scim_detail=detail)
    with serve_asgi(platform) as url:
        result = check_token(cloud_at(url, limits=Limits(max_attempts=2)))
    assert codes(result) == [code] and not result.ok
    # Retried within the budget; a disabled connector is not: only an administrator clears it.
    retried = status == 503 and code != tc.ONPREM_CONNECTOR_DISABLED
    assert platform.scim_calls == (2 if retried else 1)
    assert result.findings[0].remediation == declared(code).remediation


@pytest.mark.parametrize(("status", "error", "code"), [
    (400, "unsupported_grant_type", tc.TOKEN_UNSUPPORTED_GRANT),
    (400, "something_else", tc.TOKEN_UNEXPECTED_RESPONSE),
])
def test_other_oauth_errors(status: int, error: str, code: str) -> None:
    with serve_asgi(OAuthError(status, error)) as url:
        result = check_token(cloud_at(url))
    assert codes(result) == [code] and result.findings[0].severity == "critical"
    assert error in result.findings[0].message


def iga_settings(path: Path, prof: Profile, **changes: Any) -> str:
    """An IGA settings file with what the tenant needs, changed as asked (None drops a key)."""
    settings = {"base_url": prof.base_url, "authentication": "OAuth 2.0",
                "grant_type": "Client Credentials", "token_url": prof.token_url,
                "request_parameters": {"scope": "xpm.platform"}, **changes}
    path.write_text(yaml.safe_dump({k: v for k, v in settings.items() if v is not None}))
    return str(path)


def test_the_fifth_faq_item_needs_the_iga_settings_and_is_proven_only_by_them(
        sandbox: RunningSandbox, tmp_path: Path) -> None:
    prof = cloud_profile(sandbox)
    matching = check_token(prof, iga_settings=iga_settings(tmp_path / "ok.yaml", prof))
    assert matching.ok and codes(matching) == [tc.TOKEN_OK]
    assert matching.proof(tc.IGA_AUTHENTICATION).status == tc.PROVEN
    no_scope = check_token(prof, iga_settings=iga_settings(tmp_path / "bad.yaml", prof,
                                                           request_parameters=None))
    assert not no_scope.ok and codes(no_scope) == ["IGA_SCOPE_MISSING"]
    proof = no_scope.proof(tc.IGA_AUTHENTICATION)
    assert proof.status == tc.REFUTED and "IGA_SCOPE_MISSING" in proof.reason
    # Right settings, refused credentials: the IGA would fail as well.
    refused = check_token(cloud_profile(sandbox, client_secret=SecretRef.practice(
        "wrong-secret-123", "client_secret")), iga_settings=str(tmp_path / "ok.yaml"))
    assert refused.proof(tc.IGA_AUTHENTICATION).status == tc.NOT_PROVEN


def test_the_cli_takes_the_iga_settings(profiles: dict[str, str], sandbox: RunningSandbox,
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from opskit import cli

    for key, value in profiles.items():
        monkeypatch.setenv(key, value)
    path = iga_settings(tmp_path / "iga.yaml", cloud_profile(sandbox),
                        base_url="https://elsewhere.delinea.app/scim/v2")
    assert cli.main(["token-check", "--profile", "good", "--iga-settings", path]) == 1
    out = capsys.readouterr().out
    assert "IGA_BASE_URL_MISMATCH" in out and "refuted" in out


@pytest.mark.parametrize(("granted", "code", "scope_status"), [
    ("xpmheadless", tc.TOKEN_SCOPE_NOT_GRANTED, tc.REFUTED),
    ("xpm.platform other.scope", tc.TOKEN_SCOPE_NOT_GRANTED, tc.REFUTED),
    (None, tc.TOKEN_SCOPE_NOT_STATED, tc.NOT_PROVEN),
])
def test_scope_granted_must_equal_the_scope_requested(granted: str | None, code: str,
                                                      scope_status: str) -> None:
    with serve_asgi(FakePlatform(scope_granted=granted)) as url:
        result = check_token(cloud_at(url))
    assert codes(result)[-1] == code
    assert result.proof(tc.SCOPE).status == scope_status
    assert result.ok == (code not in FAILURE_CODES)


def test_a_scope_other_than_xpm_platform_is_not_proof_of_it(sandbox: RunningSandbox) -> None:
    result = check_token(cloud_profile(sandbox, scope="xpmheadless"))
    assert result.ok and codes(result) == [tc.TOKEN_OK, tc.TOKEN_SCOPE_NOT_XPM_PLATFORM]
    assert result.proof(tc.SCOPE).status == tc.NOT_PROVEN


def test_onprem_wrong_static_token_and_wrong_base_url(sandbox: RunningSandbox) -> None:
    wrong = OnPremProfile("op", base_url=sandbox.onprem_url,
                          token=SecretRef.practice("not-the-endpoint-token", "token"))
    result = check_token(wrong)
    assert codes(result) == [tc.STATIC_TOKEN_REJECTED]
    assert result.proof(tc.OAUTH_CLIENT).status == tc.NOT_APPLICABLE
    elsewhere = OnPremProfile("op", base_url=sandbox.url + "/Elsewhere/v2",
                              token=SecretRef.practice(sandbox.tenant.file.onprem.token, "token"))
    result = check_token(elsewhere)
    assert codes(result) == [tc.SCIM_BASE_URL_WRONG]
    assert result.proof(tc.TENANT_URL).status == tc.REFUTED


def test_bad_input_raises_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="unknown profile"):
        check_token("no-such-profile")
    monkeypatch.delenv("OPSKIT_TEST_UNSET_SECRET", raising=False)
    prof = cloud_at(f"http://127.0.0.1:{closed_port()}")
    unset = CloudProfile("t", base_url=prof.base_url, token_url=prof.token_url,
                         client_id="x@acme.com",
                         client_secret=SecretRef("env:OPSKIT_TEST_UNSET_SECRET"))
    with pytest.raises(ConfigError, match="OPSKIT_TEST_UNSET_SECRET"):
        check_token(unset)


def test_every_code_is_in_the_findings_catalogue() -> None:
    # docs/findings.md is checked against every declared code in tests/test_findings.py.
    catalogue = {c.code for c in raised_by(TOKEN_CHECK)}
    for code in ("TOKEN_INVALID_CLIENT", "TOKEN_INVALID_SCOPE", "TOKEN_UNSUPPORTED_GRANT",
                 "TOKEN_NOT_JSON", "TENANT_UNREACHABLE", "TOKEN_ENDPOINT_NOT_FOUND",
                 "SCIM_ACCESS_DENIED", "SCIM_TOKEN_REJECTED", "TOKEN_SCOPE_NOT_GRANTED",
                 "TOKEN_OK", "STATIC_TOKEN_REJECTED"):
        assert code in catalogue


# ---------------------------------------------------------------------------- the CLI
def opskit(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opskit.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd, env={**os.environ, **(env or {})})


@pytest.fixture
def profiles(tmp_path: Path, sandbox: RunningSandbox) -> Iterator[dict[str, str]]:
    """An opskit.toml with a good and a bad profile for the running sandbox, secrets via env."""
    config = tmp_path / "opskit.toml"
    config.write_text(f"""
[profiles.good]
kind = "cloud"
tenant = "{sandbox.url}"
client_id = "scim.integration@acme.com"
client_secret = "env:TOKEN_CHECK_GOOD"

[profiles.bad]
kind = "cloud"
tenant = "{sandbox.url}"
client_id = "scim.integration@acme.com"
client_secret = "env:TOKEN_CHECK_BAD"

[profiles.unset]
kind = "cloud"
tenant = "{sandbox.url}"
client_id = "scim.integration@acme.com"
client_secret = "env:TOKEN_CHECK_UNSET"
""", encoding="utf-8")
    yield {"OPSKIT_CONFIG": str(config), "TOKEN_CHECK_GOOD": PRACTICE_SECRET,
           "TOKEN_CHECK_BAD": "wrong-practice-secret"}


def test_cli_passes_with_exit_0_and_shows_what_it_proves(
        profiles: dict[str, str], sandbox: RunningSandbox, tmp_path: Path) -> None:
    r = opskit("token-check", "--profile", "good", env=profiles, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Result: PASS" in r.stdout and "TOKEN_OK" in r.stdout
    assert r.stdout.count("proven ") >= 4 and "Owner on folders" in r.stdout
    for secret in [PRACTICE_SECRET, *issued_tokens(sandbox)]:
        assert secret not in r.stdout + r.stderr


def test_cli_json_fails_with_exit_1_on_a_wrong_secret(
        profiles: dict[str, str], sandbox: RunningSandbox, tmp_path: Path) -> None:
    r = opskit("token-check", "--profile", "bad", "--json", env=profiles, cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    assert [f["code"] for f in doc["findings"]] == ["TOKEN_INVALID_CLIENT"]
    assert doc["ok"] is False and doc["diagnosis"]["status"] == 401
    assert {p["key"]: p["status"] for p in doc["proves"]}["oauth_client"] == "refuted"
    assert doc["metrics"]["token_cause"] == "invalid_client"
    assert "wrong-practice-secret" not in r.stdout + r.stderr


def test_cli_unreachable_tenant_is_a_finding_not_bad_input(tmp_path: Path) -> None:
    config = tmp_path / "opskit.toml"
    config.write_text(f"""[profiles.gone]
kind = "cloud"
tenant = "http://127.0.0.1:{closed_port()}"
client_id = "scim.integration@acme.com"
client_secret = "env:TOKEN_CHECK_GOOD"
""", encoding="utf-8")
    r = opskit("token-check", "--profile", "gone", cwd=tmp_path,
               env={"OPSKIT_CONFIG": str(config), "TOKEN_CHECK_GOOD": PRACTICE_SECRET})
    assert r.returncode == 1 and "TENANT_UNREACHABLE" in r.stdout
    assert "Result: FAIL" in r.stdout and "->" in r.stdout  # the remediation is shown


def test_cli_bad_input_exits_2(profiles: dict[str, str], tmp_path: Path) -> None:
    r = opskit("token-check", "--profile", "no-such-profile", env=profiles, cwd=tmp_path)
    assert r.returncode == 2 and "unknown profile 'no-such-profile'" in r.stderr
    r = opskit("token-check", "--profile", "unset", "--json", env=profiles, cwd=tmp_path)
    assert r.returncode == 2 and "TOKEN_CHECK_UNSET is not set" in r.stderr
    assert r.stdout == "" and "Traceback" not in r.stderr


def test_cli_default_profile_is_the_practice_tenant(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OPSKIT_CONFIG",
                                                          "OPSKIT_SANDBOX_URL")}
    r = subprocess.run([sys.executable, "-m", "opskit.cli", "token-check", "--json"],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path,
                       env={**env, "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["profile"] == "sandbox" and doc["ok"] is True
    assert PRACTICE_SECRET not in r.stdout


# ---------------------------------------------------------------------------- the notebook
def test_notebook_hygiene() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and 'profile = "sandbox"' in params[0].source
    assert 'iga_settings = ""' in params[0].source
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert all(len(c.source.splitlines()) <= 12 for c in code)
    assert code[-1].source.strip() == "record(result.findings, result.metrics());"
    assert nb.metadata.kernelspec == {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                      "language": "python"}


def test_notebook_runs_headless_and_records_no_failures(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import papermill

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    # The kernel inherits the environment: record() writes record.json there.
    monkeypatch.setenv("OPSKIT_RUN_DIR", str(run_dir))
    monkeypatch.delenv("OPSKIT_SANDBOX_URL", raising=False)
    out = tmp_path / "token_check.out.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(out), parameters={"profile": "sandbox"},
                               progress_bar=False, cwd=str(tmp_path))
    recorded = json.loads((run_dir / "record.json").read_text(encoding="utf-8"))
    found = [f["code"] for f in recorded["findings"]]
    assert found == ["TOKEN_OK"] and not FAILURE_CODES & set(found)
    assert recorded["metrics"]["scope_granted"] == "xpm.platform"
    assert PRACTICE_SECRET not in out.read_text(encoding="utf-8")
