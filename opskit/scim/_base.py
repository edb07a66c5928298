"""What the SCIM client's two faces share, as httpx shares it between Client and AsyncClient.

A request is built once (`Call`: its method, path, query and body; the URL, headers and body
rules here), sent by a face, and its answer decoded by `responses` (SCIM data or a typed
error). A failure to reach the server becomes the same `TransportError` on both faces, and both
treat a connector that says it is disabled as final (never retried).

The async face (`ScimClient`) pages concurrently and paces itself; the blocking face
(`SyncScimClient`) sends one request at a time, for checks that want one answer each. Which
answers are retried, how often and for how long, is the retry policy each is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from .. import http
from .._redact import redact
from ..auth import auth_for, unreachable_detail
from ..config import Endpoint
from ..errors import ConfigError, TransportError
from . import urns
from .responses import names_disabled_connector


@dataclass(frozen=True)
class Call:
    """One SCIM request before it is sent: the path is under the client's base URL. The
    constructors below say how each operation is asked, for both faces."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None

    @classmethod
    def get(cls, endpoint: str, rid: str, attributes: list[str] | None = None) -> Call:
        params = {"attributes": ",".join(attributes)} if attributes else None
        return cls("GET", f"{endpoint}/{rid}", params)

    @classmethod
    def create(cls, endpoint: str, body: dict[str, Any]) -> Call:
        return cls("POST", endpoint, json=_without_meta(body))

    @classmethod
    def replace(cls, endpoint: str, rid: str, body: dict[str, Any]) -> Call:
        return cls("PUT", f"{endpoint}/{rid}", json=_without_meta(body))

    @classmethod
    def patch(cls, endpoint: str, rid: str, operations: list[dict[str, Any]]) -> Call:
        return cls("PATCH", f"{endpoint}/{rid}",
                   json={"schemas": [urns.PATCH_OP], "Operations": operations})

    @classmethod
    def delete(cls, endpoint: str, rid: str) -> Call:
        return cls("DELETE", f"{endpoint}/{rid}")


def _without_meta(body: dict[str, Any]) -> dict[str, Any]:
    # Servers generate meta themselves (the FAQ says client meta is ignored): never send it.
    return {k: v for k, v in body.items() if k.lower() != "meta"}


def require_base_url(profile: Endpoint) -> None:
    if not profile.base_url:
        raise ConfigError(f"profile {profile.name!r} has no SCIM base URL yet",
                          "open it with `with opskit.config.connect(profile) as p:` (the "
                          "practice tenant runs for that block) and use p")


def client_options(profile: Endpoint, policy: http.RetryPolicy | None,
                   auth: httpx.Auth | None) -> dict[str, Any]:
    """What http.client and http.async_client take for a profile: its auth flow (or the one
    given), its trust, its limits, and the retry policy (None: as the profile's limits say)."""
    return {"auth": auth if auth is not None else auth_for(profile), "verify": profile.verify,
            "policy": policy, "limits": profile.limits,
            "tls": http.needs_tls(profile.base_url, profile.token_url)}


class ScimBase:
    """One base URL and its connector flavor; how a Call becomes an httpx request."""

    def __init__(self, base_url: str, *, flavor: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.flavor = flavor

    def _url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base_url}/{path.lstrip('/')}"

    def _build(self, client: httpx.Client | httpx.AsyncClient, call: Call) -> httpx.Request:
        headers = {"Content-Type": "application/scim+json"} if call.json is not None else None
        return client.build_request(call.method, self._url(call.path), params=call.params,
                                    json=call.json, headers=headers)

    def _unreachable(self, call: Call, exc: httpx.TransportError) -> TransportError:
        detail = unreachable_detail(exc)
        return TransportError(f"{call.method} {redact(self._url(call.path))}: {detail}",
                              "check the URL, the network and that the service is up; "
                              "opskit already retried", detail=detail,
                              nothing_sent=isinstance(exc, httpx.ConnectError
                                                      | httpx.ConnectTimeout))

    @staticmethod
    def _retry_transport(client: httpx.Client | httpx.AsyncClient) -> http.RetryTransport | None:
        """The client's retry transport, told that a connector which says it is disabled has
        answered for good: only an administrator clears that, so trying again cannot help."""
        transport = getattr(client, "_transport", None)
        if not isinstance(transport, http.RetryTransport):
            return None
        if names_disabled_connector not in transport.final_answers:
            transport.final_answers.append(names_disabled_connector)
        return transport
