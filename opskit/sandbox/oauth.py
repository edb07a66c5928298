"""The Platform's OAuth2 client-credentials token endpoint, as the cloud connector uses it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from typing import Any

import orjson

from .tenantfile import TenantFile

TOKEN_PATH = "/identity/api/oauth2/token/xpmplatform"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    """Issues JWT-shaped bearer tokens and remembers them until they expire."""

    def __init__(self, tf: TenantFile, forced_expiry: float | None = None):
        self.tf = tf
        self.forced_expiry = forced_expiry
        self._key = secrets.token_bytes(32)
        self._tokens: dict[str, float] = {}  # token → monotonic deadline
        self._lock = threading.Lock()
        self.issued = 0

    def issue(self, form: dict[str, str], issuer: str) -> tuple[int, dict[str, Any]]:
        """Answer a token request: (status, JSON body), errors as RFC 6749 §5.2 describes."""
        sa = self.tf.service_account
        grant = form.get("grant_type")
        if not grant or "client_id" not in form or "client_secret" not in form:
            missing = [k for k in ("grant_type", "client_id", "client_secret") if not form.get(k)]
            return 400, _error("invalid_request", f"missing form field(s): {', '.join(missing)}")
        if grant != "client_credentials":
            return 400, _error("unsupported_grant_type",
                               f"grant_type {grant!r} is not supported; use client_credentials")
        # Like the Platform, one opaque answer for an unknown client and a wrong secret.
        if not (_same(form["client_id"].lower(), sa.client_id.lower())
                and _same(form["client_secret"], sa.client_secret)):
            return 401, _error("invalid_client", "Login failed")
        if not sa.has_platform_user_role:
            # The Platform User role "enables SCIM operations and token generation" (Delinea's
            # connector configuration page); the answer without it is not documented, so RFC
            # 6749 §5.2's code for an authenticated client that may not use the grant.
            return 400, _error("unauthorized_client", "The authenticated client is not "
                               "authorized to use this authorization grant type.")
        scope = form.get("scope", "")
        if scope not in self.tf.cloud.accepted_scopes:
            return 400, _error("invalid_scope", f"scope {scope!r} is not valid for this client"
                               if scope else "scope is required (xpm.platform)")
        now = time.time()
        ttl = self.tf.cloud.expires_in
        claims = {"iss": issuer, "sub": sa.client_id, "aud": "xpmplatform",
                  "tenant": self.tf.tenant, "scope": scope, "iat": int(now),
                  "exp": int(now + ttl), "jti": secrets.token_hex(8)}
        token = self._sign(claims)
        lifetime = ttl if self.forced_expiry is None else min(ttl, self.forced_expiry)
        with self._lock:
            self._tokens[token] = time.monotonic() + lifetime
            self.issued += 1
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": ttl,
                     "scope": scope}

    def _sign(self, claims: dict[str, Any]) -> str:
        head = _b64(orjson.dumps({"alg": "HS256", "typ": "JWT"}))
        body = _b64(orjson.dumps(claims))
        sig = hmac.new(self._key, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{_b64(sig)}"

    def valid(self, token: str) -> bool:
        with self._lock:
            deadline = self._tokens.get(token)
            if deadline is None:
                return False
            if time.monotonic() >= deadline:
                del self._tokens[token]
                return False
            return True

    def expire_all(self) -> int:
        """Make every issued token invalid at once (a rehearsal of revocation)."""
        with self._lock:
            n = len(self._tokens)
            self._tokens.clear()
            return n


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _error(code: str, description: str) -> dict[str, Any]:
    return {"error": code, "error_description": description}
