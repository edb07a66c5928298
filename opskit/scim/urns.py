"""Schema URNs and endpoints as Delinea publishes them (the only thing shared with the sandbox's
contract, and written out here on purpose rather than imported from it)."""

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
CONTAINER = "urn:ietf:params:scim:schemas:pam:1.0:Container"
CONTAINER_PERMISSION = "urn:ietf:params:scim:schemas:pam:1.0:ContainerPermission"
PRIVILEGED_DATA = "urn:ietf:params:scim:schemas:pam:1.0:PrivilegedData"
PRIVILEGED_DATA_PERMISSION = "urn:ietf:params:scim:schemas:pam:1.0:PrivilegedDataPermission"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

# resource type name → (endpoint, core schema)
RESOURCE_TYPES: dict[str, tuple[str, str]] = {
    "User": ("Users", USER),
    "Group": ("Groups", GROUP),
    "Container": ("Containers", CONTAINER),
    "ContainerPermission": ("ContainerPermissions", CONTAINER_PERMISSION),
    "PrivilegedData": ("PrivilegedData", PRIVILEGED_DATA),
    # Secret permissions: documented for the on-prem connector, optional (a tenant may not have
    # them), and the only place secret roles can be read.
    "PrivilegedDataPermission": ("PrivilegedDataPermissions", PRIVILEGED_DATA_PERMISSION),
}
ENDPOINT_TYPES = {endpoint: name for name, (endpoint, _) in RESOURCE_TYPES.items()}
PAM_TYPES = ("Container", "ContainerPermission", "PrivilegedData")
# Endpoints the cloud connector serves only where the service account holds Owner: one of
# their objects that exists but is not owned answers 403 (Delinea's troubleshooting page).
OWNER_GATED_ENDPOINTS = frozenset({"Containers", "ContainerPermissions", "PrivilegedData",
                                   "PrivilegedDataPermissions"})
