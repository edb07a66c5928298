"""The IGA settings check's codes (opskit.checks.iga), raised within the token check and the
onboarding runbook when the IGA's settings are given."""

from __future__ import annotations

from ._registry import IGA_SETTINGS, declare

declare("IGA_BASE_URL_MISMATCH", "critical", "IGA Base URL is not the tenant's SCIM base",
        "Set the source's Base URL to the tenant's SCIM base.", raised_by=[IGA_SETTINGS])
declare("IGA_TOKEN_URL_MISMATCH", "critical", "IGA token URL is not the tenant's",
        "Set the OAuth 2.0 Token URL to the tenant's token endpoint, "
        "…/identity/api/oauth2/token/xpmplatform.", raised_by=[IGA_SETTINGS])
declare("IGA_AUTH_WRONG", "critical", "IGA authentication type wrong",
        "Set Authentication Type to OAuth 2.0 and Grant Type to Client Credentials (on-prem: "
        "API Token).", raised_by=[IGA_SETTINGS])
declare("IGA_SCOPE_MISSING", "critical", "IGA scope parameter missing or wrong",
        "Add the OAuth request parameter with key 'scope' and value 'xpm.platform'.",
        raised_by=[IGA_SETTINGS])
declare("IGA_FILTER_UNSUPPORTED", "high", "IGA filter uses operators the cloud refuses",
        "The SCIM Cloud Connector evaluates only 'eq' and 'co': rewrite the filter with those, "
        "or filter in the IGA instead.", raised_by=[IGA_SETTINGS])
declare("IGA_FILTER_INVALID", "high", "IGA filter is not valid SCIM",
        "Fix the filter's syntax: attribute operator value, e.g. userName co \"@acme.com\".",
        raised_by=[IGA_SETTINGS])
