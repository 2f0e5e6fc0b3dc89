"""Bounded load test of /v1/search and /v1/ask on 127.0.0.1, and a comparison of
server settings (uvicorn workers, embedder threads, request thread pool).

    # against a running server (loopback only)
    .venv/bin/python bench/load.py run --url http://127.0.0.1:8000 [--key KEY]
    # start a server over an index, load it, stop it
    .venv/bin/python bench/load.py run --index var/bench/bbc-index --config w1t2
    # compare settings; each config gets a fresh server
    .venv/bin/python bench/load.py compare --index var/bench/bbc-index \
        --configs w1t1,w1t2,w2t1,w1t2p8 --duration 20

Each endpoint is loaded by ``--clients`` concurrent clients (default 32) for
``--duration`` seconds (default 30) after ``--warmup`` seconds that are not
counted; prints requests, throughput, p50/p99 latency and errors (any non-200
or transport failure). A config ``wNtMpK`` is N uvicorn worker processes, M
torch threads per process (CITELINE_EMBED_THREADS), K threads in the pool
that runs the sync routes (CITELINE_THREADPOOL; omit p for anyio's 40), and
optionally ``eL``: at most L embedding calls at once (an experiment wrapped
around Embedder.encode here, not a product setting).

Without ``--index``/``--url`` the index is built once from ../shared/data/bbc
into var/bench/bbc-index. Servers started here turn the rate limit off (every
client comes from one address) and run the real app: create_app + protection.
The load generator shares the machine's cores with the server; on 2 cores that
costs the server some throughput, equally for every config.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.launcher import free_port, is_ready, start, stop  # noqa: E402

BBC = ROOT.parent / "shared" / "data" / "bbc" / "corpus.jsonl"
DEFAULT_INDEX = ROOT / "var" / "bench" / "bbc-index"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
CONFIG_RE = re.compile(r"^w(\d+)t(\d+)(?:p(\d+))?(?:e(\d+))?$")
ENDPOINTS = {"search": "/v1/search", "ask": "/v1/ask"}


# -- the app the benchmark servers run (uvicorn imports it in each worker) --------------


def make_app() -> Any:
    """uvicorn factory: the real app with the protection layer (settings from env)."""
    sys.path.insert(0, str(ROOT))
    from server.app import create_app
    from server.protection import install

    app = create_app()
    install(app)  # a no-op once create_app installs it itself
    limit = int(os.environ.get("BENCH_EMBED_CONCURRENCY", "0"))
    if limit:
        _limit_embedding(limit)
    return app


def _limit_embedding(limit: int) -> None:
    """Experiment only (config suffix eN): at most N embedding calls at once, the CPU-heavy
    part of search and ask, while the request pool stays free for cheap routes."""
    import threading

    from index.embedder import Embedder

    gate = threading.BoundedSemaphore(limit)
    encode = Embedder.encode

    def gated(self: Embedder, texts: list[str], **kwargs: Any) -> Any:
        with gate:
            return encode(self, texts, **kwargs)

    Embedder.encode = gated  # type: ignore[method-assign]


# -- load ---------------------------------------------------------------------------------


@dataclass
class Row:
    config: str
    endpoint: str
    clients: int
    seconds: float
    requests: int
    throughput: float
    p50_ms: float
    p99_ms: float
    errors: int
    # Server CPU time per answered request (all its processes): capacity, much less
    # disturbed by other load on a shared machine than throughput is.
    cpu_ms_per_req: float | None = None
    # Resident memory of all server processes at the end (each worker holds a model).
    rss_mb: float | None = None
    # Worst /healthz latency seen by a probe once a second under this load: what a
    # liveness probe would see (a slow one gets a busy server restarted).
    probe_max_ms: float | None = None
    error_kinds: str = ""


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def questions(limit: int = 200) -> list[str]:
    """Varied realistic queries: BBC headlines (read at run time, never stored)."""
    out: list[str] = []
    if BBC.exists():
        with BBC.open(encoding="utf-8") as fh:
            for line in fh:
                title = json.loads(line).get("title") or ""
                if title:
                    out.append(title.strip())
                if len(out) >= limit:
                    break
    return out or ["What did Gazprom and SOCAR sign?", "BRICS membership", "oil prices"]


async def _load(
    url: str,
    path: str,
    clients: int,
    duration: float,
    warmup: float,
    headers: dict[str, str],
    queries: list[str],
    pid: int | None,
) -> tuple[list[float], dict[str, int], float, float | None, float]:
    latencies: list[float] = []
    probes: list[float] = []
    errors: dict[str, int] = {}
    cpu_start: float | None = None
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + duration
    field = "query" if path.endswith("search") else "question"
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(n: int, http: httpx.AsyncClient) -> None:
        i = n
        while (now := time.perf_counter()) < stop_at:
            body = {field: queries[i % len(queries)]}
            i += clients
            try:
                r = await http.post(path, json=body)
                kind = "" if r.status_code == 200 else f"HTTP {r.status_code}"
            except httpx.HTTPError as exc:
                kind = type(exc).__name__
            done = time.perf_counter()
            if now >= measure_from:
                if not kind:
                    latencies.append((done - now) * 1000)
                else:
                    errors[kind] = errors.get(kind, 0) + 1

    async def probe(http: httpx.AsyncClient) -> None:
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        while (now := time.perf_counter()) < stop_at:
            try:
                await http.get("/healthz")
                probes.append((time.perf_counter() - now) * 1000)
            except httpx.HTTPError:
                probes.append(float("inf"))
            await asyncio.sleep(1.0)

    async def cpu_mark() -> None:
        nonlocal cpu_start
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        cpu_start = server_cpu_seconds(pid) if pid else None

    async with (
        httpx.AsyncClient(base_url=url, headers=headers, timeout=120, limits=limits) as http,
        httpx.AsyncClient(base_url=url, timeout=120) as prober,  # its own connection
    ):
        await asyncio.gather(cpu_mark(), probe(prober), *(client(n, http) for n in range(clients)))
    cpu = None
    if pid and cpu_start is not None:
        cpu = server_cpu_seconds(pid) - cpu_start
    # Requests still running at stop_at finish late; count the real window.
    seconds = max(duration, time.perf_counter() - measure_from)
    return latencies, errors, seconds, cpu, max(probes, default=float("nan"))


def _server_stats(pid: int) -> list[list[str]]:
    """/proc/PID/stat fields (after the name) of a process and its children."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            out.append(fields)
    return out


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU of the server and its children (uvicorn's workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    return sum((int(f[11]) + int(f[12])) / tick for f in _server_stats(pid))


def server_rss_mb(pid: int) -> float:
    page = os.sysconf("SC_PAGE_SIZE")
    return round(sum(int(f[21]) * page for f in _server_stats(pid)) / 2**20, 0)


def load(
    url: str,
    config: str,
    endpoints: list[str],
    clients: int,
    duration: float,
    warmup: float,
    key: str | None,
    pid: int | None = None,
) -> list[Row]:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK:
        raise SystemExit(f"refusing to load {host}: this benchmark runs on loopback only")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    queries = questions()
    rows = []
    for name in endpoints:
        latencies, errors, seconds, cpu, probe_max = asyncio.run(
            _load(url, ENDPOINTS[name], clients, duration, warmup, headers, queries, pid)
        )
        row = Row(
            config=config,
            endpoint=name,
            clients=clients,
            seconds=round(seconds, 1),
            requests=len(latencies),
            throughput=round(len(latencies) / seconds, 1),
            p50_ms=round(percentile(latencies, 50), 1),
            p99_ms=round(percentile(latencies, 99), 1),
            errors=sum(errors.values()),
            cpu_ms_per_req=round(cpu * 1000 / len(latencies), 1) if cpu and latencies else None,
            error_kinds=", ".join(f"{k} x{n}" for k, n in sorted(errors.items())),
            rss_mb=server_rss_mb(pid) if pid else None,
            probe_max_ms=round(probe_max, 1),
        )
        print(_format([row], header=False), flush=True)
        rows.append(row)
    return rows


# -- servers --------------------------------------------------------------------------------


def parse_config(config: str) -> tuple[int, int, int | None, int | None]:
    m = CONFIG_RE.match(config)
    if not m:
        raise SystemExit(f"config {config!r} is not like w1t2, w2t1p8 or w1t1e2")
    return int(m[1]), int(m[2]), int(m[3]) if m[3] else None, int(m[4]) if m[4] else None


@contextmanager
def server(index: Path, config: str, log_dir: Path) -> Iterator[tuple[str, int]]:
    workers, threads, pool, embed_limit = parse_config(config)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CITELINE_INDEX": str(index),
        "CITELINE_EMBED_THREADS": str(threads),
        "CITELINE_RATE_LIMIT": "0",
        "CITELINE_RELOAD_INTERVAL": "0",
        "CITELINE_LOG_LEVEL": "info",
    }
    env.pop("CITELINE_API_KEYS", None)
    # Without p: anyio's default pool of 40 threads (CITELINE_THREADPOOL=0).
    env["CITELINE_THREADPOOL"] = str(pool or 0)
    env["BENCH_EMBED_CONCURRENCY"] = str(embed_limit or 0)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"server-{config}-{time.strftime('%Y%m%dT%H%M%S')}.log"
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "load:make_app",
        "--factory",
        "--app-dir",
        str(ROOT / "bench"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "info",
        "--no-access-log",
    ]

    def ready() -> bool:
        # Every worker loads the model; wait for all of them, not the first.
        started = log_path.read_text(errors="replace").count("Application startup complete")
        return started >= workers and is_ready(url, timeout=10)

    try:
        proc = start(command, log_path, ready, env=env, cwd=ROOT, timeout=300)
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None
    try:
        yield url, proc.pid
    finally:
        stop(proc, timeout=30)


def ensure_index(index: Path, limit: int | None) -> Path:
    if (index / "CURRENT").exists():
        return index
    source = BBC
    if limit:
        source = index.parent / f"bbc-{limit}.jsonl"
        source.parent.mkdir(parents=True, exist_ok=True)
        with BBC.open(encoding="utf-8") as src, source.open("w", encoding="utf-8") as out:
            for n, line in enumerate(src):
                if n >= limit:
                    break
                out.write(line)
    print(f"building the benchmark index {index} from {source} (once)...", flush=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "citeline.cli",
            "ingest",
            str(source),
            "--index",
            str(index),
            "--no-progress",
        ],
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return index


# -- reporting ----------------------------------------------------------------------------------


COLUMNS = {
    "config": 8,
    "endpoint": 8,
    "clients": 7,
    "seconds": 7,
    "requests": 8,
    "throughput": 10,
    "p50_ms": 8,
    "p99_ms": 8,
    "errors": 6,
    "cpu_ms_per_req": 14,
    "rss_mb": 7,
    "probe_max_ms": 12,
}


def _format(rows: list[Row], header: bool = True) -> str:
    lines = []
    if header:
        lines.append("  ".join(c.rjust(w) for c, w in COLUMNS.items()))
    for row in rows:
        values = asdict(row)
        line = "  ".join(str(values[c]).rjust(w) for c, w in COLUMNS.items())
        lines.append(line + (f"  ({row.error_kinds})" if row.error_kinds else ""))
    return "\n".join(lines)


def best(rows: list[Row]) -> str:
    """The config with the highest throughput relative to the best, summed over endpoints;
    a config with any error is out."""
    configs = sorted({r.config for r in rows})
    top = {
        e: max(r.throughput for r in rows if r.endpoint == e) or 1.0
        for e in {r.endpoint for r in rows}
    }

    def score(config: str) -> float:
        mine = [r for r in rows if r.config == config]
        if any(r.errors for r in mine):
            return -1.0
        return sum(r.throughput / top[r.endpoint] for r in mine)

    return max(configs, key=score)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "compare"):
        p = sub.add_parser(name)
        p.add_argument("--index", type=Path, default=None)
        p.add_argument("--limit", type=int, default=None, help="BBC articles for a built index")
        p.add_argument("--clients", type=int, default=32)
        p.add_argument("--duration", type=float, default=30.0)
        p.add_argument("--warmup", type=float, default=3.0)
        p.add_argument("--endpoints", default="search,ask")
        p.add_argument("--json", type=Path, default=None, help="also write the rows here")
        p.add_argument("--logs", type=Path, default=ROOT / "var" / "bench" / "logs")
        if name == "run":
            p.add_argument("--url", default=None, help="a running server (loopback)")
            p.add_argument("--key", default=os.environ.get("CITELINE_BENCH_KEY"))
            # The product defaults with openvino-bf16 (citeline.settings.server_embed_threads).
            p.add_argument("--config", default="w1t2p4", help="default: the product defaults")
        else:
            p.add_argument("--configs", default="w1t1p4,w1t2p4,w2t1p4,w1t1")
    args = parser.parse_args()
    endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    for e in endpoints:
        if e not in ENDPOINTS:
            raise SystemExit(f"unknown endpoint {e!r}; use {', '.join(ENDPOINTS)}")
    print(_format([], header=True), flush=True)
    rows: list[Row] = []
    if args.command == "run" and args.url:
        rows = load(
            args.url, "external", endpoints, args.clients, args.duration, args.warmup, args.key
        )
    else:
        index = ensure_index(args.index or DEFAULT_INDEX, args.limit)
        configs = [args.config] if args.command == "run" else args.configs.split(",")
        for config in configs:
            parse_config(config)
        for config in configs:
            with server(index, config, args.logs) as (url, pid):
                rows += load(
                    url, config, endpoints, args.clients, args.duration, args.warmup, None, pid
                )
    print()
    print(_format(rows))
    if args.command == "compare":
        print(f"\nbest on this machine ({os.cpu_count()} cores): {best(rows)}")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
