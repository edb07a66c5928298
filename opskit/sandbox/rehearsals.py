"""States of the practice tenant that break onboarding, for rehearsing the runbook.

Each rehearsal changes the tenant the way a real tenant goes wrong — a rotated secret, an OAuth
client without the scope, a service account that owns nothing (or folders and no secret), a
role without the SCIM permissions, a connector that lacks a resource type, a service user
without the Platform User role, a Secret Server the Platform cannot reach, an on-prem
connector that disabled itself — and names the connector (flavor) it breaks and the finding the
onboarding runbook must give for it.
Clients keep using the tenant's original credentials, so the break is on the tenant's side, as
it is in life.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # the names alone are light: `opskit --help` lists them without pydantic
    from .tenantfile import TenantFile


@dataclass(frozen=True)
class Rehearsal:
    name: str
    what: str  # what is wrong with the tenant, as an admin would say it
    check: str  # the onboarding check that must fail
    code: str  # the finding code it must give
    change: Callable[[TenantFile], TenantFile]
    flavor: Literal["cloud", "onprem"] = "cloud"  # the connector the break shows on


def _rotated_secret(tf: TenantFile) -> TenantFile:
    sa = tf.service_account.model_copy(
        update={"client_secret": tf.service_account.client_secret + "-rotated"})
    return tf.model_copy(update={"service_account": sa})


def _scope_not_allowed(tf: TenantFile) -> TenantFile:
    return tf.model_copy(update={"cloud": tf.cloud.model_copy(
        update={"accepted_scopes": ["xpmheadless"]})})


def _owns_no_folder(tf: TenantFile) -> TenantFile:
    # Take every grant away from the service account, and it out of every group, so no Owner
    # reaches it by any path.
    sa = tf.service_account.user
    groups = [g.model_copy(update={"members": [m for m in g.members if m != sa]})
              for g in tf.groups]
    permissions = [p for p in tf.permissions if p.user != sa]
    secrets = [s.model_copy(update={"permissions": [p for p in s.permissions if p.user != sa]})
               if s.permissions else s for s in tf.secrets]
    return tf.model_copy(update={"groups": groups, "permissions": permissions,
                                 "secrets": secrets})


def _no_secret_role(tf: TenantFile) -> TenantFile:
    # Secret Server keeps folder roles and secret roles apart: the service account keeps Owner
    # on its folders, but every folder permission that reaches it gives View on the secrets,
    # and no secret's own permissions reach it. It sees folders, and no secret.
    reaching = _principals_reaching(tf, tf.service_account.user)
    permissions = [p.model_copy(update={"secret_role": "View"}) if p.principal in reaching
                   else p for p in tf.permissions]
    secrets = [s.model_copy(update={"permissions": [
        g for g in s.permissions if g.principal not in reaching]}) if s.permissions else s
        for s in tf.secrets]
    return tf.model_copy(update={"permissions": permissions, "secrets": secrets})


def _principals_reaching(tf: TenantFile, user: str) -> set[tuple[str, str]]:
    """What a grant can name to reach the user: the user, and every group it is in, nested
    groups too."""
    out = {("user", user)}
    todo = [user]
    while todo:
        member = todo.pop()
        for g in tf.groups:
            if member in g.members and ("group", g.id) not in out:
                out.add(("group", g.id))
                todo.append(g.id)
    return out


def _no_scim_role(tf: TenantFile) -> TenantFile:
    sa = tf.service_account.model_copy(update={"has_scim_role": False})
    return tf.model_copy(update={"service_account": sa})


def _missing_resource_type(tf: TenantFile) -> TenantFile:
    offered = [t for t in tf.cloud.resource_types if t != "PrivilegedData"]
    return tf.model_copy(update={"cloud": tf.cloud.model_copy(
        update={"resource_types": offered})})


def _no_platform_user_role(tf: TenantFile) -> TenantFile:
    sa = tf.service_account.model_copy(update={"has_platform_user_role": False})
    return tf.model_copy(update={"service_account": sa})


def _secret_server_down(tf: TenantFile) -> TenantFile:
    return tf.model_copy(update={"cloud": tf.cloud.model_copy(
        update={"secret_server_reachable": False})})


def _connector_disabled(tf: TenantFile) -> TenantFile:
    return tf.model_copy(update={"onprem": tf.onprem.model_copy(update={"disabled": True})})


REHEARSALS: dict[str, Rehearsal] = {r.name: r for r in (
    Rehearsal("wrong-secret", "the service user's client secret was rotated; the profile still "
              "has the old one", "token", "TOKEN_INVALID_CLIENT", _rotated_secret),
    Rehearsal("wrong-scope", "the OAuth2 client is not allowed the xpm.platform scope",
              "token", "TOKEN_INVALID_SCOPE", _scope_not_allowed),
    Rehearsal("no-folder", "the service account owns no folder", "visibility",
              "NO_VISIBLE_FOLDERS", _owns_no_folder),
    Rehearsal("no-secret-role", "the service account is folder Owner, but its secret role on "
              "the folders is View (folders, no secrets)", "visibility", "NO_VISIBLE_SECRETS",
              _no_secret_role),
    Rehearsal("no-role", "the service user's role lacks the permissions SCIM needs (a token "
              "is issued, SCIM refuses)", "token", "SCIM_ACCESS_DENIED", _no_scim_role),
    Rehearsal("missing-type", "the connector does not offer PrivilegedData", "discovery",
              "MISSING_RESOURCE_TYPE", _missing_resource_type),
)}
# Failure states of a running tenant (issue 14): each in a block of its own.
REHEARSALS.update({r.name: r for r in (
    Rehearsal("no-platform-role", "the service user lacks the Platform User role, which "
              "enables token generation (valid credentials, no token)", "token",
              "TOKEN_CLIENT_NOT_AUTHORIZED", _no_platform_user_role),
    Rehearsal("secret-server-down", "the Platform answers, but its Secret Server is "
              "unreachable (folders and secrets answer 503)", "visibility",
              "SECRET_SERVER_UNREACHABLE", _secret_server_down),
    Rehearsal("connector-disabled", "the on-prem connector disabled itself after its Error "
              "Threshold (20 errors in a row)", "token", "ONPREM_CONNECTOR_DISABLED",
              _connector_disabled, "onprem"),
)})


def rehearse(tf: TenantFile, name: str) -> TenantFile:
    """The tenant in the named broken state (see REHEARSALS)."""
    try:
        rehearsal = REHEARSALS[name]
    except KeyError:
        raise ValueError(f"unknown rehearsal {name!r}; known: {', '.join(REHEARSALS)}") from None
    return rehearsal.change(tf)
