"""The group-gap report's figures: where each group exists, and whose members differ.

Both take a :class:`opskit.groupgap.GroupGapReport` (or the frame it holds: ``presence`` for
the first, ``membership`` for the second) and follow the package's convention.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..escaping import plot_text
from ._common import captioned, empty_figure, names_hover

SYSTEMS = {"IGA": "in_iga", "Platform": "on_platform", "Secret Server": "in_secret_server"}
EVERYWHERE, GAP = "#2e7d32", "#d84315"  # bar colours: in every system given / missing somewhere
DOT_ON, DOT_OFF = "#263238", "#e0e0e0"
ONLY_IN_IGA, ONLY_ON_PLATFORM = "only in the IGA", "only on the Platform"  # as in the report
IGA_COLOUR, PLATFORM_COLOUR = "#1565c0", "#d84315"

PRESENCE_TITLE = "Where each group exists"
PRESENCE_CAPTION = ("Each bar counts the groups found in exactly the systems dotted below it: "
                    "green is in every system, orange is a gap. Hover for the names.")
MEMBERSHIP_TITLE = "Groups whose direct members differ (IGA vs Platform)"
MEMBERSHIP_CAPTION = ("Per group: left, members the IGA has and the Platform lacks (the plan "
                      "adds them); right, members only on the Platform (the plan removes "
                      "them). Hover for the names.")


def _frame(source: Any, attribute: str) -> pd.DataFrame:
    return source if isinstance(source, pd.DataFrame) else getattr(source, attribute)


def _given(presence: pd.DataFrame) -> list[str]:
    """The systems the report compared: a column that is NA throughout was not given."""
    return [s for s, column in SYSTEMS.items()
            if column in presence and presence[column].notna().any()]


def _label(combo: tuple[str, ...], given: list[str]) -> str:
    if len(combo) == len(given) and len(given) > 1:
        return "all: " + " + ".join(combo) if len(given) > 2 else " + ".join(combo)
    return f"{combo[0]} only" if len(combo) == 1 else " + ".join(combo)


def presence_combinations(presence: Any) -> pd.DataFrame:
    """Groups counted per combination of the systems they exist in (the presence figure's bars).

    One row per combination that occurs: ``systems`` (a tuple, in IGA, Platform, Secret Server
    order), ``label``, ``count`` and ``groups`` (their names, sorted), most groups first.
    Systems that were not given are left out of every combination.
    """
    presence = _frame(presence, "presence")
    given = _given(presence)
    found: dict[tuple[str, ...], list[str]] = {}
    flags = [presence[SYSTEMS[s]].fillna(False).astype(bool).tolist() for s in given]
    for i, group in enumerate(presence["group"]):
        combo = tuple(s for s, flag in zip(given, flags, strict=True) if flag[i])
        if combo:
            found.setdefault(combo, []).append(str(group))
    rows = [{"systems": combo, "label": _label(combo, given), "count": len(names),
             "groups": sorted(names, key=str.casefold)} for combo, names in found.items()]
    frame = pd.DataFrame(rows, columns=["systems", "label", "count", "groups"])
    if frame.empty:
        return frame
    order = frame.assign(width=frame["systems"].map(len)).sort_values(
        ["count", "width"], ascending=[False, False], kind="stable")
    return order.drop(columns="width").reset_index(drop=True)


def presence_figure(report: Any) -> go.Figure:
    """UpSet-style: a bar per combination of systems, with a dot matrix naming the systems.

    ``report``: a GroupGapReport or its ``presence`` frame.
    """
    presence = _frame(report, "presence")
    given = _given(presence)
    missing = [s for s in SYSTEMS if s not in given]
    text = PRESENCE_CAPTION + (f" Not given: {', '.join(missing)}." if missing else "")
    combos = presence_combinations(presence)
    if combos.empty:
        return empty_figure(PRESENCE_TITLE, text, "No groups in any system given.")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28],
                        vertical_spacing=0.04)
    labels = combos["label"].tolist()
    complete = [len(c) == len(given) for c in combos["systems"]]
    fig.add_trace(go.Bar(
        x=labels, y=combos["count"], text=combos["count"], textposition="outside",
        marker_color=[EVERYWHERE if c else GAP for c in complete], name="groups",
        hovertext=[f"<b>{plot_text(lab)}</b>: {n} group(s)<br>{names_hover(g)}"
                   for lab, n, g in zip(labels, combos["count"], combos["groups"],
                                        strict=True)],
        hovertemplate="%{hovertext}<extra></extra>", cliponaxis=False), row=1, col=1)
    grid_x = [lab for lab in labels for _ in given]
    grid_y = [s for _ in labels for s in given]
    fig.add_trace(go.Scatter(x=grid_x, y=grid_y, mode="markers", hoverinfo="skip",
                             marker={"size": 15, "color": DOT_OFF}), row=2, col=1)
    on_x, on_y, line_x, line_y = [], [], [], []
    for lab, combo in zip(labels, combos["systems"], strict=True):
        on_x += [lab] * len(combo)
        on_y += list(combo)
        if len(combo) > 1:
            line_x += [lab, lab, None]
            line_y += [combo[0], combo[-1], None]
    fig.add_trace(go.Scatter(x=line_x, y=line_y, mode="lines", hoverinfo="skip",
                             line={"color": DOT_ON, "width": 3}), row=2, col=1)
    fig.add_trace(go.Scatter(x=on_x, y=on_y, mode="markers", hoverinfo="skip",
                             marker={"size": 15, "color": DOT_ON}), row=2, col=1)
    fig.update_xaxes(showticklabels=False, categoryorder="array", categoryarray=labels)
    fig.update_yaxes(title_text="groups", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(given)),
                     showgrid=False, row=2, col=1)
    fig.update_layout(showlegend=False, height=440, bargap=0.35,
                      margin={"b": 30, "l": 110, "r": 30})
    return captioned(fig, PRESENCE_TITLE, text)


def _ticks(limit: int) -> tuple[list[int], list[str]]:
    step = max(1, math.ceil(limit / 4))
    values = list(range(-step * math.ceil(limit / step), step * math.ceil(limit / step) + 1,
                        step))
    return values, [str(abs(v)) for v in values]


def membership_rows(diff: pd.DataFrame) -> list[tuple[str, list[str], list[str], str, str]]:
    """The membership figure's rows, bottom first: (label, members only in the IGA, only on
    the Platform, group, Platform name)."""
    rows = []
    for (group, platform), part in diff.groupby(["group", "platform_name"], sort=False):
        iga = sorted(part.loc[part["side"] == ONLY_IN_IGA, "user_name"], key=str.casefold)
        plat = sorted(part.loc[part["side"] == ONLY_ON_PLATFORM, "user_name"], key=str.casefold)
        label = group if group == platform else f"{group} (Platform: {platform})"
        rows.append((label, iga, plat, str(group), str(platform)))
    # Most differences at the top: plotly draws the first category at the bottom.
    rows.sort(key=lambda r: (len(r[1]) + len(r[2]), r[0].casefold()))
    return rows


def membership_figure(report: Any) -> go.Figure:
    """Diverging bars, one row per group whose direct members differ between the IGA and the
    Platform: members only in the IGA to the left, only on the Platform to the right.

    ``report``: a GroupGapReport or its ``membership`` frame.
    """
    diff = _frame(report, "membership")
    if diff.empty:
        compared = getattr(report, "iga", True) is not None and (
            getattr(getattr(report, "platform", None), "origin", "") != "not given")
        note = ("No group's direct members differ between the IGA and the Platform."
                if compared else "Memberships not compared: the IGA or the Platform side was "
                "not given.")
        return empty_figure(MEMBERSHIP_TITLE, MEMBERSHIP_CAPTION, note)
    rows = membership_rows(diff)
    labels = [r[0] for r in rows]
    fig = go.Figure()
    for side, colour, sign, names in (
            (f"{ONLY_IN_IGA} (to add)", IGA_COLOUR, -1, [r[1] for r in rows]),
            (f"{ONLY_ON_PLATFORM} (to remove)", PLATFORM_COLOUR, 1, [r[2] for r in rows])):
        fig.add_trace(go.Bar(
            y=[plot_text(lab) for lab in labels], x=[sign * len(n) for n in names],
            orientation="h", name=side,
            marker_color=colour, text=[len(n) or "" for n in names], textposition="auto",
            hovertext=[f"<b>{plot_text(lab)}</b>: {len(n)} {side}<br>{names_hover(n)}"
                       for lab, n in zip(labels, names, strict=True)],
            hovertemplate="%{hovertext}<extra></extra>"))
    limit = max(max(len(r[1]) for r in rows), max(len(r[2]) for r in rows), 1)
    values, texts = _ticks(limit)
    fig.update_layout(
        barmode="relative", height=max(260, 190 + 34 * len(rows)), bargap=0.4,
        margin={"t": 124, "b": 60, "r": 30},
        xaxis={"tickvals": values, "ticktext": texts, "zeroline": True, "zerolinewidth": 2,
               "zerolinecolor": "#555", "title": {"text": "← only in the IGA · members · "
                                                          "only on the Platform →"}},
        yaxis={"automargin": True},
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0,
                "yanchor": "bottom"})
    return captioned(fig, MEMBERSHIP_TITLE, MEMBERSHIP_CAPTION)
