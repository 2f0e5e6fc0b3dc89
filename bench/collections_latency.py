"""Search and ask over HTTP: the BBC corpus as 1 collection vs split into 10.

Both layouts hold the same vectors (the 10 parts are cut from the one index, see
bench/collections_merge.py). Two real servers run side by side with a keys file and
one admin key; every query goes to both in turn (the machine is shared: interleaving
keeps the comparison fair), one request at a time, searching/asking every collection.
Memory: each server's resident set after the run; per collection = the difference
over the 9 extra collections.

    .venv/bin/python bench/collections_latency.py --queries 150
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.collections_merge import split  # noqa: E402
from tests.collections_helpers import bbc_articles  # noqa: E402
from tests.protection.helpers import citeline, serve  # noqa: E402


def rss_mib(url: str, log: Path) -> float:
    """Resident memory of the server process listening at ``url`` (from /proc)."""
    port = url.rsplit(":", 1)[1]
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            cmdline = (status.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in cmdline and port.encode() in cmdline:
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))] * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--index", type=Path, default=ROOT / "var" / "bench" / "bbc-full")
    p.add_argument("--queries", type=int, default=150)
    args = p.parse_args()
    work = args.index.parent
    parts = split(args.index, work / "bbc-tenths", 10)
    root10 = work / "root10"
    root1 = work / "root1"
    for root in (root1, root10):
        shutil.rmtree(root, ignore_errors=True)
        (root / "collections").mkdir(parents=True)
    for n, part in enumerate(parts):
        shutil.copytree(part, root10 / "collections" / f"part{n:02d}")
    shutil.copytree(args.index, root1 / "collections" / "all")
    keys = work / "bench-keys.toml"
    keys.unlink(missing_ok=True)
    r = citeline(["keys", "add", "bench", "--role", "admin", "--keys-file", str(keys)])
    assert r.returncode == 0, r.stderr
    headers = {"Authorization": f"Bearer {r.stdout.strip().splitlines()[-1]}"}
    env = {"CITELINE_KEYS_FILE": str(keys), "CITELINE_RATE_LIMIT": "0"}
    titles = [row["title"] for row in bbc_articles()]
    queries = titles[7 :: max(1, len(titles) // args.queries)][: args.queries]
    times: dict[tuple[str, str], list[float]] = {}
    with (
        serve(root1, work / "root1.log", env) as url1,
        serve(root10, work / "root10.log", env) as url10,
    ):
        servers = {"1 collection": url1, "10 collections": url10}
        with httpx.Client(timeout=120, headers=headers) as client:
            for url in servers.values():  # warm-up
                client.post(f"{url}/v1/ask", json={"question": "warm up"}).raise_for_status()
            for q in queries:
                for route, body in (("search", {"query": q}), ("ask", {"question": q})):
                    for name, url in servers.items():
                        started = time.perf_counter()
                        r = client.post(f"{url}/v1/{route}", json=body)
                        times.setdefault((name, route), []).append(time.perf_counter() - started)
                        r.raise_for_status()
        memory = {name: rss_mib(url, work / "x") for name, url in servers.items()}
        counts = {
            name: len(httpx.get(f"{url}/v1/collections", headers=headers).json()["collections"])
            for name, url in servers.items()
        }
    print(
        f"\n{len(queries)} BBC-title queries, one at a time, servers interleaved; shared machine\n"
    )
    print(
        "| layout | collections | search p50 ms | search p99 ms | ask p50 ms | ask p99 ms "
        "| RSS MiB |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in servers:
        s, a = times[(name, "search")], times[(name, "ask")]
        print(
            f"| {name} | {counts[name]} | {pct(s, 0.5):.1f} | {pct(s, 0.99):.1f} | "
            f"{pct(a, 0.5):.1f} | {pct(a, 0.99):.1f} | {memory[name]:.0f} |"
        )
    one, ten = "1 collection", "10 collections"
    for route in ("search", "ask"):
        ratio = statistics.median(times[(ten, route)]) / statistics.median(times[(one, route)])
        print(f"\n{route}: 10 collections / 1 collection, p50 = {ratio:.2f}x", end="")
    print(f"\nmemory per extra collection: {(memory[ten] - memory[one]) / 9:.1f} MiB")


if __name__ == "__main__":
    main()
