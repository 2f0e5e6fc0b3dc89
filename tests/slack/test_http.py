"""The Slack bot in HTTP mode, end to end: real signed requests to the real Citeline
app on 127.0.0.1 (seed index, real embedder), answers checked where they land.

Slack's Web API cannot be reached from these machines: the bot's slack_sdk
clients talk to ``tests/slack/standin.py``, a local HTTP server that stands in
for Slack (it answers auth.test, conversations.replies and chat.postMessage like
Slack and records every call). Everything else is the real code path.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from index.text import split_sentences
from slackbot.blocks import ABSTAINED, QUOTE_CHARS, escape
from slackbot.bot import NOT_HERE
from tests.slack.conftest import (
    ALLOWED_CHANNEL,
    OTHER_CHANNEL,
    SlackClient,
    event_callback,
    new_ts,
    sign,
)
from tests.slack.standin import BOT_ID, BOT_TOKEN, BOT_USER_ID, Call, SlackStandIn

pytestmark = pytest.mark.slow

QUESTION = "What did Gazprom and SOCAR sign?"


def mention(text: str, channel: str = ALLOWED_CHANNEL, **extra: Any) -> dict[str, Any]:
    ts = extra.pop("ts", None) or new_ts()
    return {
        "type": "app_mention",
        "user": "UHUMAN1",
        "text": f"<@{BOT_USER_ID}> {text}",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        **extra,
    }


def dm(text: str, channel: str = "DHUMAN1", **extra: Any) -> dict[str, Any]:
    ts = extra.pop("ts", None) or new_ts()
    return {
        "type": "message",
        "channel_type": "im",
        "user": "UHUMAN1",
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        **extra,
    }


def posted(standin: SlackStandIn, channel: str, thread_ts: str, timeout: float = 60) -> Call:
    return standin.wait_for(
        lambda c: (
            c.method == "chat.postMessage"
            and c.status == 200
            and c.params.get("channel") == channel
            and c.params.get("thread_ts") == thread_ts
        ),
        timeout,
    )


def texts(blocks: list[dict[str, Any]], kind: str) -> list[str]:
    out: list[str] = []
    for b in blocks:
        if b["type"] != kind:
            continue
        out += (
            [e["text"] for e in b.get("elements", [])] if kind == "context" else [b["text"]["text"]]
        )
    return out


def barrier(slack: SlackClient, standin: SlackStandIn) -> None:
    """A question that is answered: once its answer is posted, anything sent before
    it that was going to be answered has had its turn too."""
    event = dm(QUESTION)
    assert slack.event(event).status_code == 200
    posted(standin, event["channel"], event["ts"])
    time.sleep(0.3)


def test_url_verification_challenge_is_answered(slack: SlackClient) -> None:
    r = slack.post_json({"token": "x", "challenge": "c-123-xyz", "type": "url_verification"})
    assert r.status_code == 200
    assert r.json() == {"challenge": "c-123-xyz"}


def test_mention_is_answered_in_its_thread_with_the_citation(
    slack: SlackClient, standin: SlackStandIn, citeline_url: str
) -> None:
    event = mention(QUESTION)
    started = time.monotonic()
    r = slack.event(event)
    acked_in = time.monotonic() - started
    assert r.status_code == 200
    assert acked_in < 3.0, f"Slack needs the ack within 3 s; took {acked_in:.2f}"

    call = posted(standin, ALLOWED_CHANNEL, event["ts"])
    assert call.token == BOT_TOKEN
    blocks = call.params["blocks"]
    [section] = texts(blocks, "section")
    assert "[1]" in section and "strategic partnership" in section
    assert call.params["unfurl_links"] is False
    assert "strategic partnership" in call.params["text"]  # the notification text

    # the same answer the API gives for the same question
    api = httpx.post(f"{citeline_url}/v1/ask", json={"question": QUESTION}, timeout=30).json()
    assert section == escape(api["answer"])
    # Each source line: its number, the article, and the quote it cites; a quote too
    # long for the line keeps its last sentence, the one that answers (the section
    # holds it whole).
    sources = texts(blocks, "context")
    quote = " ".join(api["citations"][0]["quote"].split())
    last = quote[split_sentences(quote)[-1][0] :]
    shown = escape(last[:60]) if len(quote) > QUOTE_CHARS else escape(quote[:60])
    assert any(s.startswith("*[1]*") and shown in s for s in sources), sources
    assert any("Azerbaijan" in s for s in sources)


def test_direct_message_is_answered_in_a_thread(slack: SlackClient, standin: SlackStandIn) -> None:
    event = dm("What did Gazprom and SOCAR sign?", channel="DHUMAN2")
    assert slack.event(event).status_code == 200
    call = posted(standin, "DHUMAN2", event["ts"])
    assert "strategic partnership" in texts(call.params["blocks"], "section")[0]


def test_slash_command_answers_in_channel(slack: SlackClient, standin: SlackStandIn) -> None:
    hook = standin.hook_url("ask-1")
    r = slack.command(
        {
            "token": "unused",
            "team_id": "T0CITELINE",
            "channel_id": ALLOWED_CHANNEL,
            "channel_name": "general",
            "user_id": "UHUMAN1",
            "user_name": "ana",
            "command": "/ask",
            "text": QUESTION,
            "response_url": hook,
            "trigger_id": "1.2.3",
            "api_app_id": "A0CITELINE",
        }
    )
    assert r.status_code == 200
    assert "Looking that up" in r.text  # the immediate, ephemeral ack

    call = standin.wait_for(lambda c: c.method == "hook" and c.path.endswith("/ask-1"))
    assert call.params["response_type"] == "in_channel"
    blocks = call.params["blocks"]
    asked = [b for b in blocks if b.get("block_id") == "citeline-asked"]
    assert asked and asked[0]["elements"][0]["text"] == f"<@UHUMAN1> asked: {QUESTION}"
    assert "strategic partnership" in texts(blocks, "section")[0]
    assert any(s.startswith("*[1]*") and "Azerbaijan" in s for s in texts(blocks, "context"))


def test_off_topic_question_says_it_abstains(slack: SlackClient, standin: SlackStandIn) -> None:
    event = mention("Who won the 2010 FIFA World Cup?")
    assert slack.event(event).status_code == 200
    call = posted(standin, ALLOWED_CHANNEL, event["ts"])
    [section] = texts(call.params["blocks"], "section")
    assert ABSTAINED in section
    assert texts(call.params["blocks"], "context") == []  # no sources listed


def test_forged_signature_is_refused_and_nothing_runs(
    slack: SlackClient, standin: SlackStandIn, citeline_url: str
) -> None:
    event = mention(QUESTION)
    forged = SlackClient(citeline_url, "not-the-signing-secret", slack.http)
    assert forged.event(event).status_code == 401
    unsigned = slack.http.post(
        f"{citeline_url}/slack/events",
        content=json.dumps({"type": "event_callback", "event": event}),
        headers={"Content-Type": "application/json"},
    )
    assert unsigned.status_code == 401
    # a valid signature of another body does not carry over to this one
    headers = sign(slack.secret, b'{"type": "url_verification", "challenge": "a"}')
    tampered = slack.http.post(
        f"{citeline_url}/slack/events",
        content=json.dumps(event_callback(event)),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert tampered.status_code == 401
    barrier(slack, standin)
    assert standin.posts_in_thread(ALLOWED_CHANNEL, event["ts"]) == []


def test_stale_timestamp_is_refused(slack: SlackClient, standin: SlackStandIn) -> None:
    event = mention(QUESTION)
    six_minutes_ago = int(time.time()) - 6 * 60
    assert slack.event(event, timestamp=six_minutes_ago).status_code == 401
    four_minutes_ago = int(time.time()) - 4 * 60
    fresh = mention(QUESTION)
    assert slack.event(fresh, timestamp=four_minutes_ago).status_code == 200  # within 5 minutes
    posted(standin, ALLOWED_CHANNEL, fresh["ts"])
    assert standin.posts_in_thread(ALLOWED_CHANNEL, event["ts"]) == []


def test_bot_messages_are_never_answered(slack: SlackClient, standin: SlackStandIn) -> None:
    own = dm(QUESTION, user=BOT_USER_ID, bot_id=BOT_ID)  # our own answer in a DM
    own_mention = mention(QUESTION, user=BOT_USER_ID)
    other_bot = mention(QUESTION, bot_id="BOTHERBOT", user="UOTHERBOT")
    other_bot_dm = dm(QUESTION, bot_id="BOTHERBOT", subtype="bot_message")
    del other_bot_dm["user"]  # bot_message events carry no user
    for e in (own, own_mention, other_bot, other_bot_dm):
        assert slack.event(e).status_code == 200
    barrier(slack, standin)
    for e in (own, own_mention, other_bot, other_bot_dm):
        assert standin.posts_in_thread(e["channel"], e["ts"]) == [], e


def test_a_redelivered_event_is_answered_once(slack: SlackClient, standin: SlackStandIn) -> None:
    event = mention(QUESTION)
    assert slack.event(event).status_code == 200
    assert slack.event(event).status_code == 200  # Slack retries when it misses an ack
    posted(standin, ALLOWED_CHANNEL, event["ts"])
    barrier(slack, standin)
    assert len(standin.posts_in_thread(ALLOWED_CHANNEL, event["ts"])) == 1


def test_channels_outside_the_allow_list_get_no_answer(
    slack: SlackClient, standin: SlackStandIn
) -> None:
    event = mention(QUESTION, channel=OTHER_CHANNEL)
    assert slack.event(event).status_code == 200
    call = posted(standin, OTHER_CHANNEL, event["ts"])
    assert texts(call.params["blocks"], "section") == [escape(NOT_HERE)]

    r = slack.command(
        {
            "team_id": "T0CITELINE",
            "channel_id": OTHER_CHANNEL,
            "user_id": "UHUMAN1",
            "command": "/ask",
            "text": QUESTION,
            "response_url": standin.hook_url("ask-refused"),
        }
    )
    assert r.status_code == 200 and "not enabled in this channel" in r.text
    barrier(slack, standin)
    assert standin.find(lambda c: c.path.endswith("/ask-refused")) == []


def test_thread_follow_up_uses_the_thread_history(
    slack: SlackClient, standin: SlackStandIn, citeline_url: str
) -> None:
    parent = new_ts()
    answer_ts = new_ts()
    follow_up = mention("Why does it matter for Russia?", thread_ts=parent)
    standin.threads[(ALLOWED_CHANNEL, parent)] = [
        {
            "type": "message",
            "user": "UHUMAN1",
            "text": f"<@{BOT_USER_ID}> {QUESTION}",
            "ts": parent,
        },
        {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": "An extensive strategic partnership [1].",
            "ts": answer_ts,
            "thread_ts": parent,
        },
        {"type": "message", "user": "UHUMAN2", "text": "interesting, thanks", "ts": new_ts()},
    ]
    assert slack.event(follow_up).status_code == 200
    call = posted(standin, ALLOWED_CHANNEL, parent)

    replies = standin.find(
        lambda c: c.method == "conversations.replies" and c.params.get("ts") == parent
    )
    assert replies and replies[0].params["channel"] == ALLOWED_CHANNEL
    expected = "Gazprom SOCAR sign: Why does it matter for Russia?"
    understood = [t for t in texts(call.params["blocks"], "context") if "Understood as" in t]
    assert understood == [f"_Understood as:_ {expected}"]
    # the thread is answered as /v1/chat answers the same conversation
    conversation = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "An extensive strategic partnership [1]."},
        {"role": "user", "content": "Why does it matter for Russia?"},
    ]
    api = httpx.post(f"{citeline_url}/v1/chat", json={"messages": conversation}, timeout=30).json()
    assert api["condensed_question"] == expected
    section = texts(call.params["blocks"], "section")[0]
    assert api["abstained"] is False and section == escape(api["answer"])
    assert "Gazprom" in section


def test_rate_limited_post_is_retried(slack: SlackClient, standin: SlackStandIn) -> None:
    standin.rate_limit_posts = 1
    event = dm(QUESTION, channel="DHUMAN3")
    assert slack.event(event).status_code == 200
    posted(standin, "DHUMAN3", event["ts"])
    attempts = standin.find(
        lambda c: c.method == "chat.postMessage" and c.params.get("thread_ts") == event["ts"]
    )
    assert [a.status for a in attempts] == [429, 200]


def test_oversized_body_is_refused(slack: SlackClient) -> None:
    r = slack.post_raw(b"x" * (300 * 1024), "application/json")
    assert r.status_code == 413
