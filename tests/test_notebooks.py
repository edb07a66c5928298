"""Every notebook opskit ships: hygiene, its report module, a headless run, and no secret in
anything a run writes.

Each notebook runs through the real runner (papermill, HTML, results) against the practice
tenant, with profiles whose secrets are known to the test: a refused secret, an unreachable
tenant (the token check), and a run whose cell raises (a traceback, on the permission
audit). Neither the secret nor any token may appear in any file the runs wrote. Passing runs
of every notebook are the demo's: tests/test_demo.py scans them the same way.
"""

from __future__ import annotations

import importlib
import json
import re
import typing
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager

from opskit.runner import run_notebook
from opskit.sandbox.serve import RunningSandbox

from .servers import closed_port

ROOT = Path(__file__).parent.parent
NOTEBOOKS = sorted((ROOT / "opskit" / "notebooks").glob("*.ipynb"))
SECRET = "practice-only"  # the practice tenant's client secret (tests/data/small.yaml)
MAX_CELL_LINES = 12
# A bearer token as the practice tenant issues them (a JWT): none may be in anything written.
JWT = re.compile(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}")


pytestmark = pytest.mark.slow  # 6 notebook runs


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "opskit/notebooks/ holds no notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_hygiene(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged parameters"
    assert 'profile = "sandbox"' in params[0].source  # safe default: the practice tenant
    assert "apply = True" not in params[0].source  # read-only by default
    assert all(not c.get("outputs") and not c.get("execution_count")
               for c in nb.cells if c.cell_type == "code"), "outputs are stripped"
    assert nb.cells[0].cell_type == "markdown", "a title first"
    assert "record(" in nb.cells[-1].source, "the last cell records the findings"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert len(cell.source.splitlines()) <= MAX_CELL_LINES, cell.source
    kernel = nb.metadata["kernelspec"]["name"]
    # ipykernel, a dependency, provides this kernel in a fresh environment.
    assert KernelSpecManager().get_kernel_spec(kernel).argv


REPORT_IMPORT = re.compile(r"^from opskit\.reports\.(\w+) import (\w+)$", re.M)
SHOWN = re.compile(r'^show\(result, "([^"]+)"\)$', re.M)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_its_report_modules_entry_shown_section_by_section(path: Path) -> None:
    """The notebook declares its report module by importing its entry function from it: one
    call, the result shown section by section in the result's order, then recorded."""
    code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells
                     if c.cell_type == "code")
    [(module_name, entry_name)] = REPORT_IMPORT.findall(code)
    module = importlib.import_module(f"opskit.reports.{module_name}")
    entry = getattr(module, entry_name)
    assert entry_name in module.__all__ and len(re.findall(rf"\b{entry_name}\(", code)) == 1
    assert re.search(rf"^result = {entry_name}\(", code, re.M)
    result = typing.get_type_hints(entry)["return"]
    assert result.__name__ in module.__all__
    for member in ("findings", "metrics", "headline", "section", "SECTIONS"):  # the Report
        assert hasattr(result, member) or member in result.__dataclass_fields__, member
    assert SHOWN.findall(code) == list(result.SECTIONS[1:])  # every section, in order
    assert re.search(r"^show\(result\)$", code, re.M)  # headline and summary
    assert code.rstrip().endswith("record(result.findings, result.metrics());")


@pytest.fixture
def profiles(tmp_path: Path, sandbox: RunningSandbox,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    config = tmp_path / "opskit.toml"
    config.write_text(f"""
[profiles.wrong-secret]
kind = "cloud"
tenant = "{sandbox.url}"
client_id = "scim.integration@acme.com"
client_secret = "env:WRONG_SECRET"

[profiles.unreachable]
kind = "cloud"
tenant = "http://127.0.0.1:{closed_port()}"
client_id = "scim.integration@acme.com"
client_secret = "env:PRACTICE_SECRET"

[profiles.broken-tls]
kind = "cloud"
tenant = "{sandbox.url}"
client_id = "scim.integration@acme.com"
client_secret = "env:PRACTICE_SECRET"
verify = "{tmp_path / 'no-such-ca.pem'}"
""")
    # The kernels papermill starts inherit this environment.
    monkeypatch.setenv("OPSKIT_CONFIG", str(config))
    monkeypatch.setenv("PRACTICE_SECRET", SECRET)
    monkeypatch.setenv("WRONG_SECRET", "wrong-but-still-secret-7731")
    yield config


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_headless_and_leaks_nothing(path: Path, profiles: Path, tmp_path: Path,
                                         sandbox: RunningSandbox) -> None:
    out = tmp_path / "out"
    results = {}
    # A passing run of every notebook is the demo's (test_demo scans all it writes for the same
    # secret and for any token). An unreachable tenant is a finding of the token check's;
    # elsewhere it fails as broken TLS does, with no answer to show, so only the token check
    # runs it.
    # A cell that raises is the runner's to handle, the same for every notebook
    # (tests/test_runner.py runs one that fails): here once, on the largest report.
    profiles = (("wrong-secret", "unreachable") if path.stem == "token_check"
                else ("wrong-secret", "broken-tls") if path.stem == "permission_audit"
                else ("wrong-secret",))
    for profile in profiles:
        run = run_notebook(path, profile=profile, out_dir=out)
        results[profile] = run
    if path.stem == "token_check":
        assert [f["code"] for f in results["wrong-secret"].results["findings"]] == [
            "TOKEN_INVALID_CLIENT"]
        assert [f["code"] for f in results["unreachable"].results["findings"]] == [
            "TENANT_UNREACHABLE"]
    else:  # a refused secret never passes (onboarding reports it; the others stop on it)
        assert results["wrong-secret"].status in ("findings", "failed")
    if "broken-tls" in results:  # a cell that raised: the traceback is in the report
        broken = results["broken-tls"]
        assert broken.status == "failed" and broken.exit_code == 2
        assert "Traceback" in (broken.run_dir / "report.html").read_text() or \
            broken.results.get("error")
    written = [p for p in out.rglob("*") if p.is_file()]
    assert len(written) >= 4 * len(profiles)
    for file in written:
        text = file.read_text(errors="replace")
        assert SECRET not in text, file
        assert "wrong-but-still-secret-7731" not in text, file
        assert not JWT.search(text), file
    index = json.loads((out / "index.json").read_text())
    assert len(index["runs"]) == len(profiles)
