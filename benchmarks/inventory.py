"""Full inventory speed: opskit against the plain sequential loop people write today.

Run: .venv/bin/python benchmarks/inventory.py [--scale 100] [--latency-ms 50] [--flavor onprem]
     [--concurrency 8] [--baseline auto|full|sample]

One run, side by side, against the same practice tenant served by its own process with added
latency on every request:

- baseline: a plain sequential pagination loop with count=100 (httpx, startIndex += 100 until
  totalResults), the six resource types into DataFrames; read whole, or (``--baseline sample``,
  and by default where the whole loop would take more than ``--baseline-minutes``) on a sample
  of its pages, its time and CPU extrapolated to every page and labelled so;
- opskit: `opskit.inventory.fetch` with the page size and concurrency it chooses itself, and
  secret permissions asked for (as `opskit inventory` reads them), so both read the same six;
- opskit at a fixed concurrency (``--concurrency``, 8 by default; 0 for none), the same call
  with `ScimClient(concurrency=N)`.

Each runs in a child process of its own, so its peak memory (ru_maxrss) is its alone, and its
CPU time (user + system, `time.process_time` around the reading alone: no interpreter start,
no imports) is its own. Printed: times, the speed-ups, CPU per 100,000 records read beside the
baseline's, opskit against the bound latency sets for its own choices (requests × latency ÷
concurrency) per run and their median, and peak memory. Targets (issue 18): speed-up ≥ 25× at
the default concurrency and ≥ 60× at 8, ≤ 0.5 s of CPU per 100,000 records; (issue 3)
opskit ≤ 1.2 × bound, peak memory < 500 MB at scale 100.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ENDPOINTS = ("Users", "Groups", "Containers", "ContainerPermissions", "PrivilegedData",
             "PrivilegedDataPermissions")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def credentials(data: Path) -> dict[str, str]:
    """The practice credentials, from the top of the tenant file only: Linux carries a
    process's peak RSS across fork and exec, so a parent that loaded the whole tenant would
    lend its peak to every child it measures."""
    import yaml

    head = []
    with data.open() as f:
        for line in f:
            if line.startswith(("users:", "groups:", "folders:")):
                break
            head.append(line)
    tenant = yaml.safe_load("".join(head))
    sa = tenant["service_account"]
    return {"OPSKIT_BENCH_CLIENT_ID": sa["client_id"],
            "OPSKIT_BENCH_CLIENT_SECRET": sa["client_secret"],
            "OPSKIT_BENCH_ONPREM_TOKEN": tenant["onprem"]["token"]}


def bearer(url: str, flavor: str) -> tuple[str, str]:
    """(SCIM base, bearer token) for a flavor of the practice tenant at url."""
    import httpx

    if flavor == "onprem":
        return f"{url}/SCIMConnector/v2", os.environ["OPSKIT_BENCH_ONPREM_TOKEN"]
    r = httpx.post(f"{url}/identity/api/oauth2/token/xpmplatform", data={
        "grant_type": "client_credentials", "client_id": os.environ["OPSKIT_BENCH_CLIENT_ID"],
        "client_secret": os.environ["OPSKIT_BENCH_CLIENT_SECRET"], "scope": "xpm.platform"})
    r.raise_for_status()
    return f"{url}/scim/v2", r.json()["access_token"]


def role_baseline(url: str, flavor: str) -> dict[str, Any]:
    """The loop found in most scripts: one page of 100 after another."""
    import httpx
    import pandas as pd

    started, cpu = time.perf_counter(), time.process_time()
    base, token = bearer(url, flavor)
    frames, pages = {}, 0
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=900) as client:
        for endpoint in ENDPOINTS:
            rows, start = [], 1
            while True:
                body = client.get(f"{base}/{endpoint}",
                                  params={"startIndex": start, "count": 100}).json()
                pages += 1
                batch = body.get("Resources", [])
                rows.extend(batch)
                start += len(batch)
                if not batch or start > body["totalResults"]:
                    break
            frames[endpoint] = pd.json_normalize(rows)
    return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
            "requests": pages + (flavor == "cloud"),
            "counts": {e: len(df) for e, df in frames.items()}, "peak_rss_mb": peak_rss_mb()}


def role_baseline_sample(url: str, flavor: str, per_listing: int) -> dict[str, Any]:
    """The same loop on a sample of its pages, extrapolated to every page.

    Per listing: its first page, timed on its own and counted once (the server renders the
    listing for it), then `per_listing` pages spread evenly over the rest, each read as the
    loop reads it (one after another, `.json()`, rows kept) and then put through
    `pandas.json_normalize`; the time and CPU per page of those, times the pages the loop
    would read (the token and the client counted once, as in the loop). Peak memory is not
    extrapolated: it is the sample's own (said so)."""
    import httpx
    import pandas as pd

    started, cpu_started = time.perf_counter(), time.process_time()
    base, token = bearer(url, flavor)
    pages = sampled = 0
    counts = {}
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=900) as client:
        # Counted once, as in the loop: the token, the client.
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        for endpoint in ENDPOINTS:
            t, c = time.perf_counter(), time.process_time()
            body = client.get(f"{base}/{endpoint}", params={"startIndex": 1, "count": 100}).json()
            rows = list(body.get("Resources", []))
            seconds += time.perf_counter() - t
            cpu += time.process_time() - c
            total = body["totalResults"]
            counts[endpoint] = total
            n = -(-total // 100)  # the pages the loop reads
            pages += max(n, 1)
            rest = list(range(1, n))
            picks = [rest[i * len(rest) // per_listing] for i in range(per_listing)] \
                if len(rest) > per_listing else rest
            if not picks:
                continue
            t, c = time.perf_counter(), time.process_time()
            for page in picks:
                body = client.get(f"{base}/{endpoint}",
                                  params={"startIndex": page * 100 + 1, "count": 100}).json()
                rows.extend(body.get("Resources", []))
            pd.json_normalize(rows)
            scale = len(rest) / len(picks)
            seconds += (time.perf_counter() - t) * scale
            cpu += (time.process_time() - c) * scale
            sampled += len(picks) + 1
    return {"seconds": seconds, "cpu": cpu, "requests": pages + (flavor == "cloud"),
            "counts": counts, "peak_rss_mb": peak_rss_mb(), "sampled": sampled}


def bench_profile(url: str, flavor: str) -> Any:
    from opskit.config import CloudProfile, OnPremProfile, SecretRef

    if flavor == "onprem":
        return OnPremProfile("bench", base_url=f"{url}/SCIMConnector/v2",
                             token=SecretRef("env:OPSKIT_BENCH_ONPREM_TOKEN"))
    return CloudProfile("bench", base_url=f"{url}/scim/v2",
                        token_url=f"{url}/identity/api/oauth2/token/xpmplatform",
                        client_id=os.environ["OPSKIT_BENCH_CLIENT_ID"],
                        client_secret=SecretRef("env:OPSKIT_BENCH_CLIENT_SECRET"))


def role_opskit(url: str, flavor: str, concurrency: int | None = None) -> dict[str, Any]:
    import asyncio

    from opskit.inventory import fetch
    from opskit.scim import ScimClient

    prof = bench_profile(url, flavor)

    async def go() -> dict[str, Any]:
        started, cpu = time.perf_counter(), time.process_time()
        async with ScimClient.for_profile(prof, concurrency=concurrency) as client:
            inv = await fetch(client, source="bench", progress=False, secret_permissions=True)
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
            # The token request counts, as it does for the baseline.
            tokens = getattr(client.http.auth, "fetches", 0)
            return {"seconds": seconds, "cpu": cpu, "requests": client.requests + tokens,
                    "concurrency": client.mean_concurrency, "lowest": client.limiter.lowest,
                    "page_size": await client.max_page_size(),
                    "counts": {e: inv.meta["server_totals"][e] for e in ENDPOINTS},
                    "complete": inv.complete, "peak_rss_mb": peak_rss_mb()}

    return asyncio.run(go())


def role_http(url: str, flavor: str, concurrency: int) -> dict[str, Any]:
    """The floor under opskit's own work: the same requests through the same client, at the
    same concurrency and spread the same way, bodies read and dropped (no parsing, no
    frames)."""
    import asyncio

    from opskit.inventory import ATTRIBUTES
    from opskit.scim import ScimClient

    async def go() -> dict[str, Any]:
        async with ScimClient.for_profile(bench_profile(url, flavor),
                                          concurrency=concurrency) as client:
            size = await client.max_page_size()
            await client.resource_types()
            totals = {e: (await client.request("GET", e, params={"count": 0}))["totalResults"]
                      for e in ENDPOINTS}

            async def page(endpoint: str, start: int) -> None:
                r = await client._send("GET", endpoint, pace=True, params={
                    "startIndex": start, "count": size,
                    "attributes": ",".join(ATTRIBUTES[endpoint])})
                r.raise_for_status()

            started = time.perf_counter()  # the counts above are not part of an inventory
            await asyncio.gather(*(page(e, s) for e, n in totals.items()
                                   for s in range(1, n + 1, size)))
            pages = sum(-(-n // size) for n in totals.values())
            return {"seconds": time.perf_counter() - started, "requests": pages}

    return asyncio.run(go())


def cpu_ticks() -> tuple[int, int]:
    """(steal, total) CPU ticks of this host so far: a virtual machine's CPUs can be taken
    by its host (steal), and a round trip that waits for one is slower for it."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(t) for t in f.readline().split()[1:9]]
    except (OSError, ValueError, IndexError):
        return 0, 0
    return ticks[7], sum(ticks)


def child(role: str, url: str, flavor: str, env: dict[str, str],
          *extra: str) -> dict[str, Any]:
    steal, total = cpu_ticks()
    out = subprocess.run([sys.executable, __file__, "--role", role, "--url", url, "--flavor",
                          flavor, *extra], capture_output=True, text=True, check=False,
                         env={**os.environ, **env})
    if out.returncode != 0:
        raise SystemExit(f"{role} failed:\n{out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    steal_after, total_after = cpu_ticks()
    result["steal"] = (steal_after - steal) / max(total_after - total, 1)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--flavor", choices=("onprem", "cloud", "both"), default="both")
    ap.add_argument("--runs", type=int, default=5, help="measured opskit runs per flavor and "
                    "concurrency")
    ap.add_argument("--concurrency", type=int, default=8,
                    help="also run opskit at this fixed concurrency (0: only its default)")
    ap.add_argument("--baseline", choices=("auto", "full", "sample"), default="auto",
                    help="read the baseline loop whole, or on a sample of its pages and "
                    "extrapolate (auto: sample where the whole loop would take longer than "
                    "--baseline-minutes)")
    ap.add_argument("--baseline-minutes", type=float, default=20.0)
    ap.add_argument("--baseline-sample", type=int, default=50,
                    help="pages sampled per listing, besides its first")
    ap.add_argument("--role", choices=("baseline", "sample", "opskit", "http"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.role:
        if args.role == "http":
            out = role_http(args.url, args.flavor, args.concurrency)
        elif args.role == "opskit":
            out = role_opskit(args.url, args.flavor, args.concurrency or None)
        elif args.role == "sample":
            out = role_baseline_sample(args.url, args.flavor, args.baseline_sample)
        else:
            out = role_baseline(args.url, args.flavor)
        print(json.dumps(out))
        return

    out_dir = ROOT / "build" / "bench" / f"scale-{args.scale}-seed-{args.seed}"
    data = out_dir / "tenant.yaml"
    opskit = [sys.executable, "-m", "opskit.cli"]
    if not data.exists():
        t = time.perf_counter()
        subprocess.run([*opskit, "sandbox", "demo-data", "--out", str(out_dir), "--scale",
                        str(args.scale), "--seed", str(args.seed)], check=True,
                       stdout=subprocess.DEVNULL)
        print(f"demo data, scale {args.scale}: written in {time.perf_counter() - t:.1f} s")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    t = time.perf_counter()
    server = subprocess.Popen([*opskit, "sandbox", "serve", "--data", str(data), "--port",
                               str(port), "--latency-ms", str(args.latency_ms)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import httpx

        while True:
            try:
                httpx.get(f"{url}/_sandbox/health", timeout=2)
                break
            except httpx.TransportError:
                if server.poll() is not None:
                    raise SystemExit("the practice tenant did not start") from None
                time.sleep(0.2)
        print(f"practice tenant (separate process) up in {time.perf_counter() - t:.1f} s, "
              f"{args.latency_ms:g} ms added to every request\n")
        flavors = ("onprem", "cloud") if args.flavor == "both" else (args.flavor,)
        secrets = credentials(data)
        for flavor in flavors:
            bench_flavor(url, flavor, secrets, args)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # busy rendering a listing: it hears no signal
            server.kill()
            server.wait()


def loop_pages(url: str, flavor: str, secrets: dict[str, str]) -> int:
    """The pages the baseline loop would read (count=100), from each listing's count."""
    import httpx

    os.environ.update(secrets)
    base, token = bearer(url, flavor)
    headers = {"Authorization": f"Bearer {token}"}
    # A listing's first answer renders it whole on the server: minutes at scale 1,000.
    return sum(max(-(-httpx.get(f"{base}/{e}", params={"count": 0}, headers=headers,
                                timeout=900).json()["totalResults"] // 100), 1)
               for e in ENDPOINTS)


def measured(url: str, flavor: str, secrets: dict[str, str], args: argparse.Namespace,
             concurrency: int) -> list[dict[str, Any]]:
    """opskit's measured runs at a concurrency (0: its own), each against its bound."""
    runs = [child("opskit", url, flavor, secrets, "--concurrency", str(concurrency))
            for _ in range(args.runs)]
    for r in runs:
        r["bound"] = r["requests"] * args.latency_ms / 1000 / r["concurrency"]
        r["to_bound"] = r["seconds"] / r["bound"]
    return runs


def bench_flavor(url: str, flavor: str, secrets: dict[str, str],
                 args: argparse.Namespace) -> None:
    sample = args.baseline == "sample"
    if args.baseline == "auto":
        # The latency alone, a floor under the loop's time: over the limit, sample.
        sample = loop_pages(url, flavor, secrets) * args.latency_ms / 60_000 \
            > args.baseline_minutes
    base = child("sample" if sample else "baseline", url, flavor, secrets,
                 "--baseline-sample", str(args.baseline_sample))
    # The server renders each projection once per revision: a first opskit pass warms it, as
    # the baseline's own first pages warmed the full renders it asks for.
    child("opskit", url, flavor, secrets, "--concurrency", "0")
    variants = [("default", measured(url, flavor, secrets, args, 0))]
    if args.concurrency:
        variants.append((f"concurrency {args.concurrency}",
                         measured(url, flavor, secrets, args, args.concurrency)))
    for _, runs in variants:
        for r in runs:
            assert base["counts"] == r["counts"], (base["counts"], r["counts"])
    records = sum(base["counts"].values())

    def per_100k(cpu: float) -> float:
        return cpu / records * 100_000

    print(f"== {flavor} flavor, scale {args.scale}: {records:,} records ("
          + ", ".join(f"{e} {n:,}" for e, n in base["counts"].items()) + ")")
    how = (f"EXTRAPOLATED from {base['sampled']:,} of its {base['requests']:,} pages"
           if sample else "read whole")
    print(f"  baseline (sequential, count=100; {how}): {base['seconds']:8.2f} s "
          f"{base['requests']:6,} requests  CPU {base['cpu']:6.2f} s = "
          f"{per_100k(base['cpu']):.3f} s per 100k records  peak {base['peak_rss_mb']:6.0f} MB"
          + (" (the sample's own)" if sample else ""))
    summary = []
    for label, runs in variants:
        # Each run picks its own concurrency, so each has its own bound: the ratio reported
        # is the median of the runs' ratios, the time the median of their times.
        ops = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
        cpu = statistics.median(r["cpu"] for r in runs)
        to_bound = statistics.median(r["to_bound"] for r in runs)
        speedup = base["seconds"] / ops["seconds"]
        target = 60 if label == "concurrency 8" else 25 if label == "default" else None
        print(f"  opskit, {label} (count={ops['page_size']}):")
        for r in runs:
            print(f"    {r['seconds']:5.2f} s  CPU {r['cpu']:5.2f} s  {r['requests']:,} requests"
                  f"  mean concurrency {r['concurrency']:4.1f}  bound {r['bound']:.2f} s  "
                  f"÷ bound {r['to_bound']:.3f}  peak {r['peak_rss_mb']:4.0f} MB  "
                  f"host steal {r['steal']:4.1%}  complete={r['complete']}")
        print(f"  opskit, {label} (median of {len(runs)}): {ops['seconds']:8.2f} s "
              f"{ops['requests']:6,} requests  peak {max(r['peak_rss_mb'] for r in runs):6.0f} MB")
        print(f"    speed-up over baseline{' (extrapolated)' if sample else ''}: "
              f"{speedup:6.1f}×" + (f"   (target ≥ {target}×: "
                                    f"{'met' if speedup >= target else 'MISSED'})"
                                    if target else ""))
        print(f"    CPU (median): {cpu:.2f} s = {per_100k(cpu):.3f} s per 100k records, "
              f"baseline {per_100k(base['cpu']):.3f}   (target ≤ 0.5: "
              f"{'met' if per_100k(cpu) <= 0.5 else 'MISSED'})")
        print(f"    ÷ latency bound (median of the runs' ratios): {to_bound:6.3f}   "
              f"(target ≤ 1.2: {'met' if to_bound <= 1.2 else 'MISSED'})")
        summary.append((label, ops, cpu, speedup))
    # What the HTTP round trips alone take at the concurrency opskit chose: the part of the
    # gap to the bound that is not opskit's own work.
    default_runs = variants[0][1]
    n = round(statistics.median(r["concurrency"] for r in default_runs))
    floor = sorted((child("http", url, flavor, secrets, "--concurrency", str(n))
                    for _ in range(3)), key=lambda r: r["seconds"])[1]
    floor_bound = floor["requests"] * args.latency_ms / 1000 / n
    print(f"  for comparison, the same pages' HTTP alone (same client, concurrency {n}, "
          f"spread alike, bodies dropped): {floor['seconds']:.2f} s, ÷ bound "
          f"{floor['seconds'] / floor_bound:.3f} (median of 3), host steal "
          f"{floor['steal']:.1%}")
    peak = max(r["peak_rss_mb"] for _, runs in variants for r in runs)
    print(f"  opskit peak memory (highest run): {peak:6.0f} MB (target < 500 MB: "
          f"{'met' if peak < 500 else 'MISSED'})")
    print(f"  summary, {flavor}: baseline {base['seconds']:.1f} s"
          f"{' (extrapolated)' if sample else ''}, "
          f"{per_100k(base['cpu']):.3f} s CPU per 100k; "
          + "; ".join(f"{label} {ops['seconds']:.2f} s, {speedup:.1f}×, "
                      f"{per_100k(cpu):.3f} s CPU per 100k" for label, ops, cpu, speedup
                      in summary) + "\n")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
