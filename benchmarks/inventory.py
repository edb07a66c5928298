"""Full inventory speed: opskit against the plain sequential loop people write today.

Run: .venv/bin/python benchmarks/inventory.py [--scale 100] [--latency-ms 50] [--flavor onprem]

One run, side by side, against the same practice tenant served by its own process with added
latency on every request:

- baseline: a plain sequential pagination loop with count=100 (httpx, startIndex += 100 until
  totalResults), the five resource types into DataFrames;
- opskit: `opskit.inventory.fetch` with the page size and concurrency it chooses itself.

Each runs in a child process of its own, so its peak memory (ru_maxrss) is its alone. Printed:
times, the speed-up, opskit against the bound latency sets for its own choices
(requests × latency ÷ concurrency), and peak memory. Targets (issue 3): speed-up ≥ 20,
opskit ≤ 1.2 × bound, peak memory < 500 MB at scale 100.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ENDPOINTS = ("Users", "Groups", "Containers", "ContainerPermissions", "PrivilegedData")


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

    started = time.perf_counter()
    base, token = bearer(url, flavor)
    frames, pages = {}, 0
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
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
    return {"seconds": time.perf_counter() - started, "requests": pages + (flavor == "cloud"),
            "counts": {e: len(df) for e, df in frames.items()}, "peak_rss_mb": peak_rss_mb()}


def role_opskit(url: str, flavor: str) -> dict[str, Any]:
    import asyncio

    from opskit.config import Profile, SecretRef
    from opskit.inventory import fetch
    from opskit.scim import ScimClient

    if flavor == "onprem":
        prof = Profile("bench", "onprem", "onprem", base_url=f"{url}/SCIMConnector/v2",
                       token=SecretRef("env:OPSKIT_BENCH_ONPREM_TOKEN"))
    else:
        prof = Profile("bench", "cloud", "cloud", base_url=f"{url}/scim/v2",
                       token_url=f"{url}/identity/api/oauth2/token/xpmplatform",
                       client_id=os.environ["OPSKIT_BENCH_CLIENT_ID"],
                       client_secret=SecretRef("env:OPSKIT_BENCH_CLIENT_SECRET"))

    async def go() -> dict[str, Any]:
        started = time.perf_counter()
        async with ScimClient.for_profile(prof) as client:
            inv = await fetch(client, source="bench", progress=False)
            seconds = time.perf_counter() - started
            return {"seconds": seconds, "requests": client.requests,
                    "concurrency": client.mean_concurrency, "lowest": client.limiter.lowest,
                    "page_size": await client.max_page_size(),
                    "counts": {e: inv.meta["server_totals"][e] for e in ENDPOINTS},
                    "complete": inv.complete, "peak_rss_mb": peak_rss_mb()}

    return asyncio.run(go())


def child(role: str, url: str, flavor: str, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--role", role, "--url", url, "--flavor",
                          flavor], capture_output=True, text=True, check=False,
                         env={**os.environ, **env})
    if out.returncode != 0:
        raise SystemExit(f"{role} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--flavor", choices=("onprem", "cloud", "both"), default="both")
    ap.add_argument("--role", choices=("baseline", "opskit"), help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.role:
        fn = role_baseline if args.role == "baseline" else role_opskit
        print(json.dumps(fn(args.url, args.flavor)))
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
            base = child("baseline", url, flavor, secrets)
            # The server renders each projection once per revision: a first opskit pass warms
            # it, as the baseline's own first pages warmed the full renders it asks for.
            child("opskit", url, flavor, secrets)
            runs = sorted((child("opskit", url, flavor, secrets) for _ in range(3)),
                          key=lambda r: r["seconds"])
            ops = runs[1]  # the median of three
            assert base["counts"] == ops["counts"], (base["counts"], ops["counts"])
            bound = ops["requests"] * args.latency_ms / 1000 / ops["concurrency"]
            speedup = base["seconds"] / ops["seconds"]
            to_bound = ops["seconds"] / bound
            print(f"== {flavor} flavor, scale {args.scale}: "
                  + ", ".join(f"{e} {n:,}" for e, n in ops["counts"].items()))
            print(f"  baseline (sequential, count=100): {base['seconds']:8.2f} s "
                  f"{base['requests']:6,} requests  peak {base['peak_rss_mb']:6.0f} MB")
            print("  opskit runs: " + ", ".join(f"{r['seconds']:.2f} s" for r in runs)
                  + " (median reported)")
            print(f"  opskit (count={ops['page_size']}, mean concurrency "
                  f"{ops['concurrency']:.1f}): "
                  f"{ops['seconds']:8.2f} s {ops['requests']:6,} requests  "
                  f"peak {ops['peak_rss_mb']:6.0f} MB  complete={ops['complete']}")
            print(f"  latency bound for opskit's choices (requests × latency ÷ concurrency): "
                  f"{bound:.2f} s")
            print(f"  speed-up over baseline: {speedup:6.1f}×   (target ≥ 20×: "
                  f"{'met' if speedup >= 20 else 'MISSED'})")
            print(f"  opskit ÷ latency bound: {to_bound:6.2f}    (target ≤ 1.2: "
                  f"{'met' if to_bound <= 1.2 else 'MISSED'})")
            print(f"  opskit peak memory:     {ops['peak_rss_mb']:6.0f} MB (target < 500 MB: "
                  f"{'met' if ops['peak_rss_mb'] < 500 else 'MISSED'})\n")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
