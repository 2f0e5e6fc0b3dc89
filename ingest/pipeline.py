"""The ingest job: read -> clean -> hash -> chunk -> embed -> write, incrementally.

Rules for a re-run (also in README):
- a document whose content hash (text, metadata and chunker settings) is stored
  already is left alone: nothing is re-embedded;
- a changed document replaces its old passages;
- a stored document whose origin file lies under a folder (or is a file) given
  to this run, but which this run did not read, is removed. Documents from
  folders not given to this run stay. A file that fails to read removes nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from index.embedder import Embedder
from index.models import Article, Chunk, Failure
from index.store import IndexWriter
from ingest.chunker import Chunker, ChunkerSettings
from ingest.readers import discover, read_file

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


def content_hash(article: Article, pipeline: dict[str, object]) -> str:
    payload = json.dumps(
        {"article": asdict(article), "pipeline": pipeline},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass
class _Pending:
    article: Article
    digest: str
    origin: str
    chunks: list[Chunk]


class Ingestor:
    """Brings an index directory in line with a set of files and folders."""

    def __init__(
        self,
        embedder: Embedder,
        index_dir: Path,
        chunker_settings: ChunkerSettings | None = None,
        *,
        max_file_bytes: int = 20 * 1024 * 1024,
    ) -> None:
        self.embedder = embedder
        self.index_dir = Path(index_dir)
        self.chunker = Chunker(chunker_settings, wordpieces=embedder.count_wordpieces)
        self.max_file_bytes = max_file_bytes
        self._pipeline: dict[str, object] = {
            "chunker": self.chunker.settings.as_dict(),
            "embedder": embedder.name,
        }

    def run(self, paths: Sequence[Path], progress: ProgressCallback | None = None) -> IngestSummary:
        started = time.perf_counter()
        summary = IngestSummary()
        files, failures = discover([Path(p) for p in paths])
        summary.failed.extend(failures)
        with IndexWriter(
            self.index_dir,
            embedder=self.embedder.name,
            dimension=self.embedder.dimension,
            chunker=self.chunker.settings.as_dict(),
        ) as writer:
            stored = writer.document_index()
            seen: set[str] = set()
            incomplete_origins: set[str] = set()
            pending: list[_Pending] = []
            pending_chunks = 0
            for n, (path, root) in enumerate(files, start=1):
                origin = str(path.resolve())
                result = read_file(path, root, max_bytes=self.max_file_bytes)
                summary.failed.extend(result.failures)
                if result.failures:
                    incomplete_origins.add(origin)
                for article in result.articles:
                    if article.doc_id in seen:
                        summary.failed.append(
                            Failure(
                                f"{path}: {article.doc_id}",
                                "duplicate document id: another input in this run has it; "
                                "kept the first",
                            )
                        )
                        continue
                    seen.add(article.doc_id)
                    digest = content_hash(article, self._pipeline)
                    old = stored.get(article.doc_id)
                    if old is not None and old[0] == digest:
                        summary.unchanged += 1
                        continue
                    if old is None:
                        summary.added += 1
                    else:
                        summary.updated += 1
                    chunks = self.chunker.run(article.doc_id, article.text)
                    pending.append(_Pending(article, digest, origin, chunks))
                    pending_chunks += len(chunks)
                if pending_chunks >= EMBED_GROUP:
                    summary.chunks_embedded += self._flush(writer, pending)
                    pending, pending_chunks = [], 0
                if progress:
                    progress(n, len(files), summary.chunks_embedded + pending_chunks)
            summary.chunks_embedded += self._flush(writer, pending)

            scope = _scope(paths)
            for doc_id, (_, origin) in stored.items():
                if doc_id in seen or origin in incomplete_origins:
                    continue
                if _within(origin, scope):
                    writer.delete(doc_id)
                    summary.removed += 1

            changed = summary.added + summary.updated + summary.removed > 0
            # An index from an older Citeline lacks the keyword index: rebuild it.
            if changed or writer.needs_upgrade:
                manifest = writer.commit()
                summary.committed = True
                summary.documents, summary.chunks = manifest.documents, manifest.chunks
            else:
                summary.documents = len(stored)
                summary.chunks = writer.chunk_count
        summary.seconds = time.perf_counter() - started
        return summary

    def _flush(self, writer: IndexWriter, pending: list[_Pending]) -> int:
        texts = [c.text for p in pending for c in p.chunks]
        vectors = self.embedder.encode(texts)
        offset = 0
        for p in pending:
            n = len(p.chunks)
            writer.upsert(
                p.article,
                content_hash=p.digest,
                origin=p.origin,
                chunks=p.chunks,
                vectors=vectors[offset : offset + n],
            )
            offset += n
        return len(texts)


def _scope(paths: Sequence[Path]) -> list[Path]:
    return [Path(p).resolve() for p in paths if Path(p).exists()]


def _within(origin: str, scope: list[Path]) -> bool:
    o = Path(origin)
    return any(o == s or s in o.parents for s in scope)
