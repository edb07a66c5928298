"""Profile kinds as their own types, what connect() yields, and the practice tenant's one door."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from opskit import config
from opskit.config import (
    CloudProfile,
    OnPremProfile,
    PracticeEndpoint,
    PracticeProfile,
    connect,
    parse_profile,
)
from opskit.errors import ConfigError
from opskit.sandbox.entry import practice

from .conftest import SMALL

CLOUD = {"kind": "cloud", "tenant": "acme", "client_id": "scim@acme.com",
         "client_secret": "env:X"}
ONPREM = {"kind": "onprem", "base_url": "https://ss.acme.local/SCIMConnector/v2",
          "token": "env:Y"}
PRACTICE = {"kind": "sandbox", "flavor": "onprem"}


@pytest.mark.parametrize(("raw", "kind_type"), [(CLOUD, CloudProfile), (ONPREM, OnPremProfile),
                                                (PRACTICE, PracticeProfile)])
def test_each_kind_parses_to_its_own_type(raw: dict[str, str], kind_type: type) -> None:
    prof = parse_profile("p", dict(raw))
    assert type(prof) is kind_type and prof.kind == raw["kind"]
    # What a kind does not hold reads as absent, so readers of any profile need no kind test.
    if kind_type is not CloudProfile:
        assert prof.client_id == "" and prof.client_secret is None
    if kind_type is not OnPremProfile:
        assert prof.token is None


@pytest.mark.parametrize(("raw", "foreign"), [
    (CLOUD, "token"), (CLOUD, "base_url"), (CLOUD, "data"), (CLOUD, "rehearsal"),
    (ONPREM, "tenant"), (ONPREM, "client_secret"), (ONPREM, "flavor"),
    (ONPREM, "platform_groups_sync"),
    (PRACTICE, "tenant"), (PRACTICE, "token"), (PRACTICE, "verify"), (PRACTICE, "scope"),
])
def test_a_key_meaningful_only_for_another_kind_is_one_clear_error(
        raw: dict[str, str], foreign: str) -> None:
    kind = raw["kind"]
    with pytest.raises(ConfigError) as info:
        parse_profile("p", {**raw, foreign: "x"})
    assert info.value.message == (f"opskit.toml: profiles.p: unknown key(s) {foreign} for kind "
                                  f"{kind!r}")
    assert info.value.remediation.startswith(f"keys for {kind}: ")
    assert foreign not in info.value.remediation.split(": ", 1)[1].split(", ")


def test_the_types_hold_only_what_their_kind_means() -> None:
    with pytest.raises(TypeError):
        OnPremProfile("p", client_id="scim@acme.com")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        PracticeProfile("p", base_url="http://127.0.0.1:1/scim/v2")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        CloudProfile("p", token=None)  # type: ignore[call-arg]


@pytest.mark.parametrize("flavor", ["cloud", "onprem"])
def test_connect_serves_a_practice_profile_as_an_endpoint_that_answers(
        flavor: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPSKIT_SANDBOX_URL", raising=False)
    prof = PracticeProfile("p", flavor, data=str(SMALL))  # type: ignore[arg-type]
    with connect(prof) as endpoint, httpx.Client(timeout=30) as http:
        assert isinstance(endpoint, PracticeEndpoint) and endpoint.profile is prof
        assert (endpoint.name, endpoint.flavor, endpoint.tenant_name) == ("p", flavor, "acme")
        if flavor == "cloud":
            assert endpoint.client_secret is not None and endpoint.token is None
            form = {"grant_type": "client_credentials", "client_id": endpoint.client_id,
                    "client_secret": endpoint.client_secret.resolve(), "scope": endpoint.scope}
            bearer = http.post(endpoint.token_url, data=form).json()["access_token"]
        else:
            assert endpoint.token is not None and endpoint.client_secret is None
            bearer = endpoint.token.resolve()
        users = http.get(f"{endpoint.base_url}/Users", params={"count": 0},
                         headers={"Authorization": f"Bearer {bearer}"})
        assert users.status_code == 200 and users.json()["totalResults"] > 0
        base = endpoint.base_url
    with pytest.raises(httpx.ConnectError):  # served for the block only
        httpx.get(f"{base}/ServiceProviderConfig")


def test_the_entry_point_gives_plain_values_and_refuses_a_rehearsal_at_a_url() -> None:
    with practice(SMALL, "onprem") as served:
        assert served.scim_url == served.url + "/SCIMConnector/v2" and served.token_url == ""
        assert isinstance(served.token, str) and served.client_secret is None
        with pytest.raises(ValueError, match="rehearsal"), \
                practice(SMALL, rehearsal="wrong-secret", url=served.url):
            pass


def test_config_reaches_the_practice_tenant_only_through_its_entry_point() -> None:
    tree = ast.parse(Path(config.__file__).read_text(encoding="utf-8"))
    sandbox_modules = {node.module for node in ast.walk(tree)
                       if isinstance(node, ast.ImportFrom) and node.module
                       and node.module.split(".")[0] == "sandbox"}
    assert sandbox_modules == {"sandbox.entry"}


def test_importing_config_imports_no_part_of_the_sandbox(tmp_path: Path) -> None:
    code = ("import sys, opskit.config as c; c.load_profiles(); "
            "print(sorted(m for m in sys.modules if m.startswith('opskit.sandbox')))")
    env = {k: v for k, v in os.environ.items() if k != "OPSKIT_CONFIG"} | {"HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path, env=env, timeout=120)
    assert out.stdout.strip() == "[]"
