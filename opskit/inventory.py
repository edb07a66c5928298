"""A tenant fetched into tidy pandas DataFrames, and snapshots of it on disk.

One call reads users, groups, folders (containers), folder permissions, secrets (privileged
data) and, when asked and where the server offers them, secret permissions concurrently
through one SCIM client, and returns them as DataFrames with the metadata a report needs:
where they came from, when, how many, and whether anything could not be read.
Snapshots are a folder of parquet files plus a manifest with checksums, written to a temporary
name and swapped in (see _swapdir), so a crash never leaves a snapshot that looks complete, and
replacing one never leaves none.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm.auto import tqdm
from tqdm.std import tqdm as Bar  # every bar: the widget's and the terminal's

from . import _columns, _swapdir
from ._columns import Columns, PageReader
from .config import Endpoint, PracticeEndpoint, Profile, connect, insecure_note
from .errors import ConfigError, NotScimResponse, OpskitError, ScimNotFound
from .scim import ScimClient, ScimList, run_sync, urns

# Arrow's bundled allocator keeps what it frees for Arrow alone, and pandas and numpy then
# allocate beside it; the system allocator lets them reuse each other's freed memory: a
# scale-100 permission audit peaks about 20% lower, no slower. Unless the environment chose.
if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
    pa.set_memory_pool(pa.system_memory_pool())

SCHEMA_VERSION = 2  # 2: privileged_data_permissions, groups' created and last_modified
FRAMES = ("users", "groups", "group_members", "containers", "container_permissions",
          "privileged_data", "privileged_data_permissions")
# The frames each schema version that load_snapshot reads holds: older snapshots are drift
# baselines and audit records, still read.
SCHEMA_FRAMES = {1: FRAMES[:-1], 2: FRAMES}
COLUMNS: dict[str, list[str]] = {
    "users": ["id", "userName", "displayName", "active", "email", "externalId"],
    "groups": ["id", "displayName", "externalId", "member_count", "created", "last_modified"],
    "group_members": ["group_id", "member_id", "member_type", "member_display"],
    "containers": ["id", "name", "parent_id", "parent_name", "path", "secret_count"],
    "container_permissions": ["id", "container_id", "container_name", "principal_type",
                              "principal_id", "principal_name", "right", "rights"],
    "privileged_data": ["id", "name", "type", "container_id", "container_name"],
    "privileged_data_permissions": ["id", "privileged_data_id", "principal_type",
                                    "principal_id", "principal_name", "right"],
}
_ENDPOINT_FRAMES = {"Users": "users", "Groups": "groups", "Containers": "containers",
                    "ContainerPermissions": "container_permissions",
                    "PrivilegedData": "privileged_data",
                    "PrivilegedDataPermissions": "privileged_data_permissions"}
# Read where the server has it; its absence is no note (few tenants have it), only
# meta["secret_permissions_read"] false. A server that offers it and refuses to answer costs
# one note, never the inventory: the rest reads as it did before the listing existed.
OPTIONAL = "PrivilegedDataPermissions"
# The order listings start in. Their pages queue in the order their first pages come back, and
# the listing that ends last has its frame built after the last answer, while nothing else is
# left to overlap with: the usually longest listings go first, the quickest to frame last.
_READ_ORDER = ("PrivilegedDataPermissions", "PrivilegedData", "ContainerPermissions",
               "Containers", "Users", "Groups")


@dataclass
class Inventory:
    users: pd.DataFrame
    groups: pd.DataFrame
    group_members: pd.DataFrame
    containers: pd.DataFrame
    container_permissions: pd.DataFrame
    privileged_data: pd.DataFrame
    # Empty, and meta["secret_permissions_read"] false, where not asked for, not offered or
    # refused.
    privileged_data_permissions: pd.DataFrame = field(
        default_factory=lambda: tidy_secret_permissions([]))
    meta: dict[str, Any] = field(default_factory=dict)

    def frames(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in FRAMES}

    @property
    def complete(self) -> bool:
        return bool(self.meta.get("complete", False))

    def counts(self) -> dict[str, int]:
        return {name: len(df) for name, df in self.frames().items()}

    def identification(self) -> dict[str, Any]:
        """What identifies this read of a tenant, for a run's evidence: where from, when, how
        many rows per listing, whether complete."""
        return {"source": self.meta.get("source"), "flavor": self.meta.get("flavor"),
                "fetched_at": self.meta.get("fetched_at"), "counts": self.counts(),
                "complete": self.complete}


# --------------------------------------------------------------------------- tidy frames
# What the inventory keeps of each page of each resource type, as Arrow columns: built as pages
# arrive, so the raw JSON is never all held at once and the work overlaps with the waits for
# other pages (see _columns).
_READERS: dict[str, PageReader] = {
    endpoint: PageReader(_columns.RESOURCE_TYPES[endpoint], build)
    for endpoint, build in (("Users", _columns.users), ("Groups", _columns.groups),
                            ("Containers", _columns.containers),
                            ("ContainerPermissions", _columns.permissions),
                            ("PrivilegedData", _columns.privileged_data),
                            ("PrivilegedDataPermissions", _columns.secret_permissions))}


def _frame(pages: list[Columns], keep: list[list[bool]] | None = None) -> pd.DataFrame:
    """One frame of a listing's pages, in order; `keep` drops what overlapping pages repeated."""
    batches = [p.batch for p in pages]
    lists = {name: [v for p in pages for v in p.lists[name]] for name in pages[0].lists}
    if keep is not None:
        batches = [b.filter(pa.array(k, pa.bool_())) for b, k in zip(batches, keep, strict=True)]
        kept = [k for mask in keep for k in mask]
        lists = {name: [v for v, k in zip(values, kept, strict=True) if k]
                 for name, values in lists.items()}
    df = pa.Table.from_batches(batches).to_pandas()
    for name, values in lists.items():  # lists stay lists, as read
        df[name] = pd.Series(values, index=df.index, dtype=object)
    return df


def _pages(endpoint: str, found: ScimList) -> list[Any]:
    # A listing with no pages still makes frames with every column.
    return list(found) or [_READERS[endpoint]([])]


def folder_paths(ids: list[str], names: list[str], parents: list[str | None],
                 parent_names: list[str | None]) -> list[str]:
    """`/IT/Databases/Prod` for every folder; `…/Parent/Child` where an ancestor is unseen."""
    by_id = dict(zip(ids, zip(names, parents, parent_names, strict=True), strict=True))
    memo: dict[str, str] = {}

    def path(fid: str, depth: int = 0) -> str:
        if fid in memo:
            return memo[fid]
        name, parent, parent_name = by_id[fid]
        if parent is None or depth > len(by_id):
            out = f"/{name}"
        elif parent in by_id:
            out = f"{path(parent, depth + 1)}/{name}"
        else:
            out = f"…/{parent_name}/{name}" if parent_name else f"…/{name}"
        memo[fid] = out
        return out

    return [path(fid) for fid in ids]


def _plain(value: Any) -> Any:
    return value if isinstance(value, str) else None


# Columns repeating a few values over many rows, held as categoricals (categories in text
# order, so sorting reads as on text): the permissions are the longest listings, 17 million
# secret permissions and 1.8 million folder permissions at scale 1,000 of the demo data. Not
# the folder or secret a permission is on: with a category per folder or secret, parquet keeps
# the categories once per row group, and reading them back took more than the text.
_PRINCIPAL_AND_RIGHT = ("principal_type", "principal_id", "principal_name", "right")
_REPEATED = {"PrivilegedDataPermissions": _PRINCIPAL_AND_RIGHT,
             "ContainerPermissions": _PRINCIPAL_AND_RIGHT}
# The secret a secret permission is on (a million secrets at scale 1,000, named by 17 million
# rows), and the folder a folder permission or a secret is in, with its name and the secret's
# template: categoricals in memory (4 bytes a row, not 14 or more of text: 160 MB less for the
# secret permissions, ~90 MB for the others), built after the read and written as text.
_CODED = {"PrivilegedDataPermissions": ("privileged_data_id",),
          "ContainerPermissions": ("container_id", "container_name"),
          "PrivilegedData": ("container_id", "container_name", "type")}
_CODED_COLUMNS = {_ENDPOINT_FRAMES[e]: columns for e, columns in _CODED.items()}


def _categorical(column: pa.ChunkedArray) -> pd.Categorical:
    """Text, or text dictionary-encoded (as parquet keeps it), as a categorical with its
    categories sorted as pandas sorts them. Built in Arrow from each chunk's dictionary, so the
    text of every row is never held at once (17 million secret permissions at scale 1,000 of
    the demo data)."""
    chunks = [c if pa.types.is_dictionary(c.type) else c.dictionary_encode()
              for c in column.chunks]
    # Every chunk's dictionary in one array, looked up at once (a lookup per chunk builds
    # its hash table of a million categories each time).
    words = pa.chunked_array([c.dictionary.cast(pa.large_string()) for c in chunks],
                             pa.large_string()).combine_chunks()
    categories = pc.unique(words).drop_null()
    categories = categories.take(pc.sort_indices(categories))
    code_of = pc.fill_null(pc.index_in(words, value_set=categories), -1).to_numpy(
        zero_copy_only=False).astype(np.int32)
    codes = np.empty(len(column), dtype=np.int32)
    at = start = 0
    for chunk in chunks:
        end = start + len(chunk.dictionary)
        mine = np.append(code_of[start:end], np.int32(-1))  # at the end: a null's code
        codes[at:at + len(chunk)] = mine[chunk.indices.fill_null(end - start).to_numpy(
            zero_copy_only=False)]
        at, start = at + len(chunk), end
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories.to_pandas()),
                                     validate=False)


def _categories(df: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    for column in columns:
        text = pa.array(df[column].array, type=pa.large_string())
        if isinstance(text, pa.ChunkedArray):  # a chunk per page: 870 at scale 100, and
            text = text.combine_chunks()  # per-chunk work doubled a fetch's CPU
        df[column] = _categorical(pa.chunked_array([text]))
    return df


def _listing_frame(endpoint: str, found: ScimList) -> pd.DataFrame:
    """The frame of a listing whose pages need nothing more than joining."""
    return _categories(_frame(_pages(endpoint, found), found.keep),
                       _REPEATED.get(endpoint, ()) + _CODED.get(endpoint, ()))


def _groups_frames(found: ScimList) -> tuple[pd.DataFrame, pd.DataFrame]:
    pages = _pages("Groups", found)
    member_keep = None
    if found.keep is not None:  # a repeated group's members go with it
        member_keep = [np.repeat(mask, g.batch.column("member_count").to_numpy()).tolist()
                       for mask, (g, _) in zip(found.keep, pages, strict=True)]
    return (_frame([g for g, _ in pages], found.keep),
            _frame([m for _, m in pages], member_keep))


def _containers_frame(found: ScimList) -> pd.DataFrame:
    df = _listing_frame("Containers", found)
    df["path"] = folder_paths(df["id"].tolist(), df["name"].tolist(),
                              [_plain(p) for p in df["parent_id"]],
                              [_plain(n) for n in df["parent_name"]])
    return df


_FRAMES: dict[str, Callable[[ScimList], Any]] = {
    "Users": partial(_listing_frame, "Users"), "Groups": _groups_frames,
    "Containers": _containers_frame,
    "ContainerPermissions": partial(_listing_frame, "ContainerPermissions"),
    "PrivilegedData": partial(_listing_frame, "PrivilegedData"),
    "PrivilegedDataPermissions": partial(_listing_frame, "PrivilegedDataPermissions")}


def _tidy(endpoint: str, resources: list[dict[str, Any]]) -> Any:
    return _FRAMES[endpoint](ScimList([_READERS[endpoint](resources)], len(resources)))


def tidy_users(resources: list[dict[str, Any]]) -> pd.DataFrame:
    return _tidy("Users", resources)


def tidy_groups(resources: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    return _tidy("Groups", resources)


def tidy_containers(resources: list[dict[str, Any]]) -> pd.DataFrame:
    return _tidy("Containers", resources)


def tidy_permissions(resources: list[dict[str, Any]]) -> pd.DataFrame:
    return _tidy("ContainerPermissions", resources)


def tidy_privileged_data(resources: list[dict[str, Any]]) -> pd.DataFrame:
    return _tidy("PrivilegedData", resources)


def tidy_secret_permissions(resources: list[dict[str, Any]]) -> pd.DataFrame:
    return _tidy("PrivilegedDataPermissions", resources)


# Only what the frames hold is asked for: a server that ignores `attributes` sends the rest,
# one that honours it (as the on-prem connector does) sends a third less JSON.
ATTRIBUTES: dict[str, list[str]] = {
    "Users": ["userName", "displayName", "active", "emails", "externalId"],
    "Groups": ["displayName", "members.value", "members.display", "members.type",
               "externalId", "meta.created", "meta.lastModified"],
    "Containers": ["name", "displayName", "parent.value", "parent.display"],
    "ContainerPermissions": ["container.value", "container.display", "user.value",
                             "user.display", "group.value", "group.display", "rights"],
    "PrivilegedData": ["name", "type", "container.value", "container.display"],
    "PrivilegedDataPermissions": ["privilegedData.value", "user.value", "user.display",
                                  "group.value", "group.display", "rights"],
}


# --------------------------------------------------------------------------- fetching
async def fetch(client: ScimClient, *, source: str = "", progress: bool | Bar[Any] = True,
                secret_permissions: bool = False) -> Inventory:
    """Read a tenant into an Inventory through an open ScimClient.

    ``secret_permissions``: also read PrivilegedDataPermissions, where the server offers it.
    Off by default: it is the longest listing (several rows per secret), and only the
    permission audit and snapshots need it.
    ``progress``: a bar of the resources read out of those the listings' first pages count
    (tqdm.auto: a widget in Lab, text on a terminal); False for none, or a tqdm bar of the
    caller's own to update (left open).
    """
    started = time.perf_counter()
    notes: list[str] = []
    # Discovery runs beside the listings, not before them: a round trip saved. The page size
    # goes first in line (every listing's later pages need it); the resource types last (they
    # only explain a listing the server refused).
    page_size = asyncio.ensure_future(client.max_page_size())
    # Its failure, if any, meets the listings when they ask for the page size themselves.
    page_size.add_done_callback(lambda t: t.cancelled() or t.exception())
    discovery: asyncio.Future[list[dict[str, Any]] | None]  # started after the listings
    own_bar = not isinstance(progress, Bar)
    bar: Bar[Any] = progress if isinstance(progress, Bar) else tqdm(
        total=None, unit=" resources", desc=f"inventory {source}".strip(),
        disable=None if progress else True, leave=False)
    lock = threading.Lock()
    # Each listing's totalResults, as its first page tells it: the bar's total is their sum
    # (N/M, not N/?), growing as first pages come back; none once a server does not count.
    expected: dict[str, int | None] = {}

    def tick(n: int) -> None:
        with lock:
            bar.update(n)

    def expect(endpoint: str, total: int | None) -> None:
        with lock:
            expected[endpoint] = total
            counts = list(expected.values())
            bar.total = None if None in counts else sum(c for c in counts if c is not None)
            bar.refresh()

    frames: dict[str, Any] = {}
    read_whole: set[str] = set()  # listings the server answered

    async def offered() -> set[str] | None:
        """The resource types the server says it offers (None: it does not say, or its answer
        could not be read: the listings have said what they could read)."""
        try:
            advertised = await discovery
        except OpskitError as exc:
            note = f"ResourceTypes could not be read: {exc.message}"
            if note not in notes:
                notes.append(note)
            return None
        if advertised is None:
            return None
        # A resource type without a name offers nothing that could be asked for by name.
        return {name for rt in advertised if (name := rt.get("name")) is not None}

    async def read(endpoint: str) -> ScimList:
        kind = urns.ENDPOINT_TYPES[endpoint]
        found = ScimList([], 0)
        try:
            found = await client.list(endpoint, on_progress=tick,
                                      per_page=_READERS[endpoint],
                                      attributes=ATTRIBUTES[endpoint],
                                      on_total=partial(expect, endpoint))
            read_whole.add(endpoint)
        except OpskitError as refused:
            if endpoint != OPTIONAL and not isinstance(refused, ScimNotFound | NotScimResponse):
                raise
            names = await offered()
            absent = ((names is not None and kind not in names)
                      or isinstance(refused, ScimNotFound))
            if endpoint == OPTIONAL:
                if not absent:
                    notes.append(_optional_refused(refused))
            elif names is not None and kind not in names:
                notes.append(f"{endpoint}: the server does not offer resource type {kind}")
            elif isinstance(refused, ScimNotFound):
                notes.append(f"{endpoint}: not found on this server")
            else:
                raise
        # Built as soon as this listing ends, in a thread: the others are still being read.
        frames[endpoint] = await asyncio.to_thread(_FRAMES[endpoint], found)
        return found

    order = [e for e in _READ_ORDER if secret_permissions or e != OPTIONAL]
    listings = [asyncio.ensure_future(read(e)) for e in order]
    discovery = asyncio.ensure_future(client.resource_types())
    try:
        results: dict[str, Any] = {OPTIONAL: ScimList([], 0)}  # when not asked for
        results.update(zip(order, await asyncio.gather(*listings, return_exceptions=True),
                           strict=True))
        names = await offered()
    finally:
        if own_bar:
            bar.close()
        for task in (page_size, discovery, *listings):
            task.cancel()  # a no-op for those done; the others are not left running
    failures: list[OpskitError] = []
    for e in _ENDPOINT_FRAMES:
        if isinstance(r := results[e], BaseException):
            if not isinstance(r, OpskitError):
                raise r
            failures.append(r)
    listed = {e: (ScimList([], 0, complete=False) if isinstance(results[e], BaseException)
                  else results[e]) for e in _ENDPOINT_FRAMES}
    notes.extend(r.message if r.message.startswith(f"{e}:") else f"{e}: {r.message}"
                 for e in _ENDPOINT_FRAMES if isinstance(r := results[e], OpskitError))
    for found in listed.values():
        notes.extend(found.notes)
    for endpoint in _ENDPOINT_FRAMES:
        if endpoint not in frames:  # failed (marked incomplete) or not asked for: empty
            frames[endpoint] = _FRAMES[endpoint](ScimList([], 0))
    groups, members = frames["Groups"]
    inv = Inventory(users=frames["Users"], groups=groups, group_members=members,
                    containers=frames["Containers"],
                    container_permissions=frames["ContainerPermissions"],
                    privileged_data=frames["PrivilegedData"],
                    privileged_data_permissions=frames["PrivilegedDataPermissions"])
    # Counted from the secrets read, so both flavors count what the account can see; unknown
    # (not zero) when the secrets could not be read.
    per_folder = inv.privileged_data["container_id"].value_counts()
    counts = inv.containers["id"].map(per_folder).fillna(0).astype("Int64")
    if not listed["PrivilegedData"].complete:
        counts[:] = pd.NA
    inv.containers["secret_count"] = counts
    inv.meta = {
        "source": source, "flavor": client.flavor, "base_url": client.base_url,
        "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "counts": inv.counts(),
        "server_totals": {e: r.total for e, r in listed.items()},
        "complete": all(r.complete for r in listed.values()),
        "notes": notes, "requests": client.requests,
        "seconds": round(time.perf_counter() - started, 3),
        "pam": names is None or bool(names & set(urns.PAM_TYPES)),
        "secret_permissions_read": OPTIONAL in read_whole and listed[OPTIONAL].complete,
    }
    if failures:
        # Never a quietly short result: the caller gets the error, with what was read attached.
        error = failures[0]
        error.partial = inv
        raise error
    return inv


def _optional_refused(error: OpskitError) -> str:
    """The note for an offered optional listing that could not be read."""
    why = error.message.removeprefix(f"{OPTIONAL}:").strip()
    return (f"{OPTIONAL}: not read ({why}); the secret roles are unknown, and the permission "
            "audit says so rather than guessing them from folder roles")


def fetch_inventory(profile: Profile | Endpoint | str | None = None, *,
                    progress: bool | Bar[Any] = True,
                    concurrency: int | None = None,
                    secret_permissions: bool = False) -> Inventory:
    """Fetch a tenant by profile (default: the practice tenant); ``secret_permissions``: also
    its secret permissions (see :func:`fetch`)."""
    with connect(profile) as prof:
        async def go() -> Inventory:
            async with ScimClient.for_profile(prof, concurrency=concurrency) as client:
                return await fetch(client, source=prof.name, progress=progress,
                                   secret_permissions=secret_permissions)

        inv = run_sync(go)
        # Beside the notes, which say why an inventory is incomplete: this one does not.
        note = insecure_note(prof)
        inv.meta["warnings"] = [note] if note else []
        if isinstance(prof, PracticeEndpoint):  # served at a new address each run: the name
            inv.meta["practice_tenant"] = prof.tenant_name  # says which tenant it is
        return inv


# --------------------------------------------------------------------------- snapshots
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _NoManifest(ValueError):
    """Why a folder holds no opskit manifest: "it has no manifest.json", …"""


def _read_manifest(folder: Path) -> dict[str, Any]:
    """A snapshot's manifest.json, of opskit's shape (schema_version, files, counts)."""
    path = folder / "manifest.json"
    if not path.is_file():
        raise _NoManifest("it has no manifest.json")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise _NoManifest("its manifest.json is not valid JSON") from None
    if not (isinstance(manifest, dict) and isinstance(manifest.get("files"), dict)
            and isinstance(manifest.get("counts"), dict)
            and isinstance(manifest.get("schema_version"), int)):
        raise _NoManifest("its manifest.json is not an opskit snapshot manifest")
    return manifest


def _not_a_snapshot(folder: Path) -> str | None:
    """Why `folder` is not one opskit wrote and may replace; None for a snapshot of its own
    (an opskit manifest, and no file but those it lists) or an empty folder."""
    entries = {p.name: p for p in folder.iterdir()}
    if not entries:
        return None
    try:
        manifest = _read_manifest(folder)
    except _NoManifest as why:
        return str(why)
    listed = {"manifest.json", *manifest["files"]}
    others = sorted(name for name, path in entries.items()
                    if name not in listed or path.is_symlink() or not path.is_file())
    if others:
        return (f"it holds {', '.join(others[:3])}{' …' if len(others) > 3 else ''}, not among "
                "the files its manifest lists")
    return None


def _replaceable(target: Path) -> None:
    """Refuse to replace anything but a snapshot opskit wrote, or an empty folder."""
    if target.is_symlink():
        raise ConfigError(f"{target} is a symbolic link",
                          "give the folder itself, or a new folder name for the snapshot")
    if not target.exists():
        return
    if not target.is_dir():
        raise ConfigError(f"{target} exists and is not a folder",
                          "give a new folder name for the snapshot")
    why = _not_a_snapshot(target)
    if why is not None:
        raise ConfigError(f"{target} is not a snapshot opskit wrote: {why}",
                          "give a new or empty folder, or an earlier snapshot's (a snapshot "
                          "replaces its folder whole)")


def _write_synced(path: Path, write: Callable[[Path], object]) -> str:
    """Write a file, flush it to disk, and return its sha256."""
    write(path)
    with path.open("rb") as f:
        os.fsync(f.fileno())
    return _sha256(path)


def save_snapshot(inv: Inventory, directory: str | os.PathLike[str]) -> Path:
    """Write the inventory to `directory` (parquet files + manifest.json), atomically.

    A snapshot opskit wrote there earlier (or an empty folder) is replaced so that a complete
    snapshot, old or new, is at `directory` at every moment; any other folder is refused.
    """
    if inv.meta.get("columns_read"):
        raise ConfigError("this inventory was loaded with only some columns (load_snapshot "
                          "columns=), so a snapshot of it would be incomplete",
                          "load the snapshot whole (without columns=) to save it again")
    target = Path(directory).expanduser().absolute()
    _swapdir.recover(target)  # a replace killed half-way: its old snapshot goes back first
    _replaceable(target)
    park = _swapdir.parked(target)
    if park.exists():
        _replaceable(park)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        checksums = {}
        for name, df in inv.frames().items():
            path = tmp / f"{name}.parquet"
            df = _as_text(df, _CODED_COLUMNS.get(name, ()))
            checksums[path.name] = _write_synced(path, partial(df.to_parquet, index=False))
        manifest = {"schema_version": SCHEMA_VERSION, "meta": inv.meta, "counts": inv.counts(),
                    "files": checksums}
        text = json.dumps(manifest, indent=2, default=str)
        _write_synced(tmp / "manifest.json", lambda path: path.write_text(text))
        _fsync_dir(tmp)
        _replaceable(target)  # again: it may have changed while the files were written
        _swapdir.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _as_text(df: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """The frame with its coded columns as text, as they are saved."""
    coded = [c for c in columns if isinstance(df[c].dtype, pd.CategoricalDtype)]
    return df.astype(dict.fromkeys(coded, "str")) if coded else df


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_snapshot(directory: str | os.PathLike[str], *,
                  columns: dict[str, list[str]] | None = None) -> Inventory:
    """Read a snapshot back, refusing one that is partial, altered or of another schema.

    ``columns``: of the frames it names, only those columns, for a reader that needs no more
    (``opskit.audit.COLUMNS_READ``: the permission audit, which reads no secret permission's
    id, 340 MB at scale 1,000 of the demo data). Such an inventory says so in
    ``meta["columns_read"]`` and is not saved again.
    """
    root = Path(directory)
    _swapdir.recover(root.expanduser().absolute())  # a replace killed half-way
    altered = "the snapshot was altered or is incomplete; take a new one"
    if not (root / "manifest.json").is_file():
        raise ConfigError(f"{root} is not an opskit snapshot (no manifest.json)",
                          "point at a folder written by `opskit inventory --out`")
    try:
        manifest = _read_manifest(root)
    except _NoManifest as why:
        raise OpskitError(f"{root}: {why}", altered) from None
    version = manifest["schema_version"]
    if version not in SCHEMA_FRAMES:
        raise ConfigError(f"{root}: snapshot schema version {version} is not one this opskit "
                          f"reads ({', '.join(map(str, SCHEMA_FRAMES))})",
                          "take a new snapshot with this opskit")
    for name, wanted in (columns or {}).items():
        unknown = [c for c in wanted if c not in COLUMNS.get(name, ())]
        if name not in COLUMNS or unknown:
            what = (f"no frame {name!r}" if name not in COLUMNS
                    else f"no column {unknown[0]!r} in {name}")
            raise ConfigError(f"load_snapshot columns=: an inventory has {what}",
                              f"name frames among {', '.join(FRAMES)} and their columns "
                              "(opskit.inventory.COLUMNS)")
    files, counts = manifest["files"], manifest["counts"]
    frames = {}
    for name in SCHEMA_FRAMES[version]:
        path = root / f"{name}.parquet"
        expected = files.get(path.name)
        if not path.is_file() or expected != _sha256(path):
            raise OpskitError(f"{root}: {path.name} is missing or does not match its checksum",
                              altered)
        df = _read_frame(path, _CODED_COLUMNS.get(name, ()), (columns or {}).get(name))
        if len(df) != counts.get(name):
            raise OpskitError(f"{root}: {path.name} holds {len(df)} rows, the manifest "
                              f"{counts.get(name)}", altered)
        frames[name] = df
    # What reading freed goes back to the system before the frames are worked on.
    pa.default_memory_pool().release_unused()
    meta = manifest.get("meta", {})
    if version == 1:
        frames, meta = _from_version_1(frames, meta)
    if columns:
        meta = {**meta, "columns_read": columns}
    return Inventory(**frames, meta=meta)


def _from_version_1(frames: dict[str, pd.DataFrame], meta: dict[str, Any]
                    ) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """A version-1 snapshot as version 2 holds it: no secret permissions read, and groups'
    created and last_modified missing (version 1 did not keep them)."""
    like = tidy_groups([])[0]
    groups = frames["groups"]
    for column in ("created", "last_modified"):
        groups[column] = pd.Series(index=groups.index, dtype=like[column].dtype)
    frames = {**frames, "groups": groups[COLUMNS["groups"]],
              "privileged_data_permissions": tidy_secret_permissions([])}
    return frames, {**meta, "secret_permissions_read": False}


def _read_frame(path: Path, coded: tuple[str, ...] = (),
                only: list[str] | None = None) -> pd.DataFrame:
    """A frame as saved. List cells are read straight into lists, as fetched: pandas would
    make each a numpy array first (measured at scale 100: a third of the CPU, and 6 MB more at
    the peak, for the folder permissions' rights). The `coded` columns are read on their own,
    as parquet keeps them, dictionary-encoded, and made categoricals from that (see _CODED):
    the rest of the file is not yet in memory meanwhile. `only`: just those columns."""
    names = [n for n in pq.read_schema(path).names if only is None or n in only]
    made = {name: pd.Series(_categorical(pq.read_table(
        path, columns=[name], read_dictionary=[name]).column(0)))
        for name in coded if name in names}
    table = pq.read_table(path, columns=[n for n in names if n not in made])
    for i, kind in enumerate(table.schema.types):
        if pa.types.is_list(kind) or pa.types.is_large_list(kind):
            made[table.schema.names[i]] = pd.Series(
                _columns.shared_lists(table.column(i).to_pylist()), dtype=object)
    table = table.drop_columns([n for n in made if n in table.schema.names])
    # Each column's Arrow memory freed as pandas takes it (the categoricals are copies).
    df = table.to_pandas(self_destruct=True)
    del table
    for name in names:  # in column order, so each goes back where it was
        if name in made:
            df.insert(names.index(name), name, made[name].set_axis(df.index))
    return df
