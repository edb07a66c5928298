"""The token check report: what ``token_check.ipynb`` and ``opskit token-check`` run.

:func:`check_token` reads the IGA's settings file when one is given, connects the profile and
runs the token check (:func:`opskit.checks.token.run_token_check`: the diagnosis, the one SCIM
read and what they prove), and returns a :class:`TokenCheck`: the same evidence, with the
text, tables and sections people read. The result never holds a token or a secret.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

from .._redact import redact
from ..checks.token import (
    NOT_APPLICABLE,
    NOT_CHECKED,
    NOT_PROVEN,
    PROVEN,
    REFUTED,
    TokenEvidence,
    run_token_check,
)
from ..config import Endpoint, Profile, connect
from ..findings import by_severity
from ..inputs.iga_settings import load_settings
from ..report.display import styled
from ..report.escaping import markdown_code, markdown_text
from ._protocol import FindingsTables, Table, unknown_section

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler


@dataclass(repr=False)  # TokenEvidence's short repr
class TokenCheck(TokenEvidence, FindingsTables):
    """The token check's result: :class:`opskit.checks.token.TokenEvidence` as people read it
    (the one-line summary, the FAQ's items, the tables) and as the notebook shows it."""

    SECTIONS: ClassVar[tuple[str, ...]] = ("summary", "proves", "token and scim call",
                                           "does not prove", "findings")

    @classmethod
    def of(cls, evidence: TokenEvidence) -> TokenCheck:
        return cls(**{f.name: getattr(evidence, f.name) for f in fields(evidence)})

    def metrics(self) -> dict[str, Any]:
        """What results.json records: the token's and the SCIM call's facts, proof counts."""
        return self.measured

    def render_text(self, width: int = 100) -> str:
        """The human summary `opskit token-check` prints."""

        def wrapped(text: str, indent: int, hang: int = 0) -> list[str]:
            return textwrap.wrap(text, width, initial_indent=" " * indent,
                                 subsequent_indent=" " * (indent + hang)) or [""]

        lines = [f"Token check: profile {self.profile} ({self.flavor}), SCIM base "
                 f"{self.scim_base}",
                 *wrapped(f"token  {self.token_line()}", 2, 7),
                 *wrapped(f"SCIM   {self.scim_line()}", 2, 7),
                 "",
                 "What it proves (FAQ: Why Token Retrieval is Required?)"]
        for p in self.proves:
            lines.append(f"  {p.status:<15}{p.claim}")
            lines += wrapped(p.reason, 17)
        # The why of each limit is in --json and the notebook; the summary names them only.
        lines += ["", "What a token does not prove"]
        lines += wrapped("; ".join(limit.what for limit in self.does_not_prove) + ".", 2)
        lines += ["", "Findings"]
        for f in self.findings:
            lines += wrapped(f"[{f.severity}] {f.code}  {f.subject}: {f.message}", 2, 4)
            if f.remediation:
                lines += wrapped(f"-> {f.remediation}", 6, 3)
        counts = by_severity(self.failures)
        verdict = "PASS" if self.ok else "FAIL (" + ", ".join(
            f"{n} {sev}" for sev, n in counts.items() if n) + ")"
        lines += ["", f"Result: {verdict}"]
        return redact("\n".join(lines))

    # -- for people: tables (pandas imported only when a table is asked for) ---------------
    def headline(self) -> str:
        """Markdown: the verdict, the profile and the SCIM base."""
        verdict = "**PASS**" if self.ok else "**FAIL**"
        return (f"{verdict}: profile {markdown_code(self.profile)} "
                f"({markdown_text(self.flavor)}), SCIM base {markdown_code(self.scim_base)}")

    def proves_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([{"FAQ item": p.claim, "status": p.status, "reason": p.reason}
                             for p in self.proves])

    def proves_styled(self) -> Styler:
        colours = {PROVEN: "#d4edda", NOT_PROVEN: "#fff3cd", REFUTED: "#f8d7da",
                   NOT_APPLICABLE: "#e9ecef", NOT_CHECKED: "#ddf4ff"}
        return styled(self.proves_frame()).map(
            lambda s: f"background-color: {colours.get(s, '')}", subset=["status"])

    def does_not_prove_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([{"not proven by a token": limit.what, "why": limit.why}
                             for limit in self.does_not_prove])

    def summary_frame(self) -> pd.DataFrame:
        """Token and SCIM call facts as a two-column table."""
        import pandas as pd

        d, c = self.diagnosis, self.scim_call
        rows = [("profile", f"{self.profile} ({self.flavor})"), ("SCIM base", self.scim_base)]
        if d is not None:
            rows += [("token URL", d.token_url), ("client_id", d.client_id),
                     ("token request", self.token_line()),
                     ("scope requested", d.scope_requested),
                     ("scope granted", d.scope_granted or "(not stated)"),
                     ("expires in (s)", "" if d.expires_in is None else str(d.expires_in)),
                     ("expires at (UTC)", "" if d.expires_at is None
                      else f"{d.expires_at:%Y-%m-%d %H:%M:%S}")]
        rows += [("SCIM call", f"{c.method} {c.url}"),
                 ("SCIM status", "" if c.status is None else str(c.status)),
                 ("SCIM call proved", c.proved)]
        if c.detail:
            rows.append(("SCIM detail", c.detail))
        return pd.DataFrame(rows, columns=["", "value"]).set_index("")

    def section(self, name: str) -> list[Any]:
        """What the notebook shows under each heading of ``SECTIONS``."""
        if name == "summary":
            return []
        if name == "proves":
            return [self.proves_styled()]
        if name == "token and scim call":
            return [Table(self.summary_frame(), index=True)]
        if name == "does not prove":
            return [Table(self.does_not_prove_frame())]
        if name == "findings":
            return [self.findings_grouped()]
        raise unknown_section(self, name)


def check_token(profile: Profile | Endpoint | str | None = None, *,
                iga_settings: str | None = None) -> TokenCheck:
    """Retrieve a token, make one SCIM read with the same credentials, say what that proves.

    ``iga_settings`` (a YAML or JSON file of what was entered in the IGA's source) lets the
    check answer the FAQ's fifth item, no authentication failures in the IGA later; without it
    that item is not checked. A refused token, an unreachable tenant, a refused SCIM call or an
    IGA setting that differs is a finding; a profile or settings file that cannot be used as
    written raises ConfigError."""
    entered = load_settings(iga_settings) if iga_settings else None  # bad file: fail first
    with connect(profile) as prof:
        return TokenCheck.of(run_token_check(prof, entered))


__all__ = ["TokenCheck", "check_token"]
