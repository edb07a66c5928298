"""The findings catalogue: each code declared once, made into findings by code, documented."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from opskit import findings
from opskit.findings import (
    ANY_CHECK,
    GROUP_GAP,
    IGA_SETTINGS,
    ONBOARDING,
    PERMISSION_AUDIT,
    REGISTRY,
    TOKEN_CHECK,
    DuplicateCode,
    Finding,
    Registry,
    UnknownCode,
    declared,
    finding,
)

ROOT = Path(__file__).resolve().parent.parent
# The part of docs/findings.md for the codes of each report.
PARTS = {TOKEN_CHECK: "Token check", ONBOARDING: "Onboarding (cloud)",
         IGA_SETTINGS: "IGA settings", GROUP_GAP: "Group gap",
         PERMISSION_AUDIT: "Permission audit", ANY_CHECK: "Any check"}


def test_a_code_declared_twice_is_an_error() -> None:
    registry = Registry(["a report", "another"])
    registry.declare("SOME_CODE", "low", "Something", "Fix it.", raised_by=["a report"])
    with pytest.raises(DuplicateCode, match="SOME_CODE is declared twice"):
        registry.declare("SOME_CODE", "high", "Something else", "Other words.",
                         raised_by=["another"])
    assert registry["SOME_CODE"].remediation == "Fix it."  # the first stays, unchanged


def test_a_declarations_module_run_twice_fails_at_import() -> None:
    # Running a catalogue module again declares its codes a second time, as a pasted copy of
    # one would: the import fails, and the registry keeps the first declarations.
    before = [(c.code, c.remediation) for c in REGISTRY]
    with pytest.raises(DuplicateCode, match="IGA_BASE_URL_MISMATCH is declared twice"):
        importlib.reload(importlib.import_module("opskit.findings._iga"))
    assert [(c.code, c.remediation) for c in REGISTRY] == before


def test_declarations_are_checked() -> None:
    registry = Registry(["a report"])
    with pytest.raises(ValueError, match="UPPER_SNAKE_CASE"):
        registry.declare("lower_case", "low", "T", "", raised_by=["a report"])
    with pytest.raises(ValueError, match="severity 'urgent'"):
        registry.declare("A_CODE", "urgent", "T", "", raised_by=["a report"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="raised_by must name reports"):
        registry.declare("A_CODE", "low", "T", "", raised_by=["no such report"])
    with pytest.raises(ValueError, match="needs a title"):
        registry.declare("A_CODE", "low", " ", "", raised_by=["a report"])
    assert "A_CODE" not in registry and len(registry) == 0


def test_an_unknown_code_is_a_clear_error() -> None:
    with pytest.raises(UnknownCode, match=r"unknown finding code 'NO_SUCH_CODE': declare it in "
                                          r"opskit\.findings"):
        finding("NO_SUCH_CODE", "acme", "something")
    with pytest.raises(UnknownCode, match="TOKEN_OK has no remediation for 'onprem'"):
        finding("TOKEN_OK", "acme", "fine", variant="onprem")


def test_a_finding_carries_its_declared_severity_and_remediation() -> None:
    code = declared("SCIM_ACCESS_DENIED")
    cloud = finding("SCIM_ACCESS_DENIED", "svc@acme.com", "403")
    onprem = finding("SCIM_ACCESS_DENIED", "https://ss/SCIMConnector/v2", "403", variant="onprem")
    assert (cloud.severity, cloud.remediation) == ("critical", code.remediation)
    assert "custom SCIM role" in cloud.remediation
    assert onprem.severity == "critical" and "application account" in onprem.remediation
    # results.json and findings.csv are written from as_dict: its keys and order are fixed.
    assert list(cloud.as_dict()) == ["code", "severity", "subject", "message", "remediation"]
    assert Finding(**cloud.as_dict()) == cloud


def test_each_report_raises_the_codes_it_declares() -> None:
    assert [c.code for c in findings.raised_by(ANY_CHECK)] == ["CHECK_FAILED", "CHECK_WARNING"]
    shared = [c.code for c in REGISTRY if len(c.raised_by) > 1]
    assert sorted(shared) == ["NO_VISIBLE_SECRETS", "ONPREM_CONNECTOR_DISABLED",
                              "PARTIAL_FOLDER_VISIBILITY", "SECRET_SERVER_UNREACHABLE",
                              "TENANT_UNREACHABLE"]
    with pytest.raises(ValueError, match="unknown report"):
        findings.raised_by("the weather report")


def _documented(text: str) -> dict[str, tuple[str, str]]:
    """Each documented code: (the part it is under, its section)."""
    out: dict[str, tuple[str, str]] = {}
    part = ""
    for block in re.split(r"^(?=#{2,3} )", text, flags=re.MULTILINE):
        heading, _, body = block.partition("\n")
        if heading.startswith("## "):
            part = heading[3:]
        elif heading.startswith("### "):
            code = heading[4:]
            assert code not in out, f"{code} is documented twice"
            out[code] = (part, body)
    return out


def test_findings_md_documents_every_declared_code_and_no_other() -> None:
    text = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    documented = _documented(text)
    assert sorted(documented) == sorted(c.code for c in REGISTRY)
    for c in REGISTRY:
        part, section = documented[c.code]
        assert part in {PARTS[r] for r in c.raised_by}, (c.code, part)
        assert f"- **Title:** {c.title}\n" in section, c.code
        assert re.search(rf"^- \*\*Severity:\*\* {c.severity}$", section, re.MULTILINE), c.code
        raised = section.split("- **Raised by:** ", 1)[1].split("\n- **", 1)[0]
        for report in c.raised_by:
            assert report in raised, (c.code, report)
    for part in PARTS.values():
        anchor = re.sub(r"[^a-z0-9 -]", "", part.lower()).replace(" ", "-")
        assert f"[{part}](#{anchor})" in text, part
