"""Reading a local file a user names (a secret file, the profile file) so that it never blocks
and never fills memory: regular files only, opened non-blocking, and read up to a limit.

A FIFO would block a plain ``open()`` until something writes to it, and ``/dev/zero`` never
ends; both are refused before a byte is read.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


class UnreadableFile(Exception):
    """Why a file cannot be read, in words that complete "the file … ": "does not exist",
    "is a folder", "is larger than 65,536 bytes", or the system's reason."""


class FileTooLarge(UnreadableFile):
    """A regular file over the limit it was read with."""


def read_regular_file(path: Path, limit: int | None = None) -> bytes:
    """The bytes of a regular file, at most ``limit`` of them (None: no limit)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise UnreadableFile("does not exist") from None
    except OSError as exc:
        raise UnreadableFile(f"cannot be read ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        for test, kind in _KINDS:
            if test(mode):
                raise UnreadableFile(f"is {kind}, not a regular file")
        chunks: list[bytes] = []
        size = 0
        while True:
            # One byte past the limit tells "exactly at the limit" from "over it".
            want = 1 << 16 if limit is None else min(1 << 16, limit + 1 - size)
            chunk = os.read(fd, want)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if limit is not None and size > limit:
                raise FileTooLarge(f"is larger than {limit:,} bytes")
        return b"".join(chunks)
    except OSError as exc:
        raise UnreadableFile(f"cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_component(name: str) -> str:
    """A name usable as one folder name (profile names come from TOML keys: anything goes)."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or "_"
    return cleaned[:100]
