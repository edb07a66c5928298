"""Explorers for notebooks (ipywidgets), headless-safe.

:func:`explorer` gives, in JupyterLab, a small UI over the permission audit's effective access
(:class:`opskit.audit.Access`): pick a folder, user, group or secret (type to filter the list)
and see who reaches it or what it reaches, with the path (``via``) of every grant, a page of
:data:`ROWS` rows at a time. Under ``opskit run``/``opskit report``
(:func:`opskit.report.headless`) nothing is interactive and nothing waits: it renders one static
table (who reaches a default folder, its first page) with a note instead.

The table for a choice is :func:`reach_table`, a plain function; the widget only wires the
controls to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .report.display import headless
from .report.escaping import html_text, visible

KINDS = {"folder": "Folder", "user": "User", "group": "Group", "secret": "Secret"}
MATCHES = 200  # names listed at once; type to narrow the list down
ROWS = 100  # table rows per page; the pager's buttons (or "show all") give the others
DESCRIBE = {
    "folder": "who reaches `{name}`, strongest right first",
    "user": "what `{name}` reaches: each folder with the strongest right and its path",
    "group": "the grants `{name}` carries: its own and those of groups containing it",
    "secret": "who reaches `{name}`: its secret roles, or its folder's rights where the "
              "secret permissions were not read",
}


def names(access: Any, kind: str) -> list[str]:
    """Every name of one kind the access holds, in name order (case ignored)."""
    if kind == "folder":
        found = access.folders["path"].astype(str).tolist()
    elif kind == "user":
        found = [str(u) for u in access.table["user"].cat.categories]
    elif kind == "group":
        found = access.reach.groups["displayName"].astype(str).tolist()
    elif kind == "secret":
        found = access.secrets["path"].dropna().astype(str).tolist()
    else:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    return sorted(set(found), key=str.casefold)


def matching(all_names: list[str], text: str, limit: int | None = MATCHES) -> list[str]:
    """The names containing ``text`` (case ignored), at most ``limit`` (None: all)."""
    needle = text.strip().casefold()
    hits = [n for n in all_names if needle in n.casefold()] if needle else all_names
    return hits[:limit]


def exact(hits: list[str], text: str) -> str | None:
    """The name ``text`` spells out (case ignored): the whole name, or a userName's part before
    the ``@``; else the only name matching. None when the text leaves a choice to make."""
    needle = text.strip().casefold()
    if not needle:
        return None
    for name in hits:
        if needle in (name.casefold(), name.casefold().split("@")[0]):
            return name
    return hits[0] if len(hits) == 1 else None


def reach_table(access: Any, kind: str, name: str) -> pd.DataFrame:
    """The table the explorer shows for a folder, user, group or secret ``name``.

    folder: :meth:`Access.who_reaches`; user: :meth:`Access.what_user_reaches` (strongest
    right per folder); group: :meth:`Access.group_grants`; secret:
    :meth:`Access.who_reaches_secret`. An unknown name raises ``opskit.audit.UnknownName``.
    """
    if kind == "folder":
        return access.who_reaches(name)
    if kind == "user":
        return access.what_user_reaches(name, strongest=True)
    if kind == "group":
        return access.group_grants(name)
    if kind == "secret":
        return access.who_reaches_secret(name)
    raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")


def default_choice(access: Any) -> tuple[str, str | None]:
    """What a headless run shows: the first folder (in name order) that somebody reaches."""
    table = access.table
    reached: set[str] = set()
    if len(table):
        codes = np.bincount(table["folder"].cat.codes.to_numpy(np.int64),
                            minlength=len(table["folder"].cat.categories))
        reached = {str(f) for f in table["folder"].cat.categories[codes > 0]}
    folders = [f for f in names(access, "folder") if f in reached] or names(access, "folder")
    return "folder", (folders[0] if folders else None)


def _caption(kind: str, name: str, frame: pd.DataFrame, start: int = 0,
             stop: int = ROWS) -> str:
    """What the table is and how much of it shows: rows ``start`` to ``stop`` (0-based,
    exclusive) of ``frame``."""
    text = DESCRIBE[kind].format(name=name).replace("`", "")
    total = len(frame)
    stop = min(stop, total)
    shown = f"{total:,} row(s)"
    if start > 0 or stop < total:
        shown = f"{stop - start:,} of {total:,} rows shown (rows {start + 1:,}–{stop:,})"
    note = frame.attrs.get("note")
    return f"{text}: {shown}" + (f". {note}" if note else "")


def _html_table(frame: pd.DataFrame, start: int = 0, stop: int = ROWS) -> str:
    if frame.empty:
        return "" if frame.attrs.get("note") else "<p><em>No rows.</em></p>"
    shown = frame.iloc[start:stop].astype(object)
    for column in shown.columns:
        shown[column] = [", ".join(map(str, v)) if isinstance(v, list | tuple) else
                         ("" if v is None or v is pd.NA or v != v else v)
                         for v in shown[column].tolist()]
    shown = shown.map(lambda v: visible(v) if isinstance(v, str) else v)
    return shown.to_html(index=False, escape=True, border=0, classes="opskit-explorer")


class StaticExplorer:
    """What a headless run shows in place of the explorer: a note and one table."""

    def __init__(self, access: Any, kind: str | None = None, name: str | None = None):
        if name is None:
            kind, name = default_choice(access)
        self.kind = kind or "folder"
        self.name = name
        self.table = reach_table(access, self.kind, name) if name else pd.DataFrame()

    def _repr_html_(self) -> str:
        note = ("<p><em>The explorer is interactive: open this notebook in JupyterLab to pick "
                "any folder, user, group or secret.")
        if self.name is None:
            return note + " The inventory holds no folder.</em></p>"
        rest = (f" Every row: opskit.widgets.reach_table(access, {self.kind!r}, {self.name!r})."
                if len(self.table) > ROWS else "")
        return (note + " Shown here: " + html_text(_caption(self.kind, self.name, self.table))
                + "." + html_text(rest) + "</em></p>" + _html_table(self.table))

    def __repr__(self) -> str:
        return f"StaticExplorer({self.kind}={self.name!r}, {len(self.table)} rows)"


class AccessExplorer:
    """The interactive explorer: a kind (folder, user, group, secret), a filter box, the
    matching names, and the table for the name picked, a page at a time. Set
    ``kind``/``search``/``pick`` values, click ``previous``/``next``/``all_rows`` (or call
    :meth:`show`) and :attr:`table` and :attr:`output` follow.

    What is highlighted in the list is what the table shows: switching kind or filtering
    picks nothing (the status says "pick one") unless the filter spells out one name, so a
    click on any name always shows it and nothing shows that was not picked."""

    def __init__(self, access: Any, kind: str = "folder", name: str | None = None):
        import ipywidgets as w

        self.access = access
        self._names: dict[str, list[str]] = {}
        self._quiet = False  # True while the list refills: its changes are not clicks
        self.shown: str | None = None  # the name whose table is shown
        self.start = 0  # the first row of the page shown
        self.table: pd.DataFrame = pd.DataFrame()
        self.kind = w.ToggleButtons(options=[(label, k) for k, label in KINDS.items()],
                                    value=kind, description="Look up")
        self.search = w.Text(placeholder="type part of a name to filter", description="Filter",
                             continuous_update=True)
        self.pick = w.Select(options=[], rows=8, description="Pick",
                             layout=w.Layout(width="95%"))
        self.status = w.HTML()
        self.previous = w.Button(description=f"◀ previous {ROWS}", disabled=True)
        self.next = w.Button(description=f"next {ROWS} ▶", disabled=True)
        self.all_rows = w.ToggleButton(description="show all rows", value=False)
        self.pager = w.HBox([self.previous, self.next, self.all_rows],
                            layout=w.Layout(display="none"))
        self.output = w.Output()
        self.widget = w.VBox([self.kind, self.search, self.pick, self.status, self.pager,
                              self.output])
        self.kind.observe(self._on_kind, names="value")
        self.search.observe(self._on_search, names="value")
        self.pick.observe(self._on_pick, names="value")
        self.previous.on_click(lambda _: self._page(self.start - ROWS))
        self.next.on_click(lambda _: self._page(self.start + ROWS))
        self.all_rows.observe(lambda _: self._page(0), names="value")
        self._refill()
        if name is not None:
            self.show(kind, name)

    # ------------------------------------------------------------------ wiring
    def _all(self, kind: str) -> list[str]:
        if kind not in self._names:
            self._names[kind] = names(self.access, kind)
        return self._names[kind]

    def _refill(self) -> None:
        """List the names the filter matches; keep the pick if still listed, else pick the
        name the filter spells out, else nothing."""
        every_hit = matching(self._all(self.kind.value), self.search.value, limit=None)
        hits = every_hit[:MATCHES]
        choice = self.shown if self.shown in hits else exact(hits, self.search.value)
        self._quiet = True
        try:  # a Select moves its pick to the first option when the options change
            self.pick.options = hits
            self.pick.value = choice
        finally:
            self._quiet = False
        more = len(every_hit) - len(hits)
        listed = (f"{len(hits):,} of {len(every_hit):,} shown: type to narrow" if more
                  else f"{len(hits):,} match(es)" if hits
                  else f"no {KINDS[self.kind.value].lower()} name contains that text")
        self.status.value = (f"<small>{html_text(listed)}"
                             + ("; pick one" if hits and choice is None else "") + "</small>")
        if choice != self.shown:
            self._render(choice)

    def _on_kind(self, change: dict[str, Any]) -> None:
        self._render(None)  # the name shown was of the other kind
        if self.search.value:
            self.search.value = ""  # refills
        else:
            self._refill()

    def _on_search(self, change: dict[str, Any]) -> None:
        self._refill()

    def _on_pick(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self._render(change["new"])

    def _render(self, name: str | None) -> None:
        self.shown = name
        self.start = 0
        self.table = (reach_table(self.access, self.kind.value, name) if name
                      else pd.DataFrame())
        self._draw()

    def _page(self, start: int) -> None:
        self.start = max(0, min(start, len(self.table) - 1))
        self._draw()

    def _draw(self) -> None:
        from IPython.display import HTML

        self.output.outputs = ()  # clear_output() needs a kernel; the trait syncs either way
        total = len(self.table)
        self.pager.layout.display = "flex" if total > ROWS else "none"
        if self.shown is None:
            return
        start = 0 if self.all_rows.value else self.start
        stop = total if self.all_rows.value else start + ROWS
        self.previous.disabled = self.all_rows.value or start == 0
        self.next.disabled = self.all_rows.value or stop >= total
        caption = _caption(self.kind.value, self.shown, self.table, start, stop)
        self.output.append_display_data(HTML(f"<p><b>{html_text(caption)}</b></p>"
                                             + _html_table(self.table, start, stop)))

    # ------------------------------------------------------------------ use
    def show(self, kind: str, name: str) -> pd.DataFrame:
        """Select ``name`` of ``kind`` as if picked by hand; returns its table. An unknown
        name raises ``opskit.audit.UnknownName`` (with close matches)."""
        reach_table(self.access, kind, name)
        if self.kind.value != kind:
            self.kind.value = kind
        if name not in self.pick.options:
            self.search.value = name
        self.pick.value = name
        if self.shown != name:  # already highlighted (a Select fires no change): show it
            self._render(name)
        return self.table

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def explorer(access: Any, *, kind: str = "folder", name: str | None = None,
             interactive: bool | None = None) -> AccessExplorer | StaticExplorer:
    """The effective-access explorer for a notebook cell (leave it as the cell's value).

    ``access``: an :class:`opskit.audit.Access` (or anything holding one as ``.access``).
    Interactive unless the notebook runs headless (``interactive=None``): then a static table
    for ``kind``/``name`` (default: the first folder somebody reaches) with a note, and nothing
    waits for input.
    """
    access = getattr(access, "access", access)
    if interactive is None:
        interactive = not headless()
    if not interactive:
        return StaticExplorer(access, kind if name else None, name)
    return AccessExplorer(access, kind, name)


# --------------------------------------------------------------------------- what if
WHAT_IF_PARTS = {"access": "who gains or loses what", "secrets": "their secrets",
                 "findings": "findings that appear or disappear",
                 "coverage": "what the cloud connector would newly see or hide"}


class WhatIfView:
    """A what-if's blast radius (:class:`opskit.audit.WhatIf`) as a cell shows it: the
    summary, then a table per part, each its first :data:`ROWS` rows. Static, so the same in
    JupyterLab and headless; the explorer can show one for a change picked in it."""

    def __init__(self, result: Any):
        self.result = result

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every row of each part, by name (``WHAT_IF_PARTS``)."""
        return {part: getattr(self.result, part) for part in WHAT_IF_PARTS}

    def _repr_html_(self) -> str:
        lines = self.result.summary().split("\n")
        out = [f"<p><strong>{html_text(lines[0])}</strong></p><ul>"
               + "".join(f"<li>{html_text(line.lstrip('- '))}</li>" for line in lines[1:])
               + "</ul>"]
        for part, title in WHAT_IF_PARTS.items():
            frame = getattr(self.result, part)
            more = f" ({ROWS:,} of {len(frame):,} rows shown)" if len(frame) > ROWS else ""
            out.append(f"<p><em>{html_text(title)}{html_text(more)}</em></p>"
                       + _html_table(frame))
        return "".join(out)

    def __repr__(self) -> str:
        return self.result.summary()


def what_if(cloud: Any, changes: Any, *, reference: Any = None, **audit_args: Any) -> WhatIfView:
    """What ``changes`` (``opskit.audit`` changes) would do, for a notebook cell:
    :func:`opskit.audit.what_if` shown as a :class:`WhatIfView`."""
    from .audit import what_if as run

    return WhatIfView(run(cloud, changes, reference=reference, **audit_args))
