"""Onboarding checks for the SCIM Cloud Connector, in the order an admin would follow them.

Each check is read-only (the write probe runs only when asked). Each is a function of a
`Context` (the profile, the SCIM client, the run's options) and the results so far, and `CHECKS`
lists them in order with the checks each needs. They run through the checks engine, so the first
thing that blocks the rest (an unreachable tenant, a refused token) stops what depends on it and
says so. What SCIM
cannot show — the custom role's eight permissions — is a checklist tied to the symptom each
missing permission causes (`ROLE_CHECKLIST`).
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import httpx

from .. import http
from ..auth import unreachable_detail
from ..config import Endpoint
from ..errors import (
    OpskitError,
    ScimError,
    ScimInvalidFilter,
    ScimNotFound,
    TransportError,
)
from ..scim import SyncScimClient, filters, urns
from . import network
from . import token as token_check
from .engine import Check, CheckResult
from .token import run_token_check

NEEDED_TYPES = ("User", "Group", "Container", "ContainerPermission", "PrivilegedData")
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


_result = CheckResult.found


@dataclass(frozen=True)
class Context:
    """What every onboarding check reads: the profile, the SCIM client of the checks after the
    token (opened on first use), and the run's options."""

    profile: Endpoint
    scim: SyncScimClient
    reference_folders: int | None = None  # what a fuller view counts: partial visibility
    apply: bool = False  # whether the write probe runs
    iga_hosting: str | None = None  # "cloud" or "on-prem", from the IGA settings

    @property
    def url(self) -> httpx.URL:
        return httpx.URL(self.profile.base_url)

    @property
    def onprem(self) -> bool:
        return self.profile.flavor == "onprem"

    @property
    def variant(self) -> str | None:
        """The remediation declared for this flavor, where a finding has one."""
        return "onprem" if self.onprem else None


# The connector states' errors, caught where a check must let them through to its wrapper.
_CONNECTOR_STATES: tuple[type[ScimError], ...] = tuple(token_check.CONNECTOR_STATES)
# ...and with them a tenant out of reach: a check that could not be done, not a failed one.
_LET_THROUGH: tuple[type[OpskitError], ...] = (*_CONNECTOR_STATES, TransportError)
Seen = dict[str, CheckResult]  # the results so far, by check id


def _by_connector_state(run: Callable[[Seen], CheckResult]) -> Callable[[Seen], CheckResult]:
    """A check that reports a connector serving nothing by its own code, not as a failed
    check of whatever it was reading."""
    def checked(seen: Seen) -> CheckResult:
        try:
            return run(seen)
        except _CONNECTOR_STATES as exc:
            code = token_check.CONNECTOR_STATES[type(exc)]
            return _result(code, "fail", "the connector answered, but serves nothing: "
                           f"{exc.detail or exc.message}", exc.message)
    return checked


# --------------------------------------------------------------------------- the checks
def well_formed(ctx: Context, seen: Seen) -> CheckResult:
    # The profile could not exist otherwise: config.py refuses spaces, missing hosts, plain
    # http to anything but this machine, and an on-prem base that does not end in /v2.
    if ctx.onprem:
        return CheckResult("pass", "the SCIM base is well formed and ends in /v2",
                           ctx.profile.base_url)
    return CheckResult("pass", "the SCIM base and token URL are well formed",
                       f"{ctx.profile.base_url} · {ctx.profile.token_url}")


def resolvable(ctx: Context, seen: Seen) -> CheckResult:
    url = ctx.url
    try:
        # str(): typeshed allows an int for families that have no host string.
        addresses = {str(a[4][0]) for a in socket.getaddrinfo(url.host, url.port or 443)}
    except OSError:
        return _result("TENANT_UNREACHABLE", "fail", f"{url.host} does not resolve",
                       "DNS: the host name does not resolve", variant=ctx.variant)
    return CheckResult("pass", f"{url.host} resolves", ", ".join(sorted(addresses)),
                       data={"addresses": sorted(addresses)})


def cloud_reach(ctx: Context, seen: Seen) -> CheckResult:
    return network.reachable_from_cloud(ctx.profile, seen["dns"].data["addresses"],
                                        ctx.iga_hosting)


def reachable(ctx: Context, seen: Seen) -> CheckResult:
    url, profile = ctx.url, ctx.profile
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
                       f"{url.host}:{port} cannot be reached", unreachable_detail(exc),
                       variant=ctx.variant)


def token(ctx: Context, seen: Seen) -> CheckResult:
    result = run_token_check(ctx.profile)
    if result.ok:
        return CheckResult("pass", "the static token is accepted" if ctx.onprem else
                           "a token is issued and SCIM accepts it", result.token_line())
    worst = result.failures[0]
    return CheckResult("fail", worst.message, worst.subject, worst.remediation,
                       worst.code, worst.severity)


def discovery(ctx: Context, seen: Seen) -> CheckResult:
    resource_types = ctx.scim.request("GET", "ResourceTypes")
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


def service_provider_config(ctx: Context, seen: Seen) -> CheckResult:
    spc = ctx.scim.request("GET", "ServiceProviderConfig")
    bulk = spc.get("bulk") or {}
    data = {"bulk_supported": bool(bulk.get("supported")),
            "bulk_max_operations": bulk.get("maxOperations"),
            "bulk_max_payload": bulk.get("maxPayloadSize"),
            "max_results": (spc.get("filter") or {}).get("maxResults")}
    if not ctx.onprem:
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


def _readable(ctx: Context, endpoint: str) -> CheckResult:
    try:
        n = ctx.scim.total(endpoint)
    except _LET_THROUGH:
        # A connector state is said by its own code (see _by_connector_state); a tenant out of
        # reach is a check that could not be done, not a role that cannot read.
        raise
    except OpskitError as exc:
        return _result("SCIM_READ_FAILED", "fail", f"{endpoint} cannot be read", exc.message)
    return CheckResult("pass", f"{endpoint} readable: {n:,}", data={"total": n})


def users_readable(ctx: Context, seen: Seen) -> CheckResult:
    return _readable(ctx, "Users")


def groups_readable(ctx: Context, seen: Seen) -> CheckResult:
    return _readable(ctx, "Groups")


def visibility(ctx: Context, seen: Seen) -> CheckResult:
    onprem, reference_folders = ctx.onprem, ctx.reference_folders
    folders, secrets = ctx.scim.total("Containers"), ctx.scim.total("PrivilegedData")
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


def disabled_users(ctx: Context, seen: Seen) -> CheckResult:
    _total, listed = ctx.scim.page("Users", attributes=["active"], count=1000)
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


def filter_support(ctx: Context, seen: Seen) -> CheckResult:
    probes = {"eq": filters.eq("userName", "opskit.probe@example.invalid"),
              "co": filters.co("userName", "@")}
    for op, text in probes.items():
        try:
            ctx.scim.request("GET", "Users", params={"filter": text, "count": 1})
        except _CONNECTOR_STATES:
            raise  # said by its own code (see _by_connector_state)
        except ScimError as exc:
            return _result("FILTER_EQ_REFUSED", "fail", f"'{op}' filter refused",
                           exc.message)
    try:
        ctx.scim.request("GET", "Users", params={
            "filter": filters.compare("userName", "sw", "a"), "count": 1})
    except ScimInvalidFilter:
        return CheckResult("info", "eq and co work; other operators are refused, as "
                           "documented (a known limit: opskit evaluates them itself)")
    return CheckResult("info" if not ctx.onprem else "pass", "eq and co work, and this "
                       "tenant also accepted 'sw'" + ("" if ctx.onprem else
                                                      " (more than documented)"))


def documented_limits(ctx: Context, seen: Seen) -> CheckResult:
    notes = []
    try:
        ctx.scim.request("GET", "Roles")
        notes.append("/Roles answers (roles are not documented for the cloud connector)")
    except ScimNotFound:
        notes.append("/Roles absent (roles are planned, FAQ)")
    bulk = seen["spc"].data.get("bulk_supported")
    notes.append("/Bulk absent (one request per resource)" if not bulk
                 else "/Bulk advertised (not documented for the cloud connector)")
    return CheckResult("info", "documented limits: " + "; ".join(notes))


def write_probe(ctx: Context, seen: Seen) -> CheckResult:
    if not ctx.apply:
        return CheckResult("skip", "read-only run: the write probe runs with apply=True",
                           remediation="run with apply=True to probe a write")
    return probe_write(ctx.scim)


# --------------------------------------------------------------------------- the runbook
@dataclass(frozen=True)
class CheckSpec:
    """One onboarding check as the runbook lists it: a stable id, the title people read (the
    on-prem connector's own where it differs), the function, the checks it needs first, the
    one flavor it is for (None: both), and whether it reads what the connector serves after
    the token (then a connector serving nothing is reported by its own code, see
    _by_connector_state)."""

    id: str
    title: str
    run: Callable[[Context, Seen], CheckResult]
    needs: tuple[str, ...] = ()
    flavor: str | None = None
    served: bool = False
    onprem_title: str | None = None


# In the order an admin would follow them.
CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("url", "Tenant URL well formed", well_formed),
    CheckSpec("dns", "Tenant resolves", resolvable, ("url",)),
    CheckSpec("network", "Reachable from a cloud IGA", cloud_reach, ("dns",), flavor="onprem"),
    CheckSpec("tls", "Tenant reachable over TLS", reachable, ("dns",)),
    CheckSpec("token", "Token retrieval and SCIM access", token, ("tls",),
              onprem_title="Static token accepted"),
    CheckSpec("discovery", "Discovery and resource types", discovery, ("token",), served=True),
    CheckSpec("spc", "ServiceProviderConfig", service_provider_config, ("token",), served=True,
              onprem_title="ServiceProviderConfig and bulk limits"),
    CheckSpec("users", "Users readable", users_readable, ("token",), served=True),
    CheckSpec("groups", "Groups readable", groups_readable, ("token",), served=True),
    CheckSpec("visibility", "Folders and secrets the service account sees", visibility,
              ("discovery",), served=True, onprem_title="Folders and secrets the endpoint sees"),
    CheckSpec("filters", "Filter support", filter_support, ("users",), served=True),
    CheckSpec("disabled", "Disabled users", disabled_users, ("users",), flavor="onprem",
              served=True),
    CheckSpec("limits", "Documented limits (/Roles, /Bulk)", documented_limits, ("spc",),
              flavor="cloud", served=True),
    CheckSpec("write", "Write probe (temporary group)", write_probe, ("groups",)),
)


def onboarding_checks(profile: Endpoint, scim: SyncScimClient, *,
                      reference_folders: int | None = None, apply: bool = False,
                      iga_hosting: str | None = None) -> list[Check]:
    """The runbook's checks for a profile's connector (cloud or on-prem), for run_checks.
    ``iga_hosting`` ("cloud" or "on-prem", from the IGA settings) says whether the IGA must
    reach an on-prem connector from the internet (assumed when not given). Building the list
    sends nothing."""
    ctx = Context(profile, scim, reference_folders, apply, iga_hosting)
    checks = []
    for spec in CHECKS:
        if spec.flavor not in (None, profile.flavor):
            continue
        title = spec.onprem_title if ctx.onprem and spec.onprem_title else spec.title
        run = partial(spec.run, ctx)
        checks.append(Check(spec.id, title, _by_connector_state(run) if spec.served else run,
                            spec.needs))
    return checks


PROBE_META = {"created": "2001-01-01T00:00:00Z", "lastModified": "2001-01-01T00:00:00Z",
              "version": 'W/"opskit-probe"', "location": "https://opskit.invalid/probe"}


def probe_write(scim: SyncScimClient) -> CheckResult:
    """Create a temporary group carrying our own meta, check the server made its own (FAQ:
    client meta is ignored), then delete it — also when a step fails — and prove it is gone."""
    name = f"opskit-probe-{secrets.token_hex(4)}"
    body = {"schemas": [urns.GROUP], "displayName": name, "members": [], "meta": PROBE_META}
    created: dict[str, Any] | None = None
    problem: CheckResult | None = None
    refused = False  # a 4xx answer to the create: nothing was made (a 2xx that cannot be read
    # made something, and a 5xx may have)
    try:
        # Sent as it is, not by create(), which would drop the meta this probes for.
        created = scim.request("POST", "Groups", json=body)
        meta = (created or {}).get("meta") or {}
        ours = [k for k, v in PROBE_META.items() if meta.get(k) == v]
        if ours or not meta.get("created"):
            problem = _result("WRITE_PROBE_FAILED", "fail", "the server kept meta the client "
                              "sent", f"kept {', '.join(ours) or 'no meta at all'}; the FAQ "
                              "says the server generates meta itself")
    except OpskitError as exc:
        unsent = isinstance(exc, TransportError) and exc.nothing_sent
        refused = unsent or (isinstance(exc, ScimError) and exc.status is not None
                             and 400 <= exc.status < 500)
        problem = _result("WRITE_PROBE_FAILED", "fail", "creating a group failed: the tenant "
                          "could not be reached" if unsent else "creating a group was refused"
                          if refused else "creating a group failed (a server error, or the "
                          "answer was lost)", exc.message)
    finally:
        # Runs even on an interrupt: the probe must not outlive the check.
        clean, cleanup = (True, "nothing to remove: the create was refused or never sent") \
            if refused else _remove_probe(scim, name, created)
    if not clean:
        return _result("WRITE_PROBE_LEFTOVER", "fail", "the probe group may be left behind",
                       f"{cleanup}; delete group {name!r} by hand if it exists"
                       + (f" (and: {problem.summary})" if problem else ""))
    if problem is not None:
        return replace(problem, evidence=f"{problem.evidence}; {cleanup}")
    return CheckResult("pass", "a group can be created and deleted; the server makes its own "
                       "meta", f"created {name!r}; server meta {created and created['meta']}"
                       f"; {cleanup}")


def _remove_probe(scim: SyncScimClient, name: str,
                  created: dict[str, Any] | None) -> tuple[bool, str]:
    """Delete the probe group and nothing else: the id the create returned, or else the one
    group whose displayName is exactly the probe's unique name. (bool: verified gone.)"""
    try:
        if isinstance(created, dict) and created.get("id"):
            return _delete_probe(scim, str(created["id"]), "the id the create returned")
        # The create's answer was lost: look the probe up by its name. A server may ignore
        # `filter` and return every group, so only an exact name counts, and never more than
        # one group is deleted.
        total, listed = scim.page("Groups", filter=filters.eq("displayName", name),
                                  attributes=["displayName"])
        named = [str(g["id"]) for g in listed if g.get("displayName") == name and g.get("id")]
        if len(named) == 1:
            return _delete_probe(scim, named[0], "found by its exact name")
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


def _delete_probe(scim: SyncScimClient, gid: str, how: str) -> tuple[bool, str]:
    """Delete one group and prove it is gone."""
    scim.delete("Groups", gid)
    try:
        scim.get("Groups", gid)
    except ScimNotFound:
        return True, f"removed the probe group {gid} ({how}); it no longer answers"
    return False, f"group {gid} ({how}) still answers after DELETE"
