"""The import contract: each module imports only its own layer and the layers below it.

The layers are the one-way flow in docs/architecture.md. The practice tenant (`opskit.sandbox`)
stands apart: it imports nothing of the client, and the client reaches it only through its entry
point, `opskit.sandbox.entry`. Imports inside functions and under TYPE_CHECKING
count too: a lazy import up the flow is still a dependency up the flow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "opskit"

# Lowest first, as docs/architecture.md draws the flow. A module belongs to the layer whose
# prefix names it most closely (its own name, else its package's).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("opskit._version", "opskit.findings", "opskit.errors", "opskit._redact",
                    "opskit._localfile", "opskit._swapdir", "opskit._crash", "opskit._imports",
                    "opskit._escaping", "opskit._pseudonyms", "opskit._json")),
    ("profile", ("opskit.config", "opskit.limits")),
    ("transport", ("opskit.http", "opskit.auth")),
    ("scim", ("opskit.scim",)),
    ("inventory", ("opskit.inventory", "opskit._columns", "opskit.csvfile")),
    ("analysis", ("opskit.checks", "opskit.audit", "opskit.groupgap", "opskit.twin")),
    ("inputs", ("opskit.inputs",)),
    ("presentation", ("opskit.report", "opskit.widgets")),
    ("reports", ("opskit.reports", "opskit.rehearse", "opskit.capture")),
    ("runner", ("opskit.report.results", "opskit.runner", "opskit._run", "opskit.alerts")),
    ("command line", ("opskit.cli", "opskit.demo", "opskit.__main__", "opskit.airflow")),
    ("public API", ("opskit",)),
)
SANDBOX = "opskit.sandbox"
SANDBOX_DOOR = "opskit.sandbox.entry"  # the one module of it the client may import


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(name: str) -> bool:
    return (PACKAGE.parent / Path(*name.split(".")) / "__init__.py").exists()


def is_module(name: str) -> bool:
    return is_package(name) or (PACKAGE.parent / Path(*name.split("."))).with_suffix(".py").exists()


def imported(source: str, name: str, package: bool) -> set[str]:
    """Every opskit module ``source`` (module ``name``) imports, wherever the import stands."""
    found: set[str] = set()
    here = name.split(".") if package else name.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "opskit")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = here[:len(here) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.split(".")[0] != "opskit":
                continue
            for alias in node.names:  # `from . import http` imports the module opskit.http
                sub = f"{base}.{alias.name}"
                found.add(sub if is_module(sub) else base)
    return found


def layer_of(name: str) -> int:
    best, best_len = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for name, targets in sorted(graph.items()):
        in_sandbox = name == SANDBOX or name.startswith(SANDBOX + ".")
        for target in sorted(targets):
            target_in_sandbox = target == SANDBOX or target.startswith(SANDBOX + ".")
            if in_sandbox:
                if not target_in_sandbox:
                    found.append(f"{name} imports {target}: the practice tenant shares no code "
                                 "with the client")
            elif target_in_sandbox:
                if target != SANDBOX_DOOR:
                    found.append(f"{name} imports {target}: reach the practice tenant through "
                                 f"its entry point, {SANDBOX_DOOR}")
            elif layer_of(target) > layer_of(name):
                found.append(f"{name} ({LAYERS[layer_of(name)][0]}) imports {target} "
                             f"({LAYERS[layer_of(target)][0]}): up the flow")
    return found


def import_graph() -> dict[str, set[str]]:
    return {name: imported(path.read_text(), name, path.name == "__init__.py")
            for name, path in modules().items()}



GRAPH = import_graph()


def test_every_module_has_a_layer() -> None:
    unplaced = [n for n in GRAPH if not n.startswith(SANDBOX) and layer_of(n) < 0]
    assert not unplaced, f"place these in LAYERS (and docs/architecture.md): {unplaced}"


def test_no_module_imports_up_the_flow() -> None:
    found = violations(GRAPH)
    assert not found, "imports against the flow (docs/architecture.md):\n" + "\n".join(found)


def test_the_graph_is_read_from_the_source() -> None:
    # A checker that saw nothing would pass everything: it must see imports we know are there.
    assert "opskit.config" in GRAPH["opskit.scim.client"]
    assert "opskit.http" in GRAPH["opskit.checks.onboarding"]  # `from .. import http`
    assert SANDBOX_DOOR in GRAPH["opskit.config"]  # imported inside a function
    assert "opskit.reports.token_check" in GRAPH["opskit"]  # under TYPE_CHECKING


@pytest.mark.parametrize(("module", "source", "expected"), [
    ("opskit.scim.client", "from ..inventory import Inventory\n",
     "opskit.scim.client (scim) imports opskit.inventory (inventory): up the flow"),
    ("opskit.audit._access", "def f():\n    from ..reports import permission_audit\n",
     "opskit.audit._access (analysis) imports opskit.reports.permission_audit (reports): up "
     "the flow"),
    ("opskit.config", "from opskit.sandbox import serve\n",
     "opskit.config imports opskit.sandbox.serve: reach the practice tenant through its entry "
     "point, opskit.sandbox.entry"),
    ("opskit.sandbox.store", "from ..errors import ScimError\n",
     "opskit.sandbox.store imports opskit.errors: the practice tenant shares no code with the "
     "client"),
])
def test_an_upward_import_is_caught(module: str, source: str, expected: str) -> None:
    graph = {module: imported(source, module, package=False)}
    assert violations(graph) == [expected]


def test_imports_down_the_flow_and_within_a_layer_pass() -> None:
    graph = {"opskit.reports.token_check": imported(
        "from ..checks.token import run_token_check\nfrom ..report import display\n"
        "from ._protocol import Table\n", "opskit.reports.token_check", package=False)}
    assert graph["opskit.reports.token_check"] == {
        "opskit.checks.token", "opskit.report.display", "opskit.reports._protocol"}
    assert violations(graph) == []


def test_the_architecture_page_names_the_same_layers_in_the_same_order() -> None:
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = [line.split("|")[1].strip() for line in page.splitlines()
            if line.startswith("| ") and not line.startswith("| layer")]
    assert [name for name in rows if name in dict(LAYERS)] == [name for name, _ in LAYERS]
