"""The on-disk index: atomic generations, filters, clear errors; every test runs
on both vector backends (the ``backend`` fixture: FAISS, and Qdrant's local mode)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from index.embedder import Embedder
from index.models import Article, Chunk
from index.store import CURRENT, MANIFEST, Index, IndexUnavailable, IndexWriter, Manifest
from index.vector_store import BackendConfig

CHUNKER = {"kind": "test"}
# The backend every writer here writes to: the ``backend`` fixture's, passed
# explicitly as the entry points pass the configured one.
WRITE_TO = BackendConfig()


@pytest.fixture(autouse=True)
def _write_to(backend: BackendConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "WRITE_TO", backend)


def _write(
    root: Path,
    embedder: Embedder,
    docs: dict[str, str],
    *,
    commit: bool = True,
    metadata: dict[str, dict[str, object]] | None = None,
) -> IndexWriter:
    writer = IndexWriter(
        root,
        embedder=embedder.name,
        dimension=embedder.dimension,
        chunker=CHUNKER,
        backend=WRITE_TO,
    )
    for doc_id, text in docs.items():
        extra = (metadata or {}).get(doc_id, {})
        article = Article(
            doc_id=doc_id,
            text=text,
            title=doc_id.upper(),
            metadata={"lang": "en", "n": len(text), **extra},
        )
        chunks = [Chunk(doc_id, 0, 0, len(text), text)]
        writer.upsert(
            article,
            content_hash=doc_id,
            origin=f"/x/{doc_id}",
            chunks=chunks,
            vectors=embedder.encode([text]),
        )
    if commit:
        writer.commit()
    return writer


def test_search_and_filters(tmp_path: Path, embedder: Embedder) -> None:
    _write(
        tmp_path, embedder, {"cats": "Cats purr and chase mice.", "oil": "Oil prices rose sharply."}
    )
    with Index.open(tmp_path) as index:
        q = embedder.encode_query("petroleum price increase")
        hits = index.search(q, 2)
        assert [h.passage.doc_id for h in hits] == ["oil", "cats"]
        assert hits[0].score > hits[1].score
        only_cats = index.search(q, 2, {"doc_id": "cats"})
        assert [h.passage.doc_id for h in only_cats] == ["cats"]
        assert index.search(q, 2, {"lang": "en"})[0].passage.doc_id == "oil"
        assert index.search(q, 2, {"lang": "fr"}) == []
        assert index.search(q, 2, {"title": "CATS"})[0].passage.doc_id == "cats"
        assert [h.passage.doc_id for h in index.search(q, 2, {"n": 25})] == ["cats"]
        assert index.search(q, 2, {"n": "25"}) == []  # typed, as the JSON metadata is
        doc = index.document("oil")
        assert doc is not None and doc.text == "Oil prices rose sharply."


def test_filters_match_the_same_documents_on_every_backend(
    tmp_path: Path, embedder: Embedder
) -> None:
    # Qdrant evaluates filters on payloads, FAISS in SQLite: the edge cases of
    # SQLite's comparison (numbers by value, true = 1, lists as JSON text, keys
    # that are no key path) must come out the same.
    docs = {"a": "Apples grow on trees.", "b": "Bananas grow in bunches."}
    metadata: dict[str, dict[str, object]] = {
        "a": {"score": 2.0, "flag": True, "tags": ["x", "y"], "a.b": "dotted", "cat": "fruit"},
        "b": {"score": 3, "flag": False, "tags": "x", "a.b": "other", "cat": "fruit"},
    }
    _write(tmp_path, embedder, docs, metadata=metadata)
    q = embedder.encode_query("fruit")

    def found(filters: dict[str, object]) -> set[str]:
        with Index.open(tmp_path) as index:
            return {h.passage.doc_id for h in index.search(q, 5, filters)}

    assert found({"score": 2}) == {"a"}
    assert found({"score": 3.0}) == {"b"}
    assert found({"flag": True}) == {"a"} and found({"flag": 0}) == {"b"}
    assert found({"tags": "x"}) == {"b"}  # a list is not searched element-wise
    assert found({"tags": '["x","y"]'}) == {"a"}
    assert found({"a.b": "dotted"}) == {"a"}
    assert found({"a.b": "dotted", "cat": "fruit"}) == {"a"}
    assert found({"cat": "fruit"}) == {"a", "b"}
    assert found({"cat": "fruit", "doc_id": "b"}) == {"b"}
    assert found({"missing": "x"}) == set()


def test_uncommitted_writer_leaves_previous_generation_live(
    tmp_path: Path, embedder: Embedder
) -> None:
    _write(tmp_path, embedder, {"a": "Alpha text about apples."})
    live = (tmp_path / CURRENT).read_text()
    # A writer that never commits stands for a crash mid-ingest.
    crashed = _write(tmp_path, embedder, {"b": "Beta text about bananas."}, commit=False)
    crashed._release()  # the process died: its lock is gone, its folder stays
    assert (tmp_path / CURRENT).read_text() == live
    with Index.open(tmp_path) as index:
        assert index.document_count == 1 and index.document("b") is None
    # The next writer cleans up the unfinished generation and commits normally.
    _write(tmp_path, embedder, {"c": "Gamma text about cherries."})
    assert not crashed.generation.exists()
    with Index.open(tmp_path) as index:
        assert index.document("a") is not None and index.document("c") is not None


def test_delete_removes_vectors_and_rows(tmp_path: Path, embedder: Embedder) -> None:
    _write(tmp_path, embedder, {"a": "Alpha.", "b": "Beta."})
    w = IndexWriter(
        tmp_path,
        embedder=embedder.name,
        dimension=embedder.dimension,
        chunker=CHUNKER,
        backend=WRITE_TO,
    )
    assert w.delete("a") == 1
    m = w.commit()
    assert (m.documents, m.chunks) == (1, 1)
    with Index.open(tmp_path) as index:
        assert [h.passage.doc_id for h in index.search(embedder.encode_query("alpha"), 5)] == ["b"]


def test_refuses_another_embedder(tmp_path: Path, embedder: Embedder) -> None:
    _write(tmp_path, embedder, {"a": "Alpha."})
    with pytest.raises(IndexUnavailable, match="refusing to mix"):
        IndexWriter(
            tmp_path, embedder="other-model", dimension=768, chunker=CHUNKER, backend=WRITE_TO
        )


def test_one_writer_at_a_time(tmp_path: Path, embedder: Embedder) -> None:
    first = IndexWriter(
        tmp_path,
        embedder=embedder.name,
        dimension=embedder.dimension,
        chunker=CHUNKER,
        backend=WRITE_TO,
    )
    with pytest.raises(IndexUnavailable, match="another ingest"):
        IndexWriter(
            tmp_path,
            embedder=embedder.name,
            dimension=embedder.dimension,
            chunker=CHUNKER,
            backend=WRITE_TO,
        )
    first.abort()


def test_clear_errors_for_missing_and_damaged(tmp_path: Path, embedder: Embedder) -> None:
    with pytest.raises(IndexUnavailable, match="citeline ingest"):
        Index.open(tmp_path / "nope")
    with pytest.raises(IndexUnavailable, match="not a Citeline index"):
        Index.open(tmp_path)
    _write(tmp_path, embedder, {"a": "Alpha."})
    gen = tmp_path / (tmp_path / CURRENT).read_text().strip()
    manifest = Manifest.load(gen / MANIFEST)
    if manifest.vectors["kind"] == "qdrant":
        _drop_collection(manifest)
        with pytest.raises(IndexUnavailable, match=r"has no collection .*CITELINE_QDRANT_URL"):
            Index.open(tmp_path)
    else:
        (gen / "vectors.faiss").write_bytes(b"garbage")
        with pytest.raises(IndexUnavailable, match=r"vectors\.faiss"):
            Index.open(tmp_path)
    (tmp_path / CURRENT).write_text("gen-missing\n")
    with pytest.raises(IndexUnavailable, match="gen-missing"):
        Index.open(tmp_path)


def test_vector_count_must_match(tmp_path: Path, embedder: Embedder) -> None:
    w = IndexWriter(
        tmp_path,
        embedder=embedder.name,
        dimension=embedder.dimension,
        chunker=CHUNKER,
        backend=WRITE_TO,
    )
    with pytest.raises(ValueError, match=r"one vector per chunk"):
        w.upsert(
            Article("a", "x"),
            content_hash="h",
            origin="o",
            chunks=[Chunk("a", 0, 0, 1, "x")],
            vectors=np.zeros((2, embedder.dimension), np.float32),
        )
    w.abort()


def _drop_collection(manifest: Manifest) -> None:
    from index.qdrant_store import Location, acquire, release

    location = Location(path=Path(manifest.vectors["path"]))
    acquire(location).client.delete_collection(manifest.vectors["collection"])
    release(location)
