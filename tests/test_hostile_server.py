"""A server that misbehaves on purpose never holds opskit forever, never crashes it and never
makes it read without end: each case ends, within a time and a memory bound, in one line on
stderr and exit 2 (or a snapshot marked incomplete), over real HTTP on 127.0.0.1.

The profile's limits are shrunk through its [limits] table, as a user would, so each case
ends in seconds; the defaults are the same code with larger numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from opskit.csvfile import CsvFileError, read_table

from .bounded import Outcome, cli, run_bounded
from .hostile import Hostile
from .servers import serve_asgi

pytestmark = pytest.mark.slow  # 7-20 s in all: handed out early, so it does not start last

LIMITS = {"request_timeout": 0.5, "retry_budget": 1.5, "listing_timeout": 20,
          "max_body_mb": 8, "max_total_results": 20_000}
TOKEN = "hostile-test-token-7f3a"


def _profile_file(tmp_path: Path, url: str) -> Path:
    limits = "\n".join(f"{k} = {v}" for k, v in LIMITS.items())
    path = tmp_path / "opskit.toml"
    path.write_text(f'[profiles.hostile]\nkind = "onprem"\nbase_url = "{url}/v2"\n'
                    f'token = "env:HOSTILE_TOKEN"\n\n[profiles.hostile.limits]\n{limits}\n')
    return path


@pytest.fixture
def hostile(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Hostile, str]]:
    app = Hostile(request.param, drip_seconds=0.05)
    with serve_asgi(app) as url:
        yield app, url


def _inventory(url: str, tmp_path: Path) -> Outcome:
    config = _profile_file(tmp_path, url)
    return run_bounded(cli, "inventory", "--profile", "hostile", "--out",
                       str(tmp_path / "snap"), "--quiet",
                       env={"OPSKIT_CONFIG": str(config), "HOSTILE_TOKEN": TOKEN},
                       cwd=tmp_path, timeout=60, max_growth_mb=400)


def _one_line(outcome: Outcome) -> str:
    """The one line a failed command says: exit 2, no traceback, no secret."""
    assert outcome.exit_code == 2, outcome
    assert "Traceback" not in outcome.stderr
    [line] = outcome.stderr_lines
    assert line.startswith("opskit: ")
    assert TOKEN not in outcome.stderr + outcome.stdout
    return line


CASES = {
    # mode: what the one line says
    "huge-total": "more than limits.max_total_results (20,000)",
    "negative-total": "totalResults -1, which is not a count",
    "endless-no-total": "gives no totalResults and has sent more than "
                        "limits.max_total_results (20,000)",
    "dribble": "no complete answer within",
    "silent": "no complete answer within",
    "gzip-bomb": "answered with more than 8 MB (limits.max_body_mb)",
    "bad-utf8": "JSON that cannot be read (str is not valid UTF-8)",
    "null-page": "answered 200 with JSON null where a SCIM resource was expected",
    "deep-json": "JSON that cannot be read (depth limit exceeded)",
}


@pytest.mark.parametrize("hostile", list(CASES), indirect=True)
def test_inventory_of_a_hostile_server_ends_in_one_line(hostile: tuple[Hostile, str],
                                                        tmp_path: Path) -> None:
    app, url = hostile
    line = _one_line(_inventory(url, tmp_path))
    assert CASES[app.mode] in line, line
    assert not (tmp_path / "snap").exists()  # nothing written that could pass for a snapshot
    assert app.requests < 200  # refused early, not read until the bound ran out


INCOMPLETE = {
    "repeat-no-total": "its page at startIndex 1001 repeats resources already read",
    "stuck-pages": "10 of the 50 resources the server counts could be read",
}


@pytest.mark.parametrize("hostile", list(INCOMPLETE), indirect=True)
def test_pages_that_repeat_give_a_snapshot_marked_incomplete(hostile: tuple[Hostile, str],
                                                             tmp_path: Path) -> None:
    app, url = hostile
    outcome = _inventory(url, tmp_path)
    assert "the inventory is incomplete" in _one_line(outcome)
    assert INCOMPLETE[app.mode] in outcome.stdout
    manifest = json.loads((tmp_path / "snap" / "manifest.json").read_text())
    assert manifest["meta"]["complete"] is False
    assert manifest["counts"]["users"] in (1, 10)
    assert app.requests < 50


@pytest.mark.parametrize("hostile", ["endless-csv"], indirect=True)
def test_an_endless_export_is_refused_at_the_size_limit(hostile: tuple[Hostile, str]) -> None:
    _app, url = hostile
    outcome = run_bounded(_read_export, url + "/export.csv", timeout=60, max_growth_mb=600)
    assert outcome.exit_code == 0, outcome
    assert "is larger than 64 MB, or never ends" in outcome.stdout


def _read_export(url: str) -> int:
    try:
        read_table(url, {"group": "group", "member": "member"}, what="IGA export")
    except CsvFileError as exc:
        print(exc)
        return 0
    return 1
