"""An alert's content: one JSON payload (the webhook's body) and, from it, the e-mail's text
and HTML. Built from results.json (already scrubbed by the runner) and scrubbed once more with
every secret opskit knows of, so no secret can reach a message.

Payload (``"schema": "opskit.alert/1"``; docs/alerts.md):
``{schema, text, summary, fleet_run, min_severity, tenants, notebooks, counts: {new, failed},
new_findings: [{profile, notebook, code, severity, subject, report}], failures: [{profile,
notebook, status, error, report}], reports, truncated}``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._run.secrets import scrub_text, scrub_tree
from ..findings import SEVERITIES, at_or_above
from ._runs import Run
from ._settings import AlertSettings

SCHEMA = "opskit.alert/1"
MAX_LISTED = 500  # findings in the payload; a chat message names fewer (TEXT_LISTED)
TEXT_LISTED = 20


@dataclass(frozen=True)
class Alert:
    subject: str
    text: str
    html: str
    payload: dict[str, Any]


def is_new(finding: dict[str, Any]) -> bool:
    """New since the last run (the drift fields); a run without them: every finding is new."""
    return finding.get("change", "new") == "new"


def build_alert(runs: Sequence[Run], settings: AlertSettings,
                fleet_run: str | None = None) -> Alert | None:
    """The alert for these runs, or None when nothing in them calls for one."""
    new: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for run in runs:
        if run.failed:  # its findings are partial: the failure is what to say
            if settings.on_failure:
                failures.append({"profile": run.profile, "notebook": run.notebook,
                                 "status": run.status, "error": run.error,
                                 "report": run.report})
            continue
        new += [{"profile": run.profile, "notebook": run.notebook,
                 "code": f.get("code"), "severity": f.get("severity"),
                 "subject": f.get("subject"), "report": run.report}
                for f in run.findings
                if is_new(f) and f.get("severity") in SEVERITIES
                and at_or_above(f["severity"], settings.min_severity)]
    if not new and not failures:
        return None
    new.sort(key=lambda f: SEVERITIES.index(f["severity"]))  # most severe first, stable
    fleet_run = fleet_run or next((r.fleet_run for r in runs if r.fleet_run), None)
    alerting = {(f["profile"], f["notebook"]) for f in [*new, *failures]}
    summary = _summary(len(new), len(failures), settings.min_severity, fleet_run,
                       len({r.profile for r in runs}))
    payload = scrub_tree({
        "schema": SCHEMA, "text": "", "summary": summary, "fleet_run": fleet_run,
        "min_severity": settings.min_severity,
        "tenants": sorted({r.profile for r in runs}),
        "notebooks": sorted({r.notebook for r in runs if r.notebook}),
        "counts": {"new": len(new), "failed": len(failures)},
        "new_findings": new[:MAX_LISTED], "failures": failures,
        "reports": sorted({r.report for r in runs
                           if r.report and (r.profile, r.notebook) in alerting}),
        "truncated": max(0, len(new) - MAX_LISTED)})
    text = _text(payload)
    payload["text"] = text  # what a chat tool (Slack, Teams, Mattermost) shows
    return Alert(scrub_text(f"opskit: {summary}"), text, _html(payload), payload)


def _summary(new: int, failed: int, severity: str, fleet_run: str | None, tenants: int) -> str:
    parts = []
    if new:
        parts.append(f"{new} new finding{'s' * (new != 1)} at or above {severity}")
    if failed:
        parts.append(f"{failed} run{'s' * (failed != 1)} could not run")
    where = f"fleet run {fleet_run}" if fleet_run else "the latest runs"
    return f"{' and '.join(parts)} in {where} ({tenants} tenant{'s' * (tenants != 1)})"


def _where(item: dict[str, Any]) -> str:
    return f"{item['profile']}/{item['notebook'] or '(every notebook)'}"


def _text(payload: dict[str, Any]) -> str:
    lines = [f"opskit: {payload['summary']}"]
    new = payload["new_findings"]
    if new:
        lines += ["", "New findings:"]
        lines += [f"- [{f['severity']}] {f['code']}: {f['subject']} ({_where(f)})"
                  for f in new[:TEXT_LISTED]]
        more = payload["counts"]["new"] - min(len(new), TEXT_LISTED)
        if more:
            lines.append(f"- … and {more} more (in the reports)")
    if payload["failures"]:
        lines += ["", "Could not run:"]
        lines += [f"- {_where(f)}: {f['error'] or f['status']}" for f in payload["failures"]]
    if payload["reports"]:
        lines += ["", "Reports:", *(f"- {path}" for path in payload["reports"])]
    return scrub_text("\n".join(lines))


def _html(payload: dict[str, Any]) -> str:
    def esc(value: Any) -> str:
        return html.escape(str(value if value is not None else ""))

    parts = [f"<p><b>opskit</b>: {esc(payload['summary'])}</p>"]
    if payload["new_findings"]:
        rows = "".join(f"<tr><td>{esc(f['severity'])}</td><td>{esc(f['code'])}</td>"
                       f"<td>{esc(f['subject'])}</td><td>{esc(_where(f))}</td></tr>"
                       for f in payload["new_findings"])
        parts.append("<h3>New findings</h3><table><tr><th>severity</th><th>code</th>"
                     f"<th>subject</th><th>where</th></tr>{rows}</table>")
    if payload["failures"]:
        items = "".join(f"<li>{esc(_where(f))}: {esc(f['error'] or f['status'])}</li>"
                        for f in payload["failures"])
        parts.append(f"<h3>Could not run</h3><ul>{items}</ul>")
    if payload["reports"]:
        items = "".join(f"<li>{esc(p)}</li>" for p in payload["reports"])
        parts.append(f"<h3>Reports</h3><ul>{items}</ul>")
    return scrub_text("<html><body>" + "".join(parts) + "</body></html>")
