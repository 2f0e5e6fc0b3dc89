"""Writes over HTTP: articles added, fetched, uploaded and deleted as jobs.

One worker thread runs the jobs in order, each through ``ingest.pipeline.Ingestor`` — the
same index writer, lock and atomic commit as ``citeline ingest`` — so the served index never
sees a half-written article. Each job names the collection it writes (index/collections.py:
``DIR/collections/NAME/``, or ``DIR`` itself for ``default`` in the single-index layout);
one Ingestor per collection is kept. When another writer (the CLI, ``citeline sync``) holds
the lock, the job waits for it. After a commit the job asks the server to reload now (the
index watcher would also notice within its interval).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from index.collections import DEFAULT, CollectionMissing, Registry
from index.models import Article, Failure
from index.store import IndexUnavailable
from ingest.fetch import Fetcher, FetchPolicy
from ingest.formats import FormatError, parse
from ingest.pipeline import EmbedderLike, Ingestor, IngestSummary
from ingest.web import WebSource

log = logging.getLogger("citeline.documents")

Status = Literal["queued", "running", "done", "failed"]
API_ORIGIN = "api"
# How long a job waits for another writer to release the index lock.
LOCK_WAIT = 600.0


@dataclass
class Job:
    id: str
    kind: str
    collection: str = DEFAULT
    status: Status = "queued"
    created: float = field(default_factory=time.time)
    finished: float | None = None
    summary: IngestSummary | None = None
    error: str | None = None
    doc_ids: list[str] = field(default_factory=list)
    # The collection was deleted between the request and the run: nothing was written.
    collection_gone: bool = False
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "collection": self.collection,
            "status": self.status,
            "doc_ids": self.doc_ids,
            "error": self.error,
        }
        if self.summary is not None:
            s = self.summary
            out.update(
                added=s.added,
                updated=s.updated,
                unchanged=s.unchanged,
                removed=s.removed,
                passages_embedded=s.chunks_embedded,
                failed=[{"source": f.source, "reason": f.reason} for f in s.failed],
            )
        return out


Work = Callable[[Ingestor], IngestSummary]


class DocumentWriter:
    """Queues write jobs for the collections under one root and runs them on one thread."""

    def __init__(
        self,
        embedder: EmbedderLike,
        root: Path,
        fetch_policy: FetchPolicy,
        *,
        backend: Any = None,
        on_commit: Callable[[], None] | None = None,
        keep_jobs: int = 1000,
    ) -> None:
        self.registry = Registry(root, backend)
        self.fetch_policy = fetch_policy
        self.on_commit = on_commit
        self._embedder = embedder
        self._backend = backend
        self._ingestors: dict[Path, Ingestor] = {}
        self._jobs: dict[str, Job] = {}
        self._keep = keep_jobs
        self._queue: queue.Queue[tuple[Job, Work] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="citeline-writer", daemon=True)
        self._thread.start()

    # -- submitting -------------------------------------------------------------

    def add_articles(self, articles: list[Article], collection: str = DEFAULT) -> Job:
        job = self._new("article", [a.doc_id for a in articles], collection)
        pairs = [(a, API_ORIGIN) for a in articles]
        return self._submit(job, lambda ing: ing.run([], articles=pairs))

    def add_upload(
        self,
        filename: str,
        data: bytes,
        fmt: str,
        doc_id: str,
        fields: dict[str, Any],
        collection: str = DEFAULT,
    ) -> Job:
        job = self._new("upload", [doc_id], collection)

        def work(ing: Ingestor) -> IngestSummary:
            try:
                parsed = parse(data, fmt)
            except FormatError as exc:
                summary = IngestSummary()
                summary.failed.append(Failure(filename, str(exc)))
                return summary
            article = Article(
                doc_id=doc_id,
                text=parsed.text,
                title=fields.get("title") or parsed.title,
                author=fields.get("author") or parsed.author,
                source=fields.get("url") or filename,
                url=fields.get("url") or parsed.url,
                date=fields.get("date") or parsed.date,
                metadata={"filename": filename, **parsed.metadata},
            )
            return ing.run([], articles=[(article, API_ORIGIN)])

        return self._submit(job, work)

    def add_url(self, url: str, collection: str = DEFAULT) -> Job:
        job = self._new("url", [], collection)

        def work(ing: Ingestor) -> IngestSummary:
            with Fetcher(self.fetch_policy) as fetcher:
                # keep_days=None: a feed given once through the API removes nothing later.
                return ing.run([], web=[WebSource(url, keep_days=None)], fetcher=fetcher)

        return self._submit(job, work)

    def delete(self, doc_id: str, collection: str = DEFAULT) -> Job:
        job = self._new("delete", [doc_id], collection)
        return self._submit(job, lambda ing: ing.run([], delete=[doc_id]))

    def job(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(30)

    # -- running ----------------------------------------------------------------

    def writable(self, collection: str) -> bool:
        """Whether writes to ``collection`` may go ahead: it exists, or it is ``default``
        (created by its first write, as the single index always was)."""
        return collection == DEFAULT or self.registry.exists(collection)

    def _new(self, kind: str, doc_ids: list[str], collection: str) -> Job:
        job = Job(uuid.uuid4().hex, kind, collection, doc_ids=doc_ids)
        self._jobs[job.id] = job
        if len(self._jobs) > self._keep:  # forget the oldest finished jobs
            finished = [j for j in self._jobs.values() if j.done.is_set()]
            for old in finished[: len(self._jobs) - self._keep]:
                self._jobs.pop(old.id, None)
        return job

    def _submit(self, job: Job, work: Work) -> Job:
        self._queue.put((job, work))
        return job

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            job, work = item
            job.status = "running"
            try:
                job.summary = self._with_lock(job.collection, work)
                job.status = "done"
                if job.summary.committed and self.on_commit is not None:
                    try:
                        self.on_commit()
                    except Exception:  # the watcher will pick the commit up anyway
                        log.exception("reload after a write failed")
            except CollectionMissing as exc:
                log.warning("write job %s: %s", job.id, exc)
                job.status, job.error, job.collection_gone = "failed", str(exc), True
            except Exception as exc:
                log.exception("write job %s failed", job.id)
                job.status, job.error = "failed", str(exc) or type(exc).__name__
            finally:
                job.finished = time.time()
                job.done.set()

    def _ingestor(self, collection: str) -> Ingestor:
        # Checked again when the job runs: a collection deleted after the request was
        # accepted must not be brought back by a write that was queued for it.
        if not self.writable(collection):
            raise CollectionMissing(f"collection {collection!r} was deleted before the write ran")
        # Looked up each time: ``default`` moves when DIR/collections/default is created.
        path = self.registry.path_of(collection)
        if path not in self._ingestors:
            self._ingestors[path] = Ingestor(self._embedder, path, backend=self._backend)
        return self._ingestors[path]

    def _with_lock(self, collection: str, work: Work) -> IngestSummary:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                return work(self._ingestor(collection))
            except IndexUnavailable as exc:
                if "another ingest is writing" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


# -- wiring into the app ------------------------------------------------------------


def start(app: Any, embedder: EmbedderLike, settings: Any) -> DocumentWriter:
    """The app's writer, for its lifespan; each commit reloads the served index at once."""
    from index.vector_store import BackendConfig
    from ingest.urlsafety import URLPolicy

    # The API never fetches loopback or private addresses unless the allow-list names them.
    policy = FetchPolicy(urls=URLPolicy.of(settings.writes.fetch_allow, allow_private=False))

    def reload_now() -> None:
        reloader = getattr(app.state, "reloader", None)
        if reloader is not None:
            reloader.reload(trigger="write")

    writer = DocumentWriter(
        embedder,
        Path(settings.index),
        policy,
        backend=BackendConfig.from_settings(settings.backend),
        on_commit=reload_now,
    )
    app.state.document_writer = writer
    return writer
