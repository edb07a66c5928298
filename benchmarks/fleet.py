"""A fleet run's cost: `opskit report` over N served tenants × 4 notebooks, warm kernels against
a kernel per run (OPSKIT_KERNEL_REUSE=0), for each --jobs.

    .venv/bin/python benchmarks/fleet.py [--tenants 10] [--jobs 1,2,4] [--scale 1]

Each tenant is the demo company (``--scale``) served beforehand by `opskit sandbox serve`, a
process of its own on a port the OS picks, and named in a profiles file as a real tenant is:
a cloud profile (its `reference` an on-prem profile of the same tenant, its `iga_export` the
demo's CSV), secrets by `env:` reference. For each --jobs, the warm and the baseline fleet run
alternate; each reports wall time, CPU (this process's children's rusage: `opskit report`,
its tenant processes and their kernels, all reaped; "tenants": the CPU the served tenants
spent meanwhile, apart), and peak memory sampled every 0.1 s over the process tree (the
largest process, and the largest sum). Ratios are warm ÷ baseline.

The fixed cost per notebook run (everything but the tenant's HTTP and the analysis) is
measured on a notebook that does no work (a parameters cell and ``record([])``), 4 copies
per tenant as a fleet runs 4 notebooks: wall ÷ runs at --jobs 1; and, in this process, the
runner's own timings per phase (``RunResult.timings``) over 4 such runs.

Targets (reported, never asserted): fixed cost ≤ 1 s per run; 50 tenants × 4 notebooks in
≤ 300 s (a smaller N is extrapolated linearly, and said so).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OPSKIT = [sys.executable, "-m", "opskit.cli"]
MODES = {"warm": "1", "baseline": "0"}
TARGET_FIXED_S, TARGET_FLEET_S, TARGET_TENANTS = 1.0, 300.0, 50


def out(line: str = "") -> None:
    print(line, flush=True)


def serve(data: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A practice tenant in its own process on a free port; its URL once it listens."""
    with log.open("wb") as sink:
        server = subprocess.Popen([*OPSKIT, "sandbox", "serve", "--data", str(data),
                                   "--port", "0"], stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        first = log.read_text(errors="replace").splitlines()[:1]
        if first and " at http://" in first[0]:
            return server, first[0].rsplit(" at ", 1)[1].strip()
        if server.poll() is not None:
            break
        time.sleep(0.1)
    server.kill()
    raise SystemExit(f"a practice tenant did not start; its log:\n{log.read_text()}")


def profiles_file(path: Path, urls: list[str], iga_csv: Path, client_id: str) -> list[str]:
    names, lines = [], []
    for i, url in enumerate(urls, 1):
        name = f"t{i:02d}"
        names.append(name)
        lines.append(f'[profiles.{name}]\nkind = "cloud"\ntenant = "{url}"\n'
                     f'client_id = "{client_id}"\n'
                     f'client_secret = "env:BENCH_{name.upper()}_SECRET"\n'
                     f'reference = "{name}-onprem"\niga_export = "{iga_csv}"\n\n'
                     f'[profiles.{name}-onprem]\nkind = "onprem"\n'
                     f'base_url = "{url}/SCIMConnector/v2"\n'
                     f'token = "env:BENCH_{name.upper()}_TOKEN"\n')
    path.write_text("\n".join(lines))
    return names


def tree_rss(root: int) -> tuple[int, int]:
    """(largest RSS, sum of RSS) in bytes over ``root`` and its descendants, now."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo.extend(p for p, parent in parents.items() if parent == pid and p not in tree)
    page = os.sysconf("SC_PAGE_SIZE")
    sizes = []
    for pid in tree:
        try:
            sizes.append(int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page)
        except (OSError, ValueError, IndexError):
            continue
    return max(sizes, default=0), sum(sizes)


def process_cpu(pids: list[int]) -> float:
    """CPU seconds the (unreaped, still running) processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, ValueError, IndexError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def fleet_run(command: list[str], env: dict[str, str],
              servers: Sequence[int] = ()) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    served_before = process_cpu(list(servers))
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    peak = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            largest, total = tree_rss(proc.pid)
            peak[0], peak[1] = max(peak[0], largest), max(peak[1], total)
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    served = process_cpu(list(servers)) - served_before
    if proc.returncode not in (0, 1):
        out(f"  ! opskit report exited {proc.returncode}: {stderr.strip().splitlines()[-3:]}")
    return {"wall": wall, "cpu": cpu, "served": served, "peak_one": peak[0], "peak_sum": peak[1],
            "code": proc.returncode, "stdout": stdout}


def statuses(folder: Path) -> dict[str, int]:
    import json

    counts: dict[str, int] = {}
    for results in folder.glob("*/*/*/results.json"):
        status = json.loads(results.read_text())["status"]
        counts[status] = counts.get(status, 0) + 1
    return counts


def empty_notebooks(folder: Path, copies: int) -> list[Path]:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(copies):
        params = new_code_cell('profile = "sandbox"')
        params.metadata["tags"] = ["parameters"]
        nb = new_notebook(cells=[params, new_code_cell("from opskit.report import record\n"
                                                       "record([])")])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        path = folder / f"empty{i + 1}.ipynb"
        nbformat.write(nb, path)
        made.append(path)
    return made


def mb(n: int) -> str:
    return f"{n / 2**20:6.0f} MB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tenants", type=int, default=10)
    ap.add_argument("--jobs", default="1,2,4", help="comma-separated --jobs values")
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modes", default=",".join(MODES),
                    help="warm, baseline or both (a large N may take the ratio from a smaller)")
    ap.add_argument("--no-fixed", action="store_true",
                    help="skip the fixed-cost sections (measured at a smaller N)")
    args = ap.parse_args()
    modes = {m: MODES[m] for m in args.modes.split(",") if m.strip()}
    jobs = [int(j) for j in args.jobs.split(",") if j.strip()]

    work = ROOT / "build" / "bench" / f"fleet-scale-{args.scale}-seed-{args.seed}"
    data = work / "tenant.yaml"
    if not data.exists():
        subprocess.run([*OPSKIT, "sandbox", "demo-data", "--out", str(work), "--scale",
                        str(args.scale), "--seed", str(args.seed)], check=True,
                       stdout=subprocess.DEVNULL)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from inventory import credentials  # the practice credentials, from the file's head

    secrets = credentials(data)
    runs_dir = work / f"runs-{args.tenants}"
    shutil.rmtree(runs_dir, ignore_errors=True)
    runs_dir.mkdir(parents=True)
    servers = []
    started = time.perf_counter()
    try:
        urls = []
        for i in range(args.tenants):
            server, url = serve(data, runs_dir / f"server{i + 1:02d}.log")
            servers.append(server)
            urls.append(url)
        out(f"{args.tenants} practice tenants (scale {args.scale}), each its own "
            f"`opskit sandbox serve`, up in {time.perf_counter() - started:.1f} s")
        config = runs_dir / "opskit.toml"
        names = profiles_file(config, urls, work / "iga_export.csv",
                              secrets["OPSKIT_BENCH_CLIENT_ID"])
        env = {**os.environ, "OPSKIT_CONFIG": str(config)}
        for name in names:
            env[f"BENCH_{name.upper()}_SECRET"] = secrets["OPSKIT_BENCH_CLIENT_SECRET"]
            env[f"BENCH_{name.upper()}_TOKEN"] = secrets["OPSKIT_BENCH_ONPREM_TOKEN"]
        report = [*OPSKIT, "report", "--profile", ",".join(names)]
        server_pids = [server.pid for server in servers]
        n_runs = len(names) * 4

        out(f"\n== fleet: {len(names)} tenants × 4 notebooks = {n_runs} runs")
        out(f"{'jobs':>4} {'mode':>8} {'wall':>8} {'CPU':>8} {'CPU/run':>8} {'tenants':>8} "
            f"{'peak 1':>9} {'peak sum':>9}  statuses")
        results: dict[tuple[int, str], dict[str, Any]] = {}
        for j in jobs:
            for mode, reuse in modes.items():
                folder = runs_dir / f"fleet-{mode}-jobs{j}"
                r = fleet_run([*report, "--out", str(folder), "--jobs", str(j)],
                              {**env, "OPSKIT_KERNEL_REUSE": reuse}, server_pids)
                results[j, mode] = r
                out(f"{j:>4} {mode:>8} {r['wall']:7.1f}s {r['cpu']:7.1f}s "
                    f"{r['cpu'] / n_runs:7.2f}s {r['served']:7.1f}s "
                    f"{mb(r['peak_one'])} {mb(r['peak_sum'])}  "
                    f"{statuses(folder)}")
            if len(modes) < len(MODES):
                continue
            w, b = results[j, "warm"], results[j, "baseline"]
            out(f"{j:>4} {'ratio':>8} {w['wall'] / b['wall']:7.2f}× {w['cpu'] / b['cpu']:7.2f}× "
                f"{'':>8} {'':>8} {w['peak_one'] / max(b['peak_one'], 1):8.2f}× "
                f"{w['peak_sum'] / max(b['peak_sum'], 1):8.2f}×")

        fixed: dict[str, float] = {}
        if not args.no_fixed:
            out(f"\n== fixed cost per notebook run: {len(names)} tenants × 4 notebooks that do no "
                "work, --jobs 1")
            empties = empty_notebooks(runs_dir / "notebooks", 4)
            for mode, reuse in MODES.items():
                folder = runs_dir / f"fixed-{mode}"
                r = fleet_run([*report, "--out", str(folder), "--jobs", "1", "--notebooks",
                               ",".join(map(str, empties))], {**env, "OPSKIT_KERNEL_REUSE": reuse})
                fixed[mode] = r["wall"] / n_runs
                fixed[f"{mode} CPU"] = r["cpu"] / n_runs
                out(f"  {mode:>8}: {fixed[mode]:5.2f} s wall and {r['cpu'] / n_runs:5.2f} s CPU "
                    f"per run  {statuses(folder)}")
            out(f"  ratio warm ÷ baseline: {fixed['warm'] / fixed['baseline']:.2f}×")

            out("\n== the runner's timings, in this process, 4 runs of an empty notebook "
                "(medians, s)")
            os.environ["OPSKIT_CONFIG"] = str(config)
            os.environ.update({k: v for k, v in env.items() if k.startswith("BENCH_")})
            from opskit.runner import run_notebook

            timings: dict[str, list[float]] = {}
            for path in empties:
                result = run_notebook(path, profile=names[0], out_dir=runs_dir / "in-process",
                                      single_file=False)
                for phase, seconds in result.timings.items():
                    timings.setdefault(phase, []).append(seconds)
            out("  first run: " + "  ".join(f"{p} {s[0]:.2f}" for p, s in timings.items()))
            out("  later runs: " + "  ".join(f"{p} {statistics.median(s[1:]):.2f}"
                                             for p, s in timings.items()))

        best = min(results.values(), key=lambda r: r["wall"]) if results else None
        out()
        if fixed:
            out(f"VERDICT: fixed cost per run {fixed['warm']:.2f} s wall, "
                f"{fixed['warm CPU']:.2f} s CPU (target ≤ {TARGET_FIXED_S:g} s: "
                f"{'met' if fixed['warm'] <= TARGET_FIXED_S else 'MISSED'}; wall counts only "
                "on a machine nothing else loads)")
        if best is not None:
            scaled = best["wall"] * TARGET_TENANTS / len(names)
            how = "measured" if len(names) == TARGET_TENANTS else \
                f"extrapolated from {len(names)} tenants"
            out(f"VERDICT: {TARGET_TENANTS} tenants × 4 notebooks ≈ {scaled:.0f} s at the best "
                f"--jobs ({how}; target ≤ {TARGET_FLEET_S:g} s: "
                f"{'met' if scaled <= TARGET_FLEET_S else 'MISSED'})")
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()
