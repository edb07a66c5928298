"""The changes a what-if tries: small frozen records, each naming things as people read them.

A user is named by userName, a group by displayName, a folder by path. ``SetGrant`` is what a
line of a planned-changes CSV has always been (a grant to set); the others are what the
optional ``Change`` column of that file adds (docs/audit.md, "Planned changes CSV").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

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

    def __post_init__(self) -> None:
        # One right given as a string ("Owner") is one right, not a letter each.
        rights: Any = self.rights
        object.__setattr__(self, "rights", (rights,) if isinstance(rights, str)
                           else tuple(rights))

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


# --------------------------------------------------------------------------- as CSV lines
PLANNED_HEADERS = ("Change", "Folder Path", "Principal", "Principal Type", "Rights", "Group")


def planned_rows(changes: list[Change]) -> list[dict[str, str]]:
    """The changes as lines of a planned-changes CSV (``PLANNED_HEADERS``)."""
    rows = []
    for c in changes:
        row = dict.fromkeys(PLANNED_HEADERS, "")
        row["Change"] = c.kind
        if isinstance(c, SetGrant | RevokeGrant | BreakInheritance | RestoreInheritance):
            row["Folder Path"] = c.folder
        if isinstance(c, SetGrant | RevokeGrant):
            row["Principal"] = c.principal
            row["Principal Type"] = (c.principal_type or "").title()
        if isinstance(c, SetGrant):
            row["Rights"] = ";".join(c.rights)
        if isinstance(c, RemoveMember):
            row["Group"], row["Principal"], row["Principal Type"] = c.group, c.user, "User"
        if isinstance(c, DisableUser):
            row["Principal"], row["Principal Type"] = c.user, "User"
        if isinstance(c, DeleteGroup):
            row["Principal"], row["Principal Type"] = c.group, "Group"
        rows.append(row)
    return rows


def changes_of(planned: Any) -> list[Change]:
    """The changes a planned-changes frame holds (``opskit.inputs.audit.read_planned_changes``):
    each line a change; a file without a Change column holds grants to set."""
    out: list[Change] = []
    columns = planned.columns
    n = len(planned)
    kinds = planned["change"].tolist() if "change" in columns else ["grant"] * n
    groups = planned["group"].tolist() if "group" in columns else [None] * n
    given = planned["type_given"].tolist() if "type_given" in columns else [True] * n
    for kind, folder, principal, ptype, rights, group, typed in zip(
            kinds, planned["folder"].tolist(), planned["principal"].tolist(),
            planned["principal_type"].tolist(), planned["rights"].tolist(), groups, given,
            strict=True):
        shown = ptype if typed else None
        if kind == "grant":
            out.append(SetGrant(folder, principal, tuple(rights), shown))
        elif kind == "revoke":
            out.append(RevokeGrant(folder, principal, shown))
        elif kind == "remove-member":
            out.append(RemoveMember(group, principal))
        elif kind == "disable-user":
            out.append(DisableUser(principal))
        elif kind == "delete-group":
            out.append(DeleteGroup(principal))
        else:
            out.append(KINDS[kind](folder))  # type: ignore[call-arg]
    return out
