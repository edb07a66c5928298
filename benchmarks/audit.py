"""Permission audit speed: opskit.audit (pandas + numpy) against the same in DuckDB SQL.

Run: .venv/bin/python benchmarks/audit.py [--scale 100] [--seed 0] [--runs 3]

One run, side by side, over the same DataFrames:

- the demo tenant at --scale is built once and read into the two inventories the audit takes,
  cloud (what the service account sees; without its secret permissions, as the permission
  audit reads it beside a reference) and on-prem (everything), exactly as `opskit.inventory`
  frames them but without HTTP: each resource is rendered by the practice tenant's store and
  turned into rows by the inventory's own row functions. Both are saved as snapshots under
  build/bench/ and reused while the tenant data stays the same;
- opskit: `opskit.audit.audit_permissions(cloud, onprem, ...)`: coverage, every permission
  finding, and the effective access (user → folder → right → via) of the on-prem view, held
  factorised, its rows counted per right and per folder;
- duckdb: one SQL script over the same DataFrames (DuckDB scans them in place) computing the
  same: folder sources from the inherited-id form, nested groups by a recursive CTE, the
  effective-access table (kept as a DuckDB table), coverage and the same findings.

Each side runs in a child process of its own (Linux carries a process's peak RSS across fork,
so the parent never loads the data): load the snapshots (whole, as the report holds what it
fetched), one untimed warm-up, then --runs timed runs; the median is reported with the
child's peak RSS. The results are compared: access rows, rows per right, rows per folder, and
the (code, subject) set of the findings. Targets (issue 6):
opskit ≤ 1.5 × DuckDB, peak < 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SA = "scim.integration@acme.com"
TENANT = "acme"
SIDES = ("opskit", "duckdb-ids", "duckdb-names")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- data
CHUNK = 50_000  # resources rendered and framed at a time: at scale 1,000 all would not fit


def build(scale: int, seed: int, out: Path) -> dict[str, Any]:
    """Both inventories of the demo tenant, as snapshots (in a child: this is the heavy part).

    Streamed per listing and in chunks: CHUNK resources rendered to dicts, framed, the dicts
    dropped; the chunks' frames joined per listing. One flavor is in memory at a time."""
    from datetime import UTC, datetime

    import pandas as pd
    from pandas.api.types import union_categoricals

    from opskit import inventory as inv_mod
    from opskit.sandbox.demodata import generate
    from opskit.sandbox.store import Tenant
    from opskit.sandbox.tenantfile import parse_tenant

    started = time.perf_counter()
    data = generate(scale, seed)
    tenant = Tenant(parse_tenant(data, "<demo data>"))
    del data  # the store holds its own records
    counts = {}
    for flavor in ("cloud", "onprem"):
        base = "http://bench.invalid/v2"

        def docs(kind: str, ids: list[str], flavor: str = flavor, base: str = base
                 ) -> list[dict[str, Any]]:
            return [tenant.render(flavor, kind, rid, base)  # type: ignore[arg-type]
                    for rid in ids]

        def chunks(kind: str, tidy: Any, flavor: str = flavor) -> list[Any]:
            ids = tenant.ids(flavor, kind)  # type: ignore[arg-type]
            return [tidy(docs(kind, ids[i:i + CHUNK]))
                    for i in range(0, max(len(ids), 1), CHUNK)]  # an empty listing: one chunk

        def joined(kind: str, tidy: Any) -> pd.DataFrame:
            parts = chunks(kind, tidy)
            frame = pd.concat(parts, ignore_index=True)
            for column in frame.columns:  # the chunks' categoricals, joined (concat gave text)
                if isinstance(parts[0][column].dtype, pd.CategoricalDtype):
                    frame[column] = union_categoricals([p[column] for p in parts],
                                                       sort_categories=True)
            return frame

        group_parts = chunks("Group", inv_mod.tidy_groups)
        inv = inv_mod.Inventory(
            users=joined("User", inv_mod.tidy_users),
            groups=pd.concat([g for g, _ in group_parts], ignore_index=True),
            group_members=pd.concat([m for _, m in group_parts], ignore_index=True),
            # Folder paths need every folder at once (a parent in another chunk is unseen).
            containers=inv_mod.tidy_containers(
                docs("Container", tenant.ids(flavor, "Container"))),
            container_permissions=joined("ContainerPermission", inv_mod.tidy_permissions),
            privileged_data=joined("PrivilegedData", inv_mod.tidy_privileged_data),
            # The cloud view as the permission audit reads it beside a reference: without its
            # secret permissions (the reference's are the ones the audit reads).
            privileged_data_permissions=joined("PrivilegedDataPermission",
                                               inv_mod.tidy_secret_permissions)
            if flavor == "onprem" else inv_mod.tidy_secret_permissions([]))
        del group_parts
        per = inv.privileged_data["container_id"].value_counts()
        inv.containers["secret_count"] = inv.containers["id"].map(per).fillna(0).astype("Int64")
        inv.meta = {"source": f"bench-{flavor}", "flavor": flavor, "complete": True,
                    "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "secret_permissions_read": flavor == "onprem"}
        inv_mod.save_snapshot(inv, out / flavor)
        counts[flavor] = inv.counts()
        del inv
    return {"seconds": round(time.perf_counter() - started, 1), "counts": counts,
            "peak_rss_mb": round(peak_rss_mb())}


def load(out: Path) -> tuple[Any, Any]:
    """Both snapshots, whole, as the permission audit holds the inventories it fetched (their
    what-if, in the report's explorer, reads every column)."""
    from opskit.inventory import load_snapshot

    return load_snapshot(out / "cloud"), load_snapshot(out / "onprem")


# --------------------------------------------------------------------------- opskit
def run_opskit(cloud: Any, onprem: Any) -> tuple[Any, dict[str, Any]]:
    from opskit.audit import audit_permissions

    result = audit_permissions(cloud, onprem, tenant=TENANT, service_account=SA)
    summary = {**access_counts(result.access),
               "findings": sorted([f.code, f.subject] for f in result.findings)}
    return result, summary


def access_counts(access: Any) -> dict[str, Any]:
    """Rows of the user × folder × grant table, in all, per right and per folder, counted from
    the factorised access (no table made)."""
    rows, per_right, per_folder = (access.count_rows(), access.count_rows("right"),
                                   access.count_rows("folder"))
    return {"rows": int(rows),
            "per_right": {str(k): int(v) for k, v in per_right.items() if v},
            "per_folder": {str(k): int(v) for k, v in per_folder.items() if v}}


# --------------------------------------------------------------------------- duckdb
def _reach_sql(p: str) -> str:
    """Nested groups of view p: every (group, user) with the shortest chain of groups."""
    return f"""
CREATE OR REPLACE TEMP TABLE {p}_nest AS
WITH RECURSIVE walk(root, node, via, depth, visited) AS (
    SELECT id, id, displayName, 0, [id] FROM {p}_groups
    UNION ALL
    SELECT w.root, m.member_id, w.via || ' > ' || g.displayName, w.depth + 1,
           list_append(w.visited, m.member_id)
    FROM walk w
    JOIN {p}_group_members m ON m.group_id = w.node AND m.member_type = 'Group'
    JOIN {p}_groups g ON g.id = m.member_id
    WHERE NOT list_contains(w.visited, m.member_id)
)
SELECT root, node, arg_min(via, (depth, via)) AS via, min(depth) AS depth
FROM walk GROUP BY root, node;

CREATE OR REPLACE TEMP TABLE {p}_reach AS
SELECT n.root AS group_id, m.member_id AS user_id,
       arg_min(n.via, (n.depth, n.via)) AS via
FROM {p}_nest n JOIN {p}_group_members m ON m.group_id = n.node AND m.member_type = 'User'
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE {p}_own AS
WITH listed AS (
    SELECT p.*, CASE WHEN p.id LIKE '%-' || p.container_id
                     THEN left(p.id, length(p.id) - length(p.container_id) - 1) END AS base
    FROM {p}_container_permissions p
), sourced AS (
    SELECT l.*, b.container_id AS inherited_from
    FROM listed l LEFT JOIN {p}_container_permissions b
      ON b.id = l.base AND b.container_id <> l.container_id
), folders AS (
    SELECT container_id, bool_and(inherited_from IS NOT NULL) AS inherits,
           any_value(inherited_from) AS src
    FROM sourced GROUP BY container_id
)
SELECT s.*, f.inherits, CASE WHEN f.inherits THEN f.src ELSE s.container_id END AS source
FROM sourced s JOIN folders f USING (container_id);
"""


DUCKDB_SQL = """
CREATE OR REPLACE TEMP TABLE users_all AS
SELECT id, first(userName ORDER BY k) AS userName, first(displayName ORDER BY k) AS displayName,
       first(active ORDER BY k) AS active
FROM (SELECT *, 1 AS k FROM ref_users UNION ALL SELECT *, 2 AS k FROM cloud_users)
GROUP BY id;

-- effective grants per folder: each folder's source folder's own rows
CREATE OR REPLACE TEMP TABLE ref_eff AS
WITH src AS (SELECT DISTINCT container_id, source FROM ref_own)
SELECT src.container_id AS folder_id, o.principal_type, o.principal_id, o.principal_name,
       o."right", o.source AS granted_on_id
FROM src JOIN ref_own o ON o.container_id = src.source AND NOT o.inherits;

-- group members by displayName: the cloud's when it has the group, else the reference's
CREATE OR REPLACE TEMP TABLE members AS
WITH c AS (
    SELECT g.displayName, lower(coalesce(u.userName, r.user_id)) AS member
    FROM cloud_groups g LEFT JOIN cloud_reach r ON r.group_id = g.id
    LEFT JOIN users_all u ON u.id = r.user_id
), rr AS (
    SELECT g.displayName, lower(coalesce(u.userName, r.user_id)) AS member
    FROM ref_groups g LEFT JOIN ref_reach r ON r.group_id = g.id
    LEFT JOIN users_all u ON u.id = r.user_id
    WHERE g.displayName NOT IN (SELECT displayName FROM cloud_groups)
)
SELECT displayName, list(member) FILTER (WHERE member IS NOT NULL) AS members
FROM (SELECT * FROM c UNION ALL SELECT * FROM rr) GROUP BY displayName;

CREATE OR REPLACE TEMP TABLE own_named AS
WITH unique_display AS (
    SELECT displayName, any_value(userName) AS userName, any_value(active) AS active
    FROM users_all GROUP BY displayName HAVING count(*) = 1
)
SELECT f.path AS folder, o.principal_type,
       CASE WHEN o.principal_type = 'user'
            THEN coalesce(u.userName, d.userName, o.principal_name)
            ELSE coalesce(g.displayName, o.principal_name) END AS principal,
       CASE WHEN o.principal_type = 'user' THEN coalesce(u.active, d.active) END AS active,
       o."right", o.rights,
       '[' || array_to_string(o.rights, ', ') || '] on ' || f.path AS "where"
FROM ref_own o JOIN ref_containers f ON f.id = o.container_id
LEFT JOIN users_all u ON o.principal_type = 'user' AND u.id = o.principal_id
LEFT JOIN unique_display d ON o.principal_type = 'user' AND u.id IS NULL
     AND d.displayName = o.principal_name
LEFT JOIN ref_groups g ON o.principal_type = 'group' AND g.id = o.principal_id
WHERE NOT o.inherits;

CREATE OR REPLACE TEMP TABLE flagged AS
SELECT n.*, CASE WHEN principal_type = 'user' THEN lower(principal) = sa()
                 ELSE coalesce(list_contains(m.members, sa()), false) END AS is_sa,
       CASE WHEN principal_type = 'user' THEN lower(principal) <> sa()
            ELSE coalesce(len(list_filter(m.members, lambda x: x <> sa())) > 0, false)
       END AS person,
       m.displayName IS NOT NULL AND coalesce(len(m.members), 0) = 0 AS empty_group
FROM own_named n LEFT JOIN members m
  ON n.principal_type = 'group' AND m.displayName = n.principal;

-- coverage
CREATE OR REPLACE TEMP TABLE hidden AS
SELECT r.id, r.path, r.parent_id FROM ref_containers r
WHERE r.id NOT IN (SELECT id FROM cloud_containers);

CREATE OR REPLACE TEMP TABLE hidden_roots AS
WITH RECURSIVE sub(root, id) AS (
    SELECT h.id, h.id FROM hidden h
    WHERE h.parent_id IS NULL OR h.parent_id NOT IN (SELECT id FROM hidden)
    UNION ALL
    SELECT s.root, h.id FROM sub s JOIN hidden h ON h.parent_id = s.id
)
SELECT sub.root, count(DISTINCT sub.id) AS folders, count(p.id) AS secrets
FROM sub LEFT JOIN ref_privileged_data p ON p.container_id = sub.id
GROUP BY sub.root;

-- subtrees (a visible folder with its own permissions, and those inheriting them) holding
-- secrets none of which the cloud returns
CREATE OR REPLACE TEMP TABLE dark AS
WITH src AS (SELECT DISTINCT container_id, source FROM cloud_own)
SELECT src.source
FROM src JOIN ref_privileged_data p ON p.container_id = src.container_id
GROUP BY src.source
HAVING bool_and(p.id NOT IN (SELECT id FROM cloud_privileged_data));
"""

# The effective-access table, in two shapes: with names (userName, folder path, via chain),
# as opskit's table reads, or with ids only (names a join away), the cheaper shape for DuckDB.
ACCESS_SQL = {"names": """
DROP TABLE IF EXISTS access;
CREATE TEMP TABLE access AS
SELECT coalesce(u.userName, e.principal_name) AS "user", f.path AS folder, e."right",
       'direct' AS via
FROM ref_eff e JOIN ref_containers f ON f.id = e.folder_id
LEFT JOIN users_all u ON u.id = e.principal_id
WHERE e.principal_type = 'user'
UNION ALL
SELECT coalesce(u.userName, r.user_id), f.path, e."right", r.via
FROM ref_eff e JOIN ref_containers f ON f.id = e.folder_id
JOIN ref_reach r ON r.group_id = e.principal_id
LEFT JOIN users_all u ON u.id = r.user_id
WHERE e.principal_type = 'group';
""", "ids": """
DROP TABLE IF EXISTS access;
CREATE TEMP TABLE access AS
SELECT e.principal_id AS user_id, e.folder_id, e."right", NULL::VARCHAR AS via_group
FROM ref_eff e WHERE e.principal_type = 'user'
UNION ALL
SELECT r.user_id, e.folder_id, e."right", e.principal_id
FROM ref_eff e JOIN ref_reach r ON r.group_id = e.principal_id
WHERE e.principal_type = 'group';
"""}

FINDINGS_SQL = """
SELECT 'PARTIAL_FOLDER_VISIBILITY' AS code, tenant() AS subject,
       (SELECT count(*) FROM cloud_containers)::VARCHAR || ' of '
       || (SELECT count(*) FROM ref_containers)::VARCHAR AS why
WHERE (SELECT count(*) FROM hidden) > 0
UNION ALL
SELECT 'FOLDER_NOT_VISIBLE', c.path,
       CASE WHEN bool_or(n.is_sa AND list_contains(n.rights, 'Owner') AND n."right" <> 'Owner')
            THEN 'sent with several rights' ELSE 'no Owner grant' END
       || '; ' || (any_value(h.folders) - 1)::VARCHAR || ' subfolders, '
       || any_value(h.secrets)::VARCHAR || ' secrets'
FROM hidden_roots h JOIN ref_containers c ON c.id = h.root
LEFT JOIN flagged n ON n.folder = c.path
GROUP BY c.path
UNION ALL
SELECT 'NO_VISIBLE_SECRETS', tenant(), 'folders, no secret'
WHERE (SELECT count(*) FROM cloud_containers) > 0
  AND (SELECT count(*) FROM cloud_privileged_data) = 0
  AND (SELECT count(*) FROM ref_privileged_data) > 0
UNION ALL
SELECT 'SECRETS_NOT_VISIBLE', f.path, 'owns none of its secrets'
FROM dark d JOIN ref_containers f ON f.id = d.source
UNION ALL
SELECT 'SECRET_NOT_OWNED', f.path || '/' || s.name, 'not returned'
FROM ref_privileged_data s JOIN ref_containers f ON f.id = s.container_id
WHERE s.container_id IN (SELECT id FROM cloud_containers)
  AND s.id NOT IN (SELECT id FROM cloud_privileged_data)
  AND s.container_id NOT IN (SELECT container_id FROM cloud_own
                             WHERE source IN (SELECT source FROM dark))
UNION ALL
SELECT 'FOLDER_WITHOUT_OWNER', folder, 'only the service account is Owner'
FROM flagged WHERE "right" = 'Owner' GROUP BY folder
HAVING bool_or(is_sa) AND NOT bool_or(person)
UNION ALL
SELECT 'GRANT_TO_DISABLED_USER', principal, string_agg(DISTINCT "where", '; ')
FROM flagged WHERE principal_type = 'user' AND lower(principal) <> sa() AND active = false
GROUP BY principal
UNION ALL
SELECT 'GRANT_TO_EMPTY_GROUP', principal, string_agg(DISTINCT "where", '; ')
FROM flagged WHERE principal_type = 'group' AND empty_group GROUP BY principal
UNION ALL
SELECT 'RIGHTS_TRUNCATED', folder, string_agg(principal || ' ' || "where", '; ')
FROM flagged WHERE len(rights) > 1 GROUP BY folder
UNION ALL
SELECT 'DIRECT_USER_GRANT', principal, string_agg(DISTINCT "where", '; ')
FROM flagged WHERE principal_type = 'user' AND lower(principal) <> sa() GROUP BY principal
"""


def duckdb_connection(cloud: Any, onprem: Any, memory_limit: str) -> Any:
    import duckdb

    con = duckdb.connect()
    # Its own limit, so a side too big for the machine fails with DuckDB's out-of-memory error
    # instead of being killed (or taking other processes down with it).
    con.execute(f"SET memory_limit = '{memory_limit}'")
    # Its spill files under build/, not in the checkout's root (DuckDB's default: .tmp/).
    spill = ROOT / "build" / "bench" / "duckdb-spill"
    spill.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET temp_directory = '{spill}'")
    for prefix, inv in (("cloud", cloud), ("ref", onprem)):
        for name, df in inv.frames().items():
            con.register(f"{prefix}_{name}", df)  # a view over the DataFrame, not a copy
    return con


def run_duckdb(con: Any, shape: str) -> Any:
    con.execute(f"CREATE OR REPLACE TEMP MACRO sa() AS '{SA}'; "
                f"CREATE OR REPLACE TEMP MACRO tenant() AS '{TENANT}';")
    con.execute(_reach_sql("ref") + _reach_sql("cloud"))
    con.execute(DUCKDB_SQL)
    con.execute(ACCESS_SQL[shape])
    return con.execute(FINDINGS_SQL).fetchall()


def duckdb_summary(con: Any, findings: list[tuple[str, str, str]], shape: str
                   ) -> dict[str, Any]:
    rows = con.execute("SELECT count(*) FROM access").fetchone()[0]
    per_right = dict(con.execute('SELECT "right", count(*) FROM access GROUP BY 1').fetchall())
    per_folder = dict(con.execute(
        "SELECT folder, count(*) FROM access GROUP BY 1" if shape == "names" else
        "SELECT f.path, count(*) FROM access a JOIN ref_containers f ON f.id = a.folder_id "
        "GROUP BY 1").fetchall())
    return {"rows": rows, "per_right": per_right, "per_folder": per_folder,
            "findings": sorted([c, s] for c, s, _ in findings)}


# --------------------------------------------------------------------------- children
def child(side: str, out: Path, runs: int, memory_gb: float) -> dict[str, Any]:
    if side == "opskit":  # a MemoryError past the limit, not the kernel's OOM killer
        limit = int(memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    started = time.perf_counter()
    cloud, onprem = load(out)
    loaded = {"seconds": round(time.perf_counter() - started, 2), "rss_mb": peak_rss_mb()}
    print(json.dumps({"loaded": loaded}), file=sys.stderr, flush=True)  # kept if a run fails
    times: list[float] = []
    summary: dict[str, Any] = {}
    shape = side.partition("-")[2]
    con = duckdb_connection(cloud, onprem, f"{memory_gb:g}GB") if shape else None
    for i in range(runs + 1):  # the first run warms caches and imports, untimed
        t0 = time.perf_counter()
        if side == "opskit":
            result, summary = run_opskit(cloud, onprem)
        else:
            result = run_duckdb(con, shape)
        elapsed = time.perf_counter() - t0
        if i:
            times.append(elapsed)
        if shape:
            summary = duckdb_summary(con, result, shape)
        del result
    extra: dict[str, Any] = {}
    if shape == "names":
        # For information: what bringing DuckDB's table into pandas would add.
        t0 = time.perf_counter()
        df = con.execute("SELECT * FROM access").df()
        extra["fetch_df_seconds"] = round(time.perf_counter() - t0, 2)
        del df
    return {"side": side, "times": times, "median": statistics.median(times),
            "peak_rss_mb": round(peak_rss_mb()), "loaded": loaded, "summary": summary, **extra}


def spawn(*args: str) -> dict[str, Any]:
    """A child's JSON answer; for a child that failed or was killed, {"error": why} with the
    peak RSS it reached (from the kernel's accounting of the waited child)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, __file__, *args], stdout=out, stderr=err,
                                text=True, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    peak_gb = usage.ru_maxrss / 2**20
    if code == 0:
        return dict(json.loads(stdout.strip().splitlines()[-1]))
    if code == -signal.SIGKILL:
        why = f"killed: out of memory at {peak_gb:.1f} GB (SIGKILL)"
    else:
        last = [line for line in stderr.strip().splitlines() if line.strip()][-1:] or [""]
        why = f"failed (exit {code}) at {peak_gb:.1f} GB: {last[0][:300]}"
    loaded = [json.loads(line)["loaded"] for line in stderr.splitlines()
              if line.startswith('{"loaded"')]
    return {"error": why, "peak_rss_mb": round(peak_gb * 1024),
            **({"loaded": loaded[0]} if loaded else {})}


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("rows", "per_right", "per_folder"):
        if a[key] != b[key]:
            problems.append(f"{key} differ")
    fa, fb = {tuple(x) for x in a["findings"]}, {tuple(x) for x in b["findings"]}
    if fa != fb:
        problems.append(f"findings differ: only opskit {sorted(fa - fb)[:5]}, "
                        f"only duckdb {sorted(fb - fa)[:5]}")
    return problems


# --------------------------------------------------------------------------- one scale, verdict
# Issue 18's targets per scale: opskit's median seconds and peak RSS (MB), each beside the
# figure measured before the issue (benchmarks/README.md; scale 1,000 could not run then).
TARGETS: dict[int, dict[str, Any]] = {100: {"seconds": 2.1, "peak_mb": None},
           300: {"seconds": 5.0, "peak_mb": 1024},
           1000: {"seconds": 20.0, "peak_mb": 3072}}
BEFORE: dict[int, dict[str, Any]] = {100: {"seconds": 2.1, "peak_mb": 658},
                                     300: {"seconds": 22.3, "peak_mb": 3584}}
GROWTH = (100, 1000, 6.0)  # peak(1000) ÷ peak(100) at most 6: memory grows linearly


def run_scale(scale: int, args: argparse.Namespace) -> dict[str, Any]:
    out = bench_dir(scale, args.seed)
    common = ["--scale", str(scale), "--seed", str(args.seed), "--runs", str(args.runs),
              "--memory-gb", str(args.memory_gb)]
    if args.rebuild or not (out / "onprem" / "manifest.json").is_file():
        print(f"building the demo tenant's inventories at scale {scale} …", flush=True)
        built = spawn("--child", "build", *common)
        if "error" in built:
            raise SystemExit(f"building scale {scale}: {built['error']}")
        print(f"  built in {built['seconds']} s (peak {built['peak_rss_mb']:,} MB): "
              f"{built['counts']}", flush=True)
    results: dict[str, Any] = {}
    for side in args.sides:
        print(f"running {side} at scale {scale} ({args.runs} timed runs after a warm-up) …",
              flush=True)
        results[side] = spawn("--child", side, *common)
    report = {"scale": scale, "seed": args.seed, "results": results,
              "at": time.strftime("%Y-%m-%d %H:%M:%S")}
    (out / "result.json").write_text(json.dumps(report))
    print_scale(report)
    return report


def print_scale(report: dict[str, Any]) -> None:
    results = report["results"]
    ok = {side: r for side, r in results.items() if "error" not in r}
    print(f"\nscale {report['scale']}:")
    ours = ok.get("opskit")
    if ours:
        s = ours["summary"]
        problems = [f"{side}: {p}" for side in ok if side != "opskit"
                    for p in compare(s, ok[side]["summary"])]
        compared = "no other side" if len(ok) == 1 else "yes" if not problems else "NO"
        print(f"effective access rows: {s['rows']:,}   findings: {len(s['findings']):,}   "
              f"same results on every side that finished: {compared}")
        for p in problems:
            print(f"  ! {p}")
    print(f"{'':13} {'median s':>9} {'runs':>22} {'peak RSS MB':>12}")
    for side, r in results.items():
        if "error" in r:
            print(f"{side:13} {r['error']}")
            continue
        runs = ", ".join(f"{t:.2f}" for t in r["times"])
        print(f"{side:13} {r['median']:9.2f} {runs:>22} {r['peak_rss_mb']:12,}")
    loaded = results.get("opskit", {}).get("loaded")
    if loaded:
        print(f"snapshots loaded in {loaded['seconds']} s "
              f"({loaded['rss_mb']:.0f} MB RSS after loading)")
    if "fetch_df_seconds" in ok.get("duckdb-names", {}):
        print(f"duckdb-names: fetching its access table into pandas would add "
              f"{ok['duckdb-names']['fetch_df_seconds']} s (not counted)")


def _mark(value: float, target: float) -> str:
    return "met" if value <= target else "NOT met"


def verdict(reports: dict[int, dict[str, Any]], seed: int) -> None:
    print("\nVERDICT (issue 18; before = measured before the issue):")
    for scale, report in sorted(reports.items()):
        if scale not in TARGETS:
            continue
        target, before = TARGETS[scale], BEFORE.get(scale)
        ours = report["results"].get("opskit")
        if ours is None or "error" in ours:
            why = "not run" if ours is None else ours["error"]
            print(f"  scale {scale}: opskit {why}: NOT met")
            continue
        median, peak = ours["median"], ours["peak_rss_mb"]
        was = (f"before {before['seconds']} s, " if before else "not measured before, ")
        line = (f"  scale {scale}: opskit {median:.2f} s median ({was}target ≤ "
                f"{target['seconds']} s): {_mark(median, target['seconds'])}")
        if target["peak_mb"]:
            was = f"before {before['peak_mb']:,} MB, " if before else ""
            line += (f"; peak {peak:,} MB ({was}target ≤ {target['peak_mb']:,} MB): "
                     f"{_mark(peak, target['peak_mb'])}")
        print(line)
        duck = {side: r for side, r in report["results"].items()
                if side != "opskit" and "error" not in r}
        if scale == 100:
            if duck:
                best = min(duck, key=lambda side: duck[side]["median"])
                ratio = median / duck[best]["median"]
                print(f"  scale {scale}: opskit ÷ fastest DuckDB ({best}, "
                      f"{duck[best]['median']:.2f} s) = {ratio:.2f} (before 1.02, target ≤ 1.0): "
                      f"{_mark(ratio, 1.0)}")
            else:
                print(f"  scale {scale}: opskit ÷ fastest DuckDB: no DuckDB side finished")
        for side, r in report["results"].items():
            if "error" in r:
                print(f"  scale {scale}: {side} {r['error']}")
    small, large, most = GROWTH
    peaks = {}
    for scale in (small, large):
        found: dict[str, Any] | None = reports.get(scale)
        where = "this run"
        if found is None:  # the other scale's last result, if it was ever run
            saved = bench_dir(scale, seed) / "result.json"
            if saved.is_file():
                found = json.loads(saved.read_text())
                where = f"its last run, {found['at']}"
        ours = (found or {}).get("results", {}).get("opskit", {})
        if "peak_rss_mb" in ours and "error" not in ours:
            peaks[scale] = (ours["peak_rss_mb"], where)
    if len(peaks) == 2:
        growth = peaks[large][0] / peaks[small][0]
        print(f"  memory growth: peak({large}) ÷ peak({small}) = {peaks[large][0]:,} ÷ "
              f"{peaks[small][0]:,} MB = {growth:.2f} (scale {small} from "
              f"{peaks[small][1]}, scale {large} from {peaks[large][1]}; before ≈ 60 "
              f"estimated, target ≤ {most:g}): {_mark(growth, most)}")
    else:
        print(f"  memory growth peak({large}) ÷ peak({small}): run both scales "
              f"(--scale {small},{large}) to judge it")


def bench_dir(scale: int, seed: int) -> Path:
    return ROOT / "build" / "bench" / f"audit-s{scale}-seed{seed}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", default="100",
                    help="a scale, or several (100,1000): each is run, then one verdict")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sides", default=",".join(SIDES),
                    help=f"which sides to run (default all: {','.join(SIDES)})")
    ap.add_argument("--memory-gb", type=float, default=14.0,
                    help="each side's memory limit: DuckDB's memory_limit, the opskit "
                         "child's address space (default 14)")
    ap.add_argument("--child", choices=["build", *SIDES], help=argparse.SUPPRESS)
    ap.add_argument("--rebuild", action="store_true", help="build the snapshots anew")
    args = ap.parse_args()
    scales = [int(x) for x in str(args.scale).split(",")]
    args.sides = [s for s in args.sides.split(",") if s]
    unknown = sorted(set(args.sides) - set(SIDES))
    if unknown:
        ap.error(f"unknown side(s) {', '.join(unknown)}; the sides are {', '.join(SIDES)}")
    if args.child:
        out = bench_dir(scales[0], args.seed)
        if args.child == "build":
            print(json.dumps(build(scales[0], args.seed, out)))
        else:
            print(json.dumps(child(args.child, out, args.runs, args.memory_gb)))
        return
    reports = {scale: run_scale(scale, args) for scale in scales}
    verdict(reports, args.seed)


if __name__ == "__main__":
    main()
