"""One error tree for everything a user can meet, each error with a plain-language remedy.

``str(error)`` is the whole message a user sees: what is wrong, then what to do. No error ever
carries a secret: messages are built from names and statuses, never from credentials or tokens.
"""

from __future__ import annotations

from typing import Any


class OpskitError(Exception):
    """Base of every error opskit raises on purpose."""

    remediation: str = ""
    partial: Any = None  # what could be read before the failure, marked incomplete

    def __init__(self, message: str, remediation: str | None = None):
        super().__init__(message)
        self.message = message
        if remediation is not None:
            self.remediation = remediation

    def __str__(self) -> str:
        return f"{self.message}\n  → {self.remediation}" if self.remediation else self.message


class ConfigError(OpskitError):
    """A profile, a URL or a secret reference that cannot be used as written."""


class SecretError(ConfigError):
    """A secret reference that does not resolve (missing variable, keyring entry, file)."""


class TransportError(OpskitError):
    """The tenant could not be reached, or kept failing, after the retries allowed."""

    def __init__(self, message: str, remediation: str | None = None, *, detail: str = "",
                 nothing_sent: bool = False):
        super().__init__(message, remediation)
        self.detail = detail  # what failed, in a few words, without the request's name
        # No connection was made, so the request cannot have changed anything on the server.
        self.nothing_sent = nothing_sent


class AuthError(OpskitError):
    """No token could be obtained; ``diagnosis`` says why (see opskit.auth.TokenDiagnosis)."""

    def __init__(self, message: str, remediation: str | None = None, diagnosis: Any = None):
        super().__init__(message, remediation)
        self.diagnosis = diagnosis


class ScimError(OpskitError):
    """A SCIM request the server refused, with the SCIM error's status, scimType and detail."""

    remediation = "Check the request against the server's ServiceProviderConfig and Schemas."

    def __init__(self, message: str, *, status: int | None = None, scim_type: str | None = None,
                 detail: str | None = None, method: str = "", url: str = "",
                 remediation: str | None = None):
        super().__init__(message, remediation)
        self.status = status
        self.scim_type = scim_type
        self.detail = detail
        self.method = method
        self.url = url


class ScimBadRequest(ScimError):
    remediation = "The server refused the request as malformed; see the detail."


class ScimInvalidFilter(ScimBadRequest):
    remediation = ("The server refused the filter. The SCIM Cloud Connector accepts only 'eq' "
                   "and 'co'; opskit evaluates other operators itself when told the flavor.")


class ScimUnauthorized(ScimError):
    remediation = ("The token was refused: it expired, was revoked, or is for another tenant. "
                   "Run `opskit token-check` for this profile.")


class ScimAccessDenied(ScimError):
    remediation = ("A token was accepted but SCIM refused the call. On the cloud connector the "
                   "service user's custom role is the likely cause: it needs 'Bypass Direct API "
                   "Authentication Restriction' and 'Manage Identity Settings' first, and Owner "
                   "on folders and secrets it changes.")


class ScimNotOwner(ScimAccessDenied):
    """A 403 for a folder, folder permission, secret or secret permission: on the cloud
    connector, the Owner rule rather than the role."""

    remediation = ("On the SCIM Cloud Connector a 403 for a folder, folder permission or secret "
                   "means it exists but the service account is not Owner of it (one that does "
                   "not exist answers 404). Grant the service account Owner on it in Secret "
                   "Server, directly or through a group, with Owner as the first right. If "
                   "Users and Groups are refused too, the custom SCIM role is the cause: run "
                   "`opskit token-check`. On-prem, look in the connector's log for "
                   "'Application account is missing a required permission'.")


class ScimNotFound(ScimError):
    remediation = ("The resource or endpoint does not exist for this connector: check the id "
                   "and the base URL. The on-prem connector leaves disabled users out, the cloud "
                   "connector groups that are not on the Platform; a folder or secret the cloud "
                   "service account does not own answers 403, not 404.")


class ScimConflict(ScimError):
    remediation = "A resource with the same unique attribute exists already."


class ScimTooMany(ScimError):
    remediation = "Narrow the filter or page with a smaller count."


class ScimRateLimited(ScimError):
    remediation = "The server kept throttling past the retry budget; run again later."


class ScimServerError(ScimError):
    remediation = "The server failed; retry later, and check the connector's logs if it lasts."


# Where each connector keeps its logs (Delinea's on-prem connector documentation; the FAQ: the
# cloud connector logs to Datadog, run by Delinea): the remedies that need a log say so.
ONPREM_CONNECTOR_LOG = (r"the connector's log, C:\inetpub\wwwroot\SCIMConnector\Log on its "
                        "host (hourly files named YYYYMMDDHH.log)")
CLOUD_CONNECTOR_LOG = ("ask Delinea support, with the time of the failure and the tenant name: "
                       "the cloud connector's logs are Delinea's (Datadog)")


class SecretServerUnreachable(ScimServerError):
    """The connector answers, but the Secret Server behind it does not (503, "Secret Server
    unreachable", Delinea's cloud troubleshooting page)."""

    remediation = ("The connector answered, but the Secret Server behind it is out of reach: "
                   "nothing that lives in Secret Server (folders, their permissions, secrets) "
                   "can be read or changed until it is back. Cloud: check Secret Server's "
                   "status on the Platform and on Delinea's status page "
                   "(https://status.delinea.com) and run again later; if it lasts, "
                   f"{CLOUD_CONNECTOR_LOG}. On-prem: check that the Secret "
                   "Server the connector points at is up and reachable from the connector's "
                   f"host; {ONPREM_CONNECTOR_LOG} names the failure.")


class ConnectorDisabled(ScimServerError):
    """The On-Prem SCIM Connector has disabled itself ("SCIM Connector has been disabled…"),
    after its Error Threshold of errors in a row, or was disabled by an admin."""

    remediation = ("The On-Prem SCIM Connector is disabled: it disables itself after its Error "
                   "Threshold of errors in a row (SCIM_Threshold, default 20), and then refuses "
                   f"every call until an admin re-enables it. Find the errors that tripped it in "
                   f"{ONPREM_CONNECTOR_LOG}, and fix their cause; then re-enable the connector "
                   "in its UI or configuration (SCIM_Connector_Disabled = false). Leave the "
                   "threshold as it is unless such errors are expected, then raise it.")


class NotScimResponse(ScimError):
    remediation = ("The URL answered, but not as a SCIM service: check the base URL (cloud: "
                   "https://<tenant>.delinea.app/scim/v2; on-prem: …/SCIMConnector/v2) and any "
                   "proxy or login page in front of it.")


class ProtocolError(OpskitError):
    """An answer that cannot be read as sent (a compressed body that does not decompress),
    from any server opskit talks to: a SCIM service, a token endpoint, an export's URL."""

    remediation = ("The server's answer breaks the protocol, so opskit stopped rather than "
                   "guess. Check the server's logs, and report it to whoever runs it with this "
                   "message.")


class ScimProtocolError(ScimError, ProtocolError):
    """Answers that break SCIM's rules where opskit cannot guess what was meant: a count that
    cannot be, pages that do not add up, JSON that is not valid JSON or UTF-8."""

    remediation = ("The server's answers break the SCIM protocol, so opskit stopped rather than "
                   "guess or read forever. Check the connector's logs, and report it to whoever "
                   "runs the connector with this message.")


class LimitExceeded(OpskitError):
    """Past one of opskit's documented limits: a server's answer (too slow, too large, too many
    resources: the profile's limits) or local input (groups nested too deep). The message names
    the limit; the remediation says how to raise it."""

    def __init__(self, message: str, limit: str, remediation: str | None = None):
        super().__init__(message, remediation or (
            f"If the tenant really needs more, raise limits.{limit} in the profile "
            "([profiles.NAME.limits], docs/profiles.md#limits); otherwise the server "
            "misbehaves: check the connector's logs."))
        self.limit = limit


class IncompleteError(OpskitError):
    """A listing or inventory that could not be read whole; never a quietly short result."""

    def __init__(self, message: str, remediation: str | None = None, *,
                 resource: str = "", page: int | None = None):
        super().__init__(message, remediation)
        self.resource = resource
        self.page = page


class RunError(OpskitError):
    """A notebook run refused before it starts: unknown notebook, profile or threshold."""


class ParameterError(RunError):
    """A notebook parameter that the notebook does not declare, or of the wrong type."""


class SecretParameterError(ParameterError):
    """A parameter whose name or value looks like a secret: secrets never travel as parameters
    (papermill writes parameters into the executed notebook in clear text)."""

    remediation = ("Name the secret in the profile by reference (env:NAME, keyring:SERVICE/NAME "
                   "or file:PATH) and let the notebook resolve it; see docs/profiles.md.")
