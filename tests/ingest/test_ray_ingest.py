"""Ingest on a real local Ray cluster (real Ray processes, the real model in real
actors) builds the same index as a plain ingest, and the two paths agree on hashes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from index.embedder import Embedder
from index.retrieval import MODES, Retriever
from index.store import Index
from ingest.pipeline import Ingestor, IngestSummary
from ingest.ray_ingest import RayOptions, check_address, ray_cluster, ray_ingestor
from tests.conftest import SEED_ARTICLE, SHARED, require_shared

# Ray Data copies its context with settings it deprecated itself.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")

BBC = SHARED / "data" / "bbc" / "corpus.jsonl"
SHARDS, PER_SHARD = 3, 15
DUPLICATE = "business/001"  # the first BBC record's id
QUERIES = [
    "What did Gazprom and SOCAR sign?",
    "mobile phone sales",
    "election campaign promises",
    "film awards ceremony",
]


@pytest.fixture(scope="session")
def ray_local() -> Iterator[None]:
    # One cluster for the whole session: starting one takes seconds.
    with ray_cluster(RayOptions(num_cpus=2, object_store_mb=256)):
        yield


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """45 BBC articles in three JSONL shards, the seed article, one broken file and
    one record whose id another shard has already."""
    folder = tmp_path_factory.mktemp("ray-corpus") / "articles"
    folder.mkdir()
    with require_shared(BBC).open(encoding="utf-8") as fh:
        lines = [next(fh) for _ in range(SHARDS * PER_SHARD)]
    assert json.loads(lines[0])["_id"] == DUPLICATE
    for k in range(SHARDS):
        (folder / f"bbc-{k}.jsonl").write_text(
            "".join(lines[k * PER_SHARD : (k + 1) * PER_SHARD]), encoding="utf-8"
        )
    shutil.copy(require_shared(SEED_ARTICLE), folder / SEED_ARTICLE.name)
    (folder / "broken.txt").write_bytes(b"\x00\x01\x02 not text \x00" * 20)
    # Read after bbc-0.jsonl, so the first shard's record is kept.
    (folder / "dup.jsonl").write_text(
        json.dumps({"_id": DUPLICATE, "text": "Another text under the same id."}) + "\n",
        encoding="utf-8",
    )
    return folder


@pytest.fixture(scope="module")
def built(
    corpus: Path, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, ray_local: None
) -> dict[str, tuple[Path, IngestSummary]]:
    base = tmp_path_factory.mktemp("ray-indexes")
    plain = Ingestor(embedder, base / "plain").run([corpus])
    on_ray = ray_ingestor(base / "ray").run([corpus])
    return {"plain": (base / "plain", plain), "ray": (base / "ray", on_ray)}


def _snapshot(index_dir: Path) -> dict[str, object]:
    """Everything a reader can see of an index, keyed so two builds can be compared."""
    with Index.open(index_dir) as index:
        ids = sorted(index.doc_ids_matching({}))
        hashes = {}
        chunks = {}
        vectors = {}
        by_doc = index.chunk_ids_of(ids)
        for doc_id in ids:
            doc = index.document(doc_id)
            assert doc is not None
            hashes[doc_id] = doc.content_hash
            passages = index.passages(by_doc[doc_id])
            chunks[doc_id] = [
                (passages[c].start, passages[c].end, passages[c].text) for c in by_doc[doc_id]
            ]
            vectors[doc_id] = index.vectors(by_doc[doc_id])
        return {"ids": ids, "hashes": hashes, "chunks": chunks, "vectors": vectors}


def _results(index_dir: Path, embedder: Embedder) -> dict[tuple[str, str], list[tuple]]:
    out: dict[tuple[str, str], list[tuple]] = {}
    with Index.open(index_dir) as index:
        retriever = Retriever(index)
        for query in QUERIES:
            vector = embedder.encode_query(query)
            for mode in MODES:
                hits = retriever.search(query, vector, 5, mode=mode)
                out[(query, mode)] = [
                    (h.passage.doc_id, h.passage.start, h.passage.end, h.score) for h in hits
                ]
    return out


def test_ray_builds_the_same_index_as_plain(
    built: dict[str, tuple[Path, IngestSummary]], corpus: Path, embedder: Embedder
) -> None:
    (plain_dir, plain), (ray_dir, on_ray) = built["plain"], built["ray"]
    for summary in (plain, on_ray):
        assert (summary.added, summary.updated, summary.removed) == (SHARDS * PER_SHARD + 1, 0, 0)
        assert [(f.source.removeprefix(f"{corpus}/"), f.reason) for f in summary.failed] == [
            ("broken.txt", "binary file (not text); skipped"),
            (
                f"dup.jsonl: {DUPLICATE}",
                "duplicate document id: another input in this run has it; kept the first",
            ),
        ]
        assert summary.committed
    assert (on_ray.documents, on_ray.chunks, on_ray.chunks_embedded) == (
        plain.documents,
        plain.chunks,
        plain.chunks_embedded,
    )

    a, b = _snapshot(plain_dir), _snapshot(ray_dir)
    assert a["ids"] == b["ids"] and SEED_ARTICLE.name in a["ids"]  # type: ignore[operator]
    assert a["hashes"] == b["hashes"]
    assert a["chunks"] == b["chunks"]
    va, vb = a["vectors"], b["vectors"]
    assert isinstance(va, dict) and isinstance(vb, dict)
    for doc_id, vectors in va.items():
        assert vectors.shape == vb[doc_id].shape
        np.testing.assert_allclose(vectors, vb[doc_id], atol=1e-5)

    ra, rb = _results(plain_dir, embedder), _results(ray_dir, embedder)
    for key, hits in ra.items():
        assert [h[:3] for h in hits] == [h[:3] for h in rb[key]], key
        np.testing.assert_allclose([h[3] for h in hits], [h[3] for h in rb[key]], atol=1e-4)
    assert ra[(QUERIES[0], "hybrid")][0][0] == SEED_ARTICLE.name


def test_hashes_agree_both_ways(
    built: dict[str, tuple[Path, IngestSummary]],
    corpus: Path,
    embedder: Embedder,
    tmp_path: Path,
) -> None:
    # An index built on Ray, re-ingested plainly, is unchanged; and the other way round.
    for source, rerun in (("ray", "plain"), ("plain", "ray")):
        copy = tmp_path / f"{source}-then-{rerun}"
        shutil.copytree(built[source][0], copy)
        ingest = Ingestor(embedder, copy) if rerun == "plain" else ray_ingestor(copy)
        again = ingest.run([corpus])
        assert (again.added, again.updated, again.removed) == (0, 0, 0), (source, rerun)
        assert again.unchanged == SHARDS * PER_SHARD + 1
        assert again.chunks_embedded == 0 and not again.committed


@pytest.mark.usefixtures("ray_local")
def test_incremental_rerun_on_ray(corpus: Path, embedder: Embedder, tmp_path: Path) -> None:
    # Its own copy of the corpus: the removal rule compares stored origins with the
    # folders given, so edits must happen where the index was built from.
    folder = tmp_path / "articles"
    shutil.copytree(corpus, folder)
    plain_dir, ray_dir = tmp_path / "plain", tmp_path / "ray"
    Ingestor(embedder, plain_dir).run([folder])
    ray_ingestor(ray_dir).run([folder])

    seed = folder / SEED_ARTICLE.name
    seed.write_text(
        seed.read_text(encoding="utf-8").replace("Gazprom", "Gazprom, the gas company,", 1),
        encoding="utf-8",
    )
    (folder / "bbc-2.jsonl").unlink()
    on_ray = ray_ingestor(ray_dir).run([folder])
    plain = Ingestor(embedder, plain_dir).run([folder])
    for summary in (on_ray, plain):
        assert (summary.added, summary.updated, summary.removed) == (0, 1, PER_SHARD)
        assert summary.unchanged == (SHARDS - 1) * PER_SHARD
        assert summary.committed and summary.documents == (SHARDS - 1) * PER_SHARD + 1
    assert on_ray.chunks_embedded == plain.chunks_embedded > 0

    a, b = _snapshot(plain_dir), _snapshot(ray_dir)
    assert a["ids"] == b["ids"] and a["hashes"] == b["hashes"] and a["chunks"] == b["chunks"]
    with Index.open(ray_dir) as index:
        doc = index.document(SEED_ARTICLE.name)
        assert doc is not None and "the gas company" in doc.text


@pytest.mark.usefixtures("backend")  # written through FAISS and through Qdrant
def test_cli_ingest_on_a_local_cluster(tmp_path: Path) -> None:
    # The command starts (and stops) its own local cluster: real Ray processes.
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "citeline.cli",
            "ingest",
            str(require_shared(SEED_ARTICLE).parent),
            "--index",
            str(tmp_path / "i"),
            "--ray",
            "--json",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert '"added": 1' in run.stdout and '"committed": true' in run.stdout
    with Index.open(tmp_path / "i") as index:
        assert index.document(SEED_ARTICLE.name) is not None


@pytest.mark.parametrize("address", ["docs/", "localhost", "http://x:1"])
def test_a_bad_address_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match="not a Ray address"):
        check_address(address)


def test_cli_refuses_a_bad_address_before_any_work(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "citeline.cli",
            "ingest",
            str(tmp_path),
            "--index",
            str(tmp_path / "i"),
            "--ray-address",
            "articles/",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and "not a Ray address" in run.stderr
    assert not (tmp_path / "i").exists()
