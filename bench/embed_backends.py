"""Embedder backends side by side: speed in interleaved rounds, quality per backend.

    .venv/bin/python bench/embed_backends.py --articles 60 --rounds 3 --queries 60

Speed (one run, rounds interleaved so a busy neighbour slows every backend alike;
on a shared machine read the ratios to torch, not the absolute numbers):
- ingest passages/s: ``Ingestor`` over the first ``--articles`` BBC articles into a
  fresh index, with the default threads and the ingest configuration of
  ``citeline ingest`` (OpenVINO with parallel streams);
- single-query embed p50/p99 on one thread (as the server), query cache off;
- ``/v1/search`` and ``/v1/ask`` p50/p99 over HTTP from one real server per backend
  (all started before the first round), over an index of the same articles, then
  each server's RSS;
- vectors: mean and lowest cosine to torch's on the first 1,100 characters (about
  a passage) of each article;
- ``--backends`` limits the backends (torch is always the baseline), ``--no-http``
  skips the servers, ``--batch`` sets the ingest batch size.

Quality (``--quality``; slow: each ingest backend ingests the corpora itself), for each
``INGEST:SERVE`` pair of ``--quality-pairs`` (indexes built with the first, questions
embedded and answered with the second, after the manifest's agreement check):
- TIME-1963 nDCG@10 via ``citeline eval retrieval`` (hybrid and dense);
- xquad-dev via ``citeline eval qa`` over the 12 articles plus the first
  ``--distractors`` BBC articles: gold answer in the cited quotes, abstention.

int8 (``--int8``): ONNX Runtime's dynamic int8 quantisation of the same export (VNNI
kernels where the CPU has them), per tensor, per channel, and per channel with each
layer's FFN output kept in fp32: vectors vs torch, single-query and batch-32 speed vs
the fp32 export, to say whether it could meet the bounds.
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
from dataclasses import replace
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
    backends = args.backends
    corpus = work / "bbc.jsonl"
    rows = bbc_subset(corpus, args.articles)
    queries = [r["title"] for r in bbc_subset(work / "q.jsonl", args.articles + args.queries)]
    queries = queries[-args.queries :]  # titles of articles not in the index
    # As ``citeline ingest`` configures them (throughput: OpenVINO's parallel streams).
    ingest = EmbedderConfig(batch_size=args.batch, cache_dir=cache, throughput=True)
    ingest_embedders = {b: Embedder(config=replace(ingest, backend=b)) for b in backends}
    query_embedders = {
        b: Embedder(config=EmbedderConfig(backend=b, threads=1, cache_dir=cache, query_cache=0))
        for b in backends
    }
    for b, e in [*ingest_embedders.items(), *query_embedders.items()]:
        assert e.backend == b, f"{b} did not load (fell back to {e.backend})"
    out: dict[str, dict[str, Any]] = {b: {"ingest": [], "query": []} for b in backends}
    loads: list[float] = []
    # One server per backend over one shared index (built with torch; the others are
    # checked to agree with it at start-up, as a real switch of backend would be).
    index_dir = work / "served"
    if not args.no_http:
        Ingestor(ingest_embedders["torch"], index_dir).run([corpus])
    servers = {}
    try:
        for b in [] if args.no_http else backends:
            env = {"CITELINE_EMBED_BACKEND": b, "CITELINE_EMBED_CACHE_DIR": str(cache)}
            # A loaded shared machine can take minutes to start a server.
            servers[b] = start_server(index_dir, work / f"server-{b}.log", env=env, timeout=900)
        for b in backends:
            out[b]["search"], out[b]["ask"] = [], []
        for r in range(args.rounds):
            loads.append(os.getloadavg()[0])
            for b in backends:
                target = work / f"ingest-{b}-{r}"
                summary = Ingestor(ingest_embedders[b], target).run([corpus])
                out[b]["ingest"].append(summary.chunks_embedded / summary.seconds)
                e = query_embedders[b]
                for q in queries:
                    t = time.perf_counter()
                    e.encode_query(q)
                    out[b]["query"].append((time.perf_counter() - t) * 1000)
                if args.no_http:
                    out[b]["search"] = out[b]["ask"] = [float("nan")]
                    print(f"round {r + 1}/{args.rounds} {b} done", file=sys.stderr, flush=True)
                    continue
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
        for b in backends:
            out[b]["rss_mb"] = rss_mb(servers[b][0].pid) if b in servers else float("nan")
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=30)
    texts = [r["text"][:1100] for r in rows]
    want = ingest_embedders["torch"].encode(texts)
    for b in backends:
        cos = np.sum(ingest_embedders[b].encode(texts) * want, axis=1)
        out[b]["cos_mean"], out[b]["cos_min"] = float(cos.mean()), float(cos.min())
    out["torch"]["load_avg"] = loads  # 1-minute load average at the start of each round
    return out


def _ffn_output_matmuls(path: Path) -> list[str]:
    """The MatMuls of each layer's FFN output (weight 4*hidden x hidden, 1536 x 384 here):
    BERT's activations with the largest outliers, the usual layers to keep in fp32."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    ffn_out = {
        i.name for i in model.graph.initializer if len(i.dims) == 2 and i.dims[0] == 4 * i.dims[1]
    }
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and ffn_out & set(n.input)]


def int8_probe(args: argparse.Namespace, work: Path, cache: Path) -> dict[str, Any]:
    """Dynamic int8 of the same export (ONNX Runtime uses VNNI where the CPU has it):
    vectors vs torch, single-query and batch-32 speed vs the fp32 export."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from index import embed_runtime as rt

    torch_e = Embedder(config=EmbedderConfig(threads=1, query_cache=0))
    fp32 = rt.export_folder(cache, torch_e.path) / rt.EXPORT_NAME
    onnx_runner = rt.OnnxRuntimeRunner(fp32, threads=1, device="cpu")
    onnx_batch = rt.OnnxRuntimeRunner(fp32, threads=None, device="cpu")
    texts = [r["text"][:1100] for r in bbc_subset(work / "i8.jsonl", args.articles)]
    want = torch_e.encode(texts)
    queries = [r["title"] for r in bbc_subset(work / "i8q.jsonl", args.queries)]
    out: dict[str, Any] = {}
    keep = _ffn_output_matmuls(fp32)
    for name, extra in (
        ("int8 per-tensor", {}),
        ("int8 per-channel", {"per_channel": True}),
        ("int8 per-channel, FFN outputs fp32", {"per_channel": True, "nodes_to_exclude": keep}),
    ):
        q8 = work / "model-int8.onnx"
        quantize_dynamic(str(fp32), str(q8), weight_type=QuantType.QInt8, **extra)
        runner = rt.OnnxRuntimeRunner(q8, threads=1, device="cpu")
        batch = rt.OnnxRuntimeRunner(q8, threads=None, device="cpu")
        got = np.concatenate(
            [torch_e._run(runner, texts[i : i + 32]) for i in range(0, len(texts), 32)]
        )
        cos = np.sum(got * want, axis=1)
        times: dict[str, list[float]] = {"int8": [], "onnx": [], "int8-batch": [], "onnx-batch": []}
        for _ in range(args.rounds):
            for key, run, many in (("int8", runner, batch), ("onnx", onnx_runner, onnx_batch)):
                for q in queries:
                    t = time.perf_counter()
                    torch_e._run(run, [q])
                    times[key].append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                for i in range(0, len(texts), 32):
                    torch_e._run(many, texts[i : i + 32])
                times[f"{key}-batch"].append(time.perf_counter() - t)
        out[name] = {
            "cos_mean": float(cos.mean()),
            "cos_min": float(cos.min()),
            "query_p50_ratio_to_onnx": statistics.median(times["int8"])
            / statistics.median(times["onnx"]),
            "batch_speed_vs_onnx": statistics.median(times["onnx-batch"])
            / statistics.median(times["int8-batch"]),
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
    """Each ``INGEST:SERVE`` pair of ``--quality-pairs``: the eval indexes are built with
    the ingest backend (once per backend), the questions are embedded and answered with
    the serve backend, which must first pass the manifest's agreement check."""
    out: dict[str, dict[str, Any]] = {}
    distractors = work / "distractors.jsonl"
    bbc_subset(distractors, args.distractors)
    built: dict[str, tuple[Path, Path]] = {}
    for pair in args.quality_pairs:
        ingest_backend, serve_backend = pair.split(":")
        if ingest_backend not in built:
            env = {"CITELINE_EMBED_BACKEND": ingest_backend, "CITELINE_EMBED_CACHE_DIR": str(cache)}
            time_index = work / f"time1963-{ingest_backend}"
            xq_index = work / f"xq-{ingest_backend}"
            dense = ["--mode", "dense", "--json"]
            citeline(["eval", "retrieval", str(TIME1963), "--index", str(time_index), *dense], env)
            xq_in = [str(XQUAD / "articles.jsonl"), str(distractors)]
            citeline(["ingest", *xq_in, "--index", str(xq_index), "--json", "--no-progress"], env)
            built[ingest_backend] = (time_index, xq_index)
        time_index, xq_index = built[ingest_backend]
        env = {"CITELINE_EMBED_BACKEND": serve_backend, "CITELINE_EMBED_CACHE_DIR": str(cache)}
        every = ["--mode", "all", "--json"]
        report = citeline(
            ["eval", "retrieval", str(TIME1963), "--index", str(time_index), *every], env
        )
        qa = citeline(
            ["eval", "qa", str(XQUAD / "questions.jsonl"), "--index", str(xq_index), "--json"], env
        )
        out[pair] = {
            "ndcg_hybrid": report["results"]["hybrid"]["ndcg_10"],
            "ndcg_dense": report["results"]["dense"]["ndcg_10"],
            "answer_in_quotes": qa["answer_in_quotes"],
            "abstention": qa["abstention_rate"],
            "unanswerable_abstained": qa["unanswerable_abstained"],
            "load_avg": os.getloadavg()[0],
        }
        print(f"quality {pair}: {out[pair]}", file=sys.stderr, flush=True)
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
            "| ingest:serve backends | TIME-1963 nDCG@10 hybrid | dense | xquad answer in quotes "
            "| abstained "
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
    p.add_argument(
        "--backends",
        type=lambda v: v.split(","),
        default=list(BACKENDS),
        help="speed: comma-separated backends (torch is always measured, as the baseline)",
    )
    p.add_argument("--batch", type=int, default=32, help="ingest batch size")
    p.add_argument("--no-http", action="store_true", help="speed: skip the HTTP servers")
    p.add_argument(
        "--quality-pairs",
        type=lambda v: v.split(","),
        default=["torch:torch", "openvino-bf16:onnx", "openvino-bf16:openvino-bf16"],
        help="quality: comma-separated INGEST:SERVE backend pairs",
    )
    p.add_argument("--no-speed", action="store_true")
    p.add_argument("--quality", action="store_true")
    p.add_argument("--int8", action="store_true")
    p.add_argument("--out", type=Path, help="also write the raw numbers here (JSON)")
    args = p.parse_args()
    args.backends = ["torch", *[b for b in args.backends if b != "torch"]]
    unknown = {b for pair in args.quality_pairs for b in pair.split(":")} | set(args.backends)
    if unknown - set(BACKENDS) or any(pair.count(":") != 1 for pair in args.quality_pairs):
        p.error(f"backends are {', '.join(BACKENDS)}; pairs are INGEST:SERVE")
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
            f"min {i['cos_min']:.4f}; query p50 {i['query_p50_ratio_to_onnx']:.2f}x of onnx fp32; "
            f"batch-32 throughput {i['batch_speed_vs_onnx']:.2f}x of onnx fp32"
        )
    if "speed" in results:
        print(f"\nload average (1 min) at each round: {results['speed']['torch']['load_avg']}")


if __name__ == "__main__":
    main()
