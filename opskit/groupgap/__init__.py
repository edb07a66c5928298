"""Group-gap report: the IGA's, the Platform's and Secret Server's groups side by side.

Sources become :class:`GroupSource` frames (from inventories here, from export CSVs in
:mod:`opskit.inputs.groups`); :func:`group_gap` matches them and reports every gap as findings;
:func:`plan_remediation` turns the Platform-side gaps into SCIM operations (never removing the
cloud connector's service account from a group unless told to), which :func:`apply_plan` runs
when told to (through :func:`send_operations`, which sends any plan's operations, a what-if
plan's too). :func:`opskit.reports.group_gap.run_group_gap` does all of it for one profile, as
the notebook ``group_gap_report`` does, and after applying can wait (bounded) for Platform
Groups Sync to bring what it made. See docs/group-gap.md.
"""

from ..findings import PLATFORM_EDIT_GROUP_STEPS, PLATFORM_GROUPS_SYNC_STEPS
from ._match import Match, NameRules, match_groups, name_differences, normalise_name
from ._plan import (
    MAX_OPERATIONS,
    ApplyResult,
    ManualAction,
    Operation,
    RemediationPlan,
    ServiceAccountChange,
    apply_plan,
    plan_remediation,
    send_operations,
)
from ._report import GroupGapReport, group_gap
from ._service_account import ServiceAccount, find_service_account
from ._sources import GroupSource, platform_groups, secret_server_groups
from ._wait import SyncWait

__all__ = [
    "MAX_OPERATIONS",
    "PLATFORM_EDIT_GROUP_STEPS",
    "PLATFORM_GROUPS_SYNC_STEPS",
    "ApplyResult",
    "GroupGapReport",
    "GroupSource",
    "ManualAction",
    "Match",
    "NameRules",
    "Operation",
    "RemediationPlan",
    "ServiceAccount",
    "ServiceAccountChange",
    "SyncWait",
    "apply_plan",
    "find_service_account",
    "group_gap",
    "match_groups",
    "name_differences",
    "normalise_name",
    "plan_remediation",
    "platform_groups",
    "secret_server_groups",
    "send_operations",
]
