"""The token check: does a token come back, with the right scope, and what does it prove?

Delinea's FAQ ("Why Token Retrieval is Required?") says retrieving a token confirms the service
account and its custom SCIM role, that the OAuth client is active and accepts credentials, the
scope (xpm.platform) and the tenant URL, and that it prevents authentication failures in
SailPoint later. A token on its own shows only part of that: the Platform issues tokens to a
service user whose role cannot use SCIM, and every SCIM call then answers 403. So the check asks
for a token (``opskit.auth.diagnose_token``), then makes ONE authenticated SCIM read with the same
credentials (``GET /Users?count=1``: ServiceProviderConfig may be served without authentication,
so it would not show that the token is accepted), and marks each FAQ item proven, not proven,
refuted or not applicable, with a one-line reason. The fifth item is about the IGA's side: it is
proven only against the IGA's own settings (``iga_settings``), and otherwise not checked.

An on-prem profile has no token endpoint: the check is the SCIM read with the endpoint's static
token, and the token-endpoint items are not applicable.

The result never holds a token or a secret: only the diagnosis, statuses and the findings.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from .. import auth, http
from .._redact import redact
from ..auth import BearerAuth, TokenDiagnosis, diagnose_token, request_token
from ..config import DEFAULT_SCOPE, Endpoint
from ..errors import (
    AuthError,
    ConfigError,
    ConnectorDisabled,
    NotScimResponse,
    ScimAccessDenied,
    ScimError,
    ScimNotFound,
    ScimUnauthorized,
    SecretServerUnreachable,
    TransportError,
)
from ..findings import DEFAULT_FAIL_ON, Finding, at_or_above, finding
from ..scim import SyncScimClient
from ..scim.responses import list_page, scim_json
from .engine import findings as engine_findings
from .engine import run_checks
from .iga import iga_checks

# The SCIM read that shows the token is accepted for SCIM data: authenticated on every server,
# served by both connectors, one small page.
READ_PATH = "Users"
READ_PARAMS = {"count": 1}
# Short retries: a check should answer within seconds, not wait out the inventory's budget.
# The other scope Delinea's own clients use against the same token URL (the platform API
# token script in github.com/DelineaXPM/delinea-platform): tried
# once when the requested one is refused, to say whether the tenant grants it instead.
ALTERNATE_SCOPES = {"xpm.platform": "xpmheadless", "xpmheadless": "xpm.platform"}

# ------------------------------------------------------------------------------- finding codes
# Stable codes, declared in opskit.findings (severity, remediation) and documented in
# docs/findings.md.
TOKEN_OK = "TOKEN_OK"
STATIC_TOKEN_OK = "STATIC_TOKEN_OK"
TENANT_UNREACHABLE = "TENANT_UNREACHABLE"
TOKEN_ENDPOINT_NOT_FOUND = "TOKEN_ENDPOINT_NOT_FOUND"
TOKEN_INVALID_CLIENT = "TOKEN_INVALID_CLIENT"
TOKEN_INVALID_SCOPE = "TOKEN_INVALID_SCOPE"
TOKEN_UNSUPPORTED_GRANT = "TOKEN_UNSUPPORTED_GRANT"
TOKEN_NOT_JSON = "TOKEN_NOT_JSON"
TOKEN_UNEXPECTED_RESPONSE = "TOKEN_UNEXPECTED_RESPONSE"
TOKEN_SCOPE_NOT_GRANTED = "TOKEN_SCOPE_NOT_GRANTED"
TOKEN_SCOPE_NOT_STATED = "TOKEN_SCOPE_NOT_STATED"
TOKEN_SCOPE_NOT_XPM_PLATFORM = "TOKEN_SCOPE_NOT_XPM_PLATFORM"
SCIM_ACCESS_DENIED = "SCIM_ACCESS_DENIED"
SCIM_TOKEN_REJECTED = "SCIM_TOKEN_REJECTED"
STATIC_TOKEN_REJECTED = "STATIC_TOKEN_REJECTED"
SCIM_BASE_URL_WRONG = "SCIM_BASE_URL_WRONG"
SCIM_CALL_FAILED = "SCIM_CALL_FAILED"
TOKEN_CLIENT_NOT_AUTHORIZED = "TOKEN_CLIENT_NOT_AUTHORIZED"
SECRET_SERVER_UNREACHABLE = "SECRET_SERVER_UNREACHABLE"
ONPREM_CONNECTOR_DISABLED = "ONPREM_CONNECTOR_DISABLED"
# The connector states a SCIM answer names (opskit.scim.responses recognises them), by code.
CONNECTOR_STATES: dict[type[ScimError], str] = {
    SecretServerUnreachable: SECRET_SERVER_UNREACHABLE,
    ConnectorDisabled: ONPREM_CONNECTOR_DISABLED,
}

# ------------------------------------------------------------------------------- what it proves
PROVEN, NOT_PROVEN, REFUTED, NOT_APPLICABLE = "proven", "not proven", "refuted", "not applicable"
# What the check cannot say without something it was not given (the IGA's settings).
NOT_CHECKED = "not checked"
PROOF_STATUSES = (PROVEN, NOT_PROVEN, REFUTED, NOT_APPLICABLE, NOT_CHECKED)

# The FAQ's list, in its order.
ROLE, OAUTH_CLIENT, SCOPE, TENANT_URL = "service_account_role", "oauth_client", "scope", \
    "tenant_url"
IGA_AUTHENTICATION = "iga_authentication"
CLAIMS = {
    ROLE: "Service account and custom SCIM role configured",
    OAUTH_CLIENT: "OAuth client active and accepting credentials",
    SCOPE: f"Correct scope ({DEFAULT_SCOPE}) granted",
    TENANT_URL: "Tenant URL correct",
    IGA_AUTHENTICATION: "No authentication failures in the IGA later (SailPoint)",
}
# The IGA checks whose settings decide how the IGA authenticates (filters do not).
_IGA_AUTH_CHECKS = ("iga.base_url", "iga.authentication", "iga.token_url", "iga.scope")


@dataclass(frozen=True)
class Proof:
    """One FAQ item: proven, not proven, refuted or not applicable, and why (one line)."""

    key: str
    claim: str
    status: str
    reason: str


@dataclass(frozen=True)
class Limit:
    """Something a passing token check does NOT show, and where to look instead."""

    what: str
    why: str


_LIMITS = [
    Limit("Owner on folders and secrets",
          "Containers, ContainerPermissions and PrivilegedData list only what the service "
          "account owns; a token says nothing about which (run permission_audit)."),
    Limit("Groups synced between the Platform and Secret Server",
          "a Platform group appears in Secret Server only after Platform Groups Sync "
          "(run group_gap_report)."),
    Limit("Write permissions",
          "the check reads one page of users; creating users, groups, folders and folder "
          "permissions uses role permissions it does not exercise."),
    Limit("The IGA's network path and secret",
          "this check ran from this machine, not from the IGA; the IGA's settings are compared "
          "only when given (iga_settings), and never its copy of the secret."),
]
_CLOUD_LIMIT = Limit("That the credentials keep working",
                     "the token lives only expires_in seconds, and a rotated service-user "
                     "password or disabled OAuth2 client breaks the next one: schedule this "
                     "check.")
_ONPREM_LIMIT = Limit("That the static token keeps working",
                      "it lapses after 'Non-Expiry Token' days (default 730) and is invalidated "
                      "when regenerated or the endpoint is deleted: schedule this check.")

# ------------------------------------------------------------------------------- the SCIM call
ACCEPTED, DENIED, REJECTED, NOT_SCIM, UNREACHABLE, FAILED, SKIPPED = (
    "accepted", "access_denied", "rejected", "not_scim", "unreachable", "failed", "skipped")
# The connector answered as SCIM, but in a state where it serves nothing (CONNECTOR_STATES).
CONNECTOR_DISABLED, SECRET_SERVER_DOWN = "connector_disabled", "secret_server_unreachable"
_ANSWERED = (ACCEPTED, DENIED, REJECTED, CONNECTOR_DISABLED, SECRET_SERVER_DOWN)
_STATE_OUTCOMES = {ONPREM_CONNECTOR_DISABLED: CONNECTOR_DISABLED,
                   SECRET_SERVER_UNREACHABLE: SECRET_SERVER_DOWN}


@dataclass
class ScimCall:
    """The one authenticated SCIM read: its status and what it showed (no resource data)."""

    method: str
    url: str
    outcome: str = SKIPPED
    status: int | None = None
    proved: str = "nothing: no token to send"
    detail: str = ""
    total_results: int | None = None
    elapsed_ms: float | None = None


@dataclass
class TokenEvidence:
    """What the token check established: the diagnosis, the SCIM call, what they prove and do
    not, the findings, and ``measured`` (what results.json records). Never a token or secret."""

    profile: str
    flavor: str
    scim_base: str
    diagnosis: TokenDiagnosis | None
    scim_call: ScimCall
    proves: list[Proof]
    does_not_prove: list[Limit]
    findings: list[Finding]
    measured: dict[str, Any] = field(default_factory=dict)

    # -- verdict ---------------------------------------------------------------------------
    @property
    def failures(self) -> list[Finding]:
        """Findings at or above the failure threshold (high)."""
        return [f for f in self.findings if at_or_above(f.severity, DEFAULT_FAIL_ON)]

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def scope_granted(self) -> str | None:
        return self.diagnosis.scope_granted if self.diagnosis else None

    @property
    def expires_in(self) -> int | None:
        return self.diagnosis.expires_in if self.diagnosis else None

    def proof(self, key: str) -> Proof:
        return next(p for p in self.proves if p.key == key)

    def __repr__(self) -> str:
        # Short on purpose: the notebook shows tables, and a repr never needs the claims.
        return (f"{type(self).__name__}(profile={self.profile!r}, flavor={self.flavor!r}, "
                f"ok={self.ok}, findings={[f.code for f in self.findings]!r})")

    # -- machine-readable --------------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile, "flavor": self.flavor, "ok": self.ok,
            "scim_base": self.scim_base,
            "diagnosis": self.diagnosis.as_dict() if self.diagnosis else None,
            "scim_call": asdict(self.scim_call),
            "proves": [asdict(p) for p in self.proves],
            "does_not_prove": [asdict(limit) for limit in self.does_not_prove],
            "findings": [f.as_dict() for f in self.findings],
            "metrics": self.measured,
        }

    def to_json(self, indent: int | None = 2) -> str:
        # Redacted once more: a server's error text could in theory echo a credential.
        return redact(json.dumps(self.as_dict(), indent=indent, default=str))

    # -- for people: text -----------------------------------------------------------------
    def token_line(self) -> str:
        """The token request in one line."""
        d = self.diagnosis
        if d is None:
            return "static bearer token (on-prem endpoint): no token request"
        if not d.ok:
            return f"refused: {d.detail}"
        expiry = f"expires in {d.expires_in} s" if d.expires_in is not None else \
            "no expiry stated"
        if d.expires_at is not None:
            expiry += f" (at {d.expires_at:%Y-%m-%d %H:%M:%S} UTC)"
        elapsed = f" in {d.elapsed_ms:.0f} ms" if d.elapsed_ms is not None else ""
        return (f"issued{elapsed}: {d.token_type or 'no token_type'}, scope "
                f"{d.scope_granted or '(not stated)'}, {expiry}")

    def scim_line(self) -> str:
        """The SCIM read in one line."""
        c = self.scim_call
        status = f"{c.status}" if c.status is not None else "no answer"
        if c.outcome == SKIPPED:
            return f"{c.method} {c.url}: not sent ({c.proved})"
        return f"{c.method} {c.url} -> {status}: {c.proved}"


# =================================================================================== the check
def run_token_check(prof: Endpoint, entered: dict[str, Any] | None = None) -> TokenEvidence:
    """Retrieve a token, make one SCIM read with the same credentials, say what that proves.

    ``prof`` is a connected profile (:func:`opskit.config.connect`); ``entered``, the IGA's
    settings as read from its file (:func:`opskit.inputs.iga_settings.load_settings`), lets the
    check answer the FAQ's fifth item, no authentication failures in the IGA later; without
    them that item is not checked. A refused token, an unreachable tenant, a refused SCIM call
    or an IGA setting that differs is a finding; a profile that cannot be used as written
    raises ConfigError. The token check report (:mod:`opskit.reports.token_check`) wraps it."""
    _resolve_credentials(prof)
    started = time.perf_counter()
    result = _check_cloud(prof, entered) if prof.flavor == "cloud" else \
        _check_onprem(prof, entered)
    result.measured["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _resolve_credentials(prof: Endpoint) -> None:
    """Resolve the profile's secret reference now: a bad one is bad input, not a finding."""
    if prof.flavor == "cloud":
        if prof.client_secret is None or not prof.client_id:
            raise ConfigError(f"profile {prof.name!r} has no client_id or client_secret",
                              "set client_id and client_secret = \"env:NAME\" in the profile")
        prof.client_secret.resolve()
    else:
        if prof.token is None:
            raise ConfigError(f"profile {prof.name!r} has no token", "set token = \"env:NAME\"")
        prof.token.resolve()


def _finding(code: str, subject: str, message: str, variant: str | None = None) -> Finding:
    return finding(code, subject, redact(message), variant=variant)


# ------------------------------------------------------------------------------- cloud
def _check_cloud(prof: Endpoint, entered: dict[str, Any] | None) -> TokenEvidence:
    d, token = request_token(prof)
    call = ScimCall("GET", _shown_read_url(prof))
    findings: list[Finding] = []
    alternate: str | None = None
    if not d.ok:
        if d.cause == auth.INVALID_SCOPE:
            alternate = _alternate_scope_granted(prof, d.scope_requested)
        findings.append(_token_failure(d, alternate))
    else:
        call = _scim_read(prof, BearerAuth(token) if token else None)
        findings += _scope_findings(d)
        findings += _call_findings(prof, call)
    role = _role_proof(call, "cloud") if d.cause != auth.CLIENT_NOT_AUTHORIZED else _proof(
        ROLE, REFUTED, "the token endpoint refused a token to accepted credentials "
        "(unauthorized_client), so the service user is not set up to get one: likely it lacks "
        "the Platform User role")
    iga, iga_findings = _iga_proof(prof, entered, call)
    proves = [role, _client_proof(d), _scope_proof(d), _cloud_url_proof(d, call), iga]
    result = TokenEvidence(prof.name, "cloud", prof.base_url, d, call, proves,
                        [*_LIMITS, _CLOUD_LIMIT], [*findings, *iga_findings])
    if result.ok:
        result.findings.insert(0, _finding(
            TOKEN_OK, d.client_id, f"Token {result.token_line()}; accepted by SCIM "
            f"({call.method} {READ_PATH} {call.status})"))
    result.measured = _metrics(result, alternate)
    return result


def _alternate_scope_granted(prof: Endpoint, refused: str) -> str | None:
    """The other known scope, if the tenant grants it to these credentials (one more request)."""
    other = ALTERNATE_SCOPES.get(refused)
    if other is None:
        return None
    return other if diagnose_token(prof, scope=other).ok else None


def _token_failure(d: TokenDiagnosis, alternate_scope: str | None) -> Finding:
    code = auth.CAUSE_CODES.get(d.cause, TOKEN_UNEXPECTED_RESPONSE)
    subject = d.client_id if code in (TOKEN_INVALID_CLIENT, TOKEN_CLIENT_NOT_AUTHORIZED,
                                      TOKEN_INVALID_SCOPE, TOKEN_UNSUPPORTED_GRANT) \
        else d.token_url
    what = {
        TENANT_UNREACHABLE: "the token endpoint could not be reached",
        TOKEN_ENDPOINT_NOT_FOUND: "the host answers but has no token endpoint at this path",
        TOKEN_INVALID_CLIENT: "the service user's credentials were refused",
        TOKEN_CLIENT_NOT_AUTHORIZED: "the credentials were accepted, but the service user "
                                     "may not get a token (likely: no Platform User role)",
        TOKEN_INVALID_SCOPE: f"the scope {d.scope_requested!r} was refused",
        TOKEN_UNSUPPORTED_GRANT: "the client-credentials grant was refused",
        TOKEN_NOT_JSON: "the token URL did not answer with a token",
    }.get(code, "the token endpoint answered in an unexpected way")
    # Not "token: …": the redaction pattern would take the next word for a credential.
    message = f"No token was issued: {what} ({d.detail})."
    if alternate_scope:
        message += f" The tenant does grant scope {alternate_scope!r} to these credentials."
    return _finding(code, subject, message)  # its remedy is the diagnosis's (opskit.auth)


def _scope_findings(d: TokenDiagnosis) -> list[Finding]:
    granted = set((d.scope_granted or "").split())
    if not granted:
        return [_finding(TOKEN_SCOPE_NOT_STATED, d.client_id,
                         f"The token answer names no scope (asked for {d.scope_requested!r}), "
                         "and the token carries no scope claim.")]
    if granted != {d.scope_requested}:
        return [_finding(TOKEN_SCOPE_NOT_GRANTED, d.client_id,
                         f"Asked for scope {d.scope_requested!r}, granted {d.scope_granted!r}.")]
    if d.scope_requested != DEFAULT_SCOPE:
        return [_finding(TOKEN_SCOPE_NOT_XPM_PLATFORM, d.client_id,
                         f"The profile asks for scope {d.scope_requested!r}, not "
                         f"{DEFAULT_SCOPE!r}: the check does not prove the scope the IGA's "
                         "source is documented with.")]
    return []


def _client_proof(d: TokenDiagnosis) -> Proof:
    if d.ok:
        return _proof(OAUTH_CLIENT, PROVEN, f"a token was issued to {d.client_id}")
    if d.cause in (auth.INVALID_CLIENT, auth.UNSUPPORTED_GRANT):
        return _proof(OAUTH_CLIENT, REFUTED, f"the token request was refused: {d.detail}")
    if d.cause == auth.CLIENT_NOT_AUTHORIZED:
        # RFC 6749 §5.2 gives unauthorized_client to a client not allowed this grant too.
        return _proof(OAUTH_CLIENT, NOT_PROVEN, f"the token was refused ({d.detail}): the "
                      "credentials were accepted, but the same answer means a client not "
                      "allowed the client-credentials grant")
    if d.cause == auth.INVALID_SCOPE:
        return _proof(OAUTH_CLIENT, NOT_PROVEN, "the scope was refused before a token was "
                      "issued; a server may check the scope before the credentials")
    return _proof(OAUTH_CLIENT, NOT_PROVEN, f"no OAuth answer: {d.detail}")


def _scope_proof(d: TokenDiagnosis) -> Proof:
    if d.ok:
        granted = set((d.scope_granted or "").split())
        if not granted:
            return _proof(SCOPE, NOT_PROVEN, "the answer names no scope (RFC 6749 allows that "
                          "when it equals the request)")
        if granted != {d.scope_requested}:
            return _proof(SCOPE, REFUTED, f"asked for {d.scope_requested}, granted "
                          f"{d.scope_granted}")
        if d.scope_requested != DEFAULT_SCOPE:
            return _proof(SCOPE, NOT_PROVEN, f"granted {d.scope_granted} as asked; "
                          f"{DEFAULT_SCOPE} was not requested")
        return _proof(SCOPE, PROVEN, f"the token was granted exactly {DEFAULT_SCOPE}")
    if d.cause == auth.INVALID_SCOPE:
        status = REFUTED if d.scope_requested == DEFAULT_SCOPE else NOT_PROVEN
        return _proof(SCOPE, status, f"the scope {d.scope_requested} was refused ({d.detail})")
    return _proof(SCOPE, NOT_PROVEN, "no token was issued")


def _cloud_url_proof(d: TokenDiagnosis, call: ScimCall) -> Proof:
    if d.cause in (auth.TOKEN_ENDPOINT_NOT_FOUND, auth.NOT_JSON):
        return _proof(TENANT_URL, REFUTED, f"the token URL is not a token endpoint: {d.detail}")
    if d.cause == auth.TENANT_UNREACHABLE:
        return _proof(TENANT_URL, NOT_PROVEN, f"the host was not reached: {d.detail}")
    if d.cause in (auth.INVALID_CLIENT, auth.CLIENT_NOT_AUTHORIZED, auth.INVALID_SCOPE,
                   auth.UNSUPPORTED_GRANT):
        return _proof(TENANT_URL, PROVEN, "the token URL answered as an OAuth token endpoint "
                      f"(HTTP {d.status} {d.error or ''})".rstrip())
    if not d.ok:
        return _proof(TENANT_URL, NOT_PROVEN, f"the token URL answered unexpectedly: {d.detail}")
    if call.outcome == NOT_SCIM:
        return _proof(TENANT_URL, REFUTED, "a token was issued, but the SCIM base is not a SCIM "
                      f"service: {call.detail}")
    if call.outcome in _ANSWERED:
        return _proof(TENANT_URL, PROVEN, "the token endpoint issued a token and the SCIM base "
                      "answered as SCIM")
    return _proof(TENANT_URL, PROVEN, "the token endpoint issued a token; the SCIM base was not "
                  f"confirmed ({call.outcome})")


# ------------------------------------------------------------------------------- on-prem
def _check_onprem(prof: Endpoint, entered: dict[str, Any] | None) -> TokenEvidence:
    call = _scim_read(prof)
    na = "the on-prem connector authenticates with the endpoint's static bearer token"
    iga, iga_findings = _iga_proof(prof, entered, call)
    proves = [_role_proof(call, "onprem"),
              _proof(OAUTH_CLIENT, NOT_APPLICABLE, f"{na}, not an OAuth client"),
              _proof(SCOPE, NOT_APPLICABLE, f"{na}, which has no OAuth scope"),
              _onprem_url_proof(call), iga]
    result = TokenEvidence(prof.name, "onprem", prof.base_url, None, call, proves,
                        [*_LIMITS, _ONPREM_LIMIT], [*_call_findings(prof, call), *iga_findings])
    if result.ok:
        result.findings.insert(0, _finding(
            STATIC_TOKEN_OK, prof.base_url, f"The endpoint's static token is accepted "
            f"({call.method} {READ_PATH} {call.status}); it does not expire like an OAuth "
            "token but lapses after the connector's 'Non-Expiry Token' days."))
    result.measured = _metrics(result, None)
    return result


def _onprem_url_proof(call: ScimCall) -> Proof:
    if call.outcome in _ANSWERED:
        return _proof(TENANT_URL, PROVEN, "the SCIM base answered as a SCIM service")
    if call.outcome == NOT_SCIM:
        return _proof(TENANT_URL, REFUTED, f"the SCIM base is not a SCIM service: {call.detail}")
    return _proof(TENANT_URL, NOT_PROVEN, f"the SCIM base did not answer: {call.detail}")


# ------------------------------------------------------------------------------- both flavors
def _iga_proof(prof: Endpoint, entered: dict[str, Any] | None,
               call: ScimCall) -> tuple[Proof, list[Finding]]:
    """The FAQ's fifth item: proven only by the IGA's own settings matching the tenant (the
    IGA_* checks) and these credentials being accepted; not checked without the settings."""
    if entered is None:
        return _proof(IGA_AUTHENTICATION, NOT_CHECKED, "needs the IGA's settings: give "
                      "iga_settings, a file of what was entered in the IGA's source"), []
    ran = run_checks(iga_checks(prof, entered))
    found = engine_findings(ran, prof.name)
    wrong = [r.result.code for r in ran
             if r.check.id in _IGA_AUTH_CHECKS and r.result.outcome == "fail"]
    if wrong:
        return _proof(IGA_AUTHENTICATION, REFUTED, "the IGA's settings differ from what the "
                      f"tenant needs: {', '.join(str(c) for c in wrong)}"), found
    if call.outcome != ACCEPTED:
        return _proof(IGA_AUTHENTICATION, NOT_PROVEN, "the IGA's settings match, but the tenant "
                      "did not accept these credentials, so the IGA would fail too"), found
    return _proof(IGA_AUTHENTICATION, PROVEN, "the IGA's base URL, authentication"
                  + (", token URL and scope" if prof.flavor == "cloud" else "")
                  + " match the tenant's, and the credentials work; the IGA must hold the "
                  "same ones (its copy is never read)"), found


def _read_url(prof: Endpoint) -> str:
    return f"{prof.base_url.rstrip('/')}/{READ_PATH}"


def _shown_read_url(prof: Endpoint) -> str:
    return f"{_read_url(prof)}?count={READ_PARAMS['count']}"


def _scim_read(prof: Endpoint, bearer: httpx.Auth | None = None) -> ScimCall:
    """GET /Users?count=1 with the token just diagnosed (cloud) or the static token."""
    call = ScimCall("GET", _shown_read_url(prof))
    started = time.perf_counter()
    try:
        # One answer within seconds (a check, not the inventory's patience), read raw: its
        # status is part of the diagnosis even when its body is not SCIM.
        with SyncScimClient.for_profile(prof, policy=http.RetryPolicy.first_contact(
                prof.limits), auth=bearer) as scim:
            response = scim.send("GET", READ_PATH, params=READ_PARAMS)
        call.status = response.status_code
        total, _resources = list_page(scim_json(response), response)
    except AuthError as exc:
        # The flow's own token request failed although the check's first one succeeded.
        call.outcome, call.detail = FAILED, f"a second token request was refused: {exc.message}"
        call.proved = "nothing conclusive: no token for the SCIM call"
    except TransportError as exc:
        call.outcome, call.detail = UNREACHABLE, exc.detail
        call.proved = "nothing: the SCIM base could not be reached"
    except ScimError as exc:
        call.status, call.detail = exc.status, exc.message
        call.outcome, call.proved = _refusal(prof, exc)
    else:
        call.outcome, call.total_results = ACCEPTED, total
        counted = f" ({total} users in all)" if total is not None else ""
        call.proved = ("the token is accepted for SCIM data: GET Users answered with a SCIM "
                       f"list{counted}")
    call.elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    call.detail = redact(call.detail)
    return call


def _refusal(prof: Endpoint, exc: ScimError) -> tuple[str, str]:
    """(outcome, what it proved) for a SCIM error answer."""
    if isinstance(exc, ConnectorDisabled):
        return CONNECTOR_DISABLED, "the connector answered that it is disabled: it serves no call"
    if isinstance(exc, SecretServerUnreachable):
        return SECRET_SERVER_DOWN, (f"the connector answered, but the Secret Server behind it "
                                    f"is unreachable ({exc.status})")
    if isinstance(exc, ScimUnauthorized):
        what = "the static token" if prof.flavor == "onprem" else "the issued token"
        return REJECTED, f"the SCIM service does not accept {what} (401)"
    if isinstance(exc, ScimAccessDenied):
        who = "the endpoint" if prof.flavor == "onprem" else "the service user"
        return DENIED, f"the token is valid, but SCIM refuses {who} (403)"
    if isinstance(exc, NotScimResponse | ScimNotFound):
        return NOT_SCIM, "the SCIM base URL does not serve SCIM"
    return FAILED, f"nothing conclusive: HTTP {exc.status}"


def _call_findings(prof: Endpoint, call: ScimCall) -> list[Finding]:
    onprem = prof.flavor == "onprem"
    variant = "onprem" if onprem else None  # the remediation declared for on-prem, if any
    subject = prof.base_url
    if call.outcome == DENIED:
        return [_finding(SCIM_ACCESS_DENIED, prof.base_url if onprem else prof.client_id,
                         f"A token was {'sent' if onprem else 'issued'}, but SCIM refused "
                         f"{'the endpoint' if onprem else 'the service user'} with 403: "
                         f"{call.detail}", variant)]
    if call.outcome == REJECTED:
        code = STATIC_TOKEN_REJECTED if onprem else SCIM_TOKEN_REJECTED
        return [_finding(code, subject, f"SCIM refused the token with 401: {call.detail}")]
    if call.outcome == NOT_SCIM:
        return [_finding(SCIM_BASE_URL_WRONG, subject, f"Not a SCIM service: {call.detail}")]
    if call.outcome == UNREACHABLE:
        return [_finding(TENANT_UNREACHABLE, subject,
                         f"The SCIM base could not be reached: {call.detail}", variant)]
    if call.outcome == FAILED:
        return [_finding(SCIM_CALL_FAILED, subject, f"The SCIM read failed: {call.detail}")]
    for code, outcome in _STATE_OUTCOMES.items():
        if call.outcome == outcome:
            return [_finding(code, subject, "The SCIM read was answered, but the connector "
                             f"serves nothing: {call.detail}")]
    return []


def _role_proof(call: ScimCall, flavor: str) -> Proof:
    if call.outcome == ACCEPTED:
        why = ("the endpoint's token was accepted and the connector read users through its "
               "Secret Server application account" if flavor == "onprem" else
               "a SCIM read with the token succeeded, which the service user can do only "
               "with the SCIM role; write permissions are not exercised")
        return _proof(ROLE, PROVEN, why)
    if call.outcome == DENIED:
        why = ("the token was accepted but the connector refused the read (403): check the "
               "application account's roles" if flavor == "onprem" else
               "a token was issued but SCIM answered 403: the custom SCIM role or its "
               "permissions are missing")
        return _proof(ROLE, REFUTED, why)
    if call.outcome == SKIPPED:
        return _proof(ROLE, NOT_PROVEN, "no token, so no SCIM call (a token alone would not "
                      "prove the role either)")
    if call.outcome == REJECTED:
        return _proof(ROLE, NOT_PROVEN, "SCIM refused the token itself (401) before any role "
                      "could count")
    if call.outcome in _STATE_OUTCOMES.values():
        return _proof(ROLE, NOT_PROVEN, f"{call.proved}, so no role could count")
    return _proof(ROLE, NOT_PROVEN, f"the SCIM read was not conclusive ({call.outcome})")


def _proof(key: str, status: str, reason: str) -> Proof:
    return Proof(key, CLAIMS[key], status, redact(reason))


def _metrics(result: TokenEvidence, alternate_scope: str | None) -> dict[str, Any]:
    d, c = result.diagnosis, result.scim_call
    metrics: dict[str, Any] = {"flavor": result.flavor, "ok": result.ok}
    if d is not None:
        metrics.update(
            token_cause=d.cause, token_status=d.status,
            token_elapsed_ms=None if d.elapsed_ms is None else round(d.elapsed_ms, 1),
            expires_in=d.expires_in,
            expires_at=None if d.expires_at is None else d.expires_at.isoformat(),
            scope_requested=d.scope_requested, scope_granted=d.scope_granted)
        if alternate_scope:
            metrics["alternate_scope_granted"] = alternate_scope
    metrics.update(scim_outcome=c.outcome, scim_status=c.status, scim_elapsed_ms=c.elapsed_ms)
    for status in PROOF_STATUSES:
        metrics[status.replace(" ", "_")] = sum(p.status == status for p in result.proves)
    return metrics
