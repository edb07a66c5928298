"""The report pipeline's own cost per notebook, against papermill running an empty notebook.

    .venv/bin/python benchmarks/pipeline.py [--reps 10] [--figure-reps 3]

Side by side in this one process, alternating, after one untimed warm-up of each (imports,
nbconvert's templates):

- **papermill**: ``papermill.execute_notebook`` on a notebook with only a parameters cell,
  written to a file, as a user would call it.
- **pipeline**: ``opskit.runner.run_notebook`` on the same notebook. Its overhead is its
  total time minus the time spent inside papermill (``RunResult.timings["execute"]``):
  parameter inspection and checks, the run folder, reading the record, redaction, the executed
  notebook, the HTML report, results.json and findings.csv, the commit, the index rebuild.

Target (reported, never asserted): median overhead <= 1.5 x the median papermill run. The same
pair on a notebook with a plotly figure (plotly.js embedded: a 5 MB report) is shown for
information. Every run of a kind goes into one output folder, so the index grows as it would.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from opskit.runner import run_notebook

TARGET_RATIO = 1.5
PHASES = ("parameters", "folder", "record", "notebook", "html", "results", "commit", "index")
FIGURE_SOURCE = ("import plotly.graph_objects as go\nfrom opskit.report import record, setup\n"
                 "setup()\ngo.Figure(go.Bar(x=['a', 'b'], y=[1, 2])).show()\nrecord([])")


def out(line: str = "") -> None:
    print(line, flush=True)


def notebook(path: Path, *body: str) -> Path:
    params = new_code_cell('profile = "sandbox"')
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[params, *(new_code_cell(s) for s in body)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def papermill_run(source: Path, target: Path) -> float:
    import papermill

    started = time.perf_counter()
    papermill.execute_notebook(str(source), str(target), parameters={"profile": "sandbox"},
                               progress_bar=False)
    return time.perf_counter() - started


def pipeline_run(source: Path, out_dir: Path) -> tuple[float, float, dict[str, float]]:
    """(total, overhead, overhead per phase) of one run_notebook call."""
    started = time.perf_counter()
    result = run_notebook(source, out_dir=out_dir)
    total = time.perf_counter() - started
    if result.status != "ok":
        raise SystemExit(f"the benchmark notebook did not run cleanly: {result.error}")
    phases = {p: result.timings.get(p, 0.0) for p in PHASES}
    return total, total - result.timings["execute"], phases


def compare(label: str, source: Path, work: Path, reps: int) -> tuple[float, float]:
    pm_out, run_out = work / f"{label}-papermill.ipynb", work / f"{label}-runs"
    papermill_run(source, pm_out)  # warm-up: imports, kernel spec lookup
    pipeline_run(source, run_out)  # warm-up: nbconvert's exporter and templates
    pm_times, totals, overheads = [], [], []
    phase_samples: dict[str, list[float]] = {p: [] for p in PHASES}
    for _ in range(reps):
        pm_times.append(papermill_run(source, pm_out))
        total, overhead, phases = pipeline_run(source, run_out)
        totals.append(total)
        overheads.append(overhead)
        for phase, seconds in phases.items():
            phase_samples[phase].append(seconds)
    pm, total, overhead = (statistics.median(x) for x in (pm_times, totals, overheads))
    out(f"{label}: {reps} runs each")
    out(f"  papermill.execute_notebook   median {pm * 1000:8.1f} ms   "
        f"(min {min(pm_times) * 1000:.1f}, max {max(pm_times) * 1000:.1f})")
    out(f"  run_notebook, total          median {total * 1000:8.1f} ms")
    out(f"  run_notebook, overhead       median {overhead * 1000:8.1f} ms   "
        f"(min {min(overheads) * 1000:.1f}, max {max(overheads) * 1000:.1f})")
    out(f"  overhead / papermill run     {overhead / pm:8.2f} x")
    out("  overhead by phase (median ms): " + ", ".join(
        f"{p} {statistics.median(s) * 1000:.1f}" for p, s in phase_samples.items()))
    return pm, overhead


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10, help="timed runs of each (default 10)")
    parser.add_argument("--figure-reps", type=int, default=3,
                        help="timed runs of each on the figure notebook (0 skips it)")
    args = parser.parse_args()
    out(f"python {platform.python_version()} on {platform.machine()}, "
        f"{platform.system()}; pipeline overhead vs an empty notebook through papermill")
    with tempfile.TemporaryDirectory(prefix="opskit-bench-") as tmp:
        work = Path(tmp)
        empty = notebook(work / "empty.ipynb")
        pm, overhead = compare("empty notebook", empty, work, args.reps)
        if args.figure_reps:
            out()
            figure = notebook(work / "figure.ipynb", FIGURE_SOURCE)
            compare("notebook with a plotly figure (information)", figure, work,
                    args.figure_reps)
    ratio = overhead / pm
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    out()
    out(f"VERDICT: pipeline overhead {overhead * 1000:.0f} ms = {ratio:.2f} x an empty "
        f"papermill run ({pm * 1000:.0f} ms); target <= {TARGET_RATIO} x: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
