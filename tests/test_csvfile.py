"""The CSV reader every import uses: encodings, delimiters, header spellings, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from opskit.csvfile import CsvFileError, read_table

COLUMNS = {"group": ["Entitlement Value", "group"], "email": ["Email"],
           "name": ["Identity Name"]}
ROWS = "Identity Name,Email,Entitlement Value\r\nBjörn Ek,bjorn@acme.com,DBA\r\n,,All Staff\r\n"


@pytest.mark.parametrize("encoding,delimiter", [
    ("utf-8", ","), ("utf-8-sig", ","), ("utf-8-sig", ";"), ("utf-16", ";"),
    ("utf-16-le", ","), ("utf-8", "\t")])
def test_reads_what_spreadsheets_write(tmp_path: Path, encoding: str, delimiter: str) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(ROWS.replace(",", delimiter).encode(encoding))
    df = read_table(path, COLUMNS)
    assert list(df.columns) == ["group", "email", "name", "_line"]
    assert df["name"].tolist() == ["Björn Ek", ""]
    assert df["group"].tolist() == ["DBA", "All Staff"]
    assert df["_line"].tolist() == [2, 3]


def test_header_spelling_and_optional_columns(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text("GROUP ,email\nDBA,a@acme.com\n\nOps,\n")
    df = read_table(path, {"group": ["Entitlement Value", "group"], "email": "Email",
                           "external_id": ["externalId"]}, optional=["external_id"])
    assert df[["group", "email", "external_id"]].values.tolist() == [
        ["DBA", "a@acme.com", ""], ["Ops", "", ""]]
    assert df["_line"].tolist() == [2, 4]  # the blank line is skipped but counted


def test_quoted_newlines_keep_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('Email,Identity Name\na@acme.com,"Ng,\nAlice"\nb@acme.com,Bo\n')
    df = read_table(path, {"email": "Email", "name": "Identity Name"})
    assert df["_line"].tolist() == [2, 4]
    assert df["name"].tolist() == ["Ng,\nAlice", "Bo"]


def test_missing_column_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("Identity Name;Mail\nA;a@acme.com\n")
    with pytest.raises(CsvFileError) as err:
        read_table(path, COLUMNS, what="IGA export")
    text = str(err.value)
    assert f"{path}, line 1" in text and "'Entitlement Value'" in text
    assert "'Identity Name', 'Mail'" in text and "→" in text


def test_a_header_given_twice_is_refused(tmp_path: Path) -> None:
    """Which of the two columns holds the data cannot be known: neither is guessed."""
    path = tmp_path / "twice.csv"
    path.write_text("Identity Name,Email,Entitlement Value,email\nA,a@x.org,DBA,b@x.org\n")
    with pytest.raises(CsvFileError) as info:
        read_table(path, COLUMNS)
    assert info.value.message == (f"{path}, line 1: CSV file has the column 'Email' (as "
                                  "'email') twice: columns 2 and 4")
    path.write_text("Group,Email,,,Group\nDBA,a@x.org,,,Ops\n")  # empty headers may repeat
    with pytest.raises(CsvFileError, match="the column 'Group' twice: columns 1 and 5"):
        read_table(path, {"group": "Group"})


def test_too_many_fields_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("Email,Identity Name,Entitlement Value\na,b,c\na,b,c,d\n")
    with pytest.raises(CsvFileError, match=r"wide.csv, line 3: has 4 fields, the header has 3"):
        read_table(path, COLUMNS)


@pytest.mark.parametrize("content,problem", [
    (None, "not found"), (b"", "no header line"), (b"Email\n\xff\xfe\xfa x\n", "UTF-8")])
def test_unreadable_files(tmp_path: Path, content: bytes | None, problem: str) -> None:
    path = tmp_path / "x.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CsvFileError, match=problem):
        read_table(path, {"email": "Email"})


def test_a_url_is_downloaded_and_a_missing_one_named(sandbox) -> None:
    url = f"{sandbox.url}/_sandbox/iga-export.csv"
    df = read_table(url, {"group": "Entitlement Value", "email": "Email"})
    assert set(df["group"]) and df["_line"].iloc[0] == 2
    with pytest.raises(CsvFileError, match=r"nope.csv: IGA export cannot be downloaded: HTTP 404"):
        read_table(f"{sandbox.url}/nope.csv", {"email": "Email"}, what="IGA export")


@pytest.mark.parametrize("content,problem", [
    ('Email,Name\na@acme.com,"Ng\nb@acme.com,Bo\n', r"line 3: is not valid CSV"),
    ('Email,Name\na@acme.com,' + "x" * 200_000 + "\n", r"line 2: is not valid CSV"),
])
def test_broken_quoting_is_an_error_not_silent_data(tmp_path: Path, content: str,
                                                    problem: str) -> None:
    path = tmp_path / "q.csv"
    path.write_text(content)
    with pytest.raises(CsvFileError, match=problem):
        read_table(path, {"email": "Email", "name": "Name"})


def test_a_url_never_shows_its_password_or_signature(sandbox) -> None:
    host = sandbox.url.removeprefix("http://")
    url = f"http://svc:hunter2@{host}/nope.csv?sig=s3cr3t"
    with pytest.raises(CsvFileError) as err:
        read_table(url, {"email": "Email"})
    assert "hunter2" not in str(err.value) and "s3cr3t" not in str(err.value)
    assert f"http://{host}/nope.csv?…" in str(err.value)
