"""Plotly figure builders for the reports.

Every builder follows one convention, so a notebook shows any of them the same way (the group
gap's figures are in ``_groupgap``; other reports add their own module beside it and export
its builders here):

- **Pure.** A builder takes what a report already holds (a report object or its frames) and
  returns a ``plotly.graph_objects.Figure``; it reads no file and calls no tenant. Name it
  ``<what>_figure``.
- **Title and caption.** The figure carries a short title (``layout.title.text``) and a
  one-line caption saying how to read it (``layout.title.subtitle.text``, shown under the
  title), also kept in ``layout.meta["caption"]``. Set both with :func:`captioned`; read the
  caption back with :func:`caption` (docs and tests do).
- **Names on hover.** Each mark's hover text lists what it counts (up to
  :data:`HOVER_NAMES` names, then how many more), so nobody needs a table to tell what a bar
  is.
- **Nothing to show is not an error.** With no data the builder returns a figure with the same
  title and caption and a centred note saying why it is empty (:func:`empty_figure`).
- **Rows behind a mark.** :func:`clickable` wraps a figure so a click on a box, cell or bar
  shows the rows behind it (:func:`rows_behind`): in JupyterLab below the figure, in
  report.html in a collapsed block under it that the click opens (``_behind``).
- **Offline.** Figures render in report.html with no internet once
  :func:`opskit.report.setup` has run; a notebook shows one by leaving it as a cell's value.
"""

from ._audit import (
    folder_owner_figure,
    folder_tree,
    folder_visibility_figure,
    group_folder_figure,
    group_folder_matrix,
    rights_distribution,
    rights_figure,
)
from ._behind import Clickable, clickable, points, rows_behind, rows_html
from ._common import HOVER_NAMES, caption, captioned, empty_figure, names_hover
from ._groupgap import membership_figure, presence_combinations, presence_figure

__all__ = ["HOVER_NAMES", "Clickable", "caption", "captioned", "clickable", "empty_figure",
           "folder_owner_figure", "folder_tree", "folder_visibility_figure", "group_folder_figure",
           "group_folder_matrix", "membership_figure", "names_hover", "points",
           "presence_combinations", "presence_figure", "rights_distribution", "rights_figure",
           "rows_behind", "rows_html"]
