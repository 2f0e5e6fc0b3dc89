"""Streaming, chat and the OpenAI-compatible endpoint in the default (extractive) mode,
over a real server; and the fallback when an LLM answers garbage."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import free_port, start_server
from tests.llm.test_llm_answers import QUESTION, sse


@pytest.fixture(scope="module")
def client(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, timeout=60) as c:
        yield c


def test_extractive_answer_streams_sentence_by_sentence(client: httpx.Client) -> None:
    whole = client.post("/v1/ask", json={"question": QUESTION}).json()
    events = sse(client.post("/v1/ask", json={"question": QUESTION, "stream": True}))
    names = [n for n, _ in events]
    assert names == ["token"] * len(whole["citations"]) + ["citations", "done"]
    assert "".join(str(d["text"]) for n, d in events if n == "token") == whole["answer"]
    final = events[-2][1]
    assert final["answer"] == whole["answer"] and final["answerer"] == "extractive"
    assert final["citations"] == whole["citations"]


def test_chat_condenses_a_follow_up(client: httpx.Client) -> None:
    messages = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "A strategic partnership [1]."},
        {"role": "user", "content": "and why does it matter for Russia?"},
    ]
    body = client.post("/v1/chat", json={"messages": messages}).json()
    assert "Gazprom" in body["condensed_question"] and "Russia" in body["condensed_question"]
    assert body["citations"] and not body["abstained"]
    events = sse(client.post("/v1/chat", json={"messages": messages, "stream": True}))
    assert events[0] == ("question", {"condensed_question": body["condensed_question"]})
    assert [n for n, _ in events][-2:] == ["citations", "done"]


@pytest.mark.parametrize(
    ("messages", "phrase"),
    [
        ([], "messages"),
        ([{"role": "assistant", "content": "hi"}], "last message"),
        ([{"role": "user", "content": "  "}], "must not be empty"),
        ([{"role": "robot", "content": "hi"}], "role"),
    ],
)
def test_chat_validation(client: httpx.Client, messages: list[dict[str, str]], phrase: str) -> None:
    r = client.post("/v1/chat", json={"messages": messages})
    assert r.status_code == 422 and phrase in r.json()["error"]


def test_openai_sdk_against_extractive_citeline(server_url: str) -> None:
    sdk = openai.OpenAI(base_url=f"{server_url}/v1", api_key="unused", max_retries=0)
    # citeline (every readable collection) and one model per collection
    assert [m.id for m in sdk.models.list()] == ["citeline", "citeline:default"]
    done = sdk.chat.completions.create(
        model="citeline", messages=[{"role": "user", "content": QUESTION}]
    )
    content = done.choices[0].message.content or ""
    assert "strategic partnership" in content and "Sources:" in content
    citations = (done.model_extra or {})["citations"]
    assert citations and citations[0]["quote"] in content
    chunks = list(
        sdk.chat.completions.create(
            model="citeline", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert (chunks[-1].model_extra or {})["citations"] == citations


class _Garbage(http.server.BaseHTTPRequestHandler):
    """Stands in for a broken LLM server: 200 OK with a body that is not a completion."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"unexpected": true}')

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _citeline_with_llm(
    handler: type[http.server.BaseHTTPRequestHandler], seed_index: Path, tmp_path: Path
) -> Iterator[str]:
    """A real Citeline server whose LLM is ``handler`` on a local port; its URL."""
    port = free_port()
    fake = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    env = {"CITELINE_LLM_BASE_URL": f"http://127.0.0.1:{port}/v1", "CITELINE_LLM_MODEL": "x"}
    proc, url = start_server(seed_index, tmp_path / "server.log", env=env)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        fake.shutdown()


def test_garbage_from_the_llm_falls_back_to_extractive(seed_index: Path, tmp_path: Path) -> None:
    with _citeline_with_llm(_Garbage, seed_index, tmp_path) as url:
        body = httpx.post(f"{url}/v1/ask", json={"question": QUESTION}, timeout=60).json()
        assert body["answerer"] == "extractive"
        assert "not a chat completion" in body["fallback_reason"]
        assert any("strategic partnership" in c["quote"] for c in body["citations"])


class _Looping(http.server.BaseHTTPRequestHandler):
    """Stands in for a small model stuck in a loop: one sentence, then another
    over and over. SmolLM2 does loop (session notes), but not on demand, so the
    loop is scripted here; the stream format is llama.cpp's."""

    sent = 0  # deltas written before Citeline hung up
    LOOP = 200

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        deltas = ["They signed a memorandum on ", "strategic partnership [1]. "]
        deltas += ["This shift is driven by ", "European sanctions [1]. "] * self.LOOP
        type(self).sent = 0
        try:
            for delta in deltas:
                chunk = {"choices": [{"delta": {"content": delta}}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
                type(self).sent += 1
                time.sleep(0.01)
            self.wfile.write(b"data: [DONE]\n\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: object) -> None:
        pass


def test_a_looping_model_is_shown_each_sentence_once_and_stopped(
    seed_index: Path, tmp_path: Path
) -> None:
    with _citeline_with_llm(_Looping, seed_index, tmp_path) as url:
        r = httpx.post(f"{url}/v1/ask", json={"question": QUESTION, "stream": True}, timeout=60)
        events = sse(r)
        streamed = "".join(str(d["text"]) for n, d in events if n == "token")
        assert streamed.count("This shift is driven by") == 1, streamed
        assert streamed.startswith("They signed a memorandum on strategic partnership [1]. ")
        final = events[-2][1]
        assert final["answerer"] == "llm"
        assert str(final["answer"]).count("This shift is driven by") == 1
        # Citeline hung up once the loop was plain: a second later the model has
        # still written only a few deltas of the 402 (one each 10 ms otherwise).
        time.sleep(1)
        assert _Looping.sent < 20, _Looping.sent
        # A reader of the whole answer (plain /v1/ask, Slack) gets the same.
        body = httpx.post(f"{url}/v1/ask", json={"question": QUESTION}, timeout=60).json()
        assert body["answerer"] == "llm"
        assert str(body["answer"]).count("This shift is driven by") == 1
        time.sleep(1)
        assert _Looping.sent < 20, _Looping.sent


class _Whole(http.server.BaseHTTPRequestHandler):
    """Stands in for an OpenAI-compatible server that ignores "stream": true and
    sends one whole completion; ``cut`` instead stops mid-stream."""

    cut = False

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        if self.cut:
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-length", "1000")  # promises more than it sends
            self.end_headers()
            chunk = {"choices": [{"delta": {"content": "They signed a memorandum "}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            return
        reply = "They signed a memorandum on strategic partnership [1]."
        body = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]})
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


class _CutOff(_Whole):
    cut = True


def test_a_server_that_ignores_stream_still_answers(seed_index: Path, tmp_path: Path) -> None:
    with _citeline_with_llm(_Whole, seed_index, tmp_path) as url:
        events = sse(
            httpx.post(f"{url}/v1/ask", json={"question": QUESTION, "stream": True}, timeout=60)
        )
        streamed = "".join(str(d["text"]) for n, d in events if n == "token")
        assert streamed == "They signed a memorandum on strategic partnership [1]."
        body = httpx.post(f"{url}/v1/ask", json={"question": QUESTION}, timeout=60).json()
        assert body["answerer"] == "llm" and "strategic partnership" in body["answer"]


def test_a_reply_cut_off_part_way_falls_back_to_quotes_for_a_whole_answer(
    seed_index: Path, tmp_path: Path
) -> None:
    with _citeline_with_llm(_CutOff, seed_index, tmp_path) as url:
        body = httpx.post(f"{url}/v1/ask", json={"question": QUESTION}, timeout=60).json()
        assert body["answerer"] == "extractive"
        assert "cut off" in body["fallback_reason"]
        assert any("strategic partnership" in c["quote"] for c in body["citations"])
    # The stream shows what came and says it was cut off. (A fresh server: the
    # first one now counts the LLM as down for a few seconds.)
    (tmp_path / "again").mkdir()
    with _citeline_with_llm(_CutOff, seed_index, tmp_path / "again") as url:
        events = sse(
            httpx.post(f"{url}/v1/ask", json={"question": QUESTION, "stream": True}, timeout=60)
        )
        assert ("token", {"text": "They signed a memorandum "}) in events
        assert any(n == "error" and "cut off" in str(d["error"]) for n, d in events)


def _chat(client: httpx.Client, *follow_ups: str) -> list[dict[str, object]]:
    """Ask QUESTION, then each follow-up, as a user of the chat box would: each
    request carries the conversation so far, answers included."""
    messages: list[dict[str, str]] = []
    bodies = []
    for text in (QUESTION, *follow_ups):
        messages.append({"role": "user", "content": text})
        body = client.post("/v1/chat", json={"messages": messages}).json()
        bodies.append(body)
        messages.append({"role": "assistant", "content": str(body["answer"])})
    return bodies


def test_when_was_it_signed_quotes_the_date(client: httpx.Client) -> None:
    first, follow = _chat(client, "When was it signed?")
    assert not follow["abstained"]
    quotes = [str(c["quote"]) for c in follow["citations"]]  # type: ignore[union-attr]
    assert any("On 19 August" in q for q in quotes), quotes
    # Not the first answer again: the date is what was asked.
    assert follow["answer"] != first["answer"]


def test_what_about_brics_quotes_the_brics_sentence(client: httpx.Client) -> None:
    _, follow = _chat(client, "What about BRICS?")
    assert "BRICS" in str(follow["condensed_question"])
    quotes = [str(c["quote"]) for c in follow["citations"]]  # type: ignore[union-attr]
    assert quotes and "BRICS" in quotes[0], quotes
    assert not any("Gazprom" in q for q in quotes), quotes


def test_streamed_chat_answers_the_same_follow_up(client: httpx.Client) -> None:
    messages = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "A strategic partnership [1]."},
        {"role": "user", "content": "What about BRICS?"},
    ]
    whole = client.post("/v1/chat", json={"messages": messages}).json()
    events = sse(client.post("/v1/chat", json={"messages": messages, "stream": True}))
    assert events[0] == ("question", {"condensed_question": whole["condensed_question"]})
    final = next(d for n, d in events if n == "citations")
    assert final["citations"] == whole["citations"]
