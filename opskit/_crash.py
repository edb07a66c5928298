"""An exception nobody planned for, as `opskit` reports it: one line and exit 2 (a scheduler
reads exit 1 as "findings"), the traceback kept in a crash log, secrets masked, or shown on
stderr with ``--debug``."""

from __future__ import annotations

import os
import platform
import tempfile
import traceback
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

from ._redact import redact

DEBUG_ENV = "OPSKIT_DEBUG"  # "1": as --debug; the fleet's tenant processes inherit it
_LONGEST = 200


def crash_folders() -> list[Path]:
    """Where a crash log may go, in order: ``$XDG_STATE_HOME/opskit`` (else
    ``~/.local/state/opskit``), then the temporary folder."""
    folders = []
    state = os.environ.get("XDG_STATE_HOME", "")
    if os.path.isabs(state):  # the XDG spec: a relative value is to be ignored
        folders.append(Path(state) / "opskit")
    else:
        with suppress(RuntimeError):  # no home directory known
            folders.append(Path.home() / ".local" / "state" / "opskit")
    folders.append(Path(tempfile.gettempdir()))
    return folders


def summary(exc: BaseException) -> str:
    """The exception in one line: its type and its message's first line, secrets masked."""
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    text = redact(f"{type(exc).__name__}: {first}" if first else type(exc).__name__)
    return text if len(text) <= _LONGEST else text[:_LONGEST - 1] + "…"


def redacted_traceback(exc: BaseException) -> str:
    return redact("".join(traceback.format_exception(exc)))


def write_crash_log(exc: BaseException, argv: Sequence[str]) -> Path | None:
    """The redacted traceback in a new file (mode 600) in the first crash folder that takes
    it; None when none does (a full disk, say)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    body = (f"opskit crashed at {stamp}\n"
            f"command: {redact(' '.join(['opskit', *argv]))}\n"
            f"Python {platform.python_version()} on {platform.platform()}\n\n"
            + redacted_traceback(exc))
    for folder in crash_folders():
        # In the shared temporary folder the name says whose it is.
        prefix = "opskit-crash" if folder == Path(tempfile.gettempdir()) else "crash"
        path = folder / f"{prefix}-{stamp}-{os.getpid()}.log"
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            continue
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as log:
                log.write(body)
            return path
        except OSError:  # cut short: a log that stops mid-traceback would mislead
            with suppress(OSError):
                path.unlink()
    return None


def report_crash(exc: BaseException, argv: Sequence[str], *, debug: bool) -> tuple[str, str]:
    """(what to show before the line — the traceback with --debug, else nothing — and the one
    line itself, which names the crash log)."""
    line = f"unexpected error ({summary(exc)})"
    if debug:
        return redacted_traceback(exc), line
    log = write_crash_log(exc, argv)
    if log is None:
        return "", f"{line}; no crash log could be written: run again with --debug to see it"
    return "", f"{line}; details in {log} (or run again with --debug)"
