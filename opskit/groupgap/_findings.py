"""Group-gap findings merged per subject, in the order the catalogue declares the codes."""

from __future__ import annotations

from ..findings import GROUP_GAP, Finding, raised_by


def merged(findings: list[Finding]) -> list[Finding]:
    """One finding per (code, subject), messages joined; sorted by code, then subject."""
    out: dict[tuple[str, str], Finding] = {}
    for f in findings:
        key = (f.code, f.subject)
        if key in out:
            first = out[key]
            out[key] = Finding(f.code, f.severity, f.subject, f"{first.message}; {f.message}",
                               f.remediation)
        else:
            out[key] = f
    order = {c.code: i for i, c in enumerate(raised_by(GROUP_GAP))}
    return sorted(out.values(), key=lambda f: (order[f.code], f.subject))
