"""Paging PrivilegedData: the practice tenant against scim2-server's in-memory server, in one run.

    .venv/bin/python benchmarks/sandbox.py [--scale 100] [--samples 200] [--seed 0]

Both servers run under uvicorn (asyncio loop, h11) on 127.0.0.1 in a background thread of this
process, and are read over real HTTP with httpx (one keep-alive connection per client). Server
time is the `Server-Timing: app;dur=<ms>` header: the practice tenant sets it itself, and the
same measurement (call of the ASGI app until its response headers are sent, which both apps do
only once the whole body is built) is wrapped around scim2-server here. Wall time is what the
client observes: request sent until the whole body is read.

Targets (reported, never asserted): a page of 100 in <= 5 ms and a page of 1,000 in <= 30 ms of
server time at the median, warm. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import random
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from scim2_models import ResourceType, Schema, ScimProvider
from scim2_server.applications.asgi import ASGIApplication
from scim2_server.memory import AsyncInMemoryStorage, InMemoryStorage
from scim2_server.utils import load_default_service_provider_config

from opskit.sandbox import demodata, serve, tenantfile
from opskit.sandbox import schemas as pam
from opskit.sandbox.faults import ServerTiming
from opskit.sandbox.tenantfile import TenantFile

PAGE_SIZES = (100, 1000)
TARGET_MS = {100: 5.0, 1000: 30.0}
WARMUP = 20  # untimed random reads per (flavor, page size) before sampling


def out(line: str = "") -> None:
    print(line, flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def rss_mb() -> float:
    """Resident memory now (Linux /proc; the peak where /proc is missing)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


# ---------------------------------------------------------------------------------- statistics
@dataclass
class Series:
    """Server and wall times (ms) of a set of reads of one measure."""

    server: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    total_s: float = 0.0  # wall time of the whole series (for a full pass)
    records: int = 0  # totalResults of the list read

    def add(self, server_ms: float, wall_ms: float) -> None:
        self.server.append(server_ms)
        self.wall.append(wall_ms)


def quantile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def median(values: list[float]) -> float:
    return quantile(values, 0.5)


def p95(values: list[float]) -> float:
    return quantile(values, 0.95)


def fmt_ms(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def med_p95(values: list[float]) -> str:
    return f"{fmt_ms(median(values))} / {fmt_ms(p95(values))}"


# ---------------------------------------------------------------------------------- HTTP reads
def server_ms(response: httpx.Response) -> float:
    header = response.headers.get("server-timing", "")
    for part in header.split(";"):
        if part.strip().startswith("dur="):
            return float(part.strip()[4:])
    raise RuntimeError(f"no Server-Timing duration in the response of {response.request.url}")


def read_page(client: httpx.Client, url: str, start: int, count: int) -> tuple[float, float, Any]:
    """One list read: (server ms, wall ms, parsed body). Parsing is outside the timed part."""
    t0 = time.perf_counter()
    response = client.get(url, params={"startIndex": start, "count": count})
    wall = (time.perf_counter() - t0) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {response.request.url} answered {response.status_code}: "
                           f"{response.text[:300]}")
    body = orjson.loads(response.content)
    expected = min(count, max(0, body["totalResults"] - start + 1))
    if len(body["Resources"]) != expected:
        raise RuntimeError(f"GET {response.request.url} returned {len(body['Resources'])} "
                           f"resources, expected {expected}")
    return server_ms(response), wall, body


def total_results(client: httpx.Client, url: str) -> int:
    response = client.get(url, params={"startIndex": 1, "count": 0})
    response.raise_for_status()
    return int(response.json()["totalResults"])


def full_pass(client: httpx.Client, url: str, count: int) -> Series:
    """Read every page once, in order: the first read of each resource when the cache is cold."""
    series = Series()
    t0 = time.perf_counter()
    start, total = 1, None
    while total is None or start <= total:
        srv, wall, body = read_page(client, url, start, count)
        series.add(srv, wall)
        total = body["totalResults"]
        start += count
    series.total_s = time.perf_counter() - t0
    series.records = total or 0
    return series


def random_starts(rng: random.Random, total: int, count: int, n: int) -> list[int]:
    """Start indexes spread uniformly over the whole list (every page full)."""
    last = max(1, total - count + 1)
    return [rng.randint(1, last) for _ in range(n)]


def sample(client: httpx.Client, url: str, total: int, count: int, n: int,
           rng: random.Random, warmup: int = WARMUP) -> Series:
    for start in random_starts(rng, total, count, warmup):
        read_page(client, url, start, count)
    series = Series(records=total)
    t0 = time.perf_counter()
    for start in random_starts(rng, total, count, n):
        srv, wall, _ = read_page(client, url, start, count)
        series.add(srv, wall)
    series.total_s = time.perf_counter() - t0
    return series


# ---------------------------------------------------------------------------------- practice tenant
def cloud_token(client: httpx.Client, token_url: str, tf: TenantFile) -> str:
    sa = tf.service_account
    secret = sa.client_secret
    if secret.startswith("env:"):
        secret = os.environ[secret[4:]]
    response = client.post(token_url, data={
        "grant_type": "client_credentials", "client_id": sa.client_id,
        "client_secret": secret, "scope": "xpm.platform"})
    response.raise_for_status()
    return str(response.json()["access_token"])


@dataclass
class PracticeRun:
    start_s: float = 0.0
    views_s: float = 0.0
    cold: dict[str, Series] = field(default_factory=dict)  # flavor → full pass
    warm: dict[str, Series] = field(default_factory=dict)  # flavor → random reads
    rss_start_mb: float = 0.0  # resident memory with the server started, nothing read yet
    rss_end_mb: float = 0.0  # resident memory with both flavors' render caches full


def bench_practice(tf: TenantFile, count: int, samples: int, rng: random.Random) -> PracticeRun:
    """A fresh server per page size, so that its full pass is a cold one."""
    run = PracticeRun()
    t0 = time.perf_counter()
    with serve.running(tf) as sb:
        run.start_s = time.perf_counter() - t0
        run.rss_start_mb = rss_mb()
        with httpx.Client(timeout=120) as anon:
            token = cloud_token(anon, sb.token_url, tf)
        onprem = httpx.Client(headers={"Authorization": f"Bearer {tf.onprem.token}"}, timeout=120)
        cloud = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=120)
        with onprem, cloud:
            urls = {"on-prem": (onprem, sb.onprem_url + "/PrivilegedData"),
                    "cloud": (cloud, sb.cloud_url + "/PrivilegedData")}
            # The first list request builds the visibility views (shared by both flavors).
            t1 = time.perf_counter()
            total_results(onprem, urls["on-prem"][1])
            run.views_s = time.perf_counter() - t1
            for flavor, (client, url) in urls.items():
                run.cold[flavor] = full_pass(client, url, count)
                out(f"  practice tenant  {flavor:<7} page {count:>4}: cold full pass of "
                    f"{run.cold[flavor].records:,} records in {len(run.cold[flavor].server)} "
                    f"pages: {run.cold[flavor].total_s:.2f} s")
            for flavor, (client, url) in urls.items():
                total = run.cold[flavor].records
                run.warm[flavor] = sample(client, url, total, count, samples, rng)
                out(f"  practice tenant  {flavor:<7} page {count:>4}: {samples} warm random "
                    f"reads in {run.warm[flavor].total_s:.2f} s")
            run.rss_end_mb = rss_mb()
    return run


# ---------------------------------------------------------------------------------- scim2-server
def scim2_provider() -> ScimProvider:
    """scim2-server's service, described by the practice tenant's own discovery documents.

    This is scim2-server's way to serve custom resource types (what its `--schema` and
    `--resource-type` options do): each Schema becomes a model, each ResourceType binds it to
    an endpoint. User and Group come along so that the discovery endpoints match.
    """
    schemas = [Schema.model_validate(doc) for doc in pam.schema_documents().values()]
    resource_types = [
        ResourceType.model_validate({"schemas": [pam.RESOURCE_TYPE], "id": name, "name": name,
                                     "endpoint": endpoint, "description": name, "schema": urn})
        for name, endpoint, urn in pam.RESOURCE_TYPES]
    return ScimProvider.from_discovery(schemas, resource_types,
                                       config=load_default_service_provider_config())


def scim2_records(tf: TenantFile, n: int, model: type[Any], base: str) -> list[Any]:
    """The first n secrets of the tenant file, as the on-prem view shows them (id, name, type,
    container reference), validated into scim2-server's model built from the PAM schema."""
    folders = {f.id: f.name for f in tf.folders}
    stamp = dt.datetime.now(dt.UTC)
    meta = {"resourceType": "PrivilegedData", "created": stamp, "lastModified": stamp,
            "version": 'W/"1"'}
    records = []
    for s in tf.secrets[:n]:
        body: dict[str, Any] = {"schemas": [pam.PRIVILEGED_DATA], "id": s.id, "name": s.name,
                                "type": s.template, "meta": meta}
        if s.folder is not None:
            body["container"] = {"value": s.folder, "$ref": f"{base}/Containers/{s.folder}",
                                 "display": folders[s.folder]}
        records.append(model.model_validate(body))
    return records


@dataclass
class Scim2Run:
    records: int
    build_s: float = 0.0
    load_s: float = 0.0
    start_s: float = 0.0
    first_ms: float = 0.0
    warm: dict[int, Series] = field(default_factory=dict)  # page size → random reads
    rss_before_mb: float = 0.0
    rss_loaded_mb: float = 0.0


def bench_scim2(tf: TenantFile, provider: ScimProvider, n: int, samples: int,
                rng: random.Random) -> Scim2Run:
    run = Scim2Run(records=n, rss_before_mb=rss_mb())
    sock = serve.bind()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/v2"
    t0 = time.perf_counter()
    model = provider.model_for("PrivilegedData")
    records = scim2_records(tf, n, model, url)
    run.build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    storage = InMemoryStorage()
    storage.resources = records
    del records
    run.load_s = time.perf_counter() - t0
    run.rss_loaded_mb = rss_mb()
    t0 = time.perf_counter()
    app = ServerTiming(ASGIApplication(AsyncInMemoryStorage(storage), provider))
    with serve.serving(app, sock=sock, name="scim2-server"), httpx.Client(timeout=300) as client:
        run.start_s = time.perf_counter() - t0
        list_url = url + "/PrivilegedData"
        run.first_ms = read_page(client, list_url, 1, PAGE_SIZES[0])[1]
        for count in PAGE_SIZES:
            run.warm[count] = sample(client, list_url, n, count, samples, rng, warmup=3)
            out(f"  scim2-server     {n:,} records, page {count:>4}: {samples} random reads in "
                f"{run.warm[count].total_s:.2f} s")
    del storage, app
    gc.collect()
    return run


# ---------------------------------------------------------------------------------- report
def table(rows: list[list[str]], header: list[str], right: set[int],
          groups: list[tuple[str, int, int]]) -> list[str]:
    """Aligned text columns; groups = (title, first column, last column) above the header."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    top = ""
    for title, first, last in groups:
        left = sum(w + 2 for w in widths[:first])
        span = sum(widths[first:last + 1]) + 2 * (last - first)
        top = top.ljust(left) + title.center(span, "-")
    return [top.rstrip(), line(header), "  ".join("-" * w for w in widths),
            *(line(r) for r in rows)]


def report(practice: dict[int, PracticeRun], scim2: list[Scim2Run], setup: dict[str, float],
           rss_practice: float) -> None:
    """Print the results table, the cold passes, setup times, memory and the verdict."""
    full = max(scim2, key=lambda r: r.records) if scim2 else None
    rows: list[list[str]] = []

    def scim2_cells(run: Scim2Run | None, count: int, base: float) -> list[str]:
        if run is None:
            return ["", "—", "—", "—"]
        s = run.warm[count]
        ratio = median(s.server) / base if base > 0 else float("inf")
        return [f"{run.records:,}", med_p95(s.server), med_p95(s.wall), f"{ratio:,.0f}x"]

    for count in PAGE_SIZES:
        for flavor in ("on-prem", "cloud"):
            s = practice[count].warm[flavor]
            cells = [f"{flavor} page {count}, warm", f"{s.records:,}",
                     med_p95(s.server), med_p95(s.wall)]
            rows.append(cells + scim2_cells(full if flavor == "on-prem" else None, count,
                                            median(s.server)))
            if flavor == "on-prem":
                for run in scim2:
                    if run is not full:
                        rows.append(["  same, scim2-server smaller", "", "", "",
                                     *scim2_cells(run, count, median(s.server))])
    for count in PAGE_SIZES:
        for flavor in ("on-prem", "cloud"):
            s = practice[count].cold[flavor]
            rows.append([f"{flavor} page {count}, cold pass", f"{s.records:,}",
                         med_p95(s.server), med_p95(s.wall), "", "n/a", "", ""])
    header = ["GET /PrivilegedData", "records", "server", "wall",
              "records", "server", "wall", "ratio"]
    out()
    out("Results, median / p95 in ms. server = Server-Timing (server time); wall = observed by")
    out("the client; ratio = scim2-server median server time / practice tenant median server time.")
    out()
    groups = [(" practice tenant ", 1, 3), (" scim2-server ", 4, 6)]
    for line in table(rows, header, right={1, 2, 3, 4, 5, 6, 7}, groups=groups):
        out(line)
    out()
    out("Cold full pass (every page read once, in order, on a freshly started server):")
    for count in PAGE_SIZES:
        for flavor in ("on-prem", "cloud"):
            s = practice[count].cold[flavor]
            out(f"  {flavor:<7} page {count:>4}: {len(s.server):>5} pages, {s.total_s:6.2f} s "
                f"wall, {sum(s.server) / 1000:6.2f} s server")
    out("  scim2-server keeps no rendered cache: each read renders, so cold = warm (not rerun).")
    out()
    out("Setup:")
    out(f"  practice tenant: generate {setup['generate']:.2f} s, parse {setup['parse']:.2f} s; "
        "then one fresh server per page size (100 / 1000):")
    out(f"    start (Tenant + uvicorn) "
        f"{' / '.join(f'{practice[c].start_s:.2f}' for c in PAGE_SIZES)} s, first list request "
        f"(builds the views) {' / '.join(f'{practice[c].views_s:.2f}' for c in PAGE_SIZES)} s")
    for run in scim2:
        out(f"  scim2-server {run.records:>7,} records: models {run.build_s:.2f} s, "
            f"storage {run.load_s:.2f} s, start {run.start_s:.2f} s, "
            f"first page of 100 {run.first_ms:.0f} ms wall")
    out()
    out(f"Memory: peak RSS of the process {peak_rss_mb():,.0f} MB "
        f"({rss_practice:,.0f} MB by the end of the practice tenant phase).")
    out(f"  resident after generate + parse: {setup['rss_parsed']:,.0f} MB")
    for count in PAGE_SIZES:
        r = practice[count]
        out(f"  practice tenant (page-{count} server): {r.rss_start_mb:,.0f} MB started, "
            f"{r.rss_end_mb:,.0f} MB with both flavors' render caches full "
            f"(+{r.rss_end_mb - r.rss_start_mb:,.0f} MB)")
    for run in scim2:
        grown = run.rss_loaded_mb - run.rss_before_mb
        out(f"  scim2-server {run.records:>7,} records: +{grown:,.0f} MB resident once loaded")
    out("  (growth figures are lower bounds: a phase reuses memory an earlier phase freed)")
    out()
    verdicts = []
    met = True
    for count in PAGE_SIZES:
        target = TARGET_MS[count]
        parts = []
        for flavor in ("on-prem", "cloud"):
            m = median(practice[count].warm[flavor].server)
            met &= m <= target
            parts.append(f"{flavor} {fmt_ms(m)} ms")
        verdicts.append(f"page {count} <= {target:g} ms: {', '.join(parts)}")
    cold_parts = []
    for count in PAGE_SIZES:
        cold = [median(practice[count].cold[f].server) for f in ("on-prem", "cloud")]
        ok = all(m <= TARGET_MS[count] for m in cold)
        cold_parts.append(f"page {count} {' / '.join(fmt_ms(m) for m in cold)} ms "
                          f"({'within' if ok else 'over'})")
    out(f"VERDICT: {'TARGETS MET' if met else 'TARGETS MISSED'} (warm, server median) — "
        + "; ".join(verdicts))
    out("  cold-read medians, for information: " + "; ".join(cold_parts))
    if scim2 and min(len(r.warm[c].server) for r in scim2 for c in PAGE_SIZES) < 40:
        out(f"  note: scim2-server p95 over {len(scim2[0].warm[PAGE_SIZES[0]].server)} samples is "
            "close to its slowest read.")


# ---------------------------------------------------------------------------------- main
def parse_sizes(text: str) -> list[str]:
    sizes = [s.strip().lower() for s in text.split(",") if s.strip()]
    for s in sizes:
        if s != "full" and not s.isdigit():
            raise argparse.ArgumentTypeError(f"{s!r}: use record counts or 'full'")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=100,
                        help="demo data scale (100 ≈ 20,000 users, 100,000 secrets)")
    parser.add_argument("--seed", type=int, default=0, help="demo data and sampling seed")
    parser.add_argument("--samples", type=int, default=200,
                        help="random warm reads per practice-tenant measure (default 200)")
    parser.add_argument("--scim2-samples", type=int, default=20,
                        help="random reads per scim2-server measure (default 20: it is slow)")
    parser.add_argument("--scim2-sizes", type=parse_sizes, default=parse_sizes("5000,full"),
                        help="record counts loaded into scim2-server, 'full' = every secret "
                        "(default 5000,full)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rng = random.Random(f"opskit-bench/{args.seed}")

    out(f"opskit sandbox benchmark — scale {args.scale}, seed {args.seed}, "
        f"{args.samples} samples (scim2-server {args.scim2_samples}); Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}")
    out()
    setup: dict[str, float] = {}
    t0 = time.perf_counter()
    data = demodata.generate(args.scale, args.seed)
    setup["generate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    tf = tenantfile.parse_tenant(data)
    setup["parse"] = time.perf_counter() - t0
    del data
    gc.collect()
    setup["rss_parsed"] = rss_mb()
    out(f"Tenant: {len(tf.users):,} users, {len(tf.groups):,} groups, {len(tf.folders):,} "
        f"folders, {len(tf.secrets):,} secrets (generate {setup['generate']:.2f} s, "
        f"parse {setup['parse']:.2f} s)")

    practice: dict[int, PracticeRun] = {}
    for count in PAGE_SIZES:
        practice[count] = bench_practice(tf, count, args.samples, rng)
        gc.collect()
    rss_practice = peak_rss_mb()

    provider = scim2_provider()
    sizes = sorted({len(tf.secrets) if s == "full" else min(int(s), len(tf.secrets))
                    for s in args.scim2_sizes})
    scim2 = [bench_scim2(tf, provider, n, args.scim2_samples, rng) for n in sizes]

    report(practice, scim2, setup, rss_practice)
    out(f"Total run time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
