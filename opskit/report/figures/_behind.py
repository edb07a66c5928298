"""From a picture to the rows behind it: what a click on a figure's box, cell or bar shows.

:func:`points` names every clickable mark of a figure by what it stands for (a folder, a group
× folder, a right, a combination of systems, a group's differing members), keyed by where
plotly reports the click (trace, point number); :func:`rows_behind` gives the rows behind one
of them as a frame. Both are plain functions of the report's data, so they are tested without
a browser; :func:`clickable` only wires them:

- in JupyterLab, a ``go.FigureWidget`` whose clicks write the rows into an ``Output`` below it;
- headless (``opskit run``/``opskit report``), the static figure as before, then a block of
  collapsed ``<details>``, one per mark (bounded), and a small script that opens the clicked
  mark's block in report.html. Anchors are hashes, never names; every cell is escaped.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from ..escaping import html_text
from ._audit import ROOT, folder_tree, group_folder_matrix, rights_distribution
from ._groupgap import ONLY_IN_IGA, ONLY_ON_PLATFORM, membership_rows, presence_combinations

FOLDER_VISIBILITY, FOLDER_OWNER, GROUP_FOLDER, RIGHTS_BARS, PRESENCE, MEMBERSHIP = (
    "folder_visibility", "folder_owner", "group_folder", "rights", "presence", "membership")
KINDS = (FOLDER_VISIBILITY, FOLDER_OWNER, GROUP_FOLDER, RIGHTS_BARS, PRESENCE, MEMBERSHIP)
PAGE = 100  # rows behind one mark shown in JupyterLab (the first page)
HTML_ROWS = 8  # rows per mark in report.html, per kind of row; the rest are counted
HTML_MARKS = 100  # marks per figure with their rows in report.html (a treemap may have 2,500)
EMPTY = pd.DataFrame({"folder": pd.Categorical([]), "user": [], "right": [], "via": []})
EMPTY_GRANTS = pd.DataFrame({c: [] for c in ("principal", "right", "principal_type",
                                              "granted_on")}, dtype=object)
EMPTY_SECRETS = pd.DataFrame({"name": []}, dtype=object)
SIDES = (ONLY_IN_IGA, ONLY_ON_PLATFORM)  # the membership figure's two traces, in order

Where = tuple[int, Hashable]  # (trace index, point number: an int, or (row, column))


def _audit(source: Any) -> Any:
    return getattr(source, "audit", source)


def _report(source: Any) -> Any:
    return getattr(source, "report", source)


# --------------------------------------------------------------------------- what was clicked
def points(kind: str, source: Any) -> dict[Where, Any]:
    """Every clickable mark of the ``kind`` figure drawn from ``source``: (trace, point
    number) → its key, the value :func:`rows_behind` takes as ``point``.

    Keys: a folder path (``folder_visibility``, ``folder_owner``); ``(group, folder)``
    (``group_folder``, cells with a grant); ``(right, "group" | "user" | "pairs")``
    (``rights``: the left bars, grants through a group or directly; the right bars, pairs);
    a tuple of systems (``presence``); ``(group, platform name, side)`` (``membership``).
    """
    if kind in (FOLDER_VISIBILITY, FOLDER_OWNER):
        tree = folder_tree(_audit(source))
        return {(0, i): path for i, path in enumerate(tree["id"].tolist()) if path != ROOT}
    if kind == GROUP_FOLDER:
        matrix = group_folder_matrix(source)
        if matrix.empty:
            return {}
        grid = matrix.to_numpy(dtype=object)  # not .at: each deep-copies the frame's attrs
        return {(0, (r, c)): (str(g), str(f)) for r, g in enumerate(matrix.index)
                for c, f in enumerate(matrix.columns) if grid[r, c] is not None}
    if kind == RIGHTS_BARS:
        rights = rights_distribution(source)["right"].tolist()
        return {(trace, i): (right, what) for trace, what in enumerate(("group", "user", "pairs"))
                for i, right in enumerate(rights)}
    if kind == PRESENCE:
        combos = presence_combinations(_report(source).presence)
        return {(0, i): tuple(c) for i, c in enumerate(combos["systems"].tolist())}
    if kind == MEMBERSHIP:
        rows = membership_rows(_report(source).membership)
        return {(trace, i): (row[3], row[4], side) for trace, side in enumerate(SIDES)
                for i, row in enumerate(rows)}
    raise ValueError(f"no figure kind {kind!r}; the kinds are {', '.join(KINDS)}")


def _where(trace: int, point_number: Any) -> Where:
    """A click's place as :func:`points` keys it (a heatmap reports [row, column])."""
    if isinstance(point_number, list | tuple):
        return trace, tuple(int(n) for n in point_number)
    return trace, int(point_number)


# --------------------------------------------------------------------------- the rows
def rows_behind(kind: str, point: Any, source: Any, *, table: pd.DataFrame | None = None
                ) -> pd.DataFrame:
    """The rows behind one mark of a figure (``point``: its key in :func:`points`).

    - a folder box: who reaches the folder (``row`` = ``reaches``: user, right, via), the
      grants that apply there (``grant``: principal, right, how it is granted, where set) and
      its secrets (``secret``);
    - a group × folder cell: the members of the group who reach the folder through that
      grant (user, right, via);
    - a rights bar: the folder grants with that right (through a group or directly), or the
      user–folder pairs whose strongest right it is (``folders``: how many folders take the
      grants of ``folder``);
    - a presence bar: the groups in that combination of systems, as the presence table has
      them;
    - a membership bar: the group's members only on that side.

    ``table``: the access rows on the folders asked about, expanded beforehand (a report
    asking for many marks expands them once); None: the mark's own folder is expanded.
    """
    if kind in (FOLDER_VISIBILITY, FOLDER_OWNER):
        return _folder_rows(_audit(source), str(point), table)
    if kind == GROUP_FOLDER:
        group, folder = point
        return _cell_rows(_audit(source).access, str(group), str(folder), table)
    if kind == RIGHTS_BARS:
        right, what = point
        return _right_rows(_audit(source).access, right, what)
    if kind == PRESENCE:
        presence = _report(source).presence
        combos = presence_combinations(presence)
        hit = combos[[tuple(c) == tuple(point) for c in combos["systems"].tolist()]]
        names = set(hit["groups"].iloc[0]) if len(hit) else set()
        return presence[presence["group"].astype(str).isin(names)].reset_index(drop=True)
    if kind == MEMBERSHIP:
        group, platform, side = point
        diff = _report(source).membership
        rows = diff[(diff["group"].astype(str) == group)
                    & (diff["platform_name"].astype(str) == platform) & (diff["side"] == side)]
        return rows.reset_index(drop=True)
    raise ValueError(f"no figure kind {kind!r}; the kinds are {', '.join(KINDS)}")


FOLDER_COLUMNS = ["row", "name", "right", "via", "granted_on"]


@dataclass(frozen=True)
class _FolderParts:
    """Where each folder's grants are set, its grants and its secrets, split once for many
    folders (a report asks for a hundred; filtering the frames for each costs per call)."""

    granted_on: dict[str, list[str]]
    grants: dict[str, pd.DataFrame]
    secrets: dict[str, pd.DataFrame]

    @classmethod
    def of(cls, access: Any, paths: list[str]) -> _FolderParts:
        folders = access.folders[access.folders["path"].isin(paths)]
        granted_on: dict[str, list[str]] = {}
        for p, g in zip(folders["path"].astype(str).tolist(),
                        folders["granted_on"].astype(str).tolist(), strict=True):
            granted_on.setdefault(p, []).append(g)
        grants = access.grants[access.grants["folder"].isin(paths)]
        secrets = access.secrets[access.secrets["folder"].isin(paths)]
        return cls(granted_on,
                   {str(f): rows for f, rows in grants.groupby("folder", sort=False)},
                   {str(f): rows for f, rows in secrets.groupby("folder", sort=False)})


def _folder_path(audit: Any, path: str) -> str:
    """A box may be the cloud connector's path of a folder: the access view's path of it."""
    return _folder_paths(audit)(path)


def _folder_paths(audit: Any) -> Callable[[str], str]:
    """:func:`_folder_path` for many boxes, its lookups built once."""
    access = audit.access
    by_cloud = {ref: i for i, ref in getattr(audit.coverage, "cloud_paths", {}).items()}
    if not by_cloud:
        return str
    known = set(access.folders["path"].astype(str).tolist())
    by_id = access.folders.set_index("id")["path"]

    def path_of(path: str) -> str:
        if path in by_cloud and path not in known:
            return str(by_id.get(by_cloud[path], path))
        return path

    return path_of


def _of_folder(access: Any, table: pd.DataFrame | None, path: str) -> pd.DataFrame:
    """The access rows on folder ``path``: from ``table`` (the rows on some folders, found
    beforehand) when given, else expanded for this folder alone."""
    if table is None:
        return access.rows_on([path])
    return table[table["folder"] == path] if path in table["folder"].cat.categories \
        else table.iloc[0:0]


def _folder_rows(audit: Any, path: str, table: pd.DataFrame | None,
                 parts: _FolderParts | None = None, *, resolved: bool = False) -> pd.DataFrame:
    """``resolved``: ``path`` is already the access view's (see :func:`_folder_path`)."""
    access = audit.access
    path = path if resolved else _folder_path(audit, path)
    reach = _of_folder(access, table, path)
    users, rights, vias = (reach["user"].astype(str).tolist(),
                           reach["right"].astype(str).tolist(), reach["via"].astype(str).tolist())
    # Strongest right first, then by user, as sort_values(["right", "user"], ascending=[False,
    # True], kind="stable") orders categories (by their codes): on lists, as a report asks for
    # a hundred folders and a frame's sort costs per call.
    right_codes, user_codes = (_codes(reach["right"]), _codes(reach["user"]))
    order = sorted(range(len(users)), key=lambda i: (-right_codes[i], user_codes[i]))
    if parts is None:
        parts = _FolderParts.of(access, [path])
    granted_on = parts.granted_on.get(path, [])
    grants = parts.grants.get(path, EMPTY_GRANTS)
    secrets = parts.secrets.get(path, EMPTY_SECRETS)
    # Built as plain rows: a report asks for a hundred folders, and frames cost per call.
    on = granted_on[0] if granted_on else None
    records = [("reaches", users[i], rights[i], vias[i], on) for i in order]
    records += [("grant", n, r, f"to a {k}", g) for n, r, k, g in zip(
        grants["principal"].astype(str).tolist(), grants["right"].astype(str).tolist(),
        grants["principal_type"].tolist(), grants["granted_on"].astype(str).tolist(),
        strict=True)]
    records += [("secret", n, None, None, None) for n in secrets["name"].astype(str).tolist()]
    return pd.DataFrame(records, columns=FOLDER_COLUMNS, dtype=object)


def _codes(column: pd.Series) -> list[Any]:
    """What a sort orders ``column`` by: a category's code, else the value."""
    return column.cat.codes.tolist() if isinstance(column.dtype, pd.CategoricalDtype) \
        else column.tolist()


def _cell_rows(access: Any, group: str, folder: str, table: pd.DataFrame | None
               ) -> pd.DataFrame:
    rows = _of_folder(access, table, folder)
    users, rights, vias = (rows[c].astype(str).tolist() for c in ("user", "right", "via"))
    # A chain starts at the granted group: "All Staff > IT Staff > IT Cloud".
    keep = sorted((i for i, v in enumerate(vias) if v == group or v.startswith(f"{group} > ")),
                  key=users.__getitem__)
    # Plain lists, not a merge and a sort of frames: a report asks for many cells.
    people = access.users
    known = dict(zip(people["userName"].astype(str).tolist(),
                     zip(people["displayName"].tolist(), people["active"].tolist(),
                         strict=True), strict=True))
    missing = (float("nan"), float("nan"))  # as a left merge leaves a user it cannot find
    return pd.DataFrame({
        "user": [users[i] for i in keep],
        "displayName": [known.get(users[i], missing)[0] for i in keep],
        "active": [known.get(users[i], missing)[1] for i in keep],
        "right": [rights[i] for i in keep], "via": [vias[i] for i in keep]})


def _right_rows(access: Any, right: str, what: str) -> pd.DataFrame:
    if what in ("group", "user"):
        grants = access.grants
        own = grants[(grants["folder"] == grants["granted_on"]) & (grants["right"] == right)
                     & (grants["principal_type"] == what)]
        out = own[["folder", "principal", "right", "rights"]].astype({"folder": str,
                                                                      "principal": str})
        out = out.assign(rights=[", ".join(map(str, r)) for r in out["rights"].tolist()])
        return out.sort_values(["folder", "principal"], kind="stable").reset_index(drop=True)
    pairs = access.strongest_where_set()
    pairs = pairs[pairs["right"] == right].sort_values(["user", "folder"], kind="stable")
    first = pairs.head(PAGE)
    users = access.users["userName"].to_numpy(dtype=object)
    folders = access.folders["path"].to_numpy(dtype=object)
    out = pd.DataFrame({
        "user": [str(users[u]) for u in first["user"].tolist()],
        "folder": [str(folders[f]) for f in first["folder"].tolist()],
        "right": right, "via": first["via"].astype(str).tolist(),
        "folders": first["weight"].astype(int).tolist()})
    out.attrs["total"] = len(pairs)
    return out


# --------------------------------------------------------------------------- report.html
def anchor(kind: str, key: Any) -> str:
    """The HTML id of a mark's rows: a hash, so no name reaches an attribute."""
    digest = hashlib.sha256(repr((kind, key)).encode()).hexdigest()[:16]
    return f"opskit-rows-{digest}"


def _describe(kind: str, key: Any) -> str:
    if kind in (FOLDER_VISIBILITY, FOLDER_OWNER):
        return str(key)
    if kind == GROUP_FOLDER:
        return f"{key[0]} on {key[1]}"
    if kind == RIGHTS_BARS:
        right, what = key
        return {"group": f"{right}: folder grants through a group",
                "user": f"{right}: folder grants directly to a user"}.get(
            what, f"{right}: user–folder pairs whose strongest right it is")
    if kind == PRESENCE:
        return " + ".join(key) + (" only" if len(key) == 1 else "")
    return f"{key[0]}: {key[2]}"


def _rows_table(frame: pd.DataFrame) -> str:
    from ..display import cell_html

    head = "".join(f"<th>{html_text(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{cell_html(v)}</td>" for v in row) + "</tr>"
                   for row in frame.to_numpy(dtype=object).tolist())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _bounded(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """At most :data:`HTML_ROWS` rows of each ``row`` kind (a folder's users, grants, secrets),
    and how many were left out."""
    total = int(frame.attrs.get("total", len(frame)))
    if "row" not in frame:
        return frame.head(HTML_ROWS), total - min(len(frame), HTML_ROWS)
    seen: Counter[str] = Counter()
    keep = []
    for kind in frame["row"].tolist():
        seen[kind] += 1
        keep.append(seen[kind] <= HTML_ROWS)
    return frame[keep], total - sum(keep)


def _narrowed(kind: str, source: Any, keys: list[Any],
              path_of: Callable[[str], str]) -> dict[str, pd.DataFrame]:
    """The access table's rows on each folder of ``keys``, found in one pass (a large tenant's
    table has millions of rows); empty for the figures that do not read it. ``path_of``: the
    access view's path of a folder box (:func:`_folder_paths`)."""
    if kind in (FOLDER_VISIBILITY, FOLDER_OWNER):
        paths = [path_of(str(k)) for k in keys]
    elif kind == GROUP_FOLDER:
        paths = [str(k[1]) for k in keys]
    else:
        return {}
    table = _audit(source).access.rows_on(paths)
    return {str(f): rows for f, rows in table.groupby("folder", observed=True, sort=False)}


# Text under its header, as the report's other tables (whose CSS is scoped to each of them).
ROWS_STYLE = ("<style>.opskit-rows-behind th, .opskit-rows-behind td {text-align: left; "
              "vertical-align: top}</style>")
# The one script of a rows block, the same text everywhere: the data it reads (point → anchor)
# is in the block's data-marks attribute, never in script text.
ROWS_SCRIPT = """(function () {
  var block = document.currentScript.parentNode;
  var marks = JSON.parse(block.getAttribute("data-marks"));
  function figure() {  // the plotly figure shown just before this block
    var found = null;
    document.querySelectorAll(".plotly-graph-div").forEach(function (gd) {
      if (block.compareDocumentPosition(gd) & Node.DOCUMENT_POSITION_PRECEDING) found = gd;
    });
    return found;
  }
  function open(e) {
    var p = e.points && e.points[0];
    if (!p) return;
    var id = marks[p.curveNumber + ":" + [].concat(p.pointNumber).join(",")];
    var rows = id && document.getElementById(id);
    if (!rows) return;
    rows.open = true;
    location.hash = id;
  }
  (function attach(tries) {  // plotly.js may still be loading: wait for the figure
    var gd = figure();
    if (gd && typeof gd.on === "function" && gd._fullLayout) gd.on("plotly_click", open);
    else if (tries < 600) setTimeout(function () { attach(tries + 1); }, 100);
  })(0);
})();"""


# The folder figures (visibility, owner) show the same boxes: a box's rows are made once per
# access view, for both.
_FOLDER_BLOCKS: dict[int, tuple[weakref.ref[Any], dict[str, tuple[str, int]]]] = {}


def _folder_blocks(access: Any) -> dict[str, tuple[str, int]]:
    """The blocks made for ``access`` so far (by identity: an access view is not hashable)."""
    held = _FOLDER_BLOCKS.get(id(access))
    if held is not None and held[0]() is access:
        return held[1]
    try:
        ref = weakref.ref(access, lambda _: _FOLDER_BLOCKS.pop(key, None))
    except TypeError:  # an access view that cannot be referred to weakly: made each time
        return {}
    key = id(access)
    _FOLDER_BLOCKS[key] = (ref, {})
    return _FOLDER_BLOCKS[key][1]


def rows_html(kind: str, source: Any) -> str:
    """The block report.html shows under a figure: one collapsed ``<details>`` per mark (the
    first :data:`HTML_MARKS`), each with the rows behind it (:data:`HTML_ROWS` of each kind),
    and the script that opens the clicked mark's block."""
    where = points(kind, source)
    if not where:
        return ""
    marks: dict[str, str] = {}
    parts = []
    shown = list(where.items())[:HTML_MARKS]
    audit = _audit(source) if kind in (FOLDER_VISIBILITY, FOLDER_OWNER) else None
    path_of = str if audit is None else _folder_paths(audit)
    made = {} if audit is None else _folder_blocks(audit.access)
    todo = [key for _, key in shown if audit is None or path_of(str(key)) not in made]
    tables = _narrowed(kind, source, todo, path_of) if todo else {}
    split = None if audit is None or not todo else _FolderParts.of(
        audit.access, [path_of(str(key)) for key in todo])
    for (trace, number), key in shown:
        ident = anchor(kind, key)
        at = ",".join(map(str, number)) if isinstance(number, tuple) else str(number)
        marks[f"{trace}:{at}"] = ident
        on = path_of(str(key)) if audit is not None \
            else str(key[1]) if kind == GROUP_FOLDER else ""
        if on not in made or audit is None:
            narrowed = tables.get(on, EMPTY) if tables else None
            frame = (_folder_rows(audit, on, narrowed, split, resolved=True) if audit is not None
                     else rows_behind(kind, key, source, table=narrowed))
            kept, more = _bounded(frame)
            note = f"<p>… and {more:,} more (click it in the notebook for the first " \
                f"{PAGE:,}).</p>" if more else ""
            body = _rows_table(kept) if len(kept) else "<p><em>No rows.</em></p>"
            made[on] = (body + note, int(frame.attrs.get("total", len(frame))))
        block, total = made[on]
        parts.append(f'<details id="{ident}"><summary>{html_text(_describe(kind, key))} '
                     f"({total:,} rows)</summary>{block}</details>")
    left = len(where) - len(parts)
    tail = (f"<p><em>… {left:,} more marks, whose rows are in the notebook (click them "
            "there).</em></p>") if left > 0 else ""
    # The marks are hashes and point numbers only: safe in an attribute once quoted.
    data = html_text(json.dumps(marks, separators=(",", ":")))
    return (f'<div class="opskit-rows-behind" data-marks="{data}">{ROWS_STYLE}'
            f"<p><em>Click a mark in the figure above to open the rows behind it:</em></p>"
            f"{''.join(parts)}{tail}<script>{ROWS_SCRIPT}</script></div>")


# --------------------------------------------------------------------------- the wiring
@dataclass(frozen=True)
class Clickable:
    """A figure whose marks show the rows behind them when clicked (see the module).

    IPython shows it as a widget in JupyterLab and as the static figure and its rows block
    headless."""

    figure: go.Figure
    kind: str
    source: Any

    def widget(self) -> Any:
        """The figure as a ``go.FigureWidget`` over an ``Output`` the clicks write into."""
        import ipywidgets as widgets
        from IPython.display import Markdown

        from ..display import table
        from ..escaping import markdown_text

        where = points(self.kind, self.source)
        shown = go.FigureWidget(self.figure)
        out = widgets.Output()

        def on_click(trace: Any, clicked: Any, _state: Any) -> None:
            if not clicked.point_inds:
                return  # plotly calls every trace's handler; this trace was not clicked
            key = where.get(_where(clicked.trace_index, clicked.point_inds[0]))
            if key is None:
                return
            rows = rows_behind(self.kind, key, self.source)
            total = int(rows.attrs.get("total", len(rows)))
            # Written as outputs, not under `with out:`, so it is the same with or without a
            # kernel capturing (tests click in-process).
            out.outputs = ()
            out.append_display_data(Markdown(
                f"**{markdown_text(_describe(self.kind, key))}**: {total:,} row(s)"
                + (f", the first {PAGE:,} shown" if total > min(len(rows), PAGE) else "")))
            out.append_display_data(table(rows.head(PAGE), empty="No rows behind this mark."))

        for trace in shown.data:
            trace.on_click(on_click)
        return widgets.VBox([shown, out])

    def shown(self) -> list[Any]:
        """What a notebook shows: headless, the static figure and its rows block (nothing
        waits, no widget state is saved); in JupyterLab, :meth:`widget`."""
        from IPython.display import HTML

        from ..display import headless

        if not headless():
            return [self.widget()]
        block = rows_html(self.kind, self.source)
        return [self.figure, HTML(block)] if block else [self.figure]

    def _ipython_display_(self) -> None:
        from IPython.display import display

        for item in self.shown():
            display(item)


def clickable(figure: go.Figure, kind: str, source: Any) -> Clickable | go.Figure:
    """``figure`` with its marks wired to the rows behind them; an empty figure as it is."""
    if kind not in KINDS:
        raise ValueError(f"no figure kind {kind!r}; the kinds are {', '.join(KINDS)}")
    meta = figure.layout.meta
    if isinstance(meta, dict) and meta.get("empty"):
        return figure
    return Clickable(figure, kind, source)


__all__ = ["KINDS", "Clickable", "anchor", "clickable", "points", "rows_behind",
           "rows_html"]
