"""The ingest job: read -> clean -> hash -> chunk -> embed -> write, incrementally.

Rules for a re-run (also in README):
- a document whose content hash (text, metadata and chunker settings) is stored
  already is left alone: nothing is re-embedded;
- a changed document replaces its old passages;
- a stored document whose origin file lies under a folder (or is a file) given
  to this run, but which this run did not read, is removed. Documents from
  folders not given to this run stay. A file that fails to read removes nothing.
- web sources (``ingest.web``): a page is fetched conditionally, and a 304 keeps
  the stored copy; an entry that left its feed or sitemap is removed once older
  than the source's ``keep_days``; a page that fails to fetch removes nothing;
- ``articles`` (the API) are upserted, ``delete`` (the API) removes by id.

Where the work runs is pluggable (:class:`Stages`): :class:`LocalStages` reads,
chunks and embeds in this process; ``ingest.ray_ingest`` does the same on a Ray
cluster. Either way the decisions above and every write happen here, in
:meth:`Ingestor.run`, through the same ``IndexWriter`` calls.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from index.models import Article, Chunk, Failure
from index.store import IndexUnavailable, IndexWriter
from index.vector_store import BackendConfig
from ingest.chunker import Chunker, ChunkerSettings
from ingest.fetch import Fetcher
from ingest.readers import DEFAULT_MAX_BYTES, discover, read_file
from ingest.web import WebReader, WebSource

# Chunks embedded per encode call: large enough for the model to sort by length
# and keep its batches full, small enough to bound memory on huge corpora.
EMBED_GROUP = 512

# Called after each file with (files done, files total, chunks embedded so far).
ProgressCallback = Callable[[int, int, int], None]


@dataclass
class IngestSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    # Web sources: pages the server answered 304 for, and HTTP requests sent.
    not_modified: int = 0
    requests: int = 0
    failed: list[Failure] = field(default_factory=list)
    chunks_embedded: int = 0
    documents: int = 0
    chunks: int = 0
    seconds: float = 0.0
    committed: bool = False

    @property
    def read_anything(self) -> bool:
        return self.added + self.updated + self.unchanged > 0

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["failed"] = [asdict(f) for f in self.failed]
        return data


def content_hash(article: Article, pipeline: Mapping[str, object]) -> str:
    payload = json.dumps(
        {"article": asdict(article), "pipeline": pipeline},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# -- the stages' contract -------------------------------------------------------


@dataclass(frozen=True)
class PrepareSpec:
    """What a prepare stage needs to turn a file into hashed, chunked documents."""

    chunker: ChunkerSettings
    # Hashed with every article: changing the chunker or the model re-ingests all.
    pipeline: dict[str, Any]
    max_file_bytes: int = DEFAULT_MAX_BYTES


@dataclass
class PreparedDoc:
    article: Article
    digest: str
    # None when ``digest`` equals the stored hash: an unchanged document is not chunked.
    chunks: list[Chunk] | None = None
    # Set by a stage that embeds in its own workers; otherwise the driver embeds.
    vectors: np.ndarray | None = None


@dataclass
class PreparedFile:
    path: Path
    origin: str  # the resolved path, stored with each document for the removal rule
    failures: list[Failure]
    docs: list[PreparedDoc]


def prepare_doc(
    article: Article, spec: PrepareSpec, chunker: Chunker, stored: Mapping[str, str]
) -> PreparedDoc:
    """Hash one article and chunk it unless the index holds it unchanged."""
    digest = content_hash(article, spec.pipeline)
    if stored.get(article.doc_id) == digest:
        return PreparedDoc(article, digest)
    return PreparedDoc(article, digest, chunker.run(article.doc_id, article.text))


def prepare_file(
    path: Path, root: Path, spec: PrepareSpec, chunker: Chunker, stored: Mapping[str, str]
) -> PreparedFile:
    """Read, clean, hash and chunk one input file (the unit of work of every stage)."""
    result = read_file(path, root, max_bytes=spec.max_file_bytes)
    docs = [prepare_doc(a, spec, chunker, stored) for a in result.articles]
    return PreparedFile(path, str(path.resolve()), result.failures, docs)


class Stages(Protocol):
    """Where reading, chunking and embedding run."""

    def prepare(
        self, files: Sequence[tuple[Path, Path]], stored: Mapping[str, str], spec: PrepareSpec
    ) -> Iterator[PreparedFile]:
        """One PreparedFile per (file, root), in the order given. ``stored`` maps doc
        ids to stored content hashes. Documents may come back embedded already."""
        ...

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for chunks the prepare stage left unembedded."""
        ...


class EmbedderLike(Protocol):
    """What the local stages need of ``index.embedder.Embedder``."""

    name: str
    dimension: int

    @property
    def backend(self) -> str: ...

    def encode(self, texts: list[str]) -> np.ndarray: ...

    def count_wordpieces(self, texts: list[str]) -> list[int]: ...


class LocalStages:
    """Everything in this process, one file after another; embedding is left to the
    driver so it can batch chunks across files (see EMBED_GROUP)."""

    def __init__(self, embedder: EmbedderLike) -> None:
        self.embedder = embedder

    def prepare(
        self, files: Sequence[tuple[Path, Path]], stored: Mapping[str, str], spec: PrepareSpec
    ) -> Iterator[PreparedFile]:
        chunker = Chunker(spec.chunker, wordpieces=self.embedder.count_wordpieces)
        for path, root in files:
            yield prepare_file(path, root, spec, chunker, stored)

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode(texts)


@dataclass(frozen=True)
class ModelInfo:
    """The embedding model's identity, as stored in the index manifest."""

    name: str
    dimension: int
    backend: str = "torch"  # the runtime that embeds (index.embedder.BACKENDS)


# -- the driver -----------------------------------------------------------------


@dataclass
class _Pending:
    doc: PreparedDoc
    origin: str

    @property
    def chunks(self) -> list[Chunk]:
        assert self.doc.chunks is not None
        return self.doc.chunks


class Ingestor:
    """Brings an index directory in line with a set of files and folders.

    ``embedder`` is a loaded ``Embedder`` for the default in-process stages; with
    other ``stages`` a ``ModelInfo`` naming the model the stages embed with is enough.
    """

    def __init__(
        self,
        embedder: EmbedderLike | ModelInfo,
        index_dir: Path,
        chunker_settings: ChunkerSettings | None = None,
        *,
        max_file_bytes: int = DEFAULT_MAX_BYTES,
        stages: Stages | None = None,
        backend: BackendConfig | None = None,
        check_encode: Callable[[list[str]], np.ndarray] | None = None,
    ) -> None:
        """``backend``: where the vectors go (default FAISS files in the index folder).
        ``check_encode`` embeds a few stored passages when the index was built with
        another embedder backend (index/agreement.py); default: the local embedder."""
        # An embedder wrapper that does not say (older code, tests) runs torch.
        embed_backend = getattr(embedder, "backend", "torch")
        self.model = ModelInfo(embedder.name, embedder.dimension, embed_backend)
        self.backend = backend
        self.index_dir = Path(index_dir)
        self.chunker_settings = chunker_settings or ChunkerSettings()
        Chunker(self.chunker_settings)  # reject bad settings before any work
        self.max_file_bytes = max_file_bytes
        if stages is None:
            if isinstance(embedder, ModelInfo):
                raise TypeError("the local stages need a loaded Embedder, not a ModelInfo")
            stages = LocalStages(embedder)
            check_encode = check_encode or embedder.encode
        self.stages = stages
        self.check_encode = check_encode
        self.spec = PrepareSpec(
            chunker=self.chunker_settings,
            pipeline={"chunker": self.chunker_settings.as_dict(), "embedder": self.model.name},
            max_file_bytes=max_file_bytes,
        )

    def _check_backend(self) -> None:
        """New vectors may join old ones of another backend only if the two agree."""
        from index.agreement import check_backend
        from index.store import Index, IndexMissing

        try:
            live = Index.open(self.index_dir, self.backend)
        except IndexMissing:
            return
        except IndexUnavailable:
            return  # the writer reports (or repairs) a damaged index itself
        with live:
            if live.manifest.embedder != self.model.name:
                return  # the writer refuses another model with its own message
            if self.check_encode is None:
                raise IndexUnavailable(
                    f"{self.index_dir} was embedded with the {live.manifest.embed_backend} "
                    f"backend; ingest with that backend (--embed-backend)"
                )
            check_backend(live, self.model.backend, self.check_encode)

    def run(
        self,
        paths: Sequence[Path],
        progress: ProgressCallback | None = None,
        *,
        web: Sequence[WebSource] = (),
        fetcher: Fetcher | None = None,
        articles: Sequence[tuple[Article, str]] = (),
        delete: Sequence[str] = (),
        now: float | None = None,
    ) -> IngestSummary:
        """Bring the index in line with ``paths`` (files and folders), ``web`` sources
        (fetched with ``fetcher``), ready ``articles`` given with their origin (the API),
        and ``delete`` (doc ids to remove), in one commit."""
        started = time.perf_counter()
        summary = IngestSummary()
        files, failures = discover([Path(p) for p in paths]) if paths else ([], [])
        summary.failed.extend(failures)
        self._check_backend()
        with IndexWriter(
            self.index_dir,
            embedder=self.model.name,
            dimension=self.model.dimension,
            chunker=self.chunker_settings.as_dict(),
            backend=self.backend,
            embed_backend=self.model.backend,
        ) as writer:
            stored = writer.document_index()
            hashes = {doc_id: digest for doc_id, (digest, _) in stored.items()}
            batch = _Batch(self, writer, summary, stored)
            incomplete_origins: set[str] = set()
            prepared = self.stages.prepare(files, hashes, self.spec) if files else iter(())
            for n, item in enumerate(prepared, start=1):
                summary.failed.extend(item.failures)
                if item.failures:
                    incomplete_origins.add(item.origin)
                for doc in item.docs:
                    batch.offer(doc, item.origin, f"{item.path}: {doc.article.doc_id}")
                batch.maybe_flush()
                if progress:
                    progress(n, len(files), summary.chunks_embedded + batch.pending_chunks)
            if articles or web:
                chunker = self._chunker()
                for article, origin in articles:
                    batch.offer(prepare_doc(article, self.spec, chunker, hashes), origin, origin)
                if web:
                    if fetcher is None:
                        raise ValueError("web sources need a Fetcher")
                    self._read_web(web, fetcher, batch, chunker, hashes, now)
                    summary.requests = fetcher.requests
            batch.flush()

            scope = _scope(paths)
            for doc_id, (_, origin) in stored.items():
                if doc_id in batch.seen or origin in incomplete_origins:
                    continue
                if _within(origin, scope):
                    writer.delete(doc_id)
                    summary.removed += 1
            for doc_id in delete:
                if doc_id in stored and doc_id not in batch.seen:
                    writer.delete(doc_id)
                    summary.removed += 1

            changed = summary.added + summary.updated + summary.removed > 0
            # An index from an older Citeline lacks the keyword index: rebuild it.
            if changed or writer.needs_upgrade or writer.fetch_state_changed:
                manifest = writer.commit()
                summary.committed = True
                summary.documents, summary.chunks = manifest.documents, manifest.chunks
            else:
                summary.documents = len(stored)
                summary.chunks = writer.chunk_count
        summary.seconds = time.perf_counter() - started
        return summary

    def _chunker(self) -> Chunker:
        embedder = getattr(self.stages, "embedder", None)
        wordpieces = getattr(embedder, "count_wordpieces", None)
        return Chunker(self.chunker_settings, wordpieces=wordpieces)

    def _read_web(
        self,
        sources: Sequence[WebSource],
        fetcher: Fetcher,
        batch: _Batch,
        chunker: Chunker,
        hashes: Mapping[str, str],
        now: float | None,
    ) -> None:
        writer, summary = batch.writer, batch.summary
        reader = WebReader(fetcher, writer.fetch_states(), set(batch.stored))
        dates = writer.document_dates()
        for source in sources:
            result = reader.read(source)
            summary.failed.extend(result.failures)
            for item in result.items:
                if item.article is None:  # 304: the stored copy stands
                    if item.doc_id not in batch.seen:
                        batch.seen.add(item.doc_id)
                        summary.unchanged += 1
                        summary.not_modified += 1
                    continue
                doc = prepare_doc(item.article, self.spec, chunker, hashes)
                batch.offer(doc, source.origin, item.url)
                if item.validators is not None:
                    v = item.validators
                    writer.record_fetch(item.url, item.doc_id, v.etag, v.last_modified)
                batch.maybe_flush()
            mine = [d for d, (_, origin) in batch.stored.items() if origin == source.origin]
            batch.seen.update(reader.kept)
            if not result.listing:
                continue
            for doc_id in mine:
                if doc_id in batch.seen:
                    continue
                if _expired(dates.get(doc_id), source.keep_days, now):
                    writer.delete(doc_id)
                    summary.removed += 1
                batch.seen.add(doc_id)  # handled: the file-scope rule must not touch it

    def _flush(self, writer: IndexWriter, pending: list[_Pending]) -> int:
        todo = [p for p in pending if p.doc.vectors is None]
        vectors = self.stages.embed([c.text for p in todo for c in p.chunks])
        offset = 0
        for p in todo:
            n = len(p.chunks)
            p.doc.vectors = vectors[offset : offset + n]
            offset += n
        for p in pending:
            assert p.doc.vectors is not None
            writer.upsert(
                p.doc.article,
                content_hash=p.doc.digest,
                origin=p.origin,
                chunks=p.chunks,
                vectors=p.doc.vectors,
            )
        return sum(len(p.chunks) for p in pending)


class _Batch:
    """The documents of one run on their way into the writer, embedded in groups."""

    def __init__(
        self,
        ingestor: Ingestor,
        writer: IndexWriter,
        summary: IngestSummary,
        stored: Mapping[str, tuple[str, str]],
    ) -> None:
        self.ingestor, self.writer, self.summary, self.stored = ingestor, writer, summary, stored
        self.seen: set[str] = set()
        self.digests: dict[str, str] = {}
        self.pending: list[_Pending] = []
        self.pending_chunks = 0

    def offer(self, doc: PreparedDoc, origin: str, where: str) -> None:
        doc_id = doc.article.doc_id
        if doc_id in self.seen and self.digests.get(doc_id, doc.digest) == doc.digest:
            return  # the same article twice (a page in a sitemap and given as a URL)
        if doc_id in self.seen:
            self.summary.failed.append(
                Failure(
                    where if doc_id in where else f"{where}: {doc_id}",
                    "duplicate document id: another input in this run has it; kept the first",
                )
            )
            return
        self.seen.add(doc_id)
        self.digests[doc_id] = doc.digest
        old = self.stored.get(doc_id)
        if old is not None and old[0] == doc.digest:
            self.summary.unchanged += 1
            return
        if old is None:
            self.summary.added += 1
        else:
            self.summary.updated += 1
        self.pending.append(_Pending(doc, origin))
        self.pending_chunks += len(self.pending[-1].chunks)

    def maybe_flush(self) -> None:
        if self.pending_chunks >= EMBED_GROUP:
            self.flush()

    def flush(self) -> None:
        self.summary.chunks_embedded += self.ingestor._flush(self.writer, self.pending)
        self.pending, self.pending_chunks = [], 0


def _expired(
    dates: tuple[str | None, str] | None, keep_days: float | None, now: float | None
) -> bool:
    """Whether a document that left its feed is past the age its source keeps."""
    if keep_days is None or dates is None:
        return False
    own, stored_at = dates
    stamp = _parse_date(own) or _parse_date(stored_at)
    if stamp is None:
        return False
    return (now if now is not None else time.time()) - stamp > keep_days * 86400


def _parse_date(value: str | None) -> float | None:
    if not value:
        return None
    from datetime import datetime

    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _scope(paths: Sequence[Path]) -> list[Path]:
    return [Path(p).resolve() for p in paths if Path(p).exists()]


def _within(origin: str, scope: list[Path]) -> bool:
    o = Path(origin)
    return any(o == s or s in o.parents for s in scope)
