"""SCIM filters: built with safe quoting, and split by what the server can evaluate.

A value is always written as a JSON string literal (RFC 7644 §3.4.2.2 takes JSON's escapes), so
quotes and backslashes inside it cannot end the string and change the filter's meaning; an
attribute path must be a valid path, never free text. The SCIM Cloud Connector evaluates only
``eq`` and ``co`` (joined with ``and``): `split` sends it those terms and keeps the rest for
scim2-models' ScimFilter to evaluate on the client.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:  # scim2-models is imported where a filter is parsed: building one needs none
    from scim2_models.path.expressions import FilterNode

_PATH = re.compile(r"^(urn:[A-Za-z0-9][\w.:-]*:)?[A-Za-z][\w$-]*(\.[A-Za-z$][\w$-]*)?$")
OPERATORS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")  # RFC 7644 §3.4.2.2
CLOUD_OPERATORS = frozenset({"eq", "co"})


def literal(value: Any) -> str:
    """A comparison value as filter text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, datetime):
        value = value.isoformat()
    return json.dumps(str(value), ensure_ascii=False)


def compare(path: str, op: str, value: Any) -> str:
    if not _PATH.match(path):
        raise ConfigError(f"{path!r} is not a SCIM attribute path",
                          "use a name like userName, emails.value or container.value")
    if op not in OPERATORS:
        raise ConfigError(f"{op!r} is not a SCIM comparison operator",
                          "use eq, ne, co, sw, ew, gt, ge, lt or le")
    return f"{path} {op} {literal(value)}"


def eq(path: str, value: Any) -> str:
    return compare(path, "eq", value)


def co(path: str, value: Any) -> str:
    return compare(path, "co", value)


def and_(*filters: str) -> str:
    parts = [f for f in filters if f]
    return parts[0] if len(parts) == 1 else " and ".join(f"({f})" for f in parts)


def parse(text: str) -> FilterNode:
    from scim2_models import SCIMException, ScimFilter

    try:
        return ScimFilter(text).ast
    except SCIMException as exc:
        raise ConfigError(f"the filter {text!r} is not valid SCIM filter syntax ({exc})",
                          'write it as attribute operator value, e.g. userName eq "a@b.com"'
                          ) from None


def _pushable(node: FilterNode) -> bool:
    from scim2_models.path.expressions import Comparison

    return isinstance(node, Comparison) and node.op.value in CLOUD_OPERATORS


def split(text: str | None, eq_co_only: bool) -> tuple[str | None, str | None]:
    """(filter for the server, filter for the client); either may be None."""
    if not text:
        return None, None
    from scim2_models.path.expressions import LogicalExpr, LogicalOperator

    ast = parse(text)
    if not eq_co_only:
        return text, None
    terms = ast.terms if isinstance(ast, LogicalExpr) and ast.op == LogicalOperator.and_ \
        else (ast,)
    server = [str(t) for t in terms if _pushable(t)]
    client = [str(t) for t in terms if not _pushable(t)]
    return (" and ".join(server) or None), (" and ".join(f"({c})" for c in client) or None)
