"""Incremental ingest with the real model and a real FAISS index."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.embedder import Embedder
from index.store import Index
from index.vector_store import BackendConfig
from ingest.pipeline import Ingestor
from tests.conftest import SEED_ARTICLE, require_shared

ARTICLES = {
    "solar.txt": "Solar Farms Expand\n\nBy Ana Ruiz\n\nThe desert solar farm doubled its "
    "output this year. Engineers added tracking panels that follow the sun.\n\n"
    "Local towns now buy the power.",
    "chess.md": "# Chess Olympiad Ends\n\nThe national team won gold at the chess olympiad after a "
    "tense final round. The captain praised the young players.",
    "rivers.html": "<html><head><title>River Cleanup</title></head><body><nav>Home | News</nav>"
    "<article><h1>River Cleanup</h1><p>Volunteers removed two tonnes of plastic from the river."
    "</p><p>The city will fund more bins.</p></article><footer>Copyright</footer></body></html>",
}


class CountingEmbedder:
    """The real embedder, counting what it is asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self.name, self.dimension, self.backend = inner.name, inner.dimension, inner.backend
        self.count_wordpieces = inner.count_wordpieces
        self.embedded: list[str] = []

    def encode(self, texts: list[str], **kw: object) -> np.ndarray:
        self.embedded.extend(texts)
        return self._inner.encode(texts)

    def encode_query(self, text: str) -> np.ndarray:
        return self._inner.encode_query(text)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _top_doc(index_dir: Path, embedder: Embedder, query: str) -> list[str]:
    with Index.open(index_dir) as index:
        return [h.passage.doc_id for h in index.search(embedder.encode_query(query), 3)]


def test_incremental_reingest(
    tmp_path: Path, corpus: Path, embedder: Embedder, backend: BackendConfig
) -> None:  # FAISS and Qdrant
    counting = CountingEmbedder(embedder)
    index_dir = tmp_path / "index"
    ingest = Ingestor(counting, index_dir, backend=backend)  # type: ignore[arg-type]

    first = ingest.run([corpus])
    assert (first.added, first.updated, first.unchanged, first.removed) == (3, 0, 0, 0)
    assert first.chunks_embedded == len(counting.embedded) > 0
    assert _top_doc(index_dir, embedder, "chess tournament gold medal")[0] == "chess.md"

    counting.embedded.clear()
    again = ingest.run([corpus])
    assert (again.added, again.updated, again.unchanged, again.removed) == (0, 0, 3, 0)
    assert counting.embedded == [] and not again.committed

    (corpus / "solar.txt").write_text(
        ARTICLES["solar.txt"] + "\n\nA wind farm opens next spring.", encoding="utf-8"
    )
    edited = ingest.run([corpus])
    assert (edited.added, edited.updated, edited.unchanged) == (0, 1, 2)
    assert counting.embedded and all(
        "chess" not in t and "River" not in t for t in counting.embedded
    )
    with Index.open(index_dir) as index:
        doc = index.document("solar.txt")
        assert doc is not None and "wind farm" in doc.text
        assert index.document_count == 3

    (corpus / "chess.md").unlink()
    removed = ingest.run([corpus])
    assert removed.removed == 1 and removed.documents == 2
    assert "chess.md" not in _top_doc(index_dir, embedder, "chess tournament gold medal")


def test_other_folders_are_kept_and_no_duplicates(
    tmp_path: Path, corpus: Path, embedder: Embedder, backend: BackendConfig
) -> None:  # FAISS and Qdrant
    other = tmp_path / "other"
    other.mkdir()
    (other / "bees.txt").write_text("Bees in Decline\n\nBee colonies shrank again this winter.")
    index_dir = tmp_path / "index"
    ingest = Ingestor(embedder, index_dir, backend=backend)
    ingest.run([corpus])
    ingest.run([other])  # a different folder: the first one's articles stay
    with Index.open(index_dir) as index:
        assert index.document_count == 4
    # The same files reached through their parent folder get new ids; the old ones go.
    summary = ingest.run([tmp_path])
    with Index.open(index_dir) as index:
        assert index.document_count == 4
        assert index.document("articles/solar.txt") is not None
        assert index.document("solar.txt") is None
    assert summary.removed == 4


def test_bad_files_are_reported_and_skipped(
    tmp_path: Path, corpus: Path, embedder: Embedder
) -> None:
    index_dir = tmp_path / "index"
    Ingestor(embedder, index_dir).run([corpus])
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00" * 50)
    (corpus / "empty.md").write_text("   \n")
    (corpus / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me".encode("latin-1"))
    (corpus / "new.txt").write_text("Tea Harvest\n\nThe tea harvest started early in the hills.")
    summary = Ingestor(embedder, index_dir).run([corpus])
    failed = {Path(f.source).name: f.reason for f in summary.failed}
    assert set(failed) == {"binary.txt", "empty.md", "latin1.txt"}
    assert "binary" in failed["binary.txt"] and "UTF-8" in failed["latin1.txt"]
    assert (summary.added, summary.unchanged, summary.removed) == (1, 3, 0)
    with Index.open(index_dir) as index:
        assert index.document_count == 4


def test_cli_exits_nonzero_when_nothing_is_readable(tmp_path: Path, seed_index: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.txt").write_bytes(b"\x00\x00")
    target = tmp_path / "copy"
    shutil.copytree(seed_index, target)
    before = sorted(p.name for p in target.iterdir())
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "citeline.cli",
            "ingest",
            str(bad),
            "--index",
            str(target),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1
    assert "no article could be read" in run.stderr and "binary" in run.stderr
    assert sorted(p.name for p in target.iterdir()) == before
    with Index.open(target) as index:
        assert index.document_count == 1


def test_cli_ingest_prints_summary_and_writes_metrics(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "citeline.cli",
            "ingest",
            str(require_shared(SEED_ARTICLE).parent),
            "--index",
            str(tmp_path / "i"),
            "--json",
            "--no-progress",
            "--metrics-file",
            str(tmp_path / "ingest.prom"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert '"added": 1' in run.stdout and '"chunks_embedded"' in run.stdout
    # the same run's counters, for node_exporter's textfile collector
    prom = (tmp_path / "ingest.prom").read_text()
    assert 'citeline_ingest_documents_total{outcome="added"} 1.0' in prom
