"""The tenant file: the practice tenant's data, in YAML or JSON.

The models below are the file's contract (``docs/tenant-file.schema.json`` is generated from
them). Loading checks every field and every cross-reference and refuses the whole file on the
first problems found, naming the file, the path inside it and what is wrong, so nothing is ever
served from a half-read file.
"""

from __future__ import annotations

import copy
import json
import os
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

FolderRight = Literal["Owner", "Edit", "Add Secret", "View"]
FOLDER_RIGHTS: tuple[str, ...] = get_args(FolderRight)
"""Folder rights as Secret Server ranks them, highest first."""

SECRET_RIGHTS = ("Owner", "Edit", "View", "List")
"""Secret access roles a secret's own permission may hold, highest first."""

SECRET_ROLES = (*SECRET_RIGHTS, "None")
"""Secret access roles a folder permission gives on the secrets in the folder, highest first
(Secret Server's folder permission dialog adds None: the folder, but none of its secrets)."""

SecretRole = Literal["Owner", "Edit", "View", "List", "None"]


def derived_secret_role(folder_right: str) -> str:
    """The secret role a folder permission without one gives: the role of the same name, and
    View for Add Secret, which has none (View is what the connectors give a value they do not
    map). An assumption: the documents do not say how the two roles relate."""
    return folder_right if folder_right in SECRET_RIGHTS else "View"

Scope = Literal["xpm.platform", "xpmheadless"]
SCOPES: tuple[Scope, ...] = ("xpm.platform", "xpmheadless")

Id = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f/?#]+$")]
Text = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f]+$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ServiceAccount(_Model):
    """The Platform service user the cloud connector acts as."""

    user: Id = Field(description="id of a user below; its Owner grants decide what the cloud shows")
    client_id: Text = Field(description="OAuth2 client id (the service user's username)")
    client_secret: Text = Field(
        description="OAuth2 client secret: inline in practice data only, or env:NAME"
    )
    has_scim_role: bool = Field(
        True,
        description="false rehearses a service user without the custom SCIM role: "
        "tokens are issued but every SCIM call is refused with 403",
    )
    has_platform_user_role: bool = Field(
        True,
        description="false rehearses a service user without the Platform User role, which "
        "enables token generation: the token endpoint refuses its valid credentials "
        "(400 unauthorized_client)",
    )


ResourceTypeName = Literal["User", "Group", "Container", "ContainerPermission", "PrivilegedData",
                           "PrivilegedDataPermission"]
RESOURCE_TYPE_NAMES: tuple[ResourceTypeName, ...] = (
    "User", "Group", "Container", "ContainerPermission", "PrivilegedData",
    "PrivilegedDataPermission")


class Cloud(_Model):
    """Settings of the cloud flavor (SCIM Cloud Connector)."""

    expires_in: int = Field(3600, ge=1, le=86400, description="token lifetime, seconds")
    accepted_scopes: list[Scope] = Field(
        default_factory=lambda: list(SCOPES),
        min_length=1,
        description="scopes the token endpoint grants; drop one to rehearse its refusal",
    )
    resource_types: list[ResourceTypeName] = Field(
        default_factory=lambda: list(RESOURCE_TYPE_NAMES),
        min_length=1,
        description="resource types the cloud connector offers; drop one to rehearse a tenant "
        "missing it (its endpoint then answers 404 and discovery leaves it out)",
    )
    secret_server_reachable: bool = Field(
        True,
        description="false rehearses the Platform answering while its Secret Server does not: "
        "Containers, ContainerPermissions, PrivilegedData and PrivilegedDataPermissions answer "
        "503 'Secret Server unreachable.'; tokens, Users, Groups and discovery still work",
    )


class RightsMapping(_Model):
    """The endpoint's permission-value mapping (its "Advanced" tab): values an IdP sends, and
    the Secret Server values they stand for."""

    container: dict[Text, FolderRight] = Field(
        default_factory=dict,
        description="folder permissions: IdP value → Owner, Edit, Add Secret or View; a value "
        "neither mapped nor one of those becomes View",
    )
    privileged_data: dict[Text, Literal["Owner", "Edit", "View", "List"]] = Field(
        default_factory=dict,
        description="secret permissions: IdP value → Owner, Edit, View or List; a value "
        "neither mapped nor one of those becomes View",
    )


class OnPrem(_Model):
    """Settings of the on-prem flavor (On-Prem SCIM Connector)."""

    token: Text = Field(description="static bearer token of the SCIM connector endpoint")
    rights_mapping: RightsMapping = Field(
        default_factory=RightsMapping,
        description="the endpoint's permission-value mapping, e.g. {container: {admin: Owner}}",
    )
    error_threshold: int = Field(
        20, ge=0, le=1_000_000,
        description="the connector's Error Threshold (SCIM_Threshold): this many error answers "
        "in a row and it disables itself; a success resets the count; 0 switches it off",
    )
    disabled: bool = Field(
        False,
        description="the connector starts disabled (SCIM_Connector_Disabled): every call fails "
        "until POST /_sandbox/enable-connector",
    )


class PlatformGroupsSync(_Model):
    """How Platform groups reach Secret Server: Delinea's Platform Groups Sync."""

    interval_seconds: float = Field(
        86400, gt=0, le=366 * 86400,
        description="the sync timer: a Platform group saved (created or changed on the "
        "Platform) reaches Secret Server at the timer's next run; the first run is this long "
        "after the tenant is served. Secret Server sets it in days and hours; the default is "
        "one day, seconds make tests fast",
    )
    platform_groups_searched_directly: bool = Field(
        False,
        description="true: a Platform tenant new enough that Secret Server searches Platform "
        "groups directly, so every Platform group is in Secret Server at once and no sync is "
        "ever needed; false: an older tenant that syncs on the timer",
    )


class Limits(_Model):
    max_results: int = Field(
        1000, ge=1, le=100000, description="largest page size, advertised in ServiceProviderConfig"
    )


class User(_Model):
    id: Id
    userName: Text
    displayName: Text | None = None
    active: bool = True
    email: Text | None = None
    externalId: Text | None = None
    roles: list[Text] = Field(
        default_factory=list,
        description="Secret Server role names; served by the on-prem connector, which assigns "
        "and removes them by PATCH (the cloud has no roles)",
    )


class Group(_Model):
    id: Id
    displayName: Text
    members: list[Id] = Field(default_factory=list, description="ids of users or groups")
    platform: bool = Field(True, description="the group exists on the Delinea Platform")
    secret_server: bool = Field(True, description="the group exists (is synced) in Secret Server")
    externalId: Text | None = None
    created: AwareDatetime | None = Field(
        None,
        description="when the group was made (meta.created), with its time zone; default: when "
        "the tenant is served. A Platform group not in Secret Server made before the tenant "
        "was served has missed its timed sync and waits for Sync Now; one made since syncs "
        "at the timer's next run",
    )


class Folder(_Model):
    id: Id
    name: Text
    parent: Id | None = None
    inherit_permissions: bool | None = Field(
        None,
        description="take the parent's effective permissions; default true for a subfolder, "
        "meaningless at the root",
    )


class Grant(_Model):
    id: Id | None = Field(
        None, description="the permission's id as served; absent = one made when served (a "
        "twin keeps the ids of the tenant it copies)")
    user: Id | None = None
    group: Id | None = None
    rights: list[Text] = Field(min_length=1, description="as sent; the cloud keeps only the first")

    @model_validator(mode="after")
    def _one_principal(self) -> Grant:
        if (self.user is None) == (self.group is None):
            raise ValueError("give exactly one of 'user' or 'group'")
        return self

    @property
    def principal(self) -> tuple[str, str]:
        return ("user", self.user) if self.user is not None else ("group", self.group or "")


class Permission(Grant):
    folder: Id
    secret_role: SecretRole | None = Field(
        None, description="the secret access role it gives on the folder's secrets; absent = "
        "derived from the first right (Owner, Edit and View give the role of that name, Add "
        "Secret gives View)")


class Secret(_Model):
    id: Id
    name: Text
    folder: Id
    template: Text = "Password"
    permissions: list[Grant] | None = Field(
        None, description="the secret's own permissions, whose rights are secret access roles "
        "(Owner, Edit, View, List); absent = inherit the folder's permissions' secret roles"
    )


class IgaGroup(_Model):
    model_config = ConfigDict(extra="allow")
    name: Text
    members: list[Text] = Field(default_factory=list, description="userNames")
    externalId: Text | None = None


class Iga(_Model):
    model_config = ConfigDict(extra="allow")
    groups: list[IgaGroup] = Field(default_factory=list)


class TenantFile(_Model):
    """One practice tenant: who exists, what folders and secrets there are, who may reach them."""

    tenant: Id
    service_account: ServiceAccount
    onprem: OnPrem
    cloud: Cloud = Field(default_factory=Cloud)
    limits: Limits = Field(default_factory=Limits)
    platform_groups_sync: PlatformGroupsSync = Field(default_factory=PlatformGroupsSync)
    users: list[User] = Field(default_factory=list)
    groups: list[Group] = Field(default_factory=list)
    folders: list[Folder] = Field(default_factory=list)
    permissions: list[Permission] = Field(default_factory=list)
    secrets: list[Secret] = Field(default_factory=list)
    iga: Iga | None = None


class TenantFileError(ValueError):
    """A tenant file that cannot be served; the message names file, path and problem."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = [f"{source}: {path}: {problem}" if path else f"{source}: {problem}"
                 for path, problem in problems[:20]]
        if len(problems) > 20:
            lines.append(f"... and {len(problems) - 20} more problems")
        super().__init__("\n".join(lines))


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _chain_text(ids: list[str]) -> str:
    """A chain of group ids as a message shows it: a long one by its ends."""
    if len(ids) <= 8:
        return " -> ".join(ids)
    return " -> ".join([*ids[:3], "…", *ids[-3:]]) + f" ({len(ids) - 1} groups)"


def _cross_references(tf: TenantFile) -> list[tuple[str, str]]:
    """Every problem a schema alone cannot see: duplicates, dangling references, cycles."""
    problems: list[tuple[str, str]] = []

    def duplicates(items: list[Any], attr: str, where: str, fold: bool = False) -> None:
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            key = getattr(item, attr)
            key = key.lower() if fold else key
            if key in seen:
                problems.append((f"{where}[{i}].{attr}",
                                 f"duplicate {attr} {getattr(item, attr)!r} "
                                 f"(first at {where}[{seen[key]}])"))
            else:
                seen[key] = i

    duplicates(tf.users, "id", "users")
    duplicates(tf.users, "userName", "users", fold=True)
    duplicates(tf.groups, "id", "groups")
    duplicates(tf.groups, "displayName", "groups", fold=True)
    duplicates(tf.folders, "id", "folders")
    duplicates(tf.secrets, "id", "secrets")
    users = {u.id: u for u in tf.users}
    groups = {g.id: g for g in tf.groups}
    folders = {f.id: f for f in tf.folders}
    for i, g in enumerate(tf.groups):
        if g.id in users:
            problems.append((f"groups[{i}].id", f"id {g.id!r} is also a user's id; "
                             "member lists could not tell them apart"))

    for i, u in enumerate(tf.users):
        for r, n in Counter(u.roles).items():
            if n > 1:
                problems.append((f"users[{i}].roles", f"role {r!r} listed {n} times"))

    if tf.service_account.user not in users:
        problems.append(("service_account.user", f"no user with id {tf.service_account.user!r}"))

    if tf.platform_groups_sync.platform_groups_searched_directly:
        for i, g in enumerate(tf.groups):
            if g.platform and not g.secret_server:
                problems.append((f"groups[{i}].secret_server", "Secret Server searches Platform "
                                 "groups directly (platform_groups_sync."
                                 "platform_groups_searched_directly), so every Platform group "
                                 "is in it: drop secret_server: false, or set "
                                 "platform_groups_searched_directly: false"))

    for i, g in enumerate(tf.groups):
        for j, m in enumerate(g.members):
            if m not in users and m not in groups:
                problems.append((f"groups[{i}].members[{j}]", f"no user or group with id {m!r}"))
        for m, n in Counter(g.members).items():
            if n > 1:
                problems.append((f"groups[{i}].members", f"member {m!r} listed {n} times"))

    # Nested groups: a cycle would make membership infinite. A depth-first walk with its own
    # stack: a chain thousands of groups deep must not exhaust Python's recursion limit.
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in groups:
        if root in state:
            continue
        state[root] = 1
        path, pending = [root], [iter(groups[root].members)]
        while pending:
            for m in pending[-1]:
                if m not in groups:
                    continue
                if state.get(m) == 1:
                    cycle = _chain_text([*path[path.index(m):], m])
                    problems.append((f"groups[{tf.groups.index(groups[m])}].members",
                                     f"group membership cycle: {cycle}"))
                elif m not in state:
                    state[m] = 1
                    path.append(m)
                    pending.append(iter(groups[m].members))
                    break
            else:
                state[path.pop()] = 2
                pending.pop()

    for i, f in enumerate(tf.folders):
        if f.parent is not None and f.parent not in folders:
            problems.append((f"folders[{i}].parent", f"no folder with id {f.parent!r}"))
    for i, f in enumerate(tf.folders):
        seen_chain = {f.id}
        ancestor = f.parent
        while ancestor is not None and ancestor in folders:
            if ancestor in seen_chain:
                problems.append((f"folders[{i}].parent",
                                 f"folder tree cycle through {ancestor!r}"))
                break
            seen_chain.add(ancestor)
            ancestor = folders[ancestor].parent

    def check_grant(grant: Grant, where: str, vocabulary: tuple[str, ...]) -> None:
        kind, pid = grant.principal
        if kind == "user" and pid not in users:
            problems.append((f"{where}.user", f"no user with id {pid!r}"))
        if kind == "group":
            if pid not in groups:
                problems.append((f"{where}.group", f"no group with id {pid!r}"))
            elif not groups[pid].secret_server:
                problems.append((f"{where}.group", f"group {pid!r} is not in Secret Server "
                                 "(secret_server: false), so no permission can name it"))
        for k, right in enumerate(grant.rights):
            if right not in vocabulary:
                problems.append((f"{where}.rights[{k}]",
                                 f"unknown right {right!r}; use one of {', '.join(vocabulary)}"))

    # Ids a file gives its permissions: one per folder permission, and one per secret
    # permission across all secrets (each listing is one id space).
    for grants in ([(f"permissions[{i}]", p) for i, p in enumerate(tf.permissions)],
                   [(f"secrets[{i}].permissions[{j}]", g) for i, s in enumerate(tf.secrets)
                    for j, g in enumerate(s.permissions or [])]):
        first: dict[str, str] = {}
        for at, grant in grants:
            if grant.id is None:
                continue
            if grant.id in first:
                problems.append((f"{at}.id", f"duplicate id {grant.id!r} (first at "
                                 f"{first[grant.id]})"))
            first.setdefault(grant.id, at)

    seen_grants: dict[tuple[str, str, str], int] = {}
    for i, p in enumerate(tf.permissions):
        where = f"permissions[{i}]"
        check_grant(p, where, FOLDER_RIGHTS)
        if p.folder not in folders:
            problems.append((f"{where}.folder", f"no folder with id {p.folder!r}"))
            continue
        if folder_inherits(folders[p.folder]):
            problems.append((f"{where}.folder", f"folder {p.folder!r} inherits its parent's "
                             "permissions (the default for a subfolder); set "
                             "inherit_permissions: false on it to give it its own"))
        key = (p.folder, *p.principal)
        if key in seen_grants:
            problems.append((where, f"a second permission for {p.principal[0]} "
                             f"{p.principal[1]!r} on folder {p.folder!r} "
                             f"(first at permissions[{seen_grants[key]}])"))
        seen_grants[key] = i

    for i, s in enumerate(tf.secrets):
        if s.folder not in folders:
            problems.append((f"secrets[{i}].folder", f"no folder with id {s.folder!r}"))
        seen_principals: set[tuple[str, str]] = set()
        for j, grant in enumerate(s.permissions or []):
            check_grant(grant, f"secrets[{i}].permissions[{j}]", SECRET_RIGHTS)
            if grant.principal in seen_principals:
                problems.append((f"secrets[{i}].permissions[{j}]",
                                 f"a second permission for {grant.principal[0]} "
                                 f"{grant.principal[1]!r}"))
            seen_principals.add(grant.principal)
    return problems


def folder_inherits(folder: Folder) -> bool:
    """Whether a folder takes its parent's permissions (the default below the root)."""
    if folder.parent is None:
        return False
    return True if folder.inherit_permissions is None else folder.inherit_permissions


def parse_tenant(data: Any, source: str = "<tenant>") -> TenantFile:
    """Validate already-parsed tenant data; raise TenantFileError naming every problem."""
    if not isinstance(data, dict):
        raise TenantFileError(source, [("", "the file must hold a mapping at the top level "
                                        "(tenant:, service_account:, users:, ...)")])
    try:
        tf = TenantFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown field (check its spelling against docs/tenant-file.md)"
            elif err["type"] == "missing":
                msg = "required field is missing"
            problems.append((_loc(err["loc"]), msg))
        raise TenantFileError(source, problems) from None
    problems = _cross_references(tf)
    if problems:
        raise TenantFileError(source, problems)
    secret = tf.service_account.client_secret
    if secret.startswith("env:"):
        name = secret[4:]
        if name not in os.environ:
            raise TenantFileError(source, [("service_account.client_secret",
                                            f"environment variable {name} is not set")])
        tf.service_account.client_secret = os.environ[name]
    return tf


_YAML_MERGE = "tag:yaml.org,2002:merge"
# libyaml's loader is ten times faster than the pure-Python one on large tenants.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _shown_key(key: Any) -> str:
    shown = repr(key)
    return shown if len(shown) <= 60 else shown[:57] + "..."


# Values a YAML file's aliases may add once expanded. An alias is a reference, so ten levels
# of ten aliases each ("billion laughs") are a small file that reads as 10^10 values.
MAX_YAML_VALUES = 5_000_000


class _AliasBomb(ValueError):
    pass


def _expanded_size(root: yaml.Node) -> int:
    """How many values a composed document holds with every alias expanded, counted without
    expanding: each node once, its size from its children's. Stops past MAX_YAML_VALUES, and at
    a node that contains itself."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if children_done:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            # What aliases add beyond the nodes read so far: a file without aliases adds
            # nothing, however large (a scale-1,000 demo tenant holds some 10 million values).
            if sizes[id(node)] - len(sizes) > MAX_YAML_VALUES:
                raise _AliasBomb(f"its aliases expand to more than {MAX_YAML_VALUES:,} values")
            continue
        if id(node) in open_nodes:
            raise _AliasBomb("an alias refers to a value that contains it")
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


class _UniqueKeyLoader(_SafeLoader):
    """The safe loader, refusing a mapping that names a key twice (YAML would silently keep the
    last value, so a second ``users:`` would replace the first list unseen), and a document
    whose aliases expand beyond MAX_YAML_VALUES."""

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        _expanded_size(node)
        return self.construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == _YAML_MERGE:  # `<<: *base` merges keys; overriding them is fine
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:  # an unhashable key: the base class names that problem
                continue
            if first is not key_node:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"duplicate key {_shown_key(key)} (first on line "
                    f"{first.start_mark.line + 1})", key_node.start_mark)
        return super().construct_mapping(node, deep)


class _DuplicateJsonKey(ValueError):
    pass


def _unique_json_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        names = [k for k, _ in pairs]
        raise _DuplicateJsonKey(next(k for i, k in enumerate(names) if k in names[:i]))
    return mapping


# Files up to this size are parsed once and kept; a larger one (a scale-1,000 demo tenant is
# 134 MB, gigabytes of dicts once parsed) is parsed each time it is read, and not copied.
CACHED_TEXT_CHARS = 32 * 2**20


def _parse(text: str, is_json: bool) -> Any:
    return (json.loads(text, object_pairs_hook=_unique_json_keys) if is_json
            else yaml.load(text, _UniqueKeyLoader))


_parsed_once = lru_cache(maxsize=4)(_parse)


def _parsed(text: str, is_json: bool) -> Any:
    """The file's data, parsed once per text: a run serves the same file as two flavors and
    reads it more than once (its parse is most of the cost); a copy, so no caller can change
    what the next one gets."""
    if len(text) > CACHED_TEXT_CHARS:
        return _parse(text, is_json)
    return copy.deepcopy(_parsed_once(text, is_json))


def load_tenant(path: str | os.PathLike[str]) -> TenantFile:
    """Read and validate a tenant file (``.yaml``, ``.yml`` or ``.json``)."""
    p = Path(path)
    source = str(p)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TenantFileError(source, [("", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TenantFileError(source, [("", f"cannot be read: {exc}")]) from None
    try:
        data = _parsed(text, p.suffix.lower() == ".json")
    except _AliasBomb as exc:
        raise TenantFileError(source, [("", f"not accepted: {exc} (a YAML alias repeats a "
                                        "value by reference; expanded, this file would not fit "
                                        "in memory)")]) from None
    except _DuplicateJsonKey as exc:
        raise TenantFileError(source, [("", f"not valid: the key {_shown_key(exc.args[0])} "
                                        "appears twice in one JSON object")]) from None
    except RecursionError:
        raise TenantFileError(source, [("", "nested too deeply to read (lists or mappings "
                                        "inside one another hundreds of levels deep)")]) from None
    except json.JSONDecodeError as exc:
        raise TenantFileError(source, [(f"line {exc.lineno}, column {exc.colno}",
                                        f"not valid JSON: {exc.msg}")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise TenantFileError(source, [(where, f"not valid YAML: {problem}")]) from None
    return parse_tenant(data, source)


def json_schema() -> dict[str, Any]:
    """The tenant file's JSON Schema, as published in docs/."""
    schema = TenantFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "opskit practice tenant file"
    return schema


if __name__ == "__main__":  # python -m opskit.sandbox.tenantfile > docs/tenant-file.schema.json
    print(json.dumps(json_schema(), indent=2))
