"""The group-gap report's codes (opskit.groupgap), in the order its findings are sorted, and
the FAQ's manual steps its remedies give."""

from __future__ import annotations

from ._registry import GROUP_GAP, declare

# Delinea FAQ, "What if I am missing a group in Secret Server after syncing with IGA/IAM
# Provider?", with the selection step of Secret Server's Platform Group Sync page: only enabled
# (selected) platform groups sync. SCIM cannot trigger this sync; an administrator does it.
PLATFORM_GROUPS_SYNC_STEPS: tuple[str, ...] = (
    "Log in to the Platform using an administrator account.",
    "Navigate to Access > Groups.",
    "In the Secret Server section, click Platform Groups Sync (in Secret Server: Settings > "
    "Platform Groups Sync).",
    "On the Platform Groups Sync page, which lists all platform groups and those missing in "
    "Secret Server, check that the groups named here are listed.",
    "Select them for sync: on the Groups tab click Edit, select each group named here, and "
    "click Save (only enabled platform groups sync).",
    "Click the Sync Now button.",
    "After syncing, the selected platform groups are synchronized between the Platform and "
    "Secret Server: run the group-gap report again to confirm.",
)
# The same FAQ entry: editing or adding a group by hand on the Platform.
PLATFORM_EDIT_GROUP_STEPS: tuple[str, ...] = (
    "Log in to the Platform using an administrator account.",
    "Navigate to Access > Groups.",
    "Review the existing groups to confirm whether the group is already there.",
    "Click the group's name, then Edit to change its Name or Description; click Save. The "
    "saved group syncs with Secret Server and the IAM/IGA provider.",
    "To add a group, click Add Group, give its Name and Description, and save.",
    "To manage membership, open the group's Members tab: Assign Member to add, select and "
    "Unassign to remove.",
)


def steps_text(steps: tuple[str, ...]) -> str:
    return " ".join(f"{i}. {s}" for i, s in enumerate(steps, 1))


declare(
    "GROUP_NOT_IN_SECRET_SERVER", "high", "Platform group missing in Secret Server",
    "Sync it by hand (Delinea FAQ, and Secret Server's Platform Group Sync page): "
    + steps_text(PLATFORM_GROUPS_SYNC_STEPS) + " SCIM cannot start this sync.",
    raised_by=[GROUP_GAP])
declare(
    "GROUP_SYNC_PENDING", "low", "Platform group not synced yet",
    "The group was created within one sync interval, so Platform Groups Sync's timer has not "
    "had its chance yet: if it is among the groups enabled for sync, the timer brings it to "
    "Secret Server by the time the message gives; run the report again after that. If it is "
    "still missing then, or is needed sooner, select it for sync and click Sync Now (the steps "
    "under GROUP_NOT_IN_SECRET_SERVER). Until it is there, folder permissions cannot name it in "
    "Secret Server.",
    raised_by=[GROUP_GAP])
declare(
    "GROUP_NOT_FOUND_BY_SECRET_SERVER", "medium", "Platform group not found by Secret Server",
    "Not a sync matter: this tenant's Secret Server searches Platform groups directly. Check, "
    "in order: the Secret Server side is current (an export taken before the group was made, or "
    "a reference for another Secret Server, lacks it); the tenant really needs no sync (if its "
    "Platform Groups Sync page lists groups missing in Secret Server, it syncs: set "
    "platform_groups_searched_directly = false in the profile's platform_groups_sync and run "
    "again); the group can be found when Secret Server searches for it (for example when adding "
    "a folder permission). If Secret Server cannot find a Platform group, raise it with Delinea "
    "support.",
    raised_by=[GROUP_GAP])
declare(
    "GROUP_NOT_ON_PLATFORM", "high", "IGA group missing on the Platform",
    "Provision the group: apply the group-gap remediation plan (it creates the group through "
    "SCIM with the IGA's direct members) or re-run the IGA's provisioning for this entitlement. "
    "Secret Server then gets it from Platform Groups Sync: at once where Secret Server searches "
    "Platform groups directly, else at the timer's next run.",
    raised_by=[GROUP_GAP])
declare(
    "GROUP_NOT_IN_IGA", "medium", "Platform group not governed by the IGA",
    "Bring the group under the IGA's governance (aggregate it as an entitlement) or delete it "
    "if nobody needs it. A group made by hand on purpose, such as the service account's owner "
    "group, can be accepted knowingly.",
    raised_by=[GROUP_GAP])
declare(
    "GROUP_NAME_MISMATCH", "low", "Group names spelt differently",
    "Make the spellings the same, usually in the IGA (its entitlement name or attribute "
    "mapping: domain prefix, case, spaces), or rename the group on the Platform (Access > "
    "Groups > Edit). opskit does not rename groups itself.",
    raised_by=[GROUP_GAP])
declare(
    "GROUP_MEMBERSHIP_DIFFERS", "high", "Group members differ from the IGA's",
    "Make the Platform match the IGA: apply the group-gap remediation plan (a PATCH that adds "
    "and removes direct members) or re-run the IGA's provisioning. If the Platform is right, "
    "correct the access in the IGA instead.",
    raised_by=[GROUP_GAP])
declare(
    "GROUP_ONLY_IN_SECRET_SERVER", "low", "Group only in Secret Server",
    "A group made directly in Secret Server (or from a directory) that neither the Platform nor "
    "the IGA knows: delete it if unused, or create it on the Platform and govern it in the IGA.",
    raised_by=[GROUP_GAP])
