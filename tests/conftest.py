"""Shared fixtures: the real embedding model, a real index of the seed article,
a real ``citeline serve`` process on 127.0.0.1, and the vector backends."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from answer.searcher import Searcher
from answer.service import AnswerService
from citeline.settings import BackendSettings, LLMSettings, Settings
from index.embedder import Embedder
from index.vector_store import BackendConfig

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    index_dir: Path, log_path: Path, env: dict[str, str] | None = None, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``citeline serve`` (on ``port`` or a free one) and wait until /readyz answers."""
    port = port or free_port()
    log = open(log_path, "wb")  # noqa: SIM115 - closed by the process owner
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "citeline.cli",
            "serve",
            "--index",
            str(index_dir),
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log_path.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    proc.kill()
    raise RuntimeError(f"server did not become ready: {log_path.read_text()}")


@pytest.fixture(scope="session")
def server_url(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = start_server(seed_index, tmp_path_factory.mktemp("logs") / "server.log")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
