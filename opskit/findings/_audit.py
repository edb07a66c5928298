"""The permission audit's codes (opskit.audit), in the order its findings are sorted. The first
three are raised by the onboarding checks too, with the same remedy."""

from __future__ import annotations

from ._registry import ONBOARDING, PERMISSION_AUDIT, declare

declare(
    "PARTIAL_FOLDER_VISIBILITY", "medium", "Service account sees only some folders",
    "The service account owns only some folders: the IGA will not see the others. Grant Owner "
    "on the folders it must govern, or accept the gap knowingly.",
    raised_by=[ONBOARDING, PERMISSION_AUDIT])
declare(
    "COVERAGE_NOT_MEASURED", "info", "Coverage not measured",
    "Give a reference view (an on-prem connector profile or a folder export CSV) to measure "
    "what the cloud service account cannot see.",
    raised_by=[PERMISSION_AUDIT])
declare(
    "NO_VISIBLE_SECRETS", "high", "Service account sees folders but no secret",
    "The service account sees folders but no secret, so the IGA will aggregate no privileged "
    "data (FAQ: Get All PrivilegedData needs Owner on each secret). In Secret Server, give the "
    "service account (or its group, e.g. SCIM Owners) the Owner secret role on the folders' "
    "permissions (folder > Edit permissions > secret access role: Owner), or Owner on the "
    "secrets themselves. If it holds that already, check the SCIM role's View Secrets "
    "permission.",
    raised_by=[ONBOARDING, PERMISSION_AUDIT])
declare(
    "FOLDER_NOT_VISIBLE", "medium", "Folder hidden from the service account",
    "Grant the service account Owner on the folder (directly or through a group such as SCIM "
    "Owners), with Owner as the first and only right; its inheriting subfolders follow. If the "
    "folder must stay outside the IGA, record that decision.",
    raised_by=[PERMISSION_AUDIT])
declare(
    "SECRETS_NOT_VISIBLE", "high", "Folder's secrets hidden from the service account",
    "Give the service account (or its group, e.g. SCIM Owners) the Owner secret role on this "
    "folder's permission in Secret Server (folder > Edit permissions > secret access role: "
    "Owner): the secrets of its inheriting subfolders follow. A secret with permissions of its "
    "own needs the service account as Owner there.",
    raised_by=[PERMISSION_AUDIT])
declare(
    "SECRET_NOT_OWNED", "high", "Secret not owned by the service account",
    "Make the service account Owner of the secret: add it as Owner to the secret's own "
    "permissions, or let the secret inherit its folder's permissions again; a secret that "
    "inherits needs the Owner secret role on the folder's permission for the service account. "
    "Until then a container update that adds or removes it is refused with Access Denied.",
    raised_by=[PERMISSION_AUDIT])
declare(
    "FOLDER_WITHOUT_OWNER", "medium", "Folder owned only by the service account",
    "Give a person's group (for example the department's Admins group) Owner on the folder, "
    "beside the service account.",
    raised_by=[PERMISSION_AUDIT])
declare(
    "GRANT_TO_DISABLED_USER", "high", "Disabled user still holds grants",
    "Remove the disabled user's folder grants (and the account, once the leaver process "
    "allows); grant access through groups so leavers lose it with membership.",
    raised_by=[PERMISSION_AUDIT])
declare(
    "GRANT_TO_EMPTY_GROUP", "low", "Grant to a group without members",
    "Remove the grant, or the group if it is no longer used; if the group should have members, "
    "find out why it has none before adding them.",
    raised_by=[PERMISSION_AUDIT])
declare(
    "RIGHTS_TRUNCATED", "high", "Several rights on one permission; the cloud keeps the first",
    "Send one right per folder permission, the one intended (rights rank Owner > Edit > Add "
    "Secret > View): the cloud connector keeps only the first right listed.",
    raised_by=[PERMISSION_AUDIT])
declare(
    "DIRECT_USER_GRANT", "info", "Grant to a user, not a group",
    "Prefer granting through a group, so access follows membership and the IGA reviews it; "
    "keep direct grants deliberate and few.",
    raised_by=[PERMISSION_AUDIT])
