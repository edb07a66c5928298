"""Inventory: tidy frames from a tenant, snapshots on disk, other servers, and faults."""

from __future__ import annotations

import asyncio
import io
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tqdm.std import tqdm

from opskit import _swapdir, audit, http, inventory
from opskit._columns import PageReader
from opskit.config import CloudProfile, OnPremProfile, PracticeProfile, Profile, SecretRef
from opskit.errors import ConfigError, IncompleteError, NotScimResponse, OpskitError
from opskit.inventory import COLUMNS, FRAMES, Inventory, fetch_inventory
from opskit.limits import Limits
from opskit.sandbox import demodata
from opskit.sandbox.app import PREFIX, Sandbox
from opskit.sandbox.oauth import TOKEN_PATH
from opskit.sandbox.serve import RunningSandbox, running
from opskit.sandbox.store import Tenant
from opskit.sandbox.tenantfile import TenantFile, parse_tenant
from opskit.scim import ScimClient, ScimList, urns

from .conftest import SMALL
from .servers import (
    ListServer,
    Receive,
    Scope,
    Send,
    cloud_profile,
    onprem_profile,
    send_json,
    serve_asgi,
)

SORT_KEYS = {"group_members": ["group_id", "member_id"]}


pytestmark = pytest.mark.slow  # fault rehearsals that wait out Retry-After


def small_profile(flavor: str = "cloud") -> Profile:
    return PracticeProfile(f"small-{flavor}", flavor, data=str(SMALL))  # type: ignore[arg-type]


SERVED_AT = ["created", "last_modified"]


def canonical(df: pd.DataFrame, name: str) -> pd.DataFrame:
    keys = SORT_KEYS.get(name, ["id"])
    # Group meta stamps the moment each practice tenant was served: not the same across two.
    return df.drop(columns=SERVED_AT, errors="ignore").sort_values(keys).reset_index(drop=True)


def assert_same_inventory(got: Inventory, want: Inventory) -> None:
    for name in FRAMES:
        a, b = getattr(got, name), getattr(want, name)
        keys = SORT_KEYS.get(name, ["id"])
        assert not a.duplicated(keys).any(), f"duplicates in {name}"
        pd.testing.assert_frame_equal(canonical(a, name), canonical(b, name), obj=name)


# --------------------------------------------------------------------------- the practice tenant
def test_cloud_inventory_of_the_small_tenant() -> None:
    inv = fetch_inventory(small_profile("cloud"), progress=False, secret_permissions=True)
    for name in FRAMES:
        assert list(getattr(inv, name).columns) == COLUMNS[name]
    assert sorted(inv.users.id) == ["u-scim", "u1", "u2", "u3"]  # the cloud shows disabled too
    assert sorted(inv.groups.id) == ["g1", "g2", "g3", "g4"]  # Platform groups
    members = set(zip(inv.group_members.group_id, inv.group_members.member_id, strict=True))
    assert members == {("g1", "u1"), ("g1", "g3"), ("g2", "u-scim"), ("g3", "u2"), ("g4", "u1")}
    assert dict(zip(inv.group_members.member_id, inv.group_members.member_type,
                    strict=True))["g3"] == "Group"
    # Only folders the service user owns; their paths from the root.
    assert dict(zip(inv.containers.id, inv.containers.path, strict=True)) == {
        "f1": "/IT", "f2": "/IT/Databases", "f3": "/IT/Databases/Prod"}
    prod = inv.containers.set_index("id").loc["f3"]
    assert (prod.parent_id, prod.parent_name, prod.secret_count) == ("f2", "Databases", 1)
    assert sorted(inv.privileged_data.id) == ["s1", "s2"]
    secrets = inv.privileged_data.set_index("id")
    assert secrets.loc["s1", "container_id"] == "f3"
    perms = inv.container_permissions
    assert set(perms.container_id) == {"f1", "f2", "f3"}
    owner = perms[(perms.container_id == "f3") & (perms.principal_id == "g2")].iloc[0]
    assert (owner.principal_type, owner.right, list(owner.rights)) == ("group", "Owner",
                                                                       ["Owner"])
    # Secret permissions: those in effect on the secrets shown, with their secret roles.
    secret_perms = inv.privileged_data_permissions
    assert set(zip(secret_perms.privileged_data_id, secret_perms.principal_type,
                   secret_perms.principal_id, secret_perms.principal_name, secret_perms.right,
                   strict=True)) == {
        ("s1", "group", "g2", "Vault Admins", "Owner"), ("s1", "user", "u3", "Carol Ode", "View"),
        ("s2", "user", "u-scim", "SCIM Service", "Owner"), ("s2", "group", "g1", "DBA", "Edit")}
    assert inv.meta["secret_permissions_read"] is True
    meta = inv.meta
    assert meta["source"] == "small-cloud" and meta["flavor"] == "cloud"
    assert meta["complete"] is True and meta["notes"] == []
    assert meta["counts"] == inv.counts()
    assert pd.Timestamp(meta["fetched_at"]).tzinfo is not None


def test_onprem_inventory_of_the_small_tenant() -> None:
    inv = fetch_inventory(small_profile("onprem"), progress=False)
    assert sorted(inv.users.id) == ["u-scim", "u1", "u2"]  # enabled users only
    assert sorted(inv.groups.id) == ["g1", "g2", "g3", "g5"]  # Secret Server groups
    assert sorted(inv.containers.id) == ["f1", "f2", "f3", "f4", "f5"]
    assert dict(zip(inv.containers.id, inv.containers.path, strict=True))["f5"] == "/Shared"
    assert sorted(inv.privileged_data.id) == ["s1", "s2", "s3", "s4", "s5"]
    assert inv.meta["flavor"] == "onprem" and inv.complete
    # Not asked for: the secret permissions are not read (the longest listing).
    assert inv.privileged_data_permissions.empty
    assert inv.meta["secret_permissions_read"] is False


def test_a_tenant_without_secret_permissions_is_read_without_them(
        small_tenant: TenantFile) -> None:
    data = small_tenant.model_dump(exclude_none=True)
    data["cloud"]["resource_types"].remove("PrivilegedDataPermission")
    with running(parse_tenant(data, "no-secret-permissions")) as sb:
        inv = fetch_inventory(cloud_profile(sb), progress=False, secret_permissions=True)
    frame = inv.privileged_data_permissions
    assert frame.empty and list(frame.columns) == COLUMNS["privileged_data_permissions"]
    assert inv.meta["secret_permissions_read"] is False
    assert inv.complete and inv.meta["notes"] == []  # optional: its absence is no note
    assert sorted(inv.privileged_data.id) == ["s1", "s2"]


def test_the_bar_counts_out_of_what_the_listings_first_pages_total(
        sandbox: RunningSandbox) -> None:
    # The caller's own bar, written to a string: its total is what the server counts, N/M.
    bar = tqdm(file=io.StringIO(), unit=" resources")
    inv = fetch_inventory(cloud_profile(sandbox), progress=bar, secret_permissions=True)
    expected = sum(inv.meta["server_totals"].values())
    assert expected > 0 and inv.meta["server_totals"]["PrivilegedDataPermissions"] > 0
    assert (bar.n, bar.total) == (expected, expected)
    assert f"{expected}/{expected}" in bar.fp.getvalue()
    bar.close()


def test_paths_for_unseen_parents_and_cycles() -> None:
    assert inventory.folder_paths(["a", "b", "c"], ["A", "B", "C"], [None, "a", "zz"],
                                  [None, "A", "Hidden"]) == ["/A", "/A/B", "…/Hidden/C"]
    cyclic = inventory.folder_paths(["a", "b"], ["A", "B"], ["b", "a"], ["B", "A"])
    assert len(cyclic) == 2  # terminates


def test_fetch_inventory_from_inside_a_running_loop() -> None:
    """Notebooks call it with a loop already running."""
    async def inside() -> Inventory:
        return fetch_inventory(small_profile("cloud"), progress=False)

    assert len(asyncio.run(inside()).users) == 4


# --------------------------------------------------------------------------- two ways in
def test_both_ways_in_make_the_same_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages parsed by Arrow straight from the JSON, and pages parsed into Python objects and
    coerced (what an odd server's answers get), give identical frames, dtypes included."""
    tenant = parse_tenant(demodata.generate(scale=1), "demo")
    real = PageReader.from_json
    ways: Counter[str] = Counter()

    def counted(self: PageReader, raw: bytes) -> Any:
        got = real(self, raw)
        ways["arrow" if got is not None else "refused"] += 1
        return got

    with running(tenant) as sb:
        monkeypatch.setattr(PageReader, "from_json", counted)
        fast = {f: fetch_inventory(profile(sb), progress=False)
                for f, profile in (("cloud", cloud_profile), ("onprem", onprem_profile))}
        monkeypatch.setattr(PageReader, "from_json", lambda self, raw: None)
        lenient = {f: fetch_inventory(profile(sb), progress=False)
                   for f, profile in (("cloud", cloud_profile), ("onprem", onprem_profile))}
    assert ways["arrow"] >= 10 and ways["refused"] == 0
    for flavor, inv in fast.items():
        assert inv.complete and len(inv.privileged_data) > 100
        for name in FRAMES:
            assert list(getattr(inv, name).columns) == COLUMNS[name]
            pd.testing.assert_frame_equal(getattr(inv, name), getattr(lenient[flavor], name),
                                          obj=f"{flavor} {name}")


def test_answers_arrow_cannot_read_take_the_lenient_way() -> None:
    reader = inventory._READERS["PrivilegedData"]
    ok = b'{"totalResults":1,"Resources":[{"id":"s1","name":"a","container":{"value":"f1"}}]}'
    total, ids, page = reader.from_json(ok)
    assert (total, ids, len(page)) == (1, ["s1"], 1)
    for odd in (b'{"totalResults":1,"Resources":[{"id":1,"name":"a"}]}',  # a numeric id
                b'{"totalResults":"1","Resources":[]}',  # a count as text
                b'{"totalResults":1,"resources":[{"id":"s1"}]}',  # lower case
                b'{"totalResults":0}',  # no Resources at all
                b'{"a":1}\n{"b":2}', b"[1,2]", b"<html>"):
        assert reader.from_json(odd) is None, odd
    # The lenient way keeps what it can: text from numbers, booleans from "true"/"false",
    # and leaves out list members that are not objects.
    users = inventory.tidy_users([{"id": 7, "userName": "x", "active": "false",
                                   "emails": ["junk", {"value": "b"}, {"value": "a",
                                                                       "primary": True}]}])
    row = users.iloc[0]
    assert (row.id, row.active, row.email) == ("7", False, "a")
    groups, members = inventory.tidy_groups([{"id": "g", "members": [
        "junk", {"value": 5}, {"value": "g2", "$ref": "https://x/Groups/g2"}]}])
    assert list(groups.member_count) == [2]
    assert list(zip(members.member_id, members.member_type, strict=True)) == [
        ("5", "User"), ("g2", "Group")]


def test_null_list_members_read_the_same_both_ways() -> None:
    users = (b'{"totalResults":2,"Resources":[{"id":"u1","userName":"a","active":true,'
             b'"emails":[null,{"value":"b@x"},{"value":"a@x","primary":true}]},'
             b'{"id":"u2","userName":"b","emails":[null,{"value":"c@x"}]}]}')
    perms = (b'{"totalResults":1,"Resources":[{"id":"p1","container":{"value":"f1"},'
             b'"group":{"value":"g1"},"rights":[null,"View","Edit"]}]}')
    for endpoint, raw in (("Users", users), ("ContainerPermissions", perms)):
        reader = inventory._READERS[endpoint]
        fast = reader.from_json(raw)
        assert fast is not None
        lenient = reader(json.loads(raw)["Resources"])
        a = inventory._FRAMES[endpoint](ScimList([fast[2]], 2))
        b = inventory._FRAMES[endpoint](ScimList([lenient], 2))
        pd.testing.assert_frame_equal(a, b, obj=endpoint)
    frame = inventory._FRAMES["Users"](ScimList([inventory._READERS["Users"].from_json(users)[2]],
                                                2))
    assert list(frame.email) == ["a@x", "c@x"] and list(frame.active) == [True, True]


def test_active_flags_as_numbers_and_text() -> None:
    users = inventory.tidy_users([{"id": str(i), "active": v} for i, v in
                                  enumerate([0, 1, "0", "1", "False", None, "maybe"])])
    assert list(users.active) == [False, True, False, True, False, True, True]


def test_discovery_that_fails_does_not_throw_away_what_was_read() -> None:
    with serve_asgi(ListServer(30, failing=("/v2/ResourceTypes",))) as url:
        prof = OnPremProfile("flaky", base_url=url + "/v2",
                             token=SecretRef.practice("unused-token", "t"))
        inv = fetch_inventory(prof, progress=False)
    assert len(inv.users) == 30 and inv.complete
    assert any(n.startswith("ResourceTypes could not be read") for n in inv.meta["notes"])


def test_a_repeated_group_keeps_its_members_once() -> None:
    """Overlapping pages repeat a group: its members must not be counted twice."""
    read = inventory._READERS["Groups"]
    page1 = read([{"id": "g1", "members": [{"value": "u1"}, {"value": "u2"}]},
                  {"id": "g2", "members": [{"value": "u3"}]}])
    page2 = read([{"id": "g2", "members": [{"value": "u3"}]},
                  {"id": "g3", "members": [{"value": "u4"}]}])
    found = ScimList([page1, page2], 3, resources_read=3, keep=[[True, True], [False, True]])
    groups, members = inventory._FRAMES["Groups"](found)
    assert list(groups.id) == ["g1", "g2", "g3"]
    assert list(zip(members.group_id, members.member_id, strict=True)) == [
        ("g1", "u1"), ("g1", "u2"), ("g2", "u3"), ("g3", "u4")]


def test_overlapping_pages_make_no_duplicate_rows() -> None:
    with serve_asgi(ListServer(230, overlap=True)) as url:
        prof = OnPremProfile("overlap", base_url=url + "/v2",
                             token=SecretRef.practice("unused-token", "t"))
        inv = fetch_inventory(prof, progress=False)
    assert list(inv.users.id) == [str(i) for i in range(1, 231)] and inv.complete


# --------------------------------------------------------------------------- snapshots
@pytest.fixture(scope="module")
def small_inventory() -> Inventory:
    return fetch_inventory(small_profile("cloud"), progress=False, secret_permissions=True)


def leftovers(directory: Path, keep: str) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != keep)


def test_snapshot_round_trip(tmp_path: Path, small_inventory: Inventory) -> None:
    path = inventory.save_snapshot(small_inventory, tmp_path / "snap")
    assert path == tmp_path / "snap"
    assert sorted(p.name for p in path.iterdir()) == sorted(
        [f"{n}.parquet" for n in FRAMES] + ["manifest.json"])
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["schema_version"] == inventory.SCHEMA_VERSION
    assert manifest["counts"] == small_inventory.counts()
    assert set(manifest["files"]) == {f"{n}.parquet" for n in FRAMES}
    assert all(len(v) == 64 for v in manifest["files"].values())  # sha256
    back = inventory.load_snapshot(path)
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(back, name), getattr(small_inventory, name),
                                      obj=name)
    assert back.meta == json.loads(json.dumps(small_inventory.meta, default=str))
    assert back.container_permissions.rights.map(type).eq(list).all()  # lists, as fetched
    assert leftovers(tmp_path, "snap") == []  # no temporary folders left behind


def test_coded_columns_are_categoricals_in_memory_and_text_on_disk(
        tmp_path: Path, small_inventory: Inventory) -> None:
    path = inventory.save_snapshot(small_inventory, tmp_path / "snap")
    saved = pq.read_schema(path / "privileged_data_permissions.parquet")
    assert saved.field("privileged_data_id").type == pa.large_string()
    back = inventory.load_snapshot(path).privileged_data_permissions["privileged_data_id"]
    assert isinstance(back.dtype, pd.CategoricalDtype)
    rights = inventory.load_snapshot(path).container_permissions["rights"].tolist()
    assert len({id(r) for r in rights}) == len({tuple(r) for r in rights})  # one list each


def test_a_categorical_from_chunks_with_their_own_dictionaries() -> None:
    words = [["s2", None, "s10"], ["s10", "é", "s1"], []]
    chunks = pa.chunked_array([pa.array(w, pa.string()).dictionary_encode() for w in words])
    got = inventory._categorical(chunks)
    want = pd.Categorical([w for chunk in words for w in chunk])
    assert got.categories.tolist() == want.categories.tolist() == ["s1", "s10", "s2", "é"]
    assert got.codes.tolist() == want.codes.tolist()  # a null: -1
    plain = inventory._categorical(pa.chunked_array([pa.array(["b", "a", None])]))
    assert plain.tolist() == pd.Categorical(["b", "a", None]).tolist()


def test_a_snapshot_read_in_part(tmp_path: Path, small_inventory: Inventory) -> None:
    path = inventory.save_snapshot(small_inventory, tmp_path / "snap")
    part = inventory.load_snapshot(path, columns=audit.COLUMNS_READ)
    wanted = audit.COLUMNS_READ["privileged_data_permissions"]
    assert part.meta["columns_read"] == audit.COLUMNS_READ
    pd.testing.assert_frame_equal(part.privileged_data_permissions,
                                  small_inventory.privileged_data_permissions[wanted])
    pd.testing.assert_frame_equal(part.users, small_inventory.users)  # not named: whole
    with pytest.raises(ConfigError, match="only some columns") as refused:
        inventory.save_snapshot(part, tmp_path / "again")
    assert "load the snapshot whole" in str(refused.value.remediation)
    assert not (tmp_path / "again").exists()
    with pytest.raises(ConfigError, match="no column 'idd' in users"):
        inventory.load_snapshot(path, columns={"users": ["idd"]})
    with pytest.raises(ConfigError, match="no frame 'user'"):
        inventory.load_snapshot(path, columns={"user": ["id"]})


def as_version_1(path: Path) -> None:
    """Rewrite a snapshot as opskit's version-1 writer left it: no secret permissions, groups
    without created and last_modified, and a manifest saying so."""
    manifest_path = path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    (path / "privileged_data_permissions.parquet").unlink()
    del manifest["files"]["privileged_data_permissions.parquet"]
    del manifest["counts"]["privileged_data_permissions"]
    groups = pd.read_parquet(path / "groups.parquet").drop(columns=["created", "last_modified"])
    groups.to_parquet(path / "groups.parquet", index=False)
    manifest["files"]["groups.parquet"] = inventory._sha256(path / "groups.parquet")
    del manifest["meta"]["secret_permissions_read"]
    manifest["schema_version"] = 1
    manifest_path.write_text(json.dumps(manifest))


def test_a_version_1_snapshot_is_still_read(tmp_path: Path, small_inventory: Inventory) -> None:
    path = inventory.save_snapshot(small_inventory, tmp_path / "snap")
    as_version_1(path)
    back = inventory.load_snapshot(path)
    fresh = inventory.tidy_groups([])[0]
    for name in FRAMES:  # every frame, with its columns and their types
        got = getattr(back, name)
        assert list(got.columns) == COLUMNS[name], name
        if name == "groups":
            assert got[SERVED_AT].isna().all().all()
            assert got.dtypes[SERVED_AT].tolist() == fresh.dtypes[SERVED_AT].tolist()
            got = got.drop(columns=SERVED_AT)
        want = getattr(small_inventory, name)
        if name == "privileged_data_permissions":
            want = inventory.tidy_secret_permissions([])  # version 1 did not read them
        elif name == "groups":
            want = want.drop(columns=SERVED_AT)
        pd.testing.assert_frame_equal(got, want, obj=name)
    assert back.meta["secret_permissions_read"] is False  # secret roles unknown, not none
    # And it can be replaced by a new snapshot, as any snapshot opskit wrote.
    inventory.save_snapshot(small_inventory, path)
    assert inventory.load_snapshot(path).meta["secret_permissions_read"] is True


def test_snapshot_replaces_an_older_snapshot(tmp_path: Path, small_inventory: Inventory) -> None:
    target = tmp_path / "snap"
    inventory.save_snapshot(small_inventory, target)
    smaller = Inventory(**{n: getattr(small_inventory, n).head(1) for n in FRAMES},
                        meta={**small_inventory.meta, "note": "second"})
    inventory.save_snapshot(smaller, target)
    back = inventory.load_snapshot(target)
    assert back.meta["note"] == "second" and len(back.users) == 1
    assert leftovers(tmp_path, "snap") == []


def test_snapshot_refuses_to_replace_other_folders(tmp_path: Path,
                                                   small_inventory: Inventory) -> None:
    precious = tmp_path / "reports"
    precious.mkdir()
    (precious / "q3.xlsx").write_text("keep me")
    with pytest.raises(ConfigError) as info:
        inventory.save_snapshot(small_inventory, precious)
    assert info.value.remediation
    assert (precious / "q3.xlsx").read_text() == "keep me"
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(ConfigError):
        inventory.save_snapshot(small_inventory, a_file)
    empty = tmp_path / "empty"
    empty.mkdir()
    inventory.save_snapshot(small_inventory, empty)  # an empty folder is fine
    assert leftovers(tmp_path, "") == ["empty", "file.txt", "reports"]


def test_snapshot_refuses_a_folder_that_only_looks_like_one(
        tmp_path: Path, small_inventory: Inventory) -> None:
    """A folder with a manifest.json is replaced only if opskit wrote it: its manifest, and no
    file but those the manifest lists."""
    ours = inventory.save_snapshot(small_inventory, tmp_path / "ours")
    ours_manifest = (ours / "manifest.json").read_text()
    foreign = {
        "another tool's": {"manifest.json": '{"name": "site", "version": 3}', "a.html": "x"},
        "not JSON": {"manifest.json": "{", "users.parquet": "x"},
        "extra files": {"manifest.json": ours_manifest, "users.parquet": "x",
                        "grant_history.parquet": "keep me"},
    }
    for name, files in foreign.items():
        folder = tmp_path / name
        folder.mkdir()
        for file, text in files.items():
            (folder / file).write_text(text)
        with pytest.raises(ConfigError, match="is not a snapshot opskit wrote") as info:
            inventory.save_snapshot(small_inventory, folder)
        assert "\n" not in info.value.message and info.value.remediation
        assert {f.name: f.read_text() for f in folder.iterdir()} == files, name
    (ours / "notes.txt").write_text("mine")  # an opskit snapshot someone added a file to
    with pytest.raises(ConfigError, match=r"notes\.txt"):
        inventory.save_snapshot(small_inventory, ours)
    assert (ours / "notes.txt").read_text() == "mine"
    assert leftovers(tmp_path, "") == sorted([*foreign, "ours"])


def test_replacing_a_snapshot_swaps_it_in_one_step(tmp_path: Path, small_inventory: Inventory,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """On Linux the old snapshot and the new one are exchanged at once (renameat2): the
    snapshot at the path is the old one whole until the exchange, the new one whole after."""
    target = inventory.save_snapshot(small_inventory, tmp_path / "snap")
    smaller = Inventory(**{n: getattr(small_inventory, n).head(1) for n in FRAMES},
                        meta={**small_inventory.meta, "note": "second"})
    seen: list[int] = []
    real = _swapdir.exchange

    def watched(a: Path, b: Path) -> bool:
        seen.append(len(inventory.load_snapshot(target).users))
        done = real(a, b)
        seen.append(len(inventory.load_snapshot(target).users))
        return done

    monkeypatch.setattr(_swapdir, "exchange", watched)
    inventory.save_snapshot(smaller, target)
    assert seen == [len(small_inventory.users), 1]
    assert leftovers(tmp_path, "snap") == []


KILLED_BETWEEN_RENAMES = """
import os, sys, time
from opskit import _swapdir, inventory

_swapdir.exchange = lambda a, b: False  # as where renameat2 cannot exchange
real_rename = os.rename

def rename(src, dst):
    real_rename(src, dst)
    if str(src) == sys.argv[2]:  # the old snapshot is moved aside: stop here
        print("moved", flush=True)
        time.sleep(60)

os.rename = rename
inventory.save_snapshot(inventory.load_snapshot(sys.argv[1]), sys.argv[2])
"""


def test_a_save_killed_between_its_steps_leaves_a_snapshot_to_recover(
        tmp_path: Path, small_inventory: Inventory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without renameat2, a save killed after moving the old snapshot aside and before renaming
    the new one in leaves the path empty: the next load (or save) puts the old one back."""
    import select
    import subprocess
    import sys

    old = inventory.save_snapshot(small_inventory, tmp_path / "snap")
    smaller = Inventory(**{n: getattr(small_inventory, n).head(1) for n in FRAMES},
                        meta={**small_inventory.meta, "note": "second"})
    newer = inventory.save_snapshot(smaller, tmp_path / "newer")
    child = subprocess.Popen([sys.executable, "-c", KILLED_BETWEEN_RENAMES, str(newer),
                              str(old)], stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([child.stdout], [], [], 60)  # hang guard
        assert ready and child.stdout and child.stdout.readline() == "moved\n"
    finally:
        child.kill()  # SIGKILL: no clean-up runs
        child.wait(10)
    assert not old.exists()  # the moment between the two steps
    back = inventory.load_snapshot(old)
    assert len(back.users) == len(small_inventory.users) and "note" not in back.meta
    monkeypatch.setattr(_swapdir, "exchange", lambda a, b: False)
    inventory.save_snapshot(smaller, old)  # the save after it, in two steps, is whole
    assert inventory.load_snapshot(old).meta["note"] == "second"
    assert not _swapdir.parked(old).exists()


def test_a_failed_save_leaves_nothing(tmp_path: Path, small_inventory: Inventory) -> None:
    broken = Inventory(**{n: getattr(small_inventory, n) for n in FRAMES},
                       meta=small_inventory.meta)
    broken.users = broken.users.assign(active=[object()] * len(broken.users))  # unwritable
    with pytest.raises(Exception):  # noqa: B017 - pyarrow's own error
        inventory.save_snapshot(broken, tmp_path / "snap")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("tamper", ["parquet", "missing", "manifest-json", "counts", "schema"])
def test_a_tampered_snapshot_is_refused(tmp_path: Path, small_inventory: Inventory,
                                        tamper: str) -> None:
    path = inventory.save_snapshot(small_inventory, tmp_path / "snap")
    manifest_path = path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if tamper == "parquet":
        users = pd.read_parquet(path / "users.parquet")
        users.loc[0, "userName"] = "mallory@acme.com"
        users.to_parquet(path / "users.parquet", index=False)
    elif tamper == "missing":
        (path / "groups.parquet").unlink()
    elif tamper == "manifest-json":
        manifest_path.write_text(manifest_path.read_text()[:-20])
    elif tamper == "counts":
        # A consistent-looking file swap: new checksum, but the rows disagree with the counts.
        pd.read_parquet(path / "users.parquet").head(1).to_parquet(path / "users.parquet",
                                                                   index=False)
        manifest["files"]["users.parquet"] = inventory._sha256(path / "users.parquet")
        manifest_path.write_text(json.dumps(manifest))
    elif tamper == "schema":
        manifest["schema_version"] = 99
        manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(OpskitError) as info:
        inventory.load_snapshot(path)
    assert info.value.remediation
    with pytest.raises(ConfigError, match=r"no manifest\.json"):
        inventory.load_snapshot(tmp_path)


# --------------------------------------------------------------------------- scim2-server
def test_plain_scim_server_without_pam_types(plain_scim_server: Any) -> None:
    """scim2-server has Users and Groups only: PAM frames come back empty, with a note."""
    base = f"http://127.0.0.1:{plain_scim_server.port}/v2"
    prof = OnPremProfile("scim2", base_url=base,
                         token=SecretRef.practice("unused-token", "t"))

    async def seed() -> tuple[set[str], set[str], set[tuple[str, str]]]:
        async with ScimClient.for_profile(prof) as c:
            before_users = {u["id"] for u in await c.list("Users")}
            before_groups = {g["id"] for g in await c.list("Groups")}
            users = [await c.create("Users", {"schemas": [urns.USER],
                                              "userName": f"inv{i}@example.org",
                                              "displayName": f"Inv {i}"}) for i in range(6)]
            admins = await c.create("Groups", {
                "schemas": [urns.GROUP], "displayName": "Inventory Admins",
                "members": [{"value": u["id"], "type": "User"} for u in users[:3]]})
            everyone = await c.create("Groups", {
                "schemas": [urns.GROUP], "displayName": "Inventory Everyone",
                "members": [{"value": u["id"], "type": "User"} for u in users[3:]]
                + [{"value": admins["id"], "type": "Group"}]})
            members = {(admins["id"], u["id"]) for u in users[:3]}
            members |= {(everyone["id"], u["id"]) for u in users[3:]}
            members.add((everyone["id"], admins["id"]))
            return (before_users | {u["id"] for u in users},
                    before_groups | {admins["id"], everyone["id"]}, members)

    user_ids, group_ids, members = asyncio.run(seed())
    inv = fetch_inventory(prof, progress=False)
    assert set(inv.users.id) == user_ids and inv.users.id.is_unique
    assert set(inv.groups.id) == group_ids
    assert {f"inv{i}@example.org" for i in range(6)} <= set(inv.users.userName)
    got = set(zip(inv.group_members.group_id, inv.group_members.member_id, strict=True))
    assert members <= got
    for name in ("containers", "container_permissions", "privileged_data"):
        frame = getattr(inv, name)
        assert frame.empty and list(frame.columns) == COLUMNS[name]
    notes = " ".join(inv.meta["notes"])
    for kind in urns.PAM_TYPES:
        assert kind in notes
    assert inv.complete and inv.meta["pam"] is False


def test_a_lenient_server_with_users_only() -> None:
    """No ResourceTypes, numeric ids, application/json: Users read, the rest noted as absent."""
    with serve_asgi(ListServer(130, lenient=True)) as url:
        prof = OnPremProfile("lenient", base_url=url + "/v2",
                             token=SecretRef.practice("unused-token", "t"))
        inv = fetch_inventory(prof, progress=False)
    assert sorted(inv.users.id, key=int) == [str(i) for i in range(1, 131)]
    assert inv.complete and inv.counts()["groups"] == 0
    for endpoint in ("Groups", "Containers", "ContainerPermissions", "PrivilegedData"):
        assert f"{endpoint}: not found on this server" in inv.meta["notes"]


def test_an_unconnected_sandbox_profile_says_how_to_connect() -> None:
    with pytest.raises(ConfigError, match="connect"):
        ScimClient.for_profile(small_profile("cloud"))


# --------------------------------------------------------------------------- reliability
@pytest.fixture(scope="module")
def demo_tenant() -> TenantFile:
    data = demodata.generate(scale=1)
    data["limits"] = {"max_results": 50}  # many pages, so faults have pages to hit
    return parse_tenant(data, "demo")


@pytest.fixture(scope="module")
def fault_free(demo_tenant: TenantFile) -> dict[str, Inventory]:
    out = {}
    with running(demo_tenant) as sb:
        out["cloud"] = fetch_inventory(cloud_profile(sb), progress=False)
        out["onprem"] = fetch_inventory(onprem_profile(sb), progress=False)
    for inv in out.values():
        assert inv.complete and inv.meta["requests"] > 20
    return out


def test_faults_do_not_change_the_inventory(demo_tenant: TenantFile,
                                            fault_free: dict[str, Inventory]) -> None:
    """The rehearsal spec as documented (Retry-After 1 s), tokens dying after 1 s."""
    faults = "429=0.1,503=0.05,drop=0.02,token_expiry=1,seed=1"
    with running(demo_tenant, faults=faults, latency_ms=30) as sb:
        inv = fetch_inventory(cloud_profile(sb), progress=False)
        tokens = sb.sandbox.issuer.issued
    assert inv.complete and inv.meta["notes"] == []
    assert_same_inventory(inv, fault_free["cloud"])
    assert tokens > 1  # tokens really did expire during the run


def test_faults_are_really_met_and_survived(demo_tenant: TenantFile,
                                            fault_free: dict[str, Inventory]) -> None:
    heard: Counter[object] = Counter()

    async def go(sb: RunningSandbox) -> tuple[Inventory, int]:
        prof = cloud_profile(sb)
        async with ScimClient.for_profile(prof, page_size=25) as c:
            c.http._transport.listeners.append(lambda what: heard.update([what]))  # type: ignore[attr-defined]
            inv = await inventory.fetch(c, source="faulty", progress=False)
            return inv, c.http.auth.fetches  # type: ignore[union-attr]

    faults = "429=0.1,503=0.05,drop=0.05,token_expiry=0.3,retry_after=0,seed=3"
    with running(demo_tenant, faults=faults, latency_ms=50) as sb:
        inv, fetches = asyncio.run(go(sb))
    assert_same_inventory(inv, fault_free["cloud"])
    assert heard[429] and heard[503]
    assert heard["RemoteProtocolError"] + heard["ReadError"] > 0  # dropped connections
    assert fetches > 1  # expired tokens were replaced mid-run


def test_onprem_faults_do_not_change_the_inventory(demo_tenant: TenantFile,
                                                   fault_free: dict[str, Inventory]) -> None:
    with running(demo_tenant, faults="429=0.15,503=0.1,drop=0.05,seed=4,retry_after=0") as sb:
        inv = fetch_inventory(onprem_profile(sb), progress=False)
    assert inv.complete
    assert_same_inventory(inv, fault_free["onprem"])


class FailPage:
    """Wraps an ASGI app: one page of one endpoint answers `status` (503 by default, with
    Retry-After: 0) forever."""

    def __init__(self, app: Any, endpoint: str, start: int, status: int = 503) -> None:
        self.app, self.endpoint, self.start, self.status = app, endpoint, start, status
        self.failures = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith(f"/{self.endpoint}"):
            query = parse_qs(scope["query_string"].decode())
            if int(query.get("startIndex", ["1"])[0]) == self.start:
                self.failures += 1
                body = json.dumps({"schemas": [urns.ERROR], "status": str(self.status),
                                   "detail": "Secret Server service unavailable."}).encode()
                await send_json(send, self.status, body, headers=[(b"retry-after", b"0")])
                return
        await self.app(scope, receive, send)


@contextmanager
def failing(tenant: TenantFile, endpoint: str, start: int,
            status: int = 503) -> Iterator[tuple[Profile, FailPage]]:
    app = FailPage(Sandbox(Tenant(tenant)).app, endpoint, start, status)
    with serve_asgi(app) as url:
        sa = tenant.service_account
        yield CloudProfile("failing", base_url=url + PREFIX["cloud"],
                           token_url=url + TOKEN_PATH, client_id=sa.client_id,
                           client_secret=SecretRef.practice(sa.client_secret, "client_secret")), app


@pytest.mark.parametrize(("endpoint", "start"), [("Users", 51), ("PrivilegedData", 1),
                                                 ("ContainerPermissions", 301)])
def test_a_page_that_keeps_failing_is_never_a_short_result(
        demo_tenant: TenantFile, fault_free: dict[str, Inventory], endpoint: str,
        start: int) -> None:
    with failing(demo_tenant, endpoint, start) as (prof, app), \
            pytest.raises(IncompleteError) as info:
        fetch_inventory(prof, progress=False)
    error = info.value
    assert (error.resource, error.page) == (endpoint, start)
    assert endpoint in str(error) and f"startIndex {start}" in str(error)
    assert error.remediation
    assert app.failures == http.RetryPolicy().max_attempts  # retried, then given up
    partial = error.partial
    assert isinstance(partial, Inventory)
    assert partial.complete is False and partial.meta["complete"] is False
    assert [n for n in partial.meta["notes"] if n.startswith(f"{endpoint}:")] == [
        error.message]
    frame = inventory._ENDPOINT_FRAMES[endpoint]
    for name in FRAMES:  # everything else was read whole
        if name != frame and not (frame == "groups" and name == "group_members"):
            got, want = getattr(partial, name), getattr(fault_free["cloud"], name)
            if frame == "privileged_data" and name == "containers":
                # Secret counts come from the secrets read: unknown, not zero, without them.
                assert got["secret_count"].isna().all()
                got, want = got.drop(columns="secret_count"), want.drop(columns="secret_count")
            pd.testing.assert_frame_equal(canonical(got, name), canonical(want, name))


@pytest.mark.parametrize("status", [403, 500])
def test_a_refused_secret_permission_listing_costs_a_note_not_the_inventory(
        small_tenant: TenantFile, status: int) -> None:
    with failing(small_tenant, "PrivilegedDataPermissions", 1, status) as (prof, app):
        inv = fetch_inventory(prof, progress=False, secret_permissions=True)
        assert app.failures  # asked, and refused
        plain = fetch_inventory(prof, progress=False)
    assert inv.complete and inv.meta["secret_permissions_read"] is False
    assert inv.privileged_data_permissions.empty
    [note] = inv.meta["notes"]
    assert note.startswith("PrivilegedDataPermissions: not read (")
    assert "secret roles are unknown" in note
    # Everything else reads as without the listing.
    assert inv.counts() == plain.counts() and plain.counts()["privileged_data"] == 2


def test_a_wrong_base_url_is_not_an_empty_inventory(sandbox: RunningSandbox) -> None:
    prof = OnPremProfile("wrong", base_url=sandbox.url + "/SCIMConnector/v3",
                         token=SecretRef.practice("practice-onprem-token", "t"))
    with pytest.raises(NotScimResponse) as info:
        fetch_inventory(prof, progress=False)
    assert "base URL" in info.value.remediation


def test_access_denied_is_reported_as_such(small_tenant: TenantFile) -> None:
    from opskit.errors import ScimAccessDenied

    data = small_tenant.model_dump(by_alias=True, exclude_none=True)
    data["service_account"]["has_scim_role"] = False
    with running(parse_tenant(data, "no-role")) as sb, \
            pytest.raises(ScimAccessDenied) as info:
        fetch_inventory(cloud_profile(sb), progress=False)
    assert "Bypass Direct API" in str(info.value)
    assert info.value.partial is None or info.value.partial.complete is False


def test_secret_server_out_of_reach_is_said_with_its_remedy(small_tenant: TenantFile) -> None:
    small_tenant.cloud.secret_server_reachable = False
    with running(small_tenant) as sb, pytest.raises(IncompleteError) as info:
        fetch_inventory(cloud_profile(sb, limits=Limits(max_attempts=2)), progress=False)
    assert "Secret Server unreachable" in info.value.message
    assert "status.delinea.com" in info.value.remediation


def test_every_listing_is_started() -> None:
    # The order listings start in (largest first) names each of them once.
    assert sorted(inventory._READ_ORDER) == sorted(inventory._ENDPOINT_FRAMES)
