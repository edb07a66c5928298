"""The onboarding checks' own codes (opskit.checks.onboarding and .network). The runbook also
raises the token check's codes (its token step), TENANT_UNREACHABLE and the connector states
(declared with the token check), and NO_VISIBLE_SECRETS and PARTIAL_FOLDER_VISIBILITY
(declared with the permission audit)."""

from __future__ import annotations

from ..errors import ONPREM_CONNECTOR_LOG
from ._registry import ONBOARDING, declare

declare(
    "MISSING_RESOURCE_TYPE", "critical", "Resource types missing from discovery",
    "The tenant does not offer every resource type the integration reads: check that this is "
    "the SCIM Cloud Connector base (…/scim/v2) and that the connector is enabled for it.",
    raised_by=[ONBOARDING])
declare(
    "SCIM_READ_FAILED", "high", "Users or groups cannot be read",
    "Users or groups could not be read: see the evidence; the custom SCIM role is the usual "
    "cause.",
    raised_by=[ONBOARDING])
declare(
    "NO_VISIBLE_FOLDERS", "critical", "Service account sees no folder",
    "The service account holds Owner on no folder, so the IGA will see no folder and no secret "
    "(FAQ). Grant it Owner on the folders the IGA must govern (directly or through a group).",
    raised_by=[ONBOARDING])
declare(
    "WRITE_PROBE_FAILED", "high", "Write probe failed",
    "A SCIM write failed or kept client meta: check the custom role's folder and identity "
    "permissions (checklist below) and the evidence.",
    raised_by=[ONBOARDING])
declare(
    "WRITE_PROBE_LEFTOVER", "high", "Write probe's group may be left behind",
    "The probe group may be left behind: if a group of the name in the evidence exists, delete "
    "that group (and only it) by hand (Platform: Access > Groups), then check the role's "
    "permissions.",
    raised_by=[ONBOARDING])
declare(
    "FILTER_EQ_REFUSED", "high", "'eq' filter refused",
    "The tenant refused an 'eq' filter the IGA relies on: check the base URL and the "
    "connector's version.",
    raised_by=[ONBOARDING])
declare(
    "ONPREM_PRIVATE_ADDRESS", "medium", "On-prem connector out of a cloud IGA's reach",
    "A cloud IGA (SailPoint Identity Security Cloud, Okta, Entra ID) calls the connector from "
    "the internet and cannot reach this address (Delinea's FAQ: the on-prem connector needs "
    "public exposure for cloud IAM integrations). Publish the connector under a public name "
    "with a trusted certificate (a reverse proxy or firewall rule), or let the IGA reach it from "
    "inside the network (SailPoint: a Virtual Appliance). If the name resolves to a public "
    "address outside this network (split DNS), or the IGA runs inside it, say so with hosting: "
    f"on-prem in the IGA settings file. Whether the IGA's calls arrive shows in "
    f"{ONPREM_CONNECTOR_LOG}.",
    raised_by=[ONBOARDING])
