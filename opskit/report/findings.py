"""Findings as people see them: grouped by code, most severe first, each severity in its
colour; or (``findings_styled``) one row per finding, as findings.csv holds them.

The Finding record and the codes live in opskit.findings."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..findings import (
    FINDING_COLUMNS,
    REGISTRY,
    SEVERITIES,
    Finding,
    UnknownCode,
    findings_frame,
)
from .display import headless, interactive_html, styled, table
from .escaping import html_text
from .record import FINDINGS_CSV

__all__ = ["FINDING_COLUMNS", "SEVERITY_COLOURS", "CodeGroup", "FindingsByCode", "by_code",
           "findings_frame", "findings_grouped", "findings_grouped_html", "findings_styled"]

SEVERITY_COLOURS = {"critical": "#f5c6cb", "high": "#f8d7da", "medium": "#fff3cd",
                    "low": "#e2e3e5", "info": "#d1ecf1"}
SUBJECTS_INLINE = 3  # named in the row; all of them are in its <details>
SUBJECTS_LISTED = 500  # per code in the <details>; the rest are in findings.csv
# Marks the output cell that shows the grouped findings, so the report header does not repeat it.
OUTPUT_METADATA = {"opskit": "findings"}


def findings_styled(findings: list[Finding]) -> Any:
    """The findings table with each severity in its colour, for notebooks and reports; with no
    findings, a line saying so instead of a bare header row."""
    if not findings:
        return table(None, empty="No findings.")
    return styled(findings_frame(findings)).map(
        lambda s: f"background-color: {SEVERITY_COLOURS.get(s, '')}", subset=["severity"])


@dataclass(frozen=True)
class CodeGroup:
    """Every finding of one code: what a reader acts on once."""

    code: str
    severity: str
    title: str
    remediations: tuple[str, ...]  # distinct, in order met (one, unless contexts differ)
    subjects: tuple[tuple[str, str], ...]  # (subject, message) per finding


def _title(code: str) -> str:
    try:
        return REGISTRY[code].title
    except UnknownCode:  # a notebook's own code: the table still shows it
        return ""


def by_code(findings: Iterable[Finding | Mapping[str, Any]]) -> list[CodeGroup]:
    """Findings grouped by code: most severe first, then the most findings, then by code."""
    groups: dict[str, tuple[str, list[str], list[tuple[str, str]]]] = {}
    for f in findings:
        d: Mapping[str, Any] = f.as_dict() if isinstance(f, Finding) else f
        _, remediations, subjects = groups.setdefault(d["code"], (d["severity"], [], []))
        if d.get("remediation") and d["remediation"] not in remediations:
            remediations.append(d["remediation"])
        subjects.append((str(d["subject"]), str(d.get("message", ""))))
    made = [CodeGroup(code, sev, _title(code), tuple(rem), tuple(subj))
            for code, (sev, rem, subj) in groups.items()]
    return sorted(made, key=lambda g: (SEVERITIES.index(g.severity)
                                       if g.severity in SEVERITIES else len(SEVERITIES),
                                       -len(g.subjects), g.code))


def _more(count: int, more_href: str | None) -> str:
    text = f"… and {count} more in {html_text(more_href or FINDINGS_CSV)}"
    return (f'<a href="{html_text(more_href)}">{text}</a>' if more_href else text) + "."


def findings_grouped_html(findings: Iterable[Finding | Mapping[str, Any]], *,
                          more_href: str | None = None) -> str:
    """The findings as one row per code: severity, code and title, count, the subjects (the
    first few named, all of them with their messages in a ``<details>``), the remediation once.
    Everything from the findings is escaped. ``more_href`` links the "… and N more" text
    (findings.csv beside the report)."""
    groups = by_code(findings)
    e = html_text
    if not groups:
        return '<p class="opskit-findings"><em>No findings.</em></p>'
    rows = ['<table class="opskit-findings"><thead><tr><th>severity</th><th>code</th>'
            '<th class="num">count</th><th>subjects</th><th>remediation</th></tr></thead>'
            "<tbody>"]
    for g in groups:
        named = ", ".join(e(s) for s, _ in g.subjects[:SUBJECTS_INLINE])
        if len(g.subjects) > SUBJECTS_INLINE:
            named += f", … ({len(g.subjects) - SUBJECTS_INLINE} more)"
        items = "".join(f"<li>{e(s)}" + (f" — {e(m)}" if m else "") + "</li>"
                        for s, m in g.subjects[:SUBJECTS_LISTED])
        if len(g.subjects) > SUBJECTS_LISTED:
            items += f"<li>{_more(len(g.subjects) - SUBJECTS_LISTED, more_href)}</li>"
        title = f'<br><span style="color: #6e7781">{e(g.title)}</span>' if g.title else ""
        remedy = "".join(f"<p>{e(r)}</p>" for r in g.remediations)
        colour = SEVERITY_COLOURS.get(g.severity, "")
        rows.append(
            f'<tr><td style="background-color: {colour}">{e(g.severity)}</td>'
            f"<td><code>{e(g.code)}</code>{title}</td>"
            f'<td class="num">{len(g.subjects)}</td>'
            f"<td>{named}<details><summary>all {len(g.subjects)}, with messages</summary>"
            f"<ul>{items}</ul></details></td><td>{remedy}</td></tr>")
    rows.append("</tbody></table>")
    return "\n".join(rows)


@dataclass(frozen=True)
class FindingsByCode:
    """The grouped findings as a notebook displays them (HTML, marked for the report header)."""

    html: str

    def _repr_html_(self) -> tuple[str, dict[str, str]]:
        return self.html, OUTPUT_METADATA


def findings_grouped(findings: list[Finding]) -> FindingsByCode:
    """The findings a notebook shows: grouped by code (:func:`findings_grouped_html`); under
    the runner the "… and N more" text links findings.csv, which sits beside the report."""
    html = findings_grouped_html(findings, more_href=FINDINGS_CSV if headless() else None)
    codes = len(by_code(findings))
    if not codes:
        return FindingsByCode(html)
    # Sortable and searchable as the report's other tables; the id is new per display.
    ident = f"T_{uuid.uuid4().hex}"  # the shape of the Styler tables' ids
    html = html.replace('<table class="opskit-findings">',
                        f'<table class="opskit-findings" id="{ident}">', 1)
    return FindingsByCode(interactive_html(html, ident, codes))
