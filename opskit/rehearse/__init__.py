"""Planned changes and the group-gap apply, rehearsed on a twin before production.

``apply_change_plan`` sends the SCIM operations of a planned-changes file
(``opskit.audit.scim_plan``); ``NameMap`` carries names between production and a pseudonymised
twin. docs/rehearse.md walks through twin → rehearse → compare → apply on production.
"""

from ._apply import apply_change_plan

__all__ = ["apply_change_plan"]
