"""Remediation: the SCIM operations that close the Platform-side gaps, and running them.

The plan is computed from a report of the current state, so it is idempotent by construction:
once applied, a new report has nothing left for it to do. Only two gaps are closed through
SCIM — a group the IGA has and the Platform lacks (POST), and a membership that differs from
the IGA's (PATCH add/remove) — because SCIM can neither start the Platform Groups Sync nor
tell which spelling of a name is the right one; those get manual steps instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from ..config import Endpoint, Profile, connect
from ..errors import ConfigError, OpskitError
from ..findings import PLATFORM_EDIT_GROUP_STEPS, PLATFORM_GROUPS_SYNC_STEPS
from ..scim import ScimClient, filters, run_sync, urns
from ._match import normalise_name, quoted
from ._report import ONLY_IN_IGA, ONLY_ON_PLATFORM, GroupGapReport
from ._sources import GroupSource
from ._sync import interval_text


@dataclass(frozen=True)
class Operation:
    """One SCIM request of a plan: ``method`` on ``path`` (relative to the SCIM base)."""

    method: Literal["POST", "PATCH", "PUT", "DELETE"]  # PUT, DELETE: what-if plans only
    path: str
    body: dict[str, Any]
    summary: str  # what it does, in words
    code: str  # the finding it closes
    subject: str
    # Whom it adds or removes, as people read them ("userName (id)"); never sent: SCIM
    # names members by id only.
    members: str = ""

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.subject}"


@dataclass(frozen=True)
class ManualAction:
    """A gap SCIM cannot close: what to do by hand, for which groups."""

    code: str
    subjects: tuple[str, ...]
    what: str
    steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceAccountChange:
    """A removal from a Platform group that may cut what the cloud connector sees: of its
    service account (``folders`` and ``secrets`` it would stop owning through the group), or,
    when the account could not be identified (``unidentified`` says why), of anyone.
    ``planned``: in the plan (``allow_service_account_changes=True``) or left out."""

    group: str  # as the IGA names it
    platform_name: str
    platform_id: str
    member_ids: tuple[str, ...]  # who is removed: the service account, or (unidentified) all
    members: tuple[str, ...]  # their userNames
    folders: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    planned: bool = False
    unidentified: str | None = None

    @property
    def cost(self) -> str:
        """What the removal costs the cloud connector, in words."""
        if self.unidentified is not None:
            return (f"the service account could not be identified ({self.unidentified}), so "
                    "any removal may be the one that cuts what the cloud connector sees")
        if not self.folders:
            return ("it keeps Owner on every folder it sees through other grants, so the cloud "
                    "connector sees no less")
        secrets = (f" and {len(self.secrets)} secret(s) ({_names_text(list(self.secrets))})"
                   if self.secrets else "")
        return (f"the cloud connector, and so the IGA, would no longer see "
                f"{len(self.folders)} folder(s) ({_names_text(list(self.folders))}){secrets}, "
                "which it owns only through this group")

    @property
    def warning(self) -> str:
        """What a planned removal adds to its operation's summary."""
        return self.cost if self.unidentified else f"removes the service account: {self.cost}"

    @property
    def text(self) -> str:
        who = ("the service account " if self.unidentified is None else "") \
            + _names_text(list(self.members))
        return (f"{self.group}: removing {who} from Platform group {self.platform_name!r}: "
                f"{self.cost}")


@dataclass
class RemediationPlan:
    """``operations`` close Platform-side gaps through SCIM, in order; ``manual`` lists the
    rest; ``skipped`` says which Platform-side gaps the plan leaves open, and why.
    ``incomplete`` says why the Platform side was not read whole: such a plan is never applied,
    since a member or group missing from the listing would look like a gap.
    ``service_account`` lists the removals that may cut what the cloud connector sees, planned
    or (without the opt-in) left out, each with its cost."""

    operations: list[Operation]
    manual: list[ManualAction] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    incomplete: str | None = None
    service_account: list[ServiceAccountChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.operations

    def as_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"step": i, "method": op.method, "path": op.path,
                              "summary": op.summary, "reason": op.reason}
                             for i, op in enumerate(self.operations, 1)],
                            columns=["step", "method", "path", "summary", "reason"])

    def __str__(self) -> str:
        lines = [f"{len(self.operations)} SCIM operation(s):" if self.operations
                 else "No SCIM operations: the Platform matches the IGA."]
        for i, op in enumerate(self.operations, 1):
            lines.append(f"  {i}. {op.method} {op.path}: {op.summary} ({op.reason})")
            if op.members:
                lines.append(f"     members: {op.members}")
        lines += [f"  service account: {c.text}" for c in self.service_account if c.planned]
        lines += [f"  not planned: {s}" for s in self.skipped]
        if self.incomplete:
            lines.append(f"Not to be applied: {self.incomplete}")
        for m in self.manual:
            lines.append(f"By hand ({m.code}): {m.what} — {', '.join(m.subjects)}")
            lines += [f"    {i}. {s}" for i, s in enumerate(m.steps, 1)]
        return "\n".join(lines)


def _group_body(name: str, member_ids: list[str], external_id: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [urns.GROUP], "displayName": name,
                            "members": [{"value": uid} for uid in member_ids]}
    if isinstance(external_id, str) and external_id:
        body["externalId"] = external_id
    return body


def _names_text(names: list[str]) -> str:
    return ", ".join(names) if len(names) <= 5 else f"{', '.join(names[:5])} … {len(names)} in all"


def _members_text(ids: list[str], user_names: dict[Any, Any]) -> str:
    """Members as people read them: ``userName (id)``, or the id alone if it has no name."""
    return ", ".join(f"{user_names[i]} ({i})" if isinstance(user_names.get(i), str) else str(i)
                     for i in ids)


def plan_remediation(report: GroupGapReport, *,
                     allow_service_account_changes: bool = False) -> RemediationPlan:
    """The SCIM operations that would make the Platform match the IGA, and the manual steps.

    Creates each group the IGA has and the Platform lacks (with the IGA's direct members), and
    PATCHes each differing membership to the IGA's direct members. Pure: nothing is sent.
    Removing the cloud connector's service account from a group (which may hide folders from
    it) is planned only with ``allow_service_account_changes``; either way
    ``plan.service_account`` says what it would cost.
    """
    ops: list[Operation] = []
    skipped: list[str] = []
    platform, iga = report.platform, report.iga
    user_ids = {str(n).casefold(): i for i, n in zip(platform.users["id"],
                                                    platform.users["user_name"], strict=True)
                if isinstance(n, str)}
    user_names = dict(zip(platform.users["id"], platform.users["user_name"], strict=True))
    known_users = {str(i) for i in platform.users["id"]}
    member_ids = {(k, str(n).casefold()): u for k, n, u in zip(
        platform.members["key"], platform.members["user_name"], platform.members["user_id"],
        strict=True)}
    taken = {normalise_name(n, report.rules): n for n in platform.groups["name"]}
    iga_ext = (dict(zip(iga.groups["key"], iga.groups["external_id"], strict=True))
               if iga is not None else {})
    iga_members: dict[str, list[str]] = {}
    if iga is not None:
        for k, n in zip(iga.members["key"], iga.members["user_name"], strict=True):
            iga_members.setdefault(k, []).append(n)
    rows = report.presence

    def ids_for(names: list[str], subject: str) -> list[str]:
        known = [user_ids[n.casefold()] for n in names if n.casefold() in user_ids]
        unknown = [n for n in names if n.casefold() not in user_ids]
        if unknown:
            skipped.append(f"{subject}: no Platform user {_names_text(unknown)}, so they are "
                           "not added (provision the users first)")
        return known

    never_provisioned = (~rows["on_platform"] & rows["in_iga"]).fillna(False).astype(bool)
    for row in rows[never_provisioned].itertuples():
        name = row.iga_name
        if isinstance(row.secret_server_name, str):
            skipped.append(f"{name}: not created, since Secret Server already has a group "
                           f"{quoted(row.secret_server_name)} made there directly; a Platform "
                           "group of that name would meet it at the next Platform Groups Sync. "
                           "Decide by hand which group to keep")
            continue
        clash = taken.get(normalise_name(name, report.rules))
        if clash is not None:
            skipped.append(f"{name}: not created, since its name clashes with Platform group "
                           f"{quoted(clash)}; resolve the names first")
            continue
        members = ids_for(iga_members.get(row.iga_key, []), name)
        ops.append(Operation("POST", "Groups", _group_body(name, members, iga_ext.get(
            row.iga_key)), f"create group {quoted(name)} with {len(members)} direct member(s)",
            "GROUP_NOT_ON_PLATFORM", name, _members_text(members, user_names)))
    diff = report.membership
    patches = []
    for row in rows[rows["codes"].map(lambda c: "GROUP_MEMBERSHIP_DIFFERS" in c)].itertuples():
        mine = diff[diff["platform_id"] == row.platform_id]  # names may repeat; ids do not
        add = ids_for(mine.loc[mine["side"] == ONLY_IN_IGA, "user_name"].tolist(), row.iga_name)
        remove = [member_ids[(row.platform_id, n.casefold())]
                  for n in mine.loc[mine["side"] == ONLY_ON_PLATFORM, "user_name"]]
        # A member the user listing lacks may be a real user the listing missed (an unread
        # page): who it is is unknown, so it is never removed.
        unknown = [uid for uid in remove if uid not in known_users]
        if unknown:
            skipped.append(f"{row.iga_name}: member(s) {_names_text(unknown)} of Platform group "
                           f"{quoted(row.platform_name)} not removed, since the Platform's user "
                           "listing has no such user; check them on the Platform")
            remove = [uid for uid in remove if uid in known_users]
        patches.append((row, add, remove))
    changes = _service_account_changes(platform, patches, allow_service_account_changes)
    for row, add, remove in patches:
        change = changes.get(row.platform_id)
        if change is not None and not change.planned:
            skipped.append(f"{change.text}; left out without allow_service_account_changes"
                           " = True")
            remove = [uid for uid in remove if uid not in change.member_ids]
        operations: list[dict[str, Any]] = []
        if add:
            operations.append({"op": "add", "path": "members",
                               "value": [{"value": uid} for uid in add]})
        operations += [{"op": "remove", "path": f"members[{filters.eq('value', uid)}]"}
                       for uid in remove]
        if operations:
            ops.append(Operation(
                "PATCH", f"Groups/{row.platform_id}",
                {"schemas": [urns.PATCH_OP], "Operations": operations},
                f"add {len(add)}, remove {len(remove)} direct member(s) of "
                f"{quoted(row.platform_name)}" + (f"; {change.warning}"
                                            if change is not None and change.planned else ""),
                "GROUP_MEMBERSHIP_DIFFERS", row.iga_name,
                "; ".join(f"{how}: {_members_text(ids, user_names)}"
                          for how, ids in (("add", add), ("remove", remove)) if ids)))
    incomplete = None if platform.complete else (
        "; ".join(platform.notes) or f"the Platform side {platform.origin!r} is incomplete")
    return RemediationPlan(ops, _manual(report, ops), skipped, incomplete,
                           list(changes.values()))


def _service_account_changes(platform: GroupSource,
                             patches: list[tuple[Any, list[str], list[str]]],
                             allow: bool) -> dict[str, ServiceAccountChange]:
    """Per Platform group id, the removal in it that may cut what the cloud connector sees."""
    sa = platform.service_account
    if sa is None or (sa.user_id is None and not sa.folders):
        return {}  # not read from a tenant, or a view with no folder: nothing it sees to lose
    names = dict(zip(platform.users["id"], platform.users["user_name"], strict=True))
    leaving = {row.platform_id for row, _, remove in patches if sa.user_id in remove}
    changes = {}
    for row, _, remove in patches:
        touched = remove if sa.user_id is None else [u for u in remove if u == sa.user_id]
        if not touched:
            continue
        folders = sa.stops_owning(leaving, row.platform_id) if sa.user_id else []
        changes[row.platform_id] = ServiceAccountChange(
            row.iga_name, row.platform_name, row.platform_id, tuple(touched),
            tuple(str(names.get(u, u)) for u in touched), tuple(folders),
            tuple(sa.secrets_in(folders)), allow, None if sa.user_id else sa.how)
    return changes


def _manual(report: GroupGapReport, ops: list[Operation]) -> list[ManualAction]:
    by_code: dict[str, list[str]] = {}
    for f in report.findings:
        by_code.setdefault(f.code, []).append(f.subject)
    out = []
    if "GROUP_NOT_IN_SECRET_SERVER" in by_code:
        out.append(ManualAction("GROUP_NOT_IN_SECRET_SERVER",
                                tuple(by_code["GROUP_NOT_IN_SECRET_SERVER"]),
                                "the timed Platform Groups Sync has not brought these Platform "
                                "groups to Secret Server: select them for sync, then Sync Now",
                                PLATFORM_GROUPS_SYNC_STEPS))
    created = ([op.subject for op in ops if op.method == "POST"]
               if not report.sync.platform_groups_searched_directly else [])
    pending = by_code.get("GROUP_SYNC_PENDING", []) + created
    if pending:
        what = (f"nothing to do yet unless they are needed sooner: if these groups are among "
                f"those enabled for sync, the timed Platform Groups Sync "
                f"({interval_text(report.sync)}) brings them to Secret Server within one "
                "interval of their creation; still missing then, or needed sooner: select "
                "them and Sync Now")
        if created:
            what += ("; the groups this plan creates are among them, so until then the next "
                     "report lists them as GROUP_SYNC_PENDING")
        out.append(ManualAction("GROUP_SYNC_PENDING", tuple(pending), what,
                                PLATFORM_GROUPS_SYNC_STEPS))
    if "GROUP_NOT_FOUND_BY_SECRET_SERVER" in by_code:
        out.append(ManualAction("GROUP_NOT_FOUND_BY_SECRET_SERVER",
                                tuple(by_code["GROUP_NOT_FOUND_BY_SECRET_SERVER"]),
                                "not a sync matter (Secret Server searches Platform groups "
                                "directly): check the Secret Server side, as the finding says"))
    if "GROUP_NAME_MISMATCH" in by_code:
        out.append(ManualAction(
            "GROUP_NAME_MISMATCH", tuple(by_code["GROUP_NAME_MISMATCH"]),
            "not renamed automatically: choose the right spelling, then fix it in the IGA "
            "(usually) or edit the group on the Platform", PLATFORM_EDIT_GROUP_STEPS[:4]))
    if "GROUP_NOT_IN_IGA" in by_code:
        out.append(ManualAction("GROUP_NOT_IN_IGA", tuple(by_code["GROUP_NOT_IN_IGA"]),
                                "govern these groups in the IGA, or delete those nobody needs"))
    if "GROUP_ONLY_IN_SECRET_SERVER" in by_code:
        out.append(ManualAction("GROUP_ONLY_IN_SECRET_SERVER",
                                tuple(by_code["GROUP_ONLY_IN_SECRET_SERVER"]),
                                "delete these Secret Server groups if unused, or create them on "
                                "the Platform and govern them in the IGA"))
    return out


@dataclass
class ApplyResult:
    """What :func:`apply_plan` did: ``done`` in order, the ``failed`` operation and its
    ``error`` if one was refused, and ``not_done`` (everything after it, or all of a dry run)."""

    applied: bool
    done: list[Operation] = field(default_factory=list)
    not_done: list[Operation] = field(default_factory=list)
    failed: Operation | None = None
    error: str | None = None
    created: dict[str, str] = field(default_factory=dict)  # group name → new Platform id
    # Also in ``done``: creates found done already (the plan was applied before), not re-sent.
    already: list[Operation] = field(default_factory=list)
    held: str | None = None  # why an apply that was asked for sent nothing (a large plan)

    @property
    def ok(self) -> bool:
        return self.failed is None

    def as_frame(self) -> pd.DataFrame:
        rows: list[tuple[Operation, str, str | None]] = [
            (op, "already done" if op in self.already else "done", None) for op in self.done]
        if self.failed is not None:
            rows.append((self.failed, "refused", self.error))
        rows += [(op, "not done" if self.applied else "planned", None) for op in self.not_done]
        return pd.DataFrame([{"step": i, "status": status, "method": op.method, "path": op.path,
                              "summary": op.summary, "reason": op.reason, "error": error}
                             for i, (op, status, error) in enumerate(rows, 1)],
                            columns=["step", "status", "method", "path", "summary", "reason",
                                     "error"])

    def __str__(self) -> str:
        if self.held is not None:
            return f"Not applied: {self.held}."
        if not self.applied:
            return f"Dry run: {len(self.not_done)} operation(s) planned, none sent."
        text = f"{len(self.done)} operation(s) done" + (
            f" ({len(self.already)} found done already, so not sent again)." if self.already
            else ".")
        if self.failed is not None:
            text += (f" Refused, so stopped at {self.failed.method} {self.failed.path} "
                     f"({self.failed.summary}); {len(self.not_done)} more not done.\n"
                     f"{self.error}")
        return text


def send_operations(operations: Sequence[Operation], endpoint: Endpoint, *,
                    on_done: Callable[[Operation], None] | None = None) -> ApplyResult:
    """Send ``operations`` to ``endpoint`` over SCIM, one at a time, in order.

    Every kind a plan holds is sent as itself: a group-gap plan's POST (a group) and PATCH
    (its members), and a what-if plan's (``opskit.audit.scim_plan``) POST of a folder
    permission, PUT and DELETE. The first refusal stops the run: the result says what was
    done, which operation was refused and why, and what was not done. A group create whose
    exact name the tenant already lists (the plan was applied before) is not sent again.
    """
    result = ApplyResult(applied=True)

    async def go() -> None:
        async with ScimClient.for_profile(endpoint) as client:
            await _send(client, list(operations), result, on_done)

    run_sync(go)
    return result


async def _send(client: ScimClient, pending: list[Operation], result: ApplyResult,
                on_done: Callable[[Operation], None] | None) -> None:
    while pending:
        op = pending[0]
        endpoint, _, rid = op.path.partition("/")
        try:
            if op.method == "POST" and endpoint == "Groups":
                # A plan applied before (or in part) already made it: never a second POST.
                # Only the exact name counts: a server may ignore the filter and list all.
                name = op.body["displayName"]
                found = await client.list(endpoint, filters.eq("displayName", name),
                                          attributes=["id", "displayName"])
                if any(g.get("displayName") == name for g in found):
                    result.already.append(op)
                else:
                    made = await client.create(endpoint, op.body)
                    if isinstance(made, dict) and made.get("id") is not None:
                        result.created[name] = str(made["id"])
            elif op.method == "POST":  # a folder permission (what-if plans)
                await client.create(endpoint, op.body)
            elif op.method == "PUT":
                await client.replace(endpoint, rid, op.body)
            elif op.method == "DELETE":
                await client.delete(endpoint, rid)
            else:
                # Re-adding a member changes nothing; the practice tenant also takes the
                # removal of an absent one (a server may answer noTarget: a refusal).
                await client.patch(endpoint, rid, op.body["Operations"])
        except OpskitError as exc:  # the first refusal stops the run: report, don't guess
            result.failed, result.error = op, str(exc)
            pending.pop(0)
            break
        result.done.append(pending.pop(0))
        if on_done is not None:
            on_done(op)
    result.not_done = pending


MAX_OPERATIONS = 200  # a plan larger than this is applied only when confirmed


def apply_plan(plan: RemediationPlan, profile: Profile | Endpoint | str | None = None, *,
               apply: bool = False, on_done: Callable[[Operation], None] | None = None,
               max_operations: int = MAX_OPERATIONS,
               confirm_large_plan: bool = False) -> ApplyResult:
    """Run the plan's operations through the profile's cloud connector, when ``apply`` is set.

    With ``apply=False`` (the default) nothing is sent. Operations run one at a time, in order;
    the first refusal stops the run, and the result says what was and was not done. ``meta`` is
    never sent. Run the report again afterwards: the plan it gives should be empty. A plan
    from an incomplete Platform listing is refused (ConfigError); applying a plan again creates
    no group twice. A plan of more than ``max_operations`` operations is sent only with
    ``confirm_large_plan=True``; without it nothing is sent and ``result.held`` says why.
    """
    if isinstance(max_operations, bool) or not isinstance(max_operations, int) \
            or max_operations < 1:
        raise ConfigError(f"max_operations must be a whole number of at least 1, not "
                          f"{max_operations!r}", "give the largest plan to apply without "
                          f"confirm_large_plan (default {MAX_OPERATIONS})")
    if not apply or plan.empty:
        return ApplyResult(applied=apply, not_done=list(plan.operations))
    if plan.incomplete:
        raise ConfigError(f"the plan is not applied: {plan.incomplete}. A member or group the "
                          "listing missed would look like one to remove or create",
                          "fetch the Platform again until its inventory is complete (see its "
                          "notes), report and plan again, then apply")
    if len(plan.operations) > max_operations and not confirm_large_plan:
        return ApplyResult(applied=False, not_done=list(plan.operations), held=(
            f"the plan has {len(plan.operations):,} operations, more than max_operations = "
            f"{max_operations:,}, so none was sent. Check the plan, then run again with "
            "confirm_large_plan = True to send it"))
    # A what-if plan (opskit.audit.scim_plan) goes to whichever connector sees its objects,
    # not necessarily the cloud one this function insists on.
    other = sorted({op.method for op in plan.operations} - {"POST", "PATCH"})
    if other:
        raise ValueError(f"this plan holds {', '.join(other)} operations, which only a what-if "
                         "plan has: apply_plan sends a group-gap plan (POST and PATCH) only; "
                         "send a what-if plan with opskit.rehearse.apply_change_plan")
    with connect(profile) as prof:
        if prof.flavor != "cloud":
            raise ConfigError(f"profile {prof.name!r} is an on-prem profile; the plan changes "
                              "Platform groups through the SCIM Cloud Connector",
                              "use the cloud profile the Platform inventory came from")
        return send_operations(plan.operations, prof, on_done=on_done)
