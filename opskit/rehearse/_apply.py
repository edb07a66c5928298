"""Planned changes applied over SCIM: the operations of ``opskit.audit.scim_plan``, sent.

Which operations a change takes is analysis (``scim_plan``, no I/O); this module only sends
them, as the group-gap plan is sent (``opskit.groupgap.send_operations``): in order, one at a
time, the first refusal stopping the run.
"""

from __future__ import annotations

from collections.abc import Callable

from ..config import Endpoint, Profile, connect
from ..groupgap import ApplyResult, Operation, RemediationPlan, send_operations


def apply_change_plan(plan: RemediationPlan, profile: Profile | Endpoint | str | None = None,
                      *, apply: bool = False,
                      on_done: Callable[[Operation], None] | None = None) -> ApplyResult:
    """Send a planned-changes plan through the profile's connector, when ``apply`` is set.

    With ``apply=False`` (the default) nothing is sent and every operation is ``not_done``.
    Operations run in order; the first refusal stops the run, and ``result.failed`` and
    ``result.error`` say which and why. The plan's ``manual`` steps and ``skipped`` changes
    are never sent: do them by hand. Send a plan to the connector that sees its objects (the
    cloud connector answers only for folders its service account owns).
    """
    if not apply or plan.empty:
        return ApplyResult(applied=apply, not_done=list(plan.operations))
    with connect(profile) as prof:
        return send_operations(plan.operations, prof, on_done=on_done)
