"""The permission audit's figures: the folder tree (by visibility, by who holds Owner), groups ×
folders by right, and the distribution of rights.

Each takes a :class:`opskit.audit.PermissionAudit` (or anything holding one as ``.audit``,
such as ``opskit.reports.permission_audit.AuditRun``) and follows the package's convention.
The folder tree is drawn as a treemap whose areas count folders; on a large tenant the deepest
levels are folded into their ancestors so the figure stays readable and the report small (at
most :data:`MAX_TREE_NODES` rectangles), and the caption says so.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ...audit import RIGHTS
from ..escaping import plot_text
from ._common import captioned, empty_figure, names_hover

MAX_TREE_NODES = 2500  # boxes in a tree figure (about 350 bytes each): deeper levels folded
SHOWN_LEVELS = 3  # levels drawn at once on a large tree (click a box to go deeper)
TOP_GROUPS, TOP_FOLDERS = 20, 25
ROOT = "/"  # the tree's root node: every top-level folder hangs under it

VISIBLE, HIDDEN, HIDDEN_BELOW, NOT_MEASURED = ("visible", "hidden", "inside a hidden folder",
                                               "not measured")
VISIBILITY_COLOURS = {VISIBLE: "#2e7d32", HIDDEN: "#c62828", HIDDEN_BELOW: "#ef9a9a",
                      NOT_MEASURED: "#b0bec5"}
BY_GROUP, BY_PERSON, SA_ONLY, NO_OWNER, NOT_IN_VIEW = (
    "a group of people", "a person, directly", "only the service account", "nobody",
    "not in this view")
OWNER_COLOURS = {SA_ONLY: "#d84315", NO_OWNER: "#4e342e", NOT_IN_VIEW: "#cfd8dc"}
HOLDER_COLOURS = ("#1565c0", "#00897b", "#7b1fa2", "#5c6bc0", "#2e7d32", "#0277bd", "#ad1457",
                  "#6d4c41", "#00838f", "#9e9d24")  # the main Owner holders, most folders first
OTHER_HOLDER = "#90a4ae"
ROOT_COLOUR = "#eceff1"
MIXED = "#9ccc65"  # a folded rectangle that is visible but holds hidden folders
RIGHT_COLOURS = {"View": "#c6dbef", "Add Secret": "#6baed6", "Edit": "#2171b5",
                 "Owner": "#08306b"}
OTHER_RIGHT = "#9e9e9e"
GROUP_COLOUR, USER_COLOUR = "#1565c0", "#f9a825"

VISIBILITY_TITLE = "Folder tree: what the cloud connector sees"
VISIBILITY_CAPTION = ("Boxes are folders, sized by the folders inside. Green: returned by the "
                      "cloud connector; red: hidden from it, pink: inside a red one. The IGA "
                      "sees neither.")
UNMEASURED_CAPTION = ("Boxes are folders, sized by the folders inside. Grey: no reference view, "
                      "so what the cloud connector hides is not measured.")
OWNER_TITLE = "Folder tree: who holds Owner"
OWNER_CAPTION = ("Boxes are folders, sized by the folders inside, coloured by who holds Owner "
                 "(legend); orange: only the service account, so no person can manage it.")
HEATMAP_TITLE = "Groups × folders: the right each group is granted"
HEATMAP_CAPTION = ("A cell is the right a group is granted on a folder where permissions are set "
                   "(inheriting subfolders take the same); blank: none. Darker is stronger.")
RIGHTS_TITLE = "How rights are distributed"
RIGHTS_CAPTION = ("Left: folder grants where set, by right, through a group or directly. Right: "
                  "user–folder pairs by the user's strongest right there, nesting and "
                  "inheritance counted.")

def _audit(source: Any) -> Any:
    return getattr(source, "audit", source)


def _rank(right: Any) -> int:
    return RIGHTS.index(right) + 1 if right in RIGHTS else 0


# --------------------------------------------------------------------------- the folder tree
def _people_groups(access: Any, sa: str) -> set[str]:
    """Display names of groups reaching at least one user other than the service account."""
    users = access.users
    people = set(users.loc[users["userName"].astype(str).str.casefold() != sa, "id"])
    reach = access.reach
    codes = reach.users.loc[reach.users["user_id"].isin(people), "group"].unique()
    names = reach.groups["displayName"].astype(str).to_numpy()
    return {str(names[c]) for c in codes}


def _owners(access: Any, sa: str) -> dict[str, tuple[str, list[str]]]:
    """Folder path → (who holds Owner, kind of holder; the names, people first)."""
    grants = access.grants
    owners = grants[grants["right"] == "Owner"]
    people_groups = _people_groups(access, sa)
    named: dict[str, list[tuple[int, str]]] = {}
    for folder, kind, name in zip(owners["folder"].tolist(), owners["principal_type"].tolist(),
                                  owners["principal"].tolist(), strict=True):
        name = str(name)
        if kind == "user":
            rank = 2 if name.casefold() == sa else 1
        else:
            rank = 0 if name in people_groups else 2
        label = name if kind == "user" else f"{name} (group)"
        named.setdefault(folder, []).append((rank, label))
    out: dict[str, tuple[str, list[str]]] = {}
    for folder in access.folders["path"].tolist():
        holders = sorted(set(named.get(folder, [])))
        best = holders[0][0] if holders else 3
        out[folder] = ((BY_GROUP, BY_PERSON, SA_ONLY, NO_OWNER)[best],
                       [label for _, label in holders])
    return out


def _parent(path: str) -> str | None:
    head = path.rsplit("/", 1)[0]
    return head or None


def folder_tree(source: Any, *, max_nodes: int = MAX_TREE_NODES) -> pd.DataFrame:
    """The folder tree the tree figures draw: one row per rectangle.

    Columns: ``id`` (path; the root is ``/``), ``parent``, ``label``, ``depth``, ``folders``
    (itself and the folders folded into it), ``secrets``, ``visibility`` (visible, hidden,
    inside a hidden folder, or not measured), ``hidden`` (hidden folders among ``folders``),
    ``owner`` (who holds Owner: a group of people, a person directly, only the service
    account, nobody, or not in this view), ``owners`` (names), ``no_person`` (folders among
    ``folders`` that no person can manage). With more than ``max_nodes`` folders, the folders
    below the deepest level that fits are folded into their ancestor at that level;
    ``attrs["depth"]`` is then that level (else None).
    """
    audit = _audit(source)
    access, cov = audit.access, audit.coverage
    sa = str(audit.service_account).casefold()
    owners = _owners(access, sa)
    if cov.measured:
        paths = cov.folders["path"].tolist()
        secrets = cov.folders["secrets"].tolist()
        vis = [VISIBLE if v else (HIDDEN if r == p else HIDDEN_BELOW) for p, v, r in zip(
            paths, cov.folders["visible"].tolist(), cov.folders["hidden_root"].tolist(),
            strict=True)]
        # Owners are known by the access view's paths; a folder export's are cloud paths.
        by_id = dict(zip(access.folders["id"].tolist(), access.folders["path"].tolist(),
                         strict=True))
        if any(p not in owners for p in paths):
            owners = {**owners, **{ref: owners[by_id[i]] for i, ref in cov.cloud_paths.items()
                                   if i in by_id and by_id[i] in owners}}
    else:
        paths = access.folders["path"].tolist()
        per_folder = access.secrets.groupby("folder").size().to_dict()
        secrets = [int(per_folder.get(p, 0)) for p in paths]
        vis = [NOT_MEASURED] * len(paths)
    rows = pd.DataFrame({"id": paths, "secrets": secrets, "visibility": vis})
    rows = rows.drop_duplicates("id").reset_index(drop=True)
    known = set(rows["id"])
    rows["parent"] = [p if p in known else ROOT for p in map(_parent, rows["id"].tolist())]
    rows["depth"] = [_depth(p, parent, known) for p, parent in
                     zip(rows["id"].tolist(), rows["parent"].tolist(), strict=True)]
    owner = [owners.get(p, (NOT_IN_VIEW, [])) for p in rows["id"].tolist()]
    rows["owner"] = [o[0] for o in owner]
    rows["owners"] = [o[1] for o in owner]
    rows["folders"] = 1
    rows["hidden"] = rows["visibility"].isin([HIDDEN, HIDDEN_BELOW]).astype(int)
    rows["no_person"] = rows["owner"].isin([SA_ONLY, NO_OWNER]).astype(int)
    rows["label"] = [p.rsplit("/", 1)[-1] or p for p in rows["id"].tolist()]
    folded_at = None
    if len(rows) > max_nodes:
        depths = rows["depth"].value_counts().sort_index().cumsum()
        fits = depths[depths <= max_nodes]
        folded_at = int(fits.index.max()) if len(fits) else int(depths.index.min())
        rows = _fold(rows, folded_at)
    root = pd.DataFrame([{"id": ROOT, "parent": "", "label": "all folders", "depth": 0,
                          "folders": 0, "secrets": 0, "visibility": "", "hidden": 0,
                          "owner": "", "owners": [], "no_person": 0}])
    out = pd.concat([root, rows], ignore_index=True)[
        ["id", "parent", "label", "depth", "folders", "secrets", "visibility", "hidden",
         "owner", "owners", "no_person"]]
    out.attrs["depth"] = folded_at
    out.attrs["total"] = int(out["folders"].sum())
    return out


def _depth(path: str, parent: str, known: set[str]) -> int:
    depth = 1
    while parent != ROOT and parent in known:
        depth += 1
        parent = _parent(parent) or ROOT
    return depth


def _fold(rows: pd.DataFrame, level: int) -> pd.DataFrame:
    """Fold every folder deeper than ``level`` into its ancestor at ``level``."""
    ids = rows["id"].tolist()
    parents = dict(zip(ids, rows["parent"].tolist(), strict=True))
    depth = dict(zip(ids, rows["depth"].tolist(), strict=True))
    target = []
    for p in ids:
        while depth.get(p, 0) > level:
            p = parents[p]
        target.append(p)
    rows = rows.assign(_into=target)
    deep = rows[rows["_into"] != rows["id"]]
    sums = deep.groupby("_into")[["folders", "secrets", "hidden", "no_person"]].sum()
    kept = rows[rows["_into"] == rows["id"]].drop(columns="_into").set_index("id")
    for column in sums.columns:
        kept.loc[sums.index, column] = kept.loc[sums.index, column] + sums[column]
    kept = kept.reset_index()
    kept["label"] = [f"{label} (+{n - 1:,})" if n > 1 else label
                     for label, n in zip(kept["label"], kept["folders"], strict=True)]
    return kept


def _tree_figure(tree: pd.DataFrame, colours: list[str], title: str, caption_text: str,
                 note: str, legend: dict[str, str]) -> go.Figure:
    hover = []
    for row in tree.itertuples(index=False):
        if row.id == ROOT:
            hover.append(f"<b>all folders</b>: {int(tree['folders'].sum()):,}")
            continue
        lines = [f"<b>{plot_text(row.id)}</b>"]
        if row.folders > 1:
            lines.append(f"{row.folders:,} folders (this one and those below)")
        if row.visibility and row.visibility != NOT_MEASURED:
            lines.append(f"cloud connector: {row.visibility}"
                         + (f"; {row.hidden:,} of {row.folders:,} hidden" if row.folders > 1
                            else ""))
        lines.append("Owner: " + (names_hover(row.owners, 8).replace("<br>", ", ")
                                  if row.owners else plot_text(row.owner)))
        if row.folders > 1 and row.no_person:
            lines.append(f"{row.no_person:,} folder(s) here no person can manage")
        lines.append(f"{row.secrets:,} secret(s)")
        hover.append("<br>".join(lines))
    fig = go.Figure(go.Treemap(
        # ids are never shown, but plotly keeps them beside the labels: escaped alike, so no
        # name is in the figure raw.
        ids=[plot_text(i) for i in tree["id"]], parents=[plot_text(p) for p in tree["parent"]],
        labels=[plot_text(t) for t in tree["label"]], values=tree["folders"],
        branchvalues="remainder", marker={"colors": colours}, hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>", textinfo="label",
        maxdepth=-1 if len(tree) <= 300 else SHOWN_LEVELS,
        pathbar={"visible": True}, sort=False))
    # A treemap has no legend of its own: one empty square marker per colour makes one.
    for label, colour in legend.items():
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=plot_text(label),
                                 marker={"symbol": "square", "size": 12, "color": colour},
                                 hoverinfo="skip"))
    fig.update_layout(height=600, margin={"l": 10, "r": 10, "b": 10}, showlegend=bool(legend),
                      legend={"x": 1.01, "xanchor": "left", "y": 1, "yanchor": "top",
                              "itemclick": False, "itemdoubleclick": False},
                      xaxis={"visible": False}, yaxis={"visible": False},
                      plot_bgcolor="white")
    text = caption_text + (f" {note}" if note else "")
    return captioned(fig, title, text)


def _fold_note(tree: pd.DataFrame) -> str:
    depth = tree.attrs.get("depth")
    if depth is None:
        return "Click a box to zoom in." if len(tree) > 300 else ""
    return f"Levels below {depth} are counted in their level-{depth} box (+N)."


def folder_visibility_figure(source: Any, *, max_nodes: int = MAX_TREE_NODES) -> go.Figure:
    """The folder tree coloured by what the cloud connector returns (the coverage)."""
    audit = _audit(source)
    tree = folder_tree(audit, max_nodes=max_nodes)
    if len(tree) == 1:
        return empty_figure(VISIBILITY_TITLE, VISIBILITY_CAPTION, "No folders in the view.")
    text = VISIBILITY_CAPTION if audit.coverage.measured else UNMEASURED_CAPTION
    colours = [ROOT_COLOUR if i == ROOT else _visibility_colour(v, h, n) for i, v, h, n in zip(
        tree["id"], tree["visibility"], tree["hidden"], tree["folders"], strict=True)]
    shown = set(tree["visibility"])
    legend = {v: c for v, c in VISIBILITY_COLOURS.items() if v in shown}
    if tree.attrs.get("depth") is not None and set(colours) & {MIXED}:
        legend["visible, some folders below hidden"] = MIXED
    return _tree_figure(tree, colours, VISIBILITY_TITLE, text, _fold_note(tree), legend)


def _visibility_colour(visibility: str, hidden: int, folders: int) -> str:
    """A folded rectangle that is visible but holds hidden folders is drawn in between."""
    if visibility == VISIBLE and hidden:
        return MIXED if hidden < folders else VISIBILITY_COLOURS[HIDDEN_BELOW]
    return VISIBILITY_COLOURS.get(visibility, VISIBILITY_COLOURS[NOT_MEASURED])


def folder_owner_figure(source: Any, *, max_nodes: int = MAX_TREE_NODES) -> go.Figure:
    """The folder tree coloured by who holds Owner on each folder."""
    tree = folder_tree(_audit(source), max_nodes=max_nodes)
    if len(tree) == 1:
        return empty_figure(OWNER_TITLE, OWNER_CAPTION, "No folders in the view.")
    text = OWNER_CAPTION
    keys = [_holder(o, names) for o, names in zip(tree["owner"], tree["owners"], strict=True)]
    counts = pd.Series([k for k in keys if k not in OWNER_COLOURS and k]).value_counts()
    main = _top_labels(counts, len(HOLDER_COLOURS)) if len(counts) else []
    palette = {**OWNER_COLOURS, **dict(zip(main, HOLDER_COLOURS, strict=False))}
    colours = [ROOT_COLOUR if i == ROOT else palette.get(k, OTHER_HOLDER)
               for i, k in zip(tree["id"], keys, strict=True)]
    legend = {k: palette[k] for k in main}
    if len(counts) > len(main):
        legend["another group or person"] = OTHER_HOLDER
    legend.update({k: OWNER_COLOURS[k] for k in (SA_ONLY, NO_OWNER, NOT_IN_VIEW) if k in keys})
    return _tree_figure(tree, colours, OWNER_TITLE, text, _fold_note(tree), legend)


def _holder(owner: str, names: list[str]) -> str:
    """What colours a folder in the owner tree: its first holder who is a person or a group of
    people, else why there is none."""
    return names[0] if owner in (BY_GROUP, BY_PERSON) and names else owner


# --------------------------------------------------------------------------- groups × folders
def group_folder_matrix(source: Any, *, top_groups: int = TOP_GROUPS,
                        top_folders: int = TOP_FOLDERS) -> pd.DataFrame:
    """Groups (rows) × folders (columns): the highest right each group is granted on each
    folder where permissions are set (None: no grant). The ``top_folders`` folders with the
    most group grants, in path order, and the ``top_groups`` groups with the most grants
    among them, most first. ``attrs``: ``groups`` and ``folders``, the totals before the cut,
    and ``sent``: (group, folder) → the rights as sent."""
    access = _audit(source).access
    grants = access.grants
    own = grants[(grants["principal_type"] == "group") & (grants["folder"] == grants["granted_on"])]
    if own.empty:
        frame = pd.DataFrame()
        frame.attrs.update(groups=0, folders=0, sent={})
        return frame
    own = own.assign(rank=[_rank(r) for r in own["right"].tolist()])
    best = own.sort_values("rank", ascending=False).drop_duplicates(["principal", "folder"])
    per_folder = best.groupby("folder").size()
    folders = _top_labels(per_folder, top_folders)
    folders = sorted(folders, key=lambda p: p.casefold())
    chosen = best[best["folder"].isin(folders)]
    groups = _top_labels(chosen.groupby("principal").size(), top_groups)
    chosen = chosen[chosen["principal"].isin(groups)]
    matrix = chosen.pivot(index="principal", columns="folder", values="right")
    matrix = matrix.reindex(index=groups, columns=folders)
    matrix = matrix.astype(object).where(matrix.notna(), None)
    matrix.index.name, matrix.columns.name = "group", "folder"
    matrix.attrs.update(
        groups=int(best["principal"].nunique()), folders=len(per_folder),
        sent={(g, f): list(r) for g, f, r in zip(chosen["principal"].tolist(),
                                                  chosen["folder"].tolist(),
                                                  chosen["rights"].tolist(), strict=True)})
    return matrix


def _top_labels(counts: pd.Series, n: int) -> list[str]:
    frame = pd.DataFrame({"label": counts.index.astype(str), "n": counts.to_numpy()})
    frame = frame.sort_values(["n", "label"], ascending=[False, True], kind="stable")
    return frame["label"].head(n).tolist()


def group_folder_figure(source: Any, *, top_groups: int = TOP_GROUPS,
                        top_folders: int = TOP_FOLDERS) -> go.Figure:
    """Heatmap of :func:`group_folder_matrix`: groups × top folders, coloured by right."""
    matrix = group_folder_matrix(source, top_groups=top_groups, top_folders=top_folders)
    text = HEATMAP_CAPTION
    if matrix.empty:
        return empty_figure(HEATMAP_TITLE, text, "No folder permission names a group.")
    n_groups, n_folders = matrix.attrs["groups"], matrix.attrs["folders"]
    shown = (f"the {len(matrix.columns)} of {n_folders:,} folders with the most group grants; "
             f"the {len(matrix.index)} of {n_groups:,} groups with the most grants on them"
             if n_groups > len(matrix.index) or n_folders > len(matrix.columns) else
             "every folder with a group grant, where it is set")
    sent = matrix.attrs["sent"]
    groups, folders = [str(g) for g in matrix.index], [str(f) for f in matrix.columns]
    # Cells read from a plain array: each .at on the frame deep-copies its attrs (``sent``).
    grid = matrix.to_numpy(dtype=object)
    z = [[_rank(v) or None for v in row] for row in grid]
    cell = [[(v or "") for v in row] for row in grid]
    hover = [[f"<b>{plot_text(g)}</b> on <b>{plot_text(f)}</b><br>"
              + (plot_text(f"{v} (sent as {', '.join(map(str, sent[(g, f)]))})")
                 if v else "no grant") for f, v in zip(folders, row, strict=True)]
             for g, row in zip(groups, grid, strict=True)]
    n = len(RIGHTS)
    scale = []
    for i, right in enumerate(RIGHTS):
        scale += [[i / n, RIGHT_COLOURS[right]], [(i + 1) / n, RIGHT_COLOURS[right]]]
    short = {"Add Secret": "Add", "Owner": "Own"}
    fig = go.Figure(go.Heatmap(
        z=z, x=[plot_text(f) for f in folders], y=[plot_text(g) for g in groups], zmin=0.5,
        zmax=n + 0.5, colorscale=scale,
        text=[[plot_text(short.get(c, c)) for c in row] for row in cell], texttemplate="%{text}",
        textfont={"size": 10}, hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
        xgap=1, ygap=1,
        colorbar={"tickvals": list(range(1, n + 1)), "ticktext": list(RIGHTS), "title": "right",
                  "len": 0.7}))
    fig.update_layout(height=max(380, 200 + 24 * len(groups)),
                      margin={"l": 10, "r": 10, "b": 10},
                      xaxis={"side": "bottom", "tickangle": -40, "automargin": True,
                             "showgrid": False, "title": {"text": shown}},
                      yaxis={"autorange": "reversed", "automargin": True, "showgrid": False},
                      plot_bgcolor="white")
    return captioned(fig, HEATMAP_TITLE, text)


# --------------------------------------------------------------------------- rights
def rights_distribution(source: Any) -> pd.DataFrame:
    """Counts per right: ``grants_group`` and ``grants_user`` (folder grants where set, by the
    right in effect), ``pairs`` (user–folder pairs whose strongest right it is) and ``users``
    (distinct users holding it somewhere as their strongest right). ``attrs["examples"]``:
    right → ``{"group": [...], "user": [...]}``, the grants as ``principal on folder``."""
    access = _audit(source).access
    grants = access.grants
    own = grants[grants["folder"] == grants["granted_on"]]
    extra = sorted({str(r) for r in own["right"].dropna()} - set(RIGHTS))
    strongest = access.strongest_where_set()
    extra = sorted(set(extra) | (set(strongest["right"]) - set(RIGHTS)))
    rows, examples = [], {}
    for right in [*RIGHTS, *extra]:
        mine = own[own["right"] == right]
        held = strongest[strongest["right"] == right]
        rows.append({"right": right,
                     "grants_group": int((mine["principal_type"] == "group").sum()),
                     "grants_user": int((mine["principal_type"] == "user").sum()),
                     "pairs": int(held["weight"].sum()), "users": int(held["user"].nunique())})
        examples[right] = {kind: sorted(f"{p} on {fo}" for p, fo, k in zip(
            mine["principal"].astype(str), mine["folder"].astype(str),
            mine["principal_type"].tolist(), strict=True) if k == kind)
            for kind in ("group", "user")}
    frame = pd.DataFrame(rows)
    frame.attrs["examples"] = examples
    return frame


def rights_figure(source: Any) -> go.Figure:
    """Bars: folder grants per right (through groups, directly) and user–folder pairs per
    strongest right."""
    dist = rights_distribution(source)
    if not (dist["grants_group"].sum() + dist["grants_user"].sum() + dist["pairs"].sum()):
        return empty_figure(RIGHTS_TITLE, RIGHTS_CAPTION, "No folder permissions in the view.")
    examples = dist.attrs["examples"]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12, subplot_titles=(
        "folder grants (where set)", "user–folder pairs (strongest right)"))
    rights = dist["right"].tolist()
    shown = [plot_text(r) for r in rights]  # a right as sent may be any text
    for column, name, colour in (("grants_group", "through a group", GROUP_COLOUR),
                                 ("grants_user", "directly to a user", USER_COLOUR)):
        kind = "group" if column == "grants_group" else "user"
        fig.add_trace(go.Bar(
            x=shown, y=dist[column], name=name, marker_color=colour, legendgroup="grants",
            text=[v or "" for v in dist[column]], textposition="inside",
            hovertext=[f"<b>{s}</b>, {name}: {v:,}<br>" + names_hover(examples[r][kind])
                       for r, s, v in zip(rights, shown, dist[column], strict=True)],
            hovertemplate="%{hovertext}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Bar(
        x=shown, y=dist["pairs"], name="user–folder pairs", showlegend=False,
        marker_color=[RIGHT_COLOURS.get(r, OTHER_RIGHT) for r in rights],
        text=[f"{v:,}" if v else "" for v in dist["pairs"]], textposition="outside",
        cliponaxis=False,
        hovertext=[f"<b>{s}</b> is the strongest right of {p:,} user–folder pair(s), held by "
                   f"{u:,} user(s)" for s, p, u in zip(shown, dist["pairs"], dist["users"],
                                                       strict=True)],
        hovertemplate="%{hovertext}<extra></extra>"), row=1, col=2)
    fig.update_layout(barmode="stack", height=440, margin={"t": 130, "l": 10, "r": 10, "b": 10},
                      legend={"orientation": "h", "x": 0, "y": -0.15})
    fig.update_yaxes(title_text="grants", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="pairs", rangemode="tozero", row=1, col=2)
    return captioned(fig, RIGHTS_TITLE, RIGHTS_CAPTION)

