"""IGA settings: what the SailPoint source needs, and the entered settings checked against it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from opskit.checks.engine import findings, run_checks
from opskit.checks.iga import expected_settings, iga_checks
from opskit.config import parse_profile
from opskit.errors import ConfigError
from opskit.findings import IGA_SETTINGS, raised_by
from opskit.inputs.iga_settings import load_settings

CLOUD = parse_profile("acme", {"kind": "cloud", "tenant": "acme", "client_id":
                               "scim.integration@acme.com", "client_secret": "env:X"})
ONPREM = parse_profile("acme-ss", {"kind": "onprem", "token": "env:Y", "base_url":
                                   "https://ss.acme.local/SCIMConnector/v2"})
GOOD = {"base_url": "https://acme.delinea.app/scim/v2/", "authentication": "OAuth 2.0",
        "grant_type": "Client Credentials",
        "token_url": "https://ACME.delinea.app/identity/api/oauth2/token/xpmplatform",
        "request_parameters": {"scope": "xpm.platform"},
        "filters": {"accounts": 'userName co "@acme.com"', "groups": 'displayName eq "DBA"'}}


def codes(profile, settings) -> list[str]:
    return [f.code for f in findings(run_checks(iga_checks(profile, settings)), "acme")]


def test_expected_settings_for_a_cloud_tenant() -> None:
    want = expected_settings(CLOUD)
    assert want["base_url"] == "https://acme.delinea.app/scim/v2"
    assert want["token_url"] == "https://acme.delinea.app/identity/api/oauth2/token/xpmplatform"
    assert want["grant_type"] == "Client Credentials"
    assert want["request_parameters"] == {"scope": "xpm.platform"}
    assert "env:X" not in json.dumps(want)  # never a secret, not even its reference


def test_settings_that_match_pass() -> None:
    assert codes(CLOUD, GOOD) == []


@pytest.mark.parametrize(("change", "code"), [
    ({"base_url": "https://acme.delinea.app/SCIMConnector/v2"}, "IGA_BASE_URL_MISMATCH"),
    ({"token_url": "https://acme.delinea.app/oauth2/token"}, "IGA_TOKEN_URL_MISMATCH"),
    ({"grant_type": "Password"}, "IGA_AUTH_WRONG"),
    ({"request_parameters": {}}, "IGA_SCOPE_MISSING"),
    ({"request_parameters": {"scope": "xpmheadless"}}, "IGA_SCOPE_MISSING"),
    ({"filters": {"accounts": 'userName sw "a"'}}, "IGA_FILTER_UNSUPPORTED"),
    ({"filters": {"groups": 'displayName eq "x" or displayName eq "y"'}},
     "IGA_FILTER_UNSUPPORTED"),
    ({"filters": {"accounts": "userName eq"}}, "IGA_FILTER_INVALID"),
])
def test_each_wrong_setting_is_named(change: dict, code: str) -> None:
    got = codes(CLOUD, {**GOOD, **change})
    assert got == [code]
    assert code in {c.code for c in raised_by(IGA_SETTINGS)}


def test_onprem_takes_any_filter_and_an_api_token() -> None:
    settings = {"base_url": "https://ss.acme.local/SCIMConnector/v2",
                "authentication": "API Token", "filters": {"accounts": 'userName sw "a"'}}
    assert codes(ONPREM, settings) == []
    assert codes(ONPREM, {**settings, "authentication": "OAuth 2.0"}) == ["IGA_AUTH_WRONG"]


def test_settings_file(tmp_path: Path) -> None:
    good = tmp_path / "iga.yaml"
    good.write_text(yaml.safe_dump(GOOD))
    assert load_settings(good) == GOOD
    as_json = tmp_path / "iga.json"
    as_json.write_text(json.dumps(GOOD))
    assert load_settings(as_json) == GOOD
    bad = tmp_path / "bad.yaml"
    bad.write_text("base_url: x\nbaseurl: y\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(bad)
    with pytest.raises(ConfigError, match="settings file does not exist"):
        load_settings(tmp_path / "missing.yaml")
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(listy)
    hosted = tmp_path / "hosted.yaml"
    hosted.write_text(yaml.safe_dump({**GOOD, "hosting": "on-prem"}))
    assert load_settings(hosted)["hosting"] == "on-prem"
    hosted.write_text(yaml.safe_dump({**GOOD, "hosting": "saas"}))
    with pytest.raises(ConfigError, match="hosting is 'saas'") as info:
        load_settings(hosted)
    assert "hosting: on-prem" in info.value.remediation


def test_a_settings_file_that_is_a_pipe_or_too_deep_is_one_message(tmp_path: Path) -> None:
    pipe = tmp_path / "iga.yaml"
    os.mkfifo(pipe)  # nothing ever writes to it: a plain open() would wait forever
    with pytest.raises(ConfigError, match=r"is a named pipe \(FIFO\), not a regular file"):
        load_settings(pipe)
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_settings(deep)
