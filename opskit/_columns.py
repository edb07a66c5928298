"""SCIM list pages as Arrow columns: what the inventory keeps of each page, read fast.

Each resource type has an Arrow struct type holding just the attributes the inventory keeps, and
one vectorised function from an array of those structs to the page's columns. A page's JSON is
parsed straight into that type by Arrow's JSON reader, which works without holding the GIL, so
pages are decoded in worker threads while the event loop goes on sending and receiving.

An answer Arrow cannot read that way (numeric ids, `resources` in lower case, a value of an
unexpected type) takes the lenient path: parsed into Python objects, coerced value by value to
the same struct type, then the same function. One mapping, two ways in.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

STRING, BOOL, INT = pa.string(), pa.bool_(), pa.int64()
_REF = pa.struct([("value", STRING), ("display", STRING)])

# The attributes kept of each resource type, as Arrow types.
RESOURCE_TYPES: dict[str, pa.StructType] = {
    "Users": pa.struct([("id", STRING), ("userName", STRING), ("displayName", STRING),
                        ("active", BOOL),
                        ("emails", pa.list_(pa.struct([("value", STRING), ("primary", BOOL)]))),
                        ("externalId", STRING)]),
    "Groups": pa.struct([("id", STRING), ("displayName", STRING), ("externalId", STRING),
                         ("members", pa.list_(pa.struct([("value", STRING), ("display", STRING),
                                                         ("type", STRING), ("$ref", STRING)]))),
                         ("meta", pa.struct([("created", STRING), ("lastModified", STRING)]))]),
    "Containers": pa.struct([("id", STRING), ("name", STRING), ("displayName", STRING),
                             ("parent", _REF)]),
    "ContainerPermissions": pa.struct([
        ("id", STRING), ("container", pa.struct([("value", STRING), ("display", STRING),
                                                 ("name", STRING)])),
        ("user", _REF), ("group", _REF), ("rights", pa.list_(STRING))]),
    "PrivilegedData": pa.struct([("id", STRING), ("name", STRING), ("type", STRING),
                                 ("container", _REF)]),
    "PrivilegedDataPermissions": pa.struct([
        ("id", STRING), ("privilegedData", pa.struct([("value", STRING)])), ("user", _REF),
        ("group", _REF), ("rights", pa.list_(STRING))]),
}


class Columns:
    """One page's rows of one frame: Arrow columns, plus columns kept as Python lists."""

    __slots__ = ("batch", "lists")

    def __init__(self, batch: pa.RecordBatch, lists: dict[str, list[Any]] | None = None):
        self.batch = batch
        self.lists = lists or {}

    def __len__(self) -> int:
        return self.batch.num_rows


def _fields(array: pa.Array) -> dict[str, pa.Array]:
    """A struct array's fields, null wherever the struct itself is null."""
    return {array.type.field(i).name: column for i, column in enumerate(array.flatten())}


def _nonempty(array: pa.Array) -> pa.Array:
    """Null where the text is empty: `"parent": {"value": ""}` names no parent."""
    return pc.if_else(pc.equal(array, ""), pa.nulls(len(array), STRING), array)


def _batch(columns: dict[str, pa.Array]) -> pa.RecordBatch:
    return pa.record_batch(list(columns.values()), names=list(columns))


def _members(lists: pa.Array) -> tuple[pa.Array, pa.StructArray]:
    """(owner row, member) for every non-null member of a list-of-structs column."""
    owner = pc.list_parent_indices(lists)
    listed = pc.list_flatten(lists)
    present = pc.is_valid(listed)
    return owner.filter(present), listed.filter(present)


def users(res: pa.StructArray) -> Columns:
    f = _fields(res)
    owner, listed = _members(f["emails"])
    email = _fields(listed)
    # The first primary address, else the first one listed.
    first: dict[int, Any] = {}
    primary: dict[int, Any] = {}
    for row, value, is_primary in zip(owner.to_pylist(), email["value"].to_pylist(),
                                      email["primary"].to_pylist(), strict=True):
        first.setdefault(row, value)
        if is_primary:
            primary.setdefault(row, value)
    chosen = [primary[i] if i in primary else first.get(i) for i in range(len(res))]
    return Columns(_batch({
        "id": f["id"], "userName": f["userName"], "displayName": f["displayName"],
        # Active unless the server says it is not (a missing or null `active` says nothing).
        "active": f["active"].fill_null(True), "email": pa.array(chosen, STRING),
        "externalId": f["externalId"]}))


def groups(res: pa.StructArray) -> tuple[Columns, Columns]:
    """(the groups, their members)."""
    f = _fields(res)
    owner, listed = _members(f["members"])
    m = _fields(listed)
    nested = pc.fill_null(pc.match_substring(m["$ref"], "/Groups/"), False)
    kind = pc.coalesce(_nonempty(m["type"]), pc.if_else(nested, "Group", "User"))
    counts = np.bincount(owner.to_numpy(), minlength=len(res)).astype(np.int64)
    meta = _fields(f["meta"])
    return (Columns(_batch({"id": f["id"], "displayName": f["displayName"],
                            "externalId": f["externalId"], "member_count": pa.array(counts),
                            "created": meta["created"],
                            "last_modified": meta["lastModified"]})),
            Columns(_batch({"group_id": pc.take(f["id"], owner), "member_id": m["value"],
                            "member_type": kind, "member_display": m["display"]})))


def containers(res: pa.StructArray) -> Columns:
    f = _fields(res)
    parent = _fields(f["parent"])
    n = len(res)
    return Columns(_batch({
        "id": f["id"], "name": pc.coalesce(_nonempty(f["name"]), f["displayName"]),
        "parent_id": _nonempty(parent["value"]), "parent_name": parent["display"],
        "path": pa.nulls(n, STRING), "secret_count": pa.nulls(n, INT)}))


def _principal(f: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """principal_type, principal_id, principal_name of a permission's one user or group."""
    user, group = _fields(f["user"]), _fields(f["group"])
    is_user = pc.is_valid(user["value"])
    return {"principal_type": pc.if_else(is_user, "user", "group"),
            "principal_id": pc.if_else(is_user, user["value"], group["value"]),
            "principal_name": pc.if_else(is_user, user["display"], group["display"])}


def shared_lists(lists: list[Any]) -> list[Any]:
    """List cells where equal cells are one list object: a folder permission's rights repeat a
    handful of lists over millions of rows (at 80 bytes a list, 300 MB at scale 1,000 of the
    demo data). Shared, so never changed in place: whoever edits one copies it first."""
    one: dict[tuple[Any, ...], list[Any]] = {}
    out: list[Any] = []
    for cell in lists:
        if cell is None:
            out.append(None)
            continue
        key = tuple(cell)
        shared = one.get(key)
        if shared is None:
            shared = one[key] = list(key)
        out.append(shared)
    return out


def permissions(res: pa.StructArray) -> Columns:
    f = _fields(res)
    container = _fields(f["container"])
    rights = shared_lists([[r for r in listed if r is not None] if listed else []
                           for listed in f["rights"].to_pylist()])
    return Columns(_batch({
        "id": f["id"], "container_id": container["value"],
        "container_name": pc.coalesce(container["display"], container["name"]),
        **_principal(f), "right": pa.array([r[0] if r else None for r in rights], STRING)}),
        {"rights": rights})


def secret_permissions(res: pa.StructArray) -> Columns:
    """Secret permissions: the first right is the secret role in effect. No list of rights is
    kept: there are several per secret, and a list per row would cost more than the rest."""
    f = _fields(res)
    owner, rights = _members(f["rights"])
    # A row's rights are listed together, in row order: its first is where the owner changes.
    rows = owner.to_numpy()
    first = np.flatnonzero(np.diff(rows, prepend=-1))
    pick = np.full(len(res), -1, dtype=np.int64)
    pick[rows[first]] = first
    first_right = pc.take(rights, pa.array(pick, mask=pick < 0))
    return Columns(_batch({"id": f["id"],
                           "privileged_data_id": _fields(f["privilegedData"])["value"],
                           **_principal(f), "right": first_right}))


def privileged_data(res: pa.StructArray) -> Columns:
    f = _fields(res)
    container = _fields(f["container"])
    return Columns(_batch({"id": f["id"], "name": f["name"], "type": f["type"],
                           "container_id": container["value"],
                           "container_name": container["display"]}))


# --------------------------------------------------------------------------- the lenient way in
def coerce(value: Any, kind: pa.DataType) -> Any:
    """A JSON value as `kind` holds it, leniently: numbers and booleans where text was expected
    become their text, "true"/"false" and 1/0 become booleans, anything else that does not fit
    is left out (None), as are list members that do not fit."""
    if value is None:
        return None
    if pa.types.is_struct(kind):
        if not isinstance(value, dict):
            return None
        return {field.name: coerce(value.get(field.name), field.type) for field in kind}
    if pa.types.is_list(kind):
        if not isinstance(value, list):
            return None
        items = (coerce(v, kind.value_type) for v in value)
        return [v for v in items if v is not None]
    if kind == STRING:
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value) if isinstance(value, int | float) else None
    if kind == BOOL:
        if isinstance(value, bool):
            return value
        if value in (0, 1):  # 0 and 1 as numbers
            return bool(value)
        text = value.strip().lower() if isinstance(value, str) else None
        return {"true": True, "1": True, "false": False, "0": False}.get(text or "")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class PageReader:
    """What a listing keeps of each page of one resource type (see ScimClient.list per_page)."""

    def __init__(self, kind: pa.StructType, build: Callable[[pa.StructArray], Any]):
        self.kind = kind
        self.build = build
        self._schema = pa.schema([("totalResults", INT), ("Resources", pa.list_(kind))])

    def __call__(self, resources: list[dict[str, Any]]) -> Any:
        """The lenient way: resources already parsed."""
        return self.build(pa.array([coerce(r, self.kind) for r in resources], self.kind))

    def distinct(self, pages: list[Any]) -> int:
        """How many distinct ids (nulls aside) the pages this reader made hold."""
        ids = [(page[0] if isinstance(page, tuple) else page).batch.column("id")
               for page in pages]  # a tuple: the groups' pages, (groups, members)
        return int(pc.count_distinct(pa.chunked_array(ids, STRING), mode="only_valid").as_py())

    def from_json(self, raw: bytes) -> tuple[int | None, list[str | None], Any] | None:
        """(totalResults, ids, kept) straight from a page's JSON; None when Arrow cannot read
        it as a plain list response of this type (the caller then takes the lenient way)."""
        if raw.lstrip()[:1] != b"{":
            # Only an object can be a list response, and Arrow's reader crashes the process
            # on a bare `null` (pyarrow 26: a segmentation fault, not an error).
            return None
        try:
            table = pj.read_json(
                io.BytesIO(raw),
                read_options=pj.ReadOptions(use_threads=False, block_size=len(raw) + 1),
                parse_options=pj.ParseOptions(explicit_schema=self._schema,
                                              unexpected_field_behavior="ignore"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        if table.num_rows != 1 or table.column("Resources").null_count:
            return None  # not one JSON object, or no `Resources` in it
        listed = pc.list_flatten(table.column("Resources")).combine_chunks()
        res = listed.filter(pc.is_valid(listed)) if listed.null_count else listed
        try:
            res.validate(full=True)  # Arrow reads invalid UTF-8 as is; the lenient way says so
        except pa.ArrowInvalid:
            return None
        total = table.column("totalResults")[0].as_py()
        ids = res.field("id").to_pylist()  # null resources are filtered out above
        return total, ids, self.build(res)
