"""Findings as people see them: a table, most severe first, each severity in its colour.

The Finding record and the codes live in opskit.findings."""

from __future__ import annotations

from typing import Any

from ..findings import FINDING_COLUMNS, Finding, findings_frame
from .display import styled, table

__all__ = ["FINDING_COLUMNS", "SEVERITY_COLOURS", "findings_frame", "findings_styled"]

SEVERITY_COLOURS = {"critical": "#f5c6cb", "high": "#f8d7da", "medium": "#fff3cd",
                    "low": "#e2e3e5", "info": "#d1ecf1"}


def findings_styled(findings: list[Finding]) -> Any:
    """The findings table with each severity in its colour, for notebooks and reports; with no
    findings, a line saying so instead of a bare header row."""
    if not findings:
        return table(None, empty="No findings.")
    return styled(findings_frame(findings)).map(
        lambda s: f"background-color: {SEVERITY_COLOURS.get(s, '')}", subset=["severity"])
