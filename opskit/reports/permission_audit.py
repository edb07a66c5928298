"""The permission audit for one profile in one call: what ``permission_audit.ipynb`` runs.

:func:`run_permission_audit` connects the profile, fetches its inventory and its reference view
(an on-prem profile, served beside it, or a folder export CSV), reads the planned changes,
audits, compares the grants with the grant history kept for the profile, and returns an
:class:`AuditRun` holding everything the report shows. ``opskit.audit`` does the computing
(no I/O); this module does the connecting and the files. docs/audit.md ("The notebook")
explains the choices: which view the drift follows, where the history lives, and what an
on-prem profile can and cannot show.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import httpx
import numpy as np
import pandas as pd

from ..audit import RIGHTS, Drift, PermissionAudit, audit_permissions, drift, grants
from ..auth import check_reachable
from ..config import Endpoint, Profile, connect, connect_view, load_profiles
from ..csvfile import is_url, shown_source
from ..errors import ConfigError
from ..findings import Finding, by_severity
from ..inputs.audit import (
    load_grant_history,
    read_folder_export,
    read_planned_changes,
    save_grant_history,
)
from ..inventory import Inventory, fetch_inventory
from ..report.escaping import markdown_code, markdown_prose, markdown_text
from ..report.figures import (
    clickable,
    folder_owner_figure,
    folder_visibility_figure,
    group_folder_figure,
    rights_figure,
)
from ..report.record import RUN_DIR_ENV
from ..widgets import explorer
from ._phases import Progress, inner, phases
from ._protocol import FindingsTables, Table, unknown_section

HISTORY_ENV = "OPSKIT_HISTORY_DIR"  # overrides where interactive runs keep grant histories
HISTORY_FILE = "grant_history.parquet"
UNKNOWN_SA = "(service account unknown)"  # matches no userName: nobody is taken for it
SAMPLE_ROWS = 15
TREE_ROWS = 200
NOT_OWNED_MARKER = "🔑"  # a secret hidden by its own permissions (SECRET_NOT_OWNED), in the tree
_RANK = {r: i for i, r in enumerate(RIGHTS)}
DELINEA_DOMAINS = (".delinea.app", ".secretservercloud.com", ".secretservercloud.eu")


# ---------------------------------------------------------------------------- the result
@dataclass
class AuditRun(FindingsTables):
    """What :func:`run_permission_audit` found, and how to show it.

    ``audit`` is the :class:`opskit.audit.PermissionAudit` (coverage, findings, effective
    access); ``drift`` compares the tracked view's grants with the last run's (``tracked``
    names that view); ``sources`` says where each input came from (None: not given); ``notes``
    are what the reader must know (a side not given, an on-prem profile, an unknown service
    account).
    """

    SECTIONS: ClassVar[tuple[str, ...]] = ("summary", "coverage", "findings", "access", "drift",
                                           "figures", "explorer")

    profile: str
    flavor: str
    tenant: str
    audit: PermissionAudit
    drift: Drift
    history_path: Path
    tracked: str
    sources: dict[str, str | None]
    inventory: Inventory = field(repr=False)
    reference_inventory: Inventory | None = field(default=None, repr=False)
    planned: pd.DataFrame | None = field(default=None, repr=False)
    notes: list[str] = field(default_factory=list)
    history_saved: bool = True  # False: the history could not be written (a note says why)

    @property
    def findings(self) -> list[Finding]:
        return self.audit.findings

    @property
    def access(self) -> Any:
        """The effective access (:class:`opskit.audit.Access`), for queries and the explorer."""
        return self.audit.access

    @property
    def coverage(self) -> Any:
        return self.audit.coverage

    # ------------------------------------------------------------------ headline
    def headline(self) -> str:
        """Markdown: findings, coverage in one sentence, access and drift counts, notes."""
        found = self.findings
        severities = ", ".join(f"{n} {s}" for s, n in by_severity(found).items() if n)
        cov = self.coverage
        share = (f"**{cov.folder_share:.0%}** of folders visible to the cloud connector"
                 if cov.folder_share is not None else "coverage **not measured**")
        access = self.access
        text = (f"**{len(found)} finding(s)**" + (f" ({severities})" if found else "")
                + f" on tenant {markdown_code(self.tenant)}, profile "
                f"{markdown_code(self.profile)} ({markdown_text(self.flavor)}); "
                f"{share}. Effective access: {access.count_rows():,} user–folder rows for "
                f"{access.reached('user'):,} users over {len(access.folders):,} "
                f"folders. Drift: {self._drift_short()}.")
        if self.notes:
            text += "\n\n**Notes:**\n\n" + "\n".join(f"- {markdown_prose(n)}"
                                                     for n in self.notes)
        return text

    def _drift_short(self) -> str:
        d = self.drift
        if d.baseline:
            return "first run, baseline recorded"
        return f"{len(d.added):,} grant(s) added, {len(d.removed):,} removed since {d.previous_run}"

    def sources_frame(self) -> pd.DataFrame:
        """One row per input: where it came from and what it holds."""
        rows = []
        inv = self.inventory
        main = "On-Prem SCIM Connector" if self.flavor == "onprem" else "SCIM Cloud Connector"
        rows.append({"input": f"profile ({main})", "read from": self.sources["profile"],
                     "folders": len(inv.containers), "secrets": len(inv.privileged_data),
                     "users": len(inv.users), "groups": len(inv.groups)})
        ref = self.reference_inventory
        reference = self.sources["reference"]
        counts: dict[str, int | None]  # None: not known for this input
        if ref is not None:
            counts = {"folders": len(ref.containers), "secrets": len(ref.privileged_data),
                      "users": len(ref.users), "groups": len(ref.groups)}
        elif reference is not None and self.coverage.measured:
            counts = {"folders": self.coverage.folders_total,
                      "secrets": self.coverage.secrets_total, "users": None, "groups": None}
        else:
            counts = dict.fromkeys(("folders", "secrets", "users", "groups"))
        rows.append({"input": "reference (the full view)", "read from": reference or "not given",
                     **counts})
        planned = self.sources["planned changes"]
        rows.append({"input": "planned changes", "read from": planned or "not given",
                     "folders": (self.planned["folder"].nunique()
                                 if self.planned is not None else None),
                     "secrets": None, "users": None, "groups": None})
        frame = pd.DataFrame(rows)
        for column in ("folders", "secrets", "users", "groups"):
            frame[column] = frame[column].astype("Int64")
        return frame

    # ------------------------------------------------------------------ coverage
    def coverage_markdown(self) -> str:
        """The coverage statement, and the warning about what the IGA will not see."""
        cov = self.coverage
        if not cov.measured:
            return f"**Coverage not measured.** {markdown_prose(cov.statement)}"
        text = (f"The cloud service account sees **{cov.folders_visible:,} of "
                f"{cov.folders_total:,} folders ({cov.folder_share:.0%})** and "
                f"**{cov.secrets_visible:,} of {cov.secrets_total:,} secrets"
                + (f" ({cov.secret_share:.0%})" if cov.secret_share is not None else "")
                + f"** that the reference ({markdown_code(self.sources['reference'])}) holds.")
        hidden_f = (cov.folders_total or 0) - (cov.folders_visible or 0)
        hidden_s = (cov.secrets_total or 0) - (cov.secrets_visible or 0)
        if hidden_f or hidden_s:
            text += (f"\n\n> **Warning: the IGA will not see these.** The cloud connector "
                     f"returns only folders and secrets on which its service account is Owner, "
                     f"so {hidden_f:,} folder(s) in {len(cov.hidden_roots):,} hidden "
                     f"subtree(s) and {hidden_s:,} secret(s) never reach the IGA: nobody "
                     "reviews or provisions access to them there. The tree below lists them; "
                     "`FOLDER_NOT_VISIBLE` and `SECRET_NOT_OWNED` say why and what to do.")
        else:
            text += "\n\nNothing the reference holds is hidden from the cloud connector."
        return text

    def hidden_tree(self, limit: int = TREE_ROWS) -> pd.DataFrame:
        """The hidden folders as a tree: each under its hidden root, indented by depth, with
        its secrets; then the secrets hidden in visible folders (not owned). At most ``limit``
        rows, the last one saying how many more there are."""
        cov = self.coverage
        columns = ["hidden folder", "path", "secrets", "why hidden"]
        if not cov.measured:
            return pd.DataFrame(columns=columns)
        hidden = cov.folders[~cov.folders["visible"].astype(bool)]
        hidden = hidden.sort_values("path", key=lambda s: s.str.casefold(), kind="stable")
        rows = []
        for path, root, secrets in zip(hidden["path"].tolist(), hidden["hidden_root"].tolist(),
                                       hidden["secrets"].tolist(), strict=True):
            depth = path.count("/") - root.count("/") if isinstance(root, str) else 0
            name = path.rsplit("/", 1)[-1]
            rows.append({"hidden folder": "\u00a0\u00a0\u00a0" * depth
                         + ("└ " if depth else "") + name, "path": path,
                         "secrets": int(secrets),
                         "why hidden": "top of a hidden subtree: FOLDER_NOT_VISIBLE says why"
                         if path == root else "inside a hidden folder"})
        for folder, name, path in zip(cov.not_owned["folder"].tolist(),
                                      cov.not_owned["name"].tolist(),
                                      cov.not_owned["path"].tolist(), strict=True):
            rows.append({"hidden folder": f"{NOT_OWNED_MARKER} {name}", "path": path,
                         "secrets": 1,
                         "why hidden": "its own permissions, without the service account as "
                         f"Owner, in visible {folder}"})
        if len(rows) > limit:
            more = len(rows) - limit + 1
            rows = [*rows[:limit - 1], {"hidden folder": f"… and {more:,} more", "path": "",
                                        "secrets": None, "why hidden": ""}]
        frame = pd.DataFrame(rows, columns=columns)
        frame["secrets"] = frame["secrets"].astype("Int64")
        return frame

    # ------------------------------------------------------------------ effective access
    @cached_property
    def pairs(self) -> pd.DataFrame:
        """Each (user, folder) pair's strongest right, on the folders where grants are set
        (see :meth:`opskit.audit.Access.strongest_where_set`): the cheap way to count and pick
        examples on a large access table."""
        return self.access.strongest_where_set()

    def access_markdown(self) -> str:
        """The effective-access table counted, and which view it was built from."""
        access = self.access
        rows, direct = access.count_rows(), access.factors.direct_rows()
        users, folders = access.reached("user"), access.reached("folder")
        built = (f"the reference {markdown_code(self.sources['reference'])} (every folder, "
                 "rights as set)" if self.reference_inventory is not None
                 else f"the profile {markdown_code(self.profile)}")
        return (f"**{rows:,} rows** for {users:,} users and {folders:,} folders: "
                f"{direct:,} from direct grants, {rows - direct:,} through groups. Built "
                f"from {built}. A sample, one row per user, strongest rights first:")

    def access_sample(self, n: int = SAMPLE_ROWS) -> pd.DataFrame:
        """A few rows of the effective-access table, one per user, strongest right first
        (among the folders where grants are set)."""
        columns = ["user", "folder", "right", "via"]
        pairs = self.pairs
        if pairs.empty:
            return pd.DataFrame(columns=columns)
        users = self.access.users["userName"].to_numpy(dtype=object)
        folders = self.access.folders["path"].to_numpy(dtype=object)
        rows = pd.DataFrame({"user": users[pairs["user"].to_numpy(np.int64)],
                             "folder": folders[pairs["folder"].to_numpy(np.int64)],
                             "right": pairs["right"], "via": pairs["via"]}).astype(str)
        rows = rows.assign(rank=pairs["right"].map(_RANK).fillna(-1).to_numpy())
        rows = rows.sort_values(["rank", "user", "folder"], ascending=[False, True, True])
        return rows.drop_duplicates("user").head(n)[columns].reset_index(drop=True)

    def examples(self) -> dict[str, str | None]:
        """A folder, a user and a group to show the queries on: the folder (where grants are
        set) most users reach, the user who is not the service account reaching most
        folders, the group with people in it carrying most grants. None when there is none."""
        access = self.access
        out: dict[str, str | None] = {"folder": None, "user": None, "group": None}
        sa = self.audit.service_account.casefold()
        pairs = self.pairs
        if not pairs.empty:
            folders = pd.Index(access.folders["path"])
            per_folder = pairs.groupby("folder").size()
            out["folder"] = _top(pd.Series(per_folder.to_numpy(),
                                           index=folders[per_folder.index.to_numpy()]))
            users = pd.Index(access.users["userName"])
            per_user = pairs.groupby("user")["weight"].sum()
            per_user = pd.Series(per_user.to_numpy(), index=users[per_user.index.to_numpy()])
            out["user"] = _top(per_user[[str(u).casefold() != sa for u in per_user.index]])
        granted = access.grants[access.grants["principal_type"] == "group"]
        # Not a group only the service account is in (its Owner grants are everywhere).
        names = access.reach.groups["displayName"].astype(str).tolist()
        people = set(access.users.loc[access.users["userName"].str.casefold() != sa, "id"])
        with_people = {names[g] for g in
                       access.reach.users.loc[access.reach.users["user_id"].isin(people),
                                              "group"].tolist()}
        granted = granted[granted["principal"].isin(with_people)]
        out["group"] = _top(granted.groupby("principal")["folder"].size())
        return out

    @cached_property
    def _examples(self) -> dict[str, str | None]:
        return self.examples()

    def query_examples(self, n: int = SAMPLE_ROWS) -> list[tuple[str, pd.DataFrame]]:
        """(Markdown title naming the query and its size, its first ``n`` rows) for each
        example."""
        ex = self._examples
        access = self.access
        out = []
        if ex["folder"]:
            frame = access.who_reaches(ex["folder"])
            call = f"access.who_reaches({ex['folder']!r})"
            out.append((f"{markdown_code(call)}: who reaches the folder, strongest right first "
                        f"({len(frame):,} rows)", frame))
        if ex["user"]:
            frame = access.what_user_reaches(ex["user"], strongest=True)
            call = f"access.what_user_reaches({ex['user']!r}, strongest=True)"
            out.append((f"{markdown_code(call)}: every folder the user reaches, with the grant "
                        f"that gives the highest right ({len(frame):,} folders)", frame))
        if ex["group"]:
            frame = access.group_grants(ex["group"])
            call = f"access.group_grants({ex['group']!r})"
            out.append((f"{markdown_code(call)}: the grants the group carries, its own and "
                        f"those of groups containing it ({len(frame):,} rows)", frame))
        # A long answer says it is cut short, and where the rest is.
        cut = f"; the first {n} shown (the call, or the explorer in JupyterLab, gives every row)"
        return [(t + (cut if len(f) > n else ""), readable(f.head(n))) for t, f in out]

    # ------------------------------------------------------------------ drift
    def drift_markdown(self) -> str:
        d = self.drift
        kept = len(d.history)
        where = markdown_code(self.history_path)
        view = (markdown_code(self.tracked)
                + (" (the reference: every folder, rights as set)"
                   if self.tracked != self.profile else ""))
        if d.baseline:
            if not self.history_saved:
                return (f"**First run: no baseline recorded.** The history {where} could not "
                        "be written (see the notes), so the next run of this profile starts "
                        "over.")
            return (f"**First run: baseline recorded.** The {kept:,} grants of {view} were saved "
                    f"to {where}; the next run of this profile lists the grants added and "
                    "removed since this one.")
        text = (f"Since the last run ({d.previous_run}), grants of {view}: "
                f"**{len(d.added):,} added, {len(d.removed):,} removed**. ")
        if not self.history_saved:
            return text + (f"The history {where} was not updated (see the notes): the next run "
                           "compares with the same last run.")
        return text + (f"The history ({where}) keeps {kept:,} grants with when each was first "
                       "and last seen.")

    def drift_frame(self) -> pd.DataFrame:
        """The grants added and removed, with first and last seen."""
        d = self.drift
        columns = ["change", "folder", "principal_type", "principal", "rights", "first_seen",
                   "last_seen"]
        parts = [frame.assign(change=change) for change, frame in
                 (("added", d.added), ("removed", d.removed)) if len(frame)]
        if not parts:
            return pd.DataFrame(columns=columns)
        changed = pd.concat(parts, ignore_index=True)
        key = ["folder", "principal_type", "principal", "rights"]
        out = changed.merge(d.history, on=key, how="left")
        return out[columns].reset_index(drop=True)

    # ------------------------------------------------------------------ results.json
    def metrics(self) -> dict[str, Any]:
        """Counts for results.json: the audit's, plus drift, flavor and notes."""
        out = self.audit.metrics()
        out["flavor"] = self.flavor
        out["drift"] = {"baseline": self.drift.baseline, "previous_run": self.drift.previous_run,
                        "added": len(self.drift.added), "removed": len(self.drift.removed),
                        "grants": int((self.drift.history["last_seen"]
                                       == self.drift.seen_at).sum()),
                        "tracked": self.tracked}
        out["notes"] = len(self.notes)
        # The run's evidence: what was read, and the checksum of the history it saved.
        out["inventory"] = [{"role": role, **inv.identification()} for role, inv in
                            (("profile", self.inventory), ("reference", self.reference_inventory))
                            if inv is not None]
        out["grant_history"] = {"file": self.history_path.name, "saved": self.history_saved,
                                "sha256": _sha256(self.history_path) if self.history_saved
                                else None}
        return out

    # ------------------------------------------------------------------ the notebook
    def section(self, name: str) -> list[Any]:
        """What the notebook shows under each heading of ``SECTIONS``."""
        if name == "summary":
            return [Table(self.sources_frame())]
        if name == "coverage":
            return [self.coverage_markdown(),
                    Table(self.hidden_tree(), empty="Nothing hidden, or coverage not measured."),
                    clickable(folder_visibility_figure(self), "folder_visibility", self)]
        if name == "findings":
            return [self.findings_grouped()]
        if name == "access":
            shown: list[Any] = [self.access_markdown(),
                                Table(self.access_sample(), empty="Nobody reaches any folder.")]
            for title, frame in self.query_examples():
                shown += [title, Table(frame, empty="No rows.")]
            return shown
        if name == "drift":
            return [self.drift_markdown(),
                    Table(self.drift_frame(), empty="No grant added or removed.")]
        if name == "figures":
            return [clickable(folder_owner_figure(self), "folder_owner", self),
                    clickable(group_folder_figure(self), "group_folder", self),
                    clickable(rights_figure(self), "rights", self)]
        if name == "explorer":
            return [explorer(self)]
        raise unknown_section(self, name)


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """A query's frame as a report shows it: lists of rights as text, missing values blank."""
    out = frame.astype(object)
    for column in out.columns:
        out[column] = [", ".join(map(str, v)) if isinstance(v, list | tuple) else v
                       for v in out[column].tolist()]
    return out.where(out.notna(), None)


def _top(counts: pd.Series) -> str | None:
    """The label with the highest count; ties go to the first in name order."""
    counts = counts[counts > 0]
    if counts.empty:
        return None
    frame = pd.DataFrame({"label": counts.index.astype(str), "n": counts.to_numpy()})
    frame = frame.sort_values(["n", "label"], ascending=[False, True], kind="stable")
    return str(frame["label"].iloc[0])


# ---------------------------------------------------------------------------- helpers
def tenant_name(prof: Endpoint) -> str:
    """How tenant-wide findings name the tenant: a practice tenant's own name, a Delinea cloud
    tenant's subdomain (``acme.delinea.app`` → ``acme``), else the profile's name."""
    if prof.tenant_name:
        return prof.tenant_name
    host = httpx.URL(prof.base_url).host if prof.base_url else ""
    for domain in DELINEA_DOMAINS:
        if host.endswith(domain) and host != domain.lstrip("."):
            return host[: -len(domain)].split(".")[-1]
    return prof.name


def _service_account(prof: Endpoint) -> str | None:
    """The cloud service user's userName: the profile's client_id; for an on-prem profile, that
    of a cloud profile naming this one as its reference."""
    if prof.client_id:
        return prof.client_id
    for other in load_profiles().values():
        if other.reference == prof.name and other.flavor == "cloud" and other.client_id:
            return other.client_id
    return None


def _sha256(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


def default_history_dir(profile: str) -> Path:
    """Where a profile's grant history is kept when ``history_dir`` is not given.

    Under ``opskit run``/``opskit report``: beside the profile's run folders,
    ``<out>/permission_audit/<profile>/``, so every scheduled run into the same ``--out`` sees
    the last one. Interactively: ``$OPSKIT_HISTORY_DIR/<profile>/``, else
    ``$XDG_DATA_HOME/opskit/history/<profile>/`` (``~/.local/share/opskit/history/<profile>/``).
    """
    from .._localfile import safe_component

    run_dir = os.environ.get(RUN_DIR_ENV)
    if run_dir:
        return Path(run_dir).resolve().parent  # <out>/<notebook>/<profile>/.<stamp>.partial
    base = os.environ.get(HISTORY_ENV)
    if base:
        return Path(base).expanduser() / safe_component(profile)
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "opskit" / "history" / safe_component(profile)


def _history_file(folder: Path, tracked: str, profile: str) -> Path:
    """One history per tracked view: a reference's grants never mix with the profile's."""
    from .._localfile import safe_component

    if tracked == profile:
        return folder / HISTORY_FILE
    return folder / f"grant_history.{safe_component(tracked)}.parquet"


def _looks_like_file(source: str) -> bool:
    return is_url(source) or Path(source).suffix.lower() in (".csv", ".txt") or \
        Path(source).exists()


def _reference_profile(name: str, prof: Endpoint, *, explicit: bool,
                       notes: list[str]) -> Profile | None:
    """The reference profile to fetch, or None (with a note) when the profile's own
    reference cannot serve."""
    profiles = load_profiles()
    if name not in profiles:
        if _looks_like_file(name):
            raise ConfigError(f"reference {name!r} is a file, not a profile",
                              "give a folder export CSV as `folder_export`; `reference` names "
                              "an on-prem profile")
        raise ConfigError(f"reference {name!r} is not a profile",
                          f"known profiles: {', '.join(sorted(profiles))}; or give a folder "
                          "export CSV as `folder_export`")
    ref = profiles[name]
    problem = None
    if ref.name == prof.name:
        problem = "is the profile itself"
    elif ref.flavor == "cloud":
        problem = ("is a cloud profile: it shows only what its own service account owns, so it "
                   "cannot show what the cloud connector hides")
    if problem is None:
        return ref
    if explicit:
        raise ConfigError(f"reference {name!r} {problem}",
                          "give an on-prem profile (the On-Prem SCIM Connector of the same "
                          "Secret Server) or a folder export CSV as `folder_export`")
    notes.append(f"the profile's reference {name!r} {problem}: coverage is not measured. Give "
                 "an on-prem profile as `reference`, or a folder export as `folder_export`")
    return None


# ---------------------------------------------------------------------------- the run
def run_permission_audit(profile: Profile | str | None = "sandbox", *, reference: str = "",
                         folder_export: str = "", planned_changes: str = "",
                         history_dir: str | os.PathLike[str] | None = None,
                         progress: Progress = True) -> AuditRun:
    """Audit a profile's permissions; see docs/audit.md ("The notebook").

    A **cloud** profile is audited against a reference view: ``reference`` (an on-prem
    profile's name) or ``folder_export`` (a folder export CSV, path or URL), else the profile's
    own ``reference``. Without one, coverage is not measured (said, never 100%).
    ``planned_changes``: a planned-changes CSV; each line with several rights is reported as
    RIGHTS_TRUNCATED. The grants of the fullest view (the reference inventory when there is
    one, else the profile's) are compared with the history kept in ``history_dir`` (default:
    :func:`default_history_dir`), which is then updated.

    An **on-prem** profile is itself the full view: the run gives effective access and the
    grant findings, and says that the cloud connector's coverage is measured by auditing the
    cloud profile with this one as ``reference``.

    ``progress``: one bar over the run's phases (fetching, the reference, analysing, the grant
    history), with the inventories' own bars inside it; False for none, or a tqdm bar to update.
    """
    notes: list[str] = []
    with connect(profile) as prof, phases(len(AUDIT_PHASES), "permission audit",
                                          progress) as step:
        step(f"fetching {prof.name}")
        name = prof.name
        if reference and folder_export:
            raise ConfigError("both `reference` and `folder_export` are given",
                              "give one reference view: an on-prem profile or a folder export")
        check_reachable(prof)
        tenant = tenant_name(prof)
        sa = _service_account(prof)
        ref_prof = None
        if prof.flavor != "onprem" and not folder_export and (reference or prof.reference):
            ref_prof = _reference_profile(reference or str(prof.reference), prof,
                                          explicit=bool(reference), notes=notes)
        # The secret roles come from the fullest view's secret permissions: the profile's only
        # without an inventory to refer to (the longest listing: 17 million at scale 1,000).
        cloud = fetch_inventory(prof, progress=inner(progress),
                                secret_permissions=ref_prof is None)
        sources: dict[str, str | None] = {"profile": f"profile {name!r}", "reference": None,
                                          "planned changes": None}
        ref_inv: Inventory | None = None
        ref_view: Any = None
        if prof.flavor == "onprem":
            step("no reference (an on-prem profile is the full view)")
            notes.insert(0, _ONPREM_NOTE.format(p=name))
            if reference or folder_export:
                notes.append(f"`{'reference' if reference else 'folder_export'}` is ignored: "
                             "the on-prem profile is itself the full view")
        elif folder_export:
            step("reading the folder export")
            ref_view = read_folder_export(folder_export, cloud=cloud)
            sources["reference"] = f"folder export {shown_source(folder_export)}"
            notes.append("the reference is a folder export, which holds no permissions: grant "
                         "findings and effective access come from the cloud view (first rights "
                         "only, visible folders only)")
        elif reference or prof.reference:
            step(f"fetching the reference {reference or prof.reference}")
            if ref_prof is not None:
                with connect_view(ref_prof, prof) as view:
                    ref_inv = fetch_inventory(view, progress=inner(progress),
                                              secret_permissions=True)
                ref_view = ref_inv
                sources["reference"] = ref_prof.name
        else:
            step("no reference")
            notes.append(f"no reference view (no `reference` or `folder_export` parameter, and "
                         f"profile {name!r} names no `reference`): coverage is not measured, "
                         "and grant findings read the cloud view, which shows only first "
                         "rights. Give an on-prem profile as `reference` or a folder export as "
                         "`folder_export`")
        planned = None
        if planned_changes:
            known = [cloud] + ([ref_inv] if ref_inv is not None else [])
            planned = read_planned_changes(planned_changes, known)
            sources["planned changes"] = shown_source(planned_changes)
        if sa is None:
            notes.append(f"the cloud service account of profile {name!r} is not known (no "
                         "cloud profile names it as `reference`): FOLDER_WITHOUT_OWNER is not "
                         "checked, and the service account's own direct grants show as "
                         "DIRECT_USER_GRANT")
        step("analysing")
        result = audit_permissions(cloud, ref_view, tenant=tenant,
                                   service_account=sa or UNKNOWN_SA, planned=planned)
        if prof.flavor == "onprem":
            result = _onprem_coverage(result, name, cloud)
        step("comparing with the grant history")
        # Drift follows the fullest view of the grants: the reference inventory, else this one.
        tracked_inv = ref_inv if ref_inv is not None else cloud
        tracked = sources["reference"] if ref_inv is not None else name
        folder = Path(history_dir) if history_dir else default_history_dir(name)
        store = _history_file(folder, str(tracked), name)
        current = grants(tracked_inv, more_users=cloud.users if ref_inv is not None else None)
        try:
            d = drift(current, history=load_grant_history(store),
                      seen_at=str(tracked_inv.meta.get("fetched_at")))
        except ValueError as exc:  # e.g. a history newer than this run: a clock set back
            raise ConfigError(f"the grant history {store} cannot take this run: {exc}",
                              "check this machine's clock, or move the history file away "
                              "to start a new baseline") from None
        saved = tracked_inv.complete and cloud.complete
        if saved:
            try:
                save_grant_history(d.history, store)
            except OSError as exc:  # a full disk, a read-only place: the audit itself stands
                saved = False
                notes.append(f"the grant history could not be written to {store} "
                             f"({exc.strerror or exc}), so the next run compares with the last "
                             "history saved, if any. Free some disk space, or make "
                             f"{store.parent} writable (or give another history_dir)")
        else:
            # A partial read would record every unread grant as removed, then as added again.
            notes.append("the inventory could not be read completely, so the grant history "
                         "was not updated: drift shown here may list unread grants as removed")
    return AuditRun(name, prof.flavor, tenant, result, d, store, str(tracked), sources, cloud,
                    ref_inv, planned, notes, history_saved=saved)


# What run_permission_audit's bar counts, one step each (the reference's step is named for
# what it does: fetch, read a folder export, or nothing).
AUDIT_PHASES = ("fetching", "the reference", "analysing", "the grant history")

_ONPREM_NOTE = ("profile {p!r} is an on-prem profile: the On-Prem SCIM Connector reads every "
                "folder through Secret Server's reports, so this is already the full view and "
                "there is no cloud coverage to measure here. Shown are effective access and the "
                "grant findings. To measure what the cloud service account cannot see, audit the "
                "cloud profile with `reference = {p!r}`. The on-prem connector leaves disabled "
                "users out, so GRANT_TO_DISABLED_USER cannot be told here (such a user is named "
                "by display name)")


def _onprem_coverage(result: PermissionAudit, name: str, inv: Inventory) -> PermissionAudit:
    """Coverage of an on-prem profile's own audit: not measured, said as such."""
    statement = (f"Profile {name!r} is the on-prem connector's full view ({len(inv.containers):,} "
                 f"folders, {len(inv.privileged_data):,} secrets): the cloud connector's "
                 "coverage cannot be measured from it alone. Audit the cloud profile with "
                 f"reference = {name!r} to measure it.")
    cov = replace(result.coverage, statement=statement)
    findings = [replace(f, message=statement) if f.code == "COVERAGE_NOT_MEASURED" else f
                for f in result.findings]
    return replace(result, coverage=cov, findings=findings)


__all__ = ["AuditRun", "default_history_dir", "run_permission_audit", "tenant_name"]
