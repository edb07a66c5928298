"""Matching group names across systems: exact first, then external id, then normalised.

Pure functions over small frames (``key``, ``name``, ``external_id``). A pair that matches only
by external id or only after normalisation is kept apart from an exact match (``how``), so the
report can say so instead of silently treating two spellings as one.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pandas as pd

MatchedBy = Literal["exact", "external id", "normalised"]

_DOMAIN_PREFIX = re.compile(r"^[^\\]*\\")  # 'ACME\Finance' → 'Finance'
_DOMAIN_SUFFIX = re.compile(r"(?<=\S)@[^@\s]+$")  # 'finance@acme.com' → 'finance'


def quoted(name: str) -> str:
    """A name in a message as people read it: 'ACME\\Operations', not repr's doubled
    backslash. Control characters still show as escapes (repr), so none hides in the text."""
    return f"'{name}'" if name.isprintable() else repr(name)


@dataclass(frozen=True)
class NameRules:
    """How group names are compared once an exact match fails.

    Unicode normal form (NFKC), case, and surrounding or repeated spaces are always ignored;
    the domain parts are ignored unless switched off here.
    """

    strip_domain_prefix: bool = True  # 'DOMAIN\group'
    strip_domain_suffix: bool = True  # 'group@domain'
    match_external_id: bool = True  # where both sides have one


def _steps(rules: NameRules) -> list[tuple[str, Callable[[str], str]]]:
    steps: list[tuple[str, Callable[[str], str]]] = [
        ("Unicode form", lambda s: unicodedata.normalize("NFKC", s))]
    if rules.strip_domain_prefix:
        steps.append(("domain prefix", lambda s: _DOMAIN_PREFIX.sub("", s.strip())))
    if rules.strip_domain_suffix:
        steps.append(("domain suffix", lambda s: _DOMAIN_SUFFIX.sub("", s.strip())))
    steps.append(("spaces", lambda s: " ".join(s.split())))
    return steps


def normalise_name(name: str, rules: NameRules = NameRules()) -> str:
    """The form names are compared in when they do not match exactly."""
    for _, step in _steps(rules):
        name = step(name)
    return name.casefold()


def name_differences(a: str, b: str, rules: NameRules = NameRules()) -> list[str]:
    """What two names that match after normalisation differ in: 'case', 'spaces', …"""
    found = []
    for label, step in _steps(rules):
        na, nb = step(a), step(b)
        if (na, nb) != (a, b):
            found.append(label)
        a, b = na, nb
    if a != b:  # only case is left, since the names match after normalisation
        found.append("case")
    return found


@dataclass(frozen=True)
class Match:
    left: str  # key on the left side
    right: str  # key on the right side
    how: MatchedBy


def match_groups(left: pd.DataFrame, right: pd.DataFrame,
                 rules: NameRules = NameRules()) -> list[Match]:
    """One-to-one matches between two frames of groups (``key``, ``name``, ``external_id``).

    Each round only considers groups no earlier round matched: exact name, then external id
    (both sides non-empty), then normalised name. A normalised name shared by several
    unmatched groups on either side is ambiguous and matches nothing.
    """
    matches: list[Match] = []
    left_free = dict(zip(left["key"], zip(left["name"], left["external_id"], strict=True),
                         strict=True))
    right_free = dict(zip(right["key"], zip(right["name"], right["external_id"], strict=True),
                          strict=True))

    def take(how: MatchedBy, key_of: Callable[[tuple[str, str | None]], str | None]) -> None:
        lefts: dict[str, list[str]] = defaultdict(list)
        rights: dict[str, list[str]] = defaultdict(list)
        for k, v in left_free.items():
            if (x := key_of(v)) is not None:
                lefts[x].append(k)
        for k, v in right_free.items():
            if (x := key_of(v)) is not None:
                rights[x].append(k)
        for x, ls in lefts.items():
            rs = rights.get(x)
            if not rs:
                continue
            if how != "exact" and (len(ls) > 1 or len(rs) > 1):
                continue  # ambiguous: leave it to the report as unmatched
            for lk, rk in zip(ls, rs, strict=False):
                matches.append(Match(lk, rk, how))
                del left_free[lk], right_free[rk]

    take("exact", lambda v: v[0])
    if rules.match_external_id:
        take("external id", lambda v: v[1] if isinstance(v[1], str) and v[1] else None)
    take("normalised", lambda v: normalise_name(v[0], rules))
    return matches
