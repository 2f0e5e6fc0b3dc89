"""The on-disk index: one format, written by ingest, read by the server.

Layout of an index directory::

    DIR/CURRENT                 name of the live generation (replaced atomically)
    DIR/gen-<stamp>/manifest.json
    DIR/gen-<stamp>/vectors.faiss    passage vectors, ids = chunk ids; exact IndexFlatIP for
                                     small corpora, IVF-SQ8 for large ones (index/vectors.py)
    DIR/gen-<stamp>/qdrant.json      instead of vectors.faiss with the Qdrant backend: names
                                     the generation's collection (index/qdrant_store.py)
    DIR/gen-<stamp>/passages.sqlite  documents (cleaned text, metadata, hash) and chunks
    DIR/gen-<stamp>/bm25/            keyword index over whole documents (index/bm25.py),
                                     rebuilt from passages.sqlite at every commit
    DIR/.lock                   held by the one writer at a time

A writer copies the live generation into a new folder, applies its changes
there, syncs it to disk and only then points CURRENT at it. A crash at any
moment therefore leaves CURRENT naming a complete generation; readers never see
a half-written one. The previous generation is kept so a server that still has
it open can finish its requests.

Only the vectors have a choice of backend (index/vector_store.py); everything
else, including the keyword index, stays in the directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import faiss  # noqa: F401 - tests/robustness patch store.faiss.write_index
import numpy as np

from index import vectors as vecs
from index.bm25 import Bm25Index, TermCounter
from index.faiss_store import FaissReader, FaissUnreadable, FaissWriter
from index.models import DOCUMENT_FIELDS, Article, Chunk, Passage, SearchHit
from index.normalize import ANALYZER_VERSION
from index.vector_store import (
    QDRANT_MARKER,
    BackendConfig,
    VectorReader,
    VectorWriter,
    backend_of,
)

# 2: adds the keyword index (bm25/) and the choice of vector structure.
FORMAT_VERSION = 2
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
PASSAGES = "passages.sqlite"
BM25_DIR = "bm25"
KEEP_GENERATIONS = 2

# Fields of an article that filters may name besides metadata keys.
# Vectors copied from one generation (or backend) to the next per round trip.
COPY_BATCH = 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    origin TEXT NOT NULL,
    title TEXT, author TEXT, source TEXT, url TEXT, date TEXT,
    metadata TEXT NOT NULL,
    text TEXT NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
-- Keyword terms, numbered once and never renumbered, and each document's term
-- counts (int32 arrays), computed at ingest so a commit need not re-read texts.
CREATE TABLE IF NOT EXISTS terms (
    id INTEGER PRIMARY KEY,
    term TEXT NOT NULL UNIQUE
);
-- What a web server said about each fetched URL (ETag / Last-Modified), so the
-- next fetch can be conditional; doc_id is the document the URL gave.
CREATE TABLE IF NOT EXISTS fetch_state (
    url TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT
);
CREATE TABLE IF NOT EXISTS doc_terms (
    doc_id TEXT PRIMARY KEY REFERENCES documents(doc_id) ON DELETE CASCADE,
    analyzer TEXT NOT NULL,
    length INTEGER NOT NULL,
    ids BLOB NOT NULL,
    counts BLOB NOT NULL
);
"""


class IndexUnavailable(Exception):
    """The index directory is missing, damaged or incompatible; the message says which."""


class IndexMissing(IndexUnavailable):
    """There is no index at all yet: ingest has never written one there."""


@dataclass(frozen=True)
class Manifest:
    format_version: int
    embedder: str
    dimension: int
    chunker: dict[str, Any]
    documents: int
    chunks: int
    generation: str
    created_at: float = field(default_factory=time.time)
    # Absent from format 1 manifests, hence the defaults.
    analyzer: str | None = None
    vectors: dict[str, Any] = field(default_factory=lambda: {"kind": vecs.FLAT})
    # The embedder's runtime (torch, onnx, openvino); None = written before it was recorded.
    embed_backend: str | None = None

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise IndexUnavailable(f"cannot read index manifest {path}: {exc}") from exc


@dataclass(frozen=True)
class StoredDocument:
    doc_id: str
    content_hash: str
    title: str | None
    author: str | None
    source: str | None
    url: str | None
    date: str | None
    metadata: dict[str, Any]
    text: str


@dataclass(frozen=True)
class DocumentSummary:
    """One row of the list of what is indexed."""

    doc_id: str
    title: str | None
    source: str | None
    url: str | None
    date: str | None
    passages: int
    ingested_at: str


def take_writer_lock(root: Path) -> IO[str] | None:
    """The one-writer lock of the index folder ``root``, taken without waiting: None
    while someone else holds it. Ingest holds it while it writes, and so does deleting
    a collection (index/collections.py), so the two never race."""
    fh = open(root / ".lock", "a")  # noqa: SIM115 - held until release_writer_lock
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    return fh


def release_writer_lock(fh: IO[str]) -> None:
    fcntl.flock(fh, fcntl.LOCK_UN)
    fh.close()


def _current_generation(root: Path) -> Path | None:
    pointer = root / CURRENT
    if not pointer.exists():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    if not name or "/" in name or name.startswith("."):
        raise IndexUnavailable(f"{pointer} is damaged: it should name a generation folder")
    gen = root / name
    if not gen.is_dir():
        raise IndexUnavailable(f"{pointer} names {name}, which does not exist in {root}")
    return gen


def _keyword_text(title: str | None, text: str) -> str:
    # The title is searched as part of the document: headlines carry key terms.
    return f"{title or ''}\n\n{text}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _row_to_document(row: sqlite3.Row) -> StoredDocument:
    return StoredDocument(
        doc_id=row["doc_id"],
        content_hash=row["content_hash"],
        title=row["title"],
        author=row["author"],
        source=row["source"],
        url=row["url"],
        date=row["date"],
        metadata=json.loads(row["metadata"]),
        text=row["text"],
    )


def _open_reader(
    root: Path, generation: Path, manifest: Manifest, backend: BackendConfig | None
) -> VectorReader:
    """The vectors of a committed generation, wherever its manifest says they are."""
    if backend_of(manifest.vectors) == "faiss":
        try:
            return FaissReader(generation, manifest.dimension)
        except FaissUnreadable as exc:
            raise IndexUnavailable(str(exc)) from exc
    from index.qdrant_store import QdrantReader, QdrantUnavailable, reading_location

    recorded = manifest.vectors
    collection = str(recorded.get("collection"))
    written_to = recorded.get("url") or recorded.get("path")
    try:
        config = backend if backend is not None else BackendConfig()
        location = reading_location(recorded, config)
        return QdrantReader(location, collection, manifest.dimension)
    except (QdrantUnavailable, ValueError) as exc:
        raise IndexUnavailable(
            f"index at {root} was written to Qdrant at {written_to} (collection {collection}) "
            f"and cannot be read: {exc}; set CITELINE_QDRANT_URL or CITELINE_QDRANT_PATH to "
            "where it was written"
        ) from exc


class Index:
    """A read-only view of one generation of an index directory.

    Vectors live in memory (FAISS) or in Qdrant; passage and article text stay
    in SQLite and are read by id, so the process does not hold the corpus as
    Python objects.
    """

    def __init__(self, root: Path, generation: Path, backend: BackendConfig | None = None) -> None:
        """``backend``: where to look for Qdrant (default: where the manifest says)."""
        self.root = root
        self.generation = generation
        self.manifest = Manifest.load(generation / MANIFEST)
        if self.manifest.format_version != FORMAT_VERSION:
            hint = (
                f"run `citeline ingest PATH --index {root}` again to upgrade it"
                if self.manifest.format_version < FORMAT_VERSION
                else "use the Citeline that wrote it"
            )
            raise IndexUnavailable(
                f"{generation / MANIFEST}: index format {self.manifest.format_version} is not "
                f"supported (this Citeline reads format {FORMAT_VERSION}); {hint}"
            )
        if self.manifest.analyzer != ANALYZER_VERSION:
            raise IndexUnavailable(
                f"{generation / MANIFEST}: keyword index built with analyzer "
                f"{self.manifest.analyzer!r}, this Citeline uses {ANALYZER_VERSION!r}; run "
                f"`citeline ingest PATH --index {root}` again to rebuild it"
            )
        self._vectors = _open_reader(root, generation, self.manifest, backend)
        try:
            self._open_rest(generation)
        except BaseException:
            self._vectors.close()
            raise

    def _open_rest(self, generation: Path) -> None:
        db = generation / PASSAGES
        try:
            self._db = sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            chunks = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            self._db.execute("PRAGMA quick_check").fetchone()
        except sqlite3.Error as exc:
            raise IndexUnavailable(f"cannot read passages database {db}: {exc}") from exc
        if chunks != self._vectors.count():
            raise IndexUnavailable(
                f"{db} has {chunks} passages but {self._vectors.description} has "
                f"{self._vectors.count()} vectors; the index is inconsistent, re-run ingest"
            )
        try:
            self.bm25 = Bm25Index.load(generation / BM25_DIR)
        except (OSError, ValueError, KeyError) as exc:
            raise IndexUnavailable(
                f"cannot read keyword index {generation / BM25_DIR}: {exc}; re-run ingest"
            ) from exc
        if len(self.bm25) != self.manifest.documents:
            raise IndexUnavailable(
                f"{generation / BM25_DIR} covers {len(self.bm25)} documents but the index has "
                f"{self.manifest.documents}; the index is inconsistent, re-run ingest"
            )
        # sqlite3 connections are not safe for concurrent use; reads are short.
        self._lock = threading.Lock()
        self._lengths: np.ndarray | None = None

    @classmethod
    def open(cls, root: Path | str, backend: BackendConfig | None = None) -> Index:
        root = Path(root)
        if not root.is_dir():
            raise IndexMissing(
                f"no index at {root}: run `citeline ingest PATH --index {root}` first"
            )
        gen = _current_generation(root)
        if gen is None:
            raise IndexMissing(
                f"{root} is not a Citeline index (no {CURRENT} file): run "
                f"`citeline ingest PATH --index {root}` first"
            )
        return cls(root, gen, backend)

    @property
    def backend(self) -> str:
        return backend_of(self.manifest.vectors)

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._vectors.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -------------------------------------------------------------

    @property
    def document_count(self) -> int:
        return self.manifest.documents

    @property
    def chunk_count(self) -> int:
        return self._vectors.count()

    def search(
        self,
        query_vector: np.ndarray,
        top_k: int,
        filters: Mapping[str, Any] | None = None,
    ) -> list[SearchHit]:
        """Passages by inner product with the query (exact, or IVF-SQ8 on large
        FAISS corpora, or Qdrant's search); ``filters`` restrict to documents
        whose field or metadata key equals the given value."""
        pairs = self.search_ids(query_vector, top_k, filters)
        passages = self.passages([i for i, _ in pairs])
        return [SearchHit(passages[i], s) for i, s in pairs if i in passages]

    def search_ids(
        self,
        query_vector: np.ndarray,
        top_k: int,
        filters: Mapping[str, Any] | None = None,
    ) -> list[tuple[int, float]]:
        """(chunk id, score) of the best passages, best first; reads no text."""
        if self.chunk_count == 0 or top_k <= 0:
            return []
        return self._vectors.search(query_vector, min(top_k, self.chunk_count), filters, self)

    def document_lengths(self) -> np.ndarray | None:
        """Each document's keyword-term count, in the keyword index's document order (for
        BM25 over several collections, index/multi.py); None if they cannot be aligned."""
        if self._lengths is None:
            with self._lock:
                rows = self._db.execute(
                    "SELECT doc_id, length FROM doc_terms ORDER BY doc_id"
                ).fetchall()
            if [r[0] for r in rows] != self.bm25.doc_ids:
                return None
            self._lengths = np.array([r[1] for r in rows], dtype=np.float64)
        return self._lengths

    def doc_ids_of(self, chunk_ids: Iterable[int]) -> dict[int, str]:
        ids = list(chunk_ids)
        out: dict[int, str] = {}
        for start in range(0, len(ids), 500):  # SQLite caps bound parameters
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            with self._lock:
                rows = self._db.execute(
                    f"SELECT id, doc_id FROM chunks WHERE id IN ({marks})", part
                ).fetchall()
            out.update((int(r[0]), r[1]) for r in rows)
        return out

    def passages(self, chunk_ids: Iterable[int]) -> dict[int, Passage]:
        ids = list(chunk_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        sql = (
            'SELECT c.id, c.doc_id, c.start, c."end", c.text, d.title, d.source, d.url, '
            "d.author, d.date, json_extract(d.metadata, '$.page_starts') AS page_starts "
            f"FROM chunks c JOIN documents d USING (doc_id) WHERE c.id IN ({marks})"
        )
        with self._lock:
            rows = self._db.execute(sql, ids).fetchall()
        return {
            r["id"]: Passage(
                chunk_id=r["id"],
                doc_id=r["doc_id"],
                title=r["title"],
                source=r["source"],
                text=r["text"],
                start=r["start"],
                end=r["end"],
                url=r["url"],
                author=r["author"],
                date=r["date"],
                page_starts=_page_starts(r["page_starts"]),
            )
            for r in rows
        }

    def chunk_ids_of(self, doc_ids: Iterable[str]) -> dict[str, list[int]]:
        """Passage ids of each document, in reading order."""
        ids = list(doc_ids)
        out: dict[str, list[int]] = {d: [] for d in ids}
        for start in range(0, len(ids), 500):  # SQLite caps bound parameters
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            with self._lock:
                rows = self._db.execute(
                    f"SELECT id, doc_id FROM chunks WHERE doc_id IN ({marks}) ORDER BY ordinal",
                    part,
                ).fetchall()
            for r in rows:
                out[r[1]].append(int(r[0]))
        return out

    def sample_chunk_ids(self, n: int) -> list[int]:
        """Up to ``n`` passage ids spread evenly over the index (the same ones every time)."""
        with self._lock:
            low, high = self._db.execute("SELECT min(id), max(id) FROM chunks").fetchone()
            if low is None or n <= 0:
                return []
            picked: list[int] = []
            for k in range(n):
                target = low + (high - low) * k // max(n - 1, 1)
                row = self._db.execute(
                    "SELECT id FROM chunks WHERE id >= ? ORDER BY id LIMIT 1", (target,)
                ).fetchone()
                if row is not None and row[0] not in picked:
                    picked.append(int(row[0]))
        return picked

    def vectors(self, chunk_ids: np.ndarray | list[int]) -> np.ndarray:
        """Stored vectors of these passages (decoded, so approximate, under IVF-SQ8)."""
        return self._vectors.vectors(chunk_ids)

    def vector_batches(self, size: int = COPY_BATCH) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every stored (ids, vectors), ``size`` at a time."""
        return self._vectors.batches(size)

    def doc_ids_matching(self, filters: Mapping[str, Any]) -> set[str]:
        where, args = _filter_sql(filters)
        with self._lock:
            rows = self._db.execute(f"SELECT d.doc_id FROM documents d WHERE {where}", args)
            return {r[0] for r in rows.fetchall()}

    def document(self, doc_id: str) -> StoredDocument | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return _row_to_document(row) if row else None

    def list_documents(
        self,
        filters: Mapping[str, Any] | None = None,
        *,
        text: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[int, list[DocumentSummary]]:
        """(how many match, one page of them by title): ``filters`` as in search,
        ``text`` a case-insensitive substring of the title, source or url."""
        where, args = _filter_sql(filters or {})
        if text:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where += (
                " AND (d.title LIKE ? ESCAPE '\\' OR d.source LIKE ? ESCAPE '\\' "
                "OR d.url LIKE ? ESCAPE '\\')"
            )
            args += [pattern, pattern, pattern]
        with self._lock:
            total = self._db.execute(
                f"SELECT count(*) FROM documents d WHERE {where}", args
            ).fetchone()[0]
            rows = self._db.execute(
                "SELECT d.doc_id, d.title, d.source, d.url, d.date, d.ingested_at, "
                "(SELECT count(*) FROM chunks c WHERE c.doc_id = d.doc_id) AS passages "
                f"FROM documents d WHERE {where} "
                "ORDER BY coalesce(d.title, d.doc_id) COLLATE NOCASE, d.doc_id LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return int(total), [
            DocumentSummary(
                r["doc_id"],
                r["title"],
                r["source"],
                r["url"],
                r["date"],
                r["passages"],
                r["ingested_at"],
            )
            for r in rows
        ]

    def chunk_ids_matching(self, filters: Mapping[str, Any]) -> np.ndarray:
        where, args = _filter_sql(filters)
        sql = f"SELECT c.id FROM chunks c JOIN documents d USING (doc_id) WHERE {where}"
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)


def _page_starts(raw: str | None) -> tuple[int, ...]:
    if not raw:
        return ()
    try:
        starts = json.loads(raw)
    except ValueError:
        return ()
    if isinstance(starts, list) and all(isinstance(s, int) for s in starts):
        return tuple(starts)
    return ()


def _filter_sql(filters: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """A WHERE clause over documents ``d``; keys are whitelisted or bound, never spliced."""
    clauses: list[str] = []
    args: list[Any] = []
    for key, value in filters.items():
        if key in DOCUMENT_FIELDS:
            clauses.append(f"d.{key} = ?")
        else:
            clauses.append("json_extract(d.metadata, ?) = ?")
            args.append("$." + json.dumps(key))
        args.append(value)
    return " AND ".join(clauses) or "1", args


@dataclass(frozen=True)
class FetchState:
    doc_id: str
    etag: str | None
    last_modified: str | None


@dataclass
class WriteStats:
    added_chunks: int = 0
    removed_chunks: int = 0


class IndexWriter:
    """Applies one ingest run's changes to a fresh copy of the live generation.

    Nothing is visible to readers until :meth:`commit`; :meth:`abort` (or a crash)
    leaves the live generation untouched.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        embedder: str,
        dimension: int,
        chunker: Mapping[str, Any],
        vector_settings: vecs.VectorSettings | None = None,
        backend: BackendConfig | None = None,
        embed_backend: str = "torch",
    ) -> None:
        """``backend``: where to write vectors (default: FAISS in the folder). A
        live generation in another backend is copied over, never re-embedded."""
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        lock = take_writer_lock(self.root)
        if lock is None:
            raise IndexUnavailable(
                f"another ingest is writing to {self.root}; wait for it to finish"
            )
        self._lock_file = lock
        self.embedder = embedder
        self.embed_backend = embed_backend
        self.dimension = dimension
        self.chunker = dict(chunker)
        self.vector_settings = vector_settings or vecs.VectorSettings()
        self.backend = backend if backend is not None else BackendConfig()
        self.stats = WriteStats()
        # Set when the live generation lacks parts this version writes (an older
        # format or keyword analyzer): the caller must commit even without changes.
        self.needs_upgrade = False
        # Set when fetch validators changed: worth a commit even if no document did.
        self.fetch_state_changed = False
        self._trained_on = 0
        self._closed = False
        self._check_backend()
        previous = _current_generation(self.root)
        self._remove_stale_generations(keep=previous)
        old: Manifest | None = None
        if previous is not None:
            old = Manifest.load(previous / MANIFEST)
            if old.embedder != embedder or old.dimension != dimension:
                self._release()
                raise IndexUnavailable(
                    f"{self.root} was built with embedder {old.embedder} ({old.dimension} dims); "
                    f"refusing to mix in {embedder} ({dimension} dims). Ingest into a new "
                    "--index folder instead"
                )
            self.previous_chunker: dict[str, Any] | None = old.chunker
            self.needs_upgrade = (
                old.format_version < FORMAT_VERSION
                or old.analyzer != ANALYZER_VERSION
                # Switching backends moves the vectors: a commit with no other change.
                or backend_of(old.vectors) != self.backend.kind
            )
            self._trained_on = int(old.vectors.get("trained_on", 0))
        else:
            self.previous_chunker = None
        # Names sort by creation time (nanoseconds too: several commits can fall in
        # one second), which is what keeping "the newest" generations relies on.
        now = time.time_ns()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 1_000_000_000))
        name = f"gen-{stamp}{now % 1_000_000_000:09d}-{uuid.uuid4().hex[:8]}"
        self.generation = self.root / name
        self.generation.mkdir()
        db_path = self.generation / PASSAGES
        self._db = sqlite3.connect(db_path)
        self._db.row_factory = sqlite3.Row
        if previous is not None:
            src = sqlite3.connect(f"file:{previous / PASSAGES}?mode=ro", uri=True)
            try:
                src.backup(self._db)
            finally:
                src.close()
        self._db.executescript(_SCHEMA)
        self._db.execute("PRAGMA foreign_keys = ON")
        if self.needs_upgrade:
            # Term ids and counts of another analyzer mean nothing to this one.
            self._db.execute("DELETE FROM doc_terms")
            self._db.execute("DELETE FROM terms")
        self._terms = TermCounter(
            {r[1]: r[0] for r in self._db.execute("SELECT id, term FROM terms")}
        )
        try:
            self._vectors = self._open_vectors(previous, old)
        except BaseException:
            self._db.close()
            shutil.rmtree(self.generation, ignore_errors=True)
            self._release()
            raise

    def _check_backend(self) -> None:
        if self.backend.kind == "qdrant" and (self.backend.url is None) == (
            self.backend.path is None
        ):
            self._release()
            raise IndexUnavailable(
                "CITELINE_INDEX_BACKEND=qdrant needs exactly one of CITELINE_QDRANT_URL (a "
                "Qdrant server) or CITELINE_QDRANT_PATH (local mode: one process at a time)"
            )

    def _open_vectors(self, previous: Path | None, old: Manifest | None) -> VectorWriter:
        """This generation's vectors: the previous generation's, copied."""
        same = old is not None and backend_of(old.vectors) == self.backend.kind
        writer: VectorWriter
        if self.backend.kind == "faiss":
            if previous is not None and same:
                return FaissWriter(
                    self.dimension,
                    self.vector_settings,
                    previous=previous,
                    trained_on=self._trained_on,
                )
            writer = FaissWriter(self.dimension, self.vector_settings)
        else:
            from index.qdrant_store import Location, QdrantUnavailable, QdrantWriter

            try:
                writer = QdrantWriter(
                    Location.of(self.backend),
                    self.backend.collection,
                    self.generation,
                    self.dimension,
                    replication_factor=self.backend.replication_factor,
                    shards=self.backend.shards,
                )
            except QdrantUnavailable as exc:
                raise IndexUnavailable(str(exc)) from exc
        if previous is not None and old is not None:
            try:
                self._copy_vectors(previous, old, writer)
            except BaseException:
                writer.abort()
                raise
        return writer

    def _copy_vectors(self, previous: Path, old: Manifest, writer: VectorWriter) -> None:
        # Batch by batch: a collection too large for memory never is loaded whole.
        reader = _open_reader(self.root, previous, old, self.backend)
        try:
            for ids, vectors in reader.batches(COPY_BATCH):
                payloads = self._payloads(ids) if self.backend.kind == "qdrant" else []
                writer.add(ids, vectors, payloads)
        finally:
            reader.close()

    def _payloads(self, chunk_ids: np.ndarray) -> list[dict[str, Any]]:
        from index.qdrant_store import payload

        ids = [int(i) for i in chunk_ids]
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            "SELECT c.id, d.doc_id, d.title, d.author, d.source, d.url, d.date, d.metadata "
            f"FROM chunks c JOIN documents d USING (doc_id) WHERE c.id IN ({marks})",
            ids,
        ).fetchall()
        by_id = {
            int(r[0]): payload(r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7])) for r in rows
        }
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise IndexUnavailable(
                f"the live generation has vectors without passages (ids {missing[:5]}); "
                "the index is inconsistent, re-run ingest into a new --index folder"
            )
        return [by_id[i] for i in ids]

    # -- reading what is there ------------------------------------------------

    def document_index(self) -> dict[str, tuple[str, str]]:
        """doc_id -> (content hash, origin file) of every stored document."""
        rows = self._db.execute("SELECT doc_id, content_hash, origin FROM documents").fetchall()
        return {r["doc_id"]: (r["content_hash"], r["origin"]) for r in rows}

    @property
    def chunk_count(self) -> int:
        return self._vectors.count()

    def document_dates(self) -> dict[str, tuple[str | None, str]]:
        """doc_id -> (the article's own date, when it was stored) of every document."""
        rows = self._db.execute("SELECT doc_id, date, ingested_at FROM documents").fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}

    def fetch_states(self) -> dict[str, FetchState]:
        rows = self._db.execute("SELECT url, doc_id, etag, last_modified FROM fetch_state")
        return {r[0]: FetchState(r[1], r[2], r[3]) for r in rows.fetchall()}

    def record_fetch(
        self, url: str, doc_id: str, etag: str | None, last_modified: str | None
    ) -> None:
        """Remember a fetch's validators; a change makes the next commit necessary."""
        row = self._db.execute(
            "SELECT doc_id, etag, last_modified FROM fetch_state WHERE url = ?", (url,)
        ).fetchone()
        if row is not None and tuple(row) == (doc_id, etag, last_modified):
            return
        self._db.execute(
            "INSERT OR REPLACE INTO fetch_state (url, doc_id, etag, last_modified) "
            "VALUES (?, ?, ?, ?)",
            (url, doc_id, etag, last_modified),
        )
        self.fetch_state_changed = True

    # -- changing ---------------------------------------------------------------

    def delete(self, doc_id: str) -> int:
        ids = [r[0] for r in self._db.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]
        if ids:
            self._vectors.remove(np.array(ids, dtype=np.int64))
        self._db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        self._db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        self.stats.removed_chunks += len(ids)
        return len(ids)

    def upsert(
        self,
        article: Article,
        *,
        content_hash: str,
        origin: str,
        chunks: list[Chunk],
        vectors: np.ndarray,
    ) -> None:
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk is required")
        self.delete(article.doc_id)
        self._db.execute(
            "INSERT INTO documents (doc_id, content_hash, origin, title, author, source, url, "
            "date, metadata, text, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                article.doc_id,
                content_hash,
                origin,
                article.title,
                article.author,
                article.source,
                article.url,
                article.date,
                json.dumps(article.metadata, ensure_ascii=False, sort_keys=True, default=str),
                article.text,
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            ),
        )
        ids: list[int] = []
        for chunk in chunks:
            cur = self._db.execute(
                'INSERT INTO chunks (doc_id, ordinal, start, "end", text) VALUES (?, ?, ?, ?, ?)',
                (chunk.doc_id, chunk.ordinal, chunk.start, chunk.end, chunk.text),
            )
            assert cur.lastrowid is not None
            ids.append(cur.lastrowid)
        if ids:
            shared = self._article_payload(article)
            self._vectors.add(np.array(ids, dtype=np.int64), vectors, [shared] * len(ids))
        self.stats.added_chunks += len(ids)
        self._count_terms(article.doc_id, _keyword_text(article.title, article.text))

    def _article_payload(self, article: Article) -> dict[str, Any]:
        if self.backend.kind == "faiss":
            return {}  # FAISS keeps no payload; filters are resolved in SQLite
        from index.qdrant_store import payload

        return payload(
            article.doc_id,
            article.title,
            article.author,
            article.source,
            article.url,
            article.date,
            article.metadata,
        )

    def _count_terms(self, doc_id: str, text: str) -> None:
        length, ids, counts = self._terms.count(text)
        self._db.execute(
            "INSERT OR REPLACE INTO doc_terms (doc_id, analyzer, length, ids, counts) "
            "VALUES (?, ?, ?, ?, ?)",
            (doc_id, ANALYZER_VERSION, length, ids.tobytes(), counts.tobytes()),
        )

    # -- finishing ----------------------------------------------------------------

    def commit(self) -> Manifest:
        """Make this generation the live one, atomically."""
        self._db.commit()
        documents = self._db.execute("SELECT count(*) FROM documents").fetchone()[0]
        chunks = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        if chunks != self._vectors.count():
            raise RuntimeError(
                f"{chunks} passages but {self._vectors.count()} vectors; not committing"
            )
        # Rebuilt from all stored documents rather than patched: one code path
        # covers added, changed and removed documents, and it cannot drift.
        written = self._build_bm25()
        self._db.close()
        vector_files, vectors_entry = self._vectors.commit(self.generation)
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            embedder=self.embedder,
            dimension=self.dimension,
            chunker=self.chunker,
            documents=documents,
            chunks=chunks,
            generation=self.generation.name,
            analyzer=ANALYZER_VERSION,
            vectors=vectors_entry,
            embed_backend=self.embed_backend,
        )
        (self.generation / MANIFEST).write_text(
            json.dumps(asdict(manifest), indent=2), encoding="utf-8"
        )
        for path in [*written, *vector_files, *(self.generation / n for n in (PASSAGES, MANIFEST))]:
            (_fsync_dir if path.is_dir() else _fsync_file)(path)
        _fsync_dir(self.generation / BM25_DIR)
        _fsync_dir(self.generation)
        tmp = self.root / f".{CURRENT}.{uuid.uuid4().hex[:8]}"
        tmp.write_text(self.generation.name + "\n", encoding="utf-8")
        _fsync_file(tmp)
        os.replace(tmp, self.root / CURRENT)
        _fsync_dir(self.root)
        self._remove_stale_generations(keep=self.generation)
        self._release()
        return manifest

    def _build_bm25(self) -> list[Path]:
        # Documents stored before term counts existed (an upgraded index) get them now.
        missing = self._db.execute(
            "SELECT d.doc_id, d.title, d.text FROM documents d "
            "LEFT JOIN doc_terms t USING (doc_id) WHERE t.doc_id IS NULL"
        ).fetchall()
        for r in missing:
            self._count_terms(r[0], _keyword_text(r[1], r[2]))
        self._db.executemany("INSERT INTO terms (term, id) VALUES (?, ?)", self._terms.added)
        self._terms.added.clear()
        self._db.commit()
        rows = self._db.execute("SELECT doc_id, length, ids, counts FROM doc_terms ORDER BY doc_id")
        bm25 = Bm25Index.from_counts(
            (
                (
                    r[0],
                    r[1],
                    np.frombuffer(r[2], dtype=np.int32),
                    np.frombuffer(r[3], dtype=np.int32),
                )
                for r in rows
            ),
            self._terms.vocab,
        )
        return bm25.save(self.generation / BM25_DIR)

    def abort(self) -> None:
        if self._closed:
            return
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        self._vectors.abort()
        shutil.rmtree(self.generation, ignore_errors=True)
        self._release()

    def _release(self) -> None:
        if not self._closed:
            self._closed = True
            release_writer_lock(self._lock_file)

    def _remove_stale_generations(self, keep: Path | None) -> None:
        """Delete unfinished generations and all but the newest finished ones."""
        gens = sorted(p for p in self.root.glob("gen-*") if p.is_dir())
        finished = [p for p in gens if (p / MANIFEST).exists()]
        keep_names = {p.name for p in finished[-KEEP_GENERATIONS:]}
        if keep is not None:
            keep_names.add(keep.name)
        for p in gens:
            if p.name not in keep_names:
                _drop_external_vectors(p, self.backend)
                shutil.rmtree(p, ignore_errors=True)
        # A writer killed between writing its pointer and the rename leaves one behind;
        # only writers make them and this one holds the lock.
        for p in self.root.glob(f".{CURRENT}.*"):
            p.unlink(missing_ok=True)

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if not self._closed:
            self.abort()


def _drop_external_vectors(generation: Path, backend: BackendConfig) -> None:
    """A generation's vectors kept outside its folder go with the folder."""
    if (generation / QDRANT_MARKER).exists():
        from index.qdrant_store import drop_collection  # qdrant_client takes ~1.5 s to import

        drop_collection(generation / QDRANT_MARKER, backend)


def iter_generations(root: Path) -> Iterator[Path]:
    yield from sorted(p for p in root.glob("gen-*") if p.is_dir())
