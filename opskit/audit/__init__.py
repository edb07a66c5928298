"""Permission audit: effective access, coverage, findings and drift, from inventories.

Pure pandas over :class:`opskit.inventory.Inventory` frames: nothing here reads files or talks
to a tenant (``opskit.inputs.audit`` reads the CSV files and the grant history). Start with::

    access = effective_access(inv)            # who reaches what, through which group
    cov = coverage(cloud, reference)          # what the cloud service account cannot see
    findings = permission_findings(cloud, reference, tenant="acme")

or all three at once with :func:`audit_permissions`; :func:`what_if` applies changes (revoke a
grant, remove a member, …) to copies and says what they would change; :func:`access_changes`
and :func:`finding_changes` set any two audits side by side as it does (a twin read before and
after, say). ``docs/audit.md`` explains the results.
"""

from ._access import DIRECT, Access, effective_access
from ._audit import COLUMNS_READ, PermissionAudit, audit_permissions
from ._changes import (
    BreakInheritance,
    Change,
    DeleteGroup,
    DisableUser,
    RemoveMember,
    RestoreInheritance,
    RevokeGrant,
    SetGrant,
    changes_of,
)
from ._compare import Comparison, DifferentTenants, compare
from ._coverage import Coverage, FolderView, coverage, folder_view
from ._drift import Drift, drift, grants
from ._findings import infer_service_account, permission_findings
from ._folders import RIGHTS
from ._names import UnknownName
from ._views import View
from ._whatif import (
    ChangeNotApplicable,
    WhatIf,
    access_changes,
    apply_changes,
    finding_changes,
    scim_plan,
    what_if,
)
from ._why import Removal, Why, why

__all__ = [
    "COLUMNS_READ", "DIRECT", "RIGHTS", "Access", "BreakInheritance", "Change",
    "ChangeNotApplicable", "Comparison", "Coverage", "DeleteGroup", "DifferentTenants",
    "DisableUser", "Drift", "FolderView", "PermissionAudit", "Removal", "RemoveMember",
    "RestoreInheritance", "RevokeGrant", "SetGrant", "UnknownName", "View", "WhatIf", "Why",
    "access_changes", "apply_changes", "audit_permissions", "changes_of", "compare", "coverage",
    "drift", "effective_access", "finding_changes", "folder_view", "grants",
    "infer_service_account", "permission_findings", "scim_plan", "what_if", "why",
]
