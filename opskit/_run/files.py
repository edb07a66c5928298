"""Files a run writes: each under a temporary name and renamed into place, and the run's folder
built as a hidden temporary folder that is renamed into place last, so a crash never leaves
a report that looks complete (the index ignores hidden folders)."""

from __future__ import annotations

import os
import secrets
import shutil
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

PARTIAL_SUFFIX = ".partial"


def run_stamp(moment: datetime) -> str:
    """The run folder's name: a UTC timestamp that sorts in time order."""
    return moment.strftime("%Y%m%dT%H%M%SZ")


def iso_time(moment: datetime | None = None) -> str:
    """A UTC moment (default: now) to the second, as results.json, index.json and a fleet
    run's plan write times: ``2026-12-05T06:15:00Z``."""
    moment = datetime.now(UTC) if moment is None else moment
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _temporary_sibling(path: Path, suffix: str = ".tmp") -> Path:
    # pid and random part: concurrent writers (opskit report's tenants) never share a temp name.
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}")


def atomic_write_text(path: Path, text: str) -> None:
    """Write text under a temporary name in the same folder, then rename it over ``path``.

    No fsync: the risk guarded against is a crashing or killed process, after which the old
    file or none is visible, never a half-written one.
    """
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = _temporary_sibling(path)
    try:
        with open(tmp, "xb") as fh:  # created with the umask's mode, unlike mkstemp's 0600
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            tmp.unlink()
        raise


class RunFolder:
    """``<parent>/<stamp>`` built as ``<parent>/.<stamp>.<pid>.<random>.partial``."""

    def __init__(self, parent: Path, stamp: str):
        parent.mkdir(parents=True, exist_ok=True)
        self.parent = parent
        self.stamp = stamp
        self.path = _temporary_sibling(parent / stamp, PARTIAL_SUFFIX)
        self.path.mkdir()

    def commit(self) -> Path:
        """Rename into place; a second run in the same second becomes ``<stamp>-2``."""
        attempt = 1
        while True:
            final = self.parent / (self.stamp if attempt == 1 else f"{self.stamp}-{attempt}")
            if not final.exists():
                try:
                    # Fails on an existing non-empty folder (run folders never are empty).
                    os.rename(self.path, final)
                    return final
                except OSError:
                    if not final.exists():
                        raise
            attempt += 1

    def discard(self, *, stop_at: Path) -> None:
        """Remove the partial folder, and the parents it left empty up to ``stop_at``."""
        shutil.rmtree(self.path, ignore_errors=True)
        folder = self.parent
        while folder != stop_at and stop_at in folder.parents:
            try:
                folder.rmdir()
            except OSError:  # not empty: another run lives there
                break
            folder = folder.parent
