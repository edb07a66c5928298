"""Permission audit: effective access, coverage, findings and drift, from inventories.

Pure pandas over :class:`opskit.inventory.Inventory` frames: nothing here reads files or talks
to a tenant (``opskit.inputs.audit`` reads the CSV files and the grant history). Start with::

    access = effective_access(inv)            # who reaches what, through which group
    cov = coverage(cloud, reference)          # what the cloud service account cannot see
    findings = permission_findings(cloud, reference, tenant="acme")

or all three at once with :func:`audit_permissions`. ``docs/audit.md`` explains the results.
"""

from ._access import DIRECT, Access, effective_access
from ._audit import PermissionAudit, audit_permissions
from ._compare import Comparison, DifferentTenants, compare
from ._coverage import Coverage, FolderView, coverage, folder_view
from ._drift import Drift, drift, grants
from ._findings import infer_service_account, permission_findings
from ._folders import RIGHTS
from ._names import UnknownName
from ._views import View
from ._why import Change, Why, why

__all__ = [
    "DIRECT", "RIGHTS", "Access", "Change", "Comparison", "Coverage", "DifferentTenants",
    "Drift", "FolderView", "PermissionAudit", "UnknownName", "View", "Why", "audit_permissions",
    "compare", "coverage", "drift",
    "effective_access", "folder_view", "grants", "infer_service_account",
    "permission_findings", "why",
]
