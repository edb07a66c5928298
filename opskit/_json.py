"""JSON values rewritten string by string."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def map_strings(value: Any, change: Callable[[Any], Any], leaf: type = str) -> Any:
    """``value`` (dicts, lists, scalars, as JSON holds them) with every ``leaf`` string in it
    (keys aside) replaced by ``change(string)``; everything else as it was."""
    if isinstance(value, leaf):
        return change(value)
    if isinstance(value, dict):
        return {k: map_strings(v, change, leaf) for k, v in value.items()}
    if isinstance(value, list):
        return [map_strings(v, change, leaf) for v in value]
    return value
