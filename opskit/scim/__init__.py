"""SCIM on the wire: an async paging client, safe filters, typed errors, resource URNs."""

from . import filters, urns
from ._sync import run_sync
from .client import AdaptiveLimiter, ScimClient, ScimList

__all__ = ["AdaptiveLimiter", "ScimClient", "ScimList", "filters", "run_sync", "urns"]
