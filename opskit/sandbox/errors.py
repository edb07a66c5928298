"""SCIM errors as the practice tenant answers them (RFC 7644 §3.12)."""

from __future__ import annotations

from typing import Any

from .schemas import ERROR


class ScimError(Exception):
    """An error the server answers with a SCIM error body."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        # Delinea, like the RFC's examples, sends status as a string.
        out: dict[str, Any] = {"schemas": [ERROR], "status": str(self.status),
                               "detail": self.detail}
        if self.scim_type:
            out["scimType"] = self.scim_type
        return out


def not_found(kind: str, rid: str) -> ScimError:
    return ScimError(404, f"Resource '{rid}' not found.", None)


def access_denied(detail: str = "Access Denied") -> ScimError:
    return ScimError(403, detail)


def invalid_value(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidValue")


def uniqueness(attr: str) -> ScimError:
    return ScimError(409, f"Attribute '{attr}' MUST be unique.", "uniqueness")
