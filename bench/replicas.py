"""Throughput of /v1/search and /v1/ask with 1 and 2 `citeline serve` replicas behind
nginx (deploy/nginx/citeline.conf), on 127.0.0.1, with one replica without nginx as
the baseline of the proxy's own cost.

    .venv/bin/python bench/replicas.py [--clients 16] [--duration 20] [--index DIR]

The load generator is bench/load.py's (same rows, same error accounting); each
configuration gets fresh replicas over the same index (by default the BBC index that
bench/load.py builds once). Replicas run the product defaults (one torch thread,
a request pool of 4) with the rate limit off: every client is 127.0.0.1. "cpu busy"
is the whole machine's CPU use during the endpoint's run (from /proc/stat), "replicas"
and "nginx" the share of the machine's cores those processes used: the load
generator, nginx and anything else running share the cores with the replicas.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import (  # noqa: E402
    DEFAULT_INDEX,
    Row,
    _format,
    ensure_index,
    load,
    server_cpu_seconds,
)
from tests.conftest import start_server  # noqa: E402
from tests.deploy.proxy import start_nginx  # noqa: E402

REPLICA_ENV = {
    "CITELINE_RATE_LIMIT": "0",
    "CITELINE_RELOAD_INTERVAL": "0",
    "CITELINE_LOG_LEVEL": "warning",
}


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all cores."""
    line = Path("/proc/stat").read_text().split("\n", 1)[0]
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    fields = [int(x) for x in line.split()[1:9]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


@dataclass
class Usage:
    busy: float  # % of the machine
    replicas: float  # % of the machine's cores used by the replicas
    nginx: float
    # Replica CPU per answered request (warm-up included at the same rate): the cost,
    # much less disturbed than throughput by whatever else runs on the machine.
    cpu_ms_per_req: float


@contextmanager
def replicas(index: Path, n: int, log_dir: Path) -> Iterator[list[tuple[str, int]]]:
    """``n`` replicas started one after the other: (url, pid) each."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        out = []
        for i in range(n):
            proc, url = start_server(index, log_dir / f"replica-{n}-{i}.log", REPLICA_ENV)
            procs.append(proc)
            out.append((url, proc.pid))
        yield out
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def measure(
    url: str, config: str, args: argparse.Namespace, replica_pids: list[int], nginx_pid: int | None
) -> list[tuple[Row, Usage]]:
    cores = os.cpu_count() or 1

    def cpu() -> tuple[float, float]:
        nginx = server_cpu_seconds(nginx_pid) if nginx_pid else 0.0
        return sum(server_cpu_seconds(p) for p in replica_pids), nginx

    out = []
    for endpoint in args.endpoints.split(","):
        busy0, total0 = cpu_times()
        (rep0, ngx0), t0 = cpu(), time.perf_counter()
        rows = load(url, config, [endpoint], args.clients, args.duration, args.warmup, None)
        (rep1, ngx1), elapsed = cpu(), time.perf_counter() - t0
        busy1, total1 = cpu_times()
        usage = Usage(
            busy=100 * (busy1 - busy0) / max(1, total1 - total0),
            replicas=100 * (rep1 - rep0) / (elapsed * cores),
            nginx=100 * (ngx1 - ngx0) / (elapsed * cores),
            cpu_ms_per_req=1000 * (rep1 - rep0) / max(1.0, rows[0].throughput * elapsed),
        )
        out.append((rows[0], usage))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--endpoints", default="search,ask")
    args = parser.parse_args()
    index = ensure_index(args.index or DEFAULT_INDEX, None)
    print(f"index {index}; {os.cpu_count()} cores; {args.clients} clients, {args.duration:g} s")
    print(_format([], header=True), flush=True)
    results: dict[str, list[tuple[Row, Usage]]] = {}
    with tempfile.TemporaryDirectory(prefix="citeline-replicas-") as tmp:
        work = Path(tmp)
        with replicas(index, 1, work) as started:
            url, pid = started[0]
            results["1 direct"] = measure(url, "1 direct", args, [pid], None)
        for n in (1, 2):
            with ExitStack() as stack:
                started = stack.enter_context(replicas(index, n, work))
                upstreams = [u.removeprefix("http://") for u, _ in started]
                nginx = start_nginx(upstreams, work / f"nginx-{n}")
                stack.callback(nginx.stop)
                config = f"{n} nginx"
                pids = [p for _, p in started]
                results[config] = measure(nginx.url, config, args, pids, nginx.proc.pid)

    print()
    print(
        "config    endpoint  throughput  p50_ms  p99_ms  errors  cpu busy  replicas  nginx"
        "  cpu_ms/req  vs 1 nginx"
    )
    for config, measured in results.items():
        for row, use in measured:
            base = next(r for r, _ in results["1 nginx"] if r.endpoint == row.endpoint)
            ratio = row.throughput / base.throughput if base.throughput else float("nan")
            print(
                f"{config:<9} {row.endpoint:<8} {row.throughput:>10} {row.p50_ms:>7} "
                f"{row.p99_ms:>7} {row.errors:>7} {use.busy:>8.0f}% {use.replicas:>8.0f}% "
                f"{use.nginx:>5.1f}% {use.cpu_ms_per_req:>11.0f} {ratio:>11.2f}"
            )


if __name__ == "__main__":
    main()
