"""opskit: run an IGA-to-Delinea SCIM integration — onboarding, token checks, permission audits
and group-gap reports, against a real tenant or the built-in practice tenant.

The entry points, each importable from ``opskit`` itself:

- profiles: :func:`get_profile` (a profile by name), :func:`connect` (a profile ready to use:
  for the practice tenant, one running for the ``with`` block);
- a tenant's users, groups, folders and secrets as frames: :func:`fetch_inventory`;
- the reports, one per notebook: :func:`check_token`, :func:`onboard`,
  :func:`run_permission_audit`, :func:`run_group_gap` (each result has ``findings``,
  ``metrics()`` and ``headline()``: :class:`opskit.reports.Report`);
- a notebook run headless into report.html and results.json: :func:`run_notebook`;
- what every check reports: :class:`Finding`, with its :data:`Severity`.

Each is loaded on first use, so ``import opskit`` (and ``opskit --help``) loads neither pandas
nor httpx.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__

# Public name → the module that defines it.
_ENTRY_POINTS = {
    "get_profile": ".config",
    "connect": ".config",
    "fetch_inventory": ".inventory",
    "check_token": ".reports.token_check",
    "onboard": ".reports.tenant_onboarding",
    "run_permission_audit": ".reports.permission_audit",
    "run_group_gap": ".reports.group_gap",
    "run_notebook": ".runner",
    "Finding": ".findings",
    "Severity": ".findings",
}

if TYPE_CHECKING:
    from .config import connect, get_profile
    from .findings import Finding, Severity
    from .inventory import fetch_inventory
    from .reports.group_gap import run_group_gap
    from .reports.permission_audit import run_permission_audit
    from .reports.tenant_onboarding import onboard
    from .reports.token_check import check_token
    from .runner import run_notebook


def __getattr__(name: str) -> Any:
    """PEP 562: an entry point is imported when it is first asked for, then kept."""
    if name not in _ENTRY_POINTS:
        raise AttributeError(f"module 'opskit' has no attribute {name!r}")
    value = getattr(import_module(_ENTRY_POINTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_ENTRY_POINTS})


__all__ = ["Finding", "Severity", "__version__", "check_token", "connect", "fetch_inventory",
           "get_profile", "onboard", "run_group_gap", "run_notebook", "run_permission_audit"]
