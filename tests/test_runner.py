"""The runner and the report pipeline, with real papermill runs of tests/notebooks/*.ipynb.

The notebooks there are built by tests/notebooks/build.py: one records a finding of each listed
severity, one raises, one shows a plotly figure, one has only its parameters cell, one leaks its
profile's secret and a token, one reaches its profile's tenant over HTTP.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from html import unescape
from pathlib import Path
from typing import Any

import jsonschema
import nbformat
import pytest

from opskit import runner
from opskit._redact import MASK, remember
from opskit._run import engine, files, html, params
from opskit._run.fleet import TenantOutcome, summary_table, worst
from opskit._run.outputs import redact_notebook
from opskit.errors import ConfigError, ParameterError, RunError, SecretParameterError
from opskit.findings import SEVERITIES
from opskit.runner import RunResult, run_notebook
from opskit.sandbox.serve import RunningSandbox, bind

from .notebooks.build import CODE_MARKER, FAKE_JWT

NOTEBOOKS = Path(__file__).parent / "notebooks"
SECRET = "s3cr3t-Value-for-the-leak-test"
FINDINGS_NB, FAILS_NB, FIGURE_NB = (NOTEBOOKS / f"{n}.ipynb" for n in ("findings", "fails",
                                                                          "figure"))
EMPTY_NB, LEAKY_NB, REACH_NB = (NOTEBOOKS / f"{n}.ipynb" for n in ("empty", "leaky", "reach"))
FINDING_FIELDS = ["code", "severity", "subject", "message", "remediation"]
DRIFT_FIELDS = ["change", "first_seen"]  # since the last run (test_drift)
RESULTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["notebook", "profile", "started_at", "finished_at", "status", "parameters",
                 "findings", "metrics"],
    "properties": {
        "notebook": {"type": "string"}, "profile": {"type": "string"},
        "started_at": {"type": "string"}, "finished_at": {"type": "string"},
        "status": {"enum": ["ok", "findings", "failed"]},
        "fail_on": {"enum": list(SEVERITIES)},
        "expected": {"type": ["string", "null"]},
        "parameters": {"type": "object"},
        "findings": {"type": "array", "items": {
            "type": "object", "required": [*FINDING_FIELDS, *DRIFT_FIELDS],
            "additionalProperties": False,
            "properties": {**{k: {"type": "string"} for k in FINDING_FIELDS},
                           "severity": {"enum": list(SEVERITIES)},
                           "change": {"enum": ["new", "still open"]},
                           "first_seen": {"type": "string"}}}},
        "metrics": {"type": "object"},
        "error": {"oneOf": [{"type": "null"}, {
            "type": "object", "required": ["cell", "ename", "evalue"]}]},
    },
}
# A script or stylesheet fetched from anywhere: a report must render with no network.
EXTERNAL = re.compile(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*[\"']?(https?:)?//",
                      re.I)


pytestmark = pytest.mark.slow  # notebook runs


def write_config(path: Path, unchecked: tuple[str, ...] = (), **tenants: str) -> Path:
    """An opskit.toml with cloud profiles pointing at the given URLs; those ``unchecked``
    names turn TLS checks off (verify = false)."""
    tables = [f'[profiles.{name}]\nkind = "cloud"\ntenant = "{url}"\n'
              f'client_id = "scim@example.com"\nclient_secret = "env:OPSKIT_TEST_SECRET"\n'
              + ("verify = false\n" if name in unchecked else "")
              for name, url in tenants.items()]
    path.write_text("\n".join(tables))
    return path


def closed_port_url() -> str:
    sock = bind()
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there any more
    return f"http://127.0.0.1:{port}"


class Runs:
    def __init__(self, out: Path, results: dict[str, RunResult]):
        self.out = out
        self.by_name = results

    def __getitem__(self, name: str) -> RunResult:
        return self.by_name[name]

    def results_json(self, name: str) -> dict[str, Any]:
        return json.loads((self[name].run_dir / "results.json").read_text())

    def report(self, name: str) -> str:
        return self[name].report.read_text()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    """Six runs into one output folder, shared by the tests that read what they wrote."""
    out = tmp_path_factory.mktemp("out")
    config = write_config(tmp_path_factory.mktemp("config") / "opskit.toml",
                          unchecked=("leaky",), leaky=closed_port_url())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPSKIT_CONFIG", str(config))
        mp.setenv("OPSKIT_TEST_SECRET", SECRET)
        results = {
            "findings": run_notebook(FINDINGS_NB, out_dir=out),
            "below": run_notebook(FINDINGS_NB, out_dir=out, fail_on="medium",
                                  parameters={"severities": "low,info", "per_severity": "2"}),
            "failed": run_notebook(FAILS_NB, out_dir=out),
            "figure": run_notebook(FIGURE_NB, out_dir=out),
            "empty": run_notebook(EMPTY_NB, out_dir=out),
            "leaky": run_notebook(LEAKY_NB, profile="leaky", out_dir=out),
        }
        yield Runs(out, results)


# --- before anything runs -------------------------------------------------------------------

@pytest.fixture
def no_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a run gets as far as starting a kernel."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the notebook was executed")
    monkeypatch.setattr(engine, "execute", refuse)


def test_unknown_parameter_is_rejected_before_running(tmp_path: Path, no_kernel: None) -> None:
    with pytest.raises(ParameterError) as caught:
        run_notebook(FINDINGS_NB, out_dir=tmp_path / "out", parameters={"severitys": "high"})
    message = str(caught.value)
    assert "findings has no parameter 'severitys'" in message
    assert "its parameters: severities, per_severity" in message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["client_secret", "password", "db_passwd", "token",
                                  "access_token", "apikey", "api_key", "apiKey", "key",
                                  "private_key", "credentials", "bearer", "authorization",
                                  "clientSecret"])
def test_secret_looking_names_are_refused(name: str, tmp_path: Path, no_kernel: None) -> None:
    with pytest.raises(SecretParameterError) as caught:
        run_notebook(FINDINGS_NB, out_dir=tmp_path, parameters={name: "harmless"})
    assert f"parameter {name!r} refused" in str(caught.value)
    assert "env:NAME" in str(caught.value)  # the remedy: a secret reference in the profile


@pytest.mark.parametrize("value", [
    FAKE_JWT,
    f"Bearer {FAKE_JWT}",
    "Basic c2NpbTpodW50ZXIy",
    "client_secret=hunter2hunter2",
    "Xk9fQ2pL7vRt3mZ8wYb1Nc5eHa0uJs4D",  # 32 random-looking characters
    "3f786850e387550fdab836ed7e6dc881de23001b",  # 40 hex digits
    "-----BEGIN PRIVATE KEY-----\nMIIE...",
    ["fine", "Xk9fQ2pL7vRt3mZ8wYb1Nc5eHa0uJs4D"],
])
def test_secret_looking_values_are_refused(value: Any, no_kernel: None) -> None:
    declared = params.declared_parameters(FINDINGS_NB)
    with pytest.raises(SecretParameterError) as caught:
        params.check_parameters({"severities": value}, declared, "findings")
    assert "refused" in str(caught.value)
    text = value if isinstance(value, str) else value[1]
    assert text.splitlines()[0] not in str(caught.value)  # never echoed


def test_a_value_opskit_holds_as_a_secret_is_refused() -> None:
    remember("Correct-Horse-9")
    declared = params.declared_parameters(FINDINGS_NB)
    with pytest.raises(SecretParameterError, match="a secret opskit holds"):
        params.check_parameters({"severities": "Correct-Horse-9"}, declared, "findings")


@pytest.mark.parametrize("value", [
    "critical,high", "sandbox", "/srv/opskit/Reports2024/tenant-Acme01.yaml",
    "https://acme.delinea.app/scim/v2", "123e4567-e89b-12d3-a456-426614174000",
    "Folder permissions for the DBA group", "env:ACME_SCIM_SECRET",
])
def test_ordinary_values_pass(value: str) -> None:
    declared = params.declared_parameters(FINDINGS_NB)
    assert params.check_parameters({"severities": value}, declared, "findings") == {
        "severities": value}


def test_text_values_take_the_declared_type() -> None:
    declared = params.declared_parameters(FINDINGS_NB)
    assert params.check_parameters({"per_severity": "3"}, declared, "x") == {"per_severity": 3}
    with pytest.raises(ParameterError, match="'per_severity' takes int"):
        params.check_parameters({"per_severity": "three"}, declared, "x")
    assert params.check_parameters({"per_severity": 4}, declared, "x") == {"per_severity": 4}


def test_profile_goes_through_the_profile_option(tmp_path: Path, no_kernel: None) -> None:
    with pytest.raises(ParameterError, match="--profile"):
        run_notebook(FINDINGS_NB, out_dir=tmp_path, parameters={"profile": "acme"})


def test_a_notebook_without_a_profile_parameter_is_refused(tmp_path: Path,
                                                           no_kernel: None) -> None:
    nb = nbformat.read(FINDINGS_NB, as_version=4)
    nb.cells[1].source = "severities = 'high'"
    nbformat.write(nb, tmp_path / "noprofile.ipynb")
    with pytest.raises(RunError, match="declares no 'profile' parameter"):
        run_notebook(tmp_path / "noprofile.ipynb", out_dir=tmp_path)


def test_unknown_profile_notebook_and_threshold(tmp_path: Path, no_kernel: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSKIT_CONFIG", str(write_config(tmp_path / "o.toml", a="acme")))
    with pytest.raises(ConfigError, match="unknown profile 'nope'"):
        run_notebook(FINDINGS_NB, profile="nope", out_dir=tmp_path)
    with pytest.raises(RunError, match="no notebook named 'nope'"):
        run_notebook("nope", out_dir=tmp_path)
    with pytest.raises(RunError, match="not a severity"):
        run_notebook(FINDINGS_NB, out_dir=tmp_path, fail_on="severe")


def test_the_shipped_notebooks_are_found_in_the_package(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./notebooks here: only what the package ships
    shipped = Path(runner.__file__).parent / "notebooks"
    assert runner.package_notebooks() == shipped
    assert runner.project_notebooks() == sorted(shipped.glob("*.ipynb")) != []
    assert runner.resolve_notebook("token_check") == (shipped / "token_check.ipynb").resolve()


def test_notebooks_are_found_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "mine.ipynb").write_text(EMPTY_NB.read_text())
    monkeypatch.chdir(tmp_path)
    assert runner.resolve_notebook("mine") == (tmp_path / "notebooks" / "mine.ipynb").resolve()
    assert runner.resolve_notebook(str(EMPTY_NB)) == EMPTY_NB.resolve()


# --- what a run writes -----------------------------------------------------------------------

def test_status_and_exit_code(runs: Runs) -> None:
    got = {name: (r.status, r.exit_code) for name, r in runs.by_name.items()}
    assert got == {"findings": ("findings", 1), "below": ("ok", 0), "failed": ("failed", 2),
                   "figure": ("ok", 0), "empty": ("ok", 0), "leaky": ("failed", 2)}
    assert runs["empty"].notes == ("The notebook did not call record(): no findings were "
                                   "reported.",)


def test_results_json(runs: Runs) -> None:
    for name in runs.by_name:
        results = runs.results_json(name)
        jsonschema.validate(results, RESULTS_SCHEMA)
        assert results == runs[name].results
        started = datetime.fromisoformat(results["started_at"])
        assert started <= datetime.fromisoformat(results["finished_at"])
        assert started.utcoffset() is not None and not started.utcoffset()
    findings = runs.results_json("findings")
    assert [f["severity"] for f in findings["findings"]] == list(SEVERITIES)
    assert findings["findings"][1] == {"code": "TEST_HIGH", "severity": "high",
                                       "subject": "subject-high-0", "message": "a high finding",
                                       "remediation": "fix the high thing",
                                       "change": "new", "first_seen": findings["started_at"]}
    assert findings["metrics"] == {"findings": 5}
    assert findings["parameters"] == {"profile": "sandbox"} and findings["error"] is None
    assert findings["expected"] is None  # not a rehearsal profile
    below = runs.results_json("below")
    assert below["parameters"] == {"severities": "low,info", "per_severity": 2,
                                   "profile": "sandbox"}
    assert below["fail_on"] == "medium" and len(below["findings"]) == 4
    # The same notebook and profile ran just before: its low and info subject-…-0 are still
    # open, the -1 ones new, and its critical, high and medium findings gone.
    assert below["previous_run"]["run_dir"] == f"findings/sandbox/{runs['findings'].run_dir.name}"
    assert [(f["subject"], f["change"]) for f in below["findings"]] == [
        ("subject-low-0", "still open"), ("subject-low-1", "new"),
        ("subject-info-0", "still open"), ("subject-info-1", "new")]
    assert [f["code"] for f in below["resolved"]] == ["TEST_CRITICAL", "TEST_HIGH", "TEST_MEDIUM"]
    assert below["changes"] == {"new": 2, "resolved": 3, "still_open": 2}


def test_findings_csv_matches_results(runs: Runs) -> None:
    for name in ("findings", "below", "empty"):
        with (runs[name].run_dir / "findings.csv").open(newline="") as fh:
            reader = csv.DictReader(fh)
            assert reader.fieldnames == FINDING_FIELDS + DRIFT_FIELDS
            assert list(reader) == runs.results_json(name)["findings"]


def test_run_folder_holds_exactly_the_report_files(runs: Runs) -> None:
    for name, run in runs.by_name.items():
        assert run.run_dir.parent == runs.out / run.notebook / run.profile
        assert re.fullmatch(r"\d{8}T\d{6}Z(-\d+)?", run.run_dir.name)
        assert sorted(p.name for p in run.run_dir.iterdir()) == sorted(
            ["findings.csv", "manifest.json", "report.html", "results.json",
             f"{run.notebook}.ipynb"]), name
    assert not [p for p in runs.out.rglob("*") if p.name.startswith(".")]


def test_a_failing_cell_fails_the_run_and_the_report_shows_where_and_why(runs: Runs) -> None:
    results = runs.results_json("failed")
    assert results["status"] == "failed" and results["findings"] == []
    assert results["error"] == {"cell": 4, "ename": "RuntimeError",
                                "evalue": "tenant exploded: reason XYZ"}
    page = runs.report("failed")
    assert "An Exception was encountered at" in page  # papermill's marker, linked to the cell
    assert 'id="papermill-error-cell"' in page
    assert "before the failure" in page  # the outputs before it are kept
    stderr = page.split('data-mime-type="application/vnd.jupyter.stderr"', 1)[1]
    traceback = stderr.split("</pre>", 1)[0]
    assert "RuntimeError" in traceback and "tenant exploded: reason XYZ" in traceback


def test_reports_show_no_code_and_fetch_nothing(runs: Runs) -> None:
    for name in runs.by_name:
        page = runs.report(name)
        assert CODE_MARKER not in page, name
        assert 'class="jp-CodeMirrorEditor' not in page, name
        assert not EXTERNAL.search(page), (name, EXTERNAL.search(page))
        assert "require.min.js" not in page and "MathJax.js" not in page
    assert "TEST_CRITICAL" in runs.report("findings")  # the header lists the findings


def test_report_links_the_index_and_its_runs_files(runs: Runs) -> None:
    for name, run in runs.by_name.items():
        links = re.search(r'<p class="links">(.*?)</p>', runs.report(name))
        assert links, name
        hrefs = [unescape(h) for h in re.findall(r'href="([^"]*)"', links.group(1))]
        assert hrefs == ["../../../index.html", "findings.csv", "results.json",
                         f"{run.notebook}.ipynb"]
        targets = [(run.run_dir / h).resolve() for h in hrefs]
        assert targets[0] == (runs.out / "index.html").resolve()
        assert all(t.is_file() for t in targets), name


def test_plotly_js_is_embedded_once_and_only_when_there_is_a_figure(runs: Runs) -> None:
    from plotly.offline import get_plotlyjs

    bundle_start = get_plotlyjs()[:2000]
    page = runs.report("figure")
    assert page.count(bundle_start) == 1
    assert page.count("Plotly.newPlot(") == 2  # shown twice, library once
    assert "Opskit test figure" in page
    assert '<script src="https://cdn.plot.ly' not in page
    assert bundle_start not in runs.report("findings")


def test_executed_notebook_metadata(runs: Runs) -> None:
    run = runs["below"]
    nb = nbformat.read(run.run_dir / "findings.ipynb", as_version=4)
    meta = nb.metadata["papermill"]
    assert meta["parameters"] == {"severities": "low,info", "per_severity": 2,
                                  "profile": "sandbox"}
    assert meta["output_path"] == "findings.ipynb"
    assert meta["input_path"] == str(FINDINGS_NB.resolve())
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'per_severity = 2' in injected[0].source


def test_redact_notebook_scrubs_parameters_and_outputs() -> None:
    remember("Known-Secret-42")
    nb = nbformat.v4.new_notebook()
    injected = nbformat.v4.new_code_cell(f'header = "Bearer {FAKE_JWT}"')
    injected.metadata["tags"] = ["injected-parameters"]
    body = nbformat.v4.new_code_cell("print(...)")
    body.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"token {FAKE_JWT}\n"),
        nbformat.v4.new_output("error", ename="E", evalue="password=Known-Secret-42",
                               traceback=["Known-Secret-42 in a frame"]),
        nbformat.v4.new_output("display_data", data={"text/html": "<b>Known-Secret-42</b>",
                                                     "text/plain": "Known-Secret-42"}),
    ]
    nb.cells = [injected, body]
    nb.metadata["papermill"] = {"parameters": {"header": f"Bearer {FAKE_JWT}"}}
    redact_notebook(nb, parameters={"header": f"Bearer {FAKE_JWT}"}, input_path="in.ipynb",
                    output_name="out.ipynb")
    text = nbformat.writes(nb)
    assert FAKE_JWT not in text and "Known-Secret-42" not in text
    assert nb.metadata["papermill"]["parameters"] == {"header": f"Bearer {MASK}"}


def test_a_leaked_secret_and_token_are_in_no_file_the_run_wrote(runs: Runs) -> None:
    run = runs["leaky"]
    written = [p for p in run.run_dir.rglob("*") if p.is_file()]
    written += [runs.out / "index.json", runs.out / "index.html"]
    for path in written:
        text = path.read_text()
        assert SECRET not in text and FAKE_JWT not in text, path
    nb = nbformat.read(run.run_dir / "leaky.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert f"the secret is {MASK}" in printed  # it was printed, and masked
    assert run.results["findings"][0]["subject"] == MASK


# --- the index ------------------------------------------------------------------------------

def test_a_profile_without_tls_checks_is_noted_in_its_run(runs: Runs) -> None:
    [note] = runs["leaky"].notes
    assert note.startswith("profile 'leaky' has verify = false: TLS certificates are not "
                           "checked")
    assert note in unescape(runs.report("leaky"))
    assert all(not runs[name].notes for name in ("findings", "failed", "figure"))


def test_index_lists_every_run(runs: Runs) -> None:
    index = json.loads((runs.out / "index.json").read_text())
    listed = {(r["run_dir"], r["status"]) for r in index["runs"]}
    assert listed == {(r.run_dir.relative_to(runs.out).as_posix(), r.status)
                      for r in runs.by_name.values()}
    started = [r["started_at"] for r in index["runs"]]
    assert started == sorted(started, reverse=True)
    by_dir = {r["run_dir"]: r for r in index["runs"]}
    findings = by_dir[runs["findings"].run_dir.relative_to(runs.out).as_posix()]
    assert findings["findings"] == dict.fromkeys(SEVERITIES, 1)
    page = (runs.out / "index.html").read_text()
    for entry in index["runs"]:
        assert (runs.out / entry["report"]).is_file()
        assert f'href="{entry["report"]}"' in page
    assert not EXTERNAL.search(page) and "<style>" in page


# --- nothing half-written -------------------------------------------------------------------

def test_a_crash_while_writing_leaves_no_partial_run(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    before = run_notebook(EMPTY_NB, out_dir=out)
    index_before = (out / "index.json").read_text()

    def broken_export(*args: object, **kwargs: object) -> str:
        raise RuntimeError("the HTML export broke")

    monkeypatch.setattr(html, "render_report", broken_export)
    with pytest.raises(RuntimeError, match="HTML export broke"):
        run_notebook(EMPTY_NB, out_dir=out)
    assert [p.name for p in before.run_dir.parent.iterdir()] == [before.run_dir.name]
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]
    assert (out / "index.json").read_text() == index_before


def test_a_crash_in_a_new_folder_removes_it(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_export(*args: object, **kwargs: object) -> str:
        raise RuntimeError("the HTML export broke")

    monkeypatch.setattr(html, "render_report", broken_export)
    with pytest.raises(RuntimeError):
        run_notebook(EMPTY_NB, out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_run_folders_never_collide(tmp_path: Path) -> None:
    first = files.RunFolder(tmp_path, "20250101T000000Z")
    (first.path / "results.json").write_text("{}")
    second = files.RunFolder(tmp_path, "20250101T000000Z")
    (second.path / "results.json").write_text("{}")
    assert first.commit().name == "20250101T000000Z"
    assert second.commit().name == "20250101T000000Z-2"


# --- the command line -----------------------------------------------------------------------

def opskit(*args: str, env: dict[str, str] | None = None,
           cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opskit.cli", *args], capture_output=True,
                          text=True, timeout=180, env={**os.environ, **(env or {})}, cwd=cwd)


def test_cli_run_refuses_an_unknown_parameter_in_one_line(tmp_path: Path) -> None:
    r = opskit("run", str(FINDINGS_NB), "-p", "nope", "1", "--out", str(tmp_path))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("opskit: findings has no parameter 'nope'")
    assert "Traceback" not in r.stderr and list(tmp_path.iterdir()) == []


def test_report_runs_every_tenant_and_exits_with_the_worst(tmp_path: Path,
                                                           sandbox: RunningSandbox) -> None:
    config = write_config(tmp_path / "opskit.toml", good=sandbox.url, bad=closed_port_url())
    out = tmp_path / "out"
    r = opskit("report", "--profile", "bad,good", "--notebooks", str(REACH_NB),
               "--out", str(out), "--jobs", "2", env={"OPSKIT_CONFIG": str(config)},
               cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    table = r.stdout.split("\n\n", 1)[1]
    rows = {line.split()[0]: line.split() for line in table.splitlines()[1:]
            if line.split() and line.split()[0] in ("good", "bad")}
    assert rows["good"][2] == "ok" and rows["good"][2 + len(SEVERITIES) + 1] == "0"
    assert rows["bad"][2] == "failed" and rows["bad"][2 + len(SEVERITIES) + 1] == "2"
    assert f"could not run (exit 2): bad/{REACH_NB.stem}" in r.stdout
    assert r.stdout.rstrip().endswith(f"index: {out / 'index.html'}")
    index = json.loads((out / "index.json").read_text())
    assert sorted((e["profile"], e["status"]) for e in index["runs"]) == [
        ("bad", "failed"), ("good", "ok")]
    bad = next(e for e in index["runs"] if e["profile"] == "bad")
    assert bad["error"] == "ConnectError"


def test_worst_exit_code_and_summary_table() -> None:
    assert worst([0, 1, 0]) == 1 and worst([1, 2, 0]) == 2 and worst([]) == 0
    table = summary_table([
        TenantOutcome("a", 1, [{"notebook": "nb", "profile": "a", "status": "findings",
                                "exit_code": 1, "report": "out/r.html", "error": None,
                                "findings": {"high": 2}}], ""),
        TenantOutcome("b", 2, [], "", problem="it crashed"),
    ])
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["profile", "notebook", "status"]
    assert lines[1].split() == ["a", "nb", "findings", "0", "2", "0", "0", "0", "1",
                                "out/r.html"]
    assert lines[2].split()[:3] == ["b", "-", "failed"] and lines[2].endswith("it crashed")
