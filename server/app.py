"""The FastAPI application: built by ``create_app``, models loaded once in its lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import faiss
from fastapi import FastAPI

from answer.searcher import Searcher
from answer.service import AnswerService
from citeline.settings import Settings, load_settings
from index.embedder import Embedder, EmbedderConfig
from index.tokens import use_bpe_file
from server import documents as writes
from server import errors, protection
from server.feedback import FeedbackStore, default_path
from server.metrics import metrics_of
from server.routes import answers as answer_routes
from server.routes import documents as document_routes
from server.routes import feedback, health, openai_compat, page, retrieval
from slackbot import install_slack

log = logging.getLogger("citeline.server")


def create_app(settings: Settings | None = None, searcher: Searcher | None = None) -> FastAPI:
    """``searcher`` lets a caller that already loaded the model and index hand them over."""
    settings = settings or load_settings()
    use_bpe_file(settings.tiktoken_bpe)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Requests search one query each: OpenMP's fork-join around a single query
        # costs more than the scan itself (0.2 ms with one thread vs 8 ms with two on
        # a busy 2-core box), and concurrent requests already use the cores.
        faiss.omp_set_num_threads(1)
        embedder = (
            searcher.embedder
            if searcher
            else Embedder(
                config=EmbedderConfig.from_settings(
                    settings.embedder, role="serve", threads=settings.server_embed_threads
                )
            )
        )
        app.state.embedder = embedder
        answers = AnswerService.from_settings(
            settings, embedder=embedder, searcher=searcher, timings=metrics_of(app)
        )
        if answers.index_error is not None:
            # Stay up and unready instead of exiting into a restart loop: a
            # repaired index is picked up by POST /v1/admin/reload or the watcher.
            log.error("index not loaded: %s", answers.index_error)
        # Slack's worker threads hand their questions to this loop.
        answers.bind_loop(asyncio.get_running_loop())
        app.state.answers = answers
        del answers  # the suspended lifespan must not pin a generation after a reload
        log.warning(app.state.answers.describe())
        writer = writes.start(app, embedder, settings)
        try:
            yield
        finally:
            writer.close()
            answers = app.state.answers
            answers.bind_loop(None)
            await answers.aclose()
            if searcher is None and answers.searcher is not None:
                answers.searcher.close()

    app = FastAPI(
        title="Citeline",
        version="0.1.0",
        summary="Answers from your articles, every claim cited to its exact passage.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.answers = None
    app.state.feedback = FeedbackStore(settings.feedback_db or default_path(settings.index))
    errors.install(app)
    app.include_router(health.router)
    app.include_router(retrieval.router)
    app.include_router(answer_routes.router)
    app.include_router(feedback.router)
    app.include_router(openai_compat.router)
    app.include_router(document_routes.router)
    app.include_router(page.router)
    install_slack(app)
    # Last: its middleware must wrap everything added before it.
    protection.install(app)
    return app
