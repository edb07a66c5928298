"""The practice tenant's ASGI app: cloud at /scim/v2, on-prem at /SCIMConnector/v2."""

from __future__ import annotations

import hmac
import io
import re
from collections.abc import Collection
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import schemas as urn
from .connector_states import (
    SECRET_SERVER_KINDS,
    ErrorThreshold,
    connector_disabled,
    secret_server_unreachable,
)
from .demodata import write_iga_csv
from .errors import ScimError
from .faults import FaultInjector, FaultSpec, ServerTiming
from .oauth import TOKEN_PATH, TokenIssuer
from .store import ENDPOINTS, Flavor, Tenant

PREFIX: dict[Flavor, str] = {"cloud": "/scim/v2", "onprem": "/SCIMConnector/v2"}
SCIM_JSON = "application/scim+json"
BULK_MAX_OPERATIONS = 1000
BULK_MAX_PAYLOAD = 1_048_576
_KIND_BY_SEGMENT = {v.lower(): k for k, v in ENDPOINTS.items()}
_ALL_KINDS = frozenset(ENDPOINTS)
_LIST_PARAMS = ("filter", "startindex", "count", "attributes", "excludedattributes")
_DISCOVERY = {"serviceproviderconfig": "ServiceProviderConfig", "resourcetypes": "ResourceTypes",
              "schemas": "Schemas"}


def _scim(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(raw, status_code=status, media_type=SCIM_JSON, headers=headers)


class Sandbox:
    """Request handling for one tenant; `app` is the ASGI callable to serve."""

    def __init__(self, tenant: Tenant, *, faults: FaultSpec | None = None,
                 latency_ms: float = 0.0):
        self.tenant = tenant
        self.faults = faults or FaultSpec()
        self.issuer = TokenIssuer(tenant.file, forced_expiry=self.faults.token_expiry)
        onprem = tenant.file.onprem
        self.onprem_threshold = ErrorThreshold(onprem.error_threshold, onprem.disabled)
        routes = [
            Route(TOKEN_PATH, self.token, methods=["POST"]),
            Route("/scim/v2{path:path}", self.cloud,
                  methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            Route("/SCIMConnector/v2{path:path}", self.onprem,
                  methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            Route("/_sandbox/health", self.health),
            Route("/_sandbox/sync-groups", self.sync_groups, methods=["POST"]),
            Route("/_sandbox/iga-export.csv", self.iga_export),
            Route("/_sandbox/expire-tokens", self.expire_tokens, methods=["POST"]),
            Route("/_sandbox/enable-connector", self.enable_connector, methods=["POST"]),
            Route("/", self.index),
        ]
        starlette = Starlette(routes=routes)
        # Server-Timing inside the faults: the server's own time, without the added latency.
        self.app = FaultInjector(ServerTiming(starlette), self.faults, latency_ms)

    # ------------------------------------------------------------------ plumbing routes
    async def index(self, request: Request) -> Response:
        origin = str(request.base_url).rstrip("/")
        return JSONResponse({
            "practice_tenant": self.tenant.name,
            "cloud_scim": origin + PREFIX["cloud"],
            "token_url": origin + TOKEN_PATH,
            "onprem_scim": origin + PREFIX["onprem"],
        })

    async def health(self, request: Request) -> Response:
        t = self.tenant
        return JSONResponse({"status": "ok", "tenant": t.name, "revision": t.rev,
                             "tokens_issued": self.issuer.issued,
                             "onprem_connector": "disabled" if self.onprem_threshold.disabled
                             else "enabled",
                             "faults": str(self.faults)})

    async def iga_export(self, request: Request) -> Response:
        """The tenant file's IGA view as the IGA would export it, so reports on the practice
        tenant have an IGA side without a file on disk."""
        if self.tenant.file.iga is None:
            return JSONResponse({"detail": "this practice tenant has no iga section"}, 404)
        out = io.StringIO()
        write_iga_csv(self.tenant.file.model_dump(), out)
        return Response(out.getvalue().encode("utf-8-sig"), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="iga_export.csv"'})

    async def sync_groups(self, request: Request) -> Response:
        return JSONResponse({"synced": self.tenant.sync_groups()})

    async def expire_tokens(self, request: Request) -> Response:
        return JSONResponse({"expired": self.issuer.expire_all()})

    async def enable_connector(self, request: Request) -> Response:
        """What an admin does after the on-prem connector disabled itself."""
        return JSONResponse({"enabled": True, "was_disabled": self.onprem_threshold.enable()})

    async def token(self, request: Request) -> Response:
        ctype = request.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" not in ctype:
            return JSONResponse({"error": "invalid_request", "error_description":
                                 "send the form as application/x-www-form-urlencoded"}, 400)
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        issuer = str(request.base_url).rstrip("/") + "/identity"
        status, body = self.issuer.issue(form, issuer)
        headers = {"Cache-Control": "no-store"}
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="xpmplatform"'
        return JSONResponse(body, status, headers=headers)

    # ------------------------------------------------------------------ SCIM
    async def cloud(self, request: Request) -> Response:
        return await self._scim_request("cloud", request)

    async def onprem(self, request: Request) -> Response:
        if self.onprem_threshold.disabled:  # a disabled connector processes no request at all
            exc = connector_disabled()
            return _scim(exc.body(), exc.status)
        response = await self._scim_request("onprem", request)
        self.onprem_threshold.record(response.status_code)
        return response

    def _authorize(self, flavor: Flavor, request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        challenge = {"WWW-Authenticate": 'Bearer realm="SCIM"'}
        if scheme.lower() != "bearer" or not token:
            raise ScimError(401, "Authorization header with a Bearer token is required.",
                            headers=challenge)
        if flavor == "cloud":
            if not self.issuer.valid(token):
                raise ScimError(401, "The access token is invalid or has expired.",
                                headers=challenge)
            if not self.tenant.file.service_account.has_scim_role:
                raise ScimError(403, "User does not have access.")
        elif not hmac.compare_digest(token.encode(), self.tenant.file.onprem.token.encode()):
            raise ScimError(401, "Operation is not permitted based on the supplied "
                            "authorization.", headers=challenge)

    async def _scim_request(self, flavor: Flavor, request: Request) -> Response:
        base = str(request.base_url).rstrip("/") + PREFIX[flavor]
        try:
            self._authorize(flavor, request)
            return await self._dispatch(flavor, request, base)
        except ScimError as exc:
            return _scim(exc.body(), exc.status, exc.headers)

    async def _dispatch(self, flavor: Flavor, request: Request, base: str) -> Response:
        parts = [p for p in request.path_params["path"].split("/") if p]
        method = request.method
        if not parts:
            raise ScimError(404, "Resource '/' not found.")
        head = parts[0].lower()
        if head in _DISCOVERY and method != "GET":
            # RFC 7644 §4: the discovery endpoints are read-only; the resource exists.
            raise ScimError(405, f"Method {method} is not allowed on /{_DISCOVERY[head]}; "
                            "use GET.", headers={"Allow": "GET"})
        if head == "serviceproviderconfig":
            return _scim(self._spc(flavor, base))
        if head == "resourcetypes":
            return self._discovery(parts, self._resource_types(flavor, base), "ResourceType")
        if head == "schemas":
            return self._discovery(parts, self._schemas(flavor, base), "Schema")
        if head == ".search" and len(parts) == 1 and method == "POST":
            # RFC 7644 §3.4.3 search across every resource type: neither connector offers it.
            raise ScimError(501, "Searching several resource types at once (POST /.search) is "
                            "not supported; search one endpoint, e.g. POST /Users/.search.")
        if head == "bulk":
            if flavor == "cloud":
                raise ScimError(404, "Bulk operations are not supported by the SCIM Cloud "
                                "Connector; send one request per resource.")
            if method != "POST":
                raise ScimError(405, "Use POST for /Bulk.")
            return await self._bulk(request, base)
        if head == "roles" and flavor == "cloud":
            raise ScimError(404, "Resource 'Roles' not found: roles are not implemented by the "
                            "SCIM Cloud Connector yet.")
        kind = _KIND_BY_SEGMENT.get(head)
        if kind is None or len(parts) > 2 or kind not in self._offered(flavor):
            raise ScimError(404, f"Resource '{'/'.join(parts)}' not found.")
        if (flavor == "cloud" and kind in SECRET_SERVER_KINDS
                and not self.tenant.file.cloud.secret_server_reachable):
            raise secret_server_unreachable()
        rid = parts[1] if len(parts) == 2 else None
        if rid == ".search" and method == "POST":
            body = await _json_body(request)
            return self._list(flavor, kind, {k.lower(): v for k, v in body.items()}, base)
        return self._resource(flavor, kind, method, rid, await _maybe_body(request),
                              _query(request), base)

    def _resource(self, flavor: Flavor, kind: str, method: str, rid: str | None,
                  body: Any, params: dict[str, str], base: str) -> Response:
        t = self.tenant
        # The check or write and the answer's rendering under one lock, as _list does: a write
        # or a sync-timer run from another thread between them could otherwise store a rendering
        # made before it in the cache it just cleared, served stale until the next change.
        with t.lock:
            if rid is None:
                if method == "GET":
                    return self._list(flavor, kind, params, base)
                if method == "POST":
                    new_id = t.create(flavor, kind, _object(body))
                    location = f"{base}/{ENDPOINTS[kind]}/{new_id}"
                    return _scim(self._one(flavor, kind, new_id, base, params), 201,
                                 {"Location": location})
                raise ScimError(405, f"Method {method} is not allowed on /{ENDPOINTS[kind]}.")
            if method == "GET":
                t.get(flavor, kind, rid)
                return _scim(self._one(flavor, kind, rid, base, params))
            if method == "PUT":
                t.replace(flavor, kind, rid, _object(body))
                return _scim(self._one(flavor, kind, rid, base, params))
            if method == "PATCH":
                t.patch(flavor, kind, rid, _object(body), base)
                return _scim(self._one(flavor, kind, rid, base, params))
            if method == "DELETE":
                t.delete(flavor, kind, rid)
                return Response(status_code=204)
            raise ScimError(405, f"Method {method} is not allowed on a single resource.")

    def _one(self, flavor: Flavor, kind: str, rid: str, base: str,
             params: dict[str, str]) -> Any:
        return self.tenant.render_bytes(flavor, kind, rid, base,
                                        _Projection.from_params(params))

    def _list(self, flavor: Flavor, kind: str, params: dict[str, Any], base: str) -> Response:
        t = self.tenant
        start = _int_param(params, "startindex", 1)
        count = _int_param(params, "count", t.max_results)
        start = max(start, 1)
        count = min(max(count, 0), t.max_results)
        projection = _Projection.from_params(params)
        with t.lock:
            ids = t.ids(flavor, kind)
            text = params.get("filter")
            if text:
                from .filters import CompiledFilter  # scim2-models: only once a filter is sent

                compiled = CompiledFilter(str(text), kind, flavor)
                candidates = None
                for attr, value in compiled.equality_terms():
                    candidates = t.index_lookup(flavor, kind, attr, value)
                    if candidates is not None:
                        break
                ids = compiled.select(ids if candidates is None else candidates,
                                      lambda i: t.model(flavor, kind, i, base))
                joined = t.render_joined(flavor, kind, ids[start - 1:start - 1 + count], base,
                                         projection)
            else:
                joined = t.render_page(flavor, kind, start, count, base, projection)
            per_page = max(0, min(count, len(ids) - start + 1))
        # The on-prem connector echoes the requested count (seen in its real output).
        if flavor == "onprem" and "count" in params:
            per_page = _int_param(params, "count", per_page)
        head = orjson.dumps({"schemas": [urn.LIST_RESPONSE], "totalResults": len(ids),
                             "startIndex": start, "itemsPerPage": per_page})
        return _scim(head[:-1] + b',"Resources":[' + joined + b"]}")

    # ------------------------------------------------------------------ discovery
    def _spc(self, flavor: Flavor, base: str) -> dict[str, Any]:
        onprem = flavor == "onprem"
        return {
            "schemas": [urn.SPC],
            "documentationUri": "https://docs.delinea.com/online-help/integrations/scim/",
            "patch": {"supported": True},
            "bulk": {"supported": onprem,
                     "maxOperations": BULK_MAX_OPERATIONS if onprem else 0,
                     "maxPayloadSize": BULK_MAX_PAYLOAD if onprem else 0},
            "filter": {"supported": True, "maxResults": self.tenant.max_results},
            "changePassword": {"supported": False},
            "sort": {"supported": False},
            "etag": {"supported": False},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token" if not onprem else "Bearer token",
                "description": "OAuth2 client credentials (xpm.platform)" if not onprem
                else "Static non-expiring token of the SCIM Connector endpoint",
                "primary": True}],
            "meta": {"resourceType": "ServiceProviderConfig",
                     "location": f"{base}/ServiceProviderConfig"},
        }

    def _offered(self, flavor: Flavor) -> Collection[str]:
        """Resource types this flavor serves; a rehearsal can take one away from the cloud."""
        return self.tenant.file.cloud.resource_types if flavor == "cloud" else _ALL_KINDS

    def _resource_types(self, flavor: Flavor, base: str) -> list[dict[str, Any]]:
        return [{"schemas": [urn.RESOURCE_TYPE], "id": name, "name": name,
                 "endpoint": endpoint, "description": name, "schema": schema,
                 "schemaExtensions": [],
                 "meta": {"resourceType": "ResourceType",
                          "location": f"{base}/ResourceTypes/{name}"}}
                for name, endpoint, schema in urn.RESOURCE_TYPES
                if name in self._offered(flavor)]

    def _schemas(self, flavor: Flavor, base: str) -> list[dict[str, Any]]:
        hidden = {schema for name, _e, schema in urn.RESOURCE_TYPES
                  if name not in self._offered(flavor)}
        return [{**doc, "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{sid}"}}
                for sid, doc in urn.schema_documents(flavor).items() if sid not in hidden]

    def _discovery(self, parts: list[str], docs: list[dict[str, Any]], what: str) -> Response:
        if len(parts) == 1:
            return _scim({"schemas": [urn.LIST_RESPONSE], "totalResults": len(docs),
                          "startIndex": 1, "itemsPerPage": len(docs), "Resources": docs})
        wanted = parts[1].lower()
        for doc in docs:
            # Old on-prem docs address schemas by short name as well as by URN.
            if wanted in (doc["id"].lower(), doc["name"].lower()):
                return _scim(doc)
        raise ScimError(404, f"{what} '{parts[1]}' not found.")

    # ------------------------------------------------------------------ bulk (on-prem)
    async def _bulk(self, request: Request, base: str) -> Response:
        length = request.headers.get("content-length")
        raw = await request.body()
        size = int(length) if length and length.isdigit() else len(raw)
        if size > BULK_MAX_PAYLOAD:
            raise ScimError(413, "The size of the bulk operation exceeds the maxPayloadSize "
                            f"({BULK_MAX_PAYLOAD}).")
        body = _object(_parse_json(raw))
        ops = body.get("Operations", body.get("operations"))
        if not isinstance(ops, list):
            raise ScimError(400, "Attribute 'Operations' is required.", "invalidSyntax")
        if len(ops) > BULK_MAX_OPERATIONS:
            raise ScimError(413, "The size of the bulk operation exceeds the maxOperation "
                            f"({BULK_MAX_OPERATIONS}).")
        fail_on = body.get("failOnErrors")
        bulk_ids: dict[str, str] = {}
        results: list[dict[str, Any]] = []
        errors = 0
        for op in ops:
            if fail_on and errors >= int(fail_on):
                break
            outcome = self._bulk_one(_object(op), bulk_ids, base)
            if int(outcome["status"]) >= 400:
                errors += 1
            results.append(outcome)
        return _scim({"schemas": [urn.BULK_RESPONSE], "Operations": results})

    def _bulk_one(self, op: dict[str, Any], bulk_ids: dict[str, str],
                  base: str) -> dict[str, Any]:
        method = str(op.get("method", "")).upper()
        path = str(op.get("path", ""))
        bulk_id = op.get("bulkId")
        out: dict[str, Any] = {"method": method}
        if bulk_id:
            out["bulkId"] = bulk_id
        try:
            raw = orjson.dumps(op.get("data")).decode()
            for ref, real in bulk_ids.items():
                raw = raw.replace(f"bulkId:{ref}", real)
                path = path.replace(f"bulkId:{ref}", real)
            if "bulkId:" in path or "bulkId:" in raw:
                raise ScimError(409, "A bulkId reference could not be resolved.", "invalidValue")
            parts = [p for p in path.split("/") if p]
            kind = _KIND_BY_SEGMENT.get(parts[0].lower()) if parts else None
            if kind is None or len(parts) > 2 or method not in ("POST", "PUT", "PATCH", "DELETE"):
                raise ScimError(400, f"Bulk operation {method} {path} is not valid.",
                                "invalidPath")
            rid = parts[1] if len(parts) == 2 else None
            response = self._resource("onprem", kind, method, rid, orjson.loads(raw), {}, base)
            out["status"] = str(response.status_code)
            if method == "POST":
                created = orjson.loads(response.body)
                if bulk_id:
                    bulk_ids[bulk_id] = created["id"]
                out["location"] = created["meta"]["location"]
            elif rid is not None:
                out["location"] = f"{base}/{ENDPOINTS[kind]}/{rid}"
        except ScimError as exc:
            out["status"] = str(exc.status)
            out["response"] = exc.body()
        return out


class _Projection:
    """`attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5): attributes and sub-attributes
    (`container.value`) to return, or top-level attributes to leave out."""

    def __init__(self, include: dict[str, set[str] | None] | None, exclude: set[str]):
        self.include = include  # attribute → its sub-attributes to keep (None: all of them)
        self.exclude = exclude
        # Rendered projections are cached like whole resources, under this key.
        self.key = (None if include is None else tuple(sorted(
            (a, tuple(sorted(s)) if s is not None else None) for a, s in include.items())),
            tuple(sorted(exclude)))

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> _Projection | None:
        def paths(key: str) -> list[tuple[str, str | None]]:
            raw = params.get(key) or ""
            if isinstance(raw, list):
                raw = ",".join(raw)
            out = []
            for name in str(raw).split(","):
                # A URN prefix ends at the last colon: urn:…:2.0:User:name.givenName
                attr, _, sub = name.strip().rsplit(":", 1)[-1].lower().partition(".")
                if attr:
                    out.append((attr, sub or None))
            return out
        include: dict[str, set[str] | None] = {}
        for attr, sub in paths("attributes"):
            subs = include.setdefault(attr, set())
            if sub is None or subs is None:
                include[attr] = None  # the whole attribute
            else:
                subs.add(sub)
        exclude = {attr for attr, sub in paths("excludedattributes") if sub is None}
        if not include and not exclude:
            return None
        return cls(include or None, exclude)

    def apply(self, resource: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in resource.items():
            k = key.lower()
            if k in ("id", "schemas"):
                out[key] = value
            elif self.include is None:
                if k not in self.exclude:
                    out[key] = value
            elif k in self.include:
                subs = self.include[k]
                out[key] = value if subs is None else _keep(value, subs)
        return out


def _keep(value: Any, subs: set[str]) -> Any:
    if isinstance(value, list):
        return [_keep(v, subs) for v in value]
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k.lower() in subs}
    return value


def _query(request: Request) -> dict[str, str]:
    """Query parameters with lower-case names; old docs show `attributes[0]=id` too."""
    out: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        k = re.sub(r"\[\d+\]$", "", key).lower()
        out[k] = f"{out[k]},{value}" if k in out and k in ("attributes",
                                                           "excludedattributes") else value
    return out


def _int_param(params: dict[str, Any], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ScimError(400, f"The '{name}' parameter was invalid: {raw!r} is not an integer.",
                        "invalidValue") from None


def _parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ScimError(400, "The request body is not valid JSON.", "invalidSyntax") from None


async def _maybe_body(request: Request) -> Any:
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    return _parse_json(await request.body())


async def _json_body(request: Request) -> dict[str, Any]:
    return _object(_parse_json(await request.body()))


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ScimError(400, "The request body must be a JSON object.", "invalidSyntax")
    return body


def create_app(tenant: Tenant, *, faults: FaultSpec | None = None,
               latency_ms: float = 0.0) -> Any:
    """The ASGI app serving one tenant in both flavors."""
    return Sandbox(tenant, faults=faults, latency_ms=latency_ms).app
