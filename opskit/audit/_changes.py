"""The changes a what-if tries: small frozen records, each naming things as people read them.

A user is named by userName, a group by displayName, a folder by path. ``SetGrant`` is what a
line of a planned-changes CSV has always been (a grant to set); the others are what the
optional ``Change`` column of that file adds (docs/audit.md, "Planned changes CSV").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

PrincipalType = Literal["user", "group"]


def _who(principal: str, principal_type: str | None) -> str:
    return f"{principal_type} {principal!r}" if principal_type else repr(principal)


@dataclass(frozen=True)
class SetGrant:
    """Give ``principal`` ``rights`` on ``folder``, replacing a grant it holds there. On a
    folder that inherits, Secret Server first breaks the inheritance (copying what it
    inherited), as a SCIM POST of a permission there does."""

    folder: str
    principal: str
    rights: tuple[str, ...]
    principal_type: PrincipalType | None = None
    kind: ClassVar[str] = "grant"

    def describe(self) -> str:
        return (f"grant {_who(self.principal, self.principal_type)} "
                f"{', '.join(self.rights)} on {self.folder}")


@dataclass(frozen=True)
class RevokeGrant:
    """Remove the grant ``principal`` holds on ``folder`` (set there, not inherited)."""

    folder: str
    principal: str
    principal_type: PrincipalType | None = None
    kind: ClassVar[str] = "revoke"

    def describe(self) -> str:
        return f"revoke the grant of {_who(self.principal, self.principal_type)} on {self.folder}"


@dataclass(frozen=True)
class RemoveMember:
    """Take user ``user`` out of group ``group`` (its direct membership)."""

    group: str
    user: str
    kind: ClassVar[str] = "remove-member"

    def describe(self) -> str:
        return f"remove user {self.user!r} from group {self.group!r}"


@dataclass(frozen=True)
class BreakInheritance:
    """Stop ``folder`` inheriting: it keeps a copy of what it inherited, as its own."""

    folder: str
    kind: ClassVar[str] = "break-inheritance"

    def describe(self) -> str:
        return f"break inheritance on {self.folder} (it keeps a copy of its parent's grants)"


@dataclass(frozen=True)
class RestoreInheritance:
    """Make ``folder`` inherit its parent's permissions again: its own grants go."""

    folder: str
    kind: ClassVar[str] = "restore-inheritance"

    def describe(self) -> str:
        return f"restore inheritance on {self.folder} (its own grants are dropped)"


@dataclass(frozen=True)
class DisableUser:
    """Disable user ``user``: its grants and memberships stay in Secret Server, but the
    on-prem connector lists neither the user nor its memberships any more."""

    user: str
    kind: ClassVar[str] = "disable-user"

    def describe(self) -> str:
        return f"disable user {self.user!r}"


@dataclass(frozen=True)
class DeleteGroup:
    """Delete group ``group``: its grants and memberships go with it."""

    group: str
    kind: ClassVar[str] = "delete-group"

    def describe(self) -> str:
        return f"delete group {self.group!r}"


Change = (SetGrant | RevokeGrant | RemoveMember | BreakInheritance | RestoreInheritance
          | DisableUser | DeleteGroup)
CHANGE_TYPES: tuple[type[Change], ...] = (SetGrant, RevokeGrant, RemoveMember, BreakInheritance,
                                          RestoreInheritance, DisableUser, DeleteGroup)
KINDS: dict[str, type[Change]] = {c.kind: c for c in CHANGE_TYPES}
