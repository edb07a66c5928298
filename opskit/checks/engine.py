"""A small checks engine: checks in order, each with the checks it depends on.

A check is a function returning a CheckResult (pass, warn, fail or info, with evidence and a
remediation). The engine runs checks in the order given; a check whose dependency did not
pass (or warn) is not run and comes back as skip, naming the check that blocks it — so a
runbook stops at the first thing that blocks the rest and says which. An exception inside a
check is a fail of that check with its message as evidence, never a crash of the runbook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .._redact import redact
from ..errors import ConfigError, OpskitError
from ..findings import Finding, Severity, declared

Outcome = Literal["pass", "warn", "fail", "skip", "info"]
OUTCOMES: tuple[Outcome, ...] = ("pass", "warn", "fail", "skip", "info")
# A dependency is met when it passed, warned or only informed; fail and skip block.
MET: frozenset[Outcome] = frozenset({"pass", "warn", "info"})
# How an outcome becomes a finding when the check names no code and no severity of its own.
SEVERITY_OF: dict[Outcome, Severity] = {"fail": "high", "warn": "medium", "info": "info"}
GENERIC_CODES = {"fail": "CHECK_FAILED", "warn": "CHECK_WARNING"}  # declared in opskit.findings


@dataclass(frozen=True)
class CheckResult:
    """What one check found."""

    outcome: Outcome
    summary: str
    evidence: str = ""
    remediation: str = ""
    code: str | None = None  # the finding code this result reports, when it is a finding
    severity: Severity | None = None
    data: dict[str, Any] = field(default_factory=dict)  # for later checks (counts, ids…)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome {self.outcome!r} is not one of {OUTCOMES}")

    @classmethod
    def found(cls, code: str, outcome: Outcome, summary: str, evidence: str = "", *,
              variant: str | None = None) -> CheckResult:
        """A result that reports a declared finding code, with its severity and remediation
        (``variant``: the remediation declared for that context, e.g. "onprem")."""
        declaration = declared(code)
        return cls(outcome, summary, evidence, declaration.remediation_for(variant), code,
                   declaration.severity)


@dataclass(frozen=True)
class Check:
    """A check: a stable id, a title people read, what it needs first, and the function."""

    id: str
    title: str
    run: Callable[[dict[str, CheckResult]], CheckResult]
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ran:
    """A check with its result, in the order the engine ran it."""

    check: Check
    result: CheckResult
    blocked_by: str | None = None


def run_checks(checks: Sequence[Check]) -> list[Ran]:
    """Run checks in order. Each check sees the results so far (by id), so later checks can
    use what earlier ones learned; one whose dependency was not met is skipped."""
    ids = [c.id for c in checks]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate check ids in {ids}")
    seen: dict[str, CheckResult] = {}
    out: list[Ran] = []
    for check in checks:
        unknown = [d for d in check.depends_on if d not in ids]
        if unknown:
            raise ValueError(f"check {check.id} depends on unknown check(s) {unknown}")
        later = [d for d in check.depends_on if d not in seen]
        if later:
            raise ValueError(f"check {check.id} depends on {later}, which run after it")
        blocker = next((d for d in check.depends_on if seen[d].outcome not in MET), None)
        if blocker is not None:
            title = next(c.title for c in checks if c.id == blocker)
            result = CheckResult("skip", f"not run: '{title}' did not pass",
                                 remediation=f"fix '{title}' first")
        else:
            result = _run_one(check, seen)
        seen[check.id] = result
        out.append(Ran(check, result, blocker))
    return out


def _run_one(check: Check, seen: dict[str, CheckResult]) -> CheckResult:
    try:
        return check.run(dict(seen))
    except ConfigError:
        raise  # a profile or input that cannot be used as written: bad input, not a finding
    except OpskitError as exc:
        return CheckResult("fail", f"{check.title}: could not be checked",
                           evidence=redact(exc.message), remediation=exc.remediation)
    except Exception as exc:  # a bug in one check must not end the runbook
        return CheckResult("fail", f"{check.title}: the check itself failed",
                           evidence=redact(f"{type(exc).__name__}: {exc}"),
                           remediation="report this; the other checks still ran")


def findings(ran: Iterable[Ran], subject: str) -> list[Finding]:
    """The results that are findings: fail, warn, and info that names a code. A skip is not
    one: the check that blocked it is, and the table names it."""
    out = []
    for r in ran:
        res = r.result
        if res.outcome in ("pass", "skip") or (res.outcome == "info" and res.code is None):
            continue
        code = res.code or GENERIC_CODES[res.outcome]
        severity = res.severity or SEVERITY_OF[res.outcome]
        message = f"{r.check.title}: {res.summary}" + (f" ({res.evidence})"
                                                       if res.evidence else "")
        out.append(Finding(code, severity, subject, redact(message), res.remediation))
    return out


def table(ran: Iterable[Ran]) -> Any:
    """The results as one DataFrame: id, title, outcome, summary, evidence, remediation."""
    import pandas as pd

    rows = [{"id": r.check.id, "check": r.check.title, "outcome": r.result.outcome,
             "summary": r.result.summary, "evidence": r.result.evidence,
             "blocked by": r.blocked_by or "", "remediation": r.result.remediation}
            for r in ran]
    return pd.DataFrame(rows, columns=["id", "check", "outcome", "summary", "evidence",
                                       "blocked by", "remediation"])

