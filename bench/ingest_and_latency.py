"""Ingest throughput and HTTP latency over the BBC corpus, against baselines measured
in the same run.

    .venv/bin/python bench/ingest_and_latency.py [--corpus PATH] [--limit N] [--requests N]
    # latency only, over an index built before, with server settings to compare
    .venv/bin/python bench/ingest_and_latency.py --index DIR --server-env CITELINE_EMBED_THREADS=2

Rows:
- ingest: full ingest (read, clean, chunk, embed, write) vs raw
  ``SentenceTransformer.encode`` of the very same passages (target >= 0.9x);
- re-ingest of the unchanged corpus vs the full ingest (target <= 2%);
- /v1/search and /v1/ask latency over HTTP on 127.0.0.1 (targets p50 <= 20 / 150 ms),
  one request at a time; /v1/search also per retrieval mode (hybrid is the default).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.embedder import Embedder  # noqa: E402
from index.store import CURRENT, PASSAGES  # noqa: E402
from ingest.pipeline import Ingestor  # noqa: E402
from tests.conftest import start_server  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "bbc" / "corpus.jsonl"
QUESTIONS = [
    "Why did Time Warner profits rise?",
    "What happened to the dollar against the euro?",
    "Who won the Australian Open?",
    "What did the government say about broadband?",
    "Which film won the most awards?",
    "How much did oil prices rise?",
    "What are the plans for ID cards?",
    "Who is the new England rugby coach?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def timed_requests(client: httpx.Client, path: str, bodies: list[dict[str, object]]) -> list[float]:
    times = []
    for body in bodies:
        t = time.perf_counter()
        r = client.post(path, json=body)
        times.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
    return times


Row = tuple[str, str, str, str]


def latency_rows(
    index_dir: Path, work: Path, requests: int, server_env: dict[str, str]
) -> tuple[list[Row], list[float], list[float]]:
    """Sequential requests to a real server: the latency one user sees."""
    # The same launcher the tests use; measure the service, not the rate limit.
    env = {"CITELINE_RATE_LIMIT": "0", **server_env}
    proc, base = start_server(index_dir, work / "server.log", env=env)
    modes: dict[str, list[float]] = {}
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            qs = [QUESTIONS[i % len(QUESTIONS)] for i in range(requests)]
            timed_requests(client, "/v1/search", [{"query": q} for q in qs[:10]])  # warm-up
            search_ms = timed_requests(client, "/v1/search", [{"query": q, "top_k": 5} for q in qs])
            ask_ms = timed_requests(client, "/v1/ask", [{"question": q} for q in qs])
            few = qs[: max(20, requests // 4)]
            for mode in ("dense", "bm25"):
                body = [{"query": q, "top_k": 5, "mode": mode} for q in few]
                modes[mode] = timed_requests(client, "/v1/search", body)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    setting = ", ".join(f"{k}={v}" for k, v in server_env.items()) or "defaults"
    rows: list[Row] = [
        ("server settings", setting, "", ""),
        (
            "/v1/search p50 / p99 (hybrid)",
            f"{statistics.median(search_ms):.1f} / {percentile(search_ms, 99):.1f} ms",
            "p50 <= 20 ms",
            "ok" if statistics.median(search_ms) <= 20 else "MISSED",
        ),
        *((f"  same, mode {m}", ms(v), "", "") for m, v in modes.items()),
        (
            "/v1/ask p50 / p99",
            f"{statistics.median(ask_ms):.1f} / {percentile(ask_ms, 99):.1f} ms",
            "p50 <= 150 ms",
            "ok" if statistics.median(ask_ms) <= 150 else "MISSED",
        ),
    ]
    return rows, search_ms, ask_ms


def ms(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} / {percentile(values, 99):.1f} ms"


def print_rows(rows: list[Row]) -> None:
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print(f"\n{'measure':<{width}}  {'value':<{vwidth}}  {'target':<13}  result")
    for name, value, target, result in rows:
        print(f"{name:<{width}}  {value:<{vwidth}}  {target:<13}  {result}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N articles")
    ap.add_argument("--requests", type=int, default=200, help="HTTP requests per endpoint")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--index", type=Path, help="skip ingest: measure latency over this index")
    ap.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment for the server, e.g. CITELINE_EMBED_THREADS=2 (repeatable)",
    )
    args = ap.parse_args()
    server_env = dict(kv.split("=", 1) for kv in args.server_env)

    work = Path(tempfile.mkdtemp(prefix="citeline-bench-"))
    if args.index:
        rows = latency_rows(args.index, work, args.requests, server_env)[0]
        print_rows(rows)
        shutil.rmtree(work, ignore_errors=True)
        return
    corpus = args.corpus
    if args.limit:
        corpus = work / "corpus.jsonl"
        with args.corpus.open(encoding="utf-8") as src, corpus.open("w", encoding="utf-8") as dst:
            for i, line in enumerate(src):
                if i >= args.limit:
                    break
                dst.write(line)
    index_dir = work / "index"
    embedder = Embedder()
    embedder.encode(["warm up the model"] * 32)

    t = time.perf_counter()
    full = Ingestor(embedder, index_dir).run([corpus])
    t_ingest = time.perf_counter() - t

    gen = index_dir / (index_dir / CURRENT).read_text().strip()
    with sqlite3.connect(gen / PASSAGES) as db:
        passages = [r[0] for r in db.execute("SELECT text FROM chunks ORDER BY id")]
    t = time.perf_counter()
    embedder.encode(passages)
    t_raw = time.perf_counter() - t

    t = time.perf_counter()
    again = Ingestor(embedder, index_dir).run([corpus])
    t_reingest = time.perf_counter() - t
    assert again.chunks_embedded == 0, "unchanged re-ingest embedded something"

    latency, search_ms, ask_ms = latency_rows(index_dir, work, args.requests, server_env)

    n_chunks = full.chunks_embedded
    ingest_rate, raw_rate = n_chunks / t_ingest, n_chunks / t_raw
    rows = [
        ("articles / passages", f"{full.added} / {n_chunks}", "", ""),
        ("full ingest", f"{t_ingest:.1f} s ({ingest_rate:.1f} passages/s)", "", ""),
        ("raw encode, same passages", f"{t_raw:.1f} s ({raw_rate:.1f} passages/s)", "", ""),
        (
            "ingest / raw throughput",
            f"{ingest_rate / raw_rate:.2f}x",
            ">= 0.90x",
            "ok" if ingest_rate / raw_rate >= 0.9 else "MISSED",
        ),
        ("unchanged re-ingest", f"{t_reingest:.2f} s", "", ""),
        (
            "re-ingest / full ingest",
            f"{t_reingest / t_ingest:.2%}",
            "<= 2%",
            "ok" if t_reingest / t_ingest <= 0.02 else "MISSED",
        ),
        *latency,
    ]
    print_rows(rows)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "passages": n_chunks,
                    "ingest_s": t_ingest,
                    "raw_encode_s": t_raw,
                    "reingest_s": t_reingest,
                    "search_ms": {
                        "p50": statistics.median(search_ms),
                        "p99": percentile(search_ms, 99),
                    },
                    "ask_ms": {"p50": statistics.median(ask_ms), "p99": percentile(ask_ms, 99)},
                },
                indent=2,
            )
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
