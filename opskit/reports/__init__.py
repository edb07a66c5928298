"""Reports: one module per notebook, each with one entry function the notebook calls.

A notebook imports its entry function from its module (``from opskit.reports.token_check
import check_token``); docs/architecture.md lists them. An entry function connects the profile,
reads the files it is given (:mod:`opskit.inputs`), calls the analysis (``checks``, ``audit``,
``groupgap``) and returns a result that follows :class:`Report`: ``findings``, ``metrics()``,
``headline()`` and the sections the notebook shows (:func:`show`). Nothing below this package
imports it. This package imports none of its report modules, so ``opskit.reports`` itself
loads no pandas: import the module you need.
"""

from ._protocol import Report, Table, show

__all__ = ["Report", "Table", "show"]
