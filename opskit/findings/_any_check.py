"""The checks engine's codes (opskit.checks.engine), for a check that failed or warned without
a code of its own. Such a finding carries the check's own remedy; these are the defaults."""

from __future__ import annotations

from ._registry import ANY_CHECK, declare

declare("CHECK_FAILED", "high", "Check failed",
        "Fix what the check's evidence names, then run the checks again.", raised_by=[ANY_CHECK])
declare("CHECK_WARNING", "medium", "Check warned",
        "Read the check's evidence; it may need action.", raised_by=[ANY_CHECK])
