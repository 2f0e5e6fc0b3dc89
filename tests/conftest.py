"""Shared fixtures: the real embedding model, a real index of the seed article,
a real ``citeline serve`` process on 127.0.0.1, and the vector backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from answer.searcher import Searcher
from answer.service import AnswerService
from citeline.settings import BackendSettings, LLMSettings, Settings
from index.embedder import Embedder
from index.vector_store import BackendConfig
from tests.launcher import free_port, serving, start_server

__all__ = ["free_port", "start_server"]  # the launcher's, where older imports find them

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SEED_DIR = SHARED / "corpus" / "seed"
SEED_ARTICLE = SEED_DIR / "putin-visit-to-azerbaijan.txt"


def require_shared(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"{path} is missing: the tests read the shared sample data beside the project")
    return path


@pytest.fixture(params=["faiss", "qdrant"])
def backend(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> BackendConfig:
    """Runs a test once per vector backend, chosen through the same ``CITELINE_*``
    variables a deployment sets (per test, so they never leak into the next one):
    commands a test starts read them; in-process writers get the returned config,
    read from those variables as the entry points read it.
    Qdrant runs in qdrant-client's local mode (the real client and its in-process
    engine): no Qdrant server can run on these machines."""
    monkeypatch.setenv("CITELINE_INDEX_BACKEND", request.param)
    monkeypatch.delenv("CITELINE_QDRANT_URL", raising=False)
    if request.param == "qdrant":
        monkeypatch.setenv("CITELINE_QDRANT_PATH", str(tmp_path_factory.mktemp("qdrant")))
    else:
        monkeypatch.delenv("CITELINE_QDRANT_PATH", raising=False)
    return BackendConfig.from_settings(BackendSettings())


def answer_service(searcher: Searcher) -> AnswerService:
    """The answer service the server builds, over an index already open, answering
    extractively (no LLM in these settings). Close it after use."""
    settings = Settings(_env_file=None, llm=LLMSettings(_env_file=None, base_url=None))
    return AnswerService.from_settings(settings, searcher=searcher)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    from ingest.pipeline import Ingestor

    index_dir = tmp_path_factory.mktemp("seed") / "index"
    summary = Ingestor(embedder, index_dir).run([require_shared(SEED_DIR)])
    assert summary.added == 1 and summary.committed
    return index_dir


@pytest.fixture(scope="session")
def server_url(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(seed_index, tmp_path_factory.mktemp("logs") / "server.log") as url:
        yield url
