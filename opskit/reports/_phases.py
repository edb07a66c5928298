"""One progress bar over a report's phases (fetching, analysing, …), each step named.

A long run shows where it is, not only while a listing is read: the bar's total is the number
of phases, and it stays in the notebook after the cell ends (a Run All leaves it on screen)
except in headless runs, where it goes when done, as the inventory's bar always has. Kept here,
beside the reports: the analysis (opskit.audit, opskit.groupgap) does no I/O and shows nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeAlias

from tqdm.auto import tqdm
from tqdm.std import tqdm as Bar  # every bar: the widget's and the terminal's

from ..report.display import headless

if TYPE_CHECKING:
    Progress: TypeAlias = bool | Bar[Any]
else:  # tqdm is not generic at run time; get_type_hints() on an entry point must resolve this
    Progress: TypeAlias = bool | Bar
"""True: a bar (tqdm.auto: a widget in Lab, text on a terminal); False: none; a bar: that one."""


@contextmanager
def phases(count: int, desc: str, progress: Progress) -> Iterator[Callable[[str], None]]:
    """A bar of ``count`` phases; yields ``step(label)``, called as each phase starts (the one
    before is then done). A run that ends normally fills the bar (count of count)."""
    # No rate: "0.3 phases/s" says nothing; the elapsed time does. ({desc} ends in ": ".)
    shape = "{desc}{n}/{total} {bar} [{elapsed}]"
    own = not isinstance(progress, Bar)
    if isinstance(progress, Bar):
        bar: Bar[Any] = progress
        bar.reset(total=count)
        bar.bar_format = shape
    else:
        bar = tqdm(total=count, desc=desc, bar_format=shape,
                   disable=None if progress else True, leave=not headless())
    started = 0

    def step(label: str) -> None:
        nonlocal started
        if started:
            bar.update(1)
        started += 1
        bar.set_description(f"{desc}: {label}")  # refreshes now: the label is seen at once

    try:
        yield step
        bar.update(count - bar.n)
        bar.set_description(f"{desc}: done")
    finally:
        if own:
            bar.close()


def inner(progress: Progress) -> bool:
    """Whether the bars inside a phase (an inventory's) show: not under a caller's own bar."""
    return progress is True
