"""Onboarding checks for the SCIM Cloud Connector, in the order an admin would follow them.

Each check is read-only. They run through the checks engine, so the first thing that blocks the
rest (an unreachable tenant, a refused token) stops what depends on it and says so. What SCIM
cannot show — the custom role's eight permissions — is a checklist tied to the symptom each
missing permission causes (`ROLE_CHECKLIST`).
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

import httpx

from .. import http
from ..auth import auth_for, unreachable_detail
from ..config import Profile
from ..errors import OpskitError, ScimError, ScimInvalidFilter, ScimNotFound
from ..scim import filters, urns
from ..scim.responses import list_page, scim_json
from .engine import Check, CheckResult, Ran, run_checks
from .token import check_token

NEEDED_TYPES = ("User", "Group", "Container", "ContainerPermission", "PrivilegedData")
CATALOGUE = {
    "TENANT_UNREACHABLE": ("critical", "Check the tenant URL, DNS, proxy and firewall, and that "
                           "the TLS certificate is trusted on this machine."),
    "MISSING_RESOURCE_TYPE": ("critical", "The tenant does not offer every resource type the "
                              "integration reads: check that this is the SCIM Cloud Connector "
                              "base (…/scim/v2) and that the connector is enabled for it."),
    "SCIM_READ_FAILED": ("high", "Users or groups could not be read: see the evidence; the "
                         "custom SCIM role is the usual cause."),
    "NO_VISIBLE_FOLDERS": ("critical", "The service account holds Owner on no folder, so the "
                           "IGA will see no folder and no secret (FAQ). Grant it Owner on the "
                           "folders the IGA must govern (directly or through a group)."),
    "PARTIAL_FOLDER_VISIBILITY": ("medium", "The service account owns only some folders: the "
                                  "IGA will not see the others. Grant Owner on the folders it "
                                  "must govern, or accept the gap knowingly."),
    "FILTER_EQ_REFUSED": ("high", "The tenant refused an 'eq' filter the IGA relies on: check "
                          "the base URL and the connector's version."),
}
ROLE_CHECKLIST: tuple[tuple[str, str], ...] = (
    ("Bypass Direct API Authentication Restriction",
     "without it every SCIM call is refused although a token is issued"),
    ("Manage Identity Settings", "without it SCIM operations fail (named in the docs' warning)"),
    ("Administer Secret Server Folders", "folders cannot be created or changed"),
    ("Administer Secret Server Reports", "folder and permission reads come back empty or fail"),
    ("Create Root Folders in Secret Server", "creating a top-level folder is refused"),
    ("Own Secret", "secrets cannot be added to or removed from folders (Access Denied)"),
    ("Personal Folder in Secret Server", "personal folders are missing from what the IGA sees"),
    ("View Secrets", "PrivilegedData reads come back empty"),
)


def _result(code: str, outcome: str, summary: str, evidence: str = "") -> CheckResult:
    severity, remediation = CATALOGUE[code]
    return CheckResult(outcome, summary, evidence, remediation, code, severity)  # type: ignore


class _Session:
    """One authenticated client for the checks after the token check, opened on first use."""

    def __init__(self, profile: Profile):
        self.profile = profile
        self._client: httpx.Client | None = None

    def get(self, path: str, **params: Any) -> Any:
        if self._client is None:
            policy = http.RetryPolicy(max_attempts=3, max_total_seconds=30)
            self._client = http.client(auth=auth_for(self.profile), verify=self.profile.verify,
                                       policy=policy)
        url = f"{self.profile.base_url.rstrip('/')}/{path}"
        return scim_json(self._client.get(url, params=params or None))

    def total(self, endpoint: str) -> int:
        total, _ = list_page(self.get(endpoint, count=0))
        return int(total or 0)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def cloud_checks(profile: Profile, session: _Session, *,
                 reference_folders: int | None = None) -> list[Check]:
    """The cloud connector's onboarding checks, for the engine (see run_checks)."""
    url = httpx.URL(profile.base_url)

    def well_formed(seen: dict[str, CheckResult]) -> CheckResult:
        # The profile could not exist otherwise: config.py refuses spaces, missing hosts and
        # plain http to anything but this machine.
        return CheckResult("pass", "the SCIM base and token URL are well formed",
                           f"{profile.base_url} · {profile.token_url}")

    def resolvable(seen: dict[str, CheckResult]) -> CheckResult:
        try:
            addresses = {a[4][0] for a in socket.getaddrinfo(url.host, url.port or 443)}
        except OSError:
            return _result("TENANT_UNREACHABLE", "fail", f"{url.host} does not resolve",
                           "DNS: the host name does not resolve")
        return CheckResult("pass", f"{url.host} resolves", ", ".join(sorted(addresses)))

    def reachable(seen: dict[str, CheckResult]) -> CheckResult:
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            with socket.create_connection((url.host, port), timeout=10) as raw:
                if url.scheme != "https":
                    return CheckResult("info", "plain HTTP on this machine (practice tenant)",
                                       f"{url.host}:{port}")
                with ssl.create_default_context().wrap_socket(
                        raw, server_hostname=url.host) as tls:
                    return CheckResult("pass", "reachable over TLS, certificate trusted",
                                       tls.version() or "")
        except OSError as exc:
            return _result("TENANT_UNREACHABLE", "fail",
                           f"{url.host}:{port} cannot be reached", unreachable_detail(exc))

    def token(seen: dict[str, CheckResult]) -> CheckResult:
        result = check_token(profile)
        if result.ok:
            return CheckResult("pass", "a token is issued and SCIM accepts it",
                               result.token_line())
        worst = result.failures[0]
        return CheckResult("fail", worst.message, worst.subject, worst.remediation,
                           worst.code, worst.severity)

    def discovery(seen: dict[str, CheckResult]) -> CheckResult:
        resource_types = session.get("ResourceTypes")
        found = {rt.get("name"): rt.get("schema")
                 for rt in (resource_types.get("Resources") or [])}
        missing = [t for t in NEEDED_TYPES if t not in found]
        wrong = [f"{t} → {found[t]}" for t in NEEDED_TYPES
                 if t in found and found[t] != urns.RESOURCE_TYPES[t][1]]
        if missing or wrong:
            return _result("MISSING_RESOURCE_TYPE", "fail", "resource types the integration "
                           "needs are missing or use another schema",
                           "; ".join([*(f"missing {t}" for t in missing), *wrong]))
        session.get("ServiceProviderConfig")
        return CheckResult("pass", "discovery lists every resource type with the PAM URNs",
                           ", ".join(NEEDED_TYPES))

    def readable(endpoint: str) -> Any:
        def run(seen: dict[str, CheckResult]) -> CheckResult:
            try:
                n = session.total(endpoint)
            except OpskitError as exc:
                return _result("SCIM_READ_FAILED", "fail", f"{endpoint} cannot be read",
                               exc.message)
            return CheckResult("pass", f"{endpoint} readable: {n:,}", data={"total": n})
        return run

    def visibility(seen: dict[str, CheckResult]) -> CheckResult:
        folders, secrets = session.total("Containers"), session.total("PrivilegedData")
        data = {"folders": folders, "secrets": secrets}
        evidence = f"{folders:,} folders, {secrets:,} secrets visible to the service account"
        if folders == 0:
            return _result("NO_VISIBLE_FOLDERS", "fail", "the service account sees no folder",
                           evidence)
        if reference_folders is not None and folders < reference_folders:
            result = _result("PARTIAL_FOLDER_VISIBILITY", "warn",
                             f"the service account sees {folders:,} of {reference_folders:,} "
                             "folders", evidence)
            return CheckResult(**{**result.__dict__, "data": data})
        return CheckResult("pass" if reference_folders else "info", evidence,
                           "" if reference_folders else "no reference count given: coverage "
                           "cannot be measured here", data=data)

    def filter_support(seen: dict[str, CheckResult]) -> CheckResult:
        probes = {"eq": filters.eq("userName", "opskit.probe@example.invalid"),
                  "co": filters.co("userName", "@")}
        for op, text in probes.items():
            try:
                session.get("Users", filter=text, count=1)
            except ScimError as exc:
                return _result("FILTER_EQ_REFUSED", "fail", f"'{op}' filter refused",
                               exc.message)
        try:
            session.get("Users", filter=filters.compare("userName", "sw", "a"), count=1)
        except ScimInvalidFilter:
            return CheckResult("info", "eq and co work; other operators are refused, as "
                               "documented (a known limit: opskit evaluates them itself)")
        return CheckResult("info", "eq and co work, and this tenant also accepted 'sw' "
                           "(more than documented)")

    def documented_limits(seen: dict[str, CheckResult]) -> CheckResult:
        notes = []
        try:
            session.get("Roles")
            notes.append("/Roles answers (roles are not documented for the cloud connector)")
        except ScimNotFound:
            notes.append("/Roles absent (roles are planned, FAQ)")
        spc = session.get("ServiceProviderConfig")
        bulk = (spc.get("bulk") or {}).get("supported")
        notes.append("/Bulk absent (one request per resource)" if not bulk
                     else "/Bulk advertised (not documented for the cloud connector)")
        return CheckResult("info", "documented limits: " + "; ".join(notes))

    return [
        Check("url", "Tenant URL well formed", well_formed),
        Check("dns", "Tenant resolves", resolvable, ("url",)),
        Check("tls", "Tenant reachable over TLS", reachable, ("dns",)),
        Check("token", "Token retrieval and SCIM access", token, ("tls",)),
        Check("discovery", "Discovery and resource types", discovery, ("token",)),
        Check("users", "Users readable", readable("Users"), ("token",)),
        Check("groups", "Groups readable", readable("Groups"), ("token",)),
        Check("visibility", "Folders and secrets the service account sees", visibility,
              ("discovery",)),
        Check("filters", "Filter support", filter_support, ("users",)),
        Check("limits", "Documented limits (/Roles, /Bulk)", documented_limits, ("token",)),
    ]


def run_cloud_onboarding(profile: Profile | str | None = None, *,
                         reference_folders: int | None = None) -> list[Ran]:
    """Run the cloud onboarding checks for a profile (the practice tenant by default)."""
    from ..config import connect

    with connect(profile) as prof:
        session = _Session(prof)
        try:
            return run_checks(cloud_checks(prof, session, reference_folders=reference_folders))
        finally:
            session.close()
