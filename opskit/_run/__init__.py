"""The runner's private parts, one job each (papermill's own split): the parameter contract
(`params`), secret shapes (`secrets`), execution (`engine`), files written atomically (`files`),
the executed notebook's redaction (`outputs`), the HTML report (`html`), the run index (`index`)
and many tenants at once (`fleet`). `opskit.runner` puts them together."""

import sys

# jsonschema, which nbformat and papermill import, imports rfc3987_syntax when it is installed
# (JupyterLab's dependencies bring it), and that compiles 39 grammars on import: about 2.8 s of
# CPU in every run's process, for an "iri" format check notebook validation never makes.
# Marked absent here, before anything of the runner imports nbformat, jsonschema skips that one
# check; setdefault leaves a copy someone already imported alone.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
