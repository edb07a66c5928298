"""Permission audit speed: opskit.audit (pandas + numpy) against the same in DuckDB SQL.

Run: .venv/bin/python benchmarks/audit.py [--scale 100] [--seed 0] [--runs 3]

One run, side by side, over the same DataFrames:

- the demo tenant at --scale is built once and read into the two inventories the audit takes,
  cloud (what the service account sees) and on-prem (everything), exactly as
  `opskit.inventory` frames them but without HTTP: each resource is rendered by the practice
  tenant's store and turned into rows by the inventory's own row functions. Both are saved as
  snapshots under build/bench/ and reused while the tenant data stays the same;
- opskit: `opskit.audit.audit_permissions(cloud, onprem, ...)`: coverage, every permission
  finding, and the effective-access table (user → folder → right → via) of the on-prem view;
- duckdb: one SQL script over the same DataFrames (DuckDB scans them in place) computing the
  same: folder sources from the inherited-id form, nested groups by a recursive CTE, the
  effective-access table (kept as a DuckDB table), coverage and the same findings.

Each side runs in a child process of its own (Linux carries a process's peak RSS across fork,
so the parent never loads the data): load the snapshots, one untimed warm-up, then --runs timed
runs; the median is reported with the child's peak RSS. The results are compared: access rows,
rows per right, rows per folder, and the (code, subject) set of the findings. Targets (issue 6):
opskit ≤ 1.5 × DuckDB, peak < 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
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
def build(scale: int, seed: int, out: Path) -> dict[str, Any]:
    """Both inventories of the demo tenant, as snapshots (in a child: this is the heavy part)."""
    from datetime import UTC, datetime

    from opskit import inventory as inv_mod
    from opskit.sandbox.demodata import generate
    from opskit.sandbox.store import Tenant
    from opskit.sandbox.tenantfile import parse_tenant

    started = time.perf_counter()
    tenant = Tenant(parse_tenant(generate(scale, seed), "<demo data>"))
    counts = {}
    for flavor in ("cloud", "onprem"):
        base = "http://bench.invalid/v2"

        def docs(kind: str, flavor: str = flavor, base: str = base) -> list[dict[str, Any]]:
            return [tenant.render(flavor, kind, rid, base)  # type: ignore[arg-type]
                    for rid in tenant.ids(flavor, kind)]  # type: ignore[arg-type]

        groups, members = inv_mod.tidy_groups(docs("Group"))
        inv = inv_mod.Inventory(
            users=inv_mod.tidy_users(docs("User")), groups=groups, group_members=members,
            containers=inv_mod.tidy_containers(docs("Container")),
            container_permissions=inv_mod.tidy_permissions(docs("ContainerPermission")),
            privileged_data=inv_mod.tidy_privileged_data(docs("PrivilegedData")),
            privileged_data_permissions=inv_mod.tidy_secret_permissions(
                docs("PrivilegedDataPermission")))
        per = inv.privileged_data["container_id"].value_counts()
        inv.containers["secret_count"] = inv.containers["id"].map(per).fillna(0).astype("Int64")
        inv.meta = {"source": f"bench-{flavor}", "flavor": flavor, "complete": True,
                    "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "secret_permissions_read": True}
        inv_mod.save_snapshot(inv, out / flavor)
        counts[flavor] = inv.counts()
    return {"seconds": round(time.perf_counter() - started, 1), "counts": counts}


def load(out: Path) -> tuple[Any, Any]:
    from opskit.inventory import load_snapshot

    return load_snapshot(out / "cloud"), load_snapshot(out / "onprem")


# --------------------------------------------------------------------------- opskit
def run_opskit(cloud: Any, onprem: Any) -> tuple[Any, dict[str, Any]]:
    from opskit.audit import audit_permissions

    result = audit_permissions(cloud, onprem, tenant=TENANT, service_account=SA)
    table = result.access.table
    summary = {
        "rows": len(table),
        "per_right": {str(k): int(v) for k, v in table["right"].value_counts().items() if v},
        "per_folder": {str(k): int(v) for k, v in table["folder"].value_counts().items() if v},
        "findings": sorted([f.code, f.subject] for f in result.findings),
    }
    return result, summary


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


def duckdb_connection(cloud: Any, onprem: Any) -> Any:
    import duckdb

    con = duckdb.connect()
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
def child(side: str, out: Path, runs: int) -> dict[str, Any]:
    started = time.perf_counter()
    cloud, onprem = load(out)
    loaded = {"seconds": round(time.perf_counter() - started, 2), "rss_mb": peak_rss_mb()}
    times: list[float] = []
    summary: dict[str, Any] = {}
    shape = side.partition("-")[2]
    con = duckdb_connection(cloud, onprem) if shape else None
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
    if shape:
        # For information: what bringing DuckDB's table into pandas would add.
        t0 = time.perf_counter()
        df = con.execute("SELECT * FROM access").df()
        extra["fetch_df_seconds"] = round(time.perf_counter() - t0, 2)
        del df
    return {"side": side, "times": times, "median": statistics.median(times),
            "peak_rss_mb": round(peak_rss_mb()), "loaded": loaded, "summary": summary, **extra}


def spawn(*args: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          cwd=ROOT)
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"child {args} failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", choices=["build", *SIDES], help=argparse.SUPPRESS)
    ap.add_argument("--rebuild", action="store_true", help="build the snapshots anew")
    args = ap.parse_args()
    out = ROOT / "build" / "bench" / f"audit-s{args.scale}-seed{args.seed}"
    if args.child == "build":
        print(json.dumps(build(args.scale, args.seed, out)))
        return
    if args.child:
        print(json.dumps(child(args.child, out, args.runs)))
        return

    common = ["--scale", str(args.scale), "--seed", str(args.seed), "--runs", str(args.runs)]
    if args.rebuild or not (out / "onprem" / "manifest.json").is_file():
        print(f"building the demo tenant's inventories at scale {args.scale} …", flush=True)
        built = spawn("--child", "build", *common)
        print(f"  built in {built['seconds']} s: {built['counts']}", flush=True)
    results = {}
    for side in SIDES:
        print(f"running {side} ({args.runs} timed runs after a warm-up) …", flush=True)
        results[side] = spawn("--child", side, *common)
    ours = results["opskit"]
    problems = [f"{side}: {p}" for side in SIDES[1:]
                for p in compare(ours["summary"], results[side]["summary"])]
    s = ours["summary"]
    print()
    print(f"effective access rows: {s['rows']:,}   findings: {len(s['findings']):,}   "
          f"same results on every side: {'yes' if not problems else 'NO'}")
    for p in problems:
        print(f"  ! {p}")
    print(f"{'':13} {'median s':>9} {'runs':>22} {'peak RSS MB':>12}")
    for side in SIDES:
        r = results[side]
        runs = ", ".join(f"{t:.2f}" for t in r["times"])
        print(f"{side:13} {r['median']:9.2f} {runs:>22} {r['peak_rss_mb']:12,}")
    best = min(SIDES[1:], key=lambda side: results[side]["median"])
    ratio = ours["median"] / results[best]["median"]
    print(f"snapshots loaded in {ours['loaded']['seconds']} s "
          f"({ours['loaded']['rss_mb']:.0f} MB RSS after loading)")
    print(f"duckdb-names: fetching its access table into pandas would add "
          f"{results['duckdb-names']['fetch_df_seconds']} s (not counted)")
    ok = ratio <= 1.5 and ours["peak_rss_mb"] < 1536 and not problems
    print(f"VERDICT: opskit / fastest duckdb ({best}) = {ratio:.2f} (target ≤ 1.5), opskit peak "
          f"{ours['peak_rss_mb']:,} MB (target < 1,536): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
