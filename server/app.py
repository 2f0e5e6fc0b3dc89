"""The FastAPI application: built by ``create_app``, models loaded once in its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import faiss
from fastapi import FastAPI

from answer.answering import AnswerService
from answer.qa import QAService
from index.embedder import Embedder
from index.retrieval import FusionSettings
from index.store import IndexUnavailable
from server import errors, protection
from server.metrics import metrics_of
from server.routes import answers as answer_routes
from server.routes import health, openai_compat, page, retrieval
from server.settings import Settings
from slackbot import install_slack

log = logging.getLogger("citeline.server")


def create_app(settings: Settings | None = None, qa: QAService | None = None) -> FastAPI:
    """``qa`` lets a caller that already loaded the model and index hand them over."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Requests search one query each: OpenMP's fork-join around a single query
        # costs more than the scan itself (0.2 ms with one thread vs 8 ms with two on
        # a busy 2-core box), and concurrent requests already use the cores.
        faiss.omp_set_num_threads(1)
        embedder = qa.embedder if qa else Embedder(threads=settings.server_embed_threads)
        app.state.embedder = embedder
        service: QAService | None = qa
        app.state.index_error = None
        if service is None:
            try:
                service = QAService.load(
                    settings.index,
                    embedder=embedder,
                    top_k=settings.top_k,
                    mode=settings.retrieval_mode,
                    fusion=FusionSettings(
                        dense_weight=settings.fusion_dense_weight,
                        candidates=settings.fusion_candidates,
                    ),
                )
            except IndexUnavailable as exc:
                # Stay up and unready instead of exiting into a restart loop: a
                # repaired index is picked up by POST /v1/admin/reload or the watcher.
                app.state.index_error = str(exc)
                log.error("index not loaded: %s", exc)
        app.state.qa = service
        # The suspended lifespan must not pin this generation after a reload.
        del service
        answers = AnswerService.from_settings(settings, embedder, metrics_of(app))
        app.state.answers = answers
        log.warning(answers.describe())
        try:
            yield
        finally:
            await answers.aclose()
            if qa is None and app.state.qa is not None:
                app.state.qa.index.close()

    app = FastAPI(
        title="Citeline",
        version="0.1.0",
        summary="Answers from your articles, every claim cited to its exact passage.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)
    app.include_router(health.router)
    app.include_router(retrieval.router)
    app.include_router(answer_routes.router)
    app.include_router(openai_compat.router)
    app.include_router(page.router)
    install_slack(app)
    # Last: its middleware must wrap everything added before it.
    protection.install(app)
    return app
