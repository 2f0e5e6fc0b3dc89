"""Slack answers with the LLM when one is configured, with the same fallback as the
HTTP API, and condenses a thread follow-up through it like /v1/chat.

The real llama.cpp test server with SmolLM2 (tests/llm) behind the real app, signed
events to /slack/events, the answer checked where it lands (the Slack stand-in), in
the app's own log record of the answer and in the llama server's access log. The
model is tiny and invents facts: structure is asserted, never wording.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pytest

from answer.searcher import Searcher
from citeline.settings import LLMSettings, ProtectionSettings, Settings, SlackSettings
from index.embedder import Embedder
from server.app import create_app
from slackbot.blocks import FAILED
from tests.launcher import free_port
from tests.llm.conftest import LlamaServer, gguf_model, llama  # noqa: F401 - fixtures
from tests.slack.conftest import ALLOWED_CHANNEL, SlackClient, new_ts, serve_app
from tests.slack.standin import BOT_ID, BOT_USER_ID, SlackStandIn
from tests.slack.test_http import QUESTION, mention, posted, texts

pytestmark = pytest.mark.slow

# The model answers slowly on a busy 2-core machine.
ANSWER_TIMEOUT = 600
COMPLETION = re.compile(r'"POST /v1/chat/completions HTTP/1\.1" 200')


def llm_settings(base_url: str) -> LLMSettings:
    return LLMSettings(
        _env_file=None,
        base_url=base_url,
        model="smollm2",
        context_tokens=2048,
        temperature=0,
        timeout=300,
        answer_tokens=120,
    )


@contextmanager
def slack_app(
    seed_index: Path, embedder: Embedder, slack_settings: SlackSettings, llm: LLMSettings
) -> Iterator[str]:
    settings = Settings(
        _env_file=None,
        index=seed_index,
        llm=llm,
        slack=slack_settings,
        protection=ProtectionSettings(_env_file=None, reload_interval=0),
    )
    searcher = Searcher.open(seed_index, embedder=embedder)
    try:
        with serve_app(create_app(settings, searcher=searcher)) as url:
            yield url
    finally:
        searcher.index.close()


def completions(server: LlamaServer) -> int:
    """Chat completions the llama server has answered so far (its uvicorn access log)."""
    return len(COMPLETION.findall(server.log.read_text(errors="replace")))


def answered(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    records = [r for r in caplog.records if r.getMessage() == "slack answer"]
    assert records, "the bot logged no answer"
    return records[-1]


OpenSlack = Callable[[str], AbstractContextManager[SlackClient]]


@pytest.fixture
def open_slack(
    seed_index: Path,
    embedder: Embedder,
    slack_settings: SlackSettings,
    signing_secret: str,
    caplog: pytest.LogCaptureFixture,
) -> OpenSlack:
    """``with open_slack(llm_url) as slack``: the app with that LLM, serving Slack's
    events, its answer log records captured."""

    @contextmanager
    def open_(llm_url: str) -> Iterator[SlackClient]:
        with (
            caplog.at_level(logging.INFO, logger="citeline.slack"),
            slack_app(seed_index, embedder, slack_settings, llm_settings(llm_url)) as url,
            httpx.Client(timeout=60) as http,
        ):
            yield SlackClient(url, signing_secret, http)

    return open_


def test_a_mention_and_its_thread_follow_up_are_answered_by_the_llm(
    llama: LlamaServer,  # noqa: F811
    open_slack: OpenSlack,
    standin: SlackStandIn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with open_slack(llama.url) as slack:
        before = completions(llama)
        event = mention(QUESTION)
        assert slack.event(event).status_code == 200
        call = posted(standin, ALLOWED_CHANNEL, event["ts"], timeout=ANSWER_TIMEOUT)
        record = answered(caplog)
        assert record.answerer == "llm" and record.fallback_reason is None  # type: ignore[attr-defined]
        # One completion: the answer (a first question has no thread to condense).
        assert completions(llama) == before + 1
        blocks = call.params["blocks"]
        assert texts(blocks, "section") and FAILED not in call.params["text"]
        assert not any("could not be used" in t for t in texts(blocks, "context"))
        # Labelled as the page labels it, with the configured model's name.
        assert "_Written by smollm2, checked against the quotes_" in texts(blocks, "context")

        # A follow-up in the thread: condensed by the LLM with the thread's earlier
        # messages (as /v1/chat does), then answered by it.
        parent, follow_up = event["ts"], mention("And why does it matter for Russia?")
        follow_up["thread_ts"] = parent
        standin.threads[(ALLOWED_CHANNEL, parent)] = [
            {"type": "message", "user": "UHUMAN1", "text": event["text"], "ts": parent},
            {
                "type": "message",
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "text": call.params["text"],
                "ts": new_ts(),
                "thread_ts": parent,
            },
        ]
        before = completions(llama)
        caplog.clear()
        assert slack.event(follow_up).status_code == 200
        standin.wait_for(
            lambda c: (
                c.method == "chat.postMessage"
                and c.params.get("thread_ts") == parent
                and c is not call
            ),
            ANSWER_TIMEOUT,
        )
        assert answered(caplog).answerer == "llm"  # type: ignore[attr-defined]
        assert completions(llama) == before + 2  # the condensed question, then the answer


def test_with_the_llm_down_slack_falls_back_to_quotes_and_says_why(
    open_slack: OpenSlack, standin: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    down = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    with open_slack(down) as slack:
        event = mention(QUESTION)
        assert slack.event(event).status_code == 200
        call = posted(standin, ALLOWED_CHANNEL, event["ts"], timeout=ANSWER_TIMEOUT)
        record = answered(caplog)
    assert record.answerer == "extractive" and record.fallback_reason  # type: ignore[attr-defined]
    blocks = call.params["blocks"]
    [section] = texts(blocks, "section")
    assert "[1]" in section and "strategic partnership" in section  # the verbatim quote
    notes = [t for t in texts(blocks, "context") if "could not be used" in t]
    assert len(notes) == 1 and "quotes the articles directly" in notes[0]
