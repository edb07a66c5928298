"""The four notebooks in JupyterLab, in Chromium, as a person runs them (issue 16).

One JupyterLab (its own free port and token) serves a copy of opskit/notebooks/ and an
opskit.toml beside them whose `practice` profile points at the practice tenant, as
docs/profiles.md tells a person to do: the kernels find it in their working folder, and each
notebook's `profile` parameter is set to it. One page opens the four notebooks and runs all
cells in each, so the kernels run side by side; then each notebook is read as it shows.
Screenshots of each step: build/browser/lab-*.png.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest

from opskit import audit
from opskit.inputs.audit import read_planned_changes
from opskit.report.figures import rows_behind
from opskit.reports.permission_audit import AuditRun, run_permission_audit
from opskit.sandbox.app import Sandbox
from opskit.sandbox.store import Tenant
from opskit.sandbox.tenantfile import load_tenant

from ..conftest import SMALL
from .lab import (
    Lab,
    activate,
    click_plot_point,
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


@pytest.fixture(scope="module")
def expected(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    """The audit the notebook runs, run here in-process on the same tenant and profiles: what
    the page should show."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OPSKIT_CONFIG", str(lab.root / "opskit.toml"))
        env.setenv("PRACTICE_SECRET", SECRET)
        env.setenv("PRACTICE_ONPREM_TOKEN", ONPREM_TOKEN)
        return run_permission_audit("practice", history_dir=tmp_path_factory.mktemp("history"),
                                    progress=False)


def widget_text(locator: Any) -> str:
    return " ".join(locator.inner_text().split())


def test_a_click_on_a_tree_box_shows_the_rows_behind_it(ran: Ran, expected: AuditRun) -> None:
    panel = ran.show("permission_audit")
    folder = "/IT/Databases"  # inherits /IT: DBA has Edit, so Alice and bob (in DBA Juniors)
    figure = panel.locator(".js-plotly-plot").filter(has_text="Databases").first  # visibility
    below = figure.locator("xpath=ancestor::div[contains(@class,'widget-vbox')][1]").locator(
        ".widget-output")
    assert widget_text(below) == ""  # nothing before the click
    click_plot_point(ran.page, figure, label="Databases")
    rows = rows_behind("folder_visibility", folder, expected)
    below.get_by_text(f"{len(rows)} row(s)").wait_for()
    shown = widget_text(below)
    assert folder in shown
    reaches = rows[rows["row"] == "reaches"]
    assert set(reaches["name"]) == {"scim.integration@acme.com", "Alice@Acme.com", "bob@acme.com"}
    assert below.locator("table tbody tr").count() == len(rows)
    for name, via in zip(reaches["name"], reaches["via"], strict=True):
        assert name in shown and via in shown
    below.scroll_into_view_if_needed()
    shot(ran.page, "lab-figure-click-rows")


def test_a_why_pick_shows_every_path_and_the_changes_that_remove_it(
        ran: Ran, expected: AuditRun) -> None:
    view = explorer(ran)
    view.get_by_placeholder(FILTER).fill("datab")
    view.locator(".widget-select select option", has_text="/IT/Databases/Prod").wait_for()
    view.locator(".widget-select select").select_option("/IT/Databases")
    pick = view.locator(".opskit-why-pick select")
    pick.locator("option", has_text="bob@acme.com").wait_for(state="attached")
    pick.select_option(label="bob@acme.com")
    answer = audit.why(expected.access, "bob@acme.com", "/IT/Databases")
    why = view.locator(".opskit-why")
    why.get_by_text(answer.summary()).wait_for()
    shown = widget_text(why)
    # bob is in DBA Juniors, a member of DBA, which holds Edit on /IT (tests/data/small.yaml)
    assert "DBA > DBA Juniors" in shown and "Inheritance root: grants set on /IT" in shown
    assert len(answer.removals) > 1 and all(" ".join(c.text.split()) in shown
                                            for c in answer.removals)
    why.scroll_into_view_if_needed()
    shot(ran.page, "lab-why")


def test_a_what_if_preview_shows_who_loses_what_and_writes_it_as_a_csv(
        ran: Ran, expected: AuditRun) -> None:
    explorer(ran)
    tabs = ran.panels["permission_audit"].locator(".opskit-explorer-tabs").first
    tabs.locator(".lm-TabBar-tab", has_text="What if").click()
    panel = tabs.locator(".opskit-whatif")
    panel.locator(".opskit-whatif-kind select").select_option(label="remove a user from a group")
    panel.locator(".opskit-whatif-target input").fill("DBA")
    which = panel.locator(".opskit-whatif-detail select")
    which.locator("option", has_text="Alice@Acme.com").wait_for(state="attached")
    panel.locator(".opskit-whatif-preview").click()
    change = audit.RemoveMember("DBA", "Alice@Acme.com")
    result = audit.what_if(expected.inventory, change, reference=expected.reference_inventory,
                           tenant="acme")
    output = panel.locator(".opskit-whatif-output")
    output.get_by_text(result.summary().split("\n")[0]).wait_for()
    # Alice loses DBA's Edit on /IT and /IT/Databases; Prod breaks inheritance and keeps its own
    lost = result.access[result.access["change"] == "loses"]
    assert sorted(lost["folder"]) == ["/IT", "/IT/Databases"]
    shown_rows = [" ".join(r.split()) for r in output.locator("table").first.locator(
        "tbody tr").all_inner_texts()]
    assert shown_rows == [f"Alice@Acme.com {folder} Edit loses DBA" for folder in lost["folder"]]
    shot(ran.page, "lab-whatif-preview")

    written = ran.lab.root / "whatif-planned-changes.csv"
    panel.locator(".opskit-whatif-csv").click()
    panel.locator(".opskit-whatif-links a", has_text=written.name).wait_for()
    planned = read_planned_changes(written, [expected.inventory, expected.reference_inventory])
    assert planned[["change", "group", "principal"]].values.tolist() == [
        ["remove-member", "DBA", "Alice@Acme.com"]]
    assert audit.changes_of(planned) == [change]


def column(page: Any, name: str) -> Any:
    return page.locator("thead th").filter(has_text=re.compile(f"^{re.escape(name)}$"))


def test_a_table_sorted_and_searched_exports_the_rows_it_shows(
        ran: Ran, expected: AuditRun) -> None:
    panel = ran.show("permission_audit")
    table = panel.locator(".dt-container").filter(has=column(ran.page, "user")).filter(
        has=column(ran.page, "folder")).first  # the access sample: one row per user
    table.scroll_into_view_if_needed()
    sample = expected.access_sample()
    rows = table.locator("tbody tr")
    assert rows.count() == len(sample)
    column(table, "user").click()  # sorted by user, A to Z
    users = sorted(sample["user"], key=str.lower)
    ran.page.wait_for_function("([t, first]) => t.querySelector('tbody tr td').innerText "
                               "=== first", arg=[table.element_handle(), users[0]])
    table.locator(".dt-search input").fill("direct")
    # The users granted directly (tests/data/small.yaml): Alice on /HR, the service account on
    # /IT, carol on /IT/Databases/Prod; bob only through DBA Juniors.
    direct = sample[sample["via"] == "direct"]
    wanted = sorted(direct["user"], key=str.lower)
    assert "bob@acme.com" not in wanted and len(wanted) == 3
    ran.page.wait_for_function("([t, n]) => t.querySelectorAll('tbody tr').length === n",
                               arg=[table.element_handle(), len(wanted)])
    shown = [r.split("\t") for r in rows.all_inner_texts()]
    assert [r[0] for r in shown] == wanted
    shot(ran.page, "lab-table-sorted-searched")
    with ran.page.expect_download() as download:
        table.locator(".buttons-csv").click()
    exported = list(csv.reader(io.StringIO(
        Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert exported[0] == list(sample.columns)
    assert exported[1:] == [[c.strip() for c in r] for r in shown]
    assert exported[1:] == direct.set_index("user").loc[wanted].reset_index().astype(
        str).values.tolist()


def test_the_page_asked_no_other_machine_and_logged_no_error(ran: Ran) -> None:
    """Last: over everything the tests above did in the page."""
    assert ran.watched.outside == []
    assert ran.watched.errors == []
