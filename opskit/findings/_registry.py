"""The registry: each finding code declared once, with its severity, title and remediation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from ._finding import Finding, Severity, check_code


class DuplicateCode(ValueError):
    """A finding code declared a second time."""


class UnknownCode(LookupError):
    """A finding code that was never declared."""


@dataclass(frozen=True)
class FindingCode:
    """A declared finding code: its severity, a short title, the remediation, the reports that
    raise it and, where a context needs its own words (an on-prem connector), the remediation
    for that context."""

    code: str
    severity: Severity
    title: str
    remediation: str
    raised_by: tuple[str, ...]
    variants: tuple[tuple[str, str], ...] = ()  # (context, remediation)

    def __post_init__(self) -> None:
        check_code(self.code, self.severity)
        if not self.title.strip():
            raise ValueError(f"finding code {self.code} needs a title")

    def remediation_for(self, variant: str | None = None) -> str:
        """The remediation; for a ``variant`` (e.g. "onprem"), the one declared for it."""
        if variant is None:
            return self.remediation
        for name, text in self.variants:
            if name == variant:
                return text
        raise UnknownCode(f"finding code {self.code} has no remediation for {variant!r} "
                          f"(it has: {', '.join(n for n, _ in self.variants) or 'none'}); "
                          "declare it with the code in opskit.findings")

    def finding(self, subject: str, message: str, *, variant: str | None = None) -> Finding:
        """A finding of this code about ``subject``, with its declared severity and remedy."""
        return Finding(self.code, self.severity, subject, message, self.remediation_for(variant))


class Registry:
    """Finding codes in the order declared. Declaring a code twice raises DuplicateCode, so
    the catalogue cannot hold two texts for one code; looking up an undeclared one raises
    UnknownCode."""

    def __init__(self, reports: Iterable[str]):
        self.reports = tuple(reports)
        self._codes: dict[str, FindingCode] = {}

    def declare(self, code: str, severity: Severity, title: str, remediation: str, *,
                raised_by: Iterable[str], variants: Mapping[str, str] | None = None
                ) -> FindingCode:
        if code in self._codes:
            raise DuplicateCode(f"finding code {code} is declared twice: declare each code "
                                "once, and list every report that raises it in raised_by")
        raisers = tuple(raised_by)
        unknown = [r for r in raisers if r not in self.reports]
        if not raisers or unknown:
            raise ValueError(f"finding code {code}: raised_by must name reports among "
                             f"{self.reports}, not {unknown or 'none'}")
        declared = FindingCode(code, severity, title, remediation, raisers,
                               tuple((variants or {}).items()))
        self._codes[code] = declared
        return declared

    def __getitem__(self, code: str) -> FindingCode:
        try:
            return self._codes[code]
        except KeyError:
            raise UnknownCode(f"unknown finding code {code!r}: declare it in opskit.findings "
                              "(and document it in docs/findings.md)") from None

    def __contains__(self, code: object) -> bool:
        return code in self._codes

    def __iter__(self) -> Iterator[FindingCode]:
        return iter(self._codes.values())

    def __len__(self) -> int:
        return len(self._codes)

    def raised_by(self, report: str) -> tuple[FindingCode, ...]:
        """The codes a report raises, in the order declared."""
        if report not in self.reports:
            raise ValueError(f"unknown report {report!r}: one of {self.reports}")
        return tuple(c for c in self._codes.values() if report in c.raised_by)


# The reports that raise findings, in the words of docs/findings.md's "Raised by" lines.
TOKEN_CHECK = "token check"
ONBOARDING = "onboarding checks"
IGA_SETTINGS = "IGA settings check"
GROUP_GAP = "group-gap report"
PERMISSION_AUDIT = "permission audit"
ANY_CHECK = "any check"
REPORTS = (TOKEN_CHECK, ONBOARDING, IGA_SETTINGS, GROUP_GAP, PERMISSION_AUDIT, ANY_CHECK)

REGISTRY = Registry(REPORTS)
declare = REGISTRY.declare
