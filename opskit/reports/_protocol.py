"""The one shape of a report's result, and how a notebook shows it.

Every report's entry function returns a result that follows :class:`Report`, so every notebook
is the same few cells: parameters, the entry call, :func:`show` under each heading, and
``record(result.findings, result.metrics())`` last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from ..findings import Finding, findings_frame
from ..report.findings import FindingsByCode, findings_grouped, findings_styled

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler


@dataclass(frozen=True)
class Table:
    """A frame as a report shows it (:func:`opskit.report.table`): escaped, no index unless
    ``index``, interactive (sorted, searched, filtered, paged, exported as CSV and XLSX), and
    an empty one as a one-line note saying why (``empty``)."""

    frame: Any
    empty: str = "Nothing to show."
    index: bool = False


@runtime_checkable
class Report(Protocol):
    """What a report's entry function returns.

    ``SECTIONS`` names what the notebook shows, in its order; the first is the summary under
    the headline. ``section(name)`` gives what is shown there, in order: Markdown text (a
    ``str``), a :class:`Table`, a Styler from :func:`opskit.report.display.styled` (shown as
    interactive as a Table), or anything IPython displays (a plotly figure, a widget) as it is.
    """

    SECTIONS: ClassVar[tuple[str, ...]]

    @property
    def findings(self) -> list[Finding]:
        """The findings that stand: what ``record()`` hands to the runner."""
        ...

    def metrics(self) -> dict[str, Any]:
        """Counts for results.json (JSON-serialisable)."""
        ...

    def headline(self) -> str:
        """Markdown: the verdict in a paragraph, and every note the reader must see."""
        ...

    def section(self, name: str) -> list[Any]:
        """What the notebook shows under ``name`` (one of ``SECTIONS``)."""
        ...


class _HasFindings(Protocol):
    @property
    def findings(self) -> list[Finding]: ...


class FindingsTables:
    """The findings as a frame, as a styled table (one row per finding) and grouped by code
    (what a notebook shows), for any result with ``findings`` (a mixin)."""

    def findings_frame(self: _HasFindings) -> pd.DataFrame:
        return findings_frame(self.findings)

    def findings_styled(self: _HasFindings) -> Styler | Any:  # with no findings, a Markdown line
        return findings_styled(self.findings)

    def findings_grouped(self: _HasFindings) -> FindingsByCode:
        return findings_grouped(self.findings)


def unknown_section(report: Report, name: str) -> ValueError:
    """The error for a section a report does not have, naming the ones it has."""
    return ValueError(f"{type(report).__name__} has no section {name!r}; its sections are "
                      f"{', '.join(report.SECTIONS)}")


def show(report: Report, section: str | None = None) -> None:
    """Display one section of a report; without ``section``, the headline and the summary
    (the first of ``SECTIONS``)."""
    from IPython.display import Markdown, display
    from pandas.io.formats.style import Styler

    from ..report.display import interactive, table

    items = [report.headline(), *report.section(report.SECTIONS[0])] if section is None \
        else report.section(section)
    for item in items:
        if isinstance(item, str):
            display(Markdown(item))
        elif isinstance(item, Table):
            display(table(item.frame, empty=item.empty, index=item.index))
        elif isinstance(item, Styler):  # a report's own colours: interactive all the same
            display(interactive(item))
        else:
            display(item)
