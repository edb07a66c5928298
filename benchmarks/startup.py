"""CLI start-up: `opskit --help` and `opskit sandbox serve --help` beside a bare interpreter.

Run: .venv/bin/python benchmarks/startup.py [--runs 15]

Each command runs --runs times in a fresh process (after one untimed run that warms the page
cache), alternating, so a busy moment on the machine hits every command alike; the median wall
time of each is printed beside `python -c pass`, the floor no CLI can go under. Target (issue
18): each opskit command ≤ 0.3 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.3
COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "opskit --help": ["-m", "opskit.cli", "--help"],
    "opskit sandbox serve --help": ["-m", "opskit.cli", "sandbox", "serve", "--help"],
}


def once(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, stdout=subprocess.DEVNULL,
                   cwd=Path(__file__).resolve().parent.parent)
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for argv in COMMANDS.values():
        once(argv)
    for _ in range(args.runs):
        for name, argv in COMMANDS.items():
            times[name].append(once(argv))
    base = statistics.median(times["python -c pass"])
    print(f"{'':28} {'median s':>9} {'min s':>7} {'over bare python':>17}")
    for name, ts in times.items():
        median = statistics.median(ts)
        print(f"{name:28} {median:9.3f} {min(ts):7.3f} {median - base:+17.3f}")
    worst = max(statistics.median(times[name]) for name in COMMANDS if name.startswith("opskit"))
    print(f"VERDICT: slowest opskit command {worst:.3f} s median (target ≤ {TARGET_S} s): "
          f"{'met' if worst <= TARGET_S else 'NOT met'}")


if __name__ == "__main__":
    main()
