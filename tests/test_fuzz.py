"""Fuzzing the loaders of local files: whatever a tenant file or a CSV holds, the loader returns
a valid object or raises its own error (TenantFileError, CsvFileError), never another exception.

Examples are few (the suite's time is short) and the deadline generous (a slow example is not
the point; a hang would still fail the run). No example database: nothing is written into the
repository. `--hypothesis-show-statistics` shows how often each way (read, refused) was taken.
"""

from __future__ import annotations

import codecs
import copy
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from opskit.audit import FolderView
from opskit.csvfile import CsvFileError, read_table
from opskit.errors import OpskitError
from opskit.groupgap import GroupSource
from opskit.inputs.audit import PLANNED_COLUMNS, read_folder_export, read_planned_changes
from opskit.inputs.groups import read_iga_export, read_secret_server_export
from opskit.inventory import Inventory, fetch_inventory
from opskit.sandbox.serve import running
from opskit.sandbox.tenantfile import TenantFile, TenantFileError, load_tenant, parse_tenant

from .conftest import SMALL
from .servers import onprem_profile

# The suite runs the same 40 examples every time (no flaky failures); OPSKIT_FUZZ_EXAMPLES=2000
# explores further with fresh random examples on each run.
EXPLORE = int(os.environ.get("OPSKIT_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=EXPLORE or 40, derandomize=not EXPLORE,
                deadline=timedelta(seconds=10), database=None,
                suppress_health_check=[HealthCheck.too_slow])
SMALL_DATA: dict[str, Any] = yaml.safe_load(SMALL.read_text())

# --------------------------------------------------------------------------- strategies
scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30))
structures = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                          | st.dictionaries(st.text(max_size=12), inner, max_size=5),
                          max_leaves=30)


@st.composite
def mutated_tenants(draw: st.DrawFn) -> dict[str, Any]:
    """The small tenant with a few values somewhere inside it replaced or removed: deep enough
    to pass the schema now and then and reach the cross-reference checks."""
    data = copy.deepcopy(SMALL_DATA)
    for _ in range(draw(st.integers(1, 3))):
        node: Any = data
        while True:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            key = draw(st.sampled_from(keys))
            child = node[key]
            if isinstance(child, dict | list) and child and draw(st.booleans()):
                node = child
                continue
            if isinstance(node, dict) and draw(st.integers(0, 4)) == 0:
                del node[key]
            else:
                node[key] = draw(structures | st.sampled_from(["u1", "g1", "f1", "g3", "f2"]))
            break
    return data


def written(data: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, allow_nan=True)
    return yaml.safe_dump(data, allow_unicode=True)


# A CSV as people's tools make them: the headers its reader wants, some of them, or others;
# odd delimiters and quoting, NULs, BOMs, line breaks of every kind, any encoding or none.
PIECES = [*"aZ/\\ ;,\t|\"'\x00\r\n\ufeff\u00e9\u4e2d", "/IT", "/IT/Databases", "/HR", "\\IT",
          "Owner", "View;Edit", "View,Edit", "DBA", "Alice@Acme.com", "groups", "User",
          "\"quoted, open", "\"\"", "x\"y"]
cells = st.lists(st.sampled_from(PIECES), max_size=4).map("".join)


@st.composite
def csv_bytes(draw: st.DrawFn, wanted: list[str]) -> bytes:
    if draw(st.integers(0, 7)) == 0:
        return draw(st.binary(max_size=300))
    header = draw(st.just(wanted) | st.permutations(wanted) | st.lists(
        st.sampled_from([*wanted, "Principal Type", "rights", ""]) | cells, min_size=1,
        max_size=6))
    delimiter = draw(st.sampled_from([",", ",", ";", "\t", "|"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    rows = draw(st.lists(st.lists(cells, max_size=len(header) + 1), max_size=6))
    text = newline.join(delimiter.join(r) for r in [header, *rows])
    if draw(st.booleans()):
        text += newline
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le",
                                     "utf-16-be", "latin-1", "cp1252"]))
    raw = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 5)) == 0:  # a mark that disagrees with the bytes after it
        raw = draw(st.sampled_from([codecs.BOM_UTF8, codecs.BOM_UTF16_LE,
                                    codecs.BOM_UTF16_BE])) + raw
    return raw


# --------------------------------------------------------------------------- tenant files
def accepted_tenant(load: Callable[[], TenantFile]) -> None:
    """What the loader must do: return a tenant file or refuse with its own error."""
    try:
        tenant = load()
    except TenantFileError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        event("refused")  # --hypothesis-show-statistics: how often each way was taken
        return
    event("loaded")
    assert isinstance(tenant, TenantFile)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="opskit-fuzz-") as folder:
        yield Path(folder)


@FUZZ
@given(data=mutated_tenants() | structures)
def test_any_structure_is_a_tenant_or_a_tenant_file_error(data: Any) -> None:
    accepted_tenant(lambda: parse_tenant(data, "fuzz.yaml"))


@FUZZ
@given(data=mutated_tenants() | structures, fmt=st.sampled_from(["json", "yaml"]))
def test_any_written_tenant_file_loads_or_is_refused(scratch: Path, data: Any, fmt: str) -> None:
    path = scratch / f"tenant.{fmt}"
    path.write_text(written(data, fmt), encoding="utf-8")
    accepted_tenant(lambda: load_tenant(path))


@FUZZ
@given(raw=st.binary(max_size=400) | st.text(max_size=200).map(str.encode),
       suffix=st.sampled_from([".json", ".yaml", ".yml"]))
def test_any_bytes_as_a_tenant_file_load_or_are_refused(scratch: Path, raw: bytes,
                                                        suffix: str) -> None:
    path = scratch / f"bytes{suffix}"
    path.write_bytes(raw)
    accepted_tenant(lambda: load_tenant(path))


# --------------------------------------------------------------------------- CSV files
@pytest.fixture(scope="module")
def inventory() -> Inventory:
    """The small tenant's on-prem inventory: what planned changes and exports are checked
    against."""
    with running(load_tenant(SMALL)) as sb:
        return fetch_inventory(onprem_profile(sb), progress=False)


PLANNED = ["Folder Path", "Principal", "Rights"]
READERS: dict[str, tuple[list[str], Callable[[Path, Inventory], object]]] = {
    "read_table": (PLANNED, lambda p, _: read_table(p, PLANNED_COLUMNS,
                                                    optional=("principal_type",))),
    "planned changes": (PLANNED, lambda p, inv: read_planned_changes(p, inv)),
    "folder export": (["Folder", "Secret Name"], lambda p, inv: read_folder_export(p, cloud=inv)),
    "IGA export": (["Entitlement Value", "Email", "Entitlement Attribute"],
                   lambda p, _: read_iga_export(p)),
    "Secret Server export": (["Group Name", "Group Id"],
                             lambda p, _: read_secret_server_export(p)),
}
readers_and_files = st.sampled_from(sorted(READERS)).flatmap(
    lambda name: st.tuples(st.just(name), csv_bytes(READERS[name][0])))


@FUZZ
@given(case=readers_and_files)
def test_any_csv_is_read_or_refused_with_a_csv_error(scratch: Path, inventory: Inventory,
                                                     case: tuple[str, bytes]) -> None:
    reader, raw = case
    path = scratch / "input.csv"
    path.write_bytes(raw)
    try:
        result = READERS[reader][1](path, inventory)
    except CsvFileError as exc:
        assert isinstance(exc, OpskitError) and str(exc).startswith(str(path))
        event(f"{reader}: refused")
        return
    event(f"{reader}: read")
    assert isinstance(result, pd.DataFrame | FolderView | GroupSource)
