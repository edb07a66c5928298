"""Rehearsal faults: deterministic under a seed, and each as a client would meet it."""

from __future__ import annotations

import time

import httpx
import pytest

from opskit.sandbox.faults import FaultSpec
from opskit.sandbox.serve import running

from .conftest import SMALL, Flavors, cloud_token


def statuses(spec: str, n: int = 120) -> list[object]:
    out: list[object] = []
    with running(SMALL, faults=spec) as sb:
        headers = {"Authorization": "Bearer practice-onprem-token"}
        with httpx.Client(base_url=sb.onprem_url, headers=headers) as client:
            for i in range(n):
                # Each page asked twice: a retried request draws anew.
                for _ in range(2):
                    try:
                        out.append(client.get("/Users", params={"startIndex": i % 7 + 1,
                                                                "count": 1}).status_code)
                    except httpx.TransportError:
                        out.append("drop")
    return out


def test_faults_are_deterministic_under_a_seed() -> None:
    spec = "429=0.2,503=0.1,drop=0.05,seed=11"
    first, second = statuses(spec), statuses(spec)
    assert first == second
    assert {429, 503, "drop", 200} <= set(first)
    assert statuses("429=0.2,503=0.1,drop=0.05,seed=12") != first


def test_throttling_and_outage_answers() -> None:
    with running(SMALL, faults="429=0.5,503=0.5,retry_after=3") as sb:
        seen = {}
        with httpx.Client(headers={"Authorization": "Bearer practice-onprem-token"}) as client:
            for i in range(20):
                r = client.get(sb.onprem_url + "/Users", params={"startIndex": i + 1})
                seen[r.status_code] = r
        assert set(seen) == {429, 503}
        for status, r in seen.items():
            assert r.headers["retry-after"] == "3"
            assert r.json()["status"] == str(status)
        # The sandbox's own admin endpoints are never faulted.
        assert httpx.get(sb.url + "/_sandbox/health").status_code == 200


def test_dropped_connection_is_a_transport_error() -> None:
    with running(SMALL, faults="drop=1") as sb:
        with pytest.raises(httpx.TransportError):
            httpx.get(sb.onprem_url + "/Users",
                      headers={"Authorization": "Bearer practice-onprem-token"})
        assert httpx.get(sb.url + "/_sandbox/health").json()["status"] == "ok"


def test_forced_token_expiry() -> None:
    with running(SMALL, faults="token_expiry=0.5") as sb:
        token = cloud_token(sb).json()
        assert token["expires_in"] == 3600  # what the server promised...
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert httpx.get(sb.cloud_url + "/Users", headers=headers).status_code == 200
        time.sleep(0.7)
        assert httpx.get(sb.cloud_url + "/Users", headers=headers).status_code == 401  # ...broken


def test_expire_tokens_on_demand(scim: Flavors) -> None:
    assert scim.cloud.get("/Users").status_code == 200
    assert httpx.post(scim.sb.url + "/_sandbox/expire-tokens").json()["expired"] >= 1
    assert scim.cloud.get("/Users").status_code == 401


def test_server_timing_is_reported() -> None:
    with running(SMALL, latency_ms=20) as sb:
        r = httpx.get(sb.onprem_url + "/Users",
                      headers={"Authorization": "Bearer practice-onprem-token"})
        name, _, duration = r.headers["server-timing"].partition(";dur=")
        assert name == "app" and float(duration) >= 0


@pytest.mark.parametrize(("spec", "message"), [
    ("429", "not understood"), ("teapot=0.1", "not understood"), ("429=lots", "not a number"),
    ("503=1.5", "between 0 and 1"), ("429=0.6,503=0.6", "more than 1"),
    ("token_expiry=-1", "negative"),
])
def test_bad_fault_specs(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultSpec.parse(spec)


def test_fault_spec_round_trip() -> None:
    spec = FaultSpec.parse("429=0.1, 503=0.05,drop=0.02,token_expiry=20,seed=7")
    assert (spec.rate_429, spec.rate_503, spec.drop, spec.token_expiry, spec.seed) == (
        0.1, 0.05, 0.02, 20.0, 7)
    assert FaultSpec.parse(None) == FaultSpec() and not FaultSpec().active
