"""Findings: what a report found, with a stable code, a severity and a remedy."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
DEFAULT_FAIL_ON: Severity = "high"


@dataclass(frozen=True)
class Finding:
    """One thing a report found. ``code`` is stable and listed in docs/findings.md; ``subject``
    names what it is about as people read it (a folder path, a userName, a group name)."""

    code: str
    severity: Severity
    subject: str
    message: str
    remediation: str = ""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {SEVERITIES}")
        if not self.code or self.code != self.code.upper() or " " in self.code:
            raise ValueError(f"finding code {self.code!r} must be UPPER_SNAKE_CASE")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def at_or_above(severity: str, threshold: str = DEFAULT_FAIL_ON) -> bool:
    """Whether a severity is at or above the failure threshold."""
    return SEVERITIES.index(severity) <= SEVERITIES.index(threshold)


def by_severity(findings: list[Finding] | list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        counts[f["severity"] if isinstance(f, dict) else f.severity] += 1
    return counts


SEVERITY_COLOURS = {"critical": "#f5c6cb", "high": "#f8d7da", "medium": "#fff3cd",
                    "low": "#e2e3e5", "info": "#d1ecf1"}
FINDING_COLUMNS = ["severity", "code", "subject", "message", "remediation"]


def findings_frame(findings: list[Finding]) -> Any:
    """Findings as one DataFrame, most severe first (pandas imported only when asked)."""
    import pandas as pd

    frame = pd.DataFrame([f.as_dict() for f in findings], columns=FINDING_COLUMNS)
    rank = frame["severity"].map(SEVERITIES.index)
    return frame.iloc[rank.argsort(kind="stable")].reset_index(drop=True)


def findings_styled(findings: list[Finding]) -> Any:
    """The findings table with each severity in its colour, for notebooks and reports."""
    from .display import styled  # display imports record, which imports this module

    return styled(findings_frame(findings)).map(
        lambda s: f"background-color: {SEVERITY_COLOURS.get(s, '')}", subset=["severity"])
