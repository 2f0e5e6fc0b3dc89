"""Vector backends side by side: FAISS (in process) vs Qdrant, on the same vectors.

Builds one index through the real IndexWriter with FAISS vectors, then moves
it to Qdrant the way ``citeline migrate --to qdrant`` does (copied, never
re-embedded), and measures both generations through the real ``Index``:

- dense search, k=10 (``Index.search_ids``), p50/p99 per query;
- the same with a metadata filter (FAISS: ids from SQLite; Qdrant: payload filter);
- fetching the stored vectors of 400 passages, which hybrid search does per
  query to score every passage of its candidate documents;
- the copy rate of the migration, and top-10 agreement between the backends.

Passages are generated unit vectors around topical centres (384 dims, like
MiniLM): only the vector store is measured, and embedding 20k passages would
take minutes here. BM25 stays local on both backends and is not measured.

    .venv/bin/python bench/qdrant_backend.py                     # local mode, ~2.5 min
    .venv/bin/python bench/qdrant_backend.py --qdrant-url http://127.0.0.1:6333

Without --qdrant-url Qdrant runs in qdrant-client's local mode (in-process,
brute force in numpy): the mode tests use, not a server's performance.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

# One thread for every library (FAISS's OpenMP, numpy's BLAS under Qdrant's
# local mode): the server searches one query per thread, and on a shared
# 2-core machine spinning thread pools only measure the neighbours' load.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.models import Article, Chunk  # noqa: E402
from index.qdrant_store import MARKER, drop_collection  # noqa: E402
from index.store import Index, IndexWriter, iter_generations  # noqa: E402
from index.vector_store import BackendConfig  # noqa: E402

DIM = 384
CATEGORIES = ("business", "entertainment", "politics", "sport", "tech")


def clustered(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    x = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.normal(size=(n, DIM))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def build(root: Path, docs: int, per_doc: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.normal(size=(60, DIM))
    vectors = clustered(docs * per_doc, rng, centres)
    writer = IndexWriter(
        root, embedder="bench", dimension=DIM, chunker={}, backend=BackendConfig("faiss")
    )
    for d in range(docs):
        text = f"document {d} " * 5
        chunks = [Chunk(f"d{d}", i, 0, len(text), text) for i in range(per_doc)]
        article = Article(f"d{d}", text, metadata={"category": CATEGORIES[d % len(CATEGORIES)]})
        writer.upsert(
            article,
            content_hash=str(d),
            origin=f"d{d}",
            chunks=chunks,
            vectors=vectors[d * per_doc : (d + 1) * per_doc],
        )
    writer.commit()
    return clustered(100, rng, centres)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ms = np.array(samples) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def measure(index: Index, queries: np.ndarray, rng: np.random.Generator) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"search": [], "filtered": [], "vectors": []}
    ids = np.arange(1, index.chunk_count + 1)
    for q in queries[:5]:  # warm-up
        index.search_ids(q, 10)
    for q in queries:
        t = time.perf_counter()
        index.search_ids(q, 10)
        times["search"].append(time.perf_counter() - t)
        t = time.perf_counter()
        index.search_ids(q, 10, {"category": "sport"})
        times["filtered"].append(time.perf_counter() - t)
        wanted = rng.choice(ids, size=400, replace=False)
        t = time.perf_counter()
        index.vectors(wanted)
        times["vectors"].append(time.perf_counter() - t)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--passages-per-doc", type=int, default=10)
    parser.add_argument("--qdrant-url", help="a Qdrant server; default: local mode")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "index"
        t = time.perf_counter()
        queries = build(root, args.docs, args.passages_per_doc, rng)
        faiss_build = time.perf_counter() - t
        n = args.docs * args.passages_per_doc

        target = (
            BackendConfig("qdrant", url=args.qdrant_url, collection="citeline-bench")
            if args.qdrant_url
            else BackendConfig("qdrant", path=Path(tmp) / "qdrant")
        )
        with Index.open(root) as live:
            manifest = live.manifest
        t = time.perf_counter()
        writer = IndexWriter(
            root,
            embedder=manifest.embedder,
            dimension=manifest.dimension,
            chunker=manifest.chunker,
            backend=target,
        )
        writer.commit()
        copy_seconds = time.perf_counter() - t

        # Both generations are kept: the FAISS one as the previous generation.
        gens = {Index(root, g, target) for g in iter_generations(root)}
        by_backend = {index.backend: index for index in gens}
        assert set(by_backend) == {"faiss", "qdrant"}, by_backend
        results: dict[str, dict[str, list[float]]] = {}
        tops: dict[str, list[list[int]]] = {}
        for name in ("faiss", "qdrant"):
            index = by_backend[name]
            results[name] = measure(index, queries, np.random.default_rng(11))
            tops[name] = [[i for i, _ in index.search_ids(q, 10)] for q in queries]
            index.close()
        for gen in iter_generations(root):  # a server keeps collections after the folder goes
            if (gen / MARKER).exists():
                drop_collection(gen / MARKER, target)

    agreement = np.mean(
        [len(set(a) & set(b)) / 10 for a, b in zip(tops["faiss"], tops["qdrant"], strict=True)]
    )
    where = f"server {args.qdrant_url}" if args.qdrant_url else "local mode"
    print(f"\n{n} passages x {DIM} dims, {len(queries)} queries; Qdrant: {where}\n")
    print(f"{'metric (ms)':<34}{'faiss':>10}{'qdrant':>10}{'ratio':>9}")
    labels = {
        "search": "dense search k=10",
        "filtered": "search k=10, filter category",
        "vectors": "fetch 400 vectors (hybrid)",
    }
    for key, label in labels.items():
        f50, f99 = percentiles(results["faiss"][key])
        q50, q99 = percentiles(results["qdrant"][key])
        print(f"{label + ' p50':<34}{f50:>10.2f}{q50:>10.2f}{q50 / f50:>8.1f}x")
        print(f"{label + ' p99':<34}{f99:>10.2f}{q99:>10.2f}{q99 / f99:>8.1f}x")
    print(f"\nwrite {n} passages (FAISS, with SQLite + BM25): {faiss_build:.1f} s")
    print(
        f"migrate to Qdrant (copy, no embedding): {copy_seconds:.1f} s ({n / copy_seconds:.0f}/s)"
    )
    print(f"top-10 agreement Qdrant vs FAISS: {agreement:.3f}")


if __name__ == "__main__":
    main()
