"""The vector structure follows corpus size: exact when small, IVF-SQ8 when large."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from index import vectors as vecs
from index.models import Article, Chunk
from index.store import CURRENT, MANIFEST, Index, IndexWriter

DIM = 64


def clustered(n: int, seed: int = 0, clusters: int = 40) -> np.ndarray:
    """Unit vectors around random centres, like embeddings of topical text."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, DIM))
    x = centres[rng.integers(0, clusters, n)] + 0.6 * rng.normal(size=(n, DIM))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def test_compressed_index_keeps_recall_against_exact() -> None:
    x = clustered(6000)
    ids = np.arange(100, 6100, dtype=np.int64)
    settings = vecs.VectorSettings(exact_max=1000)
    ivf = vecs.build(ids, x, settings)
    exact = vecs.build(ids, x, vecs.VectorSettings(exact_max=10**9))
    assert vecs.kind_of(ivf) == vecs.IVF_SQ and vecs.kind_of(exact) == vecs.FLAT
    queries = clustered(200, seed=1)
    _, truth = exact.search(queries, 10)
    _, got = ivf.search(queries, 10, params=vecs.search_params(ivf, None))
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, got, strict=True)])
    assert recall >= 0.98
    # Deleting by passage id works (incremental ingest depends on it).
    assert ivf.remove_ids(ids[:10]) == 10 and ivf.ntotal == 5990
    np.testing.assert_allclose(vecs.reconstruct(ivf, [ids[20]])[0], x[20], atol=0.02)


def test_fit_switches_structure_with_hysteresis() -> None:
    settings = vecs.VectorSettings(exact_max=1000)
    small = vecs.build(np.arange(800), clustered(800), settings)
    same, trained = vecs.fit(small, settings, 0)
    assert same is small and trained == 0
    big = vecs.build(np.arange(1500), clustered(1500), settings)
    assert vecs.kind_of(big) == vecs.IVF_SQ
    # Shrinking a little keeps the trained cells; below half the limit it turns exact.
    big.remove_ids(np.arange(800, dtype=np.int64))  # 700 left: above 1000 // 2
    kept, trained = vecs.fit(big, settings, 1500)
    assert kept is big and trained == 1500
    big.remove_ids(np.arange(800, 1100, dtype=np.int64))  # 400 left
    flat, trained = vecs.fit(big, settings, 1500)
    assert vecs.kind_of(flat) == vecs.FLAT and flat.ntotal == 400 and trained == 0
    # Growing well past the corpus the cells were trained on retrains them.
    grown = vecs.build(np.arange(7000), clustered(7000), settings)
    retrained, trained = vecs.fit(grown, settings, 1500)
    assert retrained is not grown and trained == 7000


def _upsert(writer: IndexWriter, doc_id: str, vectors: np.ndarray) -> None:
    text = f"passages of {doc_id}"
    chunks = [Chunk(doc_id, i, 0, len(text), text) for i in range(len(vectors))]
    writer.upsert(
        Article(doc_id, text), content_hash=doc_id, origin=doc_id, chunks=chunks, vectors=vectors
    )


def test_writer_commits_the_structure_the_size_calls_for(tmp_path: Path) -> None:
    settings = vecs.VectorSettings(exact_max=300)
    x = clustered(600)

    def writer() -> IndexWriter:
        return IndexWriter(
            tmp_path, embedder="test", dimension=DIM, chunker={}, vector_settings=settings
        )

    w = writer()
    for d in range(12):  # 12 documents x 50 passages
        _upsert(w, f"doc{d}", x[d * 50 : (d + 1) * 50])
    manifest = w.commit()
    assert manifest.vectors["kind"] == vecs.IVF_SQ and manifest.vectors["trained_on"] == 600
    with Index.open(tmp_path) as index:
        hits = index.search(x[130], 5)
        assert hits[0].passage.doc_id == "doc2"
        assert index.search(x[130], 5, {"doc_id": "doc7"})[0].passage.doc_id == "doc7"

    w = writer()  # incremental: deletes go through the IVF index in place
    for d in range(3, 12):
        w.delete(f"doc{d}")
    manifest = w.commit()
    assert manifest.vectors["kind"] == vecs.FLAT and manifest.chunks == 150
    live = tmp_path / (tmp_path / CURRENT).read_text().strip()
    assert json.loads((live / MANIFEST).read_text())["vectors"] == {"kind": vecs.FLAT}
    with Index.open(tmp_path) as index:
        assert index.chunk_count == 150
        assert index.search(x[130], 1)[0].passage.doc_id == "doc2"
