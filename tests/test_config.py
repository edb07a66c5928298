"""Profiles: tenant URLs, secrets by reference resolved at use time, one clear message each."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import httpx
import keyring
import pytest
from keyring.backend import KeyringBackend

from opskit import config
from opskit.cli import main
from opskit.config import CloudProfile, SecretRef, cloud_urls, connect, get_profile, load_profiles
from opskit.errors import ConfigError, SecretError
from opskit.sandbox.serve import running, serving
from opskit.sandbox.tenantfile import TenantFile

from .bounded import cli, run_bounded
from .servers import self_signed_cert

SECRET = "s3cr3t-value-never-shown"


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def profile_file(tmp_path: Path, body: str) -> Path:
    return write_config(tmp_path / "opskit.toml", body)


def assert_clear(error: Exception, *, must_not_contain: str = SECRET) -> str:
    """One clear message: what is wrong, then what to do; never the secret."""
    text = str(error)
    assert isinstance(error, ConfigError)
    assert error.message and error.remediation
    assert text.startswith(error.message)
    assert "→" in text and error.remediation in text
    assert must_not_contain not in text
    assert must_not_contain not in repr(error)
    return text


# --------------------------------------------------------------------------- tenant URLs
@pytest.mark.parametrize("tenant", ["acme", "ACME", "https://acme.delinea.app",
                                    "https://acme.delinea.app/", "https://acme.delinea.app/scim/v2",
                                    "https://acme.delinea.app/scim/v2/"])
def test_cloud_tenant_name_or_url(tenant: str) -> None:
    assert cloud_urls(tenant) == ("https://acme.delinea.app/scim/v2",
                                  "https://acme.delinea.app/identity/api/oauth2/token/xpmplatform")


def test_cloud_profile_from_file(tmp_path: Path) -> None:
    path = profile_file(tmp_path, """
[profiles.acme]
kind = "cloud"
tenant = "acme"
client_id = "scim.integration@acme.com"
client_secret = "env:ACME_SCIM_SECRET"

[profiles.beta]
kind = "cloud"
tenant = "https://beta.delinea.app:8443"
client_id = "svc@beta.com"
client_secret = "file:~/beta.secret"
scope = "xpmheadless"
""")
    profiles = load_profiles(path)
    acme = profiles["acme"]
    assert (acme.kind, acme.flavor) == ("cloud", "cloud")
    assert acme.base_url == "https://acme.delinea.app/scim/v2"
    assert acme.token_url == "https://acme.delinea.app/identity/api/oauth2/token/xpmplatform"
    assert acme.scope == "xpm.platform"
    assert acme.client_id == "scim.integration@acme.com"
    assert acme.client_secret == SecretRef("env:ACME_SCIM_SECRET")
    beta = profiles["beta"]
    assert beta.base_url == "https://beta.delinea.app:8443/scim/v2"
    assert beta.scope == "xpmheadless"
    # The built-in profiles are always there.
    assert {"sandbox", "sandbox-onprem"} <= set(profiles)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765", "http://localhost:8765/scim/v2",
                                 "http://[::1]:8765"])
def test_plain_http_only_to_loopback(url: str) -> None:
    base, token_url = cloud_urls(url)
    assert base.startswith("http://") and base.endswith(":8765/scim/v2")
    assert token_url.endswith(":8765/identity/api/oauth2/token/xpmplatform")
    # A derived URL must itself be a usable URL (an IPv6 host keeps its brackets).
    assert httpx.URL(base).port == 8765


def test_onprem_profile(tmp_path: Path) -> None:
    path = profile_file(tmp_path, """
[profiles.acme-ss]
kind = "onprem"
base_url = "https://ss-scim.acme.local/SCIMConnector/v2/"
token = "keyring:opskit/acme-ss"
""")
    prof = get_profile("acme-ss", path)
    assert (prof.kind, prof.flavor) == ("onprem", "onprem")
    assert prof.base_url == "https://ss-scim.acme.local/SCIMConnector/v2"
    assert prof.token == SecretRef("keyring:opskit/acme-ss")
    assert prof.client_secret is None


def test_onprem_base_url_must_end_in_v2(tmp_path: Path) -> None:
    path = profile_file(tmp_path, """
[profiles.ss]
kind = "onprem"
base_url = "https://ss-scim.acme.local/SCIMConnector"
token = "env:SS_TOKEN"
""")
    with pytest.raises(ConfigError) as info:
        load_profiles(path)
    assert "/v2" in assert_clear(info.value)


# --------------------------------------------------------------------------- clear errors
@pytest.mark.parametrize(("tenant", "words"), [
    ("https://acme .delinea.app", "spaces"),
    (" https://acme.delinea.app", "spaces"),
    ("acme corp", "neither a tenant name nor a URL"),
    ("acme\n", "neither a tenant name nor a URL"),
    ("https://", "no host"),
    ("https:///scim/v2", "no host"),
    ("http://acme.delinea.app", "not this machine"),
    ("http://10.0.0.5:8765", "not this machine"),
    ("ftp://acme.delinea.app", "https://"),
    ("https://acme.delinea.app/identity", "path"),
])
def test_bad_tenant_is_one_clear_message(tmp_path: Path, tenant: str, words: str) -> None:
    path = profile_file(tmp_path, f"""
[profiles.acme]
kind = "cloud"
tenant = {json.dumps(tenant)}
client_id = "svc@acme.com"
client_secret = "env:ACME_SCIM_SECRET"
""")
    with pytest.raises(ConfigError) as info:
        load_profiles(path)
    text = assert_clear(info.value)
    assert words in text
    assert "profiles.acme.tenant" in text  # says where


def test_password_in_a_tenant_url_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = profile_file(tmp_path, f"""
[profiles.acme]
kind = "cloud"
tenant = "http://svc:{SECRET}@acme.delinea.app"
client_id = "svc@acme.com"
client_secret = "env:ACME_SCIM_SECRET"
""")
    with pytest.raises(ConfigError) as info:
        load_profiles(path)
    assert_clear(info.value)


def test_unknown_profile(tmp_path: Path) -> None:
    path = profile_file(tmp_path, """
[profiles.acme]
kind = "onprem"
base_url = "https://ss.acme.local/SCIMConnector/v2"
token = "env:SS_TOKEN"
""")
    with pytest.raises(ConfigError) as info:
        get_profile("acmee", path)
    text = assert_clear(info.value)
    assert "'acmee'" in text
    assert "acme" in info.value.remediation and "sandbox" in info.value.remediation


def test_literal_secret_in_the_file_is_refused(tmp_path: Path) -> None:
    path = profile_file(tmp_path, f"""
[profiles.acme]
kind = "cloud"
tenant = "acme"
client_id = "svc@acme.com"
client_secret = "{SECRET}"
""")
    with pytest.raises(ConfigError) as info:
        load_profiles(path)
    text = assert_clear(info.value)
    assert "literal" in text and "env:NAME" in text


def test_literal_onprem_token_is_refused(tmp_path: Path) -> None:
    path = profile_file(tmp_path, f"""
[profiles.ss]
kind = "onprem"
base_url = "https://ss.acme.local/SCIMConnector/v2"
token = "{SECRET}"
""")
    with pytest.raises(ConfigError) as info:
        load_profiles(path)
    assert "literal" in assert_clear(info.value)


def test_other_profile_file_mistakes(tmp_path: Path) -> None:
    cases = {
        'kind = "cloudy"': "kind",
        'kind = "cloud"\ntenant = "acme"\nclient_secret = "env:X"': "client_id",
        'kind = "onprem"\nbase_url = "https://x.local/v2"\ntoken = "env:X"\nscope = "a"':
            "unknown key",
    }
    for body, words in cases.items():
        path = profile_file(tmp_path, f"[profiles.p]\n{body}\n")
        with pytest.raises(ConfigError) as info:
            load_profiles(path)
        assert words in assert_clear(info.value)
    path = profile_file(tmp_path, '[profiles.sandbox]\nkind = "sandbox"\n')
    with pytest.raises(ConfigError, match="shadows a built-in"):
        load_profiles(path)
    path = profile_file(tmp_path, "[profiles.p\nkind = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_profiles(path)


def test_profile_file_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = write_config(tmp_path / "elsewhere.toml", """
[profiles.from-env]
kind = "onprem"
base_url = "https://ss.acme.local/SCIMConnector/v2"
token = "env:SS_TOKEN"
""")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("OPSKIT_CONFIG", str(elsewhere))
    assert "from-env" in load_profiles()
    write_config(work / "opskit.toml", """
[profiles.from-cwd]
kind = "onprem"
base_url = "https://ss.acme.local/SCIMConnector/v2"
token = "env:SS_TOKEN"
""")
    assert set(load_profiles()) == {"sandbox", "sandbox-onprem", "from-cwd"}
    (work / "opskit.toml").unlink()
    monkeypatch.setenv("OPSKIT_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_profiles()



ONPREM_PROFILE = """
[profiles.{name}]
kind = "onprem"
base_url = "https://ss.acme.local/SCIMConnector/v2"
token = "env:SS_TOKEN"
"""


def test_a_kernel_in_a_subfolder_finds_the_checkout_s_profile_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """JupyterLab starts kernels in opskit/notebooks/: the root's opskit.toml is the nearest one
    above, as git and ruff find theirs; a nearer one, or OPSKIT_CONFIG, still comes first."""
    root = write_config(tmp_path / "opskit.toml", ONPREM_PROFILE.format(name="root")).parent
    notebooks = root / "opskit" / "notebooks"
    notebooks.mkdir(parents=True)
    monkeypatch.chdir(notebooks)
    monkeypatch.delenv("OPSKIT_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config.config_path() == root / "opskit.toml"
    assert get_profile("root").name == "root"
    write_config(root / "opskit" / "opskit.toml", ONPREM_PROFILE.format(name="nearer"))
    assert "nearer" in load_profiles() and "root" not in load_profiles()
    elsewhere = write_config(tmp_path / "elsewhere.toml", ONPREM_PROFILE.format(name="env"))
    monkeypatch.setenv("OPSKIT_CONFIG", str(elsewhere))
    assert config.config_path() == elsewhere


def test_the_search_above_stops_at_the_project_root_and_at_shared_folders(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A profile file above the project's root, or in or above a folder anyone may write to,
    is someone else's: it is never read (its profiles would be sent this user's secrets)."""
    monkeypatch.delenv("OPSKIT_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write_config(tmp_path / "opskit.toml", ONPREM_PROFILE.format(name="outside"))
    project = tmp_path / "project"
    (project / "opskit" / "notebooks").mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    monkeypatch.chdir(project / "opskit" / "notebooks")
    assert config.config_path() is None  # the project's root ends the search
    (project / "pyproject.toml").unlink()
    assert config.config_path() == tmp_path / "opskit.toml"
    shared = tmp_path / "shared"
    (shared / "work").mkdir(parents=True)
    write_config(shared / "opskit.toml", ONPREM_PROFILE.format(name="planted"))
    shared.chmod(0o1777)  # like /tmp: anyone may write here
    monkeypatch.chdir(shared / "work")
    assert config.config_path() is None
    assert "in each folder above (none)" in config.searched_places()


def test_an_unknown_profile_names_every_place_searched_and_the_fixes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kernel = tmp_path / "checkout" / "notebooks"
    kernel.mkdir(parents=True)
    monkeypatch.chdir(kernel)
    monkeypatch.delenv("OPSKIT_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(ConfigError, match="unknown profile 'acme'") as caught:
        get_profile("acme")
    text = str(caught.value)
    assert "no profile file found" in text
    for place in (kernel / "opskit.toml", "$OPSKIT_CONFIG (not set)", tmp_path / "checkout",
                  tmp_path, tmp_path / "home" / ".config" / "opskit" / "opskit.toml"):
        assert str(place) in text
    assert all(fix in text for fix in ("[profiles.acme]", "set OPSKIT_CONFIG", "sandbox"))
    # A file was found, but the profile is not in it: the message names the file read.
    found = write_config(tmp_path / "checkout" / "opskit.toml", ONPREM_PROFILE.format(name="x"))
    with pytest.raises(ConfigError, match=f"not in {found}") as caught:
        get_profile("acme")
    assert "known profiles: sandbox, sandbox-onprem, x" in str(caught.value)


# --------------------------------------------------------------------------- secrets
def test_missing_env_var_is_a_secret_error_at_use_time(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPSKIT_TEST_SECRET", raising=False)
    path = profile_file(tmp_path, """
[profiles.acme]
kind = "cloud"
tenant = "acme"
client_id = "svc@acme.com"
client_secret = "env:OPSKIT_TEST_SECRET"
""")
    prof = get_profile("acme", path)  # loading never reads the secret
    assert prof.client_secret is not None
    with pytest.raises(SecretError) as info:
        prof.client_secret.resolve()
    text = assert_clear(info.value)
    assert "OPSKIT_TEST_SECRET" in text and "export" in text
    # Resolved at use time: the value in force when it is used, each time.
    monkeypatch.setenv("OPSKIT_TEST_SECRET", SECRET)
    assert prof.client_secret.resolve() == SECRET
    monkeypatch.setenv("OPSKIT_TEST_SECRET", SECRET + "-rotated")
    assert prof.client_secret.resolve() == SECRET + "-rotated"


def test_file_secret(tmp_path: Path) -> None:
    secret_file = tmp_path / "client.secret"
    secret_file.write_text(SECRET + "\n")
    assert SecretRef(f"file:{secret_file}").resolve() == SECRET
    noted = tmp_path / "noted.secret"  # the first line is the secret, as docs/profiles.md says
    noted.write_text(f"{SECRET}\nrotated 2025-03-01, next due in June\n")
    assert SecretRef(f"file:{noted}").resolve() == SECRET
    empty = tmp_path / "empty.secret"
    empty.write_text("\n" + SECRET)
    for ref, problem in ((f"file:{empty}", "has nothing on its first line"),
                         (f"file:{tmp_path / 'missing.secret'}", "does not exist")):
        with pytest.raises(SecretError) as info:
            SecretRef(ref).resolve()
        assert problem in assert_clear(info.value)


def test_a_secret_file_is_read_up_to_a_limit(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.secret"
    big.write_text(SECRET + "\n" + "#" * config.SECRET_FILE_LIMIT)
    ref = SecretRef(f"file:{big}")
    with pytest.raises(SecretError) as info:
        ref.resolve()
    assert "is larger than 65,536 bytes" in assert_clear(info.value)
    assert config.SECRET_FILE_LIMIT_ENV in info.value.remediation
    monkeypatch.setenv(config.SECRET_FILE_LIMIT_ENV, str(2 * config.SECRET_FILE_LIMIT))
    assert ref.resolve() == SECRET
    monkeypatch.setenv(config.SECRET_FILE_LIMIT_ENV, "lots")
    with pytest.raises(ConfigError, match="OPSKIT_SECRET_FILE_LIMIT='lots' is not a number"):
        ref.resolve()


NOT_REGULAR = ("not a regular file → point file: at a regular file (mode 600) with the secret "
               "on its first line, or fix the path in the profile")


def test_a_secret_file_that_never_ends_is_refused_at_once(tmp_path: Path) -> None:
    """A FIFO nobody writes to blocked open() for ever; /dev/zero was read until MemoryError.
    Each command runs in a child bounded in time and memory."""
    fifo = tmp_path / "token.fifo"
    os.mkfifo(fifo, 0o600)
    path = profile_file(tmp_path, "".join(f"""
[profiles.{name}]
kind = "onprem"
base_url = "https://127.0.0.1:9/SCIMConnector/v2"
token = "file:{target}"
""" for name, target in (("fifo", fifo), ("zero", "/dev/zero"))))
    for name, target, kind in (("fifo", fifo, "a named pipe (FIFO)"),
                               ("zero", "/dev/zero", "a device")):
        r = run_bounded(cli, "inventory", "--profile", name, "--out", str(tmp_path / name),
                        env={"OPSKIT_CONFIG": str(path)}, timeout=30, max_growth_mb=200)
        assert r.exit_code == 2, r.stderr
        assert r.stderr_lines == [f"opskit: the secret file {target} is {kind}, {NOT_REGULAR}"]


@pytest.mark.parametrize(("content", "expected"), [
    (b'[profiles.acme]\nkind = "cloud"\ntenant = 123\nclient_id = "svc@acme.com"\n'
     b'client_secret = "env:X"\n',
     '{path}: profiles.acme.tenant must be text, not int → write it in quotes: tenant = "acme" '
     'or tenant = "https://acme.delinea.app"'),
    ("[profiles.acme] # café\n".encode("latin-1"),
     "the profile file {path} is not UTF-8 text (line 1) → save it as UTF-8, as TOML requires"),
    (None, "the profile file {path} is a folder, not a regular file → give the path of an "
     "opskit.toml file (OPSKIT_CONFIG, if set, must name one)"),
])
def test_profile_file_mistakes_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str],
                                            content: bytes | None, expected: str) -> None:
    path = tmp_path / "profiles.toml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPSKIT_CONFIG", str(path))
    assert main(["token-check", "--profile", "acme"]) == 2
    assert capsys.readouterr().err == f"opskit: {expected.format(path=path)}\n"


def test_verify_false_is_warned_once_and_noted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str],
                                               small_tenant: TenantFile) -> None:
    """An https tenant whose certificate nobody trusts, read with verify = false: it works, and
    says so: one warning line on stderr, a note in what the command reports."""
    certfile, keyfile = self_signed_cert(tmp_path)
    token = tmp_path / "token"
    token.write_text(small_tenant.onprem.token + "\n")
    with running(small_tenant) as sb, serving(sb.sandbox.app, certfile=certfile,
                                              keyfile=keyfile) as url:
        path = profile_file(tmp_path, f"""
[profiles.unchecked]
kind = "onprem"
base_url = "{url}/SCIMConnector/v2"
token = "file:{token}"
verify = false
""")
        monkeypatch.setenv("OPSKIT_CONFIG", str(path))
        assert main(["inventory", "--profile", "unchecked", "--out", str(tmp_path / "snap"),
                     "--quiet"]) == 0
    out, err = capsys.readouterr()
    note = config.insecure_note(get_profile("unchecked", path))
    assert note and "TLS certificates are not checked" in note
    assert err.splitlines() == [f"opskit: warning: {note}"]
    assert f"  warning: {note}" in out.splitlines()
    meta = json.loads((tmp_path / "snap" / "manifest.json").read_text())["meta"]
    assert meta["warnings"] == [note] and meta["notes"] == []  # complete, but unchecked


class _MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


def test_keyring_secret() -> None:
    previous = keyring.get_keyring()
    memory = _MemoryKeyring()
    keyring.set_keyring(memory)
    try:
        ref = SecretRef("keyring:opskit/acme-ss")
        with pytest.raises(SecretError) as info:
            ref.resolve()
        assert "keyring set opskit acme-ss" in assert_clear(info.value)
        memory.set_password("opskit", "acme-ss", SECRET)
        assert ref.resolve() == SECRET
    finally:
        keyring.set_keyring(previous)


def test_unknown_secret_scheme() -> None:
    with pytest.raises(SecretError) as info:
        SecretRef("vault:acme/scim").resolve()
    assert_clear(info.value)


def test_secrets_are_never_repr_d_or_logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OPSKIT_TEST_SECRET", SECRET)
    path = profile_file(tmp_path, """
[profiles.acme]
kind = "cloud"
tenant = "acme"
client_id = "svc@acme.com"
client_secret = "env:OPSKIT_TEST_SECRET"
""")
    prof = get_profile("acme", path)
    assert prof.client_secret is not None
    assert prof.client_secret.resolve() == SECRET
    practice = SecretRef.practice(SECRET, "client_secret")
    assert practice.resolve() == SECRET
    for shown in (repr(prof), str(prof), repr(prof.client_secret), repr(practice),
                  str(practice), caplog.text):
        assert SECRET not in shown
    assert "env:OPSKIT_TEST_SECRET" in repr(prof)


# --------------------------------------------------------------------------- built-in profiles
@pytest.mark.parametrize(("name", "path"), [("sandbox", "/scim/v2"),
                                            ("sandbox-onprem", "/SCIMConnector/v2")])
def test_builtin_sandbox_runs_for_the_duration_of_connect(
        name: str, path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPSKIT_SANDBOX_URL", raising=False)
    with connect(name) as prof:
        url = httpx.URL(prof.base_url)
        assert url.scheme == "http" and url.host == "127.0.0.1"
        assert prof.base_url.endswith(path)
        assert httpx.get(f"http://127.0.0.1:{url.port}/_sandbox/health").json()["status"] == "ok"
        if name == "sandbox":
            assert prof.token_url.endswith("/identity/api/oauth2/token/xpmplatform")
            assert prof.client_secret is not None and prof.token is None
            assert "practice-only" not in repr(prof)
        else:
            assert prof.token is not None and prof.client_secret is None
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{url.port}/_sandbox/health")


def test_connect_reuses_the_sandbox_named_by_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPSKIT_SANDBOX_URL", raising=False)
    with connect("sandbox") as first:
        monkeypatch.setenv("OPSKIT_SANDBOX_URL", first.base_url.removesuffix("/scim/v2") + "/")
        with connect("sandbox") as second:
            assert second.base_url == first.base_url
            assert second.token_url == first.token_url
        with connect("sandbox-onprem") as onprem:
            assert onprem.base_url.startswith(first.base_url.removesuffix("/scim/v2"))


def test_builtin_sandbox_serves_the_tenant_file_named_by_env(
        monkeypatch: pytest.MonkeyPatch) -> None:
    small = Path(__file__).parent / "data" / "small.yaml"
    monkeypatch.delenv("OPSKIT_SANDBOX_URL", raising=False)
    monkeypatch.setenv("OPSKIT_SANDBOX_DATA", str(small))
    assert {p.data for p in load_profiles(None).values()} == {str(small)}
    with connect("sandbox-onprem") as prof:
        assert prof.token is not None
        users = httpx.get(f"{prof.base_url}/Users", headers={
            "Authorization": f"Bearer {prof.token.resolve()}"}).json()
        assert users["totalResults"] == 3  # the small tenant's, not the demo company's 200


def test_connect_passes_real_profiles_through(tmp_path: Path) -> None:
    prof = CloudProfile("acme", *cloud_urls("acme"), client_id="svc@acme.com",
                        client_secret=SecretRef("env:X"))
    with connect(prof) as same:
        assert same is prof
    empty = profile_file(tmp_path, "")
    assert config.get_profile(None, empty).name == "sandbox"  # the default


def test_a_profile_names_its_reference_view_and_iga_export(tmp_path: Path) -> None:
    path = profile_file(tmp_path, """
[profiles.acme]
kind = "cloud"
tenant = "acme"
client_id = "scim@acme.com"
client_secret = "env:X"
reference = "acme-ss"
iga_export = "exports/sailpoint.csv"

[profiles.acme-ss]
kind = "onprem"
base_url = "https://ss.acme.local/SCIMConnector/v2"
token = "env:Y"
""")
    profiles = load_profiles(path)
    assert profiles["acme"].reference == "acme-ss"
    assert profiles["acme"].iga_export == "exports/sailpoint.csv"
    assert profiles["acme-ss"].reference is None
    assert profiles["sandbox"].reference == "sandbox-onprem"


def test_a_reference_that_is_not_a_profile_is_refused(tmp_path: Path) -> None:
    path = profile_file(tmp_path, """
[profiles.acme]
kind = "onprem"
base_url = "https://ss.acme.local/SCIMConnector/v2"
token = "env:Y"
reference = "nope"
""")
    with pytest.raises(ConfigError, match="reference names 'nope', which is not a profile"):
        load_profiles(path)


def test_the_practice_tenant_publishes_its_iga_export() -> None:
    from opskit.csvfile import read_table

    with connect("sandbox") as prof:
        assert prof.iga_export and prof.iga_export.endswith("/_sandbox/iga-export.csv")
        rows = read_table(prof.iga_export, {"group": "Entitlement Value", "email": "Email"})
        assert len(rows) > 100 and "All Staff" in set(rows["group"])
        with connect(prof) as again:  # a running practice tenant is used as it is
            assert again is prof


@pytest.mark.parametrize("value", ['["no-folder"]', "{a = 1}", "3"])
def test_a_rehearsal_that_is_not_a_name_is_one_clear_message(tmp_path: Path, value: str) -> None:
    path = profile_file(tmp_path, f"""
[profiles.r]
kind = "sandbox"
rehearsal = {value}
""")
    with pytest.raises(ConfigError, match="rehearsal must be a rehearsal's name"):
        load_profiles(path)


def test_a_rehearsal_profile_looks_at_the_connector_its_rehearsal_breaks(tmp_path: Path) -> None:
    path = profile_file(tmp_path, """
[profiles.disabled]
kind = "sandbox"
rehearsal = "connector-disabled"

[profiles.no-folder]
kind = "sandbox"
rehearsal = "no-folder"
""")
    profiles = load_profiles(path)
    assert (profiles["disabled"].flavor, profiles["no-folder"].flavor) == ("onprem", "cloud")
    path = profile_file(tmp_path, """
[profiles.r]
kind = "sandbox"
flavor = "cloud"
rehearsal = "connector-disabled"
""")
    with pytest.raises(ConfigError, match="breaks the onprem connector") as info:
        load_profiles(path)
    assert 'flavor = "onprem"' in info.value.remediation


def test_a_profile_knows_its_tenant_name_where_it_can(tmp_path: Path) -> None:
    path = profile_file(tmp_path, """
[profiles.by-name]
kind = "cloud"
tenant = "Acme"
client_id = "scim@acme.com"
client_secret = "env:X"

[profiles.by-url]
kind = "cloud"
tenant = "https://acme.delinea.app"
client_id = "scim@acme.com"
client_secret = "env:X"
""")
    profiles = load_profiles(path)
    assert profiles["by-name"].tenant_name == "acme"
    assert profiles["by-url"].tenant_name is None  # the audit reads the subdomain instead
    with connect("sandbox") as prof:
        assert prof.tenant_name == "acme"  # the practice tenant's own name
