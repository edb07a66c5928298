"""The IGA settings file: what an admin entered in the IGA's SCIM source, as YAML or JSON.

Its keys and what they mean are in :mod:`opskit.checks.iga`, which checks the settings against
what the tenant needs; this module only reads the file, with one clear message when it cannot be
used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .._localfile import UnreadableFile, read_regular_file
from ..checks.iga import IGA_HOSTING, KNOWN_KEYS
from ..errors import ConfigError

SETTINGS_FILE_LIMIT = 1 << 20  # bytes: far more than any settings file


def load_settings(path: str | Path) -> dict[str, Any]:
    """Read an IGA settings file (YAML or JSON); one clear message when it cannot be used."""
    p = Path(path)
    try:
        # A settings file is a few lines: read as a regular file, so a pipe or a device named
        # by mistake neither blocks nor fills memory.
        text = read_regular_file(p, SETTINGS_FILE_LIMIT).decode("utf-8-sig")
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except UnreadableFile as why:
        raise ConfigError(f"{p}: the IGA settings file {why}",
                          "give the path of the IGA settings file") from None
    except (ValueError, yaml.YAMLError, RecursionError) as exc:
        raise ConfigError(f"{p}: cannot be read as YAML or JSON "
                          f"({'nested too deeply' if isinstance(exc, RecursionError) else exc})",
                          "write it as key: value lines, see opskit.checks.iga") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of settings",
                          f"use the keys {', '.join(sorted(KNOWN_KEYS))}")
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{p}: unknown setting(s) {', '.join(unknown)}",
                          f"use the keys {', '.join(sorted(KNOWN_KEYS))}")
    if not isinstance(data.get("filters", {}), dict) or not isinstance(
            data.get("request_parameters", {}), dict):
        raise ConfigError(f"{p}: 'filters' and 'request_parameters' must be mappings",
                          "write them as {name: value} pairs")
    if data.get("hosting", "cloud") not in IGA_HOSTING:
        raise ConfigError(f"{p}: hosting is {str(data['hosting'])[:40]!r}",
                          "write hosting: cloud (the IGA calls from the internet) or hosting: "
                          "on-prem (from inside the connector's network)")
    return data
