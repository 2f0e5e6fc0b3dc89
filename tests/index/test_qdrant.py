"""What only the Qdrant backend has: collections per generation, migration
between backends without re-embedding, and clear errors when Qdrant is not
where the index says. Qdrant runs in qdrant-client's local mode (the real
client and engine, in process); no Qdrant server can run on these machines.
The behaviour both backends share is tested once for both (``backend`` fixture)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from citeline.cli import app
from citeline.settings import BackendSettings
from index.embedder import Embedder
from index.models import Article, Chunk
from index.qdrant_store import Location, acquire, release
from index.retrieval import Retriever
from index.store import CURRENT, KEEP_GENERATIONS, MANIFEST, Index, IndexUnavailable, IndexWriter
from index.vector_store import BackendConfig
from ingest.chunker import ChunkerSettings
from ingest.pipeline import Ingestor

ARTICLES = {
    "port.txt": "Port Strike Ends\n\nDock workers returned to the port on Monday after a "
    "two-week strike over pay. Shipping companies said cargo backlogs would clear within days. "
    "The union accepted a raise of four percent. The Kessendorf crane was back in service.",
    "bank.txt": "Central Bank Holds Rates\n\nThe central bank kept its interest rate unchanged, "
    "citing slowing inflation. Mortgage costs will stay flat for now.",
    "garden.txt": "Community Garden Blooms\n\nVolunteers planted tulips and vegetables in the "
    "old rail yard. Neighbours share the harvest every Saturday.",
}
CHUNKS = ChunkerSettings(max_tokens=30, overlap_sentences=0)
QUERIES = ["dock workers strike pay", "monetary policy decision", "Kessendorf", "tulips"]


@pytest.fixture
def qdrant_path(tmp_path: Path) -> Path:
    return tmp_path / "qdrant"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, qdrant_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """Start from FAISS; tests switch with CITELINE_INDEX_BACKEND as users would."""
    monkeypatch.setenv("CITELINE_INDEX_BACKEND", "faiss")
    monkeypatch.setenv("CITELINE_QDRANT_PATH", str(qdrant_path))
    monkeypatch.delenv("CITELINE_QDRANT_URL", raising=False)
    yield monkeypatch


def configured() -> BackendConfig:
    """The backend the CITELINE_* variables name, read as an entry point reads them."""
    return BackendConfig.from_settings(BackendSettings())


def _ingest(tmp_path: Path, embedder: Embedder) -> Path:
    folder = tmp_path / "articles"
    folder.mkdir(exist_ok=True)
    for name, text in ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    target = tmp_path / "index"
    Ingestor(embedder, target, CHUNKS, backend=configured()).run([folder])
    return target


Results = dict[tuple[str, str, str], list[tuple[int, float]]]


def _results(index_dir: Path, vectors: dict[str, np.ndarray]) -> Results:
    out: Results = {}
    with Index.open(index_dir) as index:
        retriever = Retriever(index)
        for query, vector in vectors.items():
            for mode in ("dense", "bm25", "hybrid"):
                for name, filters in (("all", None), ("bank", {"doc_id": "bank.txt"})):
                    hits = retriever.search(query, vector, 5, filters, mode)
                    out[(query, mode, name)] = [(h.passage.chunk_id, h.score) for h in hits]
    return out


def _same(a: Results, b: Results) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert [i for i, _ in a[key]] == [i for i, _ in b[key]], key
        np.testing.assert_allclose([s for _, s in a[key]], [s for _, s in b[key]], atol=1e-5)


def _live_manifest(index_dir: Path) -> dict[str, object]:
    import json

    gen = (index_dir / CURRENT).read_text().strip()
    return dict(json.loads((index_dir / gen / MANIFEST).read_text()))


def _collections(qdrant_path: Path) -> set[str]:
    location = Location(path=qdrant_path.resolve())
    try:
        return {c.name for c in acquire(location).client.get_collections().collections}
    finally:
        release(location)


def test_migrate_copies_vectors_without_the_model(
    tmp_path: Path, embedder: Embedder, env: pytest.MonkeyPatch, qdrant_path: Path
) -> None:
    index_dir = _ingest(tmp_path, embedder)
    vectors = {q: embedder.encode_query(q) for q in QUERIES}
    before = _results(index_dir, vectors)
    assert _live_manifest(index_dir)["vectors"] == {"kind": "flat"}

    # From here on the model must not be touched: any use of it fails the test.
    calls: list[str] = []

    def refuse(name: str) -> object:
        def fail(*args: object, **kwargs: object) -> object:
            calls.append(name)
            raise AssertionError(f"migrate used the embedder ({name})")

        return fail

    for name in ("__init__", "encode", "encode_query"):
        env.setattr(Embedder, name, refuse(name))

    runner = CliRunner()
    moved = runner.invoke(app, ["migrate", "--to", "qdrant", "--index", str(index_dir)])
    assert moved.exit_code == 0, moved.output
    assert "Nothing was re-embedded" in moved.output
    manifest = _live_manifest(index_dir)
    vectors_entry = manifest["vectors"]
    assert isinstance(vectors_entry, dict)
    assert vectors_entry["kind"] == "qdrant" and vectors_entry["path"] == str(qdrant_path.resolve())
    assert vectors_entry["collection"] == f"citeline-{manifest['generation']}"
    assert not (index_dir / str(manifest["generation"]) / "vectors.faiss").exists()
    assert vectors_entry["collection"] in _collections(qdrant_path)
    _same(before, _results(index_dir, vectors))

    again = runner.invoke(app, ["migrate", "--to", "qdrant", "--index", str(index_dir)])
    assert again.exit_code == 0 and "nothing to do" in again.output

    back = runner.invoke(app, ["migrate", "--to", "faiss", "--index", str(index_dir), "--json"])
    assert back.exit_code == 0, back.output
    assert _live_manifest(index_dir)["vectors"] == {"kind": "flat"}
    _same(before, _results(index_dir, vectors))
    assert calls == []

    bad = runner.invoke(app, ["migrate", "--to", "milvus", "--index", str(index_dir)])
    assert bad.exit_code == 2 and "--to must be one of faiss, qdrant" in bad.output
    missing = runner.invoke(app, ["migrate", "--to", "qdrant", "--index", str(tmp_path / "no")])
    assert missing.exit_code == 2 and "citeline ingest" in missing.output


def test_ingest_with_the_other_backend_moves_the_vectors(
    tmp_path: Path, embedder: Embedder, env: pytest.MonkeyPatch
) -> None:
    index_dir = _ingest(tmp_path, embedder)
    vectors = {q: embedder.encode_query(q) for q in QUERIES}
    before = _results(index_dir, vectors)
    env.setenv("CITELINE_INDEX_BACKEND", "qdrant")
    summary = Ingestor(embedder, index_dir, CHUNKS, backend=configured()).run(
        [tmp_path / "articles"]
    )
    # Nothing changed in the articles, yet the switch is committed, without embedding.
    assert summary.committed and summary.unchanged == 3 and summary.chunks_embedded == 0
    assert _live_manifest(index_dir)["vectors"]["kind"] == "qdrant"  # type: ignore[index]
    _same(before, _results(index_dir, vectors))


def _doc(writer: IndexWriter, embedder: Embedder, doc_id: str, text: str) -> None:
    writer.upsert(
        Article(doc_id, text),
        content_hash=text,
        origin=doc_id,
        chunks=[Chunk(doc_id, 0, 0, len(text), text)],
        vectors=embedder.encode([text]),
    )


def test_collections_live_and_die_with_their_generations(
    tmp_path: Path, embedder: Embedder, env: pytest.MonkeyPatch, qdrant_path: Path
) -> None:
    env.setenv("CITELINE_INDEX_BACKEND", "qdrant")
    root = tmp_path / "index"

    def writer() -> IndexWriter:
        return IndexWriter(
            root,
            embedder=embedder.name,
            dimension=embedder.dimension,
            chunker={},
            backend=configured(),
        )

    for n in range(4):
        w = writer()
        _doc(w, embedder, f"d{n}", f"Document number {n} about topic {n}.")
        w.commit()
    gens = sorted(p.name for p in root.glob("gen-*"))
    # Generations named within one second sort by their random suffix, so which
    # old ones go varies (store.py keeps the live one plus the newest by name).
    assert KEEP_GENERATIONS <= len(gens) <= KEEP_GENERATIONS + 1
    assert _collections(qdrant_path) == {f"citeline-{g}" for g in gens}

    aborted = writer()
    _doc(aborted, embedder, "x", "An aborted change.")
    aborted.abort()
    assert _collections(qdrant_path) == {f"citeline-{g}" for g in gens}

    # A writer that died mid-ingest leaves its folder and collection; the next one removes both.
    crashed = writer()
    _doc(crashed, embedder, "y", "A crashed change.")
    crashed._release()
    assert f"citeline-{crashed.generation.name}" in _collections(qdrant_path)
    w = writer()
    w.commit()
    assert not crashed.generation.exists()
    assert f"citeline-{crashed.generation.name}" not in _collections(qdrant_path)
    with Index.open(root) as index:
        assert index.document_count == 4 and index.document("y") is None


# qdrant-client warns that it cannot ask the (absent) server for its version.
@pytest.mark.filterwarnings("ignore:Failed to obtain server version")
def test_clear_errors_when_qdrant_is_not_where_the_index_says(
    tmp_path: Path, embedder: Embedder, env: pytest.MonkeyPatch, qdrant_path: Path
) -> None:
    env.setenv("CITELINE_INDEX_BACKEND", "qdrant")
    index_dir = _ingest(tmp_path, embedder)
    elsewhere = BackendConfig(kind="qdrant", path=(tmp_path / "other-qdrant").resolve())
    with pytest.raises(IndexUnavailable) as info:
        Index.open(index_dir, elsewhere)
    message = str(info.value)
    assert f"written to Qdrant at {qdrant_path.resolve()}" in message
    assert "has no collection" in message and "set CITELINE_QDRANT_URL" in message

    closed_port = _closed_port()
    unreachable = BackendConfig(kind="qdrant", url=f"http://127.0.0.1:{closed_port}")
    with pytest.raises(IndexUnavailable, match=r"cannot reach Qdrant at http://127\.0\.0\.1"):
        Index.open(index_dir, unreachable)
    with pytest.raises(IndexUnavailable, match=r"cannot reach Qdrant at http://127\.0\.0\.1"):
        IndexWriter(
            index_dir, embedder=embedder.name, dimension=384, chunker={}, backend=unreachable
        )

    nowhere = BackendConfig(kind="qdrant")
    with pytest.raises(IndexUnavailable, match="needs exactly one of CITELINE_QDRANT_URL"):
        IndexWriter(index_dir, embedder=embedder.name, dimension=384, chunker={}, backend=nowhere)
    # Failed writers leave the index as it was, and unlocked.
    with Index.open(index_dir) as index:
        assert index.document_count == len(ARTICLES)
    IndexWriter(
        index_dir, embedder=embedder.name, dimension=384, chunker={}, backend=configured()
    ).abort()


def _closed_port() -> int:
    from tests.conftest import free_port

    return free_port()  # bound and released: nothing listens there


def test_local_mode_is_one_process_at_a_time(
    tmp_path: Path, embedder: Embedder, env: pytest.MonkeyPatch, qdrant_path: Path
) -> None:
    env.setenv("CITELINE_INDEX_BACKEND", "qdrant")
    index_dir = _ingest(tmp_path, embedder)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from qdrant_client import QdrantClient; "
            f"c = QdrantClient(path={str(qdrant_path)!r}); print('ready', flush=True); "
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"ready"
        with pytest.raises(IndexUnavailable, match="in use by another process"):
            Index.open(index_dir)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    with Index.open(index_dir) as index:  # free again once that process is gone
        assert index.document_count == len(ARTICLES)
