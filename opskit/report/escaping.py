"""Text from outside made safe for each place a report shows it: :mod:`opskit._escaping`, under
the name the reports and docs use. The rules live below every layer (the audit's Why and the
planned-changes writer need them too); this module only names them here."""

from .._escaping import (
    FORMULA_PREFIXES,
    csv_cell,
    html_text,
    markdown_code,
    markdown_prose,
    markdown_text,
    plot_text,
    visible,
)

__all__ = ["FORMULA_PREFIXES", "csv_cell", "html_text", "markdown_code", "markdown_prose",
           "markdown_text", "plot_text", "visible"]
