"""A cheaper import of third-party code opskit runs with.

jsonschema, which nbformat imports (and so plotly.io, papermill and nbconvert), imports
``rfc3987_syntax`` when it is installed (JupyterLab's dependencies bring it), and that compiles
39 grammars on import: about 1.2 s of CPU in every process that shows a figure or runs a
notebook, for jsonschema's "iri" format check, which neither notebook validation nor opskit ever
makes. Marked absent before any of them is imported, jsonschema skips that one check.

Importing this module does it (``from .. import _imports``, first in the packages that import
plotly or nbformat); a module already imported stays as it is.
"""

from __future__ import annotations

import sys

UNUSED_SLOW = ("rfc3987_syntax",)


def skip_unused_slow_imports() -> None:
    """Mark :data:`UNUSED_SLOW` absent, unless something imported it already (then it stays)."""
    for name in UNUSED_SLOW:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "not installed"


skip_unused_slow_imports()
