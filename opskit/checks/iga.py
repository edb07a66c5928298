"""The IGA side: what the SailPoint ISC "SCIM 2.0 SaaS" source needs for a tenant, and a check
of the settings an admin actually entered (a YAML or JSON file) against it.

The settings file, with SailPoint's field names in comments:

```yaml
base_url: https://acme.delinea.app/scim/v2        # Base URL
authentication: OAuth 2.0                          # Authentication Type
grant_type: Client Credentials                     # Grant Type
token_url: https://acme.delinea.app/identity/api/oauth2/token/xpmplatform  # OAuth 2.0 Token URL
request_parameters: {scope: xpm.platform}          # OAuth request parameters
filters:                                           # any filters set on the source, by object type
  accounts: 'userName co "@acme.com"'
hosting: cloud                                     # cloud (ISC, Okta, Entra ID) or on-prem
```

``hosting`` says where the IGA calls from: ``cloud`` (the default assumption) for a service on
the internet, ``on-prem`` for one inside the connector's network (IdentityIQ, or a source run
through a SailPoint Virtual Appliance there). It decides whether an on-prem connector on a
private address is out of the IGA's reach.
"""

from __future__ import annotations

from typing import Any

from ..config import DEFAULT_SCOPE, Endpoint
from ..errors import ConfigError
from ..findings import declared
from ..scim import filters as scim_filters
from .engine import Check, CheckResult, Outcome

KNOWN_KEYS = {"base_url", "authentication", "grant_type", "token_url", "request_parameters",
              "filters", "hosting"}
IGA_HOSTING = ("cloud", "on-prem")


def expected_settings(profile: Endpoint) -> dict[str, Any]:
    """What the IGA source needs for this profile's tenant, in the settings file's shape."""
    if profile.flavor == "cloud":
        return {"base_url": profile.base_url, "authentication": "OAuth 2.0",
                "grant_type": "Client Credentials", "token_url": profile.token_url,
                "request_parameters": {"scope": profile.scope or DEFAULT_SCOPE},
                "client_id": profile.client_id,
                "client_secret": "(the service user's password, from your secret store)"}
    return {"base_url": profile.base_url, "authentication": "API Token",
            "api_token": "(the SCIM connector endpoint's non-expiring token)"}


def _same_url(a: Any, b: str) -> bool:
    return isinstance(a, str) and a.strip().rstrip("/").lower() == b.rstrip("/").lower()


def _result(code: str, summary: str, evidence: str = "") -> CheckResult:
    outcome: Outcome = "fail" if declared(code).severity in ("critical", "high") else "warn"
    return CheckResult.found(code, outcome, summary, evidence)


def iga_checks(profile: Endpoint, settings: dict[str, Any]) -> list[Check]:
    """Checks of the entered settings against what this tenant needs."""
    want = expected_settings(profile)

    def base_url(seen: dict[str, CheckResult]) -> CheckResult:
        got = settings.get("base_url")
        if _same_url(got, want["base_url"]):
            return CheckResult("pass", "Base URL is the tenant's SCIM base", str(got))
        return _result("IGA_BASE_URL_MISMATCH", "Base URL is not the tenant's SCIM base",
                       f"entered {got!r}, needed {want['base_url']!r}")

    def authentication(seen: dict[str, CheckResult]) -> CheckResult:
        auth = str(settings.get("authentication", "")).lower().replace(" ", "")
        if profile.flavor != "cloud":
            ok = auth in ("apitoken", "bearertoken", "")
            return CheckResult("pass", "API token authentication", auth) if ok else _result(
                "IGA_AUTH_WRONG", "the on-prem connector takes its static API token",
                f"entered {settings.get('authentication')!r}")
        grant = str(settings.get("grant_type", "")).lower().replace(" ", "").replace("_", "")
        if auth == "oauth2.0" and grant == "clientcredentials":
            return CheckResult("pass", "OAuth 2.0 with the client-credentials grant")
        return _result("IGA_AUTH_WRONG", "authentication is not OAuth 2.0 client credentials",
                       f"entered {settings.get('authentication')!r} / "
                       f"{settings.get('grant_type')!r}")

    def token_url(seen: dict[str, CheckResult]) -> CheckResult:
        got = settings.get("token_url")
        if _same_url(got, want["token_url"]):
            return CheckResult("pass", "Token URL is the tenant's token endpoint", str(got))
        return _result("IGA_TOKEN_URL_MISMATCH", "Token URL is not the tenant's token endpoint",
                       f"entered {got!r}, needed {want['token_url']!r}")

    def scope(seen: dict[str, CheckResult]) -> CheckResult:
        params = {str(k).lower(): v for k, v in (settings.get("request_parameters") or {}
                                                  ).items()}
        got = params.get("scope")
        if got == want["request_parameters"]["scope"]:
            return CheckResult("pass", f"the scope request parameter is {got}")
        return _result("IGA_SCOPE_MISSING", "the OAuth request parameter 'scope' is "
                       + ("missing" if got is None else f"{got!r}, not "
                          f"{want['request_parameters']['scope']!r}"))

    def filter_check(name: str, text: Any) -> Check:
        def run(seen: dict[str, CheckResult]) -> CheckResult:
            try:
                _server, client = scim_filters.split(str(text), eq_co_only=True)
            except ConfigError as exc:
                return _result("IGA_FILTER_INVALID", f"filter for {name} is not valid SCIM",
                               exc.message)
            if profile.flavor == "cloud" and client is not None:
                return _result("IGA_FILTER_UNSUPPORTED",
                               f"filter for {name} uses operators the cloud connector refuses",
                               f"{text!r}: the part {client!r} is not eq/co")
            return CheckResult("pass", f"filter for {name} is one the server evaluates",
                               str(text))
        return Check(f"iga.filter.{name}", f"IGA filter on {name}", run)

    checks = [Check("iga.base_url", "IGA Base URL", base_url),
              Check("iga.authentication", "IGA authentication", authentication)]
    if profile.flavor == "cloud":
        checks += [Check("iga.token_url", "IGA token URL", token_url),
                   Check("iga.scope", "IGA scope parameter", scope)]
    checks += [filter_check(name, text) for name, text in (settings.get("filters") or {}).items()]
    return checks
