"""The project's own promises: one source of dependencies, a two-command quick start."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parent.parent


def test_environment_yml_is_derived_from_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    python = [d for d in deps if isinstance(d, str) and d.startswith("python")]
    assert python == [f"python{project['requires-python']}"]
    pip = [d for d in deps if isinstance(d, dict)]
    # Everything else comes from pyproject through pip: no second list to drift.
    assert pip == [{"pip": ["-e .[dev]"]}]
    assert set(project["optional-dependencies"]) == {"dev"}
    assert [d for d in deps if isinstance(d, str)] == [*python, "pip"]


def test_readme_quick_start_is_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", quick, re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert [c for c in commands if c] == ["make demo", "make test"]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)


def test_makefile_targets() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("install", "demo", "test", "lab", "bench", "clean"):
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "--compile-bytecode" in makefile


def test_make_lab_starts_as_root_too() -> None:
    """`jupyter lab` refuses to start as root without --allow-root: `make lab` adds it there,
    and only there."""
    shown = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True,
                           timeout=30, check=True).stdout
    [lab] = [line for line in shown.splitlines() if "jupyter lab" in line]
    assert ("--allow-root" in lab) == (os.getuid() == 0)


def test_console_script() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"opskit": "opskit.cli:main"}


@pytest.mark.slow
def test_the_wheel_ships_the_notebooks_and_the_type_marker(tmp_path: Path) -> None:
    """What `pip install .` installs holds the notebooks the runner finds in the package, the
    report template and py.typed. Built from a copy of the tree, offline: uv's cache holds the
    build backend since `make install`."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "opskit", src / "opskit",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    built = subprocess.run([sys.executable, "-m", "uv", "build", "--wheel", "--offline",
                            "--out-dir", str(tmp_path / "dist"), str(src)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "dist").glob("opskit-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    notebooks = {f"opskit/{p.relative_to(ROOT / 'opskit').as_posix()}"
                 for p in (ROOT / "opskit" / "notebooks").glob("*.ipynb")}
    assert len(notebooks) >= 4 and notebooks <= names, notebooks - names
    assert {"opskit/py.typed", "opskit/report/templates/opskit_report/index.html.j2",
            "opskit/report/templates/opskit_report/conf.json"} <= names


def test_every_emulated_behaviour_names_its_source() -> None:
    # docs/connectors.md: each behaviour of the practice tenant cites the Delinea (or SailPoint)
    # document it comes from, or says it is an assumption; every cited label is defined.
    text = (ROOT / "docs" / "connectors.md").read_text(encoding="utf-8")
    table = text.split("## Every emulated behaviour and its source", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ")][2:]
    assert len(rows) >= 40
    for row in rows:
        _behaviour, flavor, source = (c.strip() for c in row.strip("|").split("|"))
        assert flavor in ("cloud", "on-prem", "both"), row
        assert re.search(r"\]\[[A-Z]+\]|\[FAQ\]", source) or "assumption" in source, row
    for label in set(re.findall(r"\]\[([A-Z]+)\]|\[(FAQ)\](?!\()", text)):
        name = label[0] or label[1]
        assert f"\n[{name}]: http" in text, name
    assert "../shared" not in text  # the docs stand alone
