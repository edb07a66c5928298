"""Checks: questions about a tenant answered with findings (stable codes, remediation)."""

from .token import TokenEvidence, run_token_check

__all__ = ["TokenEvidence", "run_token_check"]
