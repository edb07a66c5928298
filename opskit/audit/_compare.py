"""Two inventories of one tenant compared: what was added, removed or changed between them.

Things with ids (users, group memberships, folders, secrets) are matched by id, so a rename or a
move is a change, not a removal and an addition; grants are matched as :func:`grants` and the
drift name them (folder where set, principal, rights), findings by code and subject.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import OpskitError
from ..findings import Finding
from ._drift import KEY as GRANT_KEY
from ._drift import grants
from ._findings import infer_service_account, permission_findings

SECTIONS = ("grants", "members", "folders", "users", "secrets", "findings")


class DifferentTenants(OpskitError):
    """Two inventories that are not of the same tenant (or not of the same connector)."""


@dataclass(frozen=True)
class Comparison:
    """What changed from ``before`` to ``after`` (their ``fetched_at``), one frame per section,
    each with a ``change`` column first:

    - ``grants``: added / removed (folder, principal_type, principal, rights);
    - ``members``: added / removed (group, member_type, member);
    - ``folders``: added / removed / moved (path, was);
    - ``users``: added / removed / disabled / enabled / renamed (userName, displayName, active,
      was);
    - ``secrets``: added / removed / moved (path, was);
    - ``findings``: added / removed (code, severity, subject, message).

    ``tenant`` names the tenant as the inventories do (flavor and address); ``notes`` say what
    limits the comparison (an incomplete inventory).
    """

    tenant: str
    before: str
    after: str
    grants: pd.DataFrame
    members: pd.DataFrame
    folders: pd.DataFrame
    users: pd.DataFrame
    secrets: pd.DataFrame
    findings: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in SECTIONS}

    @property
    def changed(self) -> bool:
        return any(len(t) for t in self.tables().values())

    def counts(self) -> dict[str, dict[str, int]]:
        """Per section, the number of rows of each change."""
        return {name: {str(k): int(v) for k, v in t["change"].value_counts(sort=False).items()}
                for name, t in self.tables().items()}

    def summary(self) -> str:
        """One line: per section, +added −removed and the other changes by name."""
        parts = []
        for name, counts in self.counts().items():
            other = ", ".join(f"{v} {k}" for k, v in counts.items()
                              if k not in ("added", "removed"))
            part = f"{name} +{counts.get('added', 0)} −{counts.get('removed', 0)}"
            parts.append(part + (f" ({other})" if other else ""))
        return f"{self.tenant}, {self.before} → {self.after}: " + ", ".join(parts)


def tenant_of(inv: Any) -> str:
    """A tenant as an inventory's metadata names it: flavor and address, or for the practice
    tenant (a new address each time it starts) flavor and the tenant's name."""
    meta = getattr(inv, "meta", {}) or {}
    flavor, url = meta.get("flavor") or "unknown flavor", meta.get("base_url") or "no address"
    practice = meta.get("practice_tenant")
    return f"{flavor} practice tenant {practice}" if practice else f"{flavor} at {url}"


def _local(url: Any) -> bool:
    return isinstance(url, str) and url.startswith(("http://127.0.0.1:", "http://localhost:"))


def compare(before: Any, after: Any, *, service_account: str | None = None) -> Comparison:
    """Compare two inventories (e.g. two snapshots, :func:`opskit.inventory.load_snapshot`) of
    the same tenant and connector, ``before`` taken first.

    The findings are each inventory's :func:`permission_findings` on its own (no reference);
    ``service_account`` as there (default: inferred). Raises :class:`DifferentTenants` when the
    two name different tenants, and an OpskitError when ``before`` is the newer.
    """
    b_meta, a_meta = before.meta or {}, after.meta or {}
    if tenant_of(before) != tenant_of(after):
        practice = (b_meta.get("flavor") == a_meta.get("flavor")
                    and _local(b_meta.get("base_url")) and _local(a_meta.get("base_url")))
        raise DifferentTenants(
            f"the two inventories are not of the same tenant: before is {tenant_of(before)}"
            f" (profile {b_meta.get('source') or '?'}), after is {tenant_of(after)} (profile "
            f"{a_meta.get('source') or '?'})",
            # A practice tenant named only by its address (a profile pointing at one): it
            # starts on a new port each time, so pin one for both snapshots.
            "take both snapshots of one practice tenant: run `opskit sandbox serve`, set "
            "OPSKIT_SANDBOX_URL=http://127.0.0.1:8765 (where it serves) and take them again"
            if practice else
            "compare two snapshots of one tenant through one connector, e.g. "
            "`opskit inventory --profile P --out DIR` run twice with the same profile")
    b_at, a_at = str(b_meta.get("fetched_at") or "before"), str(a_meta.get("fetched_at")
                                                                 or "after")
    if "fetched_at" in b_meta and "fetched_at" in a_meta and b_at > a_at:
        raise OpskitError(f"the first inventory ({b_at}) was taken after the second ({a_at})",
                          "give the older snapshot first: compare BEFORE AFTER")
    notes = [f"{label} inventory is incomplete (see its notes): what it failed to read shows as "
             f"{'added' if label == 'the before' else 'removed'}"
             for label, inv in (("the before", before), ("the after", after))
             if "complete" in (inv.meta or {}) and not inv.complete]
    tenant = str(a_meta.get("source") or "tenant")
    return Comparison(
        tenant_of(after), b_at, a_at,
        grants=_sets(grants(before), grants(after), GRANT_KEY),
        members=_members(before, after), folders=_folders(before, after),
        users=_users(before, after), secrets=_secrets(before, after),
        findings=_findings(before, after, tenant, service_account), notes=notes)


def _sets(before: pd.DataFrame, after: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """Rows of ``after`` not in ``before`` (added) and the other way (removed), by ``key``."""
    both = before[key].drop_duplicates().merge(after[key].drop_duplicates(), how="outer",
                                               indicator=True)
    change = both.pop("_merge").map({"left_only": "removed", "right_only": "added"})
    both.insert(0, "change", change)
    out = both[both["change"].notna()].astype({"change": str})
    return out.sort_values([*key, "change"]).reset_index(drop=True)


def _by_id(before: pd.DataFrame, after: pd.DataFrame, shown: list[str],
           changes: dict[str, Any]) -> pd.DataFrame:
    """Rows matched by ``id``: added, removed, and for each column in ``changes`` whose value
    differs, the change it names (a name, or a function of (old, new) giving one); ``was``
    holds the old values of what changed."""
    b = before.drop_duplicates("id").set_index("id")
    a = after.drop_duplicates("id").set_index("id")
    rows: list[dict[str, Any]] = []
    for i in a.index.difference(b.index):
        rows.append({"change": "added", **a.loc[i, shown].to_dict(), "was": ""})
    for i in b.index.difference(a.index):
        rows.append({"change": "removed", **b.loc[i, shown].to_dict(), "was": ""})
    for i in a.index.intersection(b.index):
        for col, name in changes.items():
            old, new = b.at[i, col], a.at[i, col]
            if not _same(old, new):
                rows.append({"change": name(old, new) if callable(name) else name,
                             **a.loc[i, shown].to_dict(), "was": f"{col} {old}"})
    out = pd.DataFrame(rows, columns=["change", *shown, "was"])
    return out.sort_values([shown[0], "change"]).reset_index(drop=True)


def _same(old: Any, new: Any) -> bool:
    if pd.isna(old) and pd.isna(new):
        return True
    return bool(old == new) if not (pd.isna(old) or pd.isna(new)) else False


def _folders(before: Any, after: Any) -> pd.DataFrame:
    return _by_id(before.containers, after.containers, ["path"], {"path": "moved"})


def _users(before: Any, after: Any) -> pd.DataFrame:
    def active(old: Any, new: Any) -> str:
        return "changed" if pd.isna(new) else "enabled" if bool(new) else "disabled"

    return _by_id(before.users, after.users, ["userName", "displayName", "active"],
                  {"userName": "renamed", "active": active})


def _secret_paths(inv: Any) -> pd.DataFrame:
    path = dict(zip(inv.containers["id"].tolist(), inv.containers["path"].tolist(), strict=True))
    pd_ = inv.privileged_data
    return pd.DataFrame({"id": pd_["id"].tolist(), "path": [
        f"{path.get(c, '?')}/{n}" for c, n in zip(pd_["container_id"].tolist(),
                                                   pd_["name"].tolist(), strict=True)]})


def _secrets(before: Any, after: Any) -> pd.DataFrame:
    return _by_id(_secret_paths(before), _secret_paths(after), ["path"], {"path": "moved"})


def _named_members(inv: Any) -> pd.DataFrame:
    """Memberships keyed by ids, named as people read them (named in ``after`` where both)."""
    gm = inv.group_members
    users = dict(zip(inv.users["id"].tolist(), inv.users["userName"].tolist(), strict=True))
    groups = dict(zip(inv.groups["id"].tolist(), inv.groups["displayName"].tolist(),
                      strict=True))
    kinds, mids = gm["member_type"].tolist(), gm["member_id"].tolist()
    return pd.DataFrame({
        "group_id": gm["group_id"].tolist(), "member_id": mids,
        "group": [groups.get(g, g) for g in gm["group_id"].tolist()],
        "member_type": kinds,
        "member": [(groups if k == "Group" else users).get(m, d) for k, m, d in zip(
            kinds, mids, gm["member_display"].tolist(), strict=True)]})


def _members(before: Any, after: Any) -> pd.DataFrame:
    b, a = _named_members(before), _named_members(after)
    key = ["group_id", "member_id"]
    out = _sets(b, a, key)
    names = pd.concat([a, b]).drop_duplicates(key)
    out = out.merge(names, on=key, how="left")
    return out[["change", "group", "member_type", "member"]].sort_values(
        ["group", "member", "change"]).reset_index(drop=True)


def _findings(before: Any, after: Any, tenant: str,
              service_account: str | None) -> pd.DataFrame:
    if service_account is None:  # one account for both: inferred from the newer inventory
        try:
            service_account = infer_service_account(after)
        except OpskitError as exc:
            raise OpskitError(exc.message, "name it: service_account= the service user's "
                              "userName (opskit compare --service-account USER)") from None

    def frame(inv: Any) -> pd.DataFrame:
        found: list[Finding] = permission_findings(inv, tenant=tenant,
                                                   service_account=service_account)
        return pd.DataFrame([f.as_dict() for f in found],
                            columns=["code", "severity", "subject", "message", "remediation"])

    b, a = frame(before), frame(after)
    key = ["code", "subject"]
    out = _sets(b, a, key)
    detail = pd.concat([a, b]).drop_duplicates(key)[[*key, "severity", "message"]]
    out = out.merge(detail, on=key, how="left")
    return out[["change", "code", "severity", "subject", "message"]]
