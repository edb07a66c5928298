"""Text from outside made safe for each place a report shows it.

Names from a tenant (users, groups, folders, secrets, the tenant's own name), rows of an IGA
export, a profile's client_id, a SCIM error's detail: all of it is data, never markup. Each
place that shows text reads some of it as instructions, so each has its rule here, and every
display in opskit goes through one of them:

- :func:`html_text`: HTML (report.html's header and tables, index.html, the explorer);
- :func:`markdown_text`, :func:`markdown_code`, :func:`markdown_prose`: Markdown built from
  data (Markdown lets raw HTML and links through);
- :func:`plot_text`: plotly's titles, labels and hover text (plotly reads a few HTML tags in
  any text, ``<a href>`` among them);
- :func:`csv_cell`: a CSV cell (a spreadsheet runs a cell starting with ``=``, ``+``, ``-``,
  ``@``, tab or CR as a formula).

All of them first apply :func:`visible`: characters that change how text reads while being
invisible themselves (a right-to-left override makes ``exe.txt`` read as ``txt.exe``) or
that terminals and spreadsheets act on (NUL and the other C0 controls) are shown as
``<U+202E>``.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

# Bidi controls (embeddings, overrides, isolates, marks) and C0 controls but tab and newline;
# DEL with them: as invisible, and as much a control.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# What Markdown acts on inside a line: escapes, code, emphasis, links and images, raw HTML and
# autolinks, entities, headings, tables, strikethrough, and the math JupyterLab renders.
# CommonMark lets a backslash escape any of them; paths and addresses keep their / . - : @.
_MARKDOWN_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>&!#|~$"})
_NEWLINES = re.compile(r"\r\n|\n")
_BACKTICKS = re.compile(r"`+")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")  # as OWASP lists them for CSV injection


def visible(text: str) -> str:
    """``text`` with every bidi control and C0 control (but tab and newline) shown as
    ``<U+XXXX>``."""
    return _INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


def html_text(value: Any) -> str:
    """``value`` as text in HTML, between tags or in a quoted attribute value."""
    return escape(visible(str(value)), quote=True)


def plot_text(value: Any) -> str:
    """``value`` as text in a plotly figure: its ``<`` ``>`` ``&`` as entities, which plotly
    shows as the characters (it has no entity for quotes, so they stay as they are)."""
    return escape(visible(str(value)), quote=False)


def _markdown_escaped(text: str) -> str:
    return visible(text).translate(_MARKDOWN_SPECIAL)


def markdown_text(value: Any) -> str:
    """``value`` as literal text inside a line of Markdown (a newline becomes a space)."""
    return _markdown_escaped(_NEWLINES.sub(" ", str(value)))


def markdown_code(value: Any) -> str:
    """``value`` as a Markdown code span, whatever backticks it holds.

    Inside a code span nothing is markup and backslashes are literal, so the text goes in as
    it is, fenced by more backticks than it holds. A newline becomes a space: a code span
    cannot cross a blank line, and one that did would leave its text outside it.
    """
    text = visible(_NEWLINES.sub(" ", str(value)))
    if not text:
        return ""
    fence = "`" * (max(map(len, _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown_prose(value: Any) -> str:
    """Prose with data in it (a note, a reason, an error) as Markdown: spans between
    backticks stay code spans, everything else is literal text, line breaks are kept.

    Whatever backticks the data brings, the result is only literal text and code spans: a
    backtick in a name can at most move where a code span starts.
    """
    parts = str(value).split("`")
    if len(parts) % 2 == 0:  # an odd number of backticks: the last one opens nothing
        parts[-2:] = [f"{parts[-2]}`{parts[-1]}"]
    return "".join(markdown_code(part) if i % 2 else _markdown_escaped(part)
                   for i, part in enumerate(parts))


def csv_cell(value: Any) -> Any:
    """``value`` as a CSV cell: text a spreadsheet would run as a formula gets a leading
    ``'`` (OWASP's advice), and invisible characters are shown. Numbers and other non-text
    values are returned as they are, so they stay numbers."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_PREFIXES):
        value = "'" + value
    return visible(value)
