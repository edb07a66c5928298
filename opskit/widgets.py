"""Explorers for notebooks (ipywidgets), headless-safe.

:func:`explorer` gives, in JupyterLab, a small UI over the permission audit's effective access
(:class:`opskit.audit.Access`): pick a folder, user, group or secret (type to filter the list)
and see who reaches it or what it reaches, with the path (``via``) of every grant, a page of
:data:`ROWS` rows at a time. Under ``opskit run``/``opskit report``
(:func:`opskit.report.headless`) nothing is interactive and nothing waits: it renders one static
table (who reaches a default folder, its first page) with a note instead.

Beside a folder, secret or user shown, a second pick gives the :class:`opskit.audit.Why` of one
user and one folder or secret (:func:`why_options`, :func:`why_for`, :func:`why_html`).
Given the permission-audit run, a "What if" tab previews a change (:class:`WhatIfPanel`), and
each single change a Why offers previews there. :func:`snapshot_compare` picks two inventory
snapshots and shows what changed between them
(:func:`opskit.audit.compare`).

The table for a choice is :func:`reach_table`, a plain function; the widgets only wire the
controls to the plain functions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from .audit import Why, compare, why
from .errors import ConfigError, OpskitError
from .inventory import load_snapshot
from .report.display import headless
from .report.escaping import html_text, visible

KINDS = {"folder": "Folder", "user": "User", "group": "Group", "secret": "Secret"}
MATCHES = 200  # names listed at once; type to narrow the list down
ROWS = 100  # table rows per page; the pager's buttons (or "show all") give the others
WHY_CHOICES = 1000  # second picks a Why dropdown lists; AccessExplorer.show_why takes any
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
        found = [str(u) for u in access.users["userName"]]
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
    per_folder = access.count_rows("folder")
    reached = {str(f) for f in per_folder.index[per_folder.to_numpy() > 0]}
    folders = [f for f in names(access, "folder") if f in reached] or names(access, "folder")
    return "folder", (folders[0] if folders else None)


def why_options(access: Any, kind: str, name: str) -> list[tuple[str, tuple[str, str]]]:
    """What a Why can be asked about beside the ``name`` shown, as (label, (kind, name)) pairs:
    the users who reach a folder or secret (strongest first, as the table lists them), or the
    folders then the secrets a user reaches; none for a group (a Why is of one user)."""
    if kind in ("folder", "secret"):
        users = reach_table(access, kind, name)
        listed = users["user"].astype(str).drop_duplicates().tolist() if len(users) else []
        return [(user, ("user", user)) for user in listed]
    if kind == "user":
        folders = access.what_user_reaches(name, strongest=True)["folder"].astype(str)
        secrets = access.secrets_user_reaches(name)["secret"].astype(str)
        return ([(f"folder {f}", ("folder", f)) for f in folders.drop_duplicates()]
                + [(f"secret {s}", ("secret", s)) for s in secrets.drop_duplicates()])
    return []


def why_for(access: Any, kind: str, name: str, other: tuple[str, str]) -> Why:
    """The :class:`opskit.audit.Why` for the ``name`` shown (of ``kind``) and ``other``, a value
    of :func:`why_options`: one is the user, the other the folder or secret."""
    if kind == "user":
        user, (target_kind, target) = name, other
    else:
        user, target_kind, target = other[1], kind, name
    if target_kind == "secret":
        return why(access, user, secret=target)
    return why(access, user, target)


def why_html(answer: Why, *, table: bool = True) -> str:
    """A Why as HTML: the summary, where the grants are set, every path (strongest first: a
    table, or a numbered list with ``table=False``) and the single changes that remove the
    access."""
    parts = [f"<p><b>{html_text(answer.summary())}</b></p>"]
    if answer.reaches and answer.granted_on is not None:
        where = f"Inheritance root: grants set on {answer.granted_on}"
        if answer.inherits_through:
            where += ", inherited by " + ", ".join(answer.inherits_through)
        parts.append(f"<p>{html_text(where)}.</p>")
    if answer.note:
        parts.append(f"<p><em>{html_text(answer.note)}</em></p>")
    if answer.reaches:
        if table:
            parts.append(_html_table(answer.table().reset_index()))
        else:
            items = "".join(
                f"<li>{html_text(p.right)}: {html_text(p.principal_type)} "
                f"{html_text(p.principal)} ({html_text(p.rights)}) set on "
                f"{html_text(p.granted_on)}, via {html_text(p.via)}</li>"
                for p in answer.paths.itertuples(index=False))
            parts.append(f"<ol>{items}</ol>")
        if answer.removals:
            items = "".join(f"<li>{html_text(c.text)}</li>" for c in answer.removals)
            parts.append(f"<p>Each of these alone removes it:</p><ul>{items}</ul>")
    return "".join(parts)


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


def _static_why(answer: Why) -> str:
    call = (f"opskit.audit.why(access, {answer.user!r}, "
            + (f"secret={answer.subject!r})" if answer.kind == "secret"
               else f"{answer.subject!r})"))
    return (f"<h4>Why {html_text(answer.user)} reaches {html_text(answer.subject)}</h4>"
            + why_html(answer, table=False) + f"<p><em>Any other pair: {html_text(call)}.</em></p>")


class StaticExplorer:
    """What a headless run shows in place of the explorer: a note and one table."""

    def __init__(self, access: Any, kind: str | None = None, name: str | None = None):
        if name is None:
            kind, name = default_choice(access)
        self.kind = kind or "folder"
        self.name = name
        self.table = reach_table(access, self.kind, name) if name else pd.DataFrame()
        # One meaningful Why beside the table: its first row's user (or a user's first folder)
        options = why_options(access, self.kind, name) if name else []
        self.why: Why | None = (why_for(access, self.kind, name, options[0][1])
                                if name and options else None)

    def _repr_html_(self) -> str:
        note = ("<p><em>The explorer is interactive: open this notebook in JupyterLab to pick "
                "any folder, user, group or secret.")
        if self.name is None:
            return note + " The inventory holds no folder.</em></p>"
        rest = (f" Every row: opskit.widgets.reach_table(access, {self.kind!r}, {self.name!r})."
                if len(self.table) > ROWS else "")
        return (note + " Shown here: " + html_text(_caption(self.kind, self.name, self.table))
                + "." + html_text(rest) + "</em></p>" + _html_table(self.table)
                + (_static_why(self.why) if self.why is not None else ""))

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

    def __init__(self, access: Any, kind: str = "folder", name: str | None = None, *,
                 run: Any = None):
        import ipywidgets as w

        self.access = access
        self.run = run  # a permission-audit run (inventories, audit): the What if tab's
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
        # The Why of the name shown and a second pick (a user, or a user's folder or secret);
        # made after the table's widgets so a frontend meets those first, as before.
        self.why: Why | None = None  # the Why shown
        self._why_all: list[tuple[str, tuple[str, str]]] = []  # every second pick, listed or not
        self.why_prompt = w.HTML()
        self.why_pick = w.Dropdown(options=[], value=None, description="Why for",
                                   layout=w.Layout(width="95%"))
        self.why_output = w.Output()
        # Each single change the Why offers, previewed in the What if tab
        self.why_preview = w.Dropdown(options=[], value=None, description="Preview",
                                      layout=w.Layout(width="95%", display="none"))
        self.why_box = w.VBox([self.why_prompt, self.why_pick, self.why_output,
                               self.why_preview], layout=w.Layout(display="none"))
        self.explore = w.VBox([self.kind, self.search, self.pick, self.status, self.pager,
                               self.output, self.why_box])
        # One tab per panel: "Explore" (the table and its Why), and "What if" given a run.
        self.whatif = WhatIfPanel(run) if run is not None else None
        panels = [(self.explore, "Explore")] + (
            [(self.whatif.widget, "What if")] if self.whatif is not None else [])
        self.tabs = w.Tab(children=[p for p, _ in panels], titles=[t for _, t in panels])
        self.widget = self.tabs
        for widget, css in ((self.why_pick, "opskit-why-pick"), (self.why_output, "opskit-why"),
                            (self.why_preview, "opskit-why-preview"),
                            (self.why_box, "opskit-why-panel"),
                            (self.explore, "opskit-explore"), (self.tabs, "opskit-explorer-tabs")):
            widget.add_class(css)
        self.kind.observe(self._on_kind, names="value")
        self.search.observe(self._on_search, names="value")
        self.pick.observe(self._on_pick, names="value")
        self.previous.on_click(lambda _: self._page(self.start - ROWS))
        self.next.on_click(lambda _: self._page(self.start + ROWS))
        self.all_rows.observe(lambda _: self._page(0), names="value")
        self.why_pick.observe(self._on_why_pick, names="value")
        self.why_preview.observe(self._on_why_preview, names="value")
        self._refill()
        if name is not None:
            self.show(kind, name)

    # ------------------------------------------------------------------ wiring
    def _all(self, kind: str) -> list[str]:
        if kind not in self._names:
            self._names[kind] = names(self.access, kind)
        return self._names[kind]

    def _relist(self, widget: Any, options: list[Any], value: Any = None) -> None:
        """Give a list widget new options and pick ``value``, as no click: a Select or
        Dropdown moves its pick to the first option when the options change."""
        self._quiet = True
        try:
            widget.options = options
            widget.value = value
        finally:
            self._quiet = False

    def _refill(self) -> None:
        """List the names the filter matches; keep the pick if still listed, else pick the
        name the filter spells out, else nothing."""
        every_hit = matching(self._all(self.kind.value), self.search.value, limit=None)
        hits = every_hit[:MATCHES]
        choice = self.shown if self.shown in hits else exact(hits, self.search.value)
        self._relist(self.pick, hits, choice)
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
        self._refill_why()

    def _refill_why(self) -> None:
        """Offer a Why for the name shown: nothing picked until a second pick."""
        kind, name = self.kind.value, self.shown
        self._why_all = why_options(self.access, kind, name) if name else []
        options = self._why_all[:WHY_CHOICES]  # a dropdown of 10,000s would stall the page
        self._relist(self.why_pick, options)
        self.why_box.layout.display = "flex" if options else "none"
        more = (f" (the first {WHY_CHOICES:,} of {len(self._why_all):,} listed; "
                "AccessExplorer.show_why picks any)" if len(self._why_all) > WHY_CHOICES else "")
        self.why_prompt.value = ("" if not options else
                                 f"<b>Why</b> does a user reach {html_text(name)}? Pick the "
                                 f"user{html_text(more)}." if kind != "user" else
                                 f"<b>Why</b> does {html_text(name)} reach a folder or secret? "
                                 f"Pick it{html_text(more)}.")
        self._render_why(None)

    def _on_why_pick(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self._render_why(change["new"])

    def _render_why(self, other: tuple[str, str] | None) -> None:
        from IPython.display import HTML

        self.why_output.outputs = ()
        self.why = (why_for(self.access, self.kind.value, self.shown, other)
                    if other and self.shown else None)
        if self.why is not None:
            self.why_output.append_display_data(HTML(why_html(self.why)))
        previews = []
        if self.why is not None and self.whatif is not None:
            for removal in self.why.removals:
                changes = removal_changes(self.access, removal)
                if changes is not None:
                    previews.append((removal.text, tuple(changes)))
        self._relist(self.why_preview, previews)
        self.why_preview.layout.display = "flex" if previews else "none"

    def _on_why_preview(self, change: dict[str, Any]) -> None:
        if not self._quiet and change["new"] is not None:
            self.preview(list(change["new"]))

    def preview(self, changes: list[Any]) -> WhatIfView | None:
        """Show what ``changes`` would do in the What if tab, and switch to it."""
        if self.whatif is None:
            raise ValueError("the What if tab needs the permission-audit run: "
                             "explorer(run), not explorer(run.access)")
        self.tabs.selected_index = 1
        return self.whatif.show(changes)

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

    def show_why(self, other: str) -> Why | None:
        """Pick ``other`` in the Why list as if by hand (a user beside the folder or secret
        shown; a folder or secret path beside the user shown); returns the Why."""
        hits = [option for option in self._why_all if option[1][1] == other]
        if not hits:
            shown = f"{KINDS[self.kind.value].lower()} {self.shown}" if self.shown else "nothing"
            raise ValueError(f"{other!r} is not among the Why choices for {shown}: "
                             "show a folder, secret or user first, then pick one it lists")
        if hits[0] not in self.why_pick.options:  # beyond the first WHY_CHOICES: list it
            self._relist(self.why_pick, [*self.why_pick.options, hits[0]])
        self.why_pick.value = hits[0][1]
        return self.why

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
    run = access if hasattr(access, "inventory") and hasattr(access, "audit") else None
    access = getattr(access, "access", access)
    if interactive is None:
        interactive = not headless()
    if not interactive:
        return StaticExplorer(access, kind if name else None, name)
    return AccessExplorer(access, kind, name, run=run)


# ------------------------------------------------------------------ two snapshots compared
def snapshot_folders(source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
                     ) -> list[Path]:
    """The snapshots ``source`` names, oldest first: a snapshot folder (written by ``opskit
    inventory --out`` or :func:`opskit.inventory.save_snapshot`), a folder holding snapshot
    folders, or a list of either. Fewer than two is refused: a comparison needs two."""
    sources = [source] if isinstance(source, str | os.PathLike) else list(source)
    found: list[Path] = []
    for item in sources:
        path = Path(item).expanduser()
        if (path / "manifest.json").is_file():
            found.append(path)
        elif path.is_dir():
            found += [p for p in path.iterdir() if (p / "manifest.json").is_file()]
        else:
            raise ConfigError(f"{path} is not a folder",
                              "name a snapshot folder (written by `opskit inventory --out`) "
                              "or a folder holding snapshot folders")
    if len(found) < 2:
        named = ", ".join(str(Path(s)) for s in sources)
        raise ConfigError(f"{len(found)} snapshot(s) in {named}: comparing needs two",
                          "take another with `opskit inventory --profile P --out DIR`, "
                          "a folder beside the first")
    return sorted(set(found), key=lambda p: (taken_at(p), str(p)))


def taken_at(snapshot: Path) -> str:
    """When a snapshot's inventory was fetched, as its manifest says ("" when it does not)."""
    try:
        meta = json.loads((snapshot / "manifest.json").read_text()).get("meta") or {}
    except (OSError, ValueError, AttributeError):
        return ""
    return str(meta.get("fetched_at") or "")


def snapshot_label(snapshot: Path) -> str:
    when = taken_at(snapshot)
    return f"{snapshot.name} ({when})" if when else snapshot.name


def comparison_html(result: Any, rows: int = ROWS) -> str:
    """A :class:`opskit.audit.Comparison` as HTML: the summary, its notes, then per section
    (grants, members, folders, users, secrets, findings) what was added and removed, the first
    ``rows`` rows of each."""
    parts = [f"<p><b>{html_text(result.summary())}</b></p>"]
    parts += [f"<p><em>{html_text(note)}</em></p>" for note in result.notes]
    for name, table in result.tables().items():
        counts = ", ".join(f"{v} {k}" for k, v in result.counts()[name].items()) or "no change"
        shown = (f"; the first {rows} of {len(table):,} shown (Comparison.{name} holds all)"
                 if len(table) > rows else "")
        parts.append(f"<h4>{html_text(name)}: {html_text(counts + shown)}</h4>")
        if len(table):
            parts.append(_html_table(table, 0, rows))
    return "".join(parts)


class _Snapshots:
    """Snapshots read once each, compared in pairs."""

    def __init__(self, paths: list[Path], service_account: str | None = None):
        self.paths = paths
        self.service_account = service_account
        self._read: dict[Path, Any] = {}

    def compare(self, before: Path, after: Path) -> Any:
        for path in (before, after):
            if path not in self._read:
                self._read[path] = load_snapshot(path)
        return compare(self._read[before], self._read[after],
                       service_account=self.service_account)


class StaticCompare:
    """What a headless run shows in place of :class:`SnapshotCompare`: the two newest
    snapshots compared, as tables."""

    def __init__(self, paths: list[Path], service_account: str | None = None):
        self.before, self.after = paths[-2], paths[-1]
        self.comparison = _Snapshots(paths, service_account).compare(self.before, self.after)

    def _repr_html_(self) -> str:
        return (f"<p><em>Comparing is interactive: open this notebook in JupyterLab to pick any "
                f"two snapshots. Shown here: {html_text(self.before.name)} → "
                f"{html_text(self.after.name)}, the two newest.</em></p>"
                + comparison_html(self.comparison))

    def __repr__(self) -> str:
        return f"StaticCompare({self.before.name} → {self.after.name})"


class SnapshotCompare:
    """Two inventory snapshots compared: pick ``before`` and ``after`` (two dropdowns, the two
    newest at first) and :attr:`output` shows what was added and removed between them;
    :attr:`comparison` is the :class:`opskit.audit.Comparison` shown (None when the pair
    cannot be compared: :attr:`output` says why)."""

    def __init__(self, paths: list[Path], service_account: str | None = None):
        import ipywidgets as w

        self._snapshots = _Snapshots(paths, service_account)
        self.comparison: Any = None
        options = [(snapshot_label(p), p) for p in paths]
        self.before = w.Dropdown(options=options, value=paths[-2], description="Before",
                                 layout=w.Layout(width="48%"))
        self.after = w.Dropdown(options=options, value=paths[-1], description="After",
                                layout=w.Layout(width="48%"))
        self.output = w.Output()
        self.widget = w.VBox([w.HBox([self.before, self.after]), self.output])
        for widget, css in ((self.before, "opskit-compare-before"),
                            (self.after, "opskit-compare-after"),
                            (self.output, "opskit-compare-output"),
                            (self.widget, "opskit-compare")):
            widget.add_class(css)
        self.before.observe(lambda _: self._render(), names="value")
        self.after.observe(lambda _: self._render(), names="value")
        self._render()

    def _render(self) -> None:
        from IPython.display import HTML

        self.output.outputs = ()
        self.comparison = None
        if self.before.value == self.after.value:
            html = "<p><em>Pick two different snapshots.</em></p>"
        else:
            try:
                self.comparison = self._snapshots.compare(self.before.value, self.after.value)
            except OpskitError as e:  # two tenants, the wrong order, an altered snapshot
                html = f"<p><b>Cannot compare:</b> {html_text(str(e))}</p>"
            else:
                html = comparison_html(self.comparison)
        self.output.append_display_data(HTML(html))

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def snapshot_compare(source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *,
                     service_account: str | None = None,
                     interactive: bool | None = None) -> SnapshotCompare | StaticCompare:
    """Compare two inventory snapshots in a notebook cell (leave it as the cell's value).

    ``source``: a folder holding snapshot folders (e.g. ``snapshots/acme``, filled by ``opskit
    inventory --profile acme --out snapshots/acme/DATE``), or a list of snapshot folders.
    ``service_account``: as :func:`opskit.audit.compare` (default: inferred; an on-prem
    snapshot needs it named). Interactive unless the notebook runs headless: then the two
    newest compared, as tables.
    """
    paths = snapshot_folders(source)
    if interactive is None:
        interactive = not headless()
    cls = SnapshotCompare if interactive else StaticCompare
    return cls(paths, service_account)


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


# --------------------------------------------------------------------------- what-if panel
# The changes the explorer's "What if" tab offers: kind → what the person reads.
WHAT_IF_CHANGES = {"remove-member": "remove a user from a group", "revoke": "revoke a grant",
                   "break-inheritance": "break inheritance", "restore-inheritance":
                   "restore inheritance", "disable-user": "disable a user",
                   "delete-group": "delete a group"}
TARGET = {"remove-member": "group", "revoke": "folder", "break-inheritance": "folder",
          "restore-inheritance": "folder", "disable-user": "user", "delete-group": "group"}
PLANNED_FILE = "whatif-planned-changes.csv"
SCIM_OPS_FILE = "whatif-scim-operations.json"


def _names(run: Any) -> Any:
    """The users, groups and memberships the what-if engine knows: the cloud view's and the
    reference's together (the on-prem connector lists no disabled user, nor its groups). The
    reference first: a name is offered as Secret Server, where the change is made, spells it."""
    from .audit._whatif import _Names

    ref = getattr(run, "reference_inventory", None)
    return _Names(([ref] if ref is not None else []) + [run.inventory])


def change_targets(run: Any, kind: str) -> list[str]:
    """What a change of ``kind`` (a key of :data:`WHAT_IF_CHANGES`) can be made to, in name
    order: groups, userNames (of users not disabled yet), or the folders where it applies
    (grants set there to revoke; an inheriting folder to break; a folder with its own grants,
    below the root, to restore)."""
    access = run.access
    if TARGET.get(kind) == "group":
        found = [name for _, name in _names(run).groups.values()]
    elif kind == "disable-user":  # users not disabled already
        names = _names(run)
        found = [name for uid, name in names.users.values()
                 if names.user_rows.get(uid, {}).get("active") is not False]
    elif kind == "revoke":
        grants = access.grants
        found = grants.loc[grants["folder"] == grants["granted_on"], "folder"].astype(str).tolist()
    elif kind in ("break-inheritance", "restore-inheritance"):
        folders = access.folders
        inherits = folders["path"] != folders["granted_on"]
        if kind == "restore-inheritance":
            inherits = ~inherits & (folders["path"].astype(str).str.count("/") > 1)
        found = folders.loc[inherits, "path"].astype(str).tolist()
    else:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(WHAT_IF_CHANGES)}")
    return sorted(set(found), key=str.casefold)


def change_details(run: Any, kind: str, target: str) -> list[tuple[str, Any]]:
    """The second pick a change needs, as (label, value) pairs: the users directly in the group
    (remove-member), or the grants set on the folder (revoke: value (principal_type,
    principal)); empty for the other kinds."""
    if kind == "remove-member":
        names = _names(run)
        if target not in names.groups:
            return []
        return [(name, name) for name in names.direct_users(target)]
    if kind == "revoke":
        grants = run.access.grants
        here = grants[(grants["folder"] == target) & (grants["granted_on"] == target)]
        return [(f"{t} {p} ({', '.join(r)})", (str(t), str(p)))
                for t, p, r in zip(here["principal_type"], here["principal"], here["rights"],
                                   strict=True)]
    return []


def make_change(kind: str, target: str, detail: Any = None) -> Any:
    """The :mod:`opskit.audit` change a pick in the What if tab stands for."""
    from .audit import (
        BreakInheritance,
        DeleteGroup,
        DisableUser,
        RemoveMember,
        RestoreInheritance,
        RevokeGrant,
    )

    if kind == "remove-member":
        return RemoveMember(target, detail)
    if kind == "revoke":
        principal_type, principal = detail
        return RevokeGrant(target, principal, principal_type)
    made = {"break-inheritance": BreakInheritance, "restore-inheritance": RestoreInheritance,
            "disable-user": DisableUser, "delete-group": DeleteGroup}
    if kind not in made:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(WHAT_IF_CHANGES)}")
    return made[kind](target)


def removal_changes(access: Any, removal: Any) -> list[Any] | None:
    """The what-if changes that make one of a Why's single changes (:class:`opskit.audit.
    Removal`), or None when the what-if has none for it (a nested group taken out of a group,
    or a change on a secret's own permissions). Breaking inheritance is the break and then the
    revocation, on the folder's copy, of the grants the Why says to leave out."""
    from .audit import BreakInheritance, RemoveMember, RevokeGrant

    def principal(kind: str, pid: Any) -> str | None:
        grants = access.grants
        hit = grants.loc[(grants["principal_type"] == kind) & (grants["principal_id"] == pid),
                         "principal"]
        return None if hit.empty else str(hit.iloc[0])

    if removal.secret is not None:
        return None
    if removal.kind == "remove member":
        users = access.users.set_index("id")["userName"]
        groups = access.reach.groups.set_index("id")["displayName"]
        if removal.member_id not in users.index or removal.group_id not in groups.index:
            return None  # a group inside a group: no what-if change takes it out
        return [RemoveMember(str(groups[removal.group_id]), str(users[removal.member_id]))]
    if removal.kind == "revoke grant":
        name = principal(removal.principal_type, removal.principal_id)
        return None if name is None else [RevokeGrant(removal.folder, name,
                                                      removal.principal_type)]
    if removal.kind == "break inheritance":
        names = [(kind, principal(kind, pid)) for kind, pid in removal.leave_out]
        if any(name is None for _, name in names):
            return None
        return [BreakInheritance(removal.folder)] + [
            RevokeGrant(removal.folder, str(name), kind) for kind, name in names]
    return None


def preview_changes(run: Any, changes: list[Any]) -> WhatIfView:
    """What ``changes`` would do to the tenant a permission-audit run (:class:`opskit.reports.
    permission_audit.AuditRun`) read: its audit reused as the before."""
    from .audit import what_if as run_what_if

    audited = run.audit
    return WhatIfView(run_what_if(run.inventory, changes, reference=run.reference_inventory,
                                  tenant=audited.tenant, service_account=audited.service_account,
                                  before=audited))


def export_changes(run: Any, changes: list[Any], folder: str | os.PathLike[str] = ".", *,
                   which: tuple[str, ...] = ("csv", "scim")) -> list[Path]:
    """Write ``changes`` into ``folder`` (the notebook's, by default): ``csv``, a
    planned-changes CSV (:data:`PLANNED_FILE`, which ``planned_changes=`` and ``changes_of``
    read back); ``scim``, the SCIM operations that would make them (:data:`SCIM_OPS_FILE`:
    JSON, nothing sent). Returns the files written."""
    from .audit import scim_plan
    from .inputs.audit import write_planned_changes

    out = Path(folder)
    written = []
    if "csv" in which:
        written.append(write_planned_changes(changes, out / PLANNED_FILE))
    if "scim" in which:
        plan = scim_plan(run.inventory, changes, reference=run.reference_inventory)
        ops = {"changes": [c.describe() for c in changes],
               "operations": [{"method": op.method, "path": op.path, "body": op.body,
                               "summary": op.summary} for op in plan.operations],
               "manual": [{"what": m.what, "subjects": list(m.subjects),
                           "steps": list(m.steps)} for m in plan.manual],
               "skipped": list(plan.skipped)}
        out.mkdir(parents=True, exist_ok=True)
        path = out / SCIM_OPS_FILE
        path.write_text(json.dumps(ops, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


class WhatIfPanel:
    """The explorer's "What if" tab: pick a change (kind, target, and the member or grant it
    needs), *Preview* shows its blast radius (:class:`WhatIfView`: who gains or loses, findings
    appearing or disappearing, what the cloud connector would newly see or hide), and the
    export buttons write the planned-changes CSV and the SCIM operations next to the notebook,
    with a link to each file written."""

    def __init__(self, run: Any, folder: str | os.PathLike[str] = "."):
        import ipywidgets as w

        self.run = run
        self.folder = Path(folder)
        self.changes: list[Any] = []  # what the preview shows
        self.view: WhatIfView | None = None
        self.kind = w.Dropdown(options=[(label, k) for k, label in WHAT_IF_CHANGES.items()],
                               value="remove-member", description="Change")
        self.target = w.Combobox(placeholder="type to pick", description="Target",
                                 ensure_option=True, layout=w.Layout(width="95%"))
        self.detail = w.Dropdown(options=[], value=None, description="Which",
                                 layout=w.Layout(width="95%"))
        self.preview = w.Button(description="Preview", button_style="primary")
        self.write_csv = w.Button(description="Write planned-changes CSV", disabled=True)
        self.write_ops = w.Button(description="Write SCIM operations", disabled=True)
        self.links = w.HTML()
        self.output = w.Output()
        self.widget = w.VBox([self.kind, self.target, self.detail, self.preview, self.output,
                              w.HBox([self.write_csv, self.write_ops]), self.links])
        for widget, css in ((self.kind, "opskit-whatif-kind"),
                            (self.target, "opskit-whatif-target"),
                            (self.detail, "opskit-whatif-detail"),
                            (self.preview, "opskit-whatif-preview"),
                            (self.write_csv, "opskit-whatif-csv"),
                            (self.write_ops, "opskit-whatif-scim"),
                            (self.links, "opskit-whatif-links"),
                            (self.output, "opskit-whatif-output"), (self.widget, "opskit-whatif")):
            widget.add_class(css)
        self.kind.observe(lambda _: self._refill_targets(), names="value")
        self.target.observe(lambda _: self._refill_details(), names="value")
        self.preview.on_click(lambda _: self._preview_picked())
        self.write_csv.on_click(lambda _: self.export("csv"))
        self.write_ops.on_click(lambda _: self.export("scim"))
        self._refill_targets()

    def _refill_targets(self) -> None:
        self.target.options = change_targets(self.run, self.kind.value)
        self.target.placeholder = f"type to pick a {TARGET[self.kind.value]}"
        self.target.value = ""
        self._refill_details()

    def _refill_details(self) -> None:
        kind, target = self.kind.value, self.target.value
        options = (change_details(self.run, kind, target)
                   if target in self.target.options else [])
        self.detail.options = options
        self.detail.value = options[0][1] if options else None
        self.detail.layout.display = "flex" if kind in ("remove-member", "revoke") else "none"

    def picked(self) -> Any:
        """The change the controls name, or None while one is incomplete."""
        kind, target = self.kind.value, self.target.value
        if target not in self.target.options:
            return None
        if kind in ("remove-member", "revoke") and self.detail.value is None:
            return None
        return make_change(kind, target, self.detail.value)

    def _preview_picked(self) -> None:
        change = self.picked()
        if change is None:
            self._say(f"Pick a {TARGET[self.kind.value]}"
                      + (" and which member or grant" if self.detail.layout.display == "flex"
                         else "") + " first.")
        else:
            self.show([change])

    def _say(self, text: str) -> None:
        from IPython.display import HTML

        self.output.outputs = ()
        self.output.append_display_data(HTML(f"<p><em>{html_text(text)}</em></p>"))

    def show(self, changes: list[Any]) -> WhatIfView | None:
        """Preview ``changes`` (what-if changes); a change that cannot be made as things stand
        says why instead. Returns the view shown."""
        from IPython.display import HTML

        self.changes, self.view, self.links.value = [], None, ""
        try:
            self.view = preview_changes(self.run, changes)
        except OpskitError as e:  # ChangeNotApplicable, UnknownName: one clear message
            self._say(f"Cannot preview: {e}")
        except Exception as e:  # a bug: said in the tab, where a callback's traceback never shows
            self._say(f"Could not preview: {type(e).__name__}: {e}")
        else:
            self.changes = list(changes)
            self.output.outputs = ()
            self.output.append_display_data(HTML(self.view._repr_html_()))
        self.write_csv.disabled = self.write_ops.disabled = not self.changes
        return self.view

    def export(self, *which: str) -> list[Path]:
        """Write the previewed changes (``which``: ``csv``, ``scim``; none: both) next to the
        notebook and link each file written."""
        if not self.changes:
            return []
        written = export_changes(self.run, self.changes, self.folder,
                                 which=which or ("csv", "scim"))
        self.links.value = "Written: " + ", ".join(
            f'<a href="{html_text(os.path.relpath(p))}" target="_blank">{html_text(p.name)}</a>'
            for p in written)
        return written
