"""The token check's codes (opskit.checks.token); the onboarding checks raise some of them too.

The token-endpoint remedies are also what ``opskit.auth`` gives with a refused token."""

from __future__ import annotations

from ..errors import ONPREM_CONNECTOR_LOG, ConnectorDisabled, SecretServerUnreachable
from ._registry import ONBOARDING, TOKEN_CHECK, declare

CUSTOM_ROLE_PERMISSIONS = (
    "Bypass Direct API Authentication Restriction", "Manage Identity Settings",
    "Administer Secret Server Folders", "Administer Secret Server Reports",
    "Create Root Folders in Secret Server", "Own Secret", "Personal Folder in Secret Server",
    "View Secrets")

declare("TOKEN_OK", "info", "Token issued and accepted by SCIM", "", raised_by=[TOKEN_CHECK])
declare("STATIC_TOKEN_OK", "info", "Static token accepted by SCIM", "", raised_by=[TOKEN_CHECK])
declare(
    "TENANT_UNREACHABLE", "critical", "Tenant unreachable",
    "Check the tenant URL (https://<tenant>.delinea.app), DNS, the proxy and firewall, and that "
    "the TLS certificate is trusted on this machine.",
    raised_by=[TOKEN_CHECK, ONBOARDING],
    variants={"onprem": "Check the connector's host and port (IIS site, 443/8443), DNS, the "
                        "firewall, and that its TLS certificate is trusted here (set verify to a "
                        "CA bundle in the profile for a self-signed one)."})
declare(
    "TOKEN_ENDPOINT_NOT_FOUND", "critical", "No token endpoint at the token URL",
    "The host answers but has no token endpoint at /identity/api/oauth2/token/xpmplatform: "
    "check the tenant name and that this is the Delinea Platform, not Secret Server.",
    raised_by=[TOKEN_CHECK])
declare(
    "TOKEN_INVALID_CLIENT", "critical", "Service user's credentials refused",
    "The service user's name or password was refused: check client_id (the service user, e.g. "
    "scim.integration@acme.com) and the secret, that the user is a service user with OAuth2 "
    "client credentials, and that it is enabled. If the client id and secret are right, check "
    "that the service user holds the Platform User role (it enables token generation) and the "
    "custom SCIM role with 'Bypass Direct API Authentication Restriction': the Platform may "
    "refuse a token without them in the same words.",
    raised_by=[TOKEN_CHECK])
declare(
    "TOKEN_INVALID_SCOPE", "critical", "Scope refused",
    "The scope was refused: request scope xpm.platform (the SailPoint source sends it as the "
    "OAuth request parameter 'scope').",
    raised_by=[TOKEN_CHECK])
declare(
    "TOKEN_UNSUPPORTED_GRANT", "critical", "Client-credentials grant refused",
    "The endpoint refused the client-credentials grant: enable OAuth2 client credentials for "
    "the service user.",
    raised_by=[TOKEN_CHECK])
declare(
    "TOKEN_NOT_JSON", "critical", "Token URL answered without a token",
    "The token URL answered with something other than a token (often an HTML login page from a "
    "proxy or SSO): check the URL and any proxy in between.",
    raised_by=[TOKEN_CHECK])
declare(
    "TOKEN_UNEXPECTED_RESPONSE", "critical", "Unexpected token endpoint answer",
    "The token endpoint answered in an unexpected way; see the detail.",
    raised_by=[TOKEN_CHECK])
declare(
    "TOKEN_SCOPE_NOT_GRANTED", "high", "Scope asked for not granted",
    "Ask for scope xpm.platform, and check the service user's OAuth2 client settings: the "
    "token must be granted exactly the scope the IGA requests.",
    raised_by=[TOKEN_CHECK])
declare(
    "TOKEN_SCOPE_NOT_STATED", "low", "Granted scope not stated",
    "Nothing to fix if SCIM calls work: RFC 6749 lets a server omit the scope when it equals "
    "the request. The check cannot show the scope from the answer, though.",
    raised_by=[TOKEN_CHECK])
declare(
    "TOKEN_SCOPE_NOT_XPM_PLATFORM", "medium", "Profile's scope is not xpm.platform",
    "Set scope = \"xpm.platform\" in the profile, as the IGA's source sends it (SailPoint: "
    "OAuth request parameter 'scope'), so the check proves the scope the IGA will use.",
    raised_by=[TOKEN_CHECK])
declare(
    "SCIM_ACCESS_DENIED", "critical", "SCIM refuses a valid token (403)",
    "Give the service user the custom SCIM role (Access > Roles > Add Role > Add New Custom "
    "Role, then the user's Role tab > Assign Roles) and keep its Platform User role. The role "
    "needs, first, 'Bypass Direct API Authentication Restriction' and 'Manage Identity "
    "Settings' (without either, SCIM operations fail), then "
    + ", ".join(f"'{p}'" for p in CUSTOM_ROLE_PERMISSIONS[2:-1])
    + f" and '{CUSTOM_ROLE_PERMISSIONS[-1]}'.",
    raised_by=[TOKEN_CHECK],
    variants={"onprem": f"The connector refused this endpoint's call: check "
                        f"{ONPREM_CONNECTOR_LOG}, for 'Application account is missing a "
                        "required permission' and give the Secret Server application account "
                        "the roles the connector needs (View Users, Administer Users, Administer "
                        "Groups, Administer Folders, Administer Reports, Own Secret, View Secret, "
                        "…; see the connector's documentation)."})
declare(
    "SCIM_TOKEN_REJECTED", "critical", "SCIM rejects a fresh token (401)",
    "A fresh token was refused by the SCIM service: check that the token URL and the SCIM base "
    "belong to the same tenant, that the scope is xpm.platform, and that this machine's clock "
    "is right; if it lasts, ask Delinea support whether SCIM is enabled for the tenant.",
    raised_by=[TOKEN_CHECK])
declare(
    "STATIC_TOKEN_REJECTED", "critical", "Endpoint's static token rejected (401)",
    "The endpoint's bearer token was refused: in the connector's UI open Settings > SCIM "
    "Connector Endpoints, Generate Token for the endpoint (this invalidates the old one), store "
    "it where the profile's token reference points and in the IGA. Tokens also lapse after "
    "'Non-Expiry Token' days (default 730) and were invalidated by the upgrade to 2.5.",
    raised_by=[TOKEN_CHECK])
declare(
    "SCIM_BASE_URL_WRONG", "critical", "SCIM base URL is not a SCIM service",
    "The URL answered, but not as a SCIM service. Cloud: the SCIM base is "
    "https://<tenant>.delinea.app/scim/v2 (ask Delinea whether the SCIM Cloud Connector is "
    "enabled for the tenant). On-prem: https://<host>/SCIMConnector/v2. Check any proxy or "
    "login page in front.",
    raised_by=[TOKEN_CHECK])
declare(
    "SCIM_CALL_FAILED", "high", "SCIM read failed",
    "The SCIM service failed or throttled past the retries; run the check again later, and "
    "check the connector's status and logs if it lasts.",
    raised_by=[TOKEN_CHECK])
declare(
    "TOKEN_CLIENT_NOT_AUTHORIZED", "critical", "Service user may not get a token",
    "The credentials were accepted, but the service user may not get a token. The likely cause "
    "is a missing Platform User role, which enables SCIM operations and token generation: give "
    "it the role (Access > Users > the service user > Role tab > Assign Roles), and check that "
    "its custom SCIM role has 'Bypass Direct API Authentication Restriction'. If it holds the "
    "role, check that it may use OAuth2 client credentials (the same answer means a client not "
    "allowed this grant).",
    raised_by=[TOKEN_CHECK])
# A connector that answers but serves nothing: the token check, or any onboarding step after
# it, says so by these codes; the remedy is the one the SCIM error itself carries.
declare("SECRET_SERVER_UNREACHABLE", "high", "Secret Server behind the connector unreachable",
        SecretServerUnreachable.remediation, raised_by=[TOKEN_CHECK, ONBOARDING])
declare("ONPREM_CONNECTOR_DISABLED", "critical", "On-prem connector disabled",
        ConnectorDisabled.remediation, raised_by=[TOKEN_CHECK, ONBOARDING])
