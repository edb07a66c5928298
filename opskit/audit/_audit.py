"""The whole permission audit in one call: coverage, findings and effective access."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from ..findings import Finding, by_severity
from ._access import Access, build_access
from ._coverage import Coverage, coverage
from ._findings import findings_of, infer_service_account, prepare
from ._secrets import secret_gaps

# The columns the permission audit and its access queries read, of the frames where that is
# fewer than all (load_snapshot columns=): no secret permission's id, the largest column of
# the largest listing. The what-if reads the ids: give it a whole inventory.
COLUMNS_READ: dict[str, list[str]] = {"privileged_data_permissions": [
    "privileged_data_id", "principal_type", "principal_id", "principal_name", "right"]}


@dataclass(frozen=True)
class PermissionAudit:
    """What :func:`audit_permissions` found. ``access`` is built from the fullest inventory
    (the reference when it is one, else the cloud view), so it covers folders the cloud
    service account cannot see as well."""

    tenant: str
    service_account: str
    coverage: Coverage
    findings: list[Finding]
    access: Access

    def metrics(self) -> dict[str, Any]:
        """Counts for results.json."""
        cov = self.coverage
        codes: dict[str, int] = {}
        for f in self.findings:
            codes[f.code] = codes.get(f.code, 0) + 1
        return {"coverage_measured": cov.measured, "folders_total": cov.folders_total,
                "folders_visible": cov.folders_visible, "secrets_total": cov.secrets_total,
                "secrets_visible": cov.secrets_visible, "folder_share": cov.folder_share,
                "access_rows": self.access.count_rows(), "findings_by_code": codes,
                "findings_by_severity": by_severity(self.findings)}


def _give_back() -> None:
    """What a pass over millions of permissions freed goes back to the system. Left in the
    allocator's arenas (Arrow's threads allocate in their own), the next pass would not reuse
    it: 220 MB of a scale-1,000 audit's peak after the folder grants alone."""
    pa.default_memory_pool().release_unused()


def audit_permissions(cloud: Any, reference: Any = None, *, tenant: str | None = None,
                      service_account: str | None = None,
                      planned: pd.DataFrame | None = None) -> PermissionAudit:
    """Audit a cloud inventory against an optional reference (an Inventory or a FolderView).

    See :func:`permission_findings` for the parameters.
    """
    tenant = tenant or str(cloud.meta.get("source") or "tenant")
    views = prepare(cloud, reference)
    _give_back()
    sa = service_account or infer_service_account(cloud, views[0])
    cov = coverage(cloud, reference)
    _give_back()
    findings = findings_of(views, cov, tenant=tenant, service_account=sa, planned=planned)
    _give_back()
    if len(views) > 1:
        # A secret the cloud leaves out of a folder it returns has permissions of its own,
        # unless none of its subtree's secrets are returned: those inherit a secret role.
        gaps = secret_gaps(views[0], cov, None)
        not_owned = set(cov.not_owned.loc[~cov.not_owned["folder"].isin(gaps.paths), "id"]
                        .dropna().tolist())
        access = build_access(views[1], own_permission_secrets=not_owned,
                              more_users=cloud.users)
    else:
        access = build_access(views[0])
    return PermissionAudit(tenant, sa, cov, findings, access)
