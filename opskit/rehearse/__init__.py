"""Planned changes and the group-gap apply, rehearsed on a twin before production.

``rehearse_changes`` and ``rehearse_group_gap`` run on a twin (a practice tenant serving a
copy of production) and give a :class:`RehearsalResult`: the twin before and after, set beside
the prediction, and the operations production would get, in production's names (``NameMap``).
(Not ``opskit.sandbox.entry.Rehearsal``, a practice tenant served in a broken state.)
``apply_planned_changes`` and ``apply_change_plan`` send a planned-changes file's SCIM
operations to a tenant (dry run by default). docs/rehearse.md walks through it.
"""

from ._apply import apply_change_plan
from ._names import NameMap
from ._rehearse import (
    RehearsalResult,
    apply_planned_changes,
    rehearse_changes,
    rehearse_group_gap,
)

__all__ = ["NameMap", "RehearsalResult", "apply_change_plan", "apply_planned_changes",
           "rehearse_changes", "rehearse_group_gap"]
