"""Checks: questions about a tenant answered with findings (stable codes, remediation)."""

from .token import TokenCheck, check_token

__all__ = ["TokenCheck", "check_token"]
