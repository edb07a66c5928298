"""The runner's private parts, one job each (papermill's own split): the parameter contract
(`params`), secret shapes (`secrets`), execution (`engine`), files written atomically (`files`),
the executed notebook's redaction (`outputs`), the HTML report (`html`), the run index (`index`)
and many tenants at once (`fleet`). `opskit.runner` puts them together."""

from .. import _imports  # noqa: F401  (before anything of the runner imports nbformat)
