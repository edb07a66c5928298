"""SCIM on the wire: an async paging client, safe filters, typed errors, resource URNs."""

from . import filters, urns
from .client import AdaptiveLimiter, ScimClient, ScimList

__all__ = ["AdaptiveLimiter", "ScimClient", "ScimList", "filters", "urns"]
