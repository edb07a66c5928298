"""Tenants kept apart: a run sees only its own profiles' secrets, and what it writes is checked
for everyone's.

`opskit report --profile t01,t02` runs many tenants from one environment, which holds every
tenant's `env:` secrets. Each tenant's process, and each notebook kernel, gets that environment
without the variables that hold a secret of a profile the run does not use (its own profile, and
the profiles it names as `reference`, do count). What the notebook could still reach by itself
(a `file:` or `keyring:` secret of another tenant) is masked: every process that writes
artefacts first learns every configured secret it can resolve, and the fleet scans each run's
files once more for all of them.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterable, Mapping
from contextlib import suppress
from pathlib import Path

from .._redact import MASK, known_values
from ..config import Profile, SecretRef
from ..errors import OpskitError
from .files import atomic_write_bytes


def secret_refs(profile: Profile) -> list[SecretRef]:
    return [ref for ref in (profile.client_secret, profile.token) if ref is not None]


def profiles_used(name: str, profiles: Mapping[str, Profile],
                  also: Iterable[str | None] = ()) -> set[str]:
    """The profile, the profiles it names as `reference` (and theirs), and any of ``also``
    that is a profile (a `reference` notebook parameter)."""
    used: set[str] = set()
    todo = [name, *(a for a in also if a)]
    while todo:
        current = todo.pop()
        if current in used or current not in profiles:
            continue
        used.add(current)
        if reference := profiles[current].reference:
            todo.append(reference)
    return used


def _variables(profiles: Iterable[Profile]) -> set[str]:
    return {ref.ref.removeprefix("env:") for p in profiles for ref in secret_refs(p)
            if ref.ref.startswith("env:")}


def foreign_variables(used: set[str], profiles: Mapping[str, Profile]) -> set[str]:
    """Environment variables that hold a secret of a profile the run does not use (a variable
    that a used profile needs too is kept)."""
    mine = _variables(profiles[n] for n in used if n in profiles)
    return _variables(p for n, p in profiles.items() if n not in used) - mine


def environment_for(used: set[str], profiles: Mapping[str, Profile]) -> dict[str, str]:
    """This process's environment, less what the run must not see."""
    hidden = foreign_variables(used, profiles)
    return {k: v for k, v in os.environ.items() if k not in hidden}


def learn_secrets(profiles: Iterable[Profile]) -> None:
    """Resolve every secret the profiles name, so that everything written masks them. One that
    does not resolve here (not in this environment, say) is skipped: what a run cannot resolve,
    it cannot print either, and the fleet checks its files again. Resolved anew for each run,
    as the run's own secrets are: a value that changed since (a rotated file) is masked too."""
    for profile in profiles:
        for ref in secret_refs(profile):
            with suppress(OpskitError):
                ref.resolve()  # registers the value with the redaction registry


def _forms(value: str) -> set[bytes]:
    """A secret as a file may hold it: as is, inside a JSON string, escaped for HTML."""
    return {form.encode("utf-8") for form in
            (value, json.dumps(value)[1:-1], html.escape(value), html.escape(value, quote=False))}


def scrub_files(folder: Path) -> list[Path]:
    """Mask every known secret in the files under ``folder``, in place; the files that held
    one (a run's own scrubbing missed it: a secret it could not know)."""
    forms = sorted({f for value in known_values() for f in _forms(value)}, key=len, reverse=True)
    mask = MASK.encode()
    touched = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        scrubbed = data
        for form in forms:
            scrubbed = scrubbed.replace(form, mask)
        if scrubbed != data:
            atomic_write_bytes(path, scrubbed)
            touched.append(path)
    return touched
