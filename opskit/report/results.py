"""results.json and findings.csv: what a run found, for machines (schema in docs/reports.md).

``{notebook, profile, started_at, finished_at, status: ok|findings|failed, parameters,
findings: [{code, severity, subject, message, remediation}], metrics}``, plus ``fail_on`` (the
threshold the status was judged against) and ``error`` (where and why a failed run stopped, or
null); what changed since the last run (each finding's ``first_seen`` and ``change``,
``resolved``, ``previous_run``, ``changes``) is added by the runner (opskit._run.drift).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Literal

from ..findings import SEVERITIES, Finding, at_or_above
from .escaping import csv_cell
from .record import RECORD_FILE

Status = Literal["ok", "findings", "failed"]
EXIT_CODES: dict[str, int] = {"ok": 0, "findings": 1, "failed": 2}
FINDING_FIELDS = ("code", "severity", "subject", "message", "remediation")
# findings.csv: a finding, then what changed since the last run (opskit._run.drift).
CSV_FIELDS = (*FINDING_FIELDS, "change", "first_seen")


class RecordError(ValueError):
    """record.json is there but is not what record() writes."""


def read_record(run_dir: Path) -> tuple[list[Finding], dict[str, Any]] | None:
    """The findings and metrics the notebook handed over; None when it never called record()."""
    path = run_dir / RECORD_FILE
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise RecordError(f"{RECORD_FILE} cannot be read: {exc}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("findings", []), list):
        raise RecordError(f"{RECORD_FILE} is not a record() hand-off")
    findings = []
    for i, raw in enumerate(payload.get("findings", [])):
        try:
            findings.append(Finding(**{k: raw[k] for k in FINDING_FIELDS if k in raw}))
        except (TypeError, ValueError) as exc:
            raise RecordError(f"{RECORD_FILE}: finding {i}: {exc}") from None
    metrics = payload.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise RecordError(f"{RECORD_FILE}: metrics must be an object")
    return findings, metrics


def judge(findings: list[Finding], fail_on: str, *, failed: bool) -> Status:
    if failed:
        return "failed"
    return "findings" if any(at_or_above(f.severity, fail_on) for f in findings) else "ok"


def ordered(findings: list[Finding]) -> list[Finding]:
    """Most severe first; the notebook's order within a severity."""
    return sorted(findings, key=lambda f: SEVERITIES.index(f.severity))


def findings_csv(findings: list[dict[str, Any]]) -> str:
    """findings.csv's text; every cell through :func:`opskit.report.escaping.csv_cell`, so a
    subject such as ``=HYPERLINK(…)`` opens in a spreadsheet as text, not as a formula."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in f.items()} for f in findings)
    return buffer.getvalue()
