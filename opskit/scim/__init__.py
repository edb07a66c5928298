"""SCIM on the wire: one client with an async face (concurrent paging) and a blocking face,
the retry policy a parameter of both; safe filters, typed errors, resource URNs."""

from . import filters, urns
from ._sync import SyncScimClient, run_sync
from .client import AdaptiveLimiter, ScimClient, ScimList

__all__ = ["AdaptiveLimiter", "ScimClient", "ScimList", "SyncScimClient", "filters", "run_sync",
           "urns"]
