"""The public API in `opskit/__init__.py`: every name it lists resolves, and none is imported
before it is asked for, so `import opskit` and `opskit --help` stay light."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import opskit

from .conftest import SMALL

HEAVY = ("pandas", "httpx", "httpcore", "numpy", "pyarrow", "plotly", "papermill", "pydantic")


def _printed(code: str) -> str:
    """What a fresh interpreter prints running ``code``."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True).stdout


def _loaded_after(code: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after running ``code``."""
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    return json.loads(_printed(probe).splitlines()[-1])


def test_import_opskit_loads_no_pandas_or_httpx() -> None:
    assert _loaded_after("import opskit") == []


@pytest.mark.parametrize("argv", [["--help"], ["sandbox", "serve", "--help"]])
def test_opskit_help_loads_no_pandas_or_httpx(argv: list[str]) -> None:
    # The CLI's start-up (issue 18: ≤ 0.3 s, benchmarks/startup.py) is mostly imports.
    code = ("import contextlib, io, opskit.cli\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            f"    opskit.cli.main({argv!r})")
    assert _loaded_after(code) == []


def test_an_entry_point_is_loaded_when_asked_for() -> None:
    assert "httpx" in _loaded_after("import opskit\nopskit.connect")


def test_every_listed_name_resolves_to_its_definition() -> None:
    assert opskit.__version__
    for name in opskit.__all__:
        value = getattr(opskit, name)
        if name == "__version__":
            continue
        home = importlib.import_module(opskit._ENTRY_POINTS[name], "opskit")
        assert value is getattr(home, name), name
        assert name in dir(opskit)
    assert sorted(opskit.__all__) == sorted([*opskit._ENTRY_POINTS, "__version__"])


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        opskit.nope  # noqa: B018
    from opskit import inventory  # a submodule is still a submodule

    assert inventory.fetch_inventory is opskit.fetch_inventory


def test_every_module_s_all_names_what_it_holds() -> None:
    # A name moved elsewhere but left in __all__ breaks `from module import *` and misleads
    # readers; ruff does not see it.
    import pkgutil

    missing = []
    for info in pkgutil.walk_packages(opskit.__path__, "opskit."):
        if info.name.endswith("__main__") or info.name == "opskit.airflow":
            continue  # opskit.airflow imports Airflow: tests/test_airflow.py runs it there
        module = importlib.import_module(info.name)
        missing += [f"{info.name}.{name}" for name in getattr(module, "__all__", ())
                    if not hasattr(module, name)]
    assert missing == []


def test_scim2_models_loads_only_where_a_filter_is_evaluated() -> None:
    # ~0.5 s in every kernel otherwise; building a filter's text needs none of it.
    probe = ("import sys, opskit.reports.token_check, opskit.reports.tenant_onboarding\n"
             "from opskit.scim import filters\n"
             "filters.eq('userName', 'a@b.c')\n"
             "before = 'scim2_models' in sys.modules\n"
             "filters.split('userName sw \"a\"', eq_co_only=True)\n"
             "print(before, 'scim2_models' in sys.modules)")
    assert _printed(probe).split() == ["False", "True"]


def test_a_practice_tenant_loads_scim2_models_only_once_a_filter_or_write_needs_it() -> None:
    # ~0.4 s in every kernel serving one otherwise; a notebook's reads need none of it.
    probe = ("import sys, httpx\n"
             "from opskit.sandbox.entry import practice\n"
             f"with practice({str(SMALL)!r}, 'onprem') as t:\n"
             "    get = lambda **p: httpx.get(t.scim_url + '/Users', params=p, headers={\n"
             "        'Authorization': f'Bearer {t.token}'}).raise_for_status().json()\n"
             "    read = get(count=2)\n"
             "    before = 'scim2_models' in sys.modules\n"
             "    name = read['Resources'][0]['userName']\n"
             "    found = get(filter=f'userName eq \"{name}\"')\n"
             "    print(before, 'scim2_models' in sys.modules, found['totalResults'])")
    assert _printed(probe).split() == ["False", "True", "1"]
