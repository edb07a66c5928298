"""Status at a glance: in the index and the report header, a badge that says the worst
severity (or that the run could not run), the latest runs in the order they need attention, and
rehearsals marked with the code they exist to give; built in-process from hand-made
results.json files. Then small texts: no bare header row, names as people read them."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from opskit._run.html import run_header
from opskit._run.index import rebuild_index
from opskit.config import parse_profile
from opskit.errors import ConfigError
from opskit.findings import Finding
from opskit.groupgap import GroupSource, group_gap
from opskit.report.findings import findings_styled

from .test_groupgap import source


class Tables(HTMLParser):
    """Each table's body rows: per cell, its text and the classes of the badge in it."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: list[list[list[dict[str, Any]]]] = []
        self.headings: list[str] = []
        self._cell: dict[str, Any] | None = None
        self._in_body = self._in_h = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "tbody":
            self.tables.append([])
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.tables[-1].append([])
        elif tag == "td" and self._in_body:
            self._cell = {"text": "", "badge": None, "classes": []}
            self.tables[-1][-1].append(self._cell)
        elif tag == "span" and self._cell is not None:
            self._cell["classes"] += classes
            if "badge" in classes:
                self._cell["badge"] = [c for c in classes if c != "badge"]
        elif tag in ("h1", "h2"):
            self._in_h = True
            self.headings.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag == "td":
            self._cell = None
        elif tag in ("h1", "h2"):
            self._in_h = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell["text"] += data
        if self._in_h:
            self.headings[-1] += data


def finding(code: str, severity: str) -> dict[str, str]:
    return {"code": code, "severity": severity, "subject": "s", "message": "m",
            "remediation": "r"}


def write_run(out: Path, notebook: str, profile: str, started: str, *,
              findings: list[dict[str, str]] | None = None, status: str | None = None,
              expected: str | None = None) -> None:
    """A committed run folder holding only results.json, as the runner writes it."""
    folder = out / notebook / profile / started.replace(":", "")
    folder.mkdir(parents=True)
    findings = findings or []
    if status is None:
        status = "findings" if any(f["severity"] in ("critical", "high") for f in findings) \
            else "ok"
    results = {"notebook": notebook, "profile": profile, "started_at": started,
               "finished_at": started, "status": status, "fail_on": "high",
               "expected": expected, "parameters": {}, "findings": findings,
               "metrics": {},
               "error": {"cell": 2, "ename": "ScimError", "evalue": "boom"}
               if status == "failed" else None}
    (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")


def latest_rows(out: Path) -> list[dict[str, Any]]:
    """The latest-runs table: notebook, profile, badge text and class, the whole status cell."""
    page = Tables(rebuild_index(out).read_text(encoding="utf-8"))
    return [{"notebook": row[1]["text"], "profile": row[2]["text"],
             "badge": row[3]["badge"], "status": row[3]["text"]} for row in page.tables[0]]


T = "2026-01-0{}T10:00:00Z"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    write_run(out, "audit", "acme", T.format(1), findings=[finding("A", "critical")])
    write_run(out, "audit", "beta", T.format(1), findings=[finding("B", "high")])
    # Judged "ok" against fail_on = high, but a medium finding is not nothing.
    write_run(out, "gap", "acme", T.format(2), findings=[finding("C", "medium"),
                                                          finding("D", "info")])
    write_run(out, "gap", "beta", T.format(2), findings=[finding("D", "info")])
    write_run(out, "token", "acme", T.format(3))
    write_run(out, "token", "beta", T.format(3), status="failed")
    write_run(out, "onboard", "acme", T.format(4), findings=[finding("E", "low")])
    return out


def test_the_badge_says_the_worst_severity_each_in_its_own_colour(out: Path) -> None:
    badges = {(r["notebook"], r["profile"]): (r["status"], r["badge"])
              for r in latest_rows(out)}
    assert badges == {
        ("audit", "acme"): ("critical", ["critical"]), ("audit", "beta"): ("high", ["high"]),
        ("gap", "acme"): ("medium", ["medium"]), ("onboard", "acme"): ("low", ["low"]),
        # Info is nothing to fix, but not nothing found: its own badge, not "ok".
        ("gap", "beta"): ("info", ["info"]), ("token", "acme"): ("ok", ["ok"]),
        ("token", "beta"): ("could not run", ["cannot-run"])}
    page = rebuild_index(out).read_text(encoding="utf-8")
    colours = {line.split("{")[0].strip() for line in page.splitlines()
               if line.startswith(".opskit .badge.")}
    assert colours >= {f".opskit .badge.{c}" for c in ("critical", "high", "medium", "low",
                                                       "info", "ok", "cannot-run")}
    entries = json.loads((out / "index.json").read_text())["runs"]
    assert {e["worst"] for e in entries} == {"critical", "high", "medium", "low", "info", "ok",
                                             "could not run"}


def test_latest_runs_come_in_the_order_they_need_attention(out: Path) -> None:
    write_run(out, "audit", "acme", T.format(0), status="failed")  # older: not the latest
    order = [(r["notebook"], r["profile"]) for r in latest_rows(out)]
    assert order == [("token", "beta"), ("audit", "acme"), ("audit", "beta"),
                     ("gap", "acme"), ("onboard", "acme"), ("gap", "beta"), ("token", "acme")]
    page = Tables((out / "index.html").read_text(encoding="utf-8"))
    started = [row[0]["text"] for row in page.tables[1]]
    assert started == sorted(started, reverse=True) and len(started) == 8
    assert "5 needing attention" in (out / "index.html").read_text(encoding="utf-8")


def test_two_runs_alike_are_ordered_by_tenant_then_notebook(tmp_path: Path) -> None:
    for notebook, profile in [("b", "zeta"), ("a", "zeta"), ("b", "alpha"), ("a", "alpha")]:
        write_run(tmp_path, notebook, profile, T.format(1), findings=[finding("A", "high")])
    assert [(r["profile"], r["notebook"]) for r in latest_rows(tmp_path)] == [
        ("alpha", "a"), ("alpha", "b"), ("zeta", "a"), ("zeta", "b")]


def test_a_rehearsal_is_marked_with_the_code_it_expects(out: Path) -> None:
    write_run(out, "token", "rehearsal-wrong-secret", T.format(5),
              findings=[finding("TOKEN_INVALID_CLIENT", "critical")],
              expected="TOKEN_INVALID_CLIENT")
    # A rehearsal that did not give its code did not rehearse: that needs attention.
    write_run(out, "onboard", "rehearsal-no-folder", T.format(5),
              findings=[finding("NO_VISIBLE_SECRETS", "high")], expected="NO_VISIBLE_FOLDERS")
    rows = latest_rows(out)
    by_profile = {r["profile"]: r for r in rows}
    met, missed = by_profile["rehearsal-wrong-secret"], by_profile["rehearsal-no-folder"]
    assert "rehearsal: expected TOKEN_INVALID_CLIENT (given)" in met["status"]
    assert met["badge"] == ["critical"]  # the badge stays honest
    assert "rehearsal: expected NO_VISIBLE_FOLDERS (NOT given" in missed["status"]
    assert "rehearsal" not in by_profile["acme"]["status"]
    # A rehearsal that went as expected needs nobody: after every real run; one that did not
    # stands with the runs of its severity.
    assert [(r["notebook"], r["profile"]) for r in rows] == [
        ("token", "beta"), ("audit", "acme"), ("audit", "beta"), ("onboard", "rehearsal-no-folder"),
        ("gap", "acme"), ("onboard", "acme"), ("gap", "beta"), ("token", "acme"),
        ("token", "rehearsal-wrong-secret")]
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "6 needing attention" in page
    entry = next(e for e in json.loads((out / "index.json").read_text())["runs"]
                 if e["profile"] == "rehearsal-wrong-secret")
    assert entry["expected"] == "TOKEN_INVALID_CLIENT" and entry["expected_found"] is True


def test_a_rehearsal_that_gave_its_code_then_failed_still_needs_attention(out: Path) -> None:
    # Its findings were recorded, then a later cell raised: the run failed, whatever it found.
    write_run(out, "token", "rehearsal-wrong-secret", T.format(5), status="failed",
              findings=[finding("TOKEN_INVALID_CLIENT", "critical")],
              expected="TOKEN_INVALID_CLIENT")
    rows = latest_rows(out)
    # With the other run that could not run, before every run that did.
    assert [(r["notebook"], r["profile"]) for r in rows[:2]] == [
        ("token", "beta"), ("token", "rehearsal-wrong-secret")]
    assert "6 needing attention" in (out / "index.html").read_text(encoding="utf-8")  # 5 + it


def header(findings: list[dict[str, str]], status: str = "ok",
           expected: str | None = None) -> Tables:
    results = {"notebook": "audit", "profile": "acme", "status": status,
               "started_at": T.format(1), "finished_at": T.format(1), "fail_on": "high",
               "expected": expected, "parameters": {}, "findings": findings,
               "error": {"cell": 1, "ename": "E", "evalue": "x"} if status == "failed"
               else None}
    return Tables(run_header(results, notes=[]))


@pytest.mark.parametrize(("findings", "status", "badge"), [
    ([finding("A", "critical"), finding("B", "high")], "findings", "critical"),
    ([finding("B", "high")], "findings", "high"),
    ([finding("C", "medium")], "ok", "medium"),
    ([], "ok", "ok"),
    ([], "failed", "could not run"),
])
def test_the_report_header_wears_the_same_badge(findings: list[dict[str, str]], status: str,
                                                badge: str) -> None:
    [title] = header(findings, status).headings
    assert title == f"audit {badge}"


def test_the_report_header_says_what_a_rehearsal_expects() -> None:
    html = run_header({"notebook": "token_check", "profile": "rehearsal-wrong-scope",
                       "status": "findings", "started_at": T.format(1),
                       "finished_at": T.format(1), "fail_on": "high",
                       "expected": "TOKEN_INVALID_SCOPE", "parameters": {},
                       "findings": [finding("TOKEN_INVALID_SCOPE", "critical")],
                       "error": None}, notes=[])
    assert "<dt>rehearsal</dt>" in html and "TOKEN_INVALID_SCOPE</code> (given)" in html
    assert "rehearsal" not in run_header({"notebook": "a", "profile": "p", "status": "ok",
                                          "started_at": "", "finished_at": "", "findings": []},
                                         notes=[])


def test_a_profile_names_the_code_its_runs_are_meant_to_give() -> None:
    cloud = {"kind": "cloud", "tenant": "acme", "client_id": "svc", "client_secret": "env:X"}
    assert parse_profile("r", {**cloud, "expect": "TOKEN_INVALID_CLIENT"}).expect == \
        "TOKEN_INVALID_CLIENT"
    assert parse_profile("p", cloud).expect is None
    # A rehearsal profile expects its rehearsal's code unless it says otherwise.
    assert parse_profile("r", {"kind": "sandbox", "rehearsal": "no-folder"}).expect == \
        "NO_VISIBLE_FOLDERS"
    with pytest.raises(ConfigError, match=r"profiles\.r\.expect is 'NOPE', not a finding code"):
        parse_profile("r", {**cloud, "expect": "NOPE"})


# --- small texts ------------------------------------------------------------------------------

def test_no_findings_is_said_not_shown_as_a_bare_header_row() -> None:
    empty = findings_styled([])
    assert empty._repr_markdown_() == "*No findings.*"
    assert "<th" in findings_styled([Finding("X", "high", "s", "m", "r")]).to_html()


def groups(system: str, *names: str) -> GroupSource:
    return source(system, [(n, n, None) for n in names])


def test_a_name_with_a_backslash_is_shown_as_people_write_it() -> None:
    report = group_gap(groups("Platform", "Operations"), iga=groups("IGA", "ACME\\Operations"),
                       secret_server=groups("Secret Server", "Operations", "ACME\\Legacy"))
    messages = {f.code: f.message for f in report.findings}
    assert "the IGA's name 'ACME\\Operations' matches Platform group 'Operations'" in \
        messages["GROUP_NAME_MISMATCH"]
    assert "Secret Server group 'ACME\\Legacy' is not" in messages["GROUP_ONLY_IN_SECRET_SERVER"]
    assert not any("\\\\" in m for m in messages.values())
    html = findings_styled(report.findings).to_html()
    assert "ACME\\Operations" in html and "ACME\\\\" not in html  # escaped once, as HTML
    # A control character still shows as an escape: nothing hides in a message.
    hidden = group_gap(groups("Platform"), secret_server=groups("Secret Server", "Ops\u202e"))
    assert "'Ops\\u202e'" in hidden.findings[0].message
