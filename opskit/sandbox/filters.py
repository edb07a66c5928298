"""Filters as each flavor accepts them; parsing and matching are scim2-models' ScimFilter.

On-prem takes the whole RFC 7644 §3.4.2.2 grammar. The cloud connector takes only ``eq`` and
``co`` (FAQ), joined with ``and``; anything else is refused with 400 ``invalidFilter``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from scim2_models import SCIMException, ScimFilter
from scim2_models.path.expressions import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)

from . import schemas
from .errors import ScimError

CLOUD_OPERATORS = frozenset({CompareOperator.eq, CompareOperator.co})
# Complex attributes that, since connector 2.5, compare on their value: `container eq 1`.
_REFERENCE_ATTRS = {"container", "parent", "user", "group", "privilegeddata", "members"}


def _invalid(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidFilter")


def _shorthand(node: FilterNode) -> FilterNode:
    """Rewrite `container eq "1"` as `container.value eq "1"` (on-prem 2.5 behaviour)."""
    if isinstance(node, Comparison | Present):
        ap = node.attr_path
        if ap.sub_attr is None and ap.uri is None and ap.attr.lower() in _REFERENCE_ATTRS:
            return replace(node, attr_path=AttrPath(attr=ap.attr, sub_attr="value"))
        return node
    if isinstance(node, Not):
        return replace(node, expr=_shorthand(node.expr))
    if isinstance(node, LogicalExpr):
        return replace(node, terms=tuple(_shorthand(t) for t in node.terms))
    return node


def _cloud_check(node: FilterNode, text: str) -> None:
    if isinstance(node, Comparison):
        if node.op not in CLOUD_OPERATORS:
            raise _invalid(f"Filter operator '{node.op.value}' is not supported; the SCIM Cloud "
                           "Connector supports only 'eq' and 'co'.")
        return
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.and_:
        for term in node.terms:
            _cloud_check(term, text)
        return
    what = {Present: "'pr'", Not: "'not'", ValuePath: "'[...]' value filters",
            LogicalExpr: "'or'"}.get(type(node), "this expression")
    raise _invalid(f"Filter string '{text}' uses {what}; the SCIM Cloud Connector supports "
                   "only 'eq' and 'co'.")


class CompiledFilter:
    """A filter checked for one flavor and resource type, ready to select ids."""

    def __init__(self, text: str, kind: str, flavor: str):
        self.text = text
        try:
            parsed: ScimFilter[Any] = ScimFilter(text)  # not bound to a model yet
        except SCIMException as exc:
            raise _invalid(f"Filter string '{text}' is not in proper format: {exc}") from None
        ast = parsed.ast
        if flavor == "cloud":
            _cloud_check(ast, text)
        ast = _shorthand(ast)
        model = schemas.models()[kind]
        try:
            # scim2-models binds a filter to a model by subscripting, here one chosen at run
            # time, which mypy reads as a static type.
            self.bound = ScimFilter[model](str(ast))  # type: ignore[valid-type]
            self.bound._validate_semantics(strict=False)
        except SCIMException as exc:
            raise _invalid(f"Filter string '{text}' is not valid here: {exc}") from None
        self.ast = ast

    def equality_terms(self) -> list[tuple[str, Any]]:
        """(attribute path, value) of top-level `eq` terms, which an index may answer."""
        nodes: Iterable[FilterNode]
        if isinstance(self.ast, LogicalExpr) and self.ast.op == LogicalOperator.and_:
            nodes = self.ast.terms
        else:
            nodes = [self.ast]
        out = []
        for n in nodes:
            if isinstance(n, Comparison) and n.op == CompareOperator.eq and n.attr_path.uri is None:
                ap = n.attr_path
                out.append((ap.attr if ap.sub_attr is None else f"{ap.attr}.{ap.sub_attr}",
                            n.value))
        return out

    def select(self, candidates: Iterable[str], model_of: Callable[[str], Any]) -> list[str]:
        out = []
        for rid in candidates:
            model = model_of(rid)
            if model is not None and self.bound.match(model):
                out.append(rid)
        return out
