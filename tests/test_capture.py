"""`opskit capture` and `opskit sandbox replay`: a run's HTTP exchanges recorded without secrets
or names, and served back so that the same run gives the same inventory (issue 19, item 3)."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from opskit import _redact
from opskit._pseudonyms import Pseudonyms, key_from_file
from opskit.capture import EXCHANGES, MANIFEST, PLACEHOLDER_TOKEN, capture
from opskit.cli import main
from opskit.config import CloudProfile, SecretRef
from opskit.errors import ConfigError, ScimServerError
from opskit.inventory import Inventory, fetch_inventory
from opskit.sandbox.entry import tenant_file
from opskit.sandbox.replay import Replay, ReplayError, replaying
from opskit.sandbox.serve import RunningSandbox
from opskit.scim import SyncScimClient

from . import unusual
from .servers import Receive, Scope, Send, onprem_profile, read_body, send_json, serve_asgi

# The frames' columns that hold names: a pseudonymised replay holds their pseudonyms.
NAME_COLUMNS = {"users": ["userName", "displayName", "email", "externalId"],
                "groups": ["displayName", "externalId"], "group_members": ["member_display"],
                "containers": ["name", "parent_name"],
                "container_permissions": ["container_name", "principal_name"],
                "privileged_data": ["name", "container_name"],
                "privileged_data_permissions": ["principal_name"]}


@dataclass
class Captured:
    original: Inventory
    kept: Path  # --keep-names
    named: Path  # pseudonymised
    key: str
    server: unusual.Unusual


def _profile(base: str, token: str, secret: str = "any-secret-will-do") -> CloudProfile:
    return CloudProfile("unusual", base_url=base, token_url=token, client_id=unusual.CLIENT_ID,
                        client_secret=SecretRef.practice(secret, "client_secret"))


@contextmanager
def named_host(host: str) -> Iterator[None]:
    """``host`` (any case) resolves to 127.0.0.1, as *.localhost does where systemd-resolved
    runs (RFC 6761), not on every machine: a server is reached by a real-looking name."""
    real = socket.getaddrinfo

    def resolve(name: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(name, str | bytes) and str(name if isinstance(name, str) else
                                                 name.decode()).lower() == host.lower():
            name = "127.0.0.1"
        return real(name, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", resolve)
        yield


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Captured]:
    tmp = tmp_path_factory.mktemp("capture")
    key_file = tmp / "pseudonym.key"
    server = unusual.Unusual()
    with serve_asgi(server) as served, named_host(unusual.HOST):
        # Reached by its name, in mixed case, as a real server is: no host may stay.
        url = served.replace("127.0.0.1", unusual.HOST)
        profile = _profile(f"{url}/v2", f"{url}/token", unusual.SECRET)
        original = fetch_inventory(profile, progress=False, secret_permissions=True)
        capture(profile, tmp / "kept", keep_names=True)
        capture(profile, tmp / "named", key_file=key_file)
    yield Captured(original, tmp / "kept", tmp / "named", key_from_file(key_file)[0], server)


def _replayed(folder: Path) -> Inventory:
    with replaying(folder) as (url, replay):
        return fetch_inventory(_profile(url + replay.scim_path, url + str(replay.token_path)),
                               progress=False, secret_permissions=True)


def _exchanges(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / EXCHANGES).read_text().splitlines()]


def _pseudonymised(frames: dict[str, pd.DataFrame], names: Pseudonyms) -> dict[str, pd.DataFrame]:
    """The frames with every name replaced by its pseudonym (a folder's path part by part)."""
    def one(value: object) -> object:
        return names.name(value) if isinstance(value, str) else value

    out = {}
    for frame, df in frames.items():
        df = df.copy()
        for column in NAME_COLUMNS[frame]:
            if isinstance(df[column].dtype, pd.CategoricalDtype):  # categories in text order
                if len(df[column].cat.categories):
                    renamed = df[column].cat.rename_categories(one)
                    df[column] = renamed.cat.reorder_categories(sorted(renamed.cat.categories))
            else:
                df[column] = pd.Series([one(v) for v in df[column]], index=df.index,
                                       dtype=df[column].dtype)
        if frame == "containers":
            df["path"] = ["/".join(p if p in ("", "…") else names.name(p) for p in v.split("/"))
                          for v in df["path"]]
        out[frame] = df
    return out


# Words a name may share with what a capture keeps as the protocol's own: a right, a path, a
# header's name, a schema's URN, the discovery answers (a demo folder is "Cloud Platform", a
# secret "SCIM access token", a group "Identity Owners").
DELINEA_WORDS = frozenset({"access", "cloud", "core", "identity", "integrations", "owner",
                           "platform", "scim", "secret", "server", "user"})


def _words(texts: Iterable[str]) -> set[str]:
    """The words of four letters or more, case-folded."""
    return {w.casefold() for t in texts for w in re.findall(r"[^\W\d_]{4,}", t)}


def _strings(value: object, key: str = "") -> Iterator[str]:
    """Every string of a listing but those the protocol names (schemas, a member's type, …)."""
    if isinstance(value, str) and key not in ("schemas", "type", "rights", "resourceType",
                                                      "location", "$ref"):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, key)


def _assert_same(replayed: Inventory, expected: dict[str, pd.DataFrame]) -> None:
    for name, df in expected.items():
        pd.testing.assert_frame_equal(replayed.frames()[name], df, obj=name)


def test_the_unusual_server_is_unusual(captured: Captured) -> None:
    # What makes it a test: integer ids, short pages, an empty page without Resources, and a
    # 429 with an HTTP date, all in what the capture holds.
    exchanges = _exchanges(captured.kept)
    pages = [e["response"]["body"]["json"] for e in exchanges
             if e["request"]["path"].removeprefix("/v2/") in captured.server.listings
             and e["response"]["status"] == 200]
    assert all(isinstance(r["id"], int) for b in pages for r in b.get("Resources", []))
    assert max(len(b.get("Resources", [])) for b in pages) == unusual.PAGE
    assert any(b["totalResults"] == 0 and "Resources" not in b for b in pages)
    throttled = [e for e in exchanges if e["response"]["status"] == 429]
    assert len(throttled) == 1
    retry_after = dict(throttled[0]["response"]["headers"])["retry-after"]
    assert retry_after.endswith(" GMT")
    after = exchanges[exchanges.index(throttled[0]) + 1:]
    assert any(e["request"] == throttled[0]["request"] and e["response"]["status"] == 200
               for e in after)
    assert captured.original.complete
    assert len(captured.original.users) == len(unusual.PEOPLE) + 1  # and the service user
    # Delinea's vocabulary the replays must keep (their frames equal the original's but for
    # names): rights, a secret's template.
    assert captured.original.container_permissions["rights"].tolist() == [["View", "Edit"],
                                                                          ["Owner"]]
    assert set(captured.original.privileged_data["type"]) == {"Password"}


def test_a_capture_with_names_kept_replays_to_the_identical_inventory(
        captured: Captured) -> None:
    replayed = _replayed(captured.kept)
    assert replayed.complete
    _assert_same(replayed, captured.original.frames())
    assert replayed.meta["notes"] == captured.original.meta["notes"]


def test_a_pseudonymised_capture_replays_to_the_original_under_the_same_pseudonyms(
        captured: Captured) -> None:
    replayed = _replayed(captured.named)
    assert replayed.complete
    _assert_same(replayed, _pseudonymised(captured.original.frames(),
                                          Pseudonyms(captured.key)))


def test_a_request_the_capture_does_not_hold_is_answered_with_why(captured: Captured) -> None:
    with replaying(captured.kept) as (url, replay):
        profile = _profile(url + replay.scim_path, url + str(replay.token_path))
        with SyncScimClient.for_profile(profile) as scim:
            with pytest.raises(ScimServerError) as caught:
                scim.get("Users", "999")
            assert "the capture holds no answer for GET /v2/Users/999" in caught.value.message
            # The replay goes on answering what it holds (the token check's one-user read).
            assert scim.request("GET", "Users", params={"count": 1})["totalResults"] == \
                len(unusual.PEOPLE) + 1
        assert replay.unmatched == 1


def test_a_capture_holds_no_secret_no_token_and_no_name_in_free_text(captured: Captured) -> None:
    for folder in (captured.kept, captured.named):
        text = "\n".join(p.read_text() for p in folder.iterdir())
        assert unusual.SECRET not in text and unusual.TOKEN not in text
        assert "authorization" not in text.lower()
        # Named in the 429's detail only: free text loses the names the capture has seen.
        assert (unusual.CLIENT_ID in text) is (folder == captured.kept)
        token_answers = [e for e in _exchanges(folder) if e["request"]["path"] == "/token"]
        assert token_answers and all(
            e["response"]["body"]["json"]["access_token"] == PLACEHOLDER_TOKEN and
            "removed" in e["request"]["body"] for e in token_answers)


def test_a_pseudonymised_capture_holds_no_word_of_a_name_nor_the_servers_host(
        captured: Captured) -> None:
    # The server sends what opskit never asked for, names a user in upper case under an
    # ASP.NET-style "Message", and names itself in mixed case, bare and as an origin.
    text = "\n".join(p.read_text() for p in captured.named.iterdir())
    listed = [s for items in captured.server.listings.values() for s in _strings(items)]
    assert {"Cambridge", "Salaries of Grace Hopper", "Ada Research"} <= set(listed)
    assert not _words(listed) & _words([text]) - DELINEA_WORDS
    assert not {"secretserver", "acme", "localhost"} & _words([text])
    kept = "\n".join(p.read_text() for p in captured.kept.iterdir())
    assert "GRACE.HOPPER@UNUSUAL.EXAMPLE" in kept and f'realm=\\"{unusual.HOST}\\"' in kept


class _OddAnswers:
    """An IIS-hosted connector's answers: a listing, a Windows-1252 HTML error page, an
    ASP.NET JSON error, and a body that is no text."""

    PAGE = ("<html><h1>500</h1>Jürgen Müller (JUERGEN.MUELLER@ACME.COM) failed: password=hunter2"
            " at https://SecretServer.Acme.local:8443/SecretServer/v2, see ACME FINANCE TEAM"
            " and acme finance team</html>")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await read_body(receive)
        path = scope["path"]
        if path == "/v2/Users":
            users = [{"id": "7", "userName": "juergen.mueller@acme.com",
                      "displayName": "Jürgen Müller",
                      "meta": {"location": "https://SecretServer.ACME.local/SecretServer/v2/"
                                           "Users/7"}},
                     {"id": "8", "displayName": "ACME Finance Team"},
                     {"id": "9", "displayName": "Finance"}]
            await send_json(send, 200, json.dumps({"totalResults": 3,
                                                   "Resources": users}).encode())
        elif path == "/v2/Page":
            await send_json(send, 500, self.PAGE.encode("cp1252"),
                            b"text/html; charset=windows-1252")
        elif path == "/v2/Error":
            await send_json(send, 400, json.dumps({
                "Message": "The request is invalid.",
                "ExceptionMessage": "JÜRGEN MÜLLER is no member of acme finance team",
                "ExceptionType": "System.InvalidOperationException"}).encode(),
                b"application/json",
                [(b"www-authenticate", b'Bearer realm="secretserver.acme.LOCAL"')])
        else:
            await send_json(send, 500, b"\x00\x01\xffJ\xfcrgen", b"application/octet-stream")


def test_free_text_and_bodies_that_are_not_utf8_lose_names_secrets_and_the_host() -> None:
    from opskit import http
    from opskit.capture import Recorder

    names = Pseudonyms("cd" * 32)
    recorder = Recorder(names, ["https://secretserver.acme.local/SecretServer/v2"])
    with serve_asgi(_OddAnswers()) as url, http.recording(recorder.hear), \
            http.client() as client:
        for path in ("Page", "Users", "Error", "Binary"):  # the page before the names
            client.get(f"{url}/v2/{path}")
        # Safe to repeat, yet no token request: its body is kept (pseudonymised).
        client.post(f"{url}/v2/Users", json={"userName": "Jürgen Müller"},
                    extensions={http.IDEMPOTENT_EXTENSION: True})
    page, listing, error, binary, posted = recorder.finish()
    assert posted["request"]["body"] == {"json": {"userName": names.name("Jürgen Müller")}}
    text = json.dumps([page, listing, error, binary], ensure_ascii=False)
    # (SecretServer stays as the path of the connector's application, never as a host.)
    assert not {"jürgen", "müller", "juergen", "mueller", "acme", "hunter2", "finance"} & \
        _words([text])
    assert "secretserver.acme" not in text.casefold()
    html = page["response"]["body"]["text"]
    assert names.name("Jürgen Müller") in html and names.name("ACME Finance Team").upper() \
        in html.upper() and "https://tenant.invalid/SecretServer/v2" in html
    assert ["content-type", "text/html; charset=utf-8"] in page["response"]["headers"]
    assert listing["response"]["body"]["json"]["Resources"][0]["meta"]["location"] == \
        "https://tenant.invalid/SecretServer/v2/Users/7"
    said = error["response"]["body"]["json"]
    assert said["ExceptionMessage"] == \
        f"{names.name('Jürgen Müller')} is no member of {names.name('ACME Finance Team')}"
    assert said["ExceptionType"] == "System.InvalidOperationException"
    assert ["www-authenticate", 'Bearer realm="tenant.invalid"'] in error["response"]["headers"]
    assert "removed" in binary["response"]["body"]
    # A cloud tenant's name goes as well, as a word anywhere, whatever its case.
    cloud = Recorder(names, ["https://acme.delinea.app/scim/v2"])
    assert cloud.scrub("ACME's token from acme.Delinea.app: Acme") == \
        "tenant's token from tenant.invalid: tenant"


def test_a_key_file_inside_the_capture_folder_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cap"
    assert main(["capture", "--profile", "sandbox", "--out", str(out),
                 "--key-file", str(out / "pseudonym.key")]) == 2
    err = capsys.readouterr().err
    assert "the pseudonym key file" in err and "is inside the capture folder" in err
    assert not out.exists()


def test_a_run_that_crashes_is_captured_and_reported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from opskit.capture import _capture

    def crash(profile: object, **_: object) -> None:
        # As a parser's slip would: a bare KeyError, its text naming what it read.
        raise KeyError(f"Resources of {profile.base_url} for "  # type: ignore[attr-defined]
                       f"{demo.users[0].userName.upper()}")

    demo = tenant_file()
    monkeypatch.setattr(_capture, "fetch_inventory", crash)
    out = tmp_path / "cap"
    assert main(["capture", "--profile", "sandbox", "--out", str(out),
                 "--key-file", str(tmp_path / "pseudonym.key")]) == 2
    said = capsys.readouterr()
    assert "opskit: the run failed (KeyError: " in said.err and str(out) in said.err
    assert len(said.err.strip().splitlines()) == 1
    crashed = json.loads((out / MANIFEST).read_text())["run"]["crash"]
    assert crashed.startswith("KeyError: ") and "Traceback" not in crashed
    assert "tenant.invalid" in crashed and "127.0.0.1" not in crashed
    assert demo.users[0].userName.upper() not in crashed.upper()
    assert _exchanges(out)  # the token check's, kept
    Replay(out)


def test_a_pseudonymised_capture_of_the_demo_company_holds_no_original_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "opskit.toml").write_text('[profiles.demo]\nkind = "sandbox"\n')
    monkeypatch.setenv("OPSKIT_CONFIG", str(tmp_path / "opskit.toml"))
    key = tmp_path / "keys" / "pseudonym.key"
    assert main(["capture", "--profile", "demo", "--out", str(tmp_path / "cap"),
                 "--key-file", str(key)]) == 0
    said = capsys.readouterr().out
    assert f"pseudonym key: made {key}" in said and "inventory: complete" in said
    demo = tenant_file()
    originals = {v for u in demo.users for v in (u.userName, u.email, u.displayName,
                                                  u.externalId) if v}
    originals |= {g.displayName for g in demo.groups} | {f.name for f in demo.folders}
    originals |= {s.name for s in demo.secrets}
    secrets = {demo.service_account.client_secret, demo.onprem.token,
               *_redact.known_values()}  # the tokens opskit received, the key
    text = "\n".join(p.read_text() for p in (tmp_path / "cap").iterdir())
    # A short name ("IT") may stand inside a pseudonym by chance: only a whole one counts.
    found = [n for n in originals if n in text and
             re.search(rf"(?<![\w.@-]){re.escape(n)}(?![\w.@-])", text)]
    assert not found
    assert not _words(originals) & _words([text]) - DELINEA_WORDS
    assert not [s for s in secrets if s and s in text]
    assert "authorization" not in text.lower()
    assert len(_exchanges(tmp_path / "cap")) > 10


def test_a_folder_that_is_not_a_capture_is_neither_replaced_nor_replayed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not an opskit capture"):
        capture("sandbox", tmp_path, keep_names=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    with pytest.raises(ReplayError, match="is not a capture"):
        Replay(tmp_path)
    assert main(["sandbox", "replay", str(tmp_path), "--port", "0"]) == 2
    assert "is not a capture" in capsys.readouterr().err


def test_an_altered_capture_is_refused(captured: Captured, tmp_path: Path) -> None:
    for name in (MANIFEST, EXCHANGES):
        (tmp_path / name).write_bytes((captured.kept / name).read_bytes())
    with (tmp_path / EXCHANGES).open("a") as f:
        f.write("{}\n")
    with pytest.raises(ReplayError, match="does not match its manifest"):
        Replay(tmp_path)


def test_names_in_request_filters_and_bodies_are_pseudonymised_and_replay_still_matches(
        tmp_path: Path) -> None:
    from opskit import http
    from opskit.capture import Recorder
    from opskit.capture._capture import _write

    from .servers import ListServer

    names = Pseudonyms("ab" * 32)
    recorder = Recorder(names, [])
    wanted = 'userName eq "user2@x.org"'
    with serve_asgi(ListServer(3)) as url, http.recording(recorder.hear), \
            http.client() as client:
        client.get(f"{url}/v2/Users", params={"filter": wanted})
        client.post(f"{url}/v2/Users", json={"userName": "user9@x.org",
                                             "emails": [{"value": "nine@x.org"}]})
        client.patch(f"{url}/v2/Users/2", json={"Operations": [
            {"op": "replace", "path": "displayName", "value": "Ada Lovelace"},
            {"op": "remove", "path": 'emails[value eq "two@x.org"]'},
            {"op": "remove", "path": 'groups[value eq "g7"]'}]})
    got, posted, patched = recorder.finish()
    assert got["request"]["query"] == [["filter", f'userName eq "{names.name("user2@x.org")}"']]
    assert patched["request"]["body"]["json"]["Operations"] == [
        {"op": "replace", "path": "displayName", "value": names.name("Ada Lovelace")},
        {"op": "remove", "path": f'emails[value eq "{names.name("two@x.org")}"]'},
        {"op": "remove", "path": 'groups[value eq "g7"]'}]  # an id is no name
    assert got["response"]["body"]["json"]["Resources"][0]["userName"] == \
        names.name("user2@x.org")
    assert posted["request"]["body"]["json"] == {
        "userName": names.name("user9@x.org"), "emails": [{"value": names.name("nine@x.org")}]}
    # The replay matches the request as a run against the capture's pseudonyms asks it.
    _write(tmp_path, {"format": "opskit-capture", "version": 1}, [got, posted, patched])
    replay = Replay(tmp_path)
    asked = [("filter", f'userName eq "{names.name("user2@x.org")}"')]
    assert replay.answer("GET", "/v2/Users", asked, b"")["status"] == 200
    assert replay.answer("GET", "/v2/Users", [("filter", wanted)], b"") is None


def test_an_onprem_capture_replays_at_the_connectors_own_path(
        sandbox: RunningSandbox, tmp_path: Path) -> None:
    from opskit.config import OnPremProfile

    profile = onprem_profile(sandbox)
    original = fetch_inventory(profile, progress=False, secret_permissions=True)
    made = capture(profile, tmp_path / "cap", keep_names=True)
    assert made.token_ok and made.inventory_complete
    with replaying(tmp_path / "cap") as (url, replay):
        assert replay.scim_path == "/SCIMConnector/v2" and replay.token_path is None
        replayed = fetch_inventory(OnPremProfile(
            "replay", base_url=url + replay.scim_path,
            token=SecretRef.practice("any-token", "onprem_token")),
            progress=False, secret_permissions=True)
    _assert_same(replayed, original.frames())


def test_a_capture_that_cannot_finish_leaves_the_earlier_one_whole(
        captured: Captured, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "cap"
    target.mkdir()
    for name in (MANIFEST, EXCHANGES):
        (target / name).write_bytes((captured.kept / name).read_bytes())
    monkeypatch.delenv("OPSKIT_TEST_UNSET", raising=False)
    broken = CloudProfile("broken", base_url="http://127.0.0.1:9/v2",
                          token_url="http://127.0.0.1:9/token", client_id="svc",
                          client_secret=SecretRef("env:OPSKIT_TEST_UNSET"))
    with pytest.raises(ConfigError):
        capture(broken, target, keep_names=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cap"]  # no half capture beside it
    assert (target / EXCHANGES).read_bytes() == (captured.kept / EXCHANGES).read_bytes()
    Replay(target)  # still whole


def test_free_text_loses_names_that_case_folding_spells_otherwise() -> None:
    from opskit.capture._record import _KnownNames

    names = Pseudonyms("cd" * 32)
    for name in ("Straße Team", "İstanbul Ops", "IT"):
        names.name(name)
    known = _KnownNames(names)
    assert known.replace("group Straße Team not found; İSTANBUL OPS gone; STRASSE TEAM") == (
        f"group {names.name('Straße Team')} not found; {names.name('İstanbul Ops')} gone; "
        f"{names.name('Straße Team')}")
    assert known.replace("it is IT") == "it is IT"  # shorter than three letters: prose too
