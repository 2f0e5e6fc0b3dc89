"""The embedder backend as an operator sets it: ``--embed-backend``, CITELINE_EMBED_*,
and the query cache's counters in a real server's /metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from index.embedder import Embedder
from index.store import Index
from tests.conftest import SEED_DIR, require_shared, start_server


def citeline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "citeline.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_ingest_embed_backend_flag_is_used_and_recorded(
    tmp_path: Path, export_cache: Path, onnx_embedder: Embedder
) -> None:
    env = {"CITELINE_EMBED_CACHE_DIR": str(export_cache), "CITELINE_EMBED_BACKEND": "torch"}
    index = tmp_path / "index"
    seed = str(require_shared(SEED_DIR))
    r = citeline(
        "ingest", seed, "--index", str(index), "--embed-backend", "onnx", "--json", env=env
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["embed_backend"] == "onnx"  # the flag beats the variable
    with Index.open(index) as opened:
        assert opened.manifest.embed_backend == "onnx"
    other = tmp_path / "other"
    r = citeline("ingest", seed, "--index", str(other), "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["embed_backend"] == "torch"  # the variable without the flag


def test_the_default_backend_ingests_and_serves_in_bf16(
    tmp_path: Path, export_cache: Path, onnx_embedder: Embedder
) -> None:
    """No backend configured: ``citeline ingest`` and ``citeline serve`` use
    openvino-bf16 (an onnx server reading such an index: tests/index)."""
    environ = {k: v for k, v in os.environ.items() if k != "CITELINE_EMBED_BACKEND"}
    environ["CITELINE_EMBED_CACHE_DIR"] = str(export_cache)
    index = tmp_path / "index"
    seed = str(require_shared(SEED_DIR))
    r = subprocess.run(
        [sys.executable, "-m", "citeline.cli", "ingest", seed, "--index", str(index), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=environ,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["embed_backend"] == "openvino-bf16"
    proc, url = start_server(index, tmp_path / "server.log", environ=environ)
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            metrics = client.get("/metrics").text
            info = _sample(metrics, "citeline_embedder_backend_info", backend="openvino-bf16")
            assert info == 1
            hits = client.post("/v1/search", json={"query": "What did Gazprom and SOCAR sign?"})
            assert hits.status_code == 200, hits.text
            assert "SOCAR" in json.dumps(hits.json()["results"][0])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    with Index.open(index) as opened:
        assert opened.manifest.embed_backend == "openvino-bf16"


def test_ingest_refuses_an_unknown_backend(tmp_path: Path) -> None:
    r = citeline("ingest", str(SEED_DIR), "--index", str(tmp_path / "i"), "--embed-backend", "fast")
    assert r.returncode == 2
    assert "--embed-backend must be one of torch, onnx, openvino, openvino-bf16" in r.stderr
    assert not (tmp_path / "i").exists()
    r = citeline(
        "ingest",
        str(SEED_DIR),
        "--index",
        str(tmp_path / "i"),
        env={"CITELINE_EMBED_DEVICE": "tpu"},
    )
    assert r.returncode == 2 and "CITELINE_EMBED_DEVICE" in r.stderr


def _sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    raise AssertionError(f"{name} {labels} not in /metrics")


def test_server_serves_repeated_queries_from_the_cache_and_counts_them(
    seed_index: Path, export_cache: Path, onnx_embedder: Embedder, tmp_path: Path
) -> None:
    env = {
        "CITELINE_EMBED_BACKEND": "onnx",
        "CITELINE_EMBED_CACHE_DIR": str(export_cache),
        "CITELINE_EMBED_QUERY_CACHE": "16",
    }
    proc, url = start_server(seed_index, tmp_path / "server.log", env=env)
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            before = client.get("/metrics").text
            assert _sample(before, "citeline_embedder_backend_info", backend="onnx") == 1
            hits0 = _sample(before, "citeline_query_embedding_cache_lookups_total", result="hit")
            first = client.post("/v1/search", json={"query": "What did Gazprom and SOCAR sign?"})
            again = client.post("/v1/search", json={"query": "what did gazprom and SOCAR  sign?"})
            assert first.status_code == again.status_code == 200
            assert first.json() == again.json()
            after = client.get("/metrics").text
        assert _sample(after, "citeline_query_embedding_cache_lookups_total", result="hit") == (
            hits0 + 1
        )
        assert _sample(after, "citeline_query_embedding_cache_capacity") == 16
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_server_embeds_with_two_threads_only_on_openvino_bf16(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """bench/load.py: two threads serve more with OpenVINO's pool, one with torch."""
    from citeline.settings import Settings

    for name in ("CITELINE_EMBED_THREADS", "CITELINE_EMBED_BACKEND", "CITELINE_EMBED_DEVICE"):
        monkeypatch.delenv(name, raising=False)
    cores = min(2, os.cpu_count() or 1)
    assert Settings(_env_file=None).server_embed_threads == cores
    monkeypatch.setenv("CITELINE_EMBED_BACKEND", "torch")
    assert Settings(_env_file=None).server_embed_threads == 1
    monkeypatch.setenv("CITELINE_EMBED_THREADS", "3")
    assert Settings(_env_file=None).server_embed_threads == 3
