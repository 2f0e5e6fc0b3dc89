"""Vector index scale benchmark: exact vs IVF-SQ8 (vs HNSW) at 100k and 1M passages.

Only the index is measured, so passages are generated vectors rather than
embedded text (embedding a million passages takes hours here). To give them
the neighbourhood structure of real embeddings, each generated vector is a
variation of a real MiniLM embedding of a BBC News paragraph
(../shared/data/bbc): moved part of the way towards a nearby paragraph's
embedding, plus noise. Queries are generated the same way from held-out seeds.

For each size and structure it prints: build time, memory the structure adds
to the process, on-disk size, single-query search p50/p99 (k=10, query
embedding excluded) and recall@10 against exact search.

    .venv/bin/python bench/scale.py                       # 100k and 1M, ~5 min
    .venv/bin/python bench/scale.py --sizes 100000 --structures flat ivf-fp16 hnsw

HNSW is measured for comparison only: it cannot delete vectors, which
incremental ingest needs, and at 1M its float vectors alone exceed 1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index import vectors as vecs  # noqa: E402

BBC = ROOT.parent / "shared" / "data" / "bbc" / "corpus.jsonl"


def seed_embeddings(count: int) -> np.ndarray:
    """Real embeddings of BBC passages (paragraphs), the raw material for generation."""
    from index.embedder import Embedder

    paragraphs: list[str] = []
    with BBC.open(encoding="utf-8") as fh:
        for line in fh:
            text = json.loads(line)["text"]
            paragraphs.extend(p.strip() for p in text.split("\n\n") if len(p.split()) >= 12)
            if len(paragraphs) >= count:
                break
    return Embedder().encode(paragraphs[:count])


def generate(seeds: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Variations of real passages: each vector moves a random seed part of the way
    towards one of its 10 nearest seeds (a passage on the same topic) and adds
    noise. Built in blocks to bound memory."""
    sims = seeds @ seeds.T
    np.fill_diagonal(sims, -np.inf)
    near = np.argsort(-sims, axis=1)[:, :10]
    out = np.empty((n, seeds.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        pick = rng.integers(0, len(seeds), m)
        a = seeds[pick]
        b = seeds[near[pick, rng.integers(0, near.shape[1], m)]]
        mix = rng.uniform(0.0, 0.5, size=(m, 1)).astype(np.float32)
        noise = rng.normal(0.0, 0.02, size=a.shape).astype(np.float32)
        block = (1 - mix) * a + mix * b + noise
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + m] = block
    return out


def build(kind: str, ids: np.ndarray, x: np.ndarray) -> faiss.Index:
    if kind == "flat":
        return vecs.build(ids, x, vecs.VectorSettings(exact_max=10**12))
    if kind in ("ivf-fp16", "ivf-sq8"):
        # Exactly what the product builds above its exact_max (fp16 is its default).
        quantizer = "fp16" if kind == "ivf-fp16" else "8bit"
        return vecs.build(ids, x, vecs.VectorSettings(exact_max=0, quantizer=quantizer))
    if kind == "hnsw":
        hnsw = faiss.IndexHNSWFlat(x.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 40
        hnsw.hnsw.efSearch = 64
        index = faiss.IndexIDMap2(hnsw)
        index.add_with_ids(x, ids)
        return index
    raise ValueError(kind)


def loaded_ram(path: Path) -> int:
    """Resident memory a fresh process gains by loading the index file: what a
    server pays for it, free of this process's allocator history."""
    code = (
        "import os, faiss\n"
        "def rss():\n"
        "    return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE')\n"
        "before = rss(); index = faiss.read_index(os.environ['INDEX']); print(rss() - before)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "INDEX": str(path)},
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.strip())


def search_all(
    index: faiss.Index, queries: np.ndarray, nprobe: int | None
) -> tuple[np.ndarray, list[float]]:
    params = vecs.search_params(index, None)
    if nprobe is not None and params is not None:
        params.nprobe = nprobe  # type: ignore[attr-defined]
    index.search(queries[:5], 10, params=params)  # warm up
    found = np.empty((len(queries), 10), dtype=np.int64)
    latencies = []
    for i, q in enumerate(queries):
        t = time.perf_counter()
        _, got = index.search(q.reshape(1, -1), 10, params=params)
        latencies.append((time.perf_counter() - t) * 1000)
        found[i] = got[0]
    return found, latencies


def measure(
    kind: str,
    ids: np.ndarray,
    x: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray | None,
    nprobes: list[int],
) -> list[tuple[dict[str, Any], np.ndarray]]:
    started = time.perf_counter()
    index = build(kind, ids, x)
    build_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "v.faiss"
        faiss.write_index(index, str(path))
        disk = path.stat().st_size
        ram = loaded_ram(path)
    desc = vecs.describe(index)
    # The product's nprobe first, then any others asked for (IVF only).
    probes: list[int | None] = [None]
    if kind.startswith("ivf"):
        probes += [p for p in nprobes if p != desc["nprobe"]]
    out = []
    for nprobe in probes:
        found, latencies = search_all(index, queries, nprobe)
        reference = found if truth is None else truth
        recall = float(
            np.mean([len(set(a) & set(b)) / 10 for a, b in zip(reference, found, strict=True)])
        )
        row = {
            "build_s": build_s,
            "ram_mb": ram / 2**20,
            "disk_mb": disk / 2**20,
            "p50_ms": float(np.percentile(latencies, 50)),
            "p99_ms": float(np.percentile(latencies, 99)),
            "recall@10": recall,
            "nlist": desc.get("nlist", 0),
            "nprobe": nprobe or desc.get("nprobe", 0),
            "default": nprobe is None,
        }
        out.append((row, found))
    del index
    return out


def keyword_rebuild(documents: int) -> dict[str, Any]:
    """Time the commit-time rebuild of the BM25 index over ``documents`` stored
    articles (BBC articles replicated, each copy with a distinct id and one word
    changed so the vocabulary grows as in a real corpus)."""
    from index.models import Article, Chunk
    from index.store import IndexWriter

    texts = [json.loads(line) for line in BBC.open(encoding="utf-8")]
    rng = np.random.default_rng(3)
    with tempfile.TemporaryDirectory() as tmp:
        writer = IndexWriter(Path(tmp), embedder="bench", dimension=8, chunker={})
        for i in range(documents):
            src = texts[i % len(texts)]
            text = f"{src['text']} variant{i}"
            doc_id = f"doc{i}"
            writer.upsert(
                Article(doc_id, text, title=src["title"]),
                content_hash=doc_id,
                origin=doc_id,
                chunks=[Chunk(doc_id, 0, 0, len(text), text)],
                vectors=rng.normal(size=(1, 8)).astype(np.float32),
            )
        started = time.perf_counter()
        writer.commit()
        seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in Path(tmp).glob("gen-*/bm25/*"))
    return {"documents": documents, "commit_s": seconds, "bm25_mb": size / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--structures", nargs="+", default=["flat", "ivf-fp16", "ivf-sq8", "hnsw"])
    ap.add_argument("--hnsw-max", type=int, default=200_000, help="skip HNSW above this size")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument(
        "--nprobe", type=int, nargs="*", default=[], help="also search IVF with these nprobe"
    )
    ap.add_argument("--seeds", type=int, default=3000)
    ap.add_argument("--threads", type=int, default=1, help="FAISS threads (server: 1 query)")
    ap.add_argument("--seed-cache", type=Path, help="keep the seed embeddings in this .npy")
    ap.add_argument(
        "--bm25-docs", type=int, default=0, help="also time the keyword rebuild at commit"
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(7)
    started = time.perf_counter()
    if args.seed_cache and args.seed_cache.exists():
        seeds = np.load(args.seed_cache)
    else:
        seeds = seed_embeddings(args.seeds)
        if args.seed_cache:
            np.save(args.seed_cache, seeds)
    held_out = len(seeds) // 10  # queries come from seeds the corpus never used
    corpus_seeds, query_seeds = seeds[held_out:], seeds[:held_out]
    print(
        f"# {len(seeds)} real seed embeddings in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    rows: list[dict[str, Any]] = []
    for n in args.sizes:
        x = generate(corpus_seeds, n, rng)
        ids = np.arange(1, n + 1, dtype=np.int64)
        queries = generate(query_seeds, args.queries, rng)
        truth = None
        structures = ["flat"] + [s for s in args.structures if s != "flat"]
        for kind in structures:
            if kind == "hnsw" and n > args.hnsw_max:
                continue
            for row, found in measure(kind, ids, x, queries, truth, args.nprobe):
                if kind == "flat":
                    truth = found
                row.update({"passages": n, "structure": kind})
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
        del x
    keyword = keyword_rebuild(args.bm25_docs) if args.bm25_docs else None
    if args.json:
        print(json.dumps({"vectors": rows, "keyword_rebuild": keyword}, indent=2))
        return
    header = "| passages | structure | build s | RAM MB | disk MB | p50 ms | p99 ms | recall@10 |"
    print(header)
    print("|" + "---|" * 8)
    for r in rows:
        name = r["structure"]
        if r["nlist"]:
            name += (
                f" (nlist {r['nlist']}, nprobe {r['nprobe']}{', default' if r['default'] else ''})"
            )
        print(
            f"| {r['passages']:,} | {name} | {r['build_s']:.1f} | {r['ram_mb']:.0f} | "
            f"{r['disk_mb']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['recall@10']:.3f} |"
        )
    if keyword:
        print(
            f"\nCommit of {keyword['documents']:,} articles (BM25 rebuilt from SQLite, "
            f"vectors written): {keyword['commit_s']:.1f} s; keyword index "
            f"{keyword['bm25_mb']:.0f} MB on disk"
        )
    print(f"\n# total {time.perf_counter() - started:.0f} s, faiss threads {args.threads}")


if __name__ == "__main__":
    main()
