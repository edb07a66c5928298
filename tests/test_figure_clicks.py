"""From a picture to the rows behind it (issue 16, item 2): what a click on a treemap box, a
heatmap cell or a bar shows, in-process on the demo tenant's audit and a small group gap; the
JupyterLab widget clicked without a browser; the headless output static. report.html's rows
blocks are clicked with a real mouse in Chromium on the demo's report
(tests/browser/test_demo_pages.py: a tree box and a heatmap cell) and in JupyterLab
(tests/browser/test_lab.py)."""

from __future__ import annotations

import re
from pathlib import Path

import ipywidgets
import plotly.graph_objects as go
import pytest
from IPython.display import HTML
from plotly.callbacks import Points
from plotly.offline import get_plotlyjs

from opskit import audit
from opskit.groupgap import GroupGapReport, group_gap
from opskit.inventory import fetch_inventory
from opskit.report.display import _offline_renderer
from opskit.report.escaping import plot_text
from opskit.report.figures import (
    Clickable,
    clickable,
    folder_owner_figure,
    folder_visibility_figure,
    group_folder_figure,
    group_folder_matrix,
    membership_figure,
    points,
    presence_figure,
    rights_distribution,
    rights_figure,
    rows_behind,
    rows_html,
)
from opskit.report.figures._behind import HTML_ROWS, PAGE
from opskit.report.record import RUN_DIR_ENV

from .test_groupgap_report import small, source  # noqa: F401  (a small group gap)


@pytest.fixture(scope="module")
def demo() -> audit.PermissionAudit:
    """The demo tenant (scale 1, seed 0) audited against its on-prem view."""
    cloud = fetch_inventory("sandbox", progress=False, secret_permissions=True)
    onprem = fetch_inventory("sandbox-onprem", progress=False, secret_permissions=True)
    return audit.audit_permissions(cloud, onprem, tenant="acme")


def members(demo: audit.PermissionAudit, group: str) -> set[str]:
    """Every user in ``group``, nested groups included, read from the group reach."""
    reach = demo.access.reach
    code = reach.groups.index[reach.groups["displayName"] == group][0]
    ids = set(reach.users.loc[reach.users["group"] == code, "user_id"])
    users = demo.access.users
    return set(users.loc[users["id"].isin(ids), "userName"])


# --------------------------------------------------------------------------- rows_behind
@pytest.mark.parametrize("kind", ["folder_visibility", "folder_owner"])
def test_a_folder_box_shows_who_reaches_it_its_grants_and_secrets(
        demo: audit.PermissionAudit, kind: str) -> None:
    figure = (folder_visibility_figure if kind == "folder_visibility" else
              folder_owner_figure)(demo)
    where = points(kind, demo)
    # Each mark is the box plotly reports at that point number: its id is the folder, escaped.
    ids = figure.data[0].ids
    assert all(ids[i] == plot_text(path) for (_, i), path in where.items())
    assert len(where) == len(ids) - 1 == 100  # every folder but the root box
    rows = rows_behind(kind, "/IT", demo)
    reaches = rows[rows["row"] == "reaches"]
    assert set(reaches["name"]) == set(demo.access.who_reaches("/IT")["user"])
    assert "hannah.wang@acme.com" in set(reaches["name"])  # the planted direct grant
    direct = reaches[reaches["name"] == "hannah.wang@acme.com"]
    assert direct[["right", "via"]].values.tolist() == [["Edit", "direct"]]
    grants = rows[rows["row"] == "grant"]
    assert {"IT Admins", "IT Staff", "hannah.wang@acme.com"} <= set(grants["name"])
    secrets = rows[rows["row"] == "secret"]
    assert secrets.empty  # /IT holds no secret itself; /IT/Identity holds four
    inner = rows_behind(kind, "/IT/Identity", demo)
    assert set(inner.loc[inner["row"] == "secret", "name"]) == set(
        demo.access.secrets.loc[demo.access.secrets["folder"] == "/IT/Identity", "name"])
    assert set(inner.loc[inner["row"] == "reaches", "granted_on"]) == {"/IT"}  # inherits


def test_a_heatmap_cell_shows_the_members_reaching_the_folder_through_that_grant(
        demo: audit.PermissionAudit) -> None:
    matrix = group_folder_matrix(demo)
    figure = group_folder_figure(demo)
    where = points("group_folder", demo)
    for (_, (r, c)), (group, folder) in where.items():
        assert figure.data[0].y[r] == plot_text(group) and figure.data[0].x[c] == plot_text(
            folder)
        assert matrix.at[group, folder] is not None  # only cells with a grant
    assert (0, (matrix.index.get_loc("All Staff"), matrix.columns.get_loc("/Shared"))) in where
    rows = rows_behind("group_folder", ("All Staff", "/Shared"), demo)
    assert set(rows["user"]) == members(demo, "All Staff")  # every member, nested included
    assert all(v == "All Staff" or v.startswith("All Staff > ") for v in rows["via"])
    assert set(rows["right"]) == {matrix.at["All Staff", "/Shared"]}
    assert any(" > " in v for v in rows["via"])  # nested groups counted


def test_a_rights_bar_shows_its_grants_or_its_pairs(demo: audit.PermissionAudit) -> None:
    dist = rights_distribution(demo).set_index("right")
    figure = rights_figure(demo)
    where = points("rights", demo)
    for (trace, i), (right, _what) in where.items():
        assert figure.data[trace].x[i] == plot_text(right)
    for right in ("View", "Owner"):
        for what, column in (("group", "grants_group"), ("user", "grants_user")):
            grants = rows_behind("rights", (right, what), demo)
            assert len(grants) == dist.at[right, column]
            assert set(grants["right"]) <= {right}
        pairs = rows_behind("rights", (right, "pairs"), demo)
        assert pairs["folders"].sum() <= dist.at[right, "pairs"]  # the first page of them
        assert pairs.attrs["total"] >= len(pairs) > 0 and set(pairs["right"]) == {right}
    owners = rows_behind("rights", ("Owner", "user"), demo)
    assert "patricia.santos@acme.com" in set(owners["principal"])


def test_group_gap_bars_show_their_groups_and_members(small: GroupGapReport) -> None:  # noqa: F811
    presence = presence_figure(small)
    where = points("presence", small)
    assert [presence.data[0].x[i] for (_, i) in where] == list(presence.data[0].x)
    everywhere = rows_behind("presence", ("IGA", "Platform", "Secret Server"), small)
    assert everywhere["group"].tolist() == ["A"]
    assert rows_behind("presence", ("Platform",), small)["group"].tolist() == ["D"]
    membership = membership_figure(small)
    where = points("membership", small)
    assert where[(0, 0)] == ("A", "A", "only in the IGA")
    assert membership.data[0].y[0] == "A"
    added = rows_behind("membership", where[(0, 0)], small)
    assert sorted(added["user_name"]) == ["eve", "fay"]
    assert rows_behind("membership", where[(1, 0)], small)["user_name"].tolist() == ["bob"]
    with pytest.raises(ValueError, match="no figure kind 'pie'; the kinds are folder_visibility"):
        rows_behind("pie", "x", small)


# --------------------------------------------------------------------------- JupyterLab
def test_clicking_the_widget_writes_the_rows_below_it(demo: audit.PermissionAudit,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    shown = clickable(group_folder_figure(demo), "group_folder", demo)
    assert isinstance(shown, Clickable)
    [box] = shown.shown()
    figure, out = box.children
    assert isinstance(figure, go.FigureWidget) and isinstance(out, ipywidgets.Output)
    matrix = group_folder_matrix(demo)
    cell = [matrix.index.get_loc("All Staff"), matrix.columns.get_loc("/Shared")]
    # What plotly's widget hands each trace on a click (here on the heatmap, trace 0).
    figure.data[0]._dispatch_on_click(Points(point_inds=[cell], xs=["/Shared"], ys=["All Staff"],
                                             trace_name="", trace_index=0), None)
    [title, rows] = out.outputs
    everyone = sorted(members(demo, "All Staff"))
    assert len(everyone) > PAGE  # so the first page is shown, and says so
    assert title["data"]["text/markdown"] == (f"**All Staff on /Shared**: {len(everyone):,} "
                                              f"row(s), the first {PAGE} shown")
    html = rows["data"]["text/html"]
    assert all(user in html for user in everyone[:PAGE]) and everyone[PAGE] not in html


def test_headless_shows_the_static_figure_and_its_rows_block(
        small: GroupGapReport, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # noqa: F811
    monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path))
    figure = membership_figure(small)
    shown = clickable(figure, "membership", small)
    assert isinstance(shown, Clickable)
    static, block = shown.shown()
    assert static is figure and type(static) is go.Figure  # no widget, no widget state
    assert isinstance(block, HTML) and block.data.count("<details id=") == 2
    empty = membership_figure(group_gap(source("Platform", {"A": ["ann"]})))
    assert clickable(empty, "membership", small) is empty  # nothing to click


def test_rows_block_is_bounded_and_names_stay_text() -> None:
    hostile = '"><img src=x onerror=alert(1)>'
    report = group_gap(source("Platform", {hostile: ["ann"] * 1, "B": []}),
                       iga=source("IGA", {hostile: [f"u{i}" for i in range(30)]}))
    block = rows_html("membership", report)
    assert "<img" not in block and "&lt;img" in block
    ids = re.findall(r'id="([^"]*)"', block)
    assert ids and all(re.fullmatch(r"opskit-rows-[0-9a-f]{16}", i) for i in ids)
    assert block.count("<tr>") <= 2 * (HTML_ROWS + 1)  # header and at most HTML_ROWS a side
    assert "… and 22 more" in block


# --------------------------------------------------------------------------- report.html
def report_page(tmp_path: Path, demo: audit.PermissionAudit) -> Path:
    """A page holding the two figures as report.html holds them: the renderer's HTML of each
    figure, then its rows block, with plotly.js loaded once."""
    renderer = _offline_renderer()
    body = []
    for figure, kind in ((folder_owner_figure(demo), "folder_owner"),
                         (group_folder_figure(demo), "group_folder")):
        body.append(renderer.to_mimebundle(figure.to_dict())["text/html"])
        body.append(rows_html(kind, demo))
    page = tmp_path / "report.html"
    page.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'>"
                    f"<script>{get_plotlyjs()}</script></head><body>{''.join(body)}"
                    f"</body></html>")
    return page
