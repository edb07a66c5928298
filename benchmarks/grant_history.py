"""Grant history at scale: one run's grants merged into a history of --grants grants.

Run: .venv/bin/python benchmarks/grant_history.py [--grants 1000000] [--runs 3]

A synthetic history (folders, users and groups, rights as the audit writes them, first and last
seen spread over 20 weekly runs) is written once under build/bench/ with
`opskit.inputs.audit.save_grant_history`, beside the current run's grants: the last run's grants
less 2 %, plus 2 % new. Then, in a child process of its own each time (so the peak RSS is that
merge's alone), what a permission audit does after reading the tenant: `load_grant_history`,
`opskit.audit.drift(current, history=..., seen_at=...)`, `save_grant_history` to a new file.
Printed: each step's median time, the child's RSS after loading the current grants (the floor:
interpreter, pandas, the run's own grants) and its peak. The counts of added, removed and kept
grants are checked against what the data was made with.
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
RUNS = [f"2026-{1 + w // 4:02d}-{1 + 7 * (w % 4):02d}T06:00:00+00:00" for w in range(20)]
NOW = "2026-06-01T06:00:00+00:00"
RIGHTS = ["View", "Edit", "Owner", "Add Secret", "View, Edit", "Edit, Owner", "List"]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make(n: int, out: Path) -> dict[str, int]:
    import numpy as np
    import pandas as pd

    from opskit.audit._drift import KEY
    from opskit.inputs.audit import save_grant_history

    rng = np.random.default_rng(0)
    folders = np.array([f"/Dept {i // 1000}/Team {i // 50}/Folder {i}"
                        for i in range(max(1, n // 10))], dtype=object)
    users = np.array([f"user{i:06d}@acme.com" for i in range(max(1, n // 5))], dtype=object)
    groups = np.array([f"Group {i:05d}" for i in range(max(1, n // 50))], dtype=object)
    is_group = rng.random(n) < 0.6
    principal = np.where(is_group, groups[rng.integers(0, len(groups), n)],
                         users[rng.integers(0, len(users), n)])
    history = pd.DataFrame({
        "folder": folders[rng.integers(0, len(folders), n)],
        "principal_type": np.where(is_group, "group", "user").astype(object),
        "principal": principal,
        "rights": np.array(RIGHTS, dtype=object)[rng.integers(0, len(RIGHTS), n)],
    }).drop_duplicates(KEY).reset_index(drop=True)
    k = len(history)
    first = rng.integers(0, len(RUNS), k)
    # Four in five grants are still there at the last run; the rest ended between.
    last = np.where(rng.random(k) < 0.8, len(RUNS) - 1, rng.integers(first, len(RUNS)))
    history["first_seen"] = np.array(RUNS, dtype=object)[first]
    history["last_seen"] = np.array(RUNS, dtype=object)[last]
    latest = history[history["last_seen"] == RUNS[-1]]
    gone = rng.random(len(latest)) < 0.02
    new = history.iloc[:0][KEY].copy()
    fresh = max(1, len(latest) // 50)
    new = pd.DataFrame({"folder": [f"/New/Folder {i}" for i in range(fresh)],
                        "principal_type": "user",
                        "principal": [f"new{i}@acme.com" for i in range(fresh)],
                        "rights": "View"})
    current = pd.concat([latest.loc[~gone, KEY], new], ignore_index=True)
    out.mkdir(parents=True, exist_ok=True)
    save_grant_history(history, out / "history.parquet")
    current.to_parquet(out / "current.parquet", index=False)
    expect = {"history": k, "added": fresh, "removed": int(gone.sum()), "kept": k + fresh}
    (out / "expect.json").write_text(json.dumps(expect))
    return expect


def child(out: Path) -> dict[str, Any]:
    import pandas as pd

    from opskit.audit import drift
    from opskit.inputs.audit import load_grant_history, save_grant_history

    current = pd.read_parquet(out / "current.parquet")
    floor = rss_mb()
    t0 = time.perf_counter()
    history = load_grant_history(out / "history.parquet")
    t1 = time.perf_counter()
    d = drift(current, history=history, seen_at=NOW)
    t2 = time.perf_counter()
    save_grant_history(d.history, out / "merged.parquet")
    t3 = time.perf_counter()
    return {"load": t1 - t0, "drift": t2 - t1, "save": t3 - t2, "total": t3 - t0,
            "floor_mb": round(floor), "peak_mb": round(rss_mb()),
            "counts": {"added": len(d.added), "removed": len(d.removed),
                       "kept": len(d.history)}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--grants", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    out = ROOT / "build" / "bench" / f"grant-history-{args.grants}"
    if args.child:
        print(json.dumps(child(out)))
        return
    if not (out / "expect.json").is_file():
        print(f"making a history of {args.grants:,} grants …", flush=True)
        make(args.grants, out)
    expect = json.loads((out / "expect.json").read_text())
    results = []
    for _ in range(args.runs):
        proc = subprocess.run([sys.executable, __file__, "--grants", str(args.grants),
                               "--child"], capture_output=True, text=True, check=True)
        results.append(json.loads(proc.stdout.splitlines()[-1]))
    print(f"history {expect['history']:,} grants; this run {expect['added']:,} added, "
          f"{expect['removed']:,} removed")
    for step in ("load", "drift", "save", "total"):
        times = [r[step] for r in results]
        print(f"  {step:6} {statistics.median(times):7.2f} s median  "
              f"({', '.join(f'{t:.2f}' for t in times)})")
    print(f"  RSS after reading this run's grants {results[0]['floor_mb']:,} MB, "
          f"peak {max(r['peak_mb'] for r in results):,} MB")
    got = results[0]["counts"]
    same = all(got[k] == expect[k] for k in got)
    print(f"counts as made: {'yes' if same else f'NO: {got}'}")


if __name__ == "__main__":
    main()
