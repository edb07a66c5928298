"""The index at scale: one run merged into index.json (what every run now does) against a full
rebuild from every results.json (what every run did before), and index.html's size against a
page listing every run, side by side in one run, as ratios.

    .venv/bin/python benchmarks/index.py [--runs 30000] [--reps 5] [--keep DIR]

It writes ``--runs`` run folders (results.json and a stub report.html each: 4 notebooks on 50
tenants, one fleet run a day, a few findings each, drift counts, coverage for the permission
audit) into a temporary folder, then times, alternating, ``--reps`` full rebuilds
(`rebuild_index`), ``--reps`` incremental updates (`update_index`, each merging a run
committed just before) and ``--reps`` updates as a fleet run's runs make them (one line spliced
into index.json, index.html drawn once at the fleet run's end). Medians are reported; nothing
is asserted.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opskit._run import index

NOTEBOOKS = ("token_check", "tenant_onboarding", "permission_audit", "group_gap_report")
SEVERITIES = ("critical", "high", "medium", "low", "info")
START = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)


def write_run(out: Path, notebook: str, tenant: str, moment: datetime, rng: random.Random,
              fleet: str) -> Path:
    stamp = moment.strftime("%Y%m%dT%H%M%SZ")
    folder = out / notebook / tenant / stamp
    folder.mkdir(parents=True)
    findings = [{"code": f"CODE_{rng.randrange(20)}", "severity": rng.choice(SEVERITIES),
                 "subject": f"subject-{rng.randrange(500)}", "message": "a message " * 4,
                 "remediation": "what to do " * 6} for _ in range(rng.randrange(8))]
    iso = moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    results = {"notebook": notebook, "profile": tenant, "started_at": iso, "finished_at": iso,
               "status": "findings" if findings else "ok", "fail_on": "high",
               "expected": None, "parameters": {"profile": tenant}, "findings": findings,
               "metrics": {"folder_share": rng.random()} if notebook == "permission_audit"
               else {}, "error": None, "fleet_run": fleet,
               "changes": {"new": rng.randrange(3), "resolved": rng.randrange(3),
                           "still_open": len(findings)}}
    (folder / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (folder / "report.html").write_text("<!DOCTYPE html><title>report</title>")
    return folder


def build(out: Path, runs: int, rng: random.Random) -> int:
    tenants = [f"tenant{i:03d}" for i in range(50)]
    per_day = len(tenants) * len(NOTEBOOKS)
    made = 0
    for day in range(runs // per_day + 1):
        fleet = f"{(START + timedelta(days=day)).strftime('%Y%m%dT%H%M%SZ')}-{day:04x}"
        for t, tenant in enumerate(tenants):
            for n, notebook in enumerate(NOTEBOOKS):
                if made == runs:
                    return made
                moment = START + timedelta(days=day, seconds=t * 60 + n * 10)
                write_run(out, notebook, tenant, moment, rng, fleet)
                made += 1
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None,
                        help="build the runs here and keep them (default: a temporary folder)")
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp) / "out"
        started = time.perf_counter()
        made = build(out, args.runs, rng)
        print(f"wrote {made:,} runs in {time.perf_counter() - started:.1f} s", flush=True)
        index.rebuild_index(out)  # warm the file cache, as a run's own writes would
        full, incremental, spliced = [], [], []
        later = START + timedelta(days=3650)
        for rep in range(args.reps):
            started = time.perf_counter()
            index.rebuild_index(out)
            full.append(time.perf_counter() - started)
            folder = write_run(out, "token_check", "tenant000", later + timedelta(hours=rep),
                               rng, "late")
            started = time.perf_counter()
            index.update_index(out, folder)
            incremental.append(time.perf_counter() - started)
            folder = write_run(out, "token_check", "tenant001", later + timedelta(hours=rep),
                               rng, "late")
            started = time.perf_counter()
            index.update_index(out, folder, redraw=False)  # a fleet run's: the page at its end
            spliced.append(time.perf_counter() - started)
        runs = index.read_index(out) or []
        page = (out / index.INDEX_HTML).stat().st_size
        # The same page with every run listed, as index.html did before, not the recent ones.
        listing_all = page + len(index._table(runs).encode()) - len(
            index._table(runs[:index.RECENT_RUNS]).encode())
        json_size = (out / index.INDEX_JSON).stat().st_size
    f, i, sp = (statistics.median(full), statistics.median(incremental),
                statistics.median(spliced))
    print(f"\n{len(runs):,} runs, medians of {args.reps}")
    print(f"  full rebuild (every results.json read)   {f:7.3f} s")
    print(f"  incremental update (one run merged)      {i:7.3f} s   {f / i:6.1f}× faster")
    print(f"  a fleet run's run (line spliced, no page) {sp:6.3f} s   {f / sp:6.1f}× faster")
    print(f"  index.html, bounded                      {page / 1e6:7.2f} MB")
    print(f"  index.html listing every run (before)    {listing_all / 1e6:7.2f} MB   "
          f"{listing_all / page:6.1f}× larger")
    print(f"  index.json (every run)                   {json_size / 1e6:7.2f} MB")


if __name__ == "__main__":
    main()
