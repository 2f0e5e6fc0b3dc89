"""Embedder backends side by side: speed in interleaved rounds, quality per backend.

    .venv/bin/python bench/embed_backends.py --articles 60 --rounds 3 --queries 60

Speed (one run, rounds interleaved so a busy neighbour slows every backend alike;
on a shared machine read the ratios to torch, not the absolute numbers):
- ingest passages/s: ``Ingestor`` over the first ``--articles`` BBC articles into a
  fresh index, with torch's default threads (as ``citeline ingest``);
- single-query embed p50/p99 on one thread (as the server), query cache off;
- ``/v1/search`` and ``/v1/ask`` p50/p99 over HTTP from one real server per backend
  (all started before the first round), over an index of the same articles, then
  each server's RSS;
- vectors: mean and lowest cosine to torch's on the ingested passages.

Quality (``--quality``; slow: each backend ingests the corpora itself):
- TIME-1963 nDCG@10 via ``citeline eval retrieval`` (hybrid and dense);
- xquad-dev via ``citeline eval qa`` over the 12 articles plus the first
  ``--distractors`` BBC articles: gold answer in the cited quotes, abstention.

int8 (``--int8``): ONNX Runtime's dynamic int8 quantisation of the same export,
measured for vectors and query speed only, to say whether it could meet the bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.embedder import BACKENDS, Embedder, EmbedderConfig  # noqa: E402
from ingest.pipeline import Ingestor  # noqa: E402
from tests.launcher import start_server  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
BBC = SHARED / "bbc" / "corpus.jsonl"
TIME1963 = SHARED / "time1963"
XQUAD = SHARED / "xquad-dev"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bbc_subset(path: Path, n: int) -> list[dict[str, Any]]:
    rows = []
    with BBC.open(encoding="utf-8") as fh:
        for line in fh:
            rows.append(json.loads(line))
            if len(rows) == n:
                break
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return rows


def speed(args: argparse.Namespace, work: Path, cache: Path) -> dict[str, dict[str, Any]]:
    corpus = work / "bbc.jsonl"
    rows = bbc_subset(corpus, args.articles)
    queries = [r["title"] for r in bbc_subset(work / "q.jsonl", args.articles + args.queries)]
    queries = queries[-args.queries :]  # titles of articles not in the index
    ingest_embedders = {
        b: Embedder(config=EmbedderConfig(backend=b, cache_dir=cache)) for b in BACKENDS
    }
    query_embedders = {
        b: Embedder(config=EmbedderConfig(backend=b, threads=1, cache_dir=cache, query_cache=0))
        for b in BACKENDS
    }
    for b, e in [*ingest_embedders.items(), *query_embedders.items()]:
        assert e.backend == b, f"{b} did not load (fell back to {e.backend})"
    out: dict[str, dict[str, Any]] = {b: {"ingest": [], "query": []} for b in BACKENDS}
    # One server per backend over one shared index (built with torch; the others are
    # checked to agree with it at start-up, as a real switch of backend would be).
    index_dir = work / "served"
    Ingestor(ingest_embedders["torch"], index_dir).run([corpus])
    servers = {}
    try:
        for b in BACKENDS:
            env = {"CITELINE_EMBED_BACKEND": b, "CITELINE_EMBED_CACHE_DIR": str(cache)}
            # A loaded shared machine can take minutes to start a server.
            servers[b] = start_server(index_dir, work / f"server-{b}.log", env=env, timeout=900)
        for b in BACKENDS:
            out[b]["search"], out[b]["ask"] = [], []
        for r in range(args.rounds):
            for b in BACKENDS:
                target = work / f"ingest-{b}-{r}"
                summary = Ingestor(ingest_embedders[b], target).run([corpus])
                out[b]["ingest"].append(summary.chunks_embedded / summary.seconds)
                e = query_embedders[b]
                for q in queries:
                    t = time.perf_counter()
                    e.encode_query(q)
                    out[b]["query"].append((time.perf_counter() - t) * 1000)
                _, url = servers[b]
                with httpx.Client(base_url=url, timeout=120) as client:
                    for path, key in (("/v1/search", "search"), ("/v1/ask", "ask")):
                        for q in queries:
                            # A round's own text: every request misses the query cache.
                            body = {"query" if key == "search" else "question": f"{q} ({r})"}
                            t = time.perf_counter()
                            resp = client.post(path, json=body)
                            out[b][key].append((time.perf_counter() - t) * 1000)
                            resp.raise_for_status()
                print(f"round {r + 1}/{args.rounds} {b} done", file=sys.stderr, flush=True)
        for b in BACKENDS:
            out[b]["rss_mb"] = rss_mb(servers[b][0].pid)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=30)
    texts = [r["text"][:1100] for r in rows]
    want = ingest_embedders["torch"].encode(texts)
    for b in BACKENDS:
        cos = np.sum(ingest_embedders[b].encode(texts) * want, axis=1)
        out[b]["cos_mean"], out[b]["cos_min"] = float(cos.mean()), float(cos.min())
    return out


def int8_probe(args: argparse.Namespace, work: Path, cache: Path) -> dict[str, Any]:
    """Dynamic int8 of the same export: vectors vs torch and single-query speed."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from index import embed_runtime as rt

    torch_e = Embedder(config=EmbedderConfig(threads=1, query_cache=0))
    fp32 = rt.export_folder(cache, torch_e.path) / rt.EXPORT_NAME
    onnx_runner = rt.OnnxRuntimeRunner(fp32, threads=1, device="cpu")
    texts = [r["text"][:1100] for r in bbc_subset(work / "i8.jsonl", args.articles)]
    want = torch_e.encode(texts)
    queries = [r["title"] for r in bbc_subset(work / "i8q.jsonl", args.queries)]
    out: dict[str, Any] = {}
    # Plain, and per-channel with a reduced range (avoids u8 saturation without VNNI).
    for name, extra in (
        ("int8", {}),
        ("int8-per-channel", {"per_channel": True, "reduce_range": True}),
    ):
        q8 = work / f"model-{name}.onnx"
        quantize_dynamic(str(fp32), str(q8), weight_type=QuantType.QInt8, **extra)
        runner = rt.OnnxRuntimeRunner(q8, threads=1, device="cpu")
        got = np.concatenate(
            [torch_e._run(runner, texts[i : i + 32]) for i in range(0, len(texts), 32)]
        )
        cos = np.sum(got * want, axis=1)
        times: dict[str, list[float]] = {"int8": [], "onnx": []}
        for _ in range(args.rounds):
            for key, run in (("int8", runner), ("onnx", onnx_runner)):
                for q in queries:
                    t = time.perf_counter()
                    torch_e._run(run, [q])
                    times[key].append((time.perf_counter() - t) * 1000)
        out[name] = {
            "cos_mean": float(cos.mean()),
            "cos_min": float(cos.min()),
            "query_p50_ratio_to_onnx": statistics.median(times["int8"])
            / statistics.median(times["onnx"]),
        }
    return out


def citeline(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    r = subprocess.run(
        [sys.executable, "-m", "citeline.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    if r.returncode != 0:
        raise RuntimeError(f"citeline {' '.join(args)} failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout)


def quality(args: argparse.Namespace, work: Path, cache: Path) -> dict[str, dict[str, Any]]:
    """Each backend answers the same questions over indexes built once with
    ``--quality-ingest`` (default torch): on a loaded 2-core machine ingesting
    TIME-1963 takes many minutes per backend. The passage side is covered by the
    speed part's cosine columns and by tests/index/test_embed_backends.py."""
    out: dict[str, dict[str, Any]] = {}
    distractors = work / "distractors.jsonl"
    bbc_subset(distractors, args.distractors)
    built = {"CITELINE_EMBED_BACKEND": args.quality_ingest, "CITELINE_EMBED_CACHE_DIR": str(cache)}
    time_index, xq_index = work / "time1963", work / "xq"
    citeline(
        [
            "eval",
            "retrieval",
            str(TIME1963),
            "--index",
            str(time_index),
            "--mode",
            "dense",
            "--json",
        ],
        built,
    )
    citeline(
        [
            "ingest",
            str(XQUAD / "articles.jsonl"),
            str(distractors),
            "--index",
            str(xq_index),
            "--json",
            "--no-progress",
        ],
        built,
    )
    for b in BACKENDS:
        env = {"CITELINE_EMBED_BACKEND": b, "CITELINE_EMBED_CACHE_DIR": str(cache)}
        report = citeline(
            [
                "eval",
                "retrieval",
                str(TIME1963),
                "--index",
                str(time_index),
                "--mode",
                "all",
                "--json",
            ],
            env,
        )
        qa = citeline(
            ["eval", "qa", str(XQUAD / "questions.jsonl"), "--index", str(xq_index), "--json"], env
        )
        out[b] = {
            "ndcg_hybrid": report["results"]["hybrid"]["ndcg_10"],
            "ndcg_dense": report["results"]["dense"]["ndcg_10"],
            "answer_in_quotes": qa["answer_in_quotes"],
            "abstention": qa["abstention_rate"],
            "unanswerable_abstained": qa["unanswerable_abstained"],
        }
        print(f"quality {b}: {out[b]}", file=sys.stderr, flush=True)
    return out


def table(
    speed_: dict[str, dict[str, Any]] | None, quality_: dict[str, dict[str, Any]] | None
) -> str:
    lines = []
    if speed_:
        t = speed_["torch"]
        lines += [
            "| backend | ingest passages/s (vs torch) | query embed p50 / p99 ms (vs torch p50) "
            "| /v1/search p50 / p99 ms | /v1/ask p50 / p99 ms | server RSS MB "
            "| cosine to torch mean / min |",
            "|---|---|---|---|---|---|---|",
        ]
        for b, m in speed_.items():
            ing = statistics.median(m["ingest"])
            q50 = statistics.median(m["query"])
            lines.append(
                f"| {b} | {ing:.1f} ({ing / statistics.median(t['ingest']):.2f}x) "
                f"| {q50:.1f} / {pct(m['query'], 99):.1f} "
                f"({q50 / statistics.median(t['query']):.2f}x) "
                f"| {statistics.median(m['search']):.1f} / {pct(m['search'], 99):.1f} "
                f"| {statistics.median(m['ask']):.1f} / {pct(m['ask'], 99):.1f} "
                f"| {m['rss_mb']:.0f} | {m['cos_mean']:.7f} / {m['cos_min']:.7f} |"
            )
    if quality_:
        lines += [
            "",
            "| backend | TIME-1963 nDCG@10 hybrid | dense | xquad answer in quotes | abstained "
            "| abstained when unanswerable |",
            "|---|---|---|---|---|---|",
        ]
        for b, m in quality_.items():
            lines.append(
                f"| {b} | {m['ndcg_hybrid']:.4f} | {m['ndcg_dense']:.4f} "
                f"| {m['answer_in_quotes']:.4f} | {m['abstention']:.4f} "
                f"| {m['unanswerable_abstained']:.4f} |"
            )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--articles", type=int, default=60, help="BBC articles ingested per round")
    p.add_argument("--queries", type=int, default=60, help="queries per backend per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--distractors", type=int, default=300, help="BBC articles beside xquad")
    p.add_argument("--quality-ingest", default="torch", help="backend that builds the eval indexes")
    p.add_argument("--no-speed", action="store_true")
    p.add_argument("--quality", action="store_true")
    p.add_argument("--int8", action="store_true")
    p.add_argument("--out", type=Path, help="also write the raw numbers here (JSON)")
    args = p.parse_args()
    results: dict[str, Any] = {"args": vars(args) | {"out": str(args.out)}}
    with tempfile.TemporaryDirectory(prefix="citeline-embed-bench-") as tmp:
        work = Path(tmp)
        cache = work / "onnx-cache"
        # Export once, outside any measurement.
        assert Embedder(config=EmbedderConfig(backend="onnx", cache_dir=cache)).backend == "onnx"
        if not args.no_speed:
            results["speed"] = speed(args, work, cache)
        if args.int8:
            results["int8"] = int8_probe(args, work, cache)
        if args.quality:
            results["quality"] = quality(args, work, cache)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(table(results.get("speed"), results.get("quality")))
    for name, i in results.get("int8", {}).items():
        print(
            f"\n{name} (ONNX Runtime dynamic): cosine to torch mean {i['cos_mean']:.4f} / "
            f"min {i['cos_min']:.4f}; query p50 {i['query_p50_ratio_to_onnx']:.2f}x of onnx fp32"
        )


if __name__ == "__main__":
    main()
