"""Replace a directory by another so that a complete one is always at its path.

On Linux, ``renameat2(RENAME_EXCHANGE)`` swaps the two directories in one step: at every
moment the path holds the old one or the new one. Where that is not available (another system,
a filesystem that does not support it) the old directory is first parked beside it, under a
name derived from the target, and the new one renamed in. A process killed between the two
renames leaves the path missing and the old directory parked: :func:`recover`, which every
later save and load calls, puts it back.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

AT_FDCWD = -100
RENAME_EXCHANGE = 2
# What renameat2 answers where the kernel or the filesystem cannot exchange.
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP}


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2  # glibc 2.28 and later
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                         ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step; False where this system cannot."""
    rename = _renameat2()
    if rename is None:
        return False
    if rename(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def parked(target: Path) -> Path:
    """Where a replace parks the old directory while the new one is renamed in."""
    return target.with_name(f".{target.name}.opskit-replaced")


def recover(target: Path) -> None:
    """Put back the directory a replace parked, if it was killed before the new one arrived."""
    park = parked(target)
    if not os.path.lexists(target) and park.is_dir():
        os.rename(park, target)


def replace(new: Path, target: Path) -> None:
    """Put directory ``new`` at ``target`` (a sibling of it), replacing what is there.

    The caller has checked that ``target`` may be replaced, and so may ``parked(target)``
    where an earlier replace, killed after its second step, left one.
    """
    if not os.path.lexists(target):
        os.rename(new, target)
        return
    if exchange(new, target):
        shutil.rmtree(new)  # it holds the old directory now
        return
    park = parked(target)
    if park.exists():  # the target is whole: an old directory that was not removed
        shutil.rmtree(park)
    os.rename(target, park)
    os.rename(new, target)
    shutil.rmtree(park, ignore_errors=True)
