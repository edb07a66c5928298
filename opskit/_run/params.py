"""The parameter contract: what a notebook declares, and what a run may pass it.

Names are checked against the notebook's parameters cell (read by papermill's own inspection)
before any kernel starts; values given as text (the command line's ``-p KEY VALUE``) are
converted to the declared type; nothing that looks like a secret is accepted, because papermill
writes parameters into the executed notebook in clear text.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ParameterError, RunError, SecretParameterError
from .secrets import secret_name_reason, secret_value_reason

PROFILE = "profile"  # every opskit notebook declares it; the runner passes the profile's name
_TRUE, _FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}
_COLLECTIONS = {"list": list, "dict": dict, "tuple": tuple, "set": set}


@dataclass(frozen=True)
class DeclaredParameter:
    """One assignment of a notebook's parameters cell."""

    name: str
    type_name: str | None  # "str", "int", ...; from the annotation, else from the default
    default: str  # as written in the cell
    help: str


def declared_parameters(notebook: Path) -> dict[str, DeclaredParameter]:
    """The parameters a notebook declares, in order (empty when it has no parameters cell)."""
    from .._imports import papermill as import_papermill

    papermill = import_papermill()

    declared: dict[str, DeclaredParameter] = {}
    for name, info in papermill.inspect_notebook(str(notebook)).items():
        type_name = info.get("inferred_type_name")
        if type_name in (None, "None"):
            type_name = _literal_type(info.get("default", ""))
        declared[name] = DeclaredParameter(name, type_name, info.get("default", ""),
                                           info.get("help", ""))
    return declared


def _literal_type(default: str) -> str | None:
    try:
        value = ast.literal_eval(default)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return None if value is None else type(value).__name__


def check_parameters(given: Mapping[str, Any], declared: Mapping[str, DeclaredParameter],
                     notebook: str) -> dict[str, Any]:
    """The parameters to pass, converted to their declared types; raises before anything runs.

    Secret checks come first, so a secret given under a misspelt name is refused as a secret.
    Error messages quote names, never values that may be secrets.
    """
    for name, value in given.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ParameterError(f"{name!r} is not a parameter name",
                                 "parameter names are Python identifiers, e.g. -p days 7")
        reason = secret_name_reason(name)
        if reason:
            raise SecretParameterError(f"parameter {name!r} refused: {reason}, and secrets are "
                                       "never notebook parameters")
        reason = secret_value_reason(value)
        if reason:
            raise SecretParameterError(f"parameter {name!r} refused: {reason}, and secrets are "
                                       "never notebook parameters")
    if PROFILE in given:
        raise ParameterError(f"{PROFILE!r} is not passed as a parameter",
                             "choose the tenant with --profile NAME (run_notebook(profile=…))")
    known = [n for n in declared if n != PROFILE]
    unknown = sorted(set(given) - set(declared))
    if unknown:
        listed = ", ".join(known) if known else "none besides profile"
        raise ParameterError(
            f"{notebook} has no parameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(u) for u in unknown)}",
            f"its parameters: {listed} (declared in the cell tagged 'parameters')")
    return {name: _convert(name, value, declared[name]) for name, value in given.items()}


def _convert(name: str, value: Any, declared: DeclaredParameter) -> Any:
    """A value typed on the command line, converted to what the notebook declares."""
    if not isinstance(value, str):
        return value
    wanted = declared.type_name
    if wanted is None:
        return _guess(value)
    if wanted == "str":
        return value
    problem = f"parameter {name!r} takes {wanted} (default {declared.default}); got {value!r}"
    try:
        if wanted == "int":
            return int(value)
        if wanted == "float":
            return float(value)
        if wanted == "bool":
            lowered = value.strip().lower()
            if lowered in _TRUE | _FALSE:
                return lowered in _TRUE
            raise ValueError(value)
        if wanted in _COLLECTIONS:
            parsed = ast.literal_eval(value)
            if not isinstance(parsed, _COLLECTIONS[wanted]):
                raise ValueError(value)
            return parsed
    except (ValueError, SyntaxError) as exc:
        raise ParameterError(problem, f"give a value of type {wanted}, e.g. "
                             f"{declared.default}") from exc
    return value  # a type the notebook declares by annotation only: passed as text


def _guess(value: str) -> Any:
    """papermill's own reading of an untyped ``-p`` value: bool, None, int, float, else text."""
    if value in ("True", "False"):
        return value == "True"
    if value == "None":
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def require_profile_parameter(declared: Mapping[str, DeclaredParameter], notebook: str) -> None:
    if PROFILE not in declared:
        raise RunError(f"{notebook} declares no {PROFILE!r} parameter, so it cannot be pointed "
                       "at a tenant", "add `profile = \"sandbox\"` to its cell tagged "
                       "'parameters'")
