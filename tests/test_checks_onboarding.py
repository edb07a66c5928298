"""Cloud onboarding checks against the practice tenant, healthy and in broken states."""

from __future__ import annotations

from opskit.checks.engine import findings
from opskit.checks.onboarding import CATALOGUE, ROLE_CHECKLIST, run_cloud_onboarding
from opskit.config import SecretRef
from opskit.sandbox.serve import running
from opskit.sandbox.tenantfile import TenantFile, parse_tenant

from .servers import closed_port, cloud_profile


def outcomes(ran) -> dict[str, tuple[str, str | None]]:
    return {r.check.id: (r.result.outcome, r.blocked_by) for r in ran}


def test_healthy_tenant(sandbox) -> None:
    ran = run_cloud_onboarding(cloud_profile(sandbox))
    got = outcomes(ran)
    assert all(outcome in ("pass", "info") for outcome, _ in got.values()), got
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
    ran = run_cloud_onboarding(cloud_profile(sandbox), reference_folders=5)
    [finding] = findings(ran, "acme")
    assert finding.code == "PARTIAL_FOLDER_VISIBILITY" and "3 of 5" in finding.message


def test_wrong_secret_stops_at_the_token(sandbox) -> None:
    prof = cloud_profile(sandbox, client_secret=SecretRef.practice("nope-nope", "s"))
    got = outcomes(run_cloud_onboarding(prof))
    assert got["token"][0] == "fail"
    assert got["discovery"] == ("skip", "token") and got["visibility"] == ("skip", "discovery")
    ran = run_cloud_onboarding(prof)
    assert [f.code for f in findings(ran, "acme")] == ["TOKEN_INVALID_CLIENT"]


def test_unreachable_tenant(sandbox) -> None:
    port = closed_port()
    prof = cloud_profile(sandbox, base_url=f"http://127.0.0.1:{port}/scim/v2",
                         token_url=f"http://127.0.0.1:{port}/identity/api/oauth2/token/xpm")
    ran = run_cloud_onboarding(prof)
    got = outcomes(ran)
    assert got["tls"][0] == "fail" and got["token"] == ("skip", "tls")
    assert [f.code for f in findings(ran, "acme")] == ["TENANT_UNREACHABLE"]


def test_role_missing_and_no_owned_folder(small_tenant: TenantFile) -> None:
    data = small_tenant.model_dump(exclude_none=True)
    data["service_account"]["has_scim_role"] = False
    with running(parse_tenant(data, "no-role")) as sb:
        ran = run_cloud_onboarding(cloud_profile(sb))
        [finding] = findings(ran, "acme")
        assert finding.code == "SCIM_ACCESS_DENIED"
        assert "Bypass Direct API Authentication Restriction" in finding.remediation
    data = small_tenant.model_dump(exclude_none=True)
    data["permissions"] = [p for p in data["permissions"] if p.get("user") != "u-scim"
                           and p.get("group") != "g2"]
    with running(parse_tenant(data, "owns-nothing")) as sb:
        ran = run_cloud_onboarding(cloud_profile(sb))
        assert [f.code for f in findings(ran, "acme")] == ["NO_VISIBLE_FOLDERS"]


def test_catalogue_and_checklist_are_documented() -> None:
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "findings.md").read_text()
    for code in CATALOGUE:
        if code != "TENANT_UNREACHABLE":  # documented with the token check
            assert f"### {code}\n" in text, code
    assert len(ROLE_CHECKLIST) == 8
