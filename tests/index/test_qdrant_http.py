"""The HTTP API is the same on both vector backends: the same articles ingested by
the real ``citeline ingest`` once into FAISS and once into Qdrant (local mode,
set through CITELINE_INDEX_BACKEND and CITELINE_QDRANT_PATH), each served by a
real ``citeline serve``; /v1/search and /v1/ask must answer alike."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SHARED, require_shared, start_server

BBC = SHARED / "data" / "bbc" / "corpus.jsonl"
PER_CATEGORY = 8
QUESTIONS = [
    "Why did Time Warner's profits rise?",
    "Which film won at the awards?",
    "What did the government say about tax?",
]


def _env(backend: str, qdrant_path: Path) -> dict[str, str]:
    env = {"CITELINE_INDEX_BACKEND": backend}
    if backend == "qdrant":
        env["CITELINE_QDRANT_PATH"] = str(qdrant_path)
    return env


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    work = tmp_path_factory.mktemp("qdrant-http")
    corpus = work / "bbc.jsonl"
    taken: dict[str, int] = {}
    with require_shared(BBC).open(encoding="utf-8") as src, corpus.open("w") as dst:
        for line in src:
            category = json.loads(line)["category"]
            if taken.get(category, 0) < PER_CATEGORY:
                taken[category] = taken.get(category, 0) + 1
                dst.write(line)
    qdrant_path = work / "qdrant"
    procs: list[subprocess.Popen[bytes]] = []
    urls: dict[str, str] = {}
    base = {k: v for k, v in os.environ.items() if not k.startswith("CITELINE_QDRANT")}
    try:
        for backend in ("faiss", "qdrant"):
            index_dir = work / f"index-{backend}"
            env = _env(backend, qdrant_path)
            command = ["-m", "citeline.cli", "ingest", str(corpus), "--index", str(index_dir)]
            done = subprocess.run(
                [sys.executable, *command, "--json"],
                env={**base, **env},
                capture_output=True,
                timeout=600,
            )
            assert done.returncode == 0, done.stderr.decode()
            assert json.loads(done.stdout)["documents"] == sum(taken.values())
            manifest_gen = (index_dir / "CURRENT").read_text().strip()
            manifest = json.loads((index_dir / manifest_gen / "manifest.json").read_text())
            assert (manifest["vectors"]["kind"] == "qdrant") == (backend == "qdrant")
            proc, url = start_server(index_dir, work / f"{backend}.log", env)
            procs.append(proc)
            urls[backend] = url
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _post(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(f"{url}{path}", json=body, timeout=60)
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
@pytest.mark.parametrize("filters", [None, {"category": "business"}, {"doc_id": "tech/003"}])
def test_search_is_the_same_on_both_backends(
    servers: dict[str, str], mode: str, filters: dict[str, str] | None
) -> None:
    for question in QUESTIONS:
        body: dict[str, Any] = {"query": question, "top_k": 5, "mode": mode}
        if filters:
            body["filters"] = filters
        faiss = _post(servers["faiss"], "/v1/search", body)["results"]
        qdrant = _post(servers["qdrant"], "/v1/search", body)["results"]
        assert faiss, (question, mode, filters)
        assert [set(r) for r in qdrant] == [set(r) for r in faiss]
        assert [r["chunk_id"] for r in qdrant] == [r["chunk_id"] for r in faiss]
        for a, b in zip(qdrant, faiss, strict=True):
            assert a["score"] == pytest.approx(b["score"], abs=1e-5)
            assert {k: v for k, v in a.items() if k != "score"} == {
                k: v for k, v in b.items() if k != "score"
            }
        if filters and "category" in filters:
            assert all(r["doc_id"].startswith("business/") for r in qdrant)


@pytest.mark.slow
def test_ask_is_the_same_on_both_backends(servers: dict[str, str]) -> None:
    answers = {}
    for question in QUESTIONS:
        faiss = _post(servers["faiss"], "/v1/ask", {"question": question})
        qdrant = _post(servers["qdrant"], "/v1/ask", {"question": question})
        assert set(qdrant) == set(faiss)
        assert qdrant["answer"] == faiss["answer"]
        assert qdrant["citations"] == faiss["citations"]
        answers[question] = qdrant
    first = answers[QUESTIONS[0]]
    assert not first["abstained"]
    assert first["citations"][0]["doc_id"] == "business/001"  # the Time Warner article
