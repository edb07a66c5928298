"""Turning HTTP answers into SCIM data or typed errors, leniently where real servers differ."""

from __future__ import annotations

import re
from typing import Any

import httpx
import orjson

from .. import http
from .._redact import redact
from ..errors import (
    ConnectorDisabled,
    NotScimResponse,
    ScimAccessDenied,
    ScimBadRequest,
    ScimConflict,
    ScimError,
    ScimInvalidFilter,
    ScimNotFound,
    ScimNotOwner,
    ScimProtocolError,
    ScimRateLimited,
    ScimServerError,
    ScimTooMany,
    ScimUnauthorized,
    SecretServerUnreachable,
)
from . import urns

_JSON_TYPES = ("application/scim+json", "application/json")
_UNREADABLE = object()  # a body that is not JSON at all


_OWNER_GATED = frozenset(e.lower() for e in urns.OWNER_GATED_ENDPOINTS)


def _owner_gated(url: httpx.URL) -> bool:
    """Whether a request named one folder, folder permission, secret or secret permission by id
    (the on-prem connector writes its paths in lower case). A listing or a `.search` has no
    object to own: a 403 there is the service user's role, not the Owner rule."""
    segments = [seg.lower() for seg in url.path.rstrip("/").split("/")]
    if len(segments) < 2 or segments[-1] == ".search":
        return False
    return segments[-2] in _OWNER_GATED


def _error_class(status: int, scim_type: str | None, url: httpx.URL) -> type[ScimError]:
    if status == 403 and _owner_gated(url):
        return ScimNotOwner
    if scim_type == "invalidFilter":
        return ScimInvalidFilter
    if scim_type == "tooMany" or status == 413:
        return ScimTooMany
    if scim_type == "uniqueness" or status == 409:
        return ScimConflict
    return {400: ScimBadRequest, 401: ScimUnauthorized, 403: ScimAccessDenied,
            404: ScimNotFound, 429: ScimRateLimited}.get(
        status, ScimServerError if status >= 500 else ScimError)


# Two states a connector words in its error's detail (Delinea's cloud troubleshooting page: a 503
# "Secret Server unreachable"; the on-prem configuration settings: "SCIM Connector has been
# disabled…"). Matched conservatively: the documented words, and for the first the status too.
_SECRET_SERVER_DOWN = re.compile(r"\bsecret\s*server\b.{0,40}?\b(unreachable|unavailable|"
                                 r"not reachable|cannot be reached)", re.IGNORECASE)
_CONNECTOR_DISABLED = re.compile(r"\bSCIM\s+Connector\s+(has\s+been|is)\s+disabled",
                                 re.IGNORECASE)


def _connector_state(status: int, detail: str | None) -> type[ScimError] | None:
    """The error class for a connector state the answer names, or None."""
    if not detail:
        return None
    if _CONNECTOR_DISABLED.search(detail):
        return ConnectorDisabled
    if status == 503 and _SECRET_SERVER_DOWN.search(detail):
        return SecretServerUnreachable
    return None


def _detail_of(body: Any) -> str | None:
    """An error body's own words (SCIM's detail, else a plain or OAuth message), redacted."""
    if not isinstance(body, dict):
        return None
    raw = body.get("detail") or body.get("message") or body.get("error_description")
    return redact(str(raw)) if raw else None


def names_disabled_connector(response: httpx.Response) -> bool:
    """Whether an error answer says the on-prem connector has disabled itself: only an
    administrator clears that, so trying again cannot help."""
    return response.status_code >= 400 and _connector_state(
        response.status_code, _detail_of(http.json_body(response))) is ConnectorDisabled


def _describe(response: httpx.Response) -> str:
    return f"{response.request.method} {redact(str(response.request.url))}"


def is_json(response: httpx.Response) -> bool:
    """Whether the answer says it is JSON (SCIM's own type, plain JSON, or any +json)."""
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return ctype in _JSON_TYPES or ctype.endswith("+json")


def scim_json(response: httpx.Response) -> Any:
    """The JSON body of a successful answer; a typed error for anything else."""
    if response.status_code >= 400:
        raise error_from(response)
    if response.status_code == 204 or not response.content:
        # DELETE answers 204; so may a PATCH that returns no resource (RFC 7644 §3.5.2).
        if response.request.method == "DELETE" or (response.status_code == 204 and
                                                   response.request.method == "PATCH"):
            return None
        raise NotScimResponse(f"{_describe(response)} answered {response.status_code} with an "
                              "empty body where a SCIM resource was expected",
                              status=response.status_code, method=response.request.method,
                              url=str(response.request.url))
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        # orjson: a fifth of the stdlib's time on the large pages an inventory reads; it refuses
        # invalid UTF-8 and nesting past 1,024 levels instead of recursing.
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        if is_json(response):
            raise ScimProtocolError(
                f"{_describe(response)} answered {response.status_code} with JSON that cannot "
                f"be read ({str(exc).split(':')[0]})", status=response.status_code,
                method=response.request.method, url=str(response.request.url)) from None
        body = _UNREADABLE
    if body is _UNREADABLE or (ctype and not is_json(response)):
        what = "an HTML page" if "html" in ctype or response.text.lstrip()[:1] == "<" \
            else f"content of type {ctype or 'unknown'}"
        raise NotScimResponse(f"{_describe(response)} answered {response.status_code} with "
                              f"{what}, not SCIM JSON", status=response.status_code,
                              method=response.request.method, url=str(response.request.url))
    if body is None:
        raise ScimProtocolError(f"{_describe(response)} answered {response.status_code} with "
                                "JSON null where a SCIM resource was expected",
                                status=response.status_code, method=response.request.method,
                                url=str(response.request.url))
    return body


def error_from(response: httpx.Response) -> ScimError:
    """A typed error from a 4xx/5xx answer: SCIM error body when there is one."""
    status = response.status_code
    body = http.json_body(response)
    scim_type = (body.get("scimType") or None) if isinstance(body, dict) else None
    detail = _detail_of(body)
    cls = _connector_state(status, detail) or _error_class(status, scim_type,
                                                            response.request.url)
    if body is None and response.content:
        ctype = response.headers.get("content-type", "unknown")
        # A 404 page that is not a SCIM error is a wrong base URL far more often than a missing
        # resource: calling it "not found" would turn a wrong URL into an empty listing.
        cls = NotScimResponse if status not in (401, 403, 429) and status < 500 else cls
        detail = f"non-SCIM {ctype.split(';')[0]} body"
    message = f"{_describe(response)} failed: HTTP {status}"
    if scim_type:
        message += f" {scim_type}"
    if detail:
        message += f": {detail}"
    return cls(message, status=status, scim_type=scim_type, detail=detail,
               method=response.request.method, url=str(response.request.url))


def list_page(body: Any, response: httpx.Response | None = None
              ) -> tuple[int | None, list[dict[str, Any]]]:
    """(totalResults, resources) of a list answer. Lenient: no `Resources` on an empty page,
    ids as numbers, `itemsPerPage` echoing the requested count (ignored). The response, when
    given, names the request in error messages."""
    where = _describe(response) if response is not None else "a list answer"
    if not isinstance(body, dict):
        raise NotScimResponse(f"{where}: a list answer must be a JSON object")
    resources = body.get("Resources", body.get("resources")) or []
    if not isinstance(resources, list):
        raise NotScimResponse(f"{where}: 'Resources' is not a list")
    for r in resources:
        if isinstance(r, dict) and r.get("id") is not None and not isinstance(r["id"], str):
            r["id"] = str(r["id"])
    total = body.get("totalResults")
    try:
        total = int(total) if total is not None else None
    except (TypeError, ValueError):
        total = None
    return total, [r for r in resources if isinstance(r, dict)]
