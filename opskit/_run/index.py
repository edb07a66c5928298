"""The index of every run in an output folder (`index.json`, `index.html`).

After a run, that one run's entry is merged into index.json under a file lock (a fleet's
tenant processes finish together); the tree of `results.json` files is read again only when
index.json is missing, unreadable or of an older version, or when asked (`opskit index OUT
--rebuild`). index.json keeps every run; index.html stays bounded as runs accumulate: the
latest run of each notebook × profile (the fleet view, filterable), the last fleet runs
grouped, trends per tenant, and the recent runs."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from ..findings import SEVERITIES, by_severity
from ..report.escaping import html_text
from . import trends
from .evidence import manifest_digest
from .files import atomic_write_text, iso_time
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
# index.json's layout; an index.json of another version is rebuilt from the tree. 2: the
# entries gained new/resolved/still_open, fleet_run and coverage, one entry per line.
VERSION = 2
RECENT_RUNS = 100  # index.html's "recent runs"; index.json keeps every run
FLEET_RUNS = 5  # fleet runs shown grouped in index.html


def run_entry(results: Mapping[str, Any], rel: str) -> dict[str, Any]:
    """The index's entry for a run: its results.json's ``results``, its folder ``rel`` (relative
    to the output folder, ``<notebook>/<profile>/<stamp>``)."""
    counts = by_severity(results.get("findings", []))
    status = results.get("status", "failed")
    changes = results.get("changes")
    changes = changes if isinstance(changes, dict) else {}
    coverage = (results.get("metrics") or {}).get("folder_share")
    parts = rel.split("/")
    return {
        "notebook": results.get("notebook", parts[0]),
        "profile": results.get("profile", parts[1] if len(parts) > 1 else ""),
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
        # Drift (null for a run made before it existed), the fleet run, coverage over time.
        "new": changes.get("new"),
        "resolved": changes.get("resolved"),
        "still_open": changes.get("still_open"),
        "fleet_run": results.get("fleet_run"),
        "coverage": coverage if isinstance(coverage, int | float) and
        not isinstance(coverage, bool) else None,
    }


def read_entry(out_dir: Path, run_dir: Path) -> dict[str, Any] | None:
    """The entry of the committed run in ``run_dir``; None for a results.json this index cannot
    read (it then says nothing rather than guess)."""
    try:
        results = json.loads((run_dir / RESULTS_FILE).read_text(encoding="utf-8"))
        entry = run_entry(results, run_dir.relative_to(out_dir).as_posix())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    entry["manifest_sha256"] = manifest_digest(run_dir)
    return entry


def _newest_first(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    runs.sort(key=lambda r: (r["started_at"], r["run_dir"]), reverse=True)
    return runs


def collect_runs(out_dir: Path) -> list[dict[str, Any]]:
    """One entry per committed run, newest first (partial folders are hidden: skipped)."""
    runs = []
    for results_path in out_dir.glob(f"*/*/*/{RESULTS_FILE}"):
        run_dir = results_path.parent
        if any(part.startswith(".") for part in run_dir.relative_to(out_dir).parts):
            continue
        entry = read_entry(out_dir, run_dir)
        if entry is not None:
            runs.append(entry)
    return _newest_first(runs)


@contextmanager
def locked(out_dir: Path) -> Iterator[None]:
    """The index's lock for the block: one writer at a time, across processes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # The folder itself is locked: no lock file left beside the runs.
    fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when closed, or when the process dies
        yield
    finally:
        os.close(fd)


def _parse(text: str) -> list[dict[str, Any]] | None:
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict) or document.get("version") != VERSION:
        return None
    runs = document.get("runs")
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        return None
    return runs


def _read_text(out_dir: Path) -> str | None:
    try:
        return (out_dir / INDEX_JSON).read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None


def read_index(out_dir: Path) -> list[dict[str, Any]] | None:
    """index.json's runs, newest first; None when it is missing, unreadable or of another
    version (then only a rebuild from the tree can be trusted)."""
    text = _read_text(out_dir)
    return None if text is None else _parse(text)


def _entry_line(run: Mapping[str, Any]) -> str:
    # The C encoder (indent would take the slow Python one); keys in the entry's order, so a
    # pair's lines start alike (see pair_history).
    return json.dumps(run, ensure_ascii=False)


def _read_lines(out_dir: Path) -> tuple[list[dict[str, Any]], list[str]] | None:
    """index.json's runs and, beside each, its line as written: a merge writes the lines back
    instead of encoding every entry again. None as read_index."""
    text = _read_text(out_dir)
    runs = None if text is None else _parse(text)
    if text is None or runs is None:
        return None
    lines = [line.removesuffix(",") for line in text.split("\n")[1:-2]]  # header; "]}", ""
    if len(lines) != len(runs):  # not laid out as written here (edited by hand): encode
        lines = [_entry_line(run) for run in runs]
    return runs, lines


def _write_json(out_dir: Path, lines: Iterable[str], generated: str) -> None:
    # One entry per line: diffable, and a merge can splice a line in.
    atomic_write_text(out_dir / INDEX_JSON,
                      f'{{"version": {VERSION}, "generated_at": {json.dumps(generated)}, '
                      f'"runs": [\n' + ",\n".join(lines) + "\n]}\n")


def _write(out_dir: Path, runs: list[dict[str, Any]], lines: list[str] | None = None) -> Path:
    generated = iso_time()
    _write_json(out_dir, lines if lines is not None else (_entry_line(run) for run in runs),
                generated)
    atomic_write_text(out_dir / INDEX_HTML, render_index(runs, generated))
    return out_dir / INDEX_HTML


def rebuild_index(out_dir: Path) -> Path:
    """Write index.json and index.html from every results.json present (atomically, under the
    lock); return the path of index.html."""
    with locked(out_dir):
        return _write(out_dir, collect_runs(out_dir))


def _current(out_dir: Path) -> list[dict[str, Any]]:
    """index.json's runs, or the tree's when index.json cannot be trusted. Under the lock."""
    runs = read_index(out_dir)
    return collect_runs(out_dir) if runs is None else runs


def update_index(out_dir: Path, run_dir: Path, *, redraw: bool = True) -> Path:
    """Merge one committed run into the index; return the path of index.html. ``redraw``
    false (a fleet run's runs: `opskit report` redraws index.html once at its end): only
    index.json, its other entries neither decoded nor encoded."""
    out_dir, run_dir = out_dir.resolve(), run_dir.resolve()  # either may be relative
    with locked(out_dir):
        if not redraw and _splice(out_dir, run_dir):
            return out_dir / INDEX_HTML
        loaded = _read_lines(out_dir)
        if loaded is None:  # nothing to merge into: the tree has this run too
            return _write(out_dir, collect_runs(out_dir))
        runs, lines = loaded
        rel = run_dir.relative_to(out_dir).as_posix()
        stale = [i for i, r in enumerate(runs) if r.get("run_dir") == rel]
        for i in reversed(stale):  # merged before: replaced
            del runs[i], lines[i]
        entry = read_entry(out_dir, run_dir)
        if entry is not None:  # where a sort newest first puts it: usually first
            at = _place(runs, (entry["started_at"], rel), len(runs))
            runs.insert(at, entry)
            lines.insert(at, _entry_line(entry))
        return _write(out_dir, runs, lines)


def _place(runs: Iterable[Mapping[str, Any]], key: tuple[str, str], end: int) -> int:
    """Where the entry of ``key`` (started_at, run_dir) goes among ``runs``, newest first:
    before the first older one, else at ``end``."""
    return next((i for i, run in enumerate(runs)
                 if (run.get("started_at", ""), run.get("run_dir", "")) < key), end)


def _splice(out_dir: Path, run_dir: Path) -> bool:
    """index.json with one run's line put in place (an earlier line of the same run dropped),
    reading only the lines it passes; False when index.json is not one this module wrote."""
    text = _read_text(out_dir)
    if text is None or not text.startswith(f'{{"version": {VERSION},'):
        return False
    head, *body, end, last = text.split("\n")
    if (end, last) != ("]}", "") or not head.endswith('"runs": ['):
        return False
    rel = run_dir.relative_to(out_dir).as_posix()
    # An entry's run_dir, exactly (json-quoted: another run's longer name does not match).
    mine = f'"run_dir": {json.dumps(rel, ensure_ascii=False)}'
    lines = [line.removesuffix(",") for line in body if line and mine not in line]
    entry = read_entry(out_dir, run_dir)
    if entry is not None:  # newest first: a run just made is almost always first
        try:  # the lines are decoded only as far as the place is
            at = _place(map(json.loads, lines), (entry["started_at"], rel), len(lines))
        except ValueError:
            return False
        lines.insert(at, _entry_line(entry))
    _write_json(out_dir, lines, iso_time())
    return True


def refresh_index(out_dir: Path) -> Path:
    """index.html drawn again from index.json (rebuilt from the tree when it must be)."""
    with locked(out_dir):
        return _write(out_dir, _current(out_dir))


def remove_runs(out_dir: Path, run_dirs: Iterable[str]) -> Path:
    """Drop the entries of runs whose folders were removed (``<notebook>/<profile>/<stamp>``)."""
    gone = set(run_dirs)
    with locked(out_dir):
        return _write(out_dir, [r for r in _current(out_dir) if r.get("run_dir") not in gone])


def pair_history(out_dir: Path, results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The index's runs of this run's notebook × profile, oldest first, then this run (not in
    the index yet): what its report's trend is drawn from. Read without the lock: index.json
    is replaced atomically, so it is one version or the next."""
    this = run_entry(results, "")
    text = _read_text(out_dir) or ""
    if not text.startswith(f'{{"version": {VERSION},'):
        return [this]
    # Only this pair's lines are decoded: each entry starts with its notebook and profile.
    start = _entry_line({"notebook": this["notebook"], "profile": this["profile"]})[:-1] + ","
    same = []
    for line in text.split("\n"):
        if line.startswith(start):
            try:
                same.append(json.loads(line.removesuffix(",")))
            except ValueError:
                continue
            if len(same) == trends.POINTS - 1:
                break
    return [*reversed(same), this]


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


def _finding_level(run: Mapping[str, Any]) -> int:
    """The index in SEVERITIES of the run's worst finding (len(SEVERITIES) for none), whatever
    its status: what the severity filter compares."""
    counts = run.get("findings") or {}
    return next((i for i, sev in enumerate(SEVERITIES) if counts.get(sev)), len(SEVERITIES))


def _changes(run: Mapping[str, Any]) -> str:
    if run.get("new") is None:
        return '<span class="muted" title="no earlier run to compare with, or made before ' \
               'opskit compared runs">–</span>'
    new, resolved = run.get("new") or 0, run.get("resolved") or 0
    return (f'<span class="{"new" if new else "muted"}">+{new} new</span> · '
            f'<span class="muted">−{resolved} resolved</span>')


def _row(run: dict[str, Any]) -> str:
    e = html_text
    title = f'status {run["status"]}' + (f': {run["error"]}' if run.get("error") else "")
    rehearsal = (" " + rehearsal_note(run["expected"], bool(run["expected_found"]))
                 if run.get("expected") else "")
    # What the filters read (index.html's script): plain values, escaped as attributes.
    data = (f'data-profile="{e(run["profile"])}" data-notebook="{e(run["notebook"])}" '
            f'data-level="{_finding_level(run)}" data-new="{int(run.get("new") or 0)}" '
            f'data-attention="{int(needs_attention(run))}" '
            f'data-failed="{int(run["worst"] == CANNOT_RUN)}"')
    return (f'<tr {data}><td>{e(_when(run["started_at"]))}</td><td>{e(run["notebook"])}</td>'
            f'<td>{e(run["profile"])}</td>'
            f'<td>{level_badge(run["worst"], title)}{rehearsal}</td>'
            f'<td>{severity_chips(run["findings"])}</td>'
            f'<td>{_changes(run)}</td>'
            f'<td><a href="{e(run["report"])}">report</a> · '
            f'<a href="{e(run["results"])}" class="muted">results.json</a></td></tr>')


HEAD = ("<tr><th>started</th><th>notebook</th><th>profile</th><th>worst</th>"
        f'<th title="{" · ".join(SEVERITIES)}">findings <span class="muted">'
        f'({" · ".join(SEVERITIES)})</span></th><th>since the last run</th><th></th></tr>')


def _table(runs: Iterable[dict[str, Any]], table_id: str = "") -> str:
    ident = f' id="{table_id}"' if table_id else ""
    rows = "\n".join(_row(r) for r in runs)
    return (f'<table class="opskit-filterable"{ident}><thead>{HEAD}</thead><tbody>\n{rows}\n'
            '</tbody></table>')


def _options(values: Iterable[str]) -> str:
    return "".join(f'<option value="{html_text(v)}">{html_text(v)}</option>'
                   for v in sorted(set(values)))


def _filters(latest: list[dict[str, Any]]) -> str:
    severities = "".join(f'<option value="{i}">{html_text(sev)} or worse</option>'
                         for i, sev in enumerate(SEVERITIES))
    return (
        '<form class="opskit-filters" id="filters">'
        '<label>tenant <select data-filter="profile"><option value="">all</option>'
        f'{_options(r["profile"] for r in latest)}</select></label> '
        '<label>notebook <select data-filter="notebook"><option value="">all</option>'
        f'{_options(r["notebook"] for r in latest)}</select></label> '
        '<label>severity <select data-filter="level"><option value="">any</option>'
        f'{severities}</select></label> '
        '<label>status <select data-filter="status"><option value="">any</option>'
        '<option value="attention">needs attention</option>'
        '<option value="new">new findings</option>'
        '<option value="failed">could not run</option></select></label> '
        '<span class="muted" id="shown"></span></form>')


# Inline (no module, nothing fetched: the page works opened from disk). Hides the rows of every
# filterable table, and the tenants' trends, that the chosen filters leave out.
SCRIPT = """
(function () {
  var form = document.getElementById('filters');
  if (!form) { return; }
  function chosen(name) { return form.querySelector('[data-filter="' + name + '"]').value; }
  function apply() {
    var profile = chosen('profile'), notebook = chosen('notebook');
    var level = chosen('level'), status = chosen('status'), shown = 0;
    document.querySelectorAll('table.opskit-filterable tbody tr').forEach(function (tr) {
      var d = tr.dataset, keep = (!profile || d.profile === profile)
        && (!notebook || d.notebook === notebook)
        && (level === '' || Number(d.level) <= Number(level))
        && (status !== 'attention' || d.attention === '1')
        && (status !== 'new' || Number(d.new) > 0)
        && (status !== 'failed' || d.failed === '1');
      tr.hidden = !keep;
      if (keep && tr.closest('#latest')) { shown += 1; }
    });
    document.querySelectorAll('[data-tenant]').forEach(function (el) {
      el.hidden = Boolean(profile) && el.dataset.tenant !== profile;
    });
    document.getElementById('shown').textContent = shown + ' of the latest runs shown';
  }
  form.addEventListener('change', apply);
  form.addEventListener('submit', function (event) { event.preventDefault(); });
  apply();
})();
"""


def _fleet_runs(runs: list[dict[str, Any]]) -> list[tuple[str | None, list[dict[str, Any]]]]:
    """The last FLEET_RUNS fleet runs, newest first, each with its runs; a run made alone (no
    fleet run) is a group of its own."""
    groups: dict[str, tuple[str | None, list[dict[str, Any]]]] = {}
    for run in runs:  # newest first: a group's first run seen is its latest
        fleet = run.get("fleet_run")
        key = f"fleet:{fleet}" if fleet else f"run:{run['run_dir']}"
        if key not in groups:
            if len(groups) == FLEET_RUNS:
                continue  # an older group: not shown, but a shown group may still grow
            groups[key] = (fleet, [])
        groups[key][1].append(run)
    return list(groups.values())


def _fleet_section(runs: list[dict[str, Any]]) -> str:
    parts = []
    for i, (fleet, members) in enumerate(_fleet_runs(runs)):
        attention = sum(1 for r in members if needs_attention(r))
        new = sum(r.get("new") or 0 for r in members)
        resolved = sum(r.get("resolved") or 0 for r in members)
        what = (f"fleet run <code>{html_text(fleet)}</code>" if fleet
                else "a run on its own")
        parts.append(
            f'<details{" open" if i == 0 else ""}><summary>{what} · '
            f'{html_text(_when(min(r["started_at"] for r in members)))} · '
            f'{len(members)} run{"s" if len(members) != 1 else ""} · '
            f'{attention} needing attention · +{new} new · −{resolved} resolved</summary>'
            f'{_table(sorted(members, key=attention_order))}</details>')
    return "\n".join(parts)


def _trends_section(runs: list[dict[str, Any]]) -> str:
    by_tenant: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_tenant.setdefault(run["profile"], []).append(run)
    blocks = []
    for tenant in sorted(by_tenant):
        chart = trends.trend_html(trends.history(by_tenant[tenant]), tenant)
        if chart:
            blocks.append(f'<div class="opskit-tenant" data-tenant="{html_text(tenant)}">'
                          f'<h3>{html_text(tenant)}</h3>{chart}</div>')
    if not blocks:
        return '<p class="muted">No completed runs yet.</p>'
    return (f'<p class="muted">Open findings (the latest run of each notebook, summed) '
            f'{trends.legend()}; coverage: the share of folders the cloud connector sees '
            f'(permission audit). The last {trends.POINTS} runs of each tenant.</p>'
            + "\n".join(blocks))


def render_index(runs: list[dict[str, Any]], generated: str) -> str:
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs:  # newest first: the first seen per pair is the latest
        latest.setdefault((run["notebook"], run["profile"]), run)
    failing = sum(1 for r in latest.values() if needs_attention(r))
    recent = runs[:RECENT_RUNS]
    summary = (f"{len(runs)} run{'s' if len(runs) != 1 else ''}, "
               f"{len(latest)} notebook × profile pair{'s' if len(latest) != 1 else ''}, "
               f"{failing} needing attention in their latest run") if runs else "No runs yet."
    older = (f" ({len(runs) - len(recent)} older runs are listed in index.json)"
             if len(runs) > len(recent) else "")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>opskit reports</title>
<style>{CSS}
body {{ margin: 2em auto; max-width: 1100px; padding: 0 1.5em; }}
h2 {{ font-size: 1.15em; margin-top: 1.8em; }}
h3 {{ font-size: 1em; margin: .8em 0 .2em 0; }}
.opskit-filters {{ margin: .6em 0; }} .opskit-filters label {{ margin-right: 1em; }}
.opskit .new {{ color: var(--high); font-weight: 600; }}
.opskit-tenant {{ display: inline-block; margin: 0 1.5em .8em 0; vertical-align: top; }}
.opskit-trends svg {{ display: block; }}
details summary {{ cursor: pointer; margin: .4em 0; }}
[hidden] {{ display: none !important; }}  /* what the filters hide, whatever its display */
</style>
</head>
<body class="opskit">
<h1>opskit reports</h1>
<p class="muted">{html_text(summary)} · index generated {html_text(_when(generated))}</p>
<h2>Latest run of each notebook and profile, what needs attention first</h2>
{_filters(list(latest.values()))}
{_table(sorted(latest.values(), key=attention_order), "latest")}
<h2>Recent runs, newest first</h2>
<p class="muted">The last {len(recent)}{html_text(older)}.</p>
{_table(recent, "recent")}
<h2>Fleet runs</h2>
{_fleet_section(runs)}
<h2>Trends by tenant</h2>
{_trends_section(runs)}
<script>{SCRIPT}</script>
</body>
</html>
"""
