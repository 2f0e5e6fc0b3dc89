"""Live reload in process: a new generation is loaded beside the old and swapped in."""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from answer.searcher import Searcher
from citeline.settings import Settings
from index.embedder import Embedder
from index.store import CURRENT
from ingest.pipeline import Ingestor
from tests.protection import articles
from tests.protection.conftest import AppFactory
from tests.protection.helpers import AUTH, TEST_KEY, copy_index

Opener = Callable[[FastAPI], TestClient]


@pytest.fixture
def index_copy(tmp_path: Path, seed_index: Path) -> Path:
    return copy_index(seed_index, tmp_path / "index")


def _search_ids(client: TestClient, query: str, **headers: str) -> list[str]:
    r = client.post("/v1/search", json={"query": query, "top_k": 3}, headers=headers)
    assert r.status_code == 200, r.text
    return [hit["doc_id"] for hit in r.json()["results"]]


def test_reload_endpoint_swaps_in_the_new_generation(
    make_app: AppFactory,
    open_client: Opener,
    index_copy: Path,
    embedder: Embedder,
    tmp_path: Path,
) -> None:
    old_qa = Searcher.open(index_copy, embedder=embedder)
    # An admin key: /v1/admin/* is for admins of every collection.
    app = make_app({"CITELINE_ADMIN_KEYS": TEST_KEY}, qa=old_qa)
    client = open_client(app)
    extractive = app.state.answers.extractive
    old_generation = old_qa.index.generation.name
    assert articles.GLASSWORKS_ID not in _search_ids(client, articles.GLASSWORKS_QUERY, **AUTH)

    articles.write(tmp_path / "new", articles.GLASSWORKS_ID, articles.GLASSWORKS)
    Ingestor(embedder, index_copy).run([tmp_path / "new"])
    assert client.post("/v1/admin/reload").status_code == 401  # keyed

    r = client.post("/v1/admin/reload", headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["reloaded"] is True
    assert body["previous"] == old_generation and body["generation"] != old_generation
    assert body["documents"] == 2
    assert _search_ids(client, articles.GLASSWORKS_QUERY, **AUTH)[0] == articles.GLASSWORKS_ID
    # Counts and generations go to keyed callers only (probes learn ready or not).
    ready = client.get("/readyz", headers=AUTH).json()
    assert ready["generation"] == body["generation"] and ready["documents"] == 2

    new_qa = app.state.answers.searcher
    assert new_qa is not old_qa
    assert new_qa.embedder is old_qa.embedder  # the model is shared, not loaded again
    assert app.state.answers.extractive is extractive  # the answerers stay, only the index moves
    # the reloaded generation keeps the configured retrieval settings
    assert (new_qa.mode, new_qa.fusion, new_qa.default_top_k) == (
        app.state.answers.mode,
        app.state.answers.fusion,
        app.state.answers.top_k,
    )
    # a request that took the old service before the swap can still finish on it
    assert old_qa.search("Gazprom SOCAR", 2)

    again = client.post("/v1/admin/reload", headers=AUTH).json()
    assert again["reloaded"] is False and again["generation"] == body["generation"]
    metrics = client.get("/metrics", headers=AUTH).text
    assert 'citeline_index_reloads_total{outcome="swapped",trigger="api"} 1.0' in metrics
    assert 'citeline_index_reloads_total{outcome="unchanged",trigger="api"} 1.0' in metrics
    assert "citeline_index_documents 2.0" in metrics


def test_a_replaced_index_is_freed_once_nothing_holds_it(
    make_app: AppFactory,
    open_client: Opener,
    index_copy: Path,
    embedder: Embedder,
    tmp_path: Path,
) -> None:
    # The first service stays referenced by create_app's lifespan (it was handed in);
    # the generation loaded by the first reload is held by nothing but app.state.
    app = make_app(qa=Searcher.open(index_copy, embedder=embedder))
    client = open_client(app)
    articles.write(tmp_path / "a", articles.GLASSWORKS_ID, articles.GLASSWORKS)
    Ingestor(embedder, index_copy).run([tmp_path / "a"])
    assert client.post("/v1/admin/reload").json()["reloaded"] is True
    middle = weakref.ref(app.state.answers.searcher.index)
    articles.write(tmp_path / "b", articles.LANTERN_ID, articles.LANTERN)
    Ingestor(embedder, index_copy).run([tmp_path / "b"])
    assert client.post("/v1/admin/reload").json()["documents"] == 3
    gc.collect()
    assert middle() is None  # no leak across reloads: memory returns to one index


def test_watcher_picks_up_a_new_generation(
    make_app: AppFactory,
    open_client: Opener,
    index_copy: Path,
    embedder: Embedder,
    tmp_path: Path,
) -> None:
    app = make_app(
        {"CITELINE_RELOAD_INTERVAL": "0.2"}, qa=Searcher.open(index_copy, embedder=embedder)
    )
    client = open_client(app)
    articles.write(tmp_path / "new", articles.LANTERN_ID, articles.LANTERN)
    summary = Ingestor(embedder, index_copy).run([tmp_path / "new"])
    assert summary.committed
    deadline = time.monotonic() + 15
    while client.get("/readyz").json()["documents"] != 2:
        assert time.monotonic() < deadline, "the watcher did not load the new generation"
        time.sleep(0.1)
    assert _search_ids(client, articles.LANTERN_QUERY)[0] == articles.LANTERN_ID
    assert 'trigger="watch"' in client.get("/metrics").text


def test_a_broken_new_generation_is_refused_and_the_old_one_keeps_serving(
    make_app: AppFactory,
    open_client: Opener,
    index_copy: Path,
    embedder: Embedder,
    tmp_path: Path,
) -> None:
    app = make_app(qa=Searcher.open(index_copy, embedder=embedder))
    client = open_client(app)
    serving = app.state.answers.searcher.index.generation.name
    articles.write(tmp_path / "new", articles.GLASSWORKS_ID, articles.GLASSWORKS)
    Ingestor(embedder, index_copy).run([tmp_path / "new"])
    new_generation = (index_copy / CURRENT).read_text().strip()
    vectors = index_copy / new_generation / "vectors.faiss"
    vectors.write_bytes(vectors.read_bytes()[:100])  # a torn file

    r = client.post("/v1/admin/reload")
    assert r.status_code == 409
    assert "vectors.faiss" in r.json()["error"] and "still served" in r.json()["error"]
    assert app.state.answers.searcher.index.generation.name == serving
    assert client.post("/v1/search", json={"query": "Gazprom"}).status_code == 200
    assert client.get("/readyz").json()["generation"] == serving


def test_reload_recovers_a_server_that_started_without_an_index(
    make_app: AppFactory,
    open_client: Opener,
    index_copy: Path,
    embedder: Embedder,
) -> None:
    """The state the lifespan leaves when the index was unreadable at startup."""
    app = make_app(qa=Searcher.open(index_copy, embedder=embedder))
    client = open_client(app)
    app.state.embedder = app.state.answers.searcher.embedder  # what the lifespan keeps for reload
    app.state.answers.searcher = None
    app.state.answers.index_error = "cannot read vectors file ...: test"
    assert "citeline_index_ready 0.0" in client.get("/metrics").text

    r = client.post("/v1/admin/reload")
    assert r.status_code == 200, r.text
    assert r.json()["reloaded"] is True and r.json()["previous"] is None
    assert app.state.answers.searcher is not None and app.state.answers.index_error is None
    assert (
        app.state.answers.searcher.embedder is embedder
        or app.state.answers.searcher.embedder is app.state.embedder
    )
    assert client.post("/v1/search", json={"query": "Gazprom"}).status_code == 200


def test_recovery_failure_is_a_503_and_records_the_error(
    make_app: AppFactory,
    open_client: Opener,
    index_copy: Path,
    embedder: Embedder,
) -> None:
    app = make_app(qa=Searcher.open(index_copy, embedder=embedder))
    client = open_client(app)
    app.state.embedder = app.state.answers.searcher.embedder
    app.state.answers.searcher = None
    app.state.answers.index_error = "startup error"
    (index_copy / CURRENT).write_text("gen-that-does-not-exist\n")
    r = client.post("/v1/admin/reload")
    assert r.status_code == 503
    assert "gen-that-does-not-exist" in r.json()["error"]
    assert "gen-that-does-not-exist" in app.state.answers.index_error


def test_the_generation_loaded_at_startup_is_freed_after_a_reload(
    monkeypatch: pytest.MonkeyPatch,
    open_client: Opener,
    index_copy: Path,
    embedder: Embedder,
    tmp_path: Path,
) -> None:
    """The app loads the index itself (as `citeline serve` does); after a reload nothing,
    the lifespan included, may keep the first generation in memory."""
    import server.app

    monkeypatch.setenv("CITELINE_RELOAD_INTERVAL", "0")
    # The session's model instead of a second 90 MB copy: the same real model.
    monkeypatch.setattr(server.app, "Embedder", lambda threads=None, config=None: embedder)
    app = server.app.create_app(Settings(index=index_copy))
    client = open_client(app)
    first = weakref.ref(app.state.answers.searcher.index)
    articles.write(tmp_path / "new", articles.GLASSWORKS_ID, articles.GLASSWORKS)
    Ingestor(embedder, index_copy).run([tmp_path / "new"])
    assert client.post("/v1/admin/reload").json()["reloaded"] is True
    gc.collect()
    assert first() is None, "the startup generation is still referenced after the swap"
