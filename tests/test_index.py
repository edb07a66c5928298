"""The index kept incrementally (one run merged in under a lock, the same index.json a rebuild
makes), index.html bounded as runs accumulate, fleet runs grouped, trends, retention, and the
`opskit index` / `opskit prune` commands; in-process, from hand-made results.json files (and,
for a report's trend, the runner with its cells executed in this process)."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from opskit import cli, runner
from opskit._run import index, retention, trends
from opskit._run.index import INDEX_HTML, INDEX_JSON

from .inprocess import FIRST_DAY, days_apart
from .test_status import Tables, finding

NOTEBOOKS = Path(__file__).parent / "notebooks"


def write_run(out: Path, notebook: str, profile: str, day: int, *, status: str = "ok",
              findings: list[dict[str, Any]] | None = None, fleet: str | None = None,
              coverage: float | None = None, changes: dict[str, int] | None = None,
              report: str = "") -> Path:
    """A committed run folder (results.json, report.html) as the runner writes them."""
    started = f"2026-11-{day:02d}T06:15:00Z"
    folder = out / notebook / profile / f"202611{day:02d}T061500Z"
    folder.mkdir(parents=True)
    results = {"notebook": notebook, "profile": profile, "started_at": started,
               "finished_at": started, "status": status, "fail_on": "high", "expected": None,
               "parameters": {}, "findings": findings or [],
               "metrics": {} if coverage is None else {"folder_share": coverage},
               "error": {"cell": 1, "ename": "E", "evalue": "x"} if status == "failed" else None,
               "fleet_run": fleet, **({"changes": changes} if changes else {})}
    (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
    (folder / "report.html").write_text(report or "<html></html>", encoding="utf-8")
    return folder


def day_of(run: dict[str, Any]) -> str:
    return str(run["run_dir"]).rsplit("/", 1)[1][:8]


def runs_of(out: Path) -> list[dict[str, Any]]:
    return json.loads((out / INDEX_JSON).read_text())["runs"]


def test_merging_runs_one_by_one_gives_what_a_rebuild_gives(tmp_path: Path) -> None:
    out = tmp_path / "out"
    made = [
        write_run(out, "audit", "acme", 3, findings=[finding("A", "high")], fleet="F1",
                  coverage=0.75, changes={"new": 1, "resolved": 0, "still_open": 0}),
        write_run(out, "audit", "acme", 1, status="failed"),  # an older run committed later
        write_run(out, "gap", "beta", 3, fleet="F1"),
        write_run(out, "gap", "beta", 4, findings=[finding("B", "low")],
                  changes={"new": 0, "resolved": 2, "still_open": 1}),
    ]
    for folder in made:
        index.update_index(out, folder)
    merged = runs_of(out)
    assert merged == index.collect_runs(out)
    index.rebuild_index(out)
    assert runs_of(out) == merged
    first = next(r for r in merged if r["run_dir"] == "audit/acme/20261103T061500Z")
    assert (first["new"], first["resolved"], first["still_open"]) == (1, 0, 0)
    assert first["fleet_run"] == "F1" and first["coverage"] == 0.75
    failed = next(r for r in merged if r["status"] == "failed")
    assert (failed["new"], failed["resolved"], failed["still_open"], failed["fleet_run"],
            failed["coverage"]) == (None, None, None, None, None)
    # Merging a run again replaces its entry; a run whose results.json went is dropped.
    index.update_index(out, made[0])
    assert runs_of(out) == merged
    (made[2] / "results.json").unlink()
    index.update_index(out, made[2])
    assert [r["run_dir"] for r in runs_of(out)] == [r["run_dir"] for r in merged
                                                    if r["run_dir"] != "gap/beta/20261103T061500Z"]


@pytest.mark.parametrize("order", [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 0, 4, 1, 3, 0]])
def test_a_fleet_runs_splice_gives_what_a_merge_gives_and_leaves_the_page(
        tmp_path: Path, order: list[int]) -> None:
    """In a fleet run only index.json changes, a line spliced in (the others not decoded);
    index.html is drawn once at the end. The result is the merge's, whatever the order."""
    out = tmp_path / "out"
    made = [write_run(out, "audit", "acme", day, fleet="F1") for day in (1, 2)]
    made += [write_run(out, "gap", "beta", day) for day in (1, 2)]
    made.append(write_run(out, "gap", "beta-2", 2, status="failed"))
    index.update_index(out, made[order[0]])  # the page exists, then the fleet's runs
    page = (out / index.INDEX_HTML).read_text()
    for i in order[1:]:
        index.update_index(out, made[i], redraw=False)
    assert (out / index.INDEX_HTML).read_text() == page  # not drawn again
    assert runs_of(out) == index.collect_runs(out)
    (out / index.INDEX_JSON).write_text('{"version": 1, "runs": []}')  # another version:
    index.update_index(out, made[0], redraw=False)  # merged the slow way, from the tree
    assert runs_of(out) == index.collect_runs(out)


@pytest.mark.parametrize("damage", ["missing", "unreadable", "older version"])
def test_an_index_json_that_cannot_be_trusted_is_rebuilt_from_the_tree(tmp_path: Path,
                                                                     damage: str) -> None:
    out = tmp_path / "out"
    old = write_run(out, "audit", "acme", 1)
    new = write_run(out, "audit", "acme", 2)
    if damage == "unreadable":
        (out / INDEX_JSON).write_text("{not json")
    elif damage == "older version":  # version 1 had no version field, nor these entries
        (out / INDEX_JSON).write_text(json.dumps({"generated_at": "", "runs": []}))
    index.update_index(out, new)
    assert [r["run_dir"] for r in runs_of(out)] == [
        new.relative_to(out).as_posix(), old.relative_to(out).as_posix()]
    assert json.loads((out / INDEX_JSON).read_text())["version"] == index.VERSION


def test_an_index_json_laid_out_by_hand_is_merged_into_all_the_same(tmp_path: Path) -> None:
    out = tmp_path / "out"
    old = write_run(out, "audit", "acme", 1)
    index.rebuild_index(out)
    document = json.loads((out / INDEX_JSON).read_text())
    (out / INDEX_JSON).write_text(json.dumps(document, indent=4))  # one key per line
    index.update_index(out, write_run(out, "audit", "acme", 2))
    assert runs_of(out) == index.collect_runs(out) and len(runs_of(out)) == 2
    assert old.relative_to(out).as_posix() == runs_of(out)[1]["run_dir"]


def test_a_pairs_history_is_its_own_runs_oldest_first_then_this_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    tricky = 'ac"me, "profile": "x'  # a profile whose name looks like the next key
    for day in (1, 2, 3):
        write_run(out, "audit", tricky, day, findings=[finding("A", "high")] * day)
        write_run(out, "audit", "x", day)
        write_run(out, "gap", tricky, day)
    index.rebuild_index(out)
    this = {"notebook": "audit", "profile": tricky, "started_at": "2026-11-04T06:15:00Z",
            "status": "ok", "findings": []}
    history = index.pair_history(out, this)
    assert [(h["profile"], h["notebook"], h["started_at"][:10]) for h in history] == [
        (tricky, "audit", f"2026-11-0{d}") for d in (1, 2, 3, 4)]
    assert [h["findings"]["high"] for h in history] == [1, 2, 3, 0]
    (out / INDEX_JSON).write_text("{}")  # nothing to trust: only this run
    assert [h["started_at"] for h in index.pair_history(out, this)] == [this["started_at"]]


def test_a_writer_waits_for_the_lock(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = write_run(out, "audit", "acme", 1)
    index.update_index(out, first)
    second = write_run(out, "audit", "acme", 2)
    with index.locked(out):
        writer = threading.Thread(target=index.update_index, args=(out, second))
        writer.start()
        writer.join(0.5)
        assert writer.is_alive()  # blocked on the lock, not finished
        assert len(runs_of(out)) == 1
    writer.join(30)
    assert not writer.is_alive() and len(runs_of(out)) == 2


def test_runs_finishing_together_are_all_merged(tmp_path: Path) -> None:
    out = tmp_path / "out"
    index.update_index(out, write_run(out, "audit", "seed", 1))
    folders = [write_run(out, "audit", f"t{i:02d}", 2) for i in range(12)]
    barrier = threading.Barrier(len(folders))

    def finish(folder: Path) -> None:
        barrier.wait()
        index.update_index(out, folder)

    writers = [threading.Thread(target=finish, args=(f,)) for f in folders]
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
    assert len(runs_of(out)) == 13 and runs_of(out) == index.collect_runs(out)


def test_index_html_stays_bounded_and_index_json_keeps_every_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for day in range(1, 29):
        for tenant in ("acme", "beta", "gamma", "delta"):
            write_run(out, "audit", tenant, day, fleet=f"F{day:02d}",
                      findings=[finding("A", "high")] * (day % 3))
    write_run(out, "gap", "acme", 29)  # a run on its own, the newest
    page = index.rebuild_index(out).read_text()
    tables = Tables(page).tables
    assert len(runs_of(out)) == 28 * 4 + 1
    assert len(tables[0]) == 5  # the latest of each pair
    assert len(tables[1]) == index.RECENT_RUNS
    assert "(13 older runs are listed in index.json)" in page
    # The newest groups: the lone run, then the last fleet runs, whole.
    groups = tables[2:]
    assert len(groups) == index.FLEET_RUNS
    assert [len(g) for g in groups] == [1, 4, 4, 4, 4]
    assert "a run on its own" in page and "fleet run <code>F28</code>" in page
    assert "F24</code>" not in page
    # Twice the runs, the same page but for the counts in it.
    for day in range(1, 29):
        write_run(out, "audit", "epsilon", day, fleet=f"F{day:02d}")
    assert len(index.rebuild_index(out).read_text()) < len(page) * 1.5


def test_trends_sum_the_latest_run_of_each_notebook_and_skip_failed_runs() -> None:
    runs = [
        {"notebook": "audit", "started_at": "2026-11-01", "status": "ok",
         "findings": {"high": 2}, "coverage": 0.5},
        {"notebook": "gap", "started_at": "2026-11-02", "status": "findings",
         "findings": {"high": 1, "low": 3}, "coverage": None},
        {"notebook": "audit", "started_at": "2026-11-03", "status": "failed",
         "findings": {"critical": 9}, "coverage": 0.1},
        {"notebook": "audit", "started_at": "2026-11-04", "status": "ok",
         "findings": {}, "coverage": 0.9},
    ]
    points = trends.history(runs)
    assert [(p.counts["high"], p.counts["low"], p.counts["critical"]) for p in points] == [
        (2, 0, 0), (3, 3, 0), (1, 3, 0)]
    assert [p.coverage for p in points] == [0.5, None, 0.9]
    svg = trends.trend_html(points, "acme")
    assert svg.count('data-trend="severity"') == 1 and svg.count('data-trend="coverage"') == 1
    assert 'data-series="high"' in svg and 'data-series="low"' in svg
    assert 'data-series="critical"' not in svg  # only from the failed run
    assert "coverage (now 90%)" in svg
    assert trends.coverage_chart(points[1:2], "x") == ""


def test_index_html_draws_trends_per_tenant_and_filters_offline(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for day in (1, 2, 3):
        write_run(out, "audit", "acme", day, coverage=0.2 * day,
                  findings=[finding("A", "high")] * day)
        write_run(out, "audit", "<b>beta", day, status="findings" if day < 3 else "ok",
                  findings=[finding("B", "critical")] if day < 3 else [])
    page = index.rebuild_index(out).read_text()
    assert page.count('class="opskit-tenant"') == 2
    assert 'data-tenant="acme"' in page and 'data-tenant="&lt;b&gt;beta"' in page
    assert page.count('data-trend="coverage"') == 1 and "<b>beta" not in page
    assert "<script src" not in page and "http" not in page.split("<script>")[1]


def test_a_reports_trend_is_its_pairs_history_from_the_index(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    with days_apart(monkeypatch, FIRST_DAY):
        first = runner.run_notebook(NOTEBOOKS / "trend.ipynb", out_dir=out,
                                    parameters={"high": 1})
        second = runner.run_notebook(NOTEBOOKS / "trend.ipynb", out_dir=out,
                                     parameters={"high": 3, "coverage": 0.5})
    assert 'data-trend="severity"' not in first.report.read_text()  # one run: no trend
    page = second.report.read_text()
    assert page.count('data-trend="severity"') == 1 and "the last 2 runs" in page
    assert "coverage (now 50%)" in page
    entry = runs_of(out)[0]
    assert entry["findings"]["high"] == 3 and entry["coverage"] == 0.5
    assert entry["started_at"] == "2026-11-02T06:15:00Z"


# --- retention ----------------------------------------------------------------------------

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def open_finding(code: str, first_seen: str) -> dict[str, Any]:
    return {**finding(code, "high"), "first_seen": first_seen, "change": "still open"}


def test_prune_keeps_the_latest_and_the_first_sighting_of_what_is_still_open(
        tmp_path: Path) -> None:
    out = tmp_path / "out"
    for day in range(1, 11):
        write_run(out, "audit", "acme", day,
                  findings=[open_finding("OPEN", "2026-11-03T06:15:00Z")] if day >= 3 else [])
    write_run(out, "gap", "acme", 1)  # alone in its pair: the latest, kept
    index.rebuild_index(out)
    planned = retention.plan(out, keep_runs=2, keep_days=None, now=NOW)
    assert sorted(day_of(r) for r in planned.remove) == [
        f"202611{d:02d}" for d in (1, 2, 4, 5, 6, 7, 8)]
    assert planned.protected == {"audit/acme/20261103T061500Z": "first saw OPEN (still open)"}
    assert planned.kept == 4
    assert len(list(out.glob("*/*/*/results.json"))) == 11  # a plan touches nothing
    retention.apply(out, planned)
    left = sorted(r["run_dir"] for r in runs_of(out))
    assert left == sorted(p.parent.relative_to(out).as_posix()
                          for p in out.glob("*/*/*/results.json"))
    assert len(left) == 4


def test_prune_by_age_and_a_first_sighting_before_runs_were_compared(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for day in range(1, 8):  # OLD appears on day 2, gone on day 4 (resolved), back from day 5
        present = day in (2, 3) or day >= 5
        write_run(out, "audit", "acme", day, status="failed" if day == 6 else "ok",
                  findings=[finding("OLD", "high")] if present and day != 6 else [])
    planned = retention.plan(out, keep_runs=None, keep_days=26, now=NOW)  # from the 5th
    # Day 5 began the streak still open (day 6 failed: it neither breaks nor holds it).
    assert planned.protected == {}
    assert [day_of(r) for r in planned.remove] == [
        "20261104", "20261103", "20261102", "20261101"]
    planned = retention.plan(out, keep_runs=1, keep_days=None, now=NOW)
    assert planned.protected == {"audit/acme/20261105T061500Z": "first saw OLD (still open)"}


def test_prune_removes_shared_files_no_kept_report_links(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "_static").mkdir(parents=True)
    two_hours_ago = time.time() - 7200
    for name in ("plotly-1.min.js", "plotly-2.min.js", "plotly-3.min.js"):
        (out / "_static" / name).write_text("//")
        os.utime(out / "_static" / name, (two_hours_ago, two_hours_ago))
    # Written just now, linked by no report yet: a run being written may be about to link it.
    (out / "_static" / "plotly-3.min.js").touch()
    write_run(out, "audit", "acme", 1, report='<script src="../../../_static/plotly-1.min.js">')
    write_run(out, "audit", "acme", 2, report='<script src="../../../_static/plotly-2.min.js">')
    planned = retention.plan(out, keep_runs=1, keep_days=None, now=NOW)
    assert [p.name for p in planned.unused_static] == ["plotly-1.min.js"]
    retention.apply(out, planned)
    assert sorted(p.name for p in (out / "_static").iterdir()) == [
        "plotly-2.min.js", "plotly-3.min.js"]


def test_cli_prune_is_a_dry_run_unless_applied(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    for day in (1, 2, 3):
        write_run(out, "audit", "acme", day)
    assert cli.main(["prune", str(out)]) == 2
    assert "say what to keep with --keep-runs N" in capsys.readouterr().err
    assert cli.main(["prune", str(out), "--keep-runs", "2"]) == 0
    said = capsys.readouterr().out
    assert "would remove: audit/acme/20261101T061500Z" in said and "add --apply" in said
    assert len(list(out.glob("*/*/*"))) == 3
    assert cli.main(["prune", str(out), "--keep-runs", "2", "--apply"]) == 0
    assert "removed 1 run(s)" in capsys.readouterr().out
    assert len(list(out.glob("*/*/*"))) == 2 and len(runs_of(out)) == 2
    assert cli.main(["prune", str(tmp_path / "nowhere"), "--keep-days", "3"]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_cli_index_redraws_or_rebuilds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    index.update_index(out, write_run(out, "audit", "acme", 1))
    write_run(out, "audit", "acme", 2)  # on disk, not merged
    assert cli.main(["index", str(out)]) == 0
    assert len(runs_of(out)) == 1 and (out / INDEX_HTML).is_file()
    assert cli.main(["index", str(out), "--rebuild"]) == 0
    assert len(runs_of(out)) == 2
    assert capsys.readouterr().out.splitlines() == [f"index: {out / INDEX_HTML}"] * 2
