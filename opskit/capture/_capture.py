"""``opskit capture``: a token check and an inventory of a profile, every HTTP exchange
recorded, written as a capture folder the practice tenant can replay (docs/capture.md).

The folder is written under a temporary name beside its target and swapped in whole
(opskit._swapdir): a capture cut short never looks complete, and replacing an earlier one never
leaves none.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from .. import _swapdir, http
from .._pseudonyms import Pseudonyms, default_key_path, key_from_file
from .._version import __version__
from ..checks.token import run_token_check
from ..config import Endpoint, Profile, connect
from ..errors import ConfigError, OpskitError
from ..inventory import fetch_inventory
from ._record import Recorder

FORMAT = "opskit-capture"
VERSION = 1
MANIFEST = "manifest.json"
EXCHANGES = "exchanges.jsonl"


@dataclass
class Capture:
    """What ``capture`` wrote and what the recorded run saw."""

    path: Path
    exchanges: int
    pseudonymised: bool
    key_file: Path | None = None
    key_created: bool = False
    token_ok: bool | None = None
    token_codes: list[str] = field(default_factory=list)
    inventory_complete: bool | None = None
    inventory_error: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    crash: str | None = None  # an unexpected failure of the run: its type and scrubbed message


def capture(profile: Profile | Endpoint | str | None, out: str | os.PathLike[str], *,
            key_file: str | os.PathLike[str] | None = None,
            keep_names: bool = False) -> Capture:
    """Run a token check and an inventory (secret permissions included) of ``profile``,
    recording every exchange into the folder ``out``. Names are pseudonymised with the key in
    ``key_file`` (default: opskit._pseudonyms.default_key_path(), made on first use), unless
    ``keep_names``. A run that fails is captured all the same: that is what a capture is for."""
    target = Path(out).expanduser().absolute()
    _swapdir.recover(target)
    _replaceable(target)
    pseudonyms, key_path, created, key_id = None, None, False, None
    if not keep_names:
        key_path = Path(key_file).expanduser() if key_file else default_key_path()
        _outside(key_path, target)
        key, created = key_from_file(key_path)
        pseudonyms = Pseudonyms(key)
        # Tells which key made a capture (so two line up) without saying anything of it.
        key_id = hmac.new(bytes.fromhex(key), b"opskit capture key id",
                          hashlib.sha256).hexdigest()[:16]
    with connect(profile) as prof:
        recorder = Recorder(pseudonyms, [prof.base_url, prof.token_url],
                            prof.tenant_name if prof.flavor == "cloud" else None)
        result = Capture(target, 0, not keep_names, key_path, created)
        with http.recording(recorder.hear):
            try:
                token = run_token_check(prof)
                result.token_ok = token.ok
                result.token_codes = sorted({f.code for f in token.findings})
                try:
                    inv = fetch_inventory(prof, progress=False, secret_permissions=True)
                except OpskitError as exc:
                    result.inventory_complete = False
                    result.inventory_error = recorder.scrub(str(exc))
                else:
                    result.inventory_complete = inv.complete
                    result.counts = inv.counts()
            except OpskitError:  # a profile that cannot run (its secret unset): no capture
                raise
            except Exception as exc:  # a crash: exactly the run a capture is for
                # Its type and scrubbed message only: a traceback's text could hold values.
                result.crash = f"{type(exc).__name__}: {recorder.scrub(str(exc))}"
        exchanges = recorder.finish()
        result.exchanges = len(exchanges)
        manifest = {
            "format": FORMAT, "version": VERSION, "opskit": __version__,
            "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "flavor": prof.flavor, "scim_path": httpx.URL(prof.base_url).path.rstrip("/"),
            "token_path": httpx.URL(prof.token_url).path if prof.token_url else None,
            "pseudonymised": not keep_names, "key_id": key_id,
            "run": {"token_check": {"ok": result.token_ok, "codes": result.token_codes},
                    "inventory": {"complete": result.inventory_complete,
                                  "counts": result.counts, "error": result.inventory_error},
                    "crash": result.crash},
            "exchanges": len(exchanges),
        }
    _write(target, manifest, exchanges)
    return result


def _outside(key_path: Path, target: Path) -> None:
    """A key file inside the capture folder would go with the swap, or be handed on with it."""
    if key_path.absolute().resolve().is_relative_to(target.resolve()):
        raise ConfigError(f"the pseudonym key file {key_path} is inside the capture folder "
                          f"{target}",
                          "keep the key outside it (a capture is replaced whole and handed on, "
                          "the key never): leave out --key-file, or name a file elsewhere")


def _replaceable(target: Path) -> None:
    """Only a capture opskit wrote, or an empty folder, is replaced."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise ConfigError(f"{target} is not a folder", "give a new folder name for the capture")
    if not target.exists() or not any(target.iterdir()):
        return
    try:
        made_by_us = json.loads((target / MANIFEST).read_text())["format"] == FORMAT
    except (OSError, ValueError, KeyError, TypeError):
        made_by_us = False
    if not made_by_us:
        raise ConfigError(f"{target} holds files that are not an opskit capture",
                          "give a new or empty folder, or an earlier capture's (a capture "
                          "replaces its folder whole)")


def _write(target: Path, manifest: dict[str, Any], exchanges: list[dict[str, Any]]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        digest = hashlib.sha256()
        with (tmp / EXCHANGES).open("wb") as f:
            for exchange in exchanges:
                line = orjson.dumps(exchange) + b"\n"
                digest.update(line)
                f.write(line)
            f.flush()
            os.fsync(f.fileno())
        manifest = {**manifest, "sha256": {EXCHANGES: digest.hexdigest()}}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _swapdir.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
