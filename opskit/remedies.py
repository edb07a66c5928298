"""Remedies that more than one report gives. The onboarding runbook (checks) and the permission
audit (audit) are siblings that raise the same finding: its text lives here, below both, once."""

from __future__ import annotations

NO_VISIBLE_SECRETS = (
    "The service account sees folders but no secret, so the IGA will aggregate no privileged "
    "data (FAQ: Get All PrivilegedData needs Owner on each secret). In Secret Server, give the "
    "service account (or its group, e.g. SCIM Owners) the Owner secret role on the folders' "
    "permissions (folder > Edit permissions > secret access role: Owner), or Owner on the "
    "secrets themselves. If it holds that already, check the SCIM role's View Secrets "
    "permission.")
