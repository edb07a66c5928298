"""A cheaper import of third-party code opskit runs with.

jsonschema, which nbformat imports (and so plotly.io, papermill and nbconvert), imports
``rfc3987_syntax`` when it is installed (JupyterLab's dependencies bring it), and that compiles
39 grammars on import: about 1.2 s of CPU in every process that shows a figure or runs a
notebook, for jsonschema's "iri" format check, which neither notebook validation nor opskit ever
makes. Marked absent before any of them is imported, jsonschema skips that one check.

Importing this module does it (``from .. import _imports``, first in the packages that import
plotly or nbformat); a module already imported stays as it is.

papermill imports ``pyarrow.fs`` (and with it pyarrow and numpy, ~0.1 s of CPU) for hdfs://
paths, which opskit never gives it: :func:`papermill` imports it without, and leaves pyarrow.fs
importable for anyone else (pandas reads parquet with it).
"""

from __future__ import annotations

import sys
from types import ModuleType

UNUSED_SLOW = ("rfc3987_syntax",)
PAPERMILL_UNUSED = ("pyarrow.fs",)


def skip_unused_slow_imports() -> None:
    """Mark :data:`UNUSED_SLOW` absent, unless something imported it already (then it stays)."""
    for name in UNUSED_SLOW:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "not installed"


skip_unused_slow_imports()


def papermill() -> ModuleType:
    """``import papermill``, without what it imports for file systems opskit does not use."""
    if "papermill" in sys.modules:
        return sys.modules["papermill"]
    marked = [name for name in PAPERMILL_UNUSED if name not in sys.modules]
    for name in marked:
        sys.modules[name] = None  # type: ignore[assignment]  # None: "not installed"
    try:
        import papermill as module
    finally:
        for name in marked:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
    return module
