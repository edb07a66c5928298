"""Discovery documents the practice tenant publishes, and the models built from them.

The PAM shapes follow draft-grizzle-scim-pam-ext as Delinea serves it (see docs/connectors.md);
Group is scim2-models' own RFC 7643 schema; User is RFC 7643's core User cut down to the
attributes the tenant keeps (a Secret Server or Platform user has no nickName, photos or
addresses, and only on-prem has roles): the other core attributes are accepted and ignored on
writes, and not advertised.
The same schema documents build the pydantic models that filters and PATCH operations are
evaluated against, so what the server advertises and what it enforces cannot drift apart.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from .tenantfile import FOLDER_RIGHTS, SECRET_RIGHTS

# scim2-models (~0.4 s of CPU to import) is imported by what builds from it, on first use: a
# practice tenant that is only read (a notebook kernel's, mostly) never needs it.
if TYPE_CHECKING:
    from scim2_models import Resource

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
CONTAINER = "urn:ietf:params:scim:schemas:pam:1.0:Container"
CONTAINER_PERMISSION = "urn:ietf:params:scim:schemas:pam:1.0:ContainerPermission"
PRIVILEGED_DATA = "urn:ietf:params:scim:schemas:pam:1.0:PrivilegedData"
# Inferred from the pattern of the others: no document or output shows this URN.
PRIVILEGED_DATA_PERMISSION = "urn:ietf:params:scim:schemas:pam:1.0:PrivilegedDataPermission"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"


def _attr(name: str, type_: str = "string", *, required: bool = False, multi: bool = False,
          mutability: str = "readWrite", case_exact: bool = False,
          sub: list[dict[str, Any]] | None = None, refs: list[str] | None = None,
          canonical: list[str] | None = None, description: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name, "type": type_, "multiValued": multi, "description": description or name,
        "required": required, "caseExact": case_exact, "mutability": mutability,
        "returned": "default", "uniqueness": "none",
    }
    if sub is not None:
        out["subAttributes"] = sub
    if refs is not None:
        out["referenceTypes"] = refs
    if canonical is not None:
        out["canonicalValues"] = canonical
    return out


def _reference(name: str, target: str, *, required: bool = False, multi: bool = False,
               extra: list[dict[str, Any]] | None = None, value_required: bool = False,
               description: str = "") -> dict[str, Any]:
    """A reference to another resource. value_required: the server resolves the reference by
    its value and refuses one without (RFC 7643 §2.4: required once the reference is sent)."""
    sub = [
        _attr("value", required=value_required, case_exact=True,
              description=f"id of the {target}"),
        _attr("$ref", "reference", case_exact=True, refs=[target],
              description=f"URI of the {target}"),
        _attr("display", mutability="readOnly", description=f"name of the {target}"),
        *(extra or []),
    ]
    return _attr(name, "complex", required=required, multi=multi, sub=sub,
                 description=description or f"the {target}")


def _permission_schema(urn: str, name: str, description: str, target: tuple[str, str],
                       rights: tuple[str, ...], rights_description: str) -> dict[str, Any]:
    """A permission on a folder or a secret: the target, one user or group, and its rights."""
    attribute, kind = target
    return {"id": urn, "name": name, "description": description, "attributes": [
        _reference(attribute, kind, required=True, value_required=True,
                   extra=[_attr("name", mutability="readOnly")]),
        _reference("user", "User", value_required=True, description="the user granted, or"),
        _reference("group", "Group", value_required=True, description="the group granted"),
        _attr("rights", required=True, multi=True, canonical=list(rights),
              description=rights_description)]}


PAM_SCHEMAS: list[dict[str, Any]] = [
    {
        "id": CONTAINER, "name": "Container",
        "description": "A Secret Server folder",
        "attributes": [
            _attr("name", required=True, description="folder name"),
            # Secret Server has one folder name: displayName is that name, not settable apart.
            _attr("displayName", mutability="readOnly", description="folder name as shown"),
            _attr("description"),
            _reference("parent", "Container", description="parent folder; absent at the root"),
            _reference("privilegedData", "PrivilegedData", multi=True, value_required=True,
                       extra=[_attr("type", description="secret template")],
                       description="the secrets held in the folder"),
        ],
    },
    _permission_schema(
        CONTAINER_PERMISSION, "ContainerPermission",
        "A folder permission: one user or group, and its rights on the folder",
        ("container", "Container"), FOLDER_RIGHTS,
        "Owner, Edit, Add Secret or View; the cloud keeps only the first"),
    {
        "id": PRIVILEGED_DATA, "name": "PrivilegedData",
        "description": "A Secret Server secret (fields are never returned)",
        "attributes": [
            _attr("name", required=True, description="secret name"),
            _attr("type", description="secret template"),
            _reference("container", "Container", description="the folder holding the secret"),
        ],
    },
    _permission_schema(
        PRIVILEGED_DATA_PERMISSION, "PrivilegedDataPermission",
        "A secret permission: one user or group, and its role on the secret",
        ("privilegedData", "PrivilegedData"), SECRET_RIGHTS,
        "the secret access role: Owner, Edit, View or List; the cloud keeps only the first"),
]

# The core User attributes the tenant keeps. Secret Server keeps one e-mail address per user
# and serves it as the primary work address; groups are derived from group membership.
USER_ATTRIBUTES = ("userName", "displayName", "active", "password", "emails", "groups")
# The on-prem connector (4.4.4+) also keeps a user's Secret Server roles, assigned and removed
# by PATCH on Users (SailPoint's on-prem connector); the cloud has no roles yet (its FAQ).
ONPREM_USER_ATTRIBUTES = (*USER_ATTRIBUTES, "roles")

RESOURCE_TYPES: list[tuple[str, str, str]] = [
    # (name, endpoint, schema)
    ("User", "/Users", USER),
    ("Group", "/Groups", GROUP),
    ("Container", "/Containers", CONTAINER),
    ("ContainerPermission", "/ContainerPermissions", CONTAINER_PERMISSION),
    ("PrivilegedData", "/PrivilegedData", PRIVILEGED_DATA),
    ("PrivilegedDataPermission", "/PrivilegedDataPermissions", PRIVILEGED_DATA_PERMISSION),
]


def _role(attribute: dict[str, Any]) -> dict[str, Any]:
    """RFC 7643's `roles`, cut down to what Secret Server keeps of a role: its name."""
    value = next(a for a in attribute["subAttributes"] if a["name"] == "value")
    return {**attribute, "description": "the user's Secret Server roles",
            "subAttributes": [{**value, "required": True, "description": "role name"}]}


@cache
def ignored_user_attributes() -> frozenset[str]:
    """Core User attributes a client may send (Okta and Entra do) that the tenant ignores,
    lower-cased."""
    from scim2_models import User

    return frozenset(a.name.lower() for a in User.to_schema().attributes or []
                     if a.name and a.name not in ONPREM_USER_ATTRIBUTES)


@cache
def schema_documents(flavor: str = "onprem") -> dict[str, dict[str, Any]]:
    """Schema resources by URN as a flavor advertises them, without meta (the app adds
    locations)."""
    from scim2_models import Context, Group, Schema, User

    kept = ONPREM_USER_ATTRIBUTES if flavor == "onprem" else USER_ATTRIBUTES
    docs: dict[str, dict[str, Any]] = {}
    for model in (User, Group):
        dumped = model.to_schema().model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        dumped.pop("meta", None)
        if model is User:
            dumped["attributes"] = [_role(a) if a["name"] == "roles" else a
                                    for a in dumped["attributes"] if a["name"] in kept]
        docs[dumped["id"]] = dumped
    for doc in PAM_SCHEMAS:
        full = {"schemas": [SCHEMA], **doc}
        Schema.model_validate(full)  # the documents must stay valid RFC 7643 schemas
        docs[doc["id"]] = full
    return docs


@cache
def models() -> dict[str, type[Resource[Any]]]:
    """The pydantic model of each resource type, keyed by resource type name: on-prem's, which
    keep every attribute either flavor does (the cloud refuses `roles` before validation)."""
    from scim2_models import Group, Resource, Schema

    built: dict[str, type[Resource[Any]]] = {"Group": Group}
    docs = schema_documents("onprem")
    for name, _endpoint, urn in [RESOURCE_TYPES[0], *RESOURCE_TYPES[2:]]:
        built[name] = Resource.from_schema(Schema.model_validate(docs[urn]))
    return built
