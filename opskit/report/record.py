"""`record(...)`: the last cell of every notebook hands its findings and metrics to the runner.

Under `opskit run`/`opskit report` the runner sets OPSKIT_RUN_DIR in the kernel's environment;
record() writes the notebook's findings and metrics there (the runner then writes results.json
with the run's own facts). Interactively it only displays the summary.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .._redact import redact
from ..findings import Finding, by_severity

RUN_DIR_ENV = "OPSKIT_RUN_DIR"
RECORD_FILE = "record.json"
FINDINGS_CSV = "findings.csv"  # beside report.html in a run folder


def record(findings: list[Finding], metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """Hand findings and metrics to the runner (when there is one) and return them."""
    payload = {"findings": [f.as_dict() for f in findings], "metrics": metrics or {}}
    text = redact(json.dumps(payload, indent=2, default=str))
    run_dir = os.environ.get(RUN_DIR_ENV)
    if run_dir:
        target = Path(run_dir) / RECORD_FILE
        tmp = target.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    summary = by_severity(findings)
    print("findings by severity: " + ", ".join(f"{k} {v}" for k, v in summary.items() if v)
          if findings else "no findings")
    return json.loads(text)
