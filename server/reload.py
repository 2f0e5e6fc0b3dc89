"""Live index reload: load the new generation beside the old one, then swap.

``citeline ingest`` writes a complete new generation and replaces the index's
CURRENT file atomically (index/store.py). The server notices (a watcher polling
CURRENT, or ``POST /v1/admin/reload``), opens the new generation, builds a new
Searcher with the answer service's model and retrieval settings, runs one query
through it, and only then replaces the service's ``searcher`` in one assignment.
A request that already took the old one finishes on it; the old index is not
closed explicitly (that would break
those requests): its SQLite connection and vectors are freed when the last
request holding it ends. During a reload both indexes are in memory.

The same path recovers a server that started with an unreadable index
(the service's ``searcher`` None, its ``index_error`` set): the watcher retries
when CURRENT changes and every ``RECOVERY_RETRY`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path

import anyio
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from answer.searcher import Searcher
from answer.service import AnswerService
from index.store import IndexUnavailable
from server.access import require_admin
from server.metrics import Metrics
from server.schemas import ErrorResponse

log = logging.getLogger("citeline.reload")

# A server without a loadable index tries again this often even if CURRENT is unchanged
# (someone may restore a damaged file in place).
RECOVERY_RETRY = 30.0
WARM_UP_QUERY = "index warm-up query"


class ReloadFailed(Exception):
    def __init__(self, message: str, *, serving: bool) -> None:
        super().__init__(message)
        self.serving = serving


class ReloadResult(BaseModel):
    reloaded: bool = Field(description="True when a new index generation is now served")
    generation: str = Field(description="The generation served after this call")
    previous: str | None = Field(None, description="The generation served before, if replaced")
    documents: int
    chunks: int
    seconds: float = Field(description="Time spent loading and checking the new generation")


class Reloader:
    def __init__(self, app: FastAPI, metrics: Metrics, interval: float) -> None:
        self.app = app
        self.metrics = metrics
        self.interval = interval
        self._lock = threading.Lock()
        self._last_attempt = 0.0
        # Loading runs in its own worker thread: it must not wait behind a
        # threadpool full of requests, nor take their places.
        self._limiter = anyio.CapacityLimiter(1)

    # -- where the index is ---------------------------------------------------

    @property
    def answers(self) -> AnswerService:
        answers: AnswerService = self.app.state.answers
        return answers

    @property
    def served(self) -> Searcher | None:
        answers = getattr(self.app.state, "answers", None)
        return answers.searcher if answers is not None else None

    def root(self) -> Path:
        served = self.served
        if served is not None:
            return Path(served.root)
        answers = getattr(self.app.state, "answers", None)
        if answers is not None:
            return Path(answers.index_dir)
        return Path(self.app.state.settings.index)

    def due(self) -> bool:
        """Whether the watcher should attempt a reload now: a collection was created or
        deleted, or one's CURRENT names a generation not served (nor failed already)."""
        served = self.served
        if served is not None:
            return served.library.due()
        return time.monotonic() - self._last_attempt >= RECOVERY_RETRY or self._changed()

    def _changed(self) -> bool:
        try:
            return self.answers.library(self.root()).due()
        except IndexUnavailable:
            return False

    # -- reloading ------------------------------------------------------------------

    def reload(self, *, trigger: str) -> ReloadResult:
        """Blocking; run in a worker thread. One reload at a time."""
        with self._lock:
            old = self.served
            self._last_attempt = time.monotonic()
            retrying = trigger == "api" and bool(old is not None and old.library.errors)
            if old is not None and not old.library.due() and not retrying:
                self.metrics.reloads.labels(trigger=trigger, outcome="unchanged").inc()
                return _result(old, reloaded=False, previous=None, seconds=0.0)
            started = time.perf_counter()
            try:
                # Asked for, or nothing served: generations that failed before are tried
                # again too (a damaged file may have been repaired in place).
                retry = trigger == "api" or old is None
                new = self.answers.open_searcher(self.root(), retry=retry)
                errors = dict(new.library.errors)
                if errors and (old is None or new.state == old.state):
                    # Nothing new is served: the change that was due failed to load.
                    raise IndexUnavailable("; ".join(f"{n}: {e}" for n, e in errors.items()))
            except Exception as exc:  # any failure must leave the served index alone
                self.metrics.reloads.labels(trigger=trigger, outcome="failed").inc()
                message = str(exc) if isinstance(exc, IndexUnavailable) else repr(exc)
                if old is None:
                    self.answers.index_error = message
                log.error(
                    "index reload failed: %s; %s",
                    message,
                    f"still serving {old.describe()}" if old else "no index served",
                )
                raise ReloadFailed(message, serving=old is not None) from exc
            seconds = time.perf_counter() - started
            # The swap: one assignment; requests holding ``old`` finish on it.
            answers = self.answers
            answers.searcher = new
            answers.index_error = None
            self.metrics.reloads.labels(trigger=trigger, outcome="swapped").inc()
            previous = old.describe() if old else None
            log.warning(
                "index reloaded: now serving %s (%d documents, %d passages; was %s) in %.2f s%s",
                new.describe(),
                new.document_count,
                new.chunk_count,
                previous,
                seconds,
                f"; not loaded: {errors}" if errors else "",
            )
            return _result(new, reloaded=True, previous=_generation(old), seconds=seconds)

    async def reload_async(self, *, trigger: str) -> ReloadResult:
        return await anyio.to_thread.run_sync(
            lambda: self.reload(trigger=trigger), limiter=self._limiter
        )

    # -- watching ----------------------------------------------------------------------

    async def watch(self) -> None:
        """Poll CURRENT every ``interval`` seconds; runs for the app's lifetime."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                due = await anyio.to_thread.run_sync(self.due, limiter=self._limiter)
                if due:
                    await self.reload_async(trigger="watch")
            except ReloadFailed:
                pass  # logged; the served index stays
            except Exception:
                log.exception("index watcher error; it keeps watching")


def _generation(served: Searcher | None) -> str | None:
    """The generation of a single collection, or ``name:generation`` of each, joined."""
    if served is None:
        return None
    if len(served.indexes) == 1:
        return next(iter(served.indexes.values())).generation.name
    return served.describe()


def _result(
    served: Searcher, *, reloaded: bool, previous: str | None, seconds: float
) -> ReloadResult:
    return ReloadResult(
        reloaded=reloaded,
        generation=_generation(served) or "",
        previous=previous,
        documents=served.document_count,
        chunks=served.chunk_count,
        seconds=round(seconds, 3),
    )


# Acts on every collection: admin keys of all collections only (server/access.py).
router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.post(
    "/reload",
    response_model=ReloadResult,
    summary="Load the index's newest generation now (the watcher does it by itself)",
    responses={
        403: {"model": ErrorResponse, "description": "Not an admin key for all collections"},
        409: {
            "model": ErrorResponse,
            "description": "The new generation cannot be loaded; the previous one is still served",
        },
        503: {
            "model": ErrorResponse,
            "description": "No index is loaded and the index is still unreadable",
        },
    },
)
async def reload_index(request: Request) -> ReloadResult:
    reloader: Reloader = request.app.state.reloader
    try:
        return await reloader.reload_async(trigger="api")
    except ReloadFailed as exc:
        if exc.serving:
            raise HTTPException(409, f"{exc}; the previous index is still served") from None
        raise HTTPException(503, str(exc)) from None
