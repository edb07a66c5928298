"""The four notebooks in JupyterLab, in Chromium, as a person runs them (issue 16).

One JupyterLab (its own free port and token) serves a copy of opskit/notebooks/ and an
opskit.toml beside them whose `practice` profile points at the practice tenant, as
docs/profiles.md tells a person to do: the kernels find it in their working folder, and each
notebook's `profile` parameter is set to it. One page opens the four notebooks and runs all
cells in each, so the kernels run side by side; then each notebook is read as it shows.
Screenshots of each step: build/browser/lab-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest

from opskit.sandbox.app import Sandbox
from opskit.sandbox.store import Tenant
from opskit.sandbox.tenantfile import load_tenant

from ..conftest import SMALL
from .lab import (
    Lab,
    activate,
    open_notebook,
    run_all,
    running_lab,
    save,
    wait_until_ran,
)
from .pages import Watched, shot, watch

NOTEBOOKS = ("token_check", "tenant_onboarding", "permission_audit", "group_gap_report")
SOURCE = Path(__file__).parent.parent.parent / "opskit" / "notebooks"
FIGURES = {"permission_audit", "group_gap_report"}  # the notebooks that draw plotly figures
SECRET = "practice-only"  # the practice tenant's client secret (tests/data/small.yaml)
ONPREM_TOKEN = "practice-onprem-token"  # and its on-prem connector's token
FILTER = "type part of a name to filter"  # the explorer's filter box, by what it says

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def tenant_url(_practice_server: tuple[str, Any]) -> Iterator[str]:
    """The session's practice server serving one fresh small tenant for the whole module (the
    notebooks only read it)."""
    url, current = _practice_server
    current.app = Sandbox(Tenant(load_tenant(SMALL))).app
    try:
        yield url
    finally:
        current.app = None


PROFILES = """\
[profiles.practice]
kind = "cloud"
tenant = "{url}"
client_id = "scim.integration@acme.com"
client_secret = "env:PRACTICE_SECRET"
reference = "practice-onprem"

[profiles.practice-onprem]
kind = "onprem"
base_url = "{url}/SCIMConnector/v2"
token = "env:PRACTICE_ONPREM_TOKEN"
"""


@pytest.fixture(scope="module")
def lab(tenant_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("lab")
    (root / "opskit.toml").write_text(PROFILES.format(url=tenant_url), encoding="utf-8")
    for name in NOTEBOOKS:  # the parameter a person edits to pick a profile
        nb = nbformat.read(SOURCE / f"{name}.ipynb", as_version=4)
        [params] = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        params.source = params.source.replace('profile = "sandbox"', 'profile = "practice"')
        nbformat.write(nb, root / f"{name}.ipynb")
    secrets = {"PRACTICE_SECRET": SECRET, "PRACTICE_ONPREM_TOKEN": ONPREM_TOKEN}
    with running_lab(root, tmp_path_factory.mktemp("lab-state"), secrets) as running:
        yield running


@dataclass
class Ran:
    """The page after Run All in every notebook, each notebook's panel and its saved form."""

    lab: Lab
    watched: Watched
    panels: dict[str, Any]
    saved: dict[str, dict[str, Any]]

    @property
    def page(self) -> Any:
        return self.watched.page

    def show(self, name: str) -> Any:
        activate(self.page, f"{name}.ipynb")
        return self.panels[name]


@pytest.fixture(scope="module")
def ran(chromium: Any, lab: Lab) -> Iterator[Ran]:
    watched = watch(chromium)
    page = watched.page
    page.goto(lab.tree(), wait_until="load")
    panels = {}
    for name in NOTEBOOKS:  # each runs while the next opens
        panels[name] = open_notebook(page, f"{name}.ipynb")
        run_all(page)
    saved = {}
    for name in NOTEBOOKS:
        activate(page, f"{name}.ipynb")
        wait_until_ran(page, panels[name])
        shot(page, f"lab-{name}-ran")
        saved[name] = save(page, lab, f"{name}.ipynb")
    yield Ran(lab, watched, panels, saved)
    page.context.close()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_run_all_runs_every_cell_without_an_error(ran: Ran, name: str) -> None:
    cells = [c for c in ran.saved[name]["cells"] if c["cell_type"] == "code"]
    errors = [f"{o['ename']}: {o['evalue']}" for c in cells for o in c["outputs"]
              if o["output_type"] == "error"]
    assert errors == []
    assert all(c["execution_count"] for c in cells)  # Run All did not stop early
    # In the page: no traceback among the stderr outputs (where progress bars write too).
    stderr = ran.panels[name].locator(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    assert not [t for t in stderr.all_inner_texts() if "Traceback" in t]


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_plotly_figures_render_as_svg(ran: Ran, name: str) -> None:
    panel = ran.show(name)
    figures = panel.locator(".js-plotly-plot")
    assert figures.count() > 0
    for figure in figures.all():
        figure.scroll_into_view_if_needed()
        assert figure.locator("svg.main-svg").count() > 0
        box = figure.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100  # drawn, sized
    figures.first.scroll_into_view_if_needed()
    shot(ran.page, f"lab-{name}-figure")


def explorer(ran: Ran) -> Any:
    panel = ran.show("permission_audit")
    view = panel.locator(".jupyter-widgets.widget-vbox").filter(
        has=ran.page.get_by_placeholder(FILTER)).first  # the outermost: the explorer
    view.scroll_into_view_if_needed()
    return view


def test_the_explorer_renders_as_widgets_not_text(ran: Ran) -> None:
    panel = ran.show("permission_audit")
    assert "VBox(" not in panel.inner_text()  # a widget the page cannot render shows its repr
    view = explorer(ran)
    assert view.locator(".widget-toggle-buttons button").all_inner_texts() == [
        "Folder", "User", "Group", "Secret"]
    assert view.locator(".widget-select select option").count() > 0
    shot(ran.page, "lab-explorer")


def test_a_filter_narrows_the_names_and_a_pick_shows_who_reaches_it(ran: Ran) -> None:
    view = explorer(ran)
    options = view.locator(".widget-select select option")
    before = options.all_inner_texts()
    view.get_by_placeholder(FILTER).fill("datab")
    # The kernel answers with the names that match: the list in the page changes.
    ran.page.wait_for_function(
        "([el, n]) => el.querySelectorAll('option').length !== n",
        arg=[view.locator(".widget-select select").element_handle(), len(before)])
    assert options.all_inner_texts() == ["/IT/Databases", "/IT/Databases/Prod"]
    shot(ran.page, "lab-explorer-filtered")

    shown = view.locator(".widget-output:not(.opskit-why)")  # the table, not the Why
    tables = []
    for folder in ("/IT/Databases/Prod", "/IT/Databases"):  # each pick replaces the table
        view.locator(".widget-select select").select_option(folder)
        shown.get_by_text(f"who reaches {folder}, strongest right first").wait_for()
        assert shown.locator("table tbody tr").count() > 0
        tables.append(shown.locator("table").inner_text())
        shot(ran.page, f"lab-explorer-picked-{folder.strip('/').replace('/', '-')}")
    # Prod breaks inheritance (tests/data/small.yaml): Vault Admins own it, carol views it.
    assert "Vault Admins" in tables[0] and "carol@acme.com" in tables[0]
    assert tables[1] != tables[0] and "who reaches /IT/Databases/Prod" not in shown.inner_text()


def test_the_page_asked_no_other_machine_and_logged_no_error(ran: Ran) -> None:
    """Last: over everything the tests above did in the page."""
    assert ran.watched.outside == []
    assert ran.watched.errors == []
