"""Report tables carry their own CSS (issue 16): JupyterLab right-aligns every header over
left-aligned text and lets a long remediation push its column off a 1440 px window."""

from __future__ import annotations

import re

import pandas as pd

from opskit.report.display import styled

REMEDIATION = ("Re-run the full IGA import, then check the user mapping of the connector; "
               "a_very_long_attribute_path_without_spaces_that_must_still_wrap_somewhere_" * 4)


def rules(html: str) -> dict[str, dict[str, str]]:
    """The table's CSS as selector → {property: value}, properties of repeated selectors merged."""
    [css] = re.findall(r"<style[^>]*>(.*?)</style>", html, re.S)
    out: dict[str, dict[str, str]] = {}
    for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        props = out.setdefault(" ".join(selector.split()), {})
        for prop in filter(None, (p.strip() for p in body.split(";"))):
            name, value = prop.split(":", 1)
            props[name.strip()] = value.strip()
    return out


def header_classes(html: str, label: str) -> set[str]:
    [classes] = re.findall(rf'<th [^>]*class="([^"]*)"[^>]*>{label}</th>', html)
    return set(classes.split())


def test_text_columns_sit_under_left_headers_and_wrap_numbers_stay_right() -> None:
    frame = pd.DataFrame({"code": ["USER_NOT_SYNCED", "X"], "remediation": [REMEDIATION, "ok"],
                          "users": pd.array([12, None], dtype="Int64"), "active": [True, False]})
    html = styled(frame).to_html()
    table_id = re.search(r'<table id="(T_\w+)"', html)
    assert table_id is not None
    css = rules(html)
    assert all(s.startswith(f"#{table_id[1]} ") for s in css)  # no rule reaches other tables
    scoped = {s.removeprefix(f"#{table_id[1]} "): p for s, p in css.items()}

    assert scoped["th"]["text-align"] == "left" and scoped["td"]["text-align"] == "left"
    assert scoped["td"]["white-space"] == "normal"
    assert scoped["td"]["overflow-wrap"] == "anywhere" and scoped["td"]["max-width"] == "40em"
    assert scoped["th"]["overflow-wrap"] == "anywhere"
    assert REMEDIATION in html  # whole: wrapped by the browser, never cut

    # Only the numeric column (not the text ones, not the booleans) is right-aligned, its
    # header with it; the header rule selects that header and no other.
    right = {s for s, p in scoped.items() if p.get("text-align") == "right"}
    assert right == {"th.col_heading.col2", "td.col2"}
    assert {"col_heading", "col2"} <= header_classes(html, "users")
    assert "col2" not in header_classes(html, "remediation")


def test_an_index_shown_keeps_the_numeric_column_found_by_position() -> None:
    frame = pd.DataFrame({"n": [1.5], "note": ["text"]}, index=pd.Index(["a"], name="key"))
    scoped = {s.split(" ", 1)[1]: p for s, p in rules(styled(frame, index=True).to_html()).items()}
    assert scoped["td.col0"]["text-align"] == "right" and "td.col1" not in scoped
