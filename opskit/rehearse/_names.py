"""Names between production and its twin.

A pseudonymised twin keeps every id and replaces every name by ``Pseudonyms(key).name``. So a
production planned-changes file runs on the twin once its names go forward through the same
key, and what the twin's operations say goes back to production through the inverse of
``Pseudonyms.mapping``, built over the production snapshot's names: ids need no mapping.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from .._json import map_strings
from .._pseudonyms import Pseudonyms, longest_first
from ..audit import (
    BreakInheritance,
    Change,
    DeleteGroup,
    DisableUser,
    RemoveMember,
    RestoreInheritance,
    RevokeGrant,
    SetGrant,
)
from ..groupgap import ManualAction, Operation, RemediationPlan, ServiceAccountChange

# The inventory columns that hold names (everything a twin pseudonymises that opskit reads).
NAME_COLUMNS = {"users": ("userName", "displayName", "email", "externalId"),
                "groups": ("displayName", "externalId"),
                "group_members": ("member_display",),
                "containers": ("name", "path"), "privileged_data": ("name",)}
# A pseudonym's words are at least eight letters: only such runs of text can be one.
_WORD = re.compile(r"[^\W\d_]{8,}")


def production_names(inventories: Iterable[Any]) -> list[str]:
    """Every name the inventories hold, in their order, once each."""
    seen: dict[str, None] = {}
    for inv in inventories:
        for frame, columns in NAME_COLUMNS.items():
            table = getattr(inv, frame)
            for column in columns:
                if column in table.columns:
                    seen.update((v, None) for v in table[column].tolist()
                                if isinstance(v, str) and v)
    return list(seen)


class NameMap:
    """Production names ↔ twin names under the operator's key; ``NameMap()`` keeps names (a
    twin made with ``--keep-names``, or the demo company standing in for one)."""

    def __init__(self, pseudonyms: Pseudonyms | None = None) -> None:
        self._pseudonyms = pseudonyms
        self._back: dict[str, str] = {}
        self._by_word: dict[str, list[str]] = {}
        self._production_words: set[str] = set()
        self._pattern_cache: dict[frozenset[str], re.Pattern[str]] = {}
        if pseudonyms is not None:
            self._learn(pseudonyms.mapping.items())

    @classmethod
    def over(cls, production: Sequence[Any], key: str, also: Iterable[str] = ()) -> NameMap:
        """The map for a twin of ``production`` (inventories of it) made with ``key``;
        ``also``: production names no inventory holds (an IGA export's groups and members)."""
        pseudonyms = Pseudonyms(key)
        for name in [*production_names(production), *also]:
            pseudonyms.name(name)
        return cls(pseudonyms)

    @property
    def keeps_names(self) -> bool:
        return self._pseudonyms is None

    def _learn(self, pairs: Iterable[tuple[str, str]]) -> None:
        for name, pseudonym in pairs:
            self._back.setdefault(pseudonym, name)
            self._production_words.update(_WORD.findall(name))
            for word in set(_WORD.findall(pseudonym)):
                self._by_word.setdefault(word, []).append(pseudonym)

    # ------------------------------------------------------------------ forward
    def forward(self, name: str) -> str:
        """A production name as the twin has it."""
        if self._pseudonyms is None:
            return name
        new = name not in self._pseudonyms.mapping
        out = self._pseudonyms.name(name)
        if new:  # a name the snapshot lacked (a path): learnt for the way back too
            self._learn([(name, out)])
        return out

    def forward_changes(self, changes: Sequence[Change]) -> list[Change]:
        """Changes naming production objects, as they name the twin's."""
        out: list[Change] = []
        f = self.forward
        for c in changes:
            if isinstance(c, SetGrant | RevokeGrant):
                out.append(replace(c, folder=f(c.folder), principal=f(c.principal)))
            elif isinstance(c, RemoveMember):
                out.append(replace(c, group=f(c.group), user=f(c.user)))
            elif isinstance(c, DisableUser):
                out.append(replace(c, user=f(c.user)))
            elif isinstance(c, DeleteGroup):
                out.append(replace(c, group=f(c.group)))
            elif isinstance(c, BreakInheritance | RestoreInheritance):
                out.append(replace(c, folder=f(c.folder)))
        return out

    # ------------------------------------------------------------------ back
    def back(self, text: str) -> str:
        """Twin text (a name, or a sentence naming things) in production names."""
        if self._pseudonyms is None or not text:
            return text
        exact = self._back.get(text)
        if exact is not None:
            return exact
        candidates = frozenset(p for w in _WORD.findall(text) for p in self._by_word.get(w, ()))
        if not candidates:
            return text
        pattern = self._pattern_cache.get(candidates)
        if pattern is None:  # longest first: a path before the folder names it holds
            pattern = re.compile(longest_first(candidates))
            self._pattern_cache[candidates] = pattern
        return pattern.sub(lambda m: self._back[m.group(0)], text)

    def back_value(self, value: Any) -> Any:
        """A request body (or any JSON value) with every string in production names."""
        return map_strings(value, self.back)

    def back_plan(self, plan: RemediationPlan) -> RemediationPlan:
        """The twin's plan as production gets it: the same ids, production names."""
        b = self.back
        ops = [Operation(op.method, op.path, self.back_value(op.body), b(op.summary), op.code,
                         b(op.subject), b(op.members)) for op in plan.operations]
        manual = [ManualAction(m.code, tuple(map(b, m.subjects)), b(m.what), m.steps)
                  for m in plan.manual]
        service_account = [
            ServiceAccountChange(b(c.group), b(c.platform_name), c.platform_id, c.member_ids,
                                 tuple(map(b, c.members)), tuple(map(b, c.folders)),
                                 tuple(map(b, c.secrets)), c.planned, c.unidentified)
            for c in plan.service_account]
        return RemediationPlan(ops, manual, [b(s) for s in plan.skipped],
                               None if plan.incomplete is None else b(plan.incomplete),
                               service_account)

    def pseudonyms_in(self, plan: RemediationPlan, twin_names: Iterable[str] = ()) -> list[str]:
        """The pseudonyms a plan mapped back still holds (none is the rule): words of the
        twin's names (``twin_names``, and every pseudonym this map made) that are no word of
        a production name. A name production's snapshot lacks cannot go back: it shows here."""
        if self._pseudonyms is None:
            return []
        twin_words = set(self._by_word).union(*(_WORD.findall(n) for n in twin_names))
        twin_words -= self._production_words
        texts = [str(plan.as_frame().to_dict("records")), str([op.body for op in
                                                               plan.operations]),
                 str([op.members for op in plan.operations]), str(plan.skipped),
                 str([m.subjects for m in plan.manual])]
        return sorted({w for t in texts for w in _WORD.findall(t) if w in twin_words})
