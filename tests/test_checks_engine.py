"""The checks engine: order, dependencies, skips that name their blocker, failures contained."""

from __future__ import annotations

import pytest

from opskit.checks.engine import Check, CheckResult, findings, run_checks, table
from opskit.errors import ConfigError, ScimAccessDenied
from opskit.reports.tenant_onboarding import checks_styled


def const(result: CheckResult):
    return lambda seen: result


def test_dependencies_block_and_name_the_blocker() -> None:
    ran = run_checks([
        Check("url", "Tenant URL well formed", const(CheckResult("pass", "ok"))),
        Check("token", "Token retrieval", const(CheckResult(
            "fail", "invalid client", code="TOKEN_INVALID_CLIENT", severity="critical",
            remediation="check the secret")), depends_on=("url",)),
        Check("users", "Users readable", const(CheckResult("pass", "read")),
              depends_on=("token",)),
        Check("groups", "Groups readable", const(CheckResult("pass", "read")),
              depends_on=("users",)),
        Check("docs", "Documented limits", const(CheckResult("info", "no /Bulk"))),
    ])
    outcomes = {r.check.id: (r.result.outcome, r.blocked_by) for r in ran}
    assert outcomes == {"url": ("pass", None), "token": ("fail", None),
                        "users": ("skip", "token"), "groups": ("skip", "users"),
                        "docs": ("info", None)}
    assert "Token retrieval" in ran[2].result.summary


def test_later_checks_see_earlier_results() -> None:
    def count(seen: dict[str, CheckResult]) -> CheckResult:
        n = seen["read"].data["folders"]
        return CheckResult("fail" if n == 0 else "pass", f"{n} folders")

    ran = run_checks([Check("read", "Read", const(CheckResult("pass", "", data={"folders": 0}))),
                      Check("count", "Folders visible", count, depends_on=("read",))])
    assert ran[1].result.outcome == "fail" and ran[1].result.summary == "0 folders"


def test_a_check_that_raises_is_a_fail_not_a_crash() -> None:
    def broken(seen: dict[str, CheckResult]) -> CheckResult:
        raise ZeroDivisionError("oops")

    def refused(seen: dict[str, CheckResult]) -> CheckResult:
        raise ScimAccessDenied("GET /Users refused", status=403, remediation="grant the role")

    ran = run_checks([Check("a", "A", broken), Check("b", "B", refused),
                      Check("c", "C", const(CheckResult("pass", "fine")))])
    assert [r.result.outcome for r in ran] == ["fail", "fail", "pass"]
    assert "ZeroDivisionError: oops" in ran[0].result.evidence
    assert ran[1].result.remediation == "grant the role"


def test_input_that_cannot_be_used_stops_the_runbook() -> None:
    def unusable(seen: dict[str, CheckResult]) -> CheckResult:
        raise ConfigError("profile acme is missing", "define it")

    # Bad input is for the user to fix before any check means anything (exit 2), not a finding.
    with pytest.raises(ConfigError, match="profile acme is missing"):
        run_checks([Check("a", "A", unusable)])


@pytest.mark.parametrize("checks", [
    [Check("a", "A", const(CheckResult("pass", ""))), Check("a", "A2", const(
        CheckResult("pass", "")))],
    [Check("a", "A", const(CheckResult("pass", "")), depends_on=("zz",))],
    [Check("a", "A", const(CheckResult("pass", "")), depends_on=("b",)),
     Check("b", "B", const(CheckResult("pass", "")))],
])
def test_malformed_check_lists_are_refused(checks: list[Check]) -> None:
    with pytest.raises(ValueError):
        run_checks(checks)


def test_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError):
        CheckResult("maybe", "")  # type: ignore[arg-type]


def test_findings_and_table() -> None:
    ran = run_checks([
        Check("ok", "Fine", const(CheckResult("pass", "fine"))),
        Check("warn", "Partial view", const(CheckResult(
            "warn", "sees 3 of 5 folders", code="PARTIAL_FOLDER_VISIBILITY",
            evidence="3/5", remediation="grant Owner"))),
        Check("next", "Next", const(CheckResult("pass", "")), depends_on=("warn",)),
        Check("limit", "No /Bulk", const(CheckResult("info", "documented limit"))),
        Check("code-info", "Roles", const(CheckResult("info", "absent", code="ROLES_ABSENT"))),
    ])
    assert ran[2].result.outcome == "pass"  # a warning does not block
    got = findings(ran, "acme")
    assert [(f.code, f.severity) for f in got] == [("PARTIAL_FOLDER_VISIBILITY", "medium"),
                                                   ("ROLES_ABSENT", "info")]
    assert got[0].message == "Partial view: sees 3 of 5 folders (3/5)"
    assert got[0].subject == "acme"
    frame = table(ran)
    assert list(frame["outcome"]) == ["pass", "warn", "pass", "info", "info"]
    assert "background-color" in checks_styled(ran).to_html()


def test_fail_without_a_code_gets_the_generic_one_and_skips_are_not_findings() -> None:
    from opskit.findings import ANY_CHECK, raised_by


    ran = run_checks([Check("a", "A", const(CheckResult("fail", "broken", remediation="fix"))),
                      Check("b", "B", const(CheckResult("pass", "")), depends_on=("a",))])
    got = findings(ran, "acme")
    assert [(f.code, f.severity) for f in got] == [("CHECK_FAILED", "high")]
    assert {c.code for c in raised_by(ANY_CHECK)} == {"CHECK_FAILED", "CHECK_WARNING"}
