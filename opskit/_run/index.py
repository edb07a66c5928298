"""The index of every run in an output folder (`index.json`, `index.html`), rebuilt from the
`results.json` files present, so it never disagrees with the folders beside it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..findings import SEVERITIES, by_severity
from ..report.escaping import html_text
from .evidence import manifest_digest
from .files import atomic_write_text
from .html import (
    CALM,
    CANNOT_RUN,
    CSS,
    LEVELS,
    expected_found,
    level_badge,
    rehearsal_note,
    severity_chips,
    worst_level,
)

INDEX_JSON, INDEX_HTML = "index.json", "index.html"
RESULTS_FILE, REPORT_FILE = "results.json", "report.html"


def collect_runs(out_dir: Path) -> list[dict[str, Any]]:
    """One entry per committed run, newest first (partial folders are hidden: skipped)."""
    runs = []
    for results_path in out_dir.glob(f"*/*/*/{RESULTS_FILE}"):
        run_dir = results_path.parent
        if any(part.startswith(".") for part in run_dir.relative_to(out_dir).parts):
            continue
        try:
            results = json.loads(results_path.read_text(encoding="utf-8"))
            findings = results.get("findings", [])
            counts = by_severity(findings)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # not a results.json this index can read: say nothing rather than guess
        rel = run_dir.relative_to(out_dir).as_posix()
        status = results.get("status", "failed")
        runs.append({
            "notebook": results.get("notebook", run_dir.parent.parent.name),
            "profile": results.get("profile", run_dir.parent.name),
            "started_at": results.get("started_at", ""),
            "finished_at": results.get("finished_at", ""),
            "status": status,
            "worst": worst_level(status, counts),
            "findings": counts,
            "expected": results.get("expected"),
            "expected_found": expected_found(results),
            "error": (results.get("error") or {}).get("ename"),
            "run_dir": rel,
            "report": f"{rel}/{REPORT_FILE}",
            "results": f"{rel}/{RESULTS_FILE}",
            "manifest_sha256": manifest_digest(run_dir),
        })
    runs.sort(key=lambda r: (r["started_at"], r["run_dir"]), reverse=True)
    return runs


def rebuild_index(out_dir: Path) -> Path:
    """Write index.json and index.html (atomically); return the path of index.html."""
    runs = collect_runs(out_dir)
    generated = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    document = {"generated_at": generated, "runs": runs}
    atomic_write_text(out_dir / INDEX_JSON, json.dumps(document, indent=2) + "\n")
    atomic_write_text(out_dir / INDEX_HTML, render_index(runs, generated))
    return out_dir / INDEX_HTML


def _when(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return iso


def needs_attention(run: dict[str, Any]) -> bool:
    """Whether someone should look: it could not run or found something at low or above,
    unless it is a rehearsal that gave the code it exists to give."""
    if run["worst"] == CANNOT_RUN:  # a rehearsal that gave its code, then failed, still did
        return True
    return run["worst"] not in CALM and not run.get("expected_found")


def attention_order(run: dict[str, Any]) -> tuple[bool, int, str, str]:
    """What needs attention first: could not run, then by worst severity; rehearsals that
    went as expected after the rest; then tenant (profile) and notebook."""
    calm_rehearsal = bool(run.get("expected_found")) and run["worst"] != CANNOT_RUN
    return (calm_rehearsal, LEVELS.index(run["worst"]), run["profile"], run["notebook"])


def _row(run: dict[str, Any]) -> str:
    e = html_text
    title = f'status {run["status"]}' + (f': {run["error"]}' if run.get("error") else "")
    rehearsal = (" " + rehearsal_note(run["expected"], bool(run["expected_found"]))
                 if run.get("expected") else "")
    return (f'<tr><td>{e(_when(run["started_at"]))}</td><td>{e(run["notebook"])}</td>'
            f'<td>{e(run["profile"])}</td>'
            f'<td>{level_badge(run["worst"], title)}{rehearsal}</td>'
            f'<td>{severity_chips(run["findings"])}</td>'
            f'<td><a href="{e(run["report"])}">report</a> · '
            f'<a href="{e(run["results"])}" class="muted">results.json</a></td></tr>')


def render_index(runs: list[dict[str, Any]], generated: str) -> str:
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs:  # newest first: the first seen per pair is the latest
        latest.setdefault((run["notebook"], run["profile"]), run)
    failing = sum(1 for r in latest.values() if needs_attention(r))
    head = ("<tr><th>started</th><th>notebook</th><th>profile</th><th>worst</th>"
            f'<th title="{" · ".join(SEVERITIES)}">findings <span class="muted">'
            f'({" · ".join(SEVERITIES)})</span></th><th></th></tr>')
    latest_rows = "\n".join(_row(r) for r in sorted(latest.values(), key=attention_order))
    all_rows = "\n".join(_row(r) for r in runs)
    summary = (f"{len(runs)} run{'s' if len(runs) != 1 else ''}, "
               f"{len(latest)} notebook × profile pair{'s' if len(latest) != 1 else ''}, "
               f"{failing} needing attention in their latest run") if runs else "No runs yet."
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>opskit reports</title>
<style>{CSS}
body {{ margin: 2em auto; max-width: 1100px; padding: 0 1.5em; }}
h2 {{ font-size: 1.15em; margin-top: 1.8em; }}
</style>
</head>
<body class="opskit">
<h1>opskit reports</h1>
<p class="muted">{html_text(summary)} · index generated {html_text(_when(generated))}</p>
<h2>Latest run of each notebook and profile, what needs attention first</h2>
<table><thead>{head}</thead><tbody>
{latest_rows}
</tbody></table>
<h2>All runs, newest first</h2>
<table><thead>{head}</thead><tbody>
{all_rows}
</tbody></table>
</body>
</html>
"""
