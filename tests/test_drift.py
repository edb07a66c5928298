"""What changed since the last run (opskit._run.drift): findings matched across runs, the
baseline found among a pair's run folders, and the report's "Since the last run" section.
In-process: the kernel is not the question here (test_demo runs the real thing)."""

from __future__ import annotations

import csv
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import pytest

from opskit._run import drift, engine
from opskit._run.html import run_header, since_last_run
from opskit.report.record import RECORD_FILE, RUN_DIR_ENV
from opskit.report.results import CSV_FIELDS
from opskit.runner import run_notebook

NOTEBOOKS = Path(__file__).parent / "notebooks"
T0, T1, T2 = "2026-12-01T06:00:00Z", "2026-12-02T06:00:00Z", "2026-12-03T06:00:00Z"


def f(code: str, subject: str, message: str = "m", severity: str = "high") -> dict[str, Any]:
    return {"code": code, "severity": severity, "subject": subject, "message": message,
            "remediation": "r"}


def write_run(pair: Path, stamp: str, findings: list[dict[str, Any]], *,
              status: str = "findings", started_at: str = T0) -> Path:
    folder = pair / stamp
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(
        {"status": status, "started_at": started_at, "findings": findings}))
    return folder


# --------------------------------------------------------------------------- matching
def test_first_run_every_finding_is_new() -> None:
    got = drift.compare([f("A", "x"), f("B", "y")], None, started_at=T1)
    assert [(g["change"], g["first_seen"]) for g in got["findings"]] == [("new", T1)] * 2
    assert got["resolved"] == [] and got["previous_run"] is None
    assert got["changes"] == {"new": 2, "resolved": 0, "still_open": 0}


def test_new_resolved_and_still_open_by_code_and_subject() -> None:
    before = drift.Baseline("nb/p/20261201T060000Z", T0, [
        {**f("A", "x"), "first_seen": "2026-11-01T00:00:00Z", "change": "still open"},
        {**f("B", "gone"), "first_seen": T0, "change": "new"}])
    # The same code on another subject is another finding; a new message is the same one.
    now = [f("A", "x", message="reworded"), f("A", "other"), f("C", "gone")]
    got = drift.compare(now, before, started_at=T1)
    assert [(g["code"], g["subject"], g["change"], g["first_seen"]) for g in got["findings"]] == [
        ("A", "x", "still open", "2026-11-01T00:00:00Z"),  # carried over, not T0
        ("A", "other", "new", T1), ("C", "gone", "new", T1)]
    assert got["findings"][0]["message"] == "reworded"  # this run's own words
    assert got["resolved"] == [{**f("B", "gone"), "first_seen": T0, "change": "resolved"}]
    assert got["previous_run"] == {"run_dir": "nb/p/20261201T060000Z", "started_at": T0}
    assert got["changes"] == {"new": 2, "resolved": 1, "still_open": 1}


def test_a_failed_run_resolves_nothing_and_says_it_did_not_check() -> None:
    before = drift.Baseline("nb/p/20261201T060000Z", T0, [f("A", "x"), f("B", "y")])
    got = drift.compare([f("A", "x")], before, started_at=T1, complete=False)
    assert [(g["code"], g["change"]) for g in got["findings"]] == [("A", "still open")]
    assert got["resolved"] == []  # B may still be there: the run stopped before looking
    assert got["changes"] == {"new": 0, "resolved": None, "still_open": 1}
    text = words(parsed(since_last_run(got)))
    assert "resolved not checked (the run failed before it finished)" in text
    assert "Resolved" not in text.replace("resolved not checked", "")
    finished = drift.compare([f("A", "x")], before, started_at=T1)
    assert finished["changes"]["resolved"] == 1  # the same run, finished, resolves B


def test_repeated_pairs_are_matched_by_occurrence() -> None:
    before = drift.Baseline("nb/p/s", T0, [{**f("A", "x", "one"), "first_seen": "first"},
                                           {**f("A", "x", "two"), "first_seen": "second"}])
    fewer = drift.compare([f("A", "x")], before, started_at=T1)
    assert [g["first_seen"] for g in fewer["findings"]] == ["first"]
    assert [(r["message"], r["first_seen"]) for r in fewer["resolved"]] == [("two", "second")]
    more = drift.compare([f("A", "x")] * 3, before, started_at=T1)
    assert [(g["change"], g["first_seen"]) for g in more["findings"]] == [
        ("still open", "first"), ("still open", "second"), ("new", T1)]
    assert more["changes"] == {"new": 1, "resolved": 0, "still_open": 2}


def test_a_baseline_without_first_seen_dates_its_findings_by_its_start() -> None:
    """A run written before drift existed: its findings were first seen when it started."""
    before = drift.Baseline("nb/p/s", T0, [f("A", "x"), f("B", "y")])
    got = drift.compare([f("A", "x")], before, started_at=T1)
    assert got["findings"][0]["first_seen"] == T0
    assert got["resolved"][0]["first_seen"] == T0


# --------------------------------------------------------------------------- the baseline
def test_previous_run_is_the_latest_earlier_one_that_did_not_fail(tmp_path: Path) -> None:
    pair = tmp_path / "permission_audit" / "acme"
    write_run(pair, "20261201T060000Z", [f("OLD", "x")], started_at=T0)
    write_run(pair, "20261202T060000Z", [f("A", "x")], started_at=T1)
    write_run(pair, "20261202T060000Z-2", [f("B", "x")], started_at=T1)  # same second, later
    write_run(pair, "20261202T070000Z", [], status="failed")  # not a baseline
    (pair / "20261202T080000Z").mkdir()  # no results.json (being removed): skipped
    write_run(pair, "20261204T060000Z", [f("LATER", "x")])  # started after this run
    (pair / ".20261203T060000Z.1.ab.partial").mkdir()  # this run's own, hidden
    write_run(tmp_path / "permission_audit" / "other", "20261202T230000Z", [f("O", "x")])
    got = drift.previous_run(pair, "20261203T060000Z")
    assert got == drift.Baseline("permission_audit/acme/20261202T060000Z-2", T1, [f("B", "x")])
    assert drift.previous_run(pair, "20261201T050000Z") is None
    assert drift.previous_run(tmp_path / "never" / "ran", "20261203T060000Z") is None


# --------------------------------------------------------------------------- the report
class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.hrefs: list[str] = []
        self.ids: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        attr = dict(attrs)
        self.hrefs += [attr["href"] or ""] if "href" in attr else []
        self.ids += [attr["id"] or ""] if "id" in attr else []

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def words(page: _Text) -> str:
    return " ".join(" ".join(page.text).split())


def parsed(html: str) -> _Text:
    p = _Text()
    p.feed(html)
    return p


def test_report_section_counts_links_and_lists_each_change() -> None:
    hostile = '<img src=x onerror="alert(1)">'
    results = drift.compare(
        [f("NEW_ONE", hostile), f("KEPT", "still-here")],
        drift.Baseline("group_gap_report/acme/20261201T060000Z", T0,
                       [{**f("KEPT", "still-here"), "first_seen": "2026-11-01T00:00:00Z"},
                        f("FIXED", "fixed-subject")]), started_at=T1)
    page = parsed(since_last_run(results))
    text = words(page)
    assert "1 new · 1 resolved · 1 still open since the run of 2026-12-01 06:00:00 UTC" in text
    assert page.hrefs == ["../20261201T060000Z/report.html"]
    assert "img" not in page.tags and hostile in text  # shown as text
    new, resolved = text.split("New", 1)[1].split("Resolved", 1)
    assert "NEW_ONE" in new and "FIXED" not in new and "KEPT" not in new
    assert "FIXED" in resolved.split("Still open")[0] and "NEW_ONE" not in resolved
    assert "Still open (1)" in text and "2026-11-01 00:00:00 UTC" in text
    assert page.ids == ["since-last-run"]  # no name of anything in an anchor


def test_report_section_of_a_first_run_says_there_was_nothing_to_compare() -> None:
    results = {"notebook": "token_check", "profile": "acme", "status": "ok",
               "started_at": T1, "finished_at": T1, "findings": [], "parameters": {},
               **{k: v for k, v in drift.compare([], None, started_at=T1).items()
                  if k != "findings"}}
    header = run_header(results, [])
    assert "No earlier run of this notebook and profile to compare with" in header
    assert "Since the last run" in header and "still open" not in header.lower()
    assert since_last_run({"findings": []}) == ""  # a run from before drift: nothing to say


# --------------------------------------------------------------------------- the runner
@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[list[dict[str, Any]]]:
    """The runner with the kernel replaced by a hand-off of the findings queued here (the
    kernel's part is tested elsewhere; here: what the runner writes from what it was given)."""
    queue: list[list[dict[str, Any]]] = []

    def execute(notebook: Path, *, env: dict[str, str], **_: Any) -> engine.Execution:
        Path(env[RUN_DIR_ENV], RECORD_FILE).write_text(
            json.dumps({"findings": queue.pop(0), "metrics": {}}))
        return engine.Execution(nbformat.read(notebook, as_version=4), None, 0.0)

    monkeypatch.setattr(engine, "execute", execute)
    return queue


def test_runner_writes_drift_into_results_csv_and_report(tmp_path: Path,
                                                         recorded: list[Any]) -> None:
    out = tmp_path / "out"
    recorded += [[f("A", "x"), f("B", "gone")], [f("A", "x"), f("C", "=new()")]]
    first = run_notebook(NOTEBOOKS / "findings.ipynb", out_dir=out, update_index=False)
    second = run_notebook(NOTEBOOKS / "findings.ipynb", out_dir=out, update_index=False)
    assert first.results["previous_run"] is None
    assert first.results["changes"] == {"new": 2, "resolved": 0, "still_open": 0}
    results = json.loads((second.run_dir / "results.json").read_text())
    assert results["previous_run"] == {
        "run_dir": f"findings/sandbox/{first.run_dir.name}",
        "started_at": first.results["started_at"]}
    assert [(x["code"], x["change"], x["first_seen"]) for x in results["findings"]] == [
        ("A", "still open", first.results["started_at"]),
        ("C", "new", second.results["started_at"])]
    assert [x["code"] for x in results["resolved"]] == ["B"]
    assert results["changes"] == {"new": 1, "resolved": 1, "still_open": 1}
    with (second.run_dir / "findings.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(CSV_FIELDS)
    assert [(r["code"], r["subject"], r["change"], r["first_seen"]) for r in rows] == [
        ("A", "x", "still open", first.results["started_at"]),
        ("C", "'=new()", "new", second.results["started_at"])]
    page = (second.run_dir / "report.html").read_text()
    assert f'href="../{first.run_dir.name}/report.html"' in page
    assert "1 new · 1 resolved · 1 still open since the run of" in words(parsed(page))
