"""A capture served back: each request gets the answer recorded for it (docs/capture.md).

The capture folder is the contract between ``opskit capture`` and this server, which reads it
on its own (the practice tenant shares no code with the client): ``manifest.json`` says what it
is, ``exchanges.jsonl`` holds one exchange a line. A request is matched by its method, path,
query (in any order) and, where the capture recorded one, its body; the token request's form is
never recorded, so any form gets the token answer. Answers recorded for the same request are
given in their recorded order (a 429, then the 200 of the retry), and from the first again once
all were given, so a second run sees what the first saw. The Authorization header is not looked
at: any token will do. A request the capture does not hold is answered 501 with a SCIM error
that says so.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from .serve import LOOPBACK, bind, run_forever, serving

FORMAT = "opskit-capture"
VERSIONS = (1,)
MANIFEST = "manifest.json"
EXCHANGES = "exchanges.jsonl"
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
Key = tuple[str, str, tuple[tuple[str, str], ...], str | None]
Receive = Callable[[], Awaitable[dict[str, Any]]]


class ReplayError(ValueError):
    """A folder that is not a capture this replay can serve; the message says what to do."""


@dataclass
class _Answers:
    """The answers recorded for one request, and which is next."""

    recorded: list[dict[str, Any]] = field(default_factory=list)
    given: int = 0

    def next(self) -> dict[str, Any]:
        answer = self.recorded[self.given % len(self.recorded)]
        self.given += 1
        return answer


class Replay:
    """An ASGI app answering the requests of one capture."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.manifest, exchanges = load_capture(self.folder)
        self._answers: dict[Key, _Answers] = {}
        for exchange in exchanges:
            request = exchange["request"]
            body = request.get("body")
            key = _key(request["method"], request["path"],
                       [tuple(pair) for pair in request.get("query", [])],
                       None if body is None or "removed" in body else _body_key(_bytes(body)))
            self._answers.setdefault(key, _Answers()).recorded.append(exchange["response"])
        self._lock = threading.Lock()
        self.unmatched = 0

    @property
    def scim_path(self) -> str:
        return str(self.manifest.get("scim_path") or "")

    @property
    def token_path(self) -> str | None:
        return self.manifest.get("token_path") or None

    def answer(self, method: str, path: str, query: list[tuple[str, str]],
               body: bytes) -> dict[str, Any] | None:
        """The next recorded answer for this request, or None."""
        with self._lock:
            for key in (_key(method, path, query, _body_key(body) if body else None),
                        _key(method, path, query, None)):
                if key in self._answers:
                    return self._answers[key].next()
            self.unmatched += 1
            return None

    async def __call__(self, scope: dict[str, Any], receive: Receive,
                       send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        answer = self.answer(scope["method"], scope["path"], query, body)
        if answer is None:
            shown = scope["path"] + (f"?{urlencode(sorted(query))}" if query else "")
            status, headers = 501, [[b"content-type", b"application/scim+json"]]
            content = orjson.dumps({
                "schemas": [SCIM_ERROR], "status": "501",
                "detail": f"opskit replay: the capture holds no answer for {scope['method']} "
                          f"{shown}; a replay answers only the requests its capture recorded "
                          "(make a new capture of what the run asks)"})
        else:
            status = answer["status"]
            headers = [[k.encode("utf-8"), v.encode("utf-8")]
                       for k, v in answer.get("headers", [])]
            content = _bytes(answer.get("body"))
        headers.append([b"content-length", str(len(content)).encode()])
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})


def load_capture(folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(manifest, exchanges) of a capture folder, refusing one that is not whole."""
    manifest_path, exchanges_path = folder / MANIFEST, folder / EXCHANGES
    if not manifest_path.is_file() or not exchanges_path.is_file():
        raise ReplayError(f"{folder} is not a capture (it needs {MANIFEST} and {EXCHANGES}); "
                          "give a folder `opskit capture --out` wrote")
    try:
        manifest = orjson.loads(manifest_path.read_bytes())
    except orjson.JSONDecodeError:
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ReplayError(f"{manifest_path} is not an opskit capture's manifest; give a "
                          "folder `opskit capture --out` wrote")
    if manifest.get("version") not in VERSIONS:
        raise ReplayError(f"{folder} is a capture of format version "
                          f"{manifest.get('version')!r}, which this opskit cannot replay; "
                          "replay it with the opskit that made it")
    raw = exchanges_path.read_bytes()
    expected = (manifest.get("sha256") or {}).get(EXCHANGES)
    if hashlib.sha256(raw).hexdigest() != expected:
        raise ReplayError(f"{exchanges_path} does not match its manifest (altered or cut "
                          "short); make the capture again")
    try:
        exchanges = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
    except orjson.JSONDecodeError as exc:
        raise ReplayError(f"{exchanges_path} is not one JSON exchange a line ({exc})") from None
    return manifest, exchanges


def _key(method: str, path: str, query: list[tuple[str, str]] | list[tuple[Any, ...]],
         body: str | None) -> Key:
    return method.upper(), path, tuple(sorted((str(k), str(v)) for k, v in query)), body


def _bytes(body: dict[str, Any] | None) -> bytes:
    """A recorded body as the bytes to send: JSON compactly, text as UTF-8."""
    if not body or "removed" in body:
        return b""
    if "json" in body:
        return orjson.dumps(body["json"])
    if "text" in body:
        return str(body["text"]).encode("utf-8")
    return base64.b64decode(body.get("base64", ""))


def _body_key(raw: bytes) -> str:
    """A body as compared: JSON whatever its spacing and key order, else its bytes."""
    try:
        return orjson.dumps(orjson.loads(raw), option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


@contextmanager
def replaying(folder: str | Path) -> Iterator[tuple[str, Replay]]:
    """Serve a capture on a free loopback port for the block: (URL, the replay)."""
    replay = Replay(folder)
    with serving(replay, log_level="warning", name="the capture replay") as url:
        yield url, replay


def replay_forever(folder: str | Path, *, host: str = LOOPBACK, port: int = 8766,
                   on_ready: Callable[[str, Replay], None] | None = None) -> None:
    """Serve a capture in the foreground until SIGTERM or Ctrl-C (`opskit sandbox replay`)."""
    replay = Replay(folder)
    sock = bind(host, port)
    if on_ready is not None:
        on_ready(f"http://{host}:{sock.getsockname()[1]}", replay)
    run_forever(replay, sock)
