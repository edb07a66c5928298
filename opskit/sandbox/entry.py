"""The practice tenant's one door for the client: serve a tenant, say how to reach it.

opskit's client side (``opskit.config``, ``opskit.cli``, ``opskit.demo``, ``opskit.twin``) calls
the practice tenant only here (tests/test_layering.py holds it to that). What goes in and out is
plain values (paths, names, strings, and the dataclasses of this package), never the client's
types: the practice tenant shares no code with the client it stands in for.

Besides :func:`practice`, the door passes through what ``opskit sandbox …`` runs (serving in the
foreground, the demo company, the tour), each module imported only when first asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .rehearsals import REHEARSALS, Rehearsal, rehearse

if TYPE_CHECKING:
    from .demodata import write_demo
    from .faults import FaultSpec
    from .replay import Replay, ReplayError, replay_forever
    from .serve import RunningSandbox, running, serve_forever
    from .tenantfile import TenantFile, TenantFileError, load_tenant, parse_tenant
    from .tour import tour

__all__ = ["REHEARSALS", "FaultSpec", "PracticeTenant", "Rehearsal", "Replay", "ReplayError",
           "RunningSandbox", "TenantFile", "TenantFileError", "load_tenant", "parse_tenant",
           "practice", "replay_forever", "running", "serve_forever", "tenant_file", "tour",
           "write_demo"]

# Passed through on first use: uvicorn, the demo generator, the tour and the tenant file's
# models (pydantic) load only when asked, so the CLI's --help lists the rehearsals without them.
_LAZY = {"FaultSpec": ".faults", "RunningSandbox": ".serve", "running": ".serve",
         "serve_forever": ".serve", "tour": ".tour", "write_demo": ".demodata",
         "TenantFile": ".tenantfile", "TenantFileError": ".tenantfile",
         "load_tenant": ".tenantfile", "parse_tenant": ".tenantfile",
         # A capture served back (`opskit sandbox replay`): its folder is the contract.
         "Replay": ".replay", "ReplayError": ".replay", "replay_forever": ".replay"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_LAZY[name], __package__), name)

Flavor = Literal["cloud", "onprem"]


@dataclass(frozen=True)
class PracticeTenant:
    """A served practice tenant as one flavor's client reaches it (practice credentials only)."""

    url: str  # where the practice tenant answers: both flavors, the token endpoint, /_sandbox/
    tenant: str  # the tenant's own name
    flavor: Flavor
    scim_url: str  # the flavor's SCIM base
    token_url: str  # the cloud flavor's OAuth2 token URL; "" for on-prem
    # The cloud service user's name, for both flavors: it is no secret, and reports on the
    # on-prem view use it to tell the service account's own grants apart.
    client_id: str
    client_secret: str | None  # the cloud flavor's credential
    token: str | None  # the on-prem flavor's static bearer token
    iga_export_url: str | None  # the tenant file's IGA group export, served as CSV
    sync_interval_hours: float  # how the tenant's Platform groups reach its Secret Server
    platform_groups_searched_directly: bool


def tenant_file(data: str | Path | None = None, rehearsal: str | None = None) -> TenantFile:
    """A tenant file (default: the built-in demo company), in a rehearsal's broken state if
    one is named."""
    from .tenantfile import load_tenant, parse_tenant

    if data:
        tf = load_tenant(data)
    else:
        from .demodata import generate  # a large module, needed only for the demo

        tf = parse_tenant(generate(scale=1, seed=0), "<demo data, scale 1>")
    return rehearse(tf, rehearsal) if rehearsal else tf


@contextmanager
def practice(data: str | Path | None = None, flavor: Flavor = "cloud", *,
             rehearsal: str | None = None, url: str | None = None) -> Iterator[PracticeTenant]:
    """The practice tenant of ``data`` (default: the demo company) for the block's duration:
    served on a free loopback port, or, given ``url``, the one already answering there.

    A rehearsal serves the tenant broken, and the client keeps the tenant's original
    credentials: the break is on the tenant's side, as it is in life.
    """
    if url is not None and rehearsal:
        raise ValueError("a rehearsal is served by a practice tenant of its own, not at a url")
    original = tenant_file(data)
    if url is not None:
        yield _reached(original, url.rstrip("/"), flavor)
        return
    # Imported here: uvicorn is only needed once a tenant is served.
    from .serve import running

    with running(rehearse(original, rehearsal) if rehearsal else original) as sb:
        yield _reached(original, sb.url, flavor)


def _reached(tf: TenantFile, url: str, flavor: Flavor) -> PracticeTenant:
    from .app import PREFIX
    from .oauth import TOKEN_PATH

    cloud = flavor == "cloud"
    sync = tf.platform_groups_sync
    return PracticeTenant(
        url=url, tenant=tf.tenant, flavor=flavor, scim_url=url + PREFIX[flavor],
        token_url=url + TOKEN_PATH if cloud else "", client_id=tf.service_account.client_id,
        client_secret=tf.service_account.client_secret if cloud else None,
        token=None if cloud else tf.onprem.token,
        iga_export_url=url + "/_sandbox/iga-export.csv" if tf.iga is not None else None,
        sync_interval_hours=sync.interval_seconds / 3600,
        platform_groups_searched_directly=sync.platform_groups_searched_directly)
