"""A rehearsal: planned changes, or the group-gap apply, run on a twin first.

The twin is a practice tenant (a profile of kind ``sandbox``) serving a copy of production:
the same ids, names pseudonymised or kept. Its inventory is read before and after the
operations are sent to it, the difference is set beside what was predicted, and the twin's
operations are mapped back to production names: what ``opskit rehearse`` shows, and what
production will get.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ..audit import (
    Change,
    access_changes,
    audit_permissions,
    changes_of,
    finding_changes,
    scim_plan,
    what_if,
)
from ..config import (
    Endpoint,
    PracticeEndpoint,
    PracticeProfile,
    Profile,
    connect,
    connect_view,
    get_profile,
)
from ..errors import ConfigError
from ..groupgap import ApplyResult, RemediationPlan, plan_remediation
from ..inventory import Inventory, fetch_inventory, load_snapshot
from ._apply import apply_change_plan
from ._names import NameMap, production_names

_ACCESS = ["user", "folder", "before", "after", "change"]
_FINDINGS = ["change", "code", "subject"]


@dataclass
class RehearsalResult:
    """What a rehearsal on a twin did, and what production would get.

    ``plan`` is the plan as run on the twin (its names); ``production`` the same operations
    with production names (the same ids). With ``apply``: ``access`` and ``findings`` are the
    differences measured on the twin, before → after; for planned changes, ``predicted_*``
    are the what-if's, and for the group gap ``left_after`` is the plan made again after the
    apply (empty when every gap SCIM can close was closed). ``pseudonyms_left`` lists twin
    names the production plan still holds (names the production snapshot lacks): none is
    the rule.
    """

    what: Literal["planned changes", "group gap"]
    twin: str
    plan: RemediationPlan
    applied: ApplyResult
    production: RemediationPlan
    pseudonyms_left: list[str] = field(default_factory=list)
    access: pd.DataFrame | None = None
    findings: pd.DataFrame | None = None
    predicted_access: pd.DataFrame | None = None
    predicted_findings: pd.DataFrame | None = None
    left_after: RemediationPlan | None = None
    group_gap: Any = None  # the GroupGapRun on the twin (group gap only)

    @property
    def as_predicted(self) -> bool | None:
        """Whether the twin changed as predicted; None when nothing was sent, or refused."""
        if not self.applied.applied or not self.applied.ok or not self.applied.done:
            return None
        if self.what == "group gap":
            return self.left_after is not None and self.left_after.empty
        assert self.access is not None and self.findings is not None
        return (_rows(self.access, _ACCESS) == _rows(self.predicted_access, _ACCESS)
                and _rows(self.findings, _FINDINGS)
                == _rows(self.predicted_findings, _FINDINGS))

    def operations(self) -> list[dict[str, Any]]:
        """The operations for production, as JSON: method, path, body, summary, reason,
        members."""
        return [{"method": op.method, "path": op.path, "body": op.body, "summary": op.summary,
                 "reason": op.reason, "members": op.members}
                for op in self.production.operations]

    def tables(self) -> dict[str, pd.DataFrame]:
        """What the rehearsal measured and planned, by name (each written as a CSV)."""
        tables = {"twin-operations": self.plan.as_frame(),
                  "twin-applied": self.applied.as_frame(),
                  "production-operations": self.production.as_frame()}
        for name, frame in (("access", self.access), ("predicted-access", self.predicted_access),
                            ("findings", self.findings),
                            ("predicted-findings", self.predicted_findings)):
            if frame is not None:
                tables[name] = frame
        return tables

    def write(self, folder: str | os.PathLike[str]) -> Path:
        """``operations.json`` (the operations for production, exactly as they would be sent)
        and one CSV per table into ``folder``; returns the JSON's path."""
        from .._escaping import csv_cell

        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        for name, table in self.tables().items():
            table.map(csv_cell).to_csv(out / f"{name}.csv", index=False)
        path = out / "operations.json"
        path.write_text(json.dumps(self.operations(), indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        return path

    def summary(self) -> str:
        lines = [f"Rehearsal of the {self.what} on twin {self.twin!r}: {self.applied}"]
        verdict = self.as_predicted
        if verdict is None:
            lines.append("The twin was not changed: nothing to compare"
                         + ("; run again with apply to send the operations to the twin."
                            if not self.applied.applied else "."))
        elif self.what == "group gap":
            lines.append("After the apply the plan is empty: every gap SCIM can close is "
                         "closed." if verdict else "After the apply the plan is not empty:\n"
                         + str(self.left_after))
        else:
            assert self.access is not None
            lines.append(f"The twin changed as the what-if predicted ({len(self.access)} "
                         "user×folder change(s))." if verdict else
                         "The twin did NOT change as the what-if predicted: compare "
                         "access and predicted_access before applying on production.")
        if self.pseudonyms_left:
            lines.append(f"{len(self.pseudonyms_left)} twin name(s) have no production name "
                         f"({', '.join(self.pseudonyms_left[:5])}): the production snapshot "
                         "lacks them; do not send these operations as they are.")
        lines.append("For production: " + str(self.production))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _rows(frame: pd.DataFrame | None, columns: list[str]) -> list[tuple[Any, ...]]:
    if frame is None:
        return []
    return sorted(tuple(str(v) for v in row) for row in frame[columns].itertuples(index=False))


def _texts(*frames: pd.DataFrame) -> list[str]:
    """Every text cell of the frames: the names a group-gap report holds."""
    return [v for frame in frames for column in frame.columns
            for v in frame[column].tolist() if isinstance(v, str)]


def _twin_profile(twin: Profile | str) -> PracticeProfile:
    prof = get_profile(twin) if isinstance(twin, str) else twin
    if not isinstance(prof, PracticeProfile):
        raise ConfigError(f"profile {prof.name!r} is a {prof.kind} profile, not a twin: a "
                          "rehearsal sends its operations, so it runs only on a practice "
                          "tenant", "give a profile of kind \"sandbox\" whose data is the "
                          "twin's tenant file (docs/rehearse.md)")
    return prof


def _inventories(production: Sequence[Inventory | str | os.PathLike[str]]) -> list[Inventory]:
    return [p if isinstance(p, Inventory) else load_snapshot(p) for p in production]


def _names(production: list[Inventory], key: str | None, also: Sequence[str] = ()) -> NameMap:
    if key is None:
        return NameMap()
    if not production:
        raise ConfigError("a pseudonymised twin is rehearsed with the production snapshot it "
                          "was made from, to map names between the two",
                          "give the snapshot (--production DIR), or --keep-names for a twin "
                          "made with its names kept")
    return NameMap.over(production, key, also)


def _changes(planned_changes: str | os.PathLike[str] | Sequence[Change],
             known: list[Inventory]) -> list[Change]:
    """The changes given, or read from a planned-changes file whose names ``known`` holds."""
    if not isinstance(planned_changes, str | os.PathLike):
        return list(planned_changes)
    from ..inputs.audit import read_planned_changes

    return changes_of(read_planned_changes(planned_changes, known))


@contextmanager
def _views(endpoint: PracticeEndpoint) -> Iterator[Any]:
    """(cloud, reference) read from the twin now, as a function to call again after."""
    ref: Profile | str | None = endpoint.reference
    if ref is None and endpoint.flavor == "cloud":  # a twin serves both views: read both
        ref = replace(endpoint.profile, name=f"{endpoint.name}-onprem", flavor="onprem",
                      reference=None)
    if ref is None:
        yield lambda: (fetch_inventory(endpoint, progress=False, secret_permissions=True), None)
        return
    with connect_view(ref, endpoint) as view:
        yield lambda: (fetch_inventory(endpoint, progress=False, secret_permissions=True),
                       fetch_inventory(view, progress=False, secret_permissions=True))


def rehearse_changes(planned_changes: str | os.PathLike[str] | Sequence[Change],
                     twin: Profile | str = "sandbox", *,
                     production: Sequence[Inventory | str | os.PathLike[str]] = (),
                     key: str | None = None, apply: bool = False) -> RehearsalResult:
    """Rehearse a planned-changes file (a CSV path, or the changes) on a twin.

    ``production``: inventories (or snapshot folders) of production, which the file's names
    are checked against; ``key``: the pseudonym key the twin was made with (None: the twin
    kept production's names). Without ``apply`` nothing is sent, not even to the twin: the
    plan, its prediction and the operations for production are shown. With it, the
    operations are sent to the twin, and the twin is read again and compared with the
    what-if's prediction.
    """
    prod = _inventories(production)
    names = _names(prod, key)
    with connect(_twin_profile(twin)) as endpoint:
        assert isinstance(endpoint, PracticeEndpoint)
        with _views(endpoint) as read:
            cloud, ref = read()
            changes = names.forward_changes(
                _changes(planned_changes, prod or [v for v in (cloud, ref) if v is not None]))
            account = endpoint.client_id or None
            predicted = what_if(cloud, changes, reference=ref, service_account=account)
            plan = scim_plan(cloud, changes, reference=ref)
            applied = apply_change_plan(plan, endpoint, apply=apply)
            access = findings = None
            if applied.done:
                cloud_after, ref_after = read()
                after = audit_permissions(cloud_after, ref_after, tenant=predicted.before.tenant,
                                          service_account=predicted.before.service_account)
                access = access_changes(predicted.before, after)
                findings = finding_changes(predicted.before.findings, after.findings)
    back = names.back_plan(plan)
    twin_names = production_names([v for v in (cloud, ref) if v is not None])
    return RehearsalResult("planned changes", endpoint.name, plan, applied, back,
                           names.pseudonyms_in(back, twin_names), access, findings,
                           predicted.access, predicted.findings)


def rehearse_group_gap(twin: Profile | str = "sandbox", *,
                       production: Sequence[Inventory | str | os.PathLike[str]] = (),
                       key: str | None = None, apply: bool = False, reference: str = "",
                       iga_export: str = "", production_iga: str = "",
                       allow_service_account_changes: bool = False) -> RehearsalResult:
    """Rehearse the group-gap apply on a twin: its report, plan and (with ``apply``) apply,
    as :func:`opskit.reports.group_gap.run_group_gap` makes them on the twin, then the plan
    made again after the apply, and the operations mapped back to production names.
    ``reference`` and ``iga_export`` are the twin's (in its names); ``production_iga``, the
    production IGA export, names the groups the plan creates, which no snapshot holds."""
    from ..inputs.groups import read_iga_export
    from ..reports.group_gap import run_group_gap

    also: list[str] = []
    if production_iga and key is not None:
        iga = read_iga_export(production_iga)
        also = [str(v) for frame, column in ((iga.groups, "key"), (iga.groups, "name"),
                                             (iga.members, "user_name"))
                for v in frame[column].dropna().tolist()]
    names = _names(_inventories(production), key, also)
    prof = _twin_profile(twin)
    run = run_group_gap(prof, reference=reference, iga_export=iga_export, apply=apply,
                        progress=False,
                        allow_service_account_changes=allow_service_account_changes)
    applied = run.applied or ApplyResult(applied=False, not_done=list(run.plan.operations))
    findings = left = None
    if run.after is not None:
        findings = finding_changes(run.report.findings, run.after.findings)
        left = plan_remediation(run.after,
                                allow_service_account_changes=allow_service_account_changes)
    back = names.back_plan(run.plan)
    gap_names = _texts(run.report.presence, run.report.membership)
    return RehearsalResult("group gap", prof.name, run.plan, applied, back,
                           names.pseudonyms_in(back, gap_names),
                           findings=findings, left_after=left, group_gap=run)


def apply_planned_changes(planned_changes: str | os.PathLike[str] | Sequence[Change],
                          profile: Profile | Endpoint | str | None = None, *,
                          reference: Profile | str | None = None,
                          apply: bool = False) -> tuple[RemediationPlan, ApplyResult]:
    """A planned-changes file applied to a tenant (production): its inventory read now, the
    plan made from it (``opskit.audit.scim_plan``), and sent only with ``apply``. Compare the
    plan with the rehearsal's operations for production before applying."""
    with connect(profile) as endpoint:
        ref_name = reference if reference is not None else endpoint.reference
        cloud = fetch_inventory(endpoint, progress=False, secret_permissions=True)
        ref = None
        if ref_name:
            with connect_view(ref_name, endpoint) as view:
                ref = fetch_inventory(view, progress=False, secret_permissions=True)
        changes = _changes(planned_changes, [v for v in (cloud, ref) if v is not None])
        plan = scim_plan(cloud, changes, reference=ref)
        return plan, apply_change_plan(plan, endpoint, apply=apply)
