"""In-process apps over the seed index with the protection layer, built per test.

Settings come from the environment exactly as in production (``CITELINE_*``),
set per test with monkeypatch; ``install`` is idempotent, so these tests work
whether or not ``create_app`` already calls it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from answer.searcher import Searcher
from citeline.settings import Settings
from index.embedder import Embedder
from server.app import create_app
from server.protection import install
from tests.protection.helpers import PROTECTION_ENV

AppFactory = Callable[..., FastAPI]


@pytest.fixture(scope="session")
def seed_qa(seed_index: Path, embedder: Embedder) -> Searcher:
    """Shared and read-only: an app handed a service does not close it."""
    return Searcher.open(seed_index, embedder=embedder)


@pytest.fixture
def make_app(monkeypatch: pytest.MonkeyPatch, seed_index: Path, seed_qa: Searcher) -> AppFactory:
    """``make_app(env, qa=...)``: the real app over ``qa`` (default: the seed index)."""
    for name in PROTECTION_ENV:
        monkeypatch.delenv(name, raising=False)

    def build(env: dict[str, str] | None = None, *, qa: Searcher | None = None) -> FastAPI:
        # The watcher is off unless a test turns it on: most tests never reload.
        for name, value in {"CITELINE_RELOAD_INTERVAL": "0", **(env or {})}.items():
            monkeypatch.setenv(name, value)
        qa = qa or seed_qa
        app = create_app(Settings(index=qa.index.root), searcher=qa)
        install(app)
        return app

    return build


@pytest.fixture
def open_client() -> Iterator[Callable[[FastAPI], TestClient]]:
    """Starts an app (its lifespan included) and closes it after the test."""
    clients: list[TestClient] = []

    def start(app: FastAPI) -> TestClient:
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)
