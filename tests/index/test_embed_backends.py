"""Embedder runtimes (ONNX Runtime, OpenVINO fp32 and bf16) on a local export of the
bundled model.

Everything here is real: the packaged MiniLM, torch.onnx's exporter, both runtimes,
real FAISS indexes. The model is exported once per test session into a temporary
folder; the test of a damaged export pays for one more export (~30 s).
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index import embed_runtime as rt
from index.agreement import MIN_AGREEMENT, check_backend, vector_agreement
from index.embedder import Embedder, EmbedderConfig, normalise_query
from index.models import Article, Chunk
from index.store import Index, IndexUnavailable, IndexWriter
from ingest.pipeline import Ingestor
from tests.conftest import SEED_DIR, require_shared

BBC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bbc" / "corpus.jsonl"


def bbc_passages(n: int) -> list[str]:
    """Real news text: the first ``n`` BBC articles, cut to ~200 tokens as ingest does."""
    texts = []
    with require_shared(BBC).open(encoding="utf-8") as fh:
        for line in fh:
            texts.append(json.loads(line)["text"][:1100])
            if len(texts) == n:
                break
    return texts


@pytest.fixture(scope="session")
def openvino_embedder(export_cache: Path, onnx_embedder: Embedder) -> Embedder:
    e = Embedder(config=EmbedderConfig(backend="openvino", threads=1, cache_dir=export_cache))
    assert e.backend == "openvino"
    return e


@pytest.mark.parametrize("which", ["onnx", "openvino"])
def test_runtime_vectors_equal_torch_on_real_text(
    which: str, embedder: Embedder, onnx_embedder: Embedder, openvino_embedder: Embedder
) -> None:
    runtime = {"onnx": onnx_embedder, "openvino": openvino_embedder}[which]
    texts = [
        *bbc_passages(40),
        "",
        "What did Gazprom and SOCAR sign?",
        # past the 256 word pieces the model reads: both cut it the same way
        "The ministers met in Baku to sign the agreement. " * 60,
    ]
    want = embedder.encode(texts)
    got = runtime.encode(texts)
    assert got.shape == want.shape == (len(texts), 384) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=2e-6)
    assert float(np.min(np.sum(got * want, axis=1))) >= 0.9999
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # One query through the single-text path too.
    q = "Which companies agreed to work together?"
    np.testing.assert_allclose(runtime.encode_query(q), embedder.encode_query(q), atol=2e-6)


@pytest.fixture(scope="session")
def bf16_embedder(export_cache: Path, onnx_embedder: Embedder) -> Embedder:
    """As ``citeline ingest`` runs it by default: bf16, parallel streams, batches of 8
    here so that a few dozen texts make several batches in flight."""
    config = EmbedderConfig(
        backend="openvino-bf16", cache_dir=export_cache, throughput=True, batch_size=8
    )
    e = Embedder(config=config)
    assert e.backend == "openvino-bf16"
    return e


def _cpu_has_bf16() -> bool:
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def test_bf16_vectors_stay_within_the_bounds_on_real_text(
    embedder: Embedder, openvino_embedder: Embedder, bf16_embedder: Embedder
) -> None:
    texts = [
        *bbc_passages(40),
        "",
        "What did Gazprom and SOCAR sign?",
        "The ministers met in Baku to sign the agreement. " * 60,
    ]
    want = embedder.encode(texts)
    got = bf16_embedder.encode(texts)
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cos = np.sum(got * want, axis=1)
    # The fp32 bound holds on average, and every vector clears the agreement an
    # index needs to be searched by an fp32 backend with a wide margin.
    assert float(cos.mean()) >= 0.9999
    assert float(cos.min()) >= 0.9995 > MIN_AGREEMENT
    q = "Which companies agreed to work together?"
    assert float(bf16_embedder.encode_query(q) @ embedder.encode_query(q)) >= 0.9995
    # The streams path puts every vector back in its text's place: one text at a time
    # through the plain path gives the same vectors.
    one_by_one = np.stack([bf16_embedder.encode_query(t) for t in texts])
    np.testing.assert_allclose(got, one_by_one, atol=2e-3)
    assert float(np.min(np.sum(got * one_by_one, axis=1))) >= 0.9999
    if _cpu_has_bf16():
        # It really computes in bf16 (not f32 under another name): its vectors differ
        # from OpenVINO's own f32 ones far beyond fp32 rounding.
        drift = np.abs(got - openvino_embedder.encode(texts)).max()
        assert drift > 1e-4, drift


def test_a_failure_inside_the_streams_reaches_the_caller(bf16_embedder: Embedder) -> None:
    runner = bf16_embedder._runner
    batches = [bf16_embedder._arrays([t]) for t in bbc_passages(3)]
    seen: list[int] = []

    def done(n: int, features: object, hidden: np.ndarray) -> None:
        seen.append(n)
        assert hidden.shape[-1] == 384
        if n == 1:
            raise ValueError("pooling failed")

    with pytest.raises(ValueError, match="pooling failed"):
        runner.run_each(iter(batches), done)
    assert 1 in seen


def test_an_index_ingested_in_bf16_is_served_by_onnx_with_the_same_results(
    tmp_path: Path, embedder: Embedder, onnx_embedder: Embedder, bf16_embedder: Embedder
) -> None:
    """The defaults' pairing: ingest with openvino-bf16, serve with onnx. The server's
    agreement check passes and the top results equal those of an all-torch index."""
    from answer.searcher import Searcher

    source = bbc_source(tmp_path, 40)
    built = {}
    for name, e in (("bf16", bf16_embedder), ("torch", embedder)):
        root = tmp_path / name
        assert Ingestor(e, root).run(source).committed
        built[name] = root
    with Index.open(built["bf16"]) as index:
        assert index.manifest.embed_backend == "openvino-bf16"
        agreement = check_backend(index, "onnx", onnx_embedder.encode)
        assert agreement is not None and agreement >= 0.9995
    questions = [
        "What did the chancellor say about the economy?",
        "Which company reported higher profits?",
        "football club manager sacked",
        "new mobile phone technology",
    ]
    served = Searcher.open(built["bf16"], embedder=onnx_embedder, mode="dense")
    baseline = Searcher.open(built["torch"], embedder=embedder, mode="dense")
    try:
        for q in questions:
            got = [h.passage.text for h in served.search(q, 10)]
            want = [h.passage.text for h in baseline.search(q, 10)]
            assert len(got) == 10
            # Same passages; near-ties (score gaps under bf16's ~3e-5) may swap places.
            assert len(set(got) & set(want)) >= 9, q
            assert got[0] == want[0], q
    finally:
        served.index.close()
        baseline.index.close()


def test_batches_sorted_by_word_pieces_give_sentence_transformers_vectors(
    embedder: Embedder, bf16_embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """encode cuts length-sorted batches from windows of tokenized texts and puts every
    vector back in its place: the same vectors as sentence-transformers' own encode
    (which sorts by characters), here over several windows and batches."""
    import index.embedder as embedder_module

    texts = [*bbc_passages(12), "", "a", "Short one.", "word " * 400, *bbc_passages(3)]
    texts = [t[: 50 + 90 * (n % 7)] for n, t in enumerate(texts)]  # mixed lengths
    monkeypatch.setattr(embedder_module, "SORT_WINDOW", 7)
    monkeypatch.setattr(embedder, "batch_size", 3)
    want = embedder._encode_torch(texts)  # sentence-transformers' encode
    batches = list(embedder._length_batches(texts))
    assert sorted(i for rows, _ in batches for i in rows) == list(range(len(texts)))
    for rows, arrays in batches:  # each batch is as wide as its longest text, no wider
        assert arrays["attention_mask"][:, -1].any() and len(rows) <= 3
    np.testing.assert_allclose(embedder.encode(texts), want, atol=1e-6)
    monkeypatch.setattr(bf16_embedder, "batch_size", 3)
    got = bf16_embedder.encode(texts)
    assert float(np.min(np.sum(got * want, axis=1))) >= 0.9995


def test_the_export_is_reused_and_its_hash_recorded(
    export_cache: Path, onnx_embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    folder = rt.export_folder(export_cache, onnx_embedder.path)
    model, record = folder / rt.EXPORT_NAME, folder / rt.RECORD_NAME
    assert json.loads(record.read_text())["sha256"] == rt.sha256_of(model)
    before = model.stat().st_mtime_ns
    with caplog.at_level(logging.WARNING, logger="citeline.embedder"):
        again = Embedder(config=replace(onnx_embedder.config, cache_dir=export_cache))
    assert again.backend == "onnx"
    assert model.stat().st_mtime_ns == before, "a valid export was written again"
    assert not [r for r in caplog.records if "export" in r.getMessage()]


def test_a_damaged_export_is_detected_and_exported_again(
    export_cache: Path, onnx_embedder: Embedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = rt.export_folder(export_cache, onnx_embedder.path)
    cache = tmp_path / "cache"
    folder = rt.export_folder(cache, onnx_embedder.path)
    shutil.copytree(source, folder)
    model = folder / rt.EXPORT_NAME
    with model.open("r+b") as fh:  # flip bytes inside the weights
        fh.seek(model.stat().st_size // 2)
        fh.write(b"\x00\xff" * 64)
    damaged = rt.sha256_of(model)
    with caplog.at_level(logging.WARNING, logger="citeline.embedder"):
        e = Embedder(config=EmbedderConfig(backend="onnx", threads=1, cache_dir=cache))
    assert any("does not match the sha256" in r.getMessage() for r in caplog.records)
    assert e.backend == "onnx"
    assert rt.sha256_of(model) != damaged
    assert json.loads((folder / rt.RECORD_NAME).read_text())["sha256"] == rt.sha256_of(model)
    text = bbc_passages(1)
    np.testing.assert_allclose(e.encode(text), onnx_embedder.encode(text), atol=2e-6)


def test_an_export_that_cannot_be_written_falls_back_to_torch_with_a_warning(
    tmp_path: Path, embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger="citeline.embedder"):
        e = Embedder(config=EmbedderConfig(backend="openvino", cache_dir=blocker))
    assert e.backend == "torch"
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "openvino backend is unavailable" in warning and "falling back to torch" in warning
    text = ["Gazprom and SOCAR signed a strategic partnership."]
    np.testing.assert_allclose(e.encode(text), embedder.encode(text), atol=1e-6)


def test_query_cache_counts_hits_for_the_same_normalised_text(export_cache: Path) -> None:
    e = Embedder(
        config=EmbedderConfig(backend="onnx", threads=1, cache_dir=export_cache, query_cache=2)
    )
    first = e.encode_query("What did Gazprom and SOCAR sign?")
    assert e.query_cache_info() == (0, 1, 1, 2)
    again = e.encode_query("  what did GAZPROM and socar\tsign? ")
    assert e.query_cache_info() == (1, 1, 1, 2)
    np.testing.assert_array_equal(first, again)
    # The cached vector is the one the text really gets (the model ignores case and spacing).
    np.testing.assert_allclose(
        again, e.encode(["  what did GAZPROM and socar\tsign? "])[0], atol=2e-6
    )
    again[:] = 0  # callers own their copy
    assert float(np.linalg.norm(e.encode_query("What did Gazprom and SOCAR sign?"))) > 0.99
    e.encode_query("second question")
    e.encode_query("third question")  # bounded: the oldest entry goes
    hits, misses, size, capacity = e.query_cache_info()
    assert (size, capacity) == (2, 2) and hits == 2 and misses == 3
    off = Embedder(config=EmbedderConfig(query_cache=0))
    off.encode_query("x")
    assert off.query_cache_info() == (0, 0, 0, 0)


def test_normalise_query_keeps_case_for_cased_models() -> None:
    assert normalise_query(" A  b\n", lowercase=True) == "a b"
    assert normalise_query(" A  b\n", lowercase=False) == "A b"


def test_an_index_built_with_torch_is_searched_with_onnx_after_measuring_agreement(
    seed_index: Path, onnx_embedder: Embedder
) -> None:
    from answer.searcher import Searcher

    with Index.open(seed_index) as index:
        assert index.manifest.embed_backend == "torch"
        assert vector_agreement(index, onnx_embedder.encode) >= 0.9999
    searcher = Searcher.open(seed_index, embedder=onnx_embedder, mode="dense")
    try:
        hits = searcher.search("What did Gazprom and SOCAR sign?", 3)
        assert hits and "SOCAR" in hits[0].passage.text
    finally:
        searcher.index.close()


def _index_with_vectors_of_other_texts(root: Path, embedder: Embedder, backend: str) -> None:
    """An index whose stored vectors disagree with the model: each passage gets the
    vector of another passage. This stands in for a backend whose vectors differ
    (an int8 model; none is offered, so none can produce it here)."""
    texts = bbc_passages(6)
    vectors = embedder.encode(texts)[::-1].copy()
    with IndexWriter(
        root,
        embedder=embedder.name,
        dimension=embedder.dimension,
        chunker={},
        embed_backend=backend,
    ) as writer:
        for n, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
            doc = f"bbc-{n}"
            writer.upsert(
                Article(doc_id=doc, title=None, text=text),
                content_hash=str(n),
                origin="bbc",
                chunks=[Chunk(doc_id=doc, ordinal=0, start=0, end=len(text), text=text)],
                vectors=vector[None, :],
            )
        writer.commit()


def test_an_index_whose_backend_disagrees_is_refused_with_a_clear_message(
    tmp_path: Path, embedder: Embedder, onnx_embedder: Embedder
) -> None:
    from answer.searcher import Searcher

    root = tmp_path / "index"
    _index_with_vectors_of_other_texts(root, embedder, backend="openvino")
    with Index.open(root) as index:
        assert vector_agreement(index, onnx_embedder.encode) < MIN_AGREEMENT
        # The same backend is not measured: nothing to compare it with.
        assert check_backend(index, "openvino", onnx_embedder.encode) is None
    with pytest.raises(IndexUnavailable) as refused:
        Searcher.open(root, embedder=onnx_embedder, mode="dense")
    message = str(refused.value)
    assert "openvino backend" in message and "CITELINE_EMBED_BACKEND=openvino" in message
    # Ingest refuses to add vectors of a disagreeing backend to it, too.
    with pytest.raises(IndexUnavailable, match="lowest cosine"):
        Ingestor(onnx_embedder, root).run([require_shared(SEED_DIR)])


def test_ingest_records_the_backend_in_the_manifest(
    tmp_path: Path, onnx_embedder: Embedder, embedder: Embedder
) -> None:
    root = tmp_path / "index"
    Ingestor(onnx_embedder, root).run([require_shared(SEED_DIR)])
    with Index.open(root) as index:
        assert index.manifest.embed_backend == "onnx"
    # torch agrees with onnx, so it may add to the same index; the manifest follows it.
    summary = Ingestor(embedder, root).run([require_shared(SEED_DIR), *bbc_source(tmp_path)])
    assert summary.committed
    with Index.open(root) as index:
        assert index.manifest.embed_backend == "torch"


def bbc_source(tmp_path: Path, n: int = 3) -> list[Path]:
    path = tmp_path / "bbc.jsonl"
    with require_shared(BBC).open(encoding="utf-8") as fh, path.open("w") as out:
        for _, line in zip(range(n), fh, strict=False):
            out.write(line)
    return [path]
