"""Can a cloud IGA reach the on-prem connector? What the connector's addresses say.

Delinea's FAQ ("Difference between On-Prem and Cloud", Deployment & Network): the On-Prem SCIM
Connector is installed on the customer's private network and "requires public exposure for
cloud IAM integrations". A cloud IGA (SailPoint Identity Security Cloud, Okta, Entra ID) calls
the connector from the internet, so a connector URL that resolves only to private, loopback or
link-local addresses is out of its reach, unless the IGA works from inside the network (a
SailPoint Virtual Appliance, or an IGA installed there, such as IdentityIQ).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import httpx

from ..config import Endpoint, is_loopback
from .engine import CheckResult

ONPREM_PRIVATE_ADDRESS = "ONPREM_PRIVATE_ADDRESS"


def address_scope(address: str) -> str:
    """Where an address can be reached from: "loopback", "link-local", "private" (any other
    range the internet does not route: RFC 1918, shared, unique-local…) or "public"."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) aside
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    return "public" if ip.is_global else "private"


def _practice(profile: Endpoint, url: httpx.URL) -> bool:
    # Plain http is allowed only to this machine, for the practice tenant (opskit.config).
    return profile.kind == "sandbox" or (url.scheme == "http" and is_loopback(url.host))


def reachable_from_cloud(profile: Endpoint, addresses: Iterable[str],
                         iga_hosting: str | None) -> CheckResult:
    """The runbook's network check for an on-prem connector whose host resolved to
    ``addresses``; ``iga_hosting`` is the IGA settings file's `hosting` (opskit.checks.iga),
    if given."""
    url = httpx.URL(profile.base_url)
    scoped = sorted(f"{a} ({address_scope(a)})" for a in set(addresses))
    shown = ", ".join(scoped)
    if _practice(profile, url):
        return CheckResult("info", "the practice tenant on this machine: no IGA reaches it "
                           "from outside, nor needs to", shown)
    if all(not s.endswith("(public)") for s in scoped):
        if iga_hosting == "on-prem":
            return CheckResult("info", f"{url.host} resolves to addresses inside the network, "
                               "and the IGA runs there too (hosting: on-prem)", shown)
        assumed = "" if iga_hosting else " (assumed: the IGA settings do not say)"
        return CheckResult.found(ONPREM_PRIVATE_ADDRESS, "warn", f"{url.host} resolves only to "
                                 f"addresses a cloud IGA cannot reach{assumed}", shown)
    return CheckResult("pass", f"{url.host} resolves to a public address: a cloud IGA can "
                       "reach it if the firewall lets it through", shown)
