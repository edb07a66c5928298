"""Onboarding checks for the SCIM Cloud Connector, in the order an admin would follow them.

Each check is read-only. They run through the checks engine, so the first thing that blocks the
rest (an unreachable tenant, a refused token) stops what depends on it and says so. What SCIM
cannot show — the custom role's eight permissions — is a checklist tied to the symptom each
missing permission causes (`ROLE_CHECKLIST`).
"""

from __future__ import annotations

import secrets
import socket
from dataclasses import replace
from typing import Any

import httpx

from .. import http, remedies
from ..auth import auth_for, unreachable_detail
from ..config import Profile
from ..errors import OpskitError, ScimError, ScimInvalidFilter, ScimNotFound
from ..report.findings import Severity
from ..scim import filters, urns
from ..scim.responses import list_page, names_disabled_connector, scim_json
from . import network
from . import token as token_check
from .engine import Check, CheckResult, Outcome
from .token import run_token_check

NEEDED_TYPES = ("User", "Group", "Container", "ContainerPermission", "PrivilegedData")
CATALOGUE: dict[str, tuple[Severity, str]] = {
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
    "NO_VISIBLE_SECRETS": ("high", remedies.NO_VISIBLE_SECRETS),
    "PARTIAL_FOLDER_VISIBILITY": ("medium", "The service account owns only some folders: the "
                                  "IGA will not see the others. Grant Owner on the folders it "
                                  "must govern, or accept the gap knowingly."),
    "WRITE_PROBE_FAILED": ("high", "A SCIM write failed or kept client meta: check the "
                           "custom role's folder and identity permissions (checklist below) "
                           "and the evidence."),
    "WRITE_PROBE_LEFTOVER": ("high", "The probe group may be left behind: if a group of the "
                             "name in the evidence exists, delete that group (and only it) by "
                             "hand (Platform: Access > Groups), then check the role's "
                             "permissions."),
    "FILTER_EQ_REFUSED": ("high", "The tenant refused an 'eq' filter the IGA relies on: check "
                          "the base URL and the connector's version."),
}
# A connector that answers but serves nothing (its Secret Server out of reach, or disabled):
# any check after the token can meet it, and says so with the token check's code.
CATALOGUE.update({code: token_check.CATALOGUE[code]
                  for code in token_check.CONNECTOR_STATES.values()})
CATALOGUE.update(network.CATALOGUE)
# The configuration page names the symptom of only the first two ("SCIM operations break");
# the other six symptoms are what their names imply, and are marked as assumed.
ROLE_CHECKLIST: tuple[tuple[str, str], ...] = (
    ("Bypass Direct API Authentication Restriction",
     "SCIM operations break (the docs' warning): every SCIM call is refused although a token "
     "is issued"),
    ("Manage Identity Settings", "SCIM operations break (the docs' warning)"),
    ("Administer Secret Server Folders", "folders cannot be created or changed (assumed)"),
    ("Administer Secret Server Reports",
     "folder and permission reads come back empty or fail (assumed)"),
    ("Create Root Folders in Secret Server", "creating a top-level folder is refused (assumed)"),
    ("Own Secret",
     "secrets cannot be added to or removed from folders, Access Denied (assumed)"),
    ("Personal Folder in Secret Server",
     "personal folders are missing from what the IGA sees (assumed)"),
    ("View Secrets", "PrivilegedData reads come back empty (assumed)"),
)


def _result(code: str, outcome: Outcome, summary: str, evidence: str = "") -> CheckResult:
    severity, remediation = CATALOGUE[code]
    return CheckResult(outcome, summary, evidence, remediation, code, severity)


class _Session:
    """One authenticated client for the checks after the token check, opened on first use."""

    def __init__(self, profile: Profile):
        self.profile = profile
        self._client: httpx.Client | None = None

    def send(self, method: str, path: str, *, json: Any = None, **params: Any) -> Any:
        if self._client is None:
            self._client = http.client(auth=auth_for(self.profile), verify=self.profile.verify,
                                       limits=self.profile.limits.first_contact(),
                                       tls=http.needs_tls(
                                           self.profile.base_url, self.profile.token_url),
                                       final_answers=[names_disabled_connector])
        url = f"{self.profile.base_url.rstrip('/')}/{path}"
        return scim_json(self._client.request(method, url, json=json, params=params or None))

    def get(self, path: str, **params: Any) -> Any:
        return self.send("GET", path, **params)

    def total(self, endpoint: str) -> int:
        total, _ = list_page(self.get(endpoint, count=0))
        return int(total or 0)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _by_connector_state(run: Any) -> Any:
    """A check that reports a connector serving nothing by its own code, not as a failed
    check of whatever it was reading."""
    def checked(seen: dict[str, CheckResult]) -> CheckResult:
        try:
            return run(seen)
        except tuple(token_check.CONNECTOR_STATES) as exc:
            code = token_check.CONNECTOR_STATES[type(exc)]
            return _result(code, "fail", "the connector answered, but serves nothing: "
                           f"{exc.detail or exc.message}", exc.message)
    return checked


def onboarding_checks(profile: Profile, session: _Session, *,
                      reference_folders: int | None = None, apply: bool = False,
                      iga_hosting: str | None = None) -> list[Check]:
    """The runbook's checks for a profile's connector (cloud or on-prem), for run_checks.
    ``iga_hosting`` ("cloud" or "on-prem", from the IGA settings) says whether the IGA must
    reach an on-prem connector from the internet (assumed when not given)."""
    url = httpx.URL(profile.base_url)
    onprem = profile.flavor == "onprem"

    def well_formed(seen: dict[str, CheckResult]) -> CheckResult:
        # The profile could not exist otherwise: config.py refuses spaces, missing hosts, plain
        # http to anything but this machine, and an on-prem base that does not end in /v2.
        if onprem:
            return CheckResult("pass", "the SCIM base is well formed and ends in /v2",
                               profile.base_url)
        return CheckResult("pass", "the SCIM base and token URL are well formed",
                           f"{profile.base_url} · {profile.token_url}")

    def resolvable(seen: dict[str, CheckResult]) -> CheckResult:
        try:
            # str(): typeshed allows an int for families that have no host string.
            addresses = {str(a[4][0]) for a in socket.getaddrinfo(url.host, url.port or 443)}
        except OSError:
            return _result("TENANT_UNREACHABLE", "fail", f"{url.host} does not resolve",
                           "DNS: the host name does not resolve")
        return CheckResult("pass", f"{url.host} resolves", ", ".join(sorted(addresses)),
                           data={"addresses": sorted(addresses)})

    def cloud_reach(seen: dict[str, CheckResult]) -> CheckResult:
        return network.reachable_from_cloud(profile, seen["dns"].data["addresses"],
                                            iga_hosting)

    def reachable(seen: dict[str, CheckResult]) -> CheckResult:
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            with socket.create_connection((url.host, port), timeout=10) as raw:
                if url.scheme != "https":
                    return CheckResult("info", "plain HTTP on this machine (practice tenant)",
                                       f"{url.host}:{port}")
                context = http.tls_context(profile.verify)
                with context.wrap_socket(raw, server_hostname=url.host) as tls:
                    trusted = "certificate trusted" if profile.verify is not False else \
                        "certificate NOT verified (verify = false in the profile)"
                    return CheckResult("pass", f"reachable over TLS, {trusted}",
                                       tls.version() or "")
        except OSError as exc:
            return _result("TENANT_UNREACHABLE", "fail",
                           f"{url.host}:{port} cannot be reached", unreachable_detail(exc))

    def token(seen: dict[str, CheckResult]) -> CheckResult:
        result = run_token_check(profile)
        if result.ok:
            return CheckResult("pass", "the static token is accepted" if onprem else
                               "a token is issued and SCIM accepts it", result.token_line())
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
        return CheckResult("pass", "discovery lists every resource type with the PAM URNs",
                           ", ".join(NEEDED_TYPES))

    def service_provider_config(seen: dict[str, CheckResult]) -> CheckResult:
        spc = session.get("ServiceProviderConfig")
        bulk = spc.get("bulk") or {}
        data = {"bulk_supported": bool(bulk.get("supported")),
                "bulk_max_operations": bulk.get("maxOperations"),
                "bulk_max_payload": bulk.get("maxPayloadSize"),
                "max_results": (spc.get("filter") or {}).get("maxResults")}
        if not onprem:
            return CheckResult("pass", "ServiceProviderConfig answers", data=data)
        if not data["bulk_supported"]:
            return CheckResult("info", "ServiceProviderConfig answers; it does not advertise "
                               "/Bulk (the connector documents 1,000 operations, 1 MiB)",
                               data=data)
        return CheckResult(
            "pass", f"ServiceProviderConfig answers; /Bulk takes up to "
            f"{data['bulk_max_operations']:,} operations and {data['bulk_max_payload']:,} "
            "bytes per request", "a larger bulk request is refused with 413: the IGA must "
            "split its batches below these limits", data=data)

    def readable(endpoint: str) -> Any:
        def run(seen: dict[str, CheckResult]) -> CheckResult:
            try:
                n = session.total(endpoint)
            except tuple(token_check.CONNECTOR_STATES):
                raise  # said by its own code (see _by_connector_state)
            except OpskitError as exc:
                return _result("SCIM_READ_FAILED", "fail", f"{endpoint} cannot be read",
                               exc.message)
            return CheckResult("pass", f"{endpoint} readable: {n:,}", data={"total": n})
        return run

    def visibility(seen: dict[str, CheckResult]) -> CheckResult:
        folders, secrets = session.total("Containers"), session.total("PrivilegedData")
        data = {"folders": folders, "secrets": secrets}
        who = "the endpoint" if onprem else "the service account"
        evidence = f"{folders:,} folders, {secrets:,} secrets visible to {who}"
        if folders == 0:
            return _result("NO_VISIBLE_FOLDERS", "fail", f"{who} sees no folder", evidence)
        if secrets == 0:
            if onprem:  # it reads every secret: the vault holds none, or its reports fail
                return CheckResult("warn", f"{who} sees {folders:,} folders but no secret",
                                   "the on-prem connector reads every secret through Secret "
                                   "Server's reports: the vault holds none, or the application "
                                   "account cannot read them", data=data)
            # Nothing here shows whether Secret Server holds any secrets: said, not assumed.
            result = _result("NO_VISIBLE_SECRETS", "fail",
                             f"{who} sees {folders:,} folders but no secret: it lacks the "
                             "Owner secret role there, or Secret Server holds no secrets in "
                             "these folders yet (the cloud view cannot tell which; a "
                             "permission audit with an on-prem reference can)", evidence)
            return replace(result, data=data)
        if reference_folders is not None and folders < reference_folders:
            result = _result("PARTIAL_FOLDER_VISIBILITY", "warn",
                             f"{who} sees {folders:,} of {reference_folders:,} folders",
                             evidence)
            return CheckResult(**{**result.__dict__, "data": data})
        if onprem:
            return CheckResult("pass", evidence, "the on-prem connector reads every folder "
                               "through Secret Server's reports, not by Owner", data=data)
        return CheckResult("pass" if reference_folders else "info", evidence,
                           "" if reference_folders else "no reference count given: coverage "
                           "cannot be measured here", data=data)

    def disabled_users(seen: dict[str, CheckResult]) -> CheckResult:
        page = session.get("Users", count=1000, attributes="active")
        listed = page.get("Resources") or []
        inactive = sum(1 for u in listed if u.get("active") is False)
        if inactive:
            return CheckResult("info", f"this endpoint returns disabled users ({inactive:,} in "
                               "the first page)", "its report SQL was changed from the default "
                               "Enabled=1 / Active=1 filter")
        return CheckResult("info", "disabled users are not returned (the connector's reports "
                           "filter Enabled=1 / Active=1)", "a user disabled in Secret Server "
                           "disappears from the IGA's aggregation instead of showing "
                           "active=false; users without an e-mail are left out too. Edit the "
                           "SCIM report SQL if the IGA must see them")

    def filter_support(seen: dict[str, CheckResult]) -> CheckResult:
        probes = {"eq": filters.eq("userName", "opskit.probe@example.invalid"),
                  "co": filters.co("userName", "@")}
        for op, text in probes.items():
            try:
                session.get("Users", filter=text, count=1)
            except tuple(token_check.CONNECTOR_STATES):
                raise  # said by its own code (see _by_connector_state)
            except ScimError as exc:
                return _result("FILTER_EQ_REFUSED", "fail", f"'{op}' filter refused",
                               exc.message)
        try:
            session.get("Users", filter=filters.compare("userName", "sw", "a"), count=1)
        except ScimInvalidFilter:
            return CheckResult("info", "eq and co work; other operators are refused, as "
                               "documented (a known limit: opskit evaluates them itself)")
        return CheckResult("info" if not onprem else "pass", "eq and co work, and this "
                           "tenant also accepted 'sw'" + ("" if onprem else
                                                          " (more than documented)"))

    def documented_limits(seen: dict[str, CheckResult]) -> CheckResult:
        notes = []
        try:
            session.get("Roles")
            notes.append("/Roles answers (roles are not documented for the cloud connector)")
        except ScimNotFound:
            notes.append("/Roles absent (roles are planned, FAQ)")
        bulk = seen["spc"].data.get("bulk_supported")
        notes.append("/Bulk absent (one request per resource)" if not bulk
                     else "/Bulk advertised (not documented for the cloud connector)")
        return CheckResult("info", "documented limits: " + "; ".join(notes))

    def write_probe(seen: dict[str, CheckResult]) -> CheckResult:
        if not apply:
            return CheckResult("skip", "read-only run: the write probe runs with apply=True",
                               remediation="run with apply=True to probe a write")
        return probe_write(session)

    checks = [
        Check("url", "Tenant URL well formed", well_formed),
        Check("dns", "Tenant resolves", resolvable, ("url",)),
    ]
    if onprem:
        checks.append(Check("network", "Reachable from a cloud IGA", cloud_reach, ("dns",)))
    checks += [
        Check("tls", "Tenant reachable over TLS", reachable, ("dns",)),
        Check("token", "Static token accepted" if onprem else
              "Token retrieval and SCIM access", token, ("tls",)),
    ]
    # What the connector serves after the token: each reports a connector state by its own code.
    served = [
        Check("discovery", "Discovery and resource types", discovery, ("token",)),
        Check("spc", "ServiceProviderConfig" + (" and bulk limits" if onprem else ""),
              service_provider_config, ("token",)),
        Check("users", "Users readable", readable("Users"), ("token",)),
        Check("groups", "Groups readable", readable("Groups"), ("token",)),
        Check("visibility", "Folders and secrets " + ("the endpoint sees" if onprem else
                                                       "the service account sees"),
              visibility, ("discovery",)),
        Check("filters", "Filter support", filter_support, ("users",)),
        Check("disabled", "Disabled users", disabled_users, ("users",)) if onprem else
        Check("limits", "Documented limits (/Roles, /Bulk)", documented_limits, ("spc",)),
    ]
    checks += [replace(c, run=_by_connector_state(c.run)) for c in served]
    checks.append(Check("write", "Write probe (temporary group)", write_probe, ("groups",)))
    return checks


PROBE_META = {"created": "2001-01-01T00:00:00Z", "lastModified": "2001-01-01T00:00:00Z",
              "version": 'W/"opskit-probe"', "location": "https://opskit.invalid/probe"}


def probe_write(session: _Session) -> CheckResult:
    """Create a temporary group carrying our own meta, check the server made its own (FAQ:
    client meta is ignored), then delete it — also when a step fails — and prove it is gone."""
    name = f"opskit-probe-{secrets.token_hex(4)}"
    body = {"schemas": [urns.GROUP], "displayName": name, "members": [], "meta": PROBE_META}
    created: dict[str, Any] | None = None
    problem: CheckResult | None = None
    refused = False  # a 4xx answer to the create: nothing was made (a 2xx that cannot be read
    # made something, and a 5xx may have)
    try:
        created = session.send("POST", "Groups", json=body)
        meta = (created or {}).get("meta") or {}
        ours = [k for k, v in PROBE_META.items() if meta.get(k) == v]
        if ours or not meta.get("created"):
            problem = _result("WRITE_PROBE_FAILED", "fail", "the server kept meta the client "
                              "sent", f"kept {', '.join(ours) or 'no meta at all'}; the FAQ "
                              "says the server generates meta itself")
    except OpskitError as exc:
        refused = isinstance(exc, ScimError) and exc.status is not None and \
            400 <= exc.status < 500
        problem = _result("WRITE_PROBE_FAILED", "fail", "creating a group was refused"
                          if refused else "creating a group failed (a server error, or the "
                          "answer was lost)", exc.message)
    finally:
        # Runs even on an interrupt: the probe must not outlive the check.
        clean, cleanup = (True, "nothing to remove: the create was refused") if refused \
            else _remove_probe(session, name, created)
    if not clean:
        return _result("WRITE_PROBE_LEFTOVER", "fail", "the probe group may be left behind",
                       f"{cleanup}; delete group {name!r} by hand if it exists"
                       + (f" (and: {problem.summary})" if problem else ""))
    if problem is not None:
        return replace(problem, evidence=f"{problem.evidence}; {cleanup}")
    return CheckResult("pass", "a group can be created and deleted; the server makes its own "
                       "meta", f"created {name!r}; server meta {created and created['meta']}"
                       f"; {cleanup}")


def _remove_probe(session: _Session, name: str,
                  created: dict[str, Any] | None) -> tuple[bool, str]:
    """Delete the probe group and nothing else: the id the create returned, or else the one
    group whose displayName is exactly the probe's unique name. (bool: verified gone.)"""
    try:
        if isinstance(created, dict) and created.get("id"):
            return _delete_probe(session, str(created["id"]), "the id the create returned")
        # The create's answer was lost: look the probe up by its name. A server may ignore
        # `filter` and return every group, so only an exact name counts, and never more than
        # one group is deleted.
        total, listed = list_page(session.get("Groups", filter=filters.eq("displayName", name),
                                              attributes="displayName"))
        named = [str(g["id"]) for g in listed if g.get("displayName") == name and g.get("id")]
        if len(named) == 1:
            return _delete_probe(session, named[0], "found by its exact name")
        if named:
            return False, (f"{len(named)} groups are named {name!r}, so the probe cannot be "
                           "told apart and none was deleted")
        if not listed and not total:
            return True, f"no group is named {name!r}: the create made none, nothing to remove"
        return False, (f"the look-up by name answered {total or len(listed):,} group(s), none "
                       f"named {name!r} (the server does not apply the filter), so the probe "
                       "could not be identified and may be left behind")
    except OpskitError as exc:
        return False, f"removing it failed: {exc.message}"


def _delete_probe(session: _Session, gid: str, how: str) -> tuple[bool, str]:
    """Delete one group and prove it is gone."""
    session.send("DELETE", f"Groups/{gid}")
    try:
        session.get(f"Groups/{gid}")
    except ScimNotFound:
        return True, f"removed the probe group {gid} ({how}); it no longer answers"
    return False, f"group {gid} ({how}) still answers after DELETE"
