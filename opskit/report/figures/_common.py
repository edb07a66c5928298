"""The figure convention's helpers: title and caption, an empty figure, hover name lists."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from ..escaping import plot_text

HOVER_NAMES = 25  # names listed in one hover label; the rest are counted
TITLE_MARGIN = 96  # room above the plot for the title and its caption


def captioned(fig: go.Figure, title: str, caption_text: str) -> go.Figure:
    """Give ``fig`` its title and one-line caption (see the package docstring)."""
    meta = dict(fig.layout.meta) if isinstance(fig.layout.meta, dict) else {}
    subtitle = {"text": plot_text(caption_text),
                "font": {"size": 13, "color": "#555"}}
    fig.update_layout(
        title={"text": f"<b>{plot_text(title)}</b>", "x": 0, "xanchor": "left",
               "subtitle": subtitle},
        meta={**meta, "caption": caption_text, "title": title},
        margin={"t": max(fig.layout.margin.t or 0, TITLE_MARGIN)})
    return fig


def caption(fig: go.Figure) -> str:
    """The caption a builder gave its figure."""
    meta = fig.layout.meta
    return meta.get("caption", "") if isinstance(meta, dict) else ""


def empty_figure(title: str, caption_text: str, note: str, *, height: int = 220) -> go.Figure:
    """A figure with nothing to plot: no axes, and a centred note saying why."""
    fig = go.Figure()
    fig.add_annotation(text=plot_text(note), x=0.5, y=0.5, xref="paper",
                       yref="paper", showarrow=False, font={"size": 15, "color": "#555"})
    fig.update_layout(height=height, xaxis={"visible": False}, yaxis={"visible": False},
                      plot_bgcolor="white", meta={"empty": True})
    return captioned(fig, title, caption_text)


def names_hover(names: Sequence[str], limit: int = HOVER_NAMES) -> str:
    """Names for a hover label, one per line: the first ``limit``, then how many more; each
    escaped for plotly (:func:`opskit.report.escaping.plot_text`)."""
    shown = [plot_text(n) for n in list(names)[:limit]]
    if len(names) > limit:
        shown.append(f"… and {len(names) - limit} more")
    return "<br>".join(shown)
