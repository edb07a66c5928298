"""Findings as people see them: a table, most severe first, each severity in its colour.

The Finding record and the codes live in opskit.findings."""

from __future__ import annotations

from typing import Any

from ..findings import SEVERITIES, Finding

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
