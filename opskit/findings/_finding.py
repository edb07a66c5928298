"""A finding: what a report found, with a stable code, a severity and a remedy."""

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
        check_code(self.code, self.severity)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_code(code: str, severity: str) -> None:
    """A code must be UPPER_SNAKE_CASE and its severity one of SEVERITIES."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity {severity!r} is not one of {SEVERITIES}")
    if not code or code != code.upper() or " " in code:
        raise ValueError(f"finding code {code!r} must be UPPER_SNAKE_CASE")


def at_or_above(severity: str, threshold: str = DEFAULT_FAIL_ON) -> bool:
    """Whether a severity is at or above the failure threshold."""
    return SEVERITIES.index(severity) <= SEVERITIES.index(threshold)


def by_severity(findings: list[Finding] | list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        counts[f["severity"] if isinstance(f, dict) else f.severity] += 1
    return counts


FINDING_COLUMNS = ["severity", "code", "subject", "message", "remediation"]


def findings_frame(findings: list[Finding]) -> Any:
    """Findings as one DataFrame, most severe first (pandas imported only when asked)."""
    import pandas as pd

    frame = pd.DataFrame([f.as_dict() for f in findings], columns=FINDING_COLUMNS)
    rank = frame["severity"].map(SEVERITIES.index)
    return frame.iloc[rank.argsort(kind="stable")].reset_index(drop=True)
