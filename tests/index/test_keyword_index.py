"""The BM25 index lives in each generation and follows incremental ingest."""

from __future__ import annotations

import json
from pathlib import Path

import bm25s
import numpy as np
import pytest

from index.bm25 import PARAMS, Bm25Index
from index.embedder import Embedder
from index.models import Article, Chunk
from index.normalize import terms
from index.store import BM25_DIR, CURRENT, MANIFEST, Index, IndexUnavailable, IndexWriter
from ingest.pipeline import Ingestor

ARTICLES = {
    "valves.txt": "Valve Maker Expands\n\nThe Zorblatt valve factory hired two hundred workers. "
    "Its valves regulate water pressure in city mains.",
    "harvest.txt": "Harvest Report\n\nFarmers reported a record wheat harvest after a wet spring. "
    "Grain prices fell across the region.",
    "league.txt": "League Final\n\nThe home side won the league final in extra time. "
    "Fans celebrated in the square until midnight.",
}


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _bm25_docs(index_dir: Path, query: str) -> list[str]:
    with Index.open(index_dir) as index:
        return [d for d, _ in index.bm25.top(query, 10)]


def test_keyword_index_is_written_into_the_generation(tmp_path: Path, embedder: Embedder) -> None:
    index_dir = tmp_path / "index"
    Ingestor(embedder, index_dir).run([_folder(tmp_path)])
    live = index_dir / (index_dir / CURRENT).read_text().strip()
    assert (live / BM25_DIR / "doc_ids.json").is_file()
    manifest = json.loads((live / MANIFEST).read_text())
    assert manifest["format_version"] == 2 and manifest["analyzer"]
    assert manifest["vectors"]["kind"] == "flat"
    with Index.open(index_dir) as index:
        assert sorted(index.bm25.doc_ids) == sorted(ARTICLES)
    # Stemming and case folding: "ZORBLATT VALVES" meets "Zorblatt valve".
    assert _bm25_docs(index_dir, "ZORBLATT VALVES") == ["valves.txt"]
    assert _bm25_docs(index_dir, "nothing matches xyzzy") == []


def test_incremental_ingest_keeps_keywords_in_step(tmp_path: Path, embedder: Embedder) -> None:
    folder = _folder(tmp_path)
    index_dir = tmp_path / "index"
    ingest = Ingestor(embedder, index_dir)
    ingest.run([folder])
    assert _bm25_docs(index_dir, "wheat") == ["harvest.txt"]

    # changed: the word leaves one article; added: it appears in a new one; removed: a file goes
    (folder / "harvest.txt").write_text(
        "Harvest Report\n\nFarmers reported a record barley harvest.", encoding="utf-8"
    )
    (folder / "bakery.txt").write_text(
        "Bakery Opens\n\nThe bakery buys its wheat from local mills.", encoding="utf-8"
    )
    (folder / "league.txt").unlink()
    summary = ingest.run([folder])
    assert (summary.added, summary.updated, summary.removed) == (1, 1, 1)
    assert _bm25_docs(index_dir, "wheat") == ["bakery.txt"]
    assert _bm25_docs(index_dir, "barley") == ["harvest.txt"]
    assert _bm25_docs(index_dir, "league final") == []
    with Index.open(index_dir) as index:
        assert sorted(index.bm25.doc_ids) == ["bakery.txt", "harvest.txt", "valves.txt"]
        assert len(index.bm25) == index.document_count


def test_uncommitted_writer_leaves_live_keywords(tmp_path: Path, embedder: Embedder) -> None:
    index_dir = tmp_path / "index"
    Ingestor(embedder, index_dir).run([_folder(tmp_path)])
    writer = IndexWriter(
        index_dir,
        embedder=embedder.name,
        dimension=embedder.dimension,
        chunker={"kind": "test"},
    )
    text = "Copper mining resumed in the hills."
    writer.upsert(
        Article("copper.txt", text),
        content_hash="x",
        origin="/x/copper.txt",
        chunks=[Chunk("copper.txt", 0, 0, len(text), text)],
        vectors=embedder.encode([text]),
    )
    writer.abort()
    assert _bm25_docs(index_dir, "copper") == []
    assert _bm25_docs(index_dir, "zorblatt") == ["valves.txt"]


def test_an_older_index_is_refused_then_upgraded_by_ingest(
    tmp_path: Path, embedder: Embedder
) -> None:
    folder = _folder(tmp_path)
    index_dir = tmp_path / "index"
    ingest = Ingestor(embedder, index_dir)
    ingest.run([folder])
    # Make the live generation look like one written before keyword search existed.
    live = index_dir / (index_dir / CURRENT).read_text().strip()
    manifest = json.loads((live / MANIFEST).read_text())
    manifest["format_version"] = 1
    for key in ("analyzer", "vectors"):
        manifest.pop(key)
    (live / MANIFEST).write_text(json.dumps(manifest))
    for f in (live / BM25_DIR).iterdir():
        f.unlink()
    (live / BM25_DIR).rmdir()
    with pytest.raises(IndexUnavailable, match="again to upgrade"):
        Index.open(index_dir)

    summary = ingest.run([folder])
    assert summary.unchanged == 3 and summary.committed  # nothing re-embedded, still committed
    assert summary.chunks_embedded == 0
    assert _bm25_docs(index_dir, "zorblatt") == ["valves.txt"]


def test_weights_match_bm25s_own_indexing() -> None:
    # The commit builds BM25 from stored term counts with array arithmetic;
    # it must score exactly as bm25s does when it indexes the tokens itself.
    docs = [
        (f"d{i}", text)
        for i, text in enumerate([*ARTICLES.values(), "Wheat, wheat and more WHEAT."])
    ]
    ours = Bm25Index.build(docs)
    reference = bm25s.BM25(**PARAMS)  # type: ignore[arg-type]
    reference.index([terms(t) for _, t in docs], show_progress=False)
    for query in ("wheat harvest", "Zorblatt valves pressure", "league final fans", "absent"):
        np.testing.assert_allclose(
            ours.scores(query), reference.get_scores(terms(query)), rtol=1e-5, atol=1e-6
        )
