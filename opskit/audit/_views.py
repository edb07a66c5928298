"""One inventory prepared for the audit: folder grants and group reach, computed once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._folders import FolderGrants, folder_grants
from ._groups import GroupReach, expand_groups


@dataclass(frozen=True)
class View:
    inv: Any
    grants: FolderGrants
    reach: GroupReach

    @classmethod
    def of(cls, inv: Any) -> View:
        return cls(inv, folder_grants(inv.containers, inv.container_permissions),
                   expand_groups(inv.groups, inv.group_members))
