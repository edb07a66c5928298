"""Read the CSV files people bring: exports from an IGA, Secret Server or a spreadsheet.

Such files arrive with a byte-order mark, in UTF-16 from Excel's "Unicode text", with `;` as the
delimiter in locales where `,` is the decimal mark, and with header names spelt a little
differently. ``read_table`` accepts all of that and maps the headers onto the names the caller
uses; anything it cannot read ends in one :class:`CsvFileError` naming the file, line and column.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import ConfigError, LimitExceeded, ProtocolError

DELIMITERS = (",", ";", "\t")


class CsvFileError(ConfigError):
    """A CSV file that cannot be used as written; the message names file, line and column."""

    @classmethod
    def at(cls, path: str | os.PathLike[str], line: int | None, problem: str,
           remediation: str | None = None) -> CsvFileError:
        where = f"{path}, line {line}" if line else str(path)
        return cls(f"{where}: {problem}", remediation)


def is_url(source: str | os.PathLike[str]) -> bool:
    return str(source).lower().startswith(("http://", "https://"))


def shown_source(where: str | os.PathLike[str] | None) -> str | None:
    """A file or URL as messages and reports show it: a URL loses its user part and query,
    which may carry a password or a signature."""
    if where is None or not is_url(where):
        return None if where is None else str(where)
    import httpx

    url = httpx.URL(str(where))
    return str(url.copy_with(query=None, fragment=None, username=None, password=None)) + (
        "?…" if url.query else "")


def _download(url: str, what: str) -> bytes:
    """An export published at a URL (a report link, the practice tenant's IGA export)."""
    import httpx

    from . import http
    from .auth import unreachable_detail
    from .limits import DEFAULT

    try:
        # The default limits: an export larger than max_body_mb is saved and given as a file.
        with http.client(limits=DEFAULT.first_contact()) as c:
            response = c.get(url)
    except httpx.TransportError as exc:
        raise CsvFileError.at(shown_source(url) or url, None, f"{what} cannot be downloaded: "
                              f"{unreachable_detail(exc)}", "Check the URL, or save the "
                              "file and give its path.") from None
    except LimitExceeded:
        raise CsvFileError.at(shown_source(url) or url, None, f"{what} is larger than "
                              f"{DEFAULT.max_body_mb:g} MB, or never ends",
                              "Save the file and give its path.") from None
    except ProtocolError as exc:
        raise CsvFileError.at(shown_source(url) or url, None, f"{what} cannot be downloaded: "
                              f"{exc.message}", "Save the file and give its path.") from None
    if response.status_code != 200:
        raise CsvFileError.at(shown_source(url) or url, None, f"{what} cannot be downloaded: HTTP "
                              f"{response.status_code}", "Check the URL, or save the file and "
                              "give its path.")
    return response.content


def _decode(path: Path | str, raw: bytes) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif raw.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif len(raw) >= 2 and (raw[0] == 0) != (raw[1] == 0):
        # UTF-16 without a mark: every ASCII character has a zero byte beside it.
        encoding = "utf-16-be" if raw[0] == 0 else "utf-16-le"
    else:
        encoding = "utf-8"
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1 if encoding == "utf-8" else None
        raise CsvFileError.at(path, line, f"is not valid {encoding.upper()} text",
                              "Save the file as CSV UTF-8 (or UTF-16) and try again.") from None


def _delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _key(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).casefold()


def read_table(path: str | os.PathLike[str], columns: Mapping[str, Sequence[str] | str], *,
               optional: Iterable[str] = (), what: str = "CSV file") -> pd.DataFrame:
    """Read ``path`` into a frame whose columns are the keys of ``columns``, all strings.

    ``columns`` maps each name the caller uses to the header spellings accepted for it (matched
    ignoring case, spaces and underscores). Names in ``optional`` may be absent and come back
    empty. A ``_line`` column gives each record's line in the file, for messages about content.
    ``path`` may also be an http(s) URL, downloaded with the usual retries.
    """
    if is_url(path):
        # Named in every message as shown_source names it: never a password or a signature.
        path, raw = shown_source(path) or "", _download(str(path), what)
    else:
        path = Path(path)
        if not path.is_file():
            raise CsvFileError.at(path, None, f"{what} not found", "Check the path; it is "
                                  "read relative to the working directory.")
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CsvFileError.at(path, None, f"{what} cannot be read ({exc.strerror or exc})",
                                  "Check the file's permissions, or copy it somewhere "
                                  "readable.") from None
    text = _decode(path, raw)
    first = text.split("\n", 1)[0]
    if not first.strip():
        raise CsvFileError.at(path, 1, f"{what} has no header line",
                              "The first line must name the columns.")
    # strict: an unterminated quote is an error, not the rest of the file as one field.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first), strict=True)
    try:
        return _records(path, reader, columns, set(optional), what)
    except csv.Error as exc:
        raise CsvFileError.at(path, reader.line_num, f"is not valid CSV ({exc})",
                              "Check the quoting on that line: a value with the delimiter, a "
                              "quote or a line break must be in double quotes, with quotes "
                              "inside doubled.") from None


def _records(path: Path | str, reader: Any, columns: Mapping[str, Sequence[str] | str],
             optional: set[str], what: str) -> pd.DataFrame:
    header = [h.strip() for h in next(reader)]
    index: dict[str, int] = {}
    for i, h in enumerate(header):
        if not h:
            continue
        first = index.setdefault(_key(h), i)
        if first != i:  # which of the two columns holds the data cannot be known
            twice = repr(h) if h == header[first] else f"{header[first]!r} (as {h!r})"
            raise CsvFileError.at(path, 1, f"{what} has the column {twice} twice: columns "
                                  f"{first + 1} and {i + 1}",
                                  "Remove or rename one of them, so each column has its own "
                                  "name.")
    positions: dict[str, int | None] = {}
    for name, spellings in columns.items():
        names = [spellings] if isinstance(spellings, str) else list(spellings) or [name]
        found = next((index[_key(s)] for s in names if _key(s) in index), None)
        if found is None and name not in optional:
            raise CsvFileError.at(
                path, 1, f"{what} has no column {names[0]!r}"
                + (f" (also accepted: {', '.join(map(repr, names[1:]))})" if names[1:] else "")
                + f"; its columns are {', '.join(map(repr, header))}",
                f"Add the column, or name the file's own column for {name!r}.")
        positions[name] = found
    rows: list[list[str]] = []
    lines: list[int] = []
    width = len(header)
    start = reader.line_num
    for record in reader:
        line = start + 1
        start = reader.line_num
        if not any(field.strip() for field in record):
            continue
        if len(record) > width:
            raise CsvFileError.at(path, line, f"has {len(record)} fields, the header has {width}",
                                  "Quote values that contain the delimiter, or remove the "
                                  "extra fields.")
        record += [""] * (width - len(record))
        rows.append([record[i].strip() if i is not None else "" for i in positions.values()])
        lines.append(line)
    frame = pd.DataFrame(rows, columns=list(positions), dtype=object)
    frame["_line"] = pd.Series(lines, dtype="int64")
    return frame
