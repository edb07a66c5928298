"""The group-gap report for one profile in one call: what ``group_gap_report.ipynb`` runs.

:func:`run_group_gap` reads the three systems' groups, reports, plans and (when told to)
applies the plan and reports again, all within one connection to the tenant, so a practice
tenant is the same tenant throughout. A side that is not given is said plainly in
:attr:`GroupGapRun.notes`, never treated as a system with no groups.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from ..auth import check_reachable
from ..config import (
    Endpoint,
    PlatformGroupsSync,
    Profile,
    connect,
    connect_view,
    get_profile,
    load_profiles,
)
from ..csvfile import shown_source
from ..errors import ConfigError, OpskitError
from ..findings import Finding, by_severity
from ..groupgap._match import NameRules, match_groups
from ..groupgap._plan import (
    MAX_OPERATIONS,
    ApplyResult,
    RemediationPlan,
    apply_plan,
    plan_remediation,
)
from ..groupgap._report import (
    GRANT_COLUMNS,
    MEMBERSHIP_COLUMNS,
    ONLY_IN_IGA,
    ONLY_ON_PLATFORM,
    PRESENCE_COLUMNS,
    GroupGapReport,
    group_gap,
)
from ..groupgap._sources import (
    GROUP_COLUMNS,
    GroupSource,
    _empty,
    platform_groups,
    secret_server_groups,
)
from ..groupgap._sync import duration_text
from ..groupgap._wait import NEXT_STEP, Lookups, SyncWait, check_wait, outcomes, wait_for_groups
from ..inputs.groups import read_iga_export, read_secret_server_export
from ..inventory import fetch_inventory
from ..report.escaping import markdown_code, markdown_prose, markdown_text
from ..report.findings import FindingsByCode, findings_grouped
from ._phases import Progress, inner, phases
from ._protocol import Table, unknown_section

SYSTEMS = ("IGA", "Platform", "Secret Server")
NOT_GIVEN = "not given"

@dataclass
class GroupGapRun:
    """What :func:`run_group_gap` found, planned and did.

    ``report`` is the report before anything was applied; ``after`` the report made from the
    Platform fetched again after applying (None unless something was applied). ``sources``
    says where each system's groups came from (None: not given). ``notes`` are what the reader
    must know: a side not given, an on-prem profile, an incomplete inventory.
    """

    SECTIONS: ClassVar[tuple[str, ...]] = ("summary", "presence", "findings", "membership",
                                           "grants", "plan", "applied")
    profile: str
    flavor: str
    report: GroupGapReport
    plan: RemediationPlan
    sources: dict[str, str | None]
    notes: list[str] = field(default_factory=list)
    applied: ApplyResult | None = None
    after: GroupGapReport | None = None
    refetch_failed: bool = False  # applied, but the Platform could not be read again
    # With wait_for_sync_minutes after an apply: each group waited for (None: no wait made).
    sync_wait: list[SyncWait] | None = None
    wait_minutes: float = 0.0

    @property
    def findings(self) -> list[Finding]:
        """The findings that stand: the after-report's when the plan was applied."""
        return (self.after or self.report).findings

    # ------------------------------------------------------------------ headline
    def group_counts(self) -> dict[str, int | None]:
        """Groups per system; None for a system that was not given."""
        by = {"IGA": self.report.iga, "Platform": self.report.platform,
              "Secret Server": self.report.secret_server}
        counts: dict[str, int | None] = {}
        for s in SYSTEMS:
            src = by[s]
            counts[s] = (len(src.groups) if self.sources[s] is not None and src is not None
                         else None)
        return counts

    def headline(self) -> str:
        """Markdown: the counts per system, the findings, and every note."""
        counts = ", ".join(f"{s} {n:,}" if n is not None else f"{s} not given"
                           for s, n in self.group_counts().items())
        found = self.report.findings
        severities = ", ".join(f"{n} {s}" for s, n in by_severity(found).items() if n)
        text = (f"**{len(found)} finding(s)**" + (f" ({severities})" if found else "")
                + f" across {len(self.report.presence):,} groups. Groups per system: {counts}. "
                f"Profile {markdown_code(self.profile)} ({markdown_text(self.flavor)}).")
        if self.applied is not None and self.applied.applied:
            text += (f"\n\n**Applied:** {len(self.applied.done)} of "
                     f"{len(self.plan.operations)} SCIM operation(s) done"
                     + (f"; {len(self.after.findings)} finding(s) after."
                        if self.after is not None else "."))
            if self.sync_wait:
                text += " " + self._wait_summary()
        if self.notes:
            text += "\n\n**Notes:**\n\n" + "\n".join(f"- {markdown_prose(n)}"
                                                     for n in self.notes)
        return text

    def sources_frame(self) -> pd.DataFrame:
        """One row per system: where its groups came from, how many groups and memberships."""
        by = {"IGA": self.report.iga, "Platform": self.report.platform,
              "Secret Server": self.report.secret_server}
        rows = []
        for system in SYSTEMS:
            src, origin = by[system], self.sources[system]
            counted = src if origin is not None else None  # a system not given: not counted
            rows.append({"system": system, "read from": origin or NOT_GIVEN,
                         "groups": len(counted.groups) if counted is not None else None,
                         "direct memberships": (len(counted.members) if counted is not None
                                                else None)})
        frame = pd.DataFrame(rows)
        for column in ("groups", "direct memberships"):
            frame[column] = frame[column].astype("Int64")
        return frame

    # ------------------------------------------------------------------ tables
    def findings_grouped(self, report: GroupGapReport | None = None) -> FindingsByCode:
        return findings_grouped((report or self.report).findings)

    def membership_table(self, report: GroupGapReport | None = None) -> pd.DataFrame:
        """One row per group whose direct members differ, with the names on each side."""
        diff = (report or self.report).membership
        rows = []
        for (group, platform, _), rows_of in diff.groupby(
                ["group", "platform_name", "platform_id"], sort=True):
            iga = sorted(rows_of.loc[rows_of["side"] == ONLY_IN_IGA, "user_name"])
            plat = sorted(rows_of.loc[rows_of["side"] == ONLY_ON_PLATFORM, "user_name"])
            rows.append({"group": group, "Platform group": platform,
                         "only in the IGA": len(iga), "names only in the IGA": ", ".join(iga),
                         "only on the Platform": len(plat),
                         "names only on the Platform": ", ".join(plat)})
        return pd.DataFrame(rows, columns=[
            "group", "Platform group", "only in the IGA", "names only in the IGA",
            "only on the Platform", "names only on the Platform"])

    def grants_table(self) -> pd.DataFrame:
        """Folder permissions naming a group that Secret Server or the Platform lacks."""
        return self.report.affected_grants[
            ["group", "code", "folder", "right", "seen_in"]].reset_index(drop=True)

    # ------------------------------------------------------------------ plan and apply
    def plan_frame(self) -> pd.DataFrame:
        """The SCIM operations, in order, with why each is there, whom each adds or removes
        (``members``: userName and id; the body names them by id only) and exactly what is
        sent."""
        frame = self.plan.as_frame()
        frame["members"] = [op.members for op in self.plan.operations]
        frame["body"] = [json.dumps(op.body, ensure_ascii=False) for op in self.plan.operations]
        return frame

    def plan_markdown(self) -> str:
        """The plan in words: how many operations, and the gaps it leaves open."""
        ops = self.plan.operations
        if self.sources["Platform"] is None:
            lines = ["No plan: the Platform side was not given, and the plan changes Platform "
                     "groups."]
        elif self.sources["IGA"] is None:
            lines = ["No SCIM operations: the IGA side was not given, and the plan makes the "
                     "Platform match the IGA."]
        elif ops:
            lines = [f"**{len(ops)} SCIM operation(s)** would close the Platform-side gaps, "
                     "in this order (`body` is exactly what is sent, naming users by SCIM id; "
                     "`members` names them by userName; `meta` never is)."]
        else:
            lines = ["**No SCIM operations:** the Platform matches the IGA for every gap SCIM "
                     "can close."]
        planned = [c for c in self.plan.service_account if c.planned]
        if planned:
            lines.append("**Removing the cloud connector's service account** (planned, "
                         "`allow_service_account_changes = True`):\n\n"
                         + "\n".join(f"- {markdown_text(c.text)}" for c in planned))
        if self.plan.skipped:
            lines.append("**Left open by the plan:**\n\n"
                         + "\n".join(f"- {markdown_prose(s)}" for s in self.plan.skipped))
        return "\n\n".join(lines)

    def manual_markdown(self) -> str:
        """What SCIM cannot do, by finding code: what to do by hand, for which groups, how."""
        if not self.plan.manual:
            return "Nothing to do by hand."
        lines = ["### By hand"]
        for action in self.plan.manual:
            steps = "\n".join(f"{i}. {s}" for i, s in enumerate(action.steps, 1))
            lines.append(f"**`{action.code}`:** {action.what}. Groups: "
                         + ", ".join(f"*{markdown_text(s)}*" for s in action.subjects)
                         + (f"\n\n{steps}" if steps else ""))
        return "\n\n".join(lines)

    def apply_markdown(self) -> str:
        """What applying did, or why nothing was sent."""
        n = len(self.plan.operations)
        if self.applied is not None and self.applied.held is not None:
            return f"**Not applied:** {markdown_prose(self.applied.held)}."
        if self.applied is None or not self.applied.applied:
            if not n:
                return "Nothing to apply."
            return (f"Dry run (`apply = False`): none of the {n} operation(s) was sent. Run "
                    "again with `apply = True` to send them; the report then fetches the "
                    "Platform again and shows what is left.")
        if not n:
            return ("`apply = True`, but there is nothing to apply: the plan is empty, so "
                    "nothing was sent.")
        text = markdown_prose(self.applied).replace("\n", "\n\n")
        if self.after is None and self.refetch_failed:
            return (text + "\n\nThe Platform could not be read again after applying (see the "
                    "notes): the findings above are from before the operations were sent. Run "
                    "the report again to see what is left.")
        if self.after is None:
            return text + "\n\nNothing changed, so the report above still stands."
        return (text + "\n\nThe Platform was fetched again after applying (the IGA and Secret "
                "Server sides are unchanged by SCIM). Findings per code before and after, then "
                "the findings that remain. A group the plan created is `GROUP_SYNC_PENDING` "
                "for one sync interval: the timed Platform Groups Sync brings it to Secret "
                "Server if it is enabled for sync (a tenant whose Secret Server searches "
                "Platform groups directly has it at once).")

    def _wait_summary(self) -> str:
        waits = self.sync_wait or []
        synced = sum(w.synced for w in waits)
        return (f"Waited up to {duration_text(self.wait_minutes * 60)} for Platform Groups "
                f"Sync: {synced} of {len(waits)} group(s) reached Secret Server.")

    def sync_wait_markdown(self) -> str:
        """The wait for Platform Groups Sync after applying, in words ('' when none was asked)."""
        if self.sync_wait is None:
            return ""
        if not self.sync_wait:
            return ("**Nothing to wait for:** Secret Server has every group the plan created "
                    "or changed.")
        return (f"**{self._wait_summary()}** Each group the plan created or changed that "
                "Secret Server lacked after applying, with what to do next:")

    def sync_wait_frame(self) -> pd.DataFrame:
        """One row per group waited for: its outcome and the next step."""
        return pd.DataFrame([{"group": w.group, "outcome": w.outcome, "next step": w.next_step}
                             for w in self.sync_wait or []],
                            columns=["group", "outcome", "next step"])

    def apply_frame(self) -> pd.DataFrame:
        """Each operation's status: done, refused, not done (or planned, for a dry run)."""
        if self.applied is None:
            return ApplyResult(applied=False, not_done=list(self.plan.operations)).as_frame()
        return self.applied.as_frame()

    def before_after_frame(self) -> pd.DataFrame:
        """Findings per code before and after applying."""
        before = Counter(f.code for f in self.report.findings)
        after = Counter(f.code for f in self.findings)
        codes = list(dict.fromkeys([*before, *after]))
        return pd.DataFrame({"code": codes, "before": [before[c] for c in codes],
                             "after": [after[c] for c in codes]})

    # ------------------------------------------------------------------ results.json
    def metrics(self) -> dict[str, Any]:
        """Counts for results.json: groups per system, findings per code, plan and apply."""
        out: dict[str, Any] = {
            "groups": self.group_counts(), "rows": len((self.after or self.report).presence),
            "findings": dict(Counter(f.code for f in self.findings)),
            "plan": {"operations": len(self.plan.operations),
                     "skipped": len(self.plan.skipped), "manual": len(self.plan.manual),
                     "service_account": {
                         "planned": sum(c.planned for c in self.plan.service_account),
                         "left_out": sum(not c.planned for c in self.plan.service_account)}},
            "notes": len(self.notes)}
        if self.applied is not None and self.applied.held is not None:
            out["applied"] = {"done": 0, "not_done": len(self.applied.not_done), "refused": 0,
                              "held": True}
        if self.applied is not None and self.applied.applied:
            out["applied"] = {"done": len(self.applied.done),
                              "not_done": len(self.applied.not_done),
                              "refused": 0 if self.applied.ok else 1}
            out["findings_before"] = dict(Counter(f.code for f in self.report.findings))
        if self.sync_wait is not None:
            out["sync_wait"] = {"minutes": self.wait_minutes,
                                "synced": sum(w.synced for w in self.sync_wait),
                                "still_missing": sum(not w.synced for w in self.sync_wait),
                                "not_checked": sum(w.unchecked is not None
                                                   for w in self.sync_wait)}
        return out

    # ------------------------------------------------------------------ the notebook
    def section(self, name: str) -> list[Any]:
        """What the notebook shows under each heading of ``SECTIONS``."""
        from ..report.figures import clickable, membership_figure, presence_figure

        if name == "summary":
            return [Table(self.sources_frame())]
        if name == "presence":
            return [clickable(presence_figure(self.report), "presence", self.report)]
        if name == "findings":
            return [self.findings_grouped()]
        if name == "membership":
            return [clickable(membership_figure(self.report), "membership", self.report),
                    Table(self.membership_table(), empty="No group's direct members differ.")]
        if name == "grants":
            return [Table(self.grants_table(), empty="No folder permission names a missing group.")]
        if name == "plan":
            return [self.plan_markdown(), Table(self.plan_frame(), empty="No SCIM operations."),
                    self.manual_markdown()]
        if name == "applied":
            return self._applied_section()
        raise unknown_section(self, name)

    def _applied_section(self) -> list[Any]:
        shown: list[Any] = [self.apply_markdown()]
        if self.applied is not None and self.applied.applied and self.plan.operations:
            shown.append(Table(self.apply_frame()))
        if self.after is not None:
            shown += [Table(self.before_after_frame()), self.findings_grouped(self.after)]
        if self.sync_wait:
            shown += [self.sync_wait_markdown(), Table(self.sync_wait_frame())]
        elif self.sync_wait is not None:
            shown.append(self.sync_wait_markdown())
        return shown


# ---------------------------------------------------------------------------- sources
def _secret_server(source: str, beside: Endpoint, *,
                   progress: bool) -> tuple[GroupSource, str, str | None]:
    """An on-prem profile's name (fetched beside the main profile's tenant) or a group export
    CSV path; where it came from, in words; and the profile's name, when it is one (a view
    that can be read again, as the wait for the sync does)."""
    profiles = load_profiles()
    if source in profiles:
        if profiles[source].flavor != "onprem":
            raise ConfigError(f"reference {source!r} is a cloud profile: it shows the "
                              "Platform's groups, not Secret Server's",
                              "give an on-prem profile (the On-Prem SCIM Connector) or a "
                              "Secret Server group export CSV")
        with connect_view(source, beside) as view:
            groups = secret_server_groups(fetch_inventory(view, progress=progress))
        return groups, f"profile {source!r} (On-Prem SCIM Connector)", source
    path = Path(source)
    if not path.exists() and not path.suffix and len(path.parts) == 1:
        raise ConfigError(f"reference {source!r} is neither a profile nor a file",
                          f"known profiles: {', '.join(sorted(profiles))}; or give the path "
                          "of a Secret Server group export CSV")
    return read_secret_server_export(source), shown_source(source) or source, None


def _without_platform(iga: GroupSource | None, ss: GroupSource, rules: NameRules,
                      notes: list[str]) -> GroupGapReport:
    """IGA beside Secret Server with no Platform side: presence only, no findings (every
    finding is about the Platform, or needs it to say why a group is missing)."""
    ss_names = dict(zip(ss.groups["key"], ss.groups["name"], strict=True))
    iga_names = (dict(zip(iga.groups["key"], iga.groups["name"], strict=True))
                 if iga is not None else {})
    iga_members = (iga.members.groupby("key")["user_name"].nunique().to_dict()
                   if iga is not None else {})
    grants = ss.grants["principal_id"].value_counts().to_dict()
    pairs = match_groups(iga.groups, ss.groups, rules) if iga is not None else []
    matched = {m.left: m for m in pairs}
    taken = {m.right for m in pairs}
    rows = [(k, matched[k].right if k in matched else None,
             matched[k].how if k in matched else None) for k in iga_names]
    rows += [(None, k, None) for k in ss_names if k not in taken]
    presence = [{
        "group": iga_names.get(i) or ss_names.get(s) or "", "iga_name": iga_names.get(i),
        "platform_name": None, "secret_server_name": ss_names.get(s),
        "in_iga": pd.NA if iga is None else i is not None, "on_platform": pd.NA,
        "in_secret_server": s is not None, "iga_match": None, "secret_server_match": how,
        "platform_id": None, "iga_key": i, "secret_server_key": s,
        "iga_members": iga_members.get(i, 0) if i is not None else None,
        "platform_members": None, "only_in_iga": 0, "only_on_platform": 0,
        "grants": int(grants.get(s, 0)) if s is not None else 0, "codes": []}
        for i, s, how in rows]
    frame = pd.DataFrame(presence, columns=PRESENCE_COLUMNS)
    for column in ("in_iga", "on_platform", "in_secret_server"):
        frame[column] = frame[column].astype("boolean")
    for column in ("iga_members", "platform_members"):
        frame[column] = frame[column].astype("Int64")
    platform = GroupSource("Platform", NOT_GIVEN, _empty(GROUP_COLUMNS))
    return GroupGapReport(frame, pd.DataFrame(columns=MEMBERSHIP_COLUMNS),
                          pd.DataFrame(columns=GRANT_COLUMNS), [], platform, iga, ss, rules,
                          list(notes))


_IGA_MISSING = ("the IGA side was not given (no `iga_export` parameter, and profile {p!r} "
                "names no `iga_export`): GROUP_NOT_ON_PLATFORM, GROUP_NOT_IN_IGA, "
                "GROUP_MEMBERSHIP_DIFFERS and the IGA's name mismatches are not checked. Give "
                "the IGA's entitlement export CSV as `iga_export` (parameter or profile key)")
_SS_MISSING = ("the Secret Server side was not given (no `reference` parameter, and profile "
               "{p!r} names no `reference`): GROUP_NOT_IN_SECRET_SERVER and "
               "GROUP_ONLY_IN_SECRET_SERVER are not checked. Give an on-prem profile or a "
               "Secret Server group export CSV as `reference` (parameter or profile key)")


def run_group_gap(profile: Profile | str | None = "sandbox", *, reference: str = "",
                  iga_export: str = "", apply: bool = False, progress: Progress = True,
                  rules: NameRules | None = None, allow_service_account_changes: bool = False,
                  max_operations: int = MAX_OPERATIONS,
                  confirm_large_plan: bool = False,
                  sync: PlatformGroupsSync | None = None,
                  wait_for_sync_minutes: float = 0) -> GroupGapRun:
    """Report the group gaps of a profile's tenant, plan their remediation, and apply it when
    ``apply`` is set; see docs/group-gap.md ("The notebook").

    A **cloud** profile gives the Platform side (its inventory). Secret Server's side is
    ``reference`` (an on-prem profile's name, or a group export CSV path), else the
    profile's own ``reference``; the IGA's is ``iga_export`` (CSV path or URL), else the profile's
    ``iga_export``. A side that is not given is noted, and the findings that need it are not
    made. With ``apply=True`` the plan's SCIM operations are sent through the same
    connection, then the Platform is fetched again and reported again (``after``).

    An **on-prem** profile is the Secret Server side itself. The Platform's groups come only
    through the SCIM Cloud Connector, so there are no findings: the run shows the IGA beside
    Secret Server and says to run the report with the cloud profile.

    The plan removes the profile's service account (its ``client_id``) from a group only with
    ``allow_service_account_changes``; a plan of more than ``max_operations`` operations is
    applied only with ``confirm_large_plan`` (see :func:`plan_remediation`, :func:`apply_plan`).

    ``sync`` (default: the profile's ``platform_groups_sync``) says how the tenant's Platform
    groups reach Secret Server, which decides what a group Secret Server lacks is reported as.
    With ``wait_for_sync_minutes`` after an apply, the groups the plan created or changed that
    Secret Server lacks are looked for in its view (an on-prem ``reference``) until they are
    there or that many minutes pass (:attr:`GroupGapRun.sync_wait`); the report after is
    made from Secret Server read again.

    ``progress``: one bar over the run's phases (fetching, Secret Server's side, comparing,
    and when applying: the apply, the fetch again, the wait), with the inventories' own bars
    inside it; False for none, or a tqdm bar to update.
    """
    rules = rules or NameRules()
    bound = check_wait(wait_for_sync_minutes)
    notes: list[str] = []
    iga = read_iga_export(iga_export) if iga_export else None  # a bad file fails first
    with connect(profile) as prof, phases(
            2 if prof.flavor == "onprem" else 3 + 2 * apply + (apply and bound > 0),
            "group gap", progress) as step:
        name = prof.name
        step(f"fetching {name}")
        check_reachable(prof)
        iga_from = iga_export or prof.iga_export
        if iga is None and prof.iga_export:
            iga = read_iga_export(prof.iga_export)
        if iga is None:
            notes.append(_IGA_MISSING.format(p=name))
        if prof.flavor == "onprem":
            return _onprem_run(prof, iga, iga_from, reference, apply, progress, rules, notes,
                               step)
        platform = platform_groups(fetch_inventory(prof, progress=inner(progress)),
                                   service_account=prof.client_id or None)
        ss, ss_from, ss_view = None, None, None
        # Named as the sources table names it (a URL without its user part or query).
        step("Secret Server's side: " + ((shown_source(reference) or reference) if reference
                                         else prof.reference or "not given"))
        if reference:
            ss, ss_from, ss_view = _secret_server(reference, prof, progress=inner(progress))
        elif prof.reference and get_profile(prof.reference).flavor == "cloud":
            notes.append(f"the profile's reference {prof.reference!r} is a cloud profile, "
                         "which shows Platform groups, not Secret Server's: the Secret Server "
                         "side is not compared. Give an on-prem profile or a group export CSV "
                         "as the `reference` parameter")
        elif prof.reference:
            ss, ss_from, ss_view = _secret_server(prof.reference, prof,
                                                  progress=inner(progress))
        else:
            notes.append(_SS_MISSING.format(p=name))
        sync = sync or prof.platform_groups_sync
        step("comparing groups and planning")
        report = group_gap(platform, iga=iga, secret_server=ss, rules=rules, sync=sync)
        notes += report.notes
        plan = plan_remediation(report,
                                allow_service_account_changes=allow_service_account_changes)
        sources = {"IGA": shown_source(iga_from) if iga is not None else None,
                   "Platform": f"profile {name!r} (SCIM Cloud Connector)",
                   "Secret Server": ss_from}
        run = GroupGapRun(name, prof.flavor, report, plan, sources, notes)
        if not apply:
            if bound:
                notes.append("`wait_for_sync_minutes` waits for Platform Groups Sync only after "
                             "an apply (`apply = True`): nothing was waited for")
            return run
        print(plan)  # the plan is shown before anything is sent, never only after
        step("applying the plan")
        run.applied = apply_plan(plan, prof, apply=True, max_operations=max_operations,
                                 confirm_large_plan=confirm_large_plan)
        if run.applied.held is not None:
            print(run.applied)
            notes.append(str(run.applied))
        if run.applied.done:
            step(f"fetching {name} again")
            try:
                again = platform_groups(fetch_inventory(prof, progress=inner(progress)),
                                        for_plan=False)
            except OpskitError as exc:
                # The operations were sent: keep the run, and say the result is unread.
                run.refetch_failed = True
                notes.append(f"the Platform could not be read again after applying, so the "
                             f"findings below are from before: {exc.message}. The operations "
                             "listed were sent; run the report again to see what is left.")
                return run
            run.after = group_gap(again, iga=iga, secret_server=ss, rules=rules, sync=sync)
            if bound and ss is not None:
                run.wait_minutes = wait_for_sync_minutes
                if ss_view is None:
                    notes.append(_NO_VIEW_TO_WAIT)
                else:
                    step("waiting for Platform Groups Sync")
                    _wait_for_sync(run, prof, ss_view, bound, inner(progress))
        return run


_NO_VIEW_TO_WAIT = ("`wait_for_sync_minutes` was not waited for: Secret Server's side is a "
                    "group export file, which cannot show the sync landing. Give an on-prem "
                    "profile as `reference` to wait")


def _wait_for_sync(run: GroupGapRun, prof: Endpoint, ss_view: str, bound: float,
                   progress: bool) -> None:
    """Wait for Secret Server to show the groups the plan created or changed that it lacks,
    then report again from Secret Server read anew (when any arrived)."""
    after, applied = run.after, run.applied
    assert after is not None and applied is not None
    touched = set(applied.created.values()) | {
        op.path.partition("/")[2] for op in applied.done if op.method == "PATCH"}
    p = after.presence
    lacking = p[p["platform_id"].isin(touched)
                & p["in_secret_server"].astype("boolean").fillna(True).eq(False)]
    names = [str(n) for n in lacking["platform_name"]]
    codes = {f.subject: f.code for f in after.findings
             if f.subject in names and f.code in NEXT_STEP}
    try:
        with connect_view(ss_view, prof) as view:
            looked = wait_for_groups(view, names, bound) if names else Lookups({})
    except OpskitError as exc:  # e.g. the view's practice tenant cannot start
        looked = Lookups(dict.fromkeys(names), exc.message)
    run.sync_wait = outcomes(looked, bound, codes)
    if looked.failure:
        run.notes.append(f"the wait for Platform Groups Sync stopped: Secret Server's view "
                         f"{ss_view!r} could not be asked ({looked.failure}). The plan was "
                         "applied; run the report again later to see what reached Secret Server")
    if any(at is not None for at in looked.seen.values()):
        try:
            ss, _, _ = _secret_server(ss_view, prof, progress=progress)
        except OpskitError as exc:
            run.notes.append(f"Secret Server's view {ss_view!r} could not be read again after "
                             f"the wait ({exc.message}): the findings after applying are from "
                             "before the wait, so groups that arrived may still be listed as "
                             "missing")
            return
        run.after = group_gap(after.platform, iga=after.iga, secret_server=ss,
                              rules=after.rules, sync=after.sync)


def _onprem_run(prof: Endpoint, iga: GroupSource | None, iga_from: str | None,
                reference: str, apply: bool, progress: Progress, rules: NameRules,
                notes: list[str], step: Callable[[str], None]) -> GroupGapRun:
    notes.insert(0, f"profile {prof.name!r} is an on-prem profile, so it is the Secret Server "
                 "side. Platform groups are read only through the SCIM Cloud Connector, so "
                 "nothing is compared with the Platform and no finding is made: shown is the "
                 "IGA beside Secret Server. For the full report, run it with the cloud profile "
                 f"and `reference = {prof.name!r}` (parameter, or the cloud profile's key)")
    if reference:
        notes.append(f"`reference = {reference!r}` is ignored: the on-prem profile itself is "
                     "the Secret Server side")
    if apply:
        notes.append("`apply = True` does nothing here: the plan changes Platform groups "
                     "through the cloud connector")
    ss = secret_server_groups(fetch_inventory(prof, progress=inner(progress)))
    step("comparing groups")
    report = _without_platform(iga, ss, rules, list(ss.notes))
    notes += report.notes
    sources = {"IGA": shown_source(iga_from) if iga is not None else None, "Platform": None,
               "Secret Server": f"profile {prof.name!r} (On-Prem SCIM Connector)"}
    return GroupGapRun(prof.name, prof.flavor, report, RemediationPlan([]), sources, notes)


__all__ = ["GroupGapRun", "run_group_gap"]
