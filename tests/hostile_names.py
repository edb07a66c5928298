"""Hostile data for the escaping tests: payloads, a practice tenant made of them, a SCIM server
whose errors carry them, and a checker that finds executable markup in a page.

Every payload that would run sets ``window.__pwned`` (the browser test reads it back), so a
payload that ran is told apart from one shown as text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from opskit.report.escaping import visible
from opskit.scim import urns

from .servers import Receive, Scope, Send, send_json

BEACON = "__pwned"
SCRIPT = "<script>window.__pwned=1</script>"
IMG = "<img src=x onerror=window.__pwned=2>"
SVG = "<svg onload=window.__pwned=3>"
JS_URL = "javascript:window.__pwned=4"
# Tenant names may not hold "/": the iframe's document is given with entities instead.
IFRAME = '"><iframe srcdoc="&lt;script&gt;parent.__pwned=5&lt;&#47;script&gt;">'
BREAKOUT = "</script><script>window.__pwned=6</script>"  # out of a figure's JSON, if it could
MD_LINK = "[x](javascript:window.__pwned=7)"
ANCHOR = "<a href=javascript:window.__pwned=8>x</a>"  # plotly draws <a href> in text
TEMPLATE = "{{7*7}} ${7*7} {% raw %}"
RLO = "\u202eexe.txt"  # reads as "txt.exe" where the override is obeyed
FORMULA = "=cmd|' /C calc'!A0"
CLIENT_ID = "<img src=x onerror=window.__pwned=9>@acme.com"
TENANT = "<svg onload=window.__pwned=10>"
PROFILE = "<img src=x onerror=window.__pwned=11>"
DETAIL = ("denied: <script>window.__pwned=12</script> \u202e\x00 "
          '"><img src=x onerror=window.__pwned=13>')
INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def hostile_tenant() -> dict[str, Any]:
    """A tenant file whose every name is a payload, with each report's problems planted, so
    every table and figure of every notebook shows some: hidden folders, an Owner held only by
    the service account, truncated rights, a disabled user, an empty group, direct grants, a
    secret with its own permissions, groups missing on each side, differing members."""
    return {
        "tenant": TENANT,
        "service_account": {"user": "u-scim", "client_id": CLIENT_ID,
                            "client_secret": "practice-only"},
        "onprem": {"token": "practice-onprem-token"},
        "users": [
            {"id": "u-scim", "userName": CLIENT_ID, "displayName": SCRIPT},
            {"id": "u1", "userName": SCRIPT + "@acme.com", "displayName": IMG},
            {"id": "u2", "userName": RLO + "@acme.com", "displayName": BREAKOUT},
            {"id": "u3", "userName": FORMULA, "active": False},
            {"id": "u4", "userName": TEMPLATE, "displayName": ANCHOR},
        ],
        "groups": [
            {"id": "g1", "displayName": SVG, "members": ["u1", "g2"]},
            {"id": "g2", "displayName": BREAKOUT, "members": ["u2"]},
            {"id": "g3", "displayName": FORMULA, "members": ["u1"], "secret_server": False},
            {"id": "g4", "displayName": MD_LINK, "members": ["u2"], "platform": False},
            {"id": "g5", "displayName": ANCHOR, "members": []},
            {"id": "g6", "displayName": "+1", "members": ["u4"]},
        ],
        "folders": [
            {"id": "f1", "name": IMG, "parent": None},
            {"id": "f2", "name": IFRAME, "parent": "f1"},
            {"id": "f3", "name": RLO, "parent": None},
            {"id": "f4", "name": TEMPLATE, "parent": None},
            {"id": "f5", "name": JS_URL, "parent": None},
            {"id": "f6", "name": SVG, "parent": "f5", "inherit_permissions": False},
        ],
        "permissions": [
            {"folder": "f1", "user": "u-scim", "rights": ["Owner"]},
            {"folder": "f1", "group": "g1", "rights": ["Edit", "View"]},
            {"folder": "f1", "group": "g2", "rights": ["Owner"]},
            {"folder": "f3", "group": "g2", "rights": ["Owner"]},
            {"folder": "f3", "user": "u3", "rights": ["View"]},
            {"folder": "f4", "user": "u-scim", "rights": ["Owner"]},
            {"folder": "f5", "user": "u-scim", "rights": ["Owner"]},
            {"folder": "f5", "group": "g5", "rights": ["View"]},
            {"folder": "f5", "user": "u4", "rights": ["Edit"]},
            {"folder": "f6", "user": "u-scim", "rights": ["Owner"]},
            {"folder": "f6", "group": "g6", "rights": ["Add Secret"]},
        ],
        "secrets": [
            {"id": "s1", "name": SCRIPT, "folder": "f1", "template": SVG},
            {"id": "s2", "name": "@SUM(1)", "folder": "f3"},
            {"id": "s3", "name": BREAKOUT, "folder": "f5",
             "permissions": [{"user": "u1", "rights": ["Owner"]}]},
            {"id": "s4", "name": ANCHOR, "folder": "f2"},
        ],
        "iga": {"groups": [  # served as the IGA export: its rows are payloads too
            {"name": SVG, "members": [RLO + "@acme.com", TEMPLATE]},
            {"name": FORMULA, "members": [SCRIPT + "@acme.com"]},
            {"name": "-1+2", "members": [TEMPLATE]},
            {"name": IFRAME, "members": [CLIENT_ID]},
        ]},
    }


def write_profiles(folder: Path, scim_error_url: str) -> Path:
    """The hostile tenant's file, and an opskit.toml with: a practice profile of it whose name
    is a payload (its reference: the same tenant's on-prem flavor), and a cloud profile whose
    client_id is a payload, at a server answering SCIM errors whose detail is one."""
    data = folder / "hostile.json"
    data.write_text(json.dumps(hostile_tenant()), encoding="utf-8")
    q = json.dumps  # a JSON string is a TOML basic string
    config = folder / "opskit.toml"
    config.write_text(f"""
[profiles.{q(PROFILE)}]
kind = "sandbox"
data = {q(str(data))}
reference = "hostile-onprem"

[profiles.hostile-onprem]
kind = "sandbox"
flavor = "onprem"
data = {q(str(data))}

[profiles.scim-error]
kind = "cloud"
tenant = {q(scim_error_url)}
client_id = {q(CLIENT_ID)}
client_secret = "env:HOSTILE_SECRET"
""", encoding="utf-8")
    return config


class ScimErrorServer:
    """Issues any client a token, then answers every SCIM request with a 403 whose detail is
    a payload (with a NUL and a right-to-left override in it)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        if scope["path"].startswith("/identity/"):
            body = {"access_token": "hostile-test-token", "token_type": "Bearer",
                    "expires_in": 3600, "scope": "xpm.platform"}
            await send_json(send, 200, json.dumps(body).encode(), b"application/json")
            return
        error = {"schemas": [urns.ERROR], "status": "403", "detail": DETAIL}
        await send_json(send, 403, json.dumps(error).encode())


# --------------------------------------------------------------------------- the checker
_JS_URL = re.compile(r"^[\x00-\x20]*j[\s]*a[\s]*v[\s]*a[\s]*s[\s]*c[\s]*r[\s]*i[\s]*p[\s]*t[\s]*:",
                     re.I)
_FORBIDDEN_TAGS = {"iframe", "object", "embed", "frame", "frameset", "base"}
# The figure call plotly's to_html writes: three JSON arguments and nothing else.
_FIGURE_CALL = re.compile(
    r'^\s*window\.PLOTLYENV=window\.PLOTLYENV \|\| \{\};\s*'
    r'if \(document\.getElementById\("(?P<id>[0-9a-f-]{36})"\)\) \{\s*'
    r'Plotly\.newPlot\(\s*"(?P=id)",\s*(?P<args>.*)\)\s*\};\s*$', re.S)
_WIDGET_ANCHOR = re.compile(r"^\s*var element = document\.getElementById\('[0-9a-f-]{36}'\);\s*$")
_DATA_SCRIPT_TYPES = {"application/vnd.jupyter.widget-state+json",
                      "application/vnd.jupyter.widget-view+json"}


def _figure_json(args: str) -> list[Any] | None:
    """The figure call's three arguments (data, layout, config), or None if ``args`` is not
    exactly three JSON values: a name that broke out of the JSON would leave it cut short."""
    try:
        values = json.loads(f"[{args}]")
    except ValueError:
        return None
    return values if len(values) == 3 else None


def _words(script: str) -> str:
    return " ".join(script.split())


@lru_cache(maxsize=1)
def _plotly_setup_scripts() -> frozenset[str]:
    """The scripts the renderer writes before the first figure: plotly's configuration, and
    plotly.js itself (whitespace aside, as plotly writes them); and the one script of the
    rows block under a figure (its data is in an attribute)."""
    from plotly.io._base_renderers import _mathjax_config, _window_plotly_config
    from plotly.offline import get_plotlyjs

    from opskit._run.index import SCRIPT as INDEX_FILTERS  # index.html's filters
    from opskit.report.figures._behind import ROWS_SCRIPT

    return frozenset({_words(get_plotlyjs()),
                      _words(f"{_window_plotly_config} {_mathjax_config}"), _words(ROWS_SCRIPT),
                      _words(INDEX_FILTERS)})


@lru_cache(maxsize=1)
def _table_bundle_scripts() -> frozenset[str]:
    """The scripts that load itables' DataTables bundle, once per report."""
    from opskit.report.display import table_bundle

    return frozenset(_words(script) for script in
                     re.findall(r"<script[^>]*>(.*?)</script>", table_bundle(), re.S))


# The table a table script makes interactive: opskit's Styler tables are T_ and a short hex id.
_TABLE_SCRIPT_ID = re.compile(r'querySelectorAll\("#(T_[0-9a-f]+):not\(\.dataTable\)"\)')


def _is_table_script(body: str) -> bool:
    """Whether ``body`` is, word for word, the script opskit writes after a table (it holds
    options only, never the table's data), paged or not."""
    from opskit.report.display import PAGE_ROWS, table_script

    if not (match := _TABLE_SCRIPT_ID.search(body)):
        return False
    words = _words(body)
    return any(_words(re.sub(r"</?script[^>]*>", "", table_script(match[1], rows))) == words
               for rows in (1, PAGE_ROWS + 1))


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value (keys aside)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


@dataclass
class Scan:
    """What a page holds that could run, and its text as a reader sees it."""

    problems: list[str] = field(default_factory=list)
    text: str = ""  # text nodes, entities decoded
    figures: int = 0
    figure_strings: list[str] = field(default_factory=list)  # every text in the figures
    raw_invisible: int = 0  # bidi and C0 controls in text, attributes and figures


class MarkupChecker(HTMLParser):
    """Finds executable markup in a page: a ``<script>`` that is not one of the report's own
    (plotly.js, plotly's setup, a figure call, nbconvert's widget anchors, JSON data blocks,
    the DataTables bundle's loader and a table's script),
    an ``on*`` attribute, a ``javascript:`` URL, an iframe, object or embed, a ``srcdoc``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scan = Scan()
        self._own = _plotly_setup_scripts() | _table_bundle_scripts()
        self._script: tuple[dict[str, str | None], list[str]] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = self.scan.problems
        for name, value in attrs:
            self.scan.raw_invisible += len(INVISIBLE.findall(value or ""))
            if name.startswith("on"):
                found.append(f"<{tag} {name}=…>")
            if name == "srcdoc":
                found.append(f"<{tag} srcdoc=…>")
            if value is not None and _JS_URL.match(value):
                found.append(f"<{tag} {name}={value[:40]!r}>")
        if tag in _FORBIDDEN_TAGS:
            found.append(f"<{tag}>")
        if tag == "meta" and (dict(attrs).get("http-equiv") or "").lower() == "refresh":
            found.append("<meta http-equiv=refresh>")
        if tag == "script":
            self._script = (dict(attrs), [])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag != "script" or self._script is None:
            return
        attrs, parts = self._script
        self._script = None
        body = "".join(parts)
        if "src" in attrs:
            self.scan.problems.append(f"<script src={attrs['src']!r}>")
        elif attrs.get("type") in _DATA_SCRIPT_TYPES:
            try:
                json.loads(body)
            except ValueError:
                self.scan.problems.append(f"a {attrs['type']} block that is not JSON")
        elif (match := _FIGURE_CALL.match(body)) and (figure := _figure_json(match["args"])):
            self.scan.figures += 1
            texts = list(strings(figure))
            self.scan.figure_strings += texts
            self.scan.raw_invisible += sum(len(INVISIBLE.findall(t)) for t in texts)
        elif (_words(body) not in self._own and not _WIDGET_ANCHOR.match(body)
              and not _is_table_script(body)):
            self.scan.problems.append(f"a script that is not the report's own: {body[:80]!r}")

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script[1].append(data)
        else:
            self._text.append(data)

    def close(self) -> None:
        super().close()
        if self._script is not None:
            self.scan.problems.append("a <script> left open")
        self.scan.text = "".join(self._text)
        self.scan.raw_invisible += len(INVISIBLE.findall(self.scan.text))


def scan(html: str) -> Scan:
    checker = MarkupChecker()
    checker.feed(html)
    checker.close()
    return checker.scan


def shown(payload: str) -> str:
    """A payload as a report shows it: its invisible characters made visible."""
    return visible(payload)
