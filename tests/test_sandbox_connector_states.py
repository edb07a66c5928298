"""Failure states of a real tenant, played by the practice tenant over real HTTP: the cloud's
Secret Server out of reach, the on-prem connector's Error Threshold, and a service user without
the Platform User role."""

from __future__ import annotations

import httpx
import pytest

from opskit.sandbox import schemas as urn
from opskit.sandbox.serve import RunningSandbox, running
from opskit.sandbox.tenantfile import TenantFile

from .conftest import Flavors, cloud_token


def scim_503(response: httpx.Response, detail: str) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert (body["schemas"], body["status"], body["detail"]) == ([urn.ERROR], "503", detail)


def health(sb: RunningSandbox) -> str:
    return httpx.get(sb.url + "/_sandbox/health").json()["onprem_connector"]


def test_secret_server_down_fails_only_what_lives_in_secret_server(
        small_tenant: TenantFile) -> None:
    small_tenant.cloud.secret_server_reachable = False
    with running(small_tenant) as sb:
        scim = Flavors(sb)  # the token is still issued: the Platform answers
        for path in ("/Users", "/Groups", "/ResourceTypes", "/Users/u1"):
            assert scim.cloud.get(path).status_code == 200, path
        for path in ("/Containers", "/ContainerPermissions", "/PrivilegedData",
                     "/PrivilegedDataPermissions", "/Containers/f1"):
            scim_503(scim.cloud.get(path), "Secret Server unreachable.")
        scim_503(scim.cloud.post("/Containers", json={"schemas": [urn.CONTAINER],
                                                      "name": "New"}),
                 "Secret Server unreachable.")
        # The on-prem connector reaches its Secret Server its own way.
        assert scim.onprem.get("/Containers").status_code == 200
        scim.close()


def test_onprem_error_threshold_disables_the_connector_until_re_enabled(
        small_tenant: TenantFile) -> None:
    small_tenant.onprem.error_threshold = 3
    with running(small_tenant) as sb:
        scim = Flavors(sb)
        for _ in range(2):
            assert scim.onprem.get("/Users/nobody").status_code == 404
        assert scim.onprem.get("/Users").status_code == 200  # a success resets the run
        for _ in range(2):
            assert scim.onprem.get("/Users/nobody").status_code == 404
        assert health(sb) == "enabled"
        assert scim.onprem.get("/Groups/nothing").status_code == 404  # the third in a row
        assert health(sb) == "disabled"
        for path in ("/Users", "/ServiceProviderConfig", "/Containers"):
            scim_503(scim.onprem.get(path), "SCIM Connector has been disabled.")
        assert scim.cloud.get("/Users").status_code == 200  # the cloud is another service
        answer = httpx.post(sb.url + "/_sandbox/enable-connector").json()
        assert answer == {"enabled": True, "was_disabled": True}
        assert scim.onprem.get("/Users").status_code == 200
        scim.close()


@pytest.mark.parametrize(("threshold", "errors", "disabled"), [(20, 19, False),
                                                               (20, 20, True),
                                                               (0, 25, False)])
def test_the_default_threshold_is_20_and_0_switches_it_off(
        small_tenant: TenantFile, threshold: int, errors: int, disabled: bool) -> None:
    assert small_tenant.onprem.error_threshold == 20  # the documented default
    small_tenant.onprem.error_threshold = threshold
    with running(small_tenant) as sb, httpx.Client(base_url=sb.onprem_url) as anonymous:
        for _ in range(errors):  # any error counts, a refused token too
            assert anonymous.get("/Users").status_code == 401
        assert health(sb) == ("disabled" if disabled else "enabled")


def test_a_connector_disabled_in_the_tenant_file_refuses_before_auth(
        small_tenant: TenantFile) -> None:
    small_tenant.onprem.disabled = True
    with running(small_tenant) as sb:
        scim_503(httpx.get(sb.onprem_url + "/Users"), "SCIM Connector has been disabled.")
        assert httpx.post(sb.url + "/_sandbox/enable-connector").json()["was_disabled"]
        assert health(sb) == "enabled"


def test_no_platform_user_role_refuses_the_token_for_valid_credentials(
        small_tenant: TenantFile) -> None:
    small_tenant.service_account.has_platform_user_role = False
    with running(small_tenant) as sb:
        refused = cloud_token(sb)
        assert (refused.status_code, refused.json()["error"]) == (400, "unauthorized_client")
        # A wrong secret is still told apart only as a failed login.
        wrong = cloud_token(sb, client_secret="not-it")
        assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
        assert sb.sandbox.issuer.issued == 0
