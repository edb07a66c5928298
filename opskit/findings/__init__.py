"""Findings: the Finding record and every finding code, declared once.

A report makes a finding from a declared code, so its severity and remedy are the catalogue's::

    from opskit.findings import finding
    finding("NO_VISIBLE_FOLDERS", "acme", "the service account sees no folder")

Each code is declared once (``declare`` in the module of the report that raises it, here), with
its severity, a short title, the remediation and the reports that raise it; a second declaration
is an error at import, and an undeclared code an error where it is used. docs/findings.md
documents every code (a test keeps the two in step). Nothing here imports the rest of opskit
but its errors.
"""

from . import _any_check, _audit, _group_gap, _iga, _onboarding, _token  # noqa: F401 (declare)
from ._finding import (
    DEFAULT_FAIL_ON,
    FINDING_COLUMNS,
    SEVERITIES,
    Finding,
    Severity,
    at_or_above,
    by_severity,
    findings_frame,
)
from ._group_gap import PLATFORM_EDIT_GROUP_STEPS, PLATFORM_GROUPS_SYNC_STEPS
from ._registry import (
    ANY_CHECK,
    GROUP_GAP,
    IGA_SETTINGS,
    ONBOARDING,
    PERMISSION_AUDIT,
    REGISTRY,
    REPORTS,
    TOKEN_CHECK,
    DuplicateCode,
    FindingCode,
    Registry,
    UnknownCode,
)


def declared(code: str) -> FindingCode:
    """The declaration of ``code``; UnknownCode if it has none."""
    return REGISTRY[code]


def finding(code: str, subject: str, message: str, *, variant: str | None = None) -> Finding:
    """A finding of a declared code, with the code's severity and remediation (for ``variant``,
    e.g. "onprem", the remediation declared for it)."""
    return REGISTRY[code].finding(subject, message, variant=variant)


def raised_by(report: str) -> tuple[FindingCode, ...]:
    """The codes a report raises (one of REPORTS), in the order declared."""
    return REGISTRY.raised_by(report)


__all__ = [
    "ANY_CHECK", "DEFAULT_FAIL_ON", "FINDING_COLUMNS", "GROUP_GAP", "IGA_SETTINGS", "ONBOARDING",
    "PERMISSION_AUDIT", "PLATFORM_EDIT_GROUP_STEPS", "PLATFORM_GROUPS_SYNC_STEPS", "REGISTRY",
    "REPORTS", "SEVERITIES", "TOKEN_CHECK", "DuplicateCode", "Finding", "FindingCode",
    "Registry", "Severity", "UnknownCode", "at_or_above", "by_severity", "declared", "finding",
    "findings_frame",
    "raised_by",
]
