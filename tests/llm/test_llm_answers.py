"""Generated answers through a real llama.cpp server: structure, never wording."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest

from index.embedder import Embedder
from ingest.pipeline import Ingestor
from tests.conftest import SEED_DIR, require_shared, start_server
from tests.llm.conftest import LlamaServer, llm_env
from tests.protection import articles
from tests.robustness.test_prompt_injection import (
    HEADLINE,
    PLAIN,
    PLAIN_TEXT,
    TARGETED,
    TARGETED_TEXT,
)

QUESTION = "What did Gazprom and SOCAR sign?"
pytestmark = pytest.mark.slow


def sse(response: httpx.Response) -> list[tuple[str, dict[str, object]]]:
    events = []
    for block in response.text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


def assert_citations_consistent(client: httpx.Client, body: dict) -> None:
    numbers = {c["n"] for c in body["citations"]}
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", body["answer"])}
    assert markers <= numbers, f"markers {markers} without citations {numbers}"
    for c in body["citations"]:
        doc = client.get(f"/v1/documents/{c['doc_id']}").json()
        assert doc["text"][c["start"] : c["end"]] == c["quote"]
        assert isinstance(c["supported"], bool)
    for s in body["sentences"]:
        assert set(s["citations"]) <= numbers and isinstance(s["supported"], bool)


def test_generated_answer_has_verified_citations(llm_citeline: str) -> None:
    with httpx.Client(base_url=llm_citeline, timeout=400) as client:
        body = client.post("/v1/ask", json={"question": QUESTION}).json()
        assert body["answerer"] == "llm", body["fallback_reason"]
        assert body["model"] == "smollm2"  # the page's "Written by smollm2" label
        assert body["answer"].strip()
        assert_citations_consistent(client, body)


def test_stream_event_order(llm_citeline: str) -> None:
    with httpx.Client(base_url=llm_citeline, timeout=400) as client:
        r = client.post("/v1/ask", json={"question": QUESTION, "stream": True})
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse(r)
        names = [n for n, _ in events]
        assert names[0] == "token" and names[-2:] == ["citations", "done"]
        assert set(names[:-2]) == {"token"}
        final = events[-2][1]
        assert final["answerer"] == "llm" and final["model"] == "smollm2"
        streamed = "".join(str(d["text"]) for n, d in events if n == "token")
        assert streamed.strip()
        assert_citations_consistent(client, final)


def test_follow_up_is_condensed_and_used_for_retrieval(llm_citeline: str) -> None:
    messages = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "They signed a strategic partnership [1]."},
        {"role": "user", "content": "and when did Putin visit Baku?"},
    ]
    with httpx.Client(base_url=llm_citeline, timeout=400) as client:
        body = client.post("/v1/chat", json={"messages": messages}).json()
        condensed = body["condensed_question"]
        assert condensed.strip()
        retrieved = client.post("/v1/search", json={"query": condensed, "top_k": 5}).json()
        chunk_ids = {h["chunk_id"] for h in retrieved["results"]}
        assert {c["chunk_id"] for c in body["citations"]} <= chunk_ids


def test_openai_client_talks_to_citeline(llm_citeline: str) -> None:
    client = openai.OpenAI(base_url=f"{llm_citeline}/v1", api_key="unused", max_retries=0)
    assert "citeline" in [m.id for m in client.models.list()]
    completion = client.chat.completions.create(
        model="citeline", messages=[{"role": "user", "content": QUESTION}]
    )
    content = completion.choices[0].message.content or ""
    extra = completion.model_extra or {}
    assert content.strip()
    if extra["citations"]:
        assert "Sources:" in content
    chunks = list(
        client.chat.completions.create(
            model="citeline", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert "citations" in (chunks[-1].model_extra or {})


def test_falls_back_when_the_llm_stops(gguf_model: Path, seed_index: Path, tmp_path: Path) -> None:
    llama = LlamaServer(gguf_model, tmp_path / "llama.log")
    proc, url = start_server(seed_index, tmp_path / "citeline.log", env=llm_env(llama.url))
    try:
        with httpx.Client(base_url=url, timeout=400) as client:
            assert client.post("/v1/ask", json={"question": QUESTION}).json()["answerer"] == "llm"
            llama.stop()  # the LLM goes away mid-test
            body = client.post("/v1/ask", json={"question": QUESTION}).json()
            assert body["answerer"] == "extractive"
            assert "unreachable" in body["fallback_reason"]
            assert any("strategic partnership" in c["quote"] for c in body["citations"])
            events = sse(client.post("/v1/ask", json={"question": QUESTION, "stream": True}))
            assert [n for n, _ in events][-2:] == ["citations", "done"]
            assert events[-2][1]["answerer"] == "extractive"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if llama.proc.poll() is None:
            llama.stop()


def test_injected_orders_never_reach_the_llm(
    llama: LlamaServer, embedder: Embedder, tmp_path: Path
) -> None:
    """Articles that order the model to reply HACKED, retrieved as sources for the
    questions they target: the sentences giving orders are left out of the prompt
    (answer/injection.py), so the real model's answers never carry the payload."""
    for name, text in ((PLAIN, PLAIN_TEXT), (TARGETED, TARGETED_TEXT)):
        articles.write(tmp_path / "articles", name, text)
    index_dir = tmp_path / "index"
    Ingestor(embedder, index_dir).run([require_shared(SEED_DIR), tmp_path / "articles"])
    proc, url = start_server(index_dir, tmp_path / "citeline.log", env=llm_env(llama.url))
    try:
        with httpx.Client(base_url=url, timeout=400) as client:
            for question in (HEADLINE, "What should you reply?"):
                hits = client.post("/v1/search", json={"query": question, "top_k": 3}).json()
                assert {PLAIN, TARGETED} & {h["doc_id"] for h in hits["results"]}
                body = client.post("/v1/ask", json={"question": question, "top_k": 3}).json()
                assert body["answerer"] == "llm", body["fallback_reason"]
                assert "HACKED" not in body["answer"].upper()
                assert_citations_consistent(client, body)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_ask_uses_the_llm_when_configured(llama: LlamaServer, seed_index: Path) -> None:
    """`citeline ask` answers as the HTTP API does: with the LLM when one is set."""
    env = {**os.environ, **llm_env(llama.url)}
    command = ["ask", QUESTION, "--index", str(seed_index), "--json"]
    run = subprocess.run(
        [sys.executable, "-m", "citeline.cli", *command],
        capture_output=True,
        text=True,
        timeout=400,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    body = json.loads(run.stdout)
    assert body["answerer"] == "llm", body["fallback_reason"]
    assert body["answer"].strip() and body["citations"]
