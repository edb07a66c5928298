"""Limits a user may raise through the environment (each documented where it applies)."""

from __future__ import annotations

import os

from .errors import ConfigError


def env_limit(name: str, default: int, unit: str) -> int:
    """The whole number ``name`` sets in the environment, else ``default``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name}={raw[:40]!r} is not a number of {unit}",
                          f"set it to a whole number such as {default}, or unset it")
    return int(raw)
