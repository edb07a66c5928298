"""What a report folder weighs, and how long its pages take to open in a browser.

    .venv/bin/python benchmarks/report_weight.py FOLDER [FOLDER ...] [--reps 3]

Each FOLDER is an `opskit report` output folder (``make demo`` writes ``build/demo/reports``);
give one made with ``--single-file`` (or by an older opskit) and one made without to compare.
For each: total bytes, the shared ``_static/`` copy, report.html and executed notebooks (sum,
median, largest). Then every report.html is opened in Debian's Chromium (headless, through
Playwright), folders alternating page by page, ``--reps`` times: the time from navigation until
the load event and every chart's SVG is drawn. Medians and the slowest are reported; nothing is
asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def sizes(paths: list[Path]) -> str:
    if not paths:
        return "none"
    each = [p.stat().st_size for p in paths]
    return (f"{len(each)} files, {sum(each) / 1e6:.2f} MB, "
            f"median {statistics.median(each) / 1e3:.0f}"
            f" kB, largest {max(each) / 1e6:.2f} MB")


def weigh(folder: Path) -> None:
    every = [p for p in folder.rglob("*") if p.is_file()]
    print(f"{folder}: {sum(p.stat().st_size for p in every) / 1e6:.2f} MB in {len(every)} files")
    print(f"  _static/       {sizes(sorted((folder / '_static').glob('*')))}")
    print(f"  report.html    {sizes(sorted(folder.rglob('report.html')))}")
    print(f"  notebooks      {sizes(sorted(folder.rglob('*.ipynb')))}")


def open_time(page: Any, report: Path) -> tuple[float, int]:
    """Seconds until the page has loaded and drawn every chart, and how many charts it has."""
    started = time.perf_counter()
    page.goto(report.as_uri(), wait_until="load")
    charts = page.locator(".plotly-graph-div")
    for i in range(charts.count()):
        charts.nth(i).locator(".main-svg").first.wait_for(timeout=60_000)
    return time.perf_counter() - started, charts.count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    for folder in args.folders:
        weigh(folder)
    from playwright.sync_api import sync_playwright

    reports = {f: sorted(f.rglob("report.html")) for f in args.folders}
    times: dict[tuple[Path, bool], list[float]] = {(f, c): [] for f in args.folders
                                                   for c in (True, False)}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        for folder in args.folders:  # untimed: the browser's own start-up
            open_time(page, reports[folder][0])
        for _ in range(args.reps):
            for i in range(max(len(r) for r in reports.values())):
                for folder in args.folders:
                    if i < len(reports[folder]):
                        taken, charts = open_time(page, reports[folder][i])
                        times[folder, charts > 0].append(taken)
        browser.close()
    print("\nopening report.html in headless Chromium (load + every chart drawn), seconds:")
    for (folder, charts), taken in times.items():
        if taken:
            print(f"  {folder}, pages {'with' if charts else 'without'} charts: median "
                  f"{statistics.median(taken):.2f}, slowest {max(taken):.2f} ({len(taken)} opens)")


if __name__ == "__main__":
    main()
