"""Cloud onboarding checks against the practice tenant, healthy and in broken states."""

from __future__ import annotations

import pytest

from opskit.checks.engine import CheckResult, findings
from opskit.checks.network import address_scope, reachable_from_cloud
from opskit.checks.onboarding import (
    PROBE_META,
    ROLE_CHECKLIST,
    onboarding_checks,
    probe_write,
)
from opskit.config import OnPremProfile, PracticeEndpoint, PracticeProfile, SecretRef
from opskit.errors import TransportError
from opskit.findings import declared
from opskit.http import RetryPolicy
from opskit.inventory import fetch_inventory
from opskit.reports import Report
from opskit.reports.tenant_onboarding import onboard
from opskit.sandbox.app import PREFIX
from opskit.sandbox.serve import RunningSandbox, running
from opskit.sandbox.tenantfile import TenantFile, parse_tenant
from opskit.scim import SyncScimClient

from .servers import (
    ScimProxy,
    closed_port,
    cloud_profile,
    onprem_profile,
    self_signed_cert,
    serve_asgi,
)


def run_onboarding(prof, **options):  # type: ignore[no-untyped-def]
    return onboard(prof, **options).ran


def outcomes(ran) -> dict[str, tuple[str, str | None]]:
    return {r.check.id: (r.result.outcome, r.blocked_by) for r in ran}


def test_healthy_tenant(sandbox) -> None:
    ran = run_onboarding(cloud_profile(sandbox))
    got = outcomes(ran)
    write = got.pop("write")
    assert all(outcome in ("pass", "info") for outcome, _ in got.values()), got
    assert write == ("skip", None)  # read-only unless apply=True
    assert got["tls"] == ("info", None)  # plain HTTP on loopback: the practice tenant
    visibility = next(r.result for r in ran if r.check.id == "visibility")
    assert visibility.data == {"folders": 3, "secrets": 2}
    assert "coverage cannot be measured" in visibility.evidence
    limits = next(r.result for r in ran if r.check.id == "limits").summary
    assert "/Roles absent" in limits and "/Bulk absent" in limits
    assert "refused, as documented" in next(r.result for r in ran
                                            if r.check.id == "filters").summary
    assert findings(ran, "acme") == []


def test_partial_visibility_against_a_reference(sandbox) -> None:
    ran = run_onboarding(cloud_profile(sandbox), reference_folders=5)
    [finding] = findings(ran, "acme")
    assert finding.code == "PARTIAL_FOLDER_VISIBILITY" and "3 of 5" in finding.message


def test_wrong_secret_stops_at_the_token(sandbox) -> None:
    prof = cloud_profile(sandbox, client_secret=SecretRef.practice("nope-nope", "s"))
    got = outcomes(run_onboarding(prof))
    assert got["token"][0] == "fail"
    assert got["discovery"] == ("skip", "token") and got["visibility"] == ("skip", "discovery")
    ran = run_onboarding(prof)
    assert [f.code for f in findings(ran, "acme")] == ["TOKEN_INVALID_CLIENT"]


def test_unreachable_tenant(sandbox) -> None:
    port = closed_port()
    prof = cloud_profile(sandbox, base_url=f"http://127.0.0.1:{port}/scim/v2",
                         token_url=f"http://127.0.0.1:{port}/identity/api/oauth2/token/xpm")
    ran = run_onboarding(prof)
    got = outcomes(ran)
    assert got["tls"][0] == "fail" and got["token"] == ("skip", "tls")
    assert [f.code for f in findings(ran, "acme")] == ["TENANT_UNREACHABLE"]
    assert findings(ran, "acme")[0].remediation == declared("TENANT_UNREACHABLE").remediation


def test_unreachable_connector_gets_the_on_prem_remedy(sandbox) -> None:
    from dataclasses import replace

    port = closed_port()
    prof = replace(onprem_profile(sandbox), base_url=f"http://127.0.0.1:{port}/SCIMConnector/v2")
    [finding] = findings(run_onboarding(prof), "acme")
    assert finding.code == "TENANT_UNREACHABLE" and finding.severity == "critical"
    assert finding.remediation == declared("TENANT_UNREACHABLE").remediation_for("onprem")
    assert "connector's host and port" in finding.remediation


def test_role_missing_and_no_owned_folder(small_tenant: TenantFile) -> None:
    data = small_tenant.model_dump(exclude_none=True)
    data["service_account"]["has_scim_role"] = False
    with running(parse_tenant(data, "no-role")) as sb:
        ran = run_onboarding(cloud_profile(sb))
        [finding] = findings(ran, "acme")
        assert finding.code == "SCIM_ACCESS_DENIED"
        assert "Bypass Direct API Authentication Restriction" in finding.remediation
    data = small_tenant.model_dump(exclude_none=True)
    data["permissions"] = [p for p in data["permissions"] if p.get("user") != "u-scim"
                           and p.get("group") != "g2"]
    with running(parse_tenant(data, "owns-nothing")) as sb:
        ran = run_onboarding(cloud_profile(sb))
        assert [f.code for f in findings(ran, "acme")] == ["NO_VISIBLE_FOLDERS"]


def test_folders_without_secrets_do_not_pass(small_tenant: TenantFile) -> None:
    data = small_tenant.model_dump(exclude_none=True)
    for p in data["permissions"]:
        if p.get("user") == "u-scim" or p.get("group") == "g2":
            p["secret_role"] = "View"  # folder Owner, no Owner on the secrets
    with running(parse_tenant(data, "folders-only")) as sb:
        ran = run_onboarding(cloud_profile(sb))
        [finding] = findings(ran, "acme")
        assert finding.code == "NO_VISIBLE_SECRETS" and finding.severity == "high"
        assert "3 folders but no secret" in finding.message
        # An empty vault looks the same from the cloud: the message says so.
        assert "holds no secrets in these folders yet" in finding.message
        assert "Owner secret role" in finding.remediation
        # One declaration serves the onboarding checks and the permission audit.
        assert finding.remediation == declared("NO_VISIBLE_SECRETS").remediation
        assert outcomes(ran)["visibility"] == ("fail", None)
        # On-prem the endpoint reads every secret: none at all is a warning, not the cause.
        data["secrets"] = []
    with running(parse_tenant(data, "no-secrets")) as sb:
        result = next(r.result for r in run_onboarding(onprem_profile(sb))
                      if r.check.id == "visibility")
        assert result.outcome == "warn" and result.data == {"folders": 5, "secrets": 0}


def test_the_runbook_lists_each_flavor_s_checks_in_order() -> None:
    """One declaration (CHECKS) gives each flavor its checks, titles and dependencies;
    building the list sends nothing."""
    def listed(flavor: str, path: str) -> dict[str, tuple[str, tuple[str, ...]]]:
        prof = PracticeEndpoint(PracticeProfile("x", flavor), "http://127.0.0.1:1", "x", flavor,
                                f"http://127.0.0.1:1{path}")
        return {c.id: (c.title, c.depends_on)
                for c in onboarding_checks(prof, None)}  # type: ignore[arg-type]

    cloud, onprem = listed("cloud", "/scim/v2"), listed("onprem", "/SCIMConnector/v2")
    assert list(cloud) == ["url", "dns", "tls", "token", "discovery", "spc", "users", "groups",
                           "visibility", "filters", "limits", "write"]
    assert list(onprem) == ["url", "dns", "network", "tls", "token", "discovery", "spc",
                            "users", "groups", "visibility", "filters", "disabled", "write"]
    assert cloud["token"] == ("Token retrieval and SCIM access", ("tls",))
    assert onprem["token"] == ("Static token accepted", ("tls",))
    assert onprem["spc"][0] == "ServiceProviderConfig and bulk limits"
    assert cloud["visibility"] == ("Folders and secrets the service account sees",
                                   ("discovery",))
    assert onprem["visibility"][0] == "Folders and secrets the endpoint sees"
    assert cloud["write"] == onprem["write"] == ("Write probe (temporary group)", ("groups",))


def test_checklist_names_the_eight_permissions() -> None:
    # docs/findings.md is checked against every declared code in tests/test_findings.py.
    assert len(ROLE_CHECKLIST) == 8
    # Delinea names the symptom of the first two only; the rest are said to be assumed.
    assert [symptom.endswith("(assumed)") for _, symptom in ROLE_CHECKLIST] == [False] * 2 + [
        True] * 6


def _groups(prof) -> list[tuple[str, str]]:
    inv = fetch_inventory(prof, progress=False)
    return sorted(zip(inv.groups["id"], inv.groups["displayName"], strict=True))


def test_write_probe_leaves_the_tenant_as_it_found_it(sandbox) -> None:
    prof = cloud_profile(sandbox)
    before = _groups(prof)
    ran = run_onboarding(prof, apply=True)
    write = next(r.result for r in ran if r.check.id == "write")
    assert write.outcome == "pass", write
    assert "(the id the create returned); it no longer answers" in write.evidence
    assert PROBE_META["created"] not in write.evidence  # the server's own meta, not ours
    assert findings(ran, "acme") == []
    assert _groups(prof) == before


def _probe_through(sb: RunningSandbox, proxy: ScimProxy) -> CheckResult:
    """The write probe alone, sent to the practice tenant through a proxy."""
    with serve_asgi(proxy) as url:
        prof = cloud_profile(sb, base_url=url + PREFIX["cloud"])
        with SyncScimClient.for_profile(
                prof, policy=RetryPolicy.first_contact(prof.limits)) as session:
            return probe_write(session)


def test_a_tenant_out_of_reach_mid_run_is_neither_the_role_nor_a_leftover(
        sandbox: RunningSandbox) -> None:
    """The token is issued, then the SCIM base cannot be reached: the reads could not be done
    (no SCIM_READ_FAILED blaming the role), and a probe that never left this machine made
    nothing to clean up (no WRITE_PROBE_LEFTOVER)."""
    prof = cloud_profile(sandbox, base_url="http://127.0.0.1:1" + PREFIX["cloud"])
    with SyncScimClient.for_profile(prof, policy=RetryPolicy(max_attempts=1)) as scim:
        checks = {c.id: c for c in onboarding_checks(prof, scim, apply=True)}
        with pytest.raises(TransportError) as caught:
            checks["users"].run({})
        assert caught.value.nothing_sent
        probe = probe_write(scim)
    assert probe.code == "WRITE_PROBE_FAILED" and "could not be reached" in probe.summary
    assert "never sent" in probe.evidence


def _names(sb: RunningSandbox) -> dict[str, str]:
    return {gid: g["displayName"] for gid, g in sb.tenant.groups.items()}


def test_write_probe_cleans_up_when_the_answer_is_lost(sandbox: RunningSandbox) -> None:
    before = _names(sandbox)
    proxy = ScimProxy(sandbox.url, lose_posts=500)  # the group is made; the client gets a 500
    result = _probe_through(sandbox, proxy)
    assert result.outcome == "fail" and result.code == "WRITE_PROBE_FAILED"
    assert "found by its exact name); it no longer answers" in result.evidence
    assert _names(sandbox) == before


def test_a_created_probe_whose_answer_is_unreadable_is_still_removed(
        sandbox: RunningSandbox) -> None:
    """A 201 with an empty body is not a refusal: the group was made, so it is looked up by
    its name and deleted, not left behind as "nothing to remove"."""
    before = _names(sandbox)
    proxy = ScimProxy(sandbox.url, lose_posts=201)
    result = _probe_through(sandbox, proxy)
    assert result.code == "WRITE_PROBE_FAILED", result
    assert "creating a group failed" in result.summary
    assert "found by its exact name); it no longer answers" in result.evidence
    assert _names(sandbox) == before


def test_a_server_that_ignores_filter_loses_only_the_probe(sandbox: RunningSandbox) -> None:
    """The look-up by name answers every group: only the one of the probe's name goes."""
    before = _names(sandbox)
    proxy = ScimProxy(sandbox.url, lose_posts=500, ignore_filter=True)
    result = _probe_through(sandbox, proxy)
    assert result.code == "WRITE_PROBE_FAILED", result
    assert "found by its exact name); it no longer answers" in result.evidence
    assert _names(sandbox) == before
    assert [m for m, _ in proxy.sent].count("DELETE") == 1


def test_a_probe_that_cannot_be_identified_is_reported_not_guessed(
        sandbox: RunningSandbox) -> None:
    """Filter ignored and the probe not on the page answered: nothing is deleted, and the
    finding names the group to delete by hand instead of saying none is left."""
    before = _names(sandbox)
    proxy = ScimProxy(sandbox.url, lose_posts=500, ignore_filter=True, count=1)
    result = _probe_through(sandbox, proxy)
    assert result.outcome == "fail" and result.code == "WRITE_PROBE_LEFTOVER"
    [probe] = [n for n in _names(sandbox).values() if n not in before.values()]
    assert f"delete group {probe!r} by hand" in result.evidence
    assert "could not be identified" in result.evidence and "none is left" not in result.evidence
    assert "DELETE" not in {m for m, _ in proxy.sent}
    assert {gid: n for gid, n in _names(sandbox).items() if n != probe} == before


def test_onprem_runbook(sandbox) -> None:
    ran = run_onboarding(onprem_profile(sandbox), apply=True)
    got = outcomes(ran)
    assert all(outcome in ("pass", "info") for outcome, _ in got.values()), got
    by_id = {r.check.id: r.result for r in ran}
    assert "1,000 operations and 1,048,576 bytes" in by_id["spc"].summary
    assert "disabled users are not returned" in by_id["disabled"].summary
    assert by_id["token"].summary == "the static token is accepted"
    assert findings(ran, "acme") == []


def test_a_reference_that_cannot_be_read_is_a_note_not_the_end(sandbox) -> None:
    port = closed_port()
    ref = onprem_profile(sandbox)
    from dataclasses import replace

    unreachable = replace(ref, base_url=f"http://127.0.0.1:{port}/SCIMConnector/v2")
    result = onboard(cloud_profile(sandbox), reference=unreachable)
    assert result.reference_folders is None
    assert any("could not be read" in n for n in result.notes)
    assert "could not be read" in result.headline()
    assert outcomes(result.ran)["visibility"][0] in ("pass", "info")


@pytest.mark.parametrize(("address", "scope"), [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("169.254.10.1", "link-local"),
    ("fe80::1%eth0", "link-local"), ("10.20.30.40", "private"), ("172.16.0.9", "private"),
    ("192.168.1.10", "private"), ("100.64.0.1", "private"), ("fd12:3456::1", "private"),
    ("::ffff:10.0.0.1", "private"), ("20.50.2.1", "public"), ("2606:4700::1111", "public"),
])
def test_address_scope(address: str, scope: str) -> None:
    assert address_scope(address) == scope


def test_a_private_connector_warns_only_when_a_cloud_iga_must_reach_it() -> None:
    prof = OnPremProfile("ss", base_url="https://scim.corp.example/SCIMConnector/v2")
    private = ["10.1.2.3", "fd00::3"]
    for hosting in (None, "cloud"):
        result = reachable_from_cloud(prof, private, hosting)
        assert (result.outcome, result.code, result.severity) == (
            "warn", "ONPREM_PRIVATE_ADDRESS", "medium")
        assert "10.1.2.3 (private)" in result.evidence
        assert r"C:\inetpub\wwwroot\SCIMConnector\Log" in result.remediation
    assert reachable_from_cloud(prof, private, "on-prem").outcome == "info"
    assert reachable_from_cloud(prof, ["10.1.2.3", "20.50.2.1"], None).outcome == "pass"
    practice = PracticeEndpoint(PracticeProfile("p", "onprem"), "http://127.0.0.1:8765", "p",
                                "onprem", "http://127.0.0.1:8765/SCIMConnector/v2")
    assert reachable_from_cloud(practice, ["127.0.0.1"], None).outcome == "info"


def test_onprem_connector_on_this_machine_over_tls_is_out_of_a_cloud_iga_s_reach(
        sandbox: RunningSandbox, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    certfile, keyfile = self_signed_cert(tmp_path)
    with serve_asgi(sandbox.sandbox.app, certfile=certfile, keyfile=keyfile) as url:
        prof = replace(onprem_profile(sandbox), base_url=url + PREFIX["onprem"],
                       verify=str(certfile))
        result = onboard(prof)
    assert isinstance(result, Report) and result.section("findings")[-1] == result.logs()
    ran = result.ran
    assert r"C:\\inetpub\\wwwroot\\SCIMConnector\\Log" in result.logs()  # escaped Markdown
    got = outcomes(ran)
    assert got.pop("network") == ("warn", None) and got.pop("write") == ("skip", None)
    assert all(outcome in ("pass", "info") for outcome, _ in got.values()), got
    [finding] = findings(ran, "acme")
    assert (finding.code, finding.severity) == ("ONPREM_PRIVATE_ADDRESS", "medium")
    assert "127.0.0.1 (loopback)" in finding.message
