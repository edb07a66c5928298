"""The tenant onboarding runbook: every check in order, the IGA's settings, the role checklist.

`onboard()` is what the notebook tenant_onboarding.ipynb calls: it runs the connector's checks
(cloud or on-prem, from the profile), optionally the write probe (``apply=True``), measures
folder visibility against a reference when one is given, and checks the IGA settings file when
one is given. The result holds everything the notebook shows and records.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..checks.engine import Ran, findings, run_checks, table
from ..checks.iga import expected_settings, iga_checks
from ..checks.onboarding import ROLE_CHECKLIST, onboarding_checks
from ..config import Endpoint, Profile, connect, connect_view
from ..errors import CLOUD_CONNECTOR_LOG, ONPREM_CONNECTOR_LOG, OpskitError, TransportError
from ..findings import Finding
from ..http import RetryPolicy
from ..inputs.iga_settings import load_settings
from ..report import display
from ..report.escaping import markdown_code, markdown_prose, markdown_text
from ..scim import SyncScimClient
from ._protocol import FindingsTables, Table, unknown_section

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler


OUTCOME_COLOURS = {"pass": "#dafbe1", "warn": "#fff8c5", "fail": "#ffebe9", "skip": "#eaeef2",
                   "info": "#ddf4ff"}


def checks_styled(ran: Iterable[Ran]) -> Styler:
    """The checks' table (:func:`opskit.checks.engine.table`) with each outcome in its colour,
    for notebooks and HTML reports."""
    return display.styled(table(ran)).map(
        lambda v: f"background-color: {OUTCOME_COLOURS.get(v, '')}", subset=["outcome"])


@dataclass
class Onboarding(FindingsTables):
    """What the runbook found for one profile."""

    SECTIONS: ClassVar[tuple[str, ...]] = ("summary", "checks", "iga settings", "role",
                                           "findings")
    profile: str
    flavor: str
    base_url: str
    ran: list[Ran]
    settings: dict[str, Any]  # what the IGA's source needs for this tenant
    iga: list[Ran] = field(default_factory=list)  # the entered settings checked, if given
    reference_folders: int | None = None
    applied: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return findings(self.ran, self.profile) + findings(self.iga, self.profile)

    @property
    def ok(self) -> bool:
        return all(r.result.outcome != "fail" for r in [*self.ran, *self.iga])

    @property
    def blocked_at(self) -> str | None:
        """The first failing check's title: where an admin starts."""
        return next((r.check.title for r in self.ran if r.result.outcome == "fail"), None)

    def headline(self) -> str:
        passed = sum(r.result.outcome == "pass" for r in self.ran)
        verdict = "**READY**" if self.ok else f"**BLOCKED** at *{markdown_text(self.blocked_at)}*" \
            if self.blocked_at else "**NOT READY**: the IGA settings need changes"
        return (f"{verdict}: profile {markdown_code(self.profile)} ({markdown_text(self.flavor)}), "
                f"SCIM base {markdown_code(self.base_url)} — {passed} of {len(self.ran)} checks "
                "passed" + ("" if self.applied else "; read-only run (write probe skipped)")
                + "".join(f"\n\n*Note: {markdown_prose(note)}*" for note in self.notes))

    def metrics(self) -> dict[str, Any]:
        outcomes: dict[str, int] = {}
        for r in self.ran:
            outcomes[r.result.outcome] = outcomes.get(r.result.outcome, 0) + 1
        visibility = next((r.result.data for r in self.ran if r.check.id == "visibility"), {})
        probe = next((r.result.outcome for r in self.ran if r.check.id == "write"), "skip")
        return {"flavor": self.flavor, "checks": outcomes, "blocked_at": self.blocked_at,
                "reference_folders": self.reference_folders, "write_probe": probe,
                **{f"visible_{k}": v for k, v in visibility.items()}}

    def table(self) -> pd.DataFrame:
        return table(self.ran)

    def styled(self) -> Styler:
        return checks_styled(self.ran)

    def settings_frame(self) -> pd.DataFrame:
        import pandas as pd

        rows = [(k, ", ".join(f"{a}={b}" for a, b in v.items()) if isinstance(v, dict) else v)
                for k, v in self.settings.items()]
        return pd.DataFrame(rows, columns=["setting", "value"])

    def iga_styled(self) -> Any:
        if self.iga:
            return checks_styled(self.iga)
        from IPython.display import Markdown

        return Markdown("*No IGA settings file given (`iga_settings`): the values above are "
                        "what to enter.*")

    def logs(self) -> str:
        """Markdown: where this connector keeps the logs that explain a failure."""
        where = ONPREM_CONNECTOR_LOG if self.flavor == "onprem" else CLOUD_CONNECTOR_LOG
        return f"**Logs:** {markdown_prose(where)}."

    def role_checklist(self) -> pd.DataFrame:
        """The custom role's permissions, which SCIM cannot read, with what each one's absence
        looks like; marked against what the checks saw where they show it."""
        import pandas as pd

        denied = any(r.result.code == "SCIM_ACCESS_DENIED" for r in self.ran)
        rows = [(name, symptom, "likely missing" if denied and i < 2 else "")
                for i, (name, symptom) in enumerate(ROLE_CHECKLIST)]
        return pd.DataFrame(rows, columns=["role permission", "symptom when missing",
                                           "from these checks"])

    def section(self, name: str) -> list[Any]:
        """What the notebook shows under each heading of ``SECTIONS``."""
        if name == "summary":
            return []
        if name == "checks":
            return [self.styled()]
        if name == "iga settings":
            return [Table(self.settings_frame()), self.iga_styled()]
        if name == "role":
            return [Table(self.role_checklist())]
        if name == "findings":
            return [self.findings_grouped(), self.logs()]
        raise unknown_section(self, name)


def _scim(prof: Endpoint) -> SyncScimClient:
    """The runbook's SCIM client: a check wants its answer in seconds, not after the
    inventory's patient retries."""
    return SyncScimClient.for_profile(prof, policy=RetryPolicy.first_contact(prof.limits))


def _reference_folders(reference: str | Profile, beside: Endpoint, notes: list[str]) -> int | None:
    """Folders a fuller view (an on-prem profile) holds: the measure of partial visibility.
    A reference that cannot be read is a note, not the end of the runbook."""
    try:
        with connect_view(reference, beside) as ref, _scim(ref) as scim:
            return scim.total("Containers")
    except OpskitError as exc:
        # Out of reach: said in a few words, without the request's name.
        why = exc.detail if isinstance(exc, TransportError) and exc.detail else exc.message
        name = reference if isinstance(reference, str) else reference.name
        notes.append(f"the reference {name!r} could not be read, so partial visibility is not "
                     f"measured: {why}")
        return None


def onboard(profile: str | Profile | None = None, *, reference: str | Profile | None = None,
            reference_folders: int | None = None, iga_settings: str | None = None,
            apply: bool = False) -> Onboarding:
    """Run the onboarding runbook for a profile (the practice tenant by default).

    ``reference`` (a profile with a fuller view, e.g. the on-prem connector; default: the
    profile's own ``reference``) or ``reference_folders`` (a count) lets the runbook say when
    the service account sees only part of the folders. ``iga_settings`` is a YAML or JSON file
    of what was entered in the IGA. ``apply=True`` adds the write probe (creates and removes
    a temporary group).
    """
    entered = load_settings(iga_settings) if iga_settings else None  # bad file: fail first
    notes: list[str] = []
    with connect(profile) as prof:
        reference = reference or prof.reference
        if reference and reference_folders is None:
            reference_folders = _reference_folders(reference, prof, notes)
        with _scim(prof) as scim:
            ran = run_checks(onboarding_checks(prof, scim, reference_folders=reference_folders,
                                               apply=apply, iga_hosting=(entered or {}).get(
                                                   "hosting")))
        iga = run_checks(iga_checks(prof, entered)) if entered is not None else []
        return Onboarding(prof.name, prof.flavor, prof.base_url, ran, expected_settings(prof),
                          iga, reference_folders, apply, notes)


__all__ = ["Onboarding", "onboard"]
