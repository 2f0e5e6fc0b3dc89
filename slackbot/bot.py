"""The Slack bot: a slack_bolt ``App`` whose listeners ack at once and answer later.

Slack wants an ack within 3 seconds and answering can take longer (the embedder
is CPU-bound), so every listener acks first and its work starts as a bolt *lazy
listener* once the ack is out. Bolt runs ack functions and lazy listeners on one
thread pool, and waits for each ack on it: if answers held those threads, a
burst of questions would starve the acks and Slack would retry. So the lazy
listener only hands the question to a separate, small answer pool
(``CITELINE_SLACK_WORKERS``, small because more threads would only make the
questions compete for the same cores) and returns.

The same ``App`` serves HTTP mode (``slackbot.http``) and Socket Mode
(``slackbot.socket``).
"""

from __future__ import annotations

import html
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from answer.condense import Turn, as_messages
from answer.service import AnswerService, too_long
from citeline.settings import SlackSettings
from slackbot import blocks

log = logging.getLogger("citeline.slack")
bolt_log = logging.getLogger("citeline.slack.bolt")


class _NoTokenSkippedWarning(logging.Filter):
    # Bolt also reads SLACK_BOT_TOKEN from the environment and warns that it goes
    # unused when a client is given; the client carries that same token.
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


bolt_log.addFilter(_NoTokenSkippedWarning())

# The answer service, looked up per question (the server builds it in its lifespan).
ServiceGetter = Callable[[], AnswerService]

# Turns of a thread given to the condenser, and messages read to find them.
MAX_TURNS = 12
REPLIES_LIMIT = 200

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_SPECIAL = re.compile(r"<!([a-z]+)(?:\|([^>]*))?>")  # <!here>, <!channel>, <!date...|fallback>
_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")  # <https://...|label>, <#C123|general>

USAGE = (
    "Ask me a question about the articles, for example: "
    "`@Citeline What did Gazprom and SOCAR sign?` or `/ask What did Gazprom and SOCAR sign?`"
)
NOT_HERE = (
    "Citeline is not enabled in this channel; ask in an allowed channel or in a direct message."
)


def retry_handlers() -> list[Any]:
    # Slack answers 429 with Retry-After when a workspace posts too fast;
    # slack_sdk waits that long and tries again instead of dropping the answer.
    return [
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=3),
    ]


def web_client(settings: SlackSettings) -> WebClient:
    token = settings.bot_token.get_secret_value() if settings.bot_token else None
    return WebClient(
        token=token, base_url=settings.api_url, timeout=15, retry_handlers=retry_handlers()
    )


def question_text(text: str) -> str:
    """A message's text as a plain question: mentions dropped, Slack's markup undone."""
    text = _MENTION.sub(" ", text)
    text = _SPECIAL.sub(lambda m: m.group(2) or "", text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    return " ".join(html.unescape(text).split())


def _ts(value: str | None) -> tuple[int, int]:
    # Slack timestamps are "seconds.micros" strings; floats lose the last digits.
    head, _, tail = (value or "0").partition(".")
    try:
        return int(head), int(tail or 0)
    except ValueError:
        return 0, 0


def _asked(message: Mapping[str, Any]) -> str | None:
    """The question echoed in one of our /ask answers (slash command text is not in the thread)."""
    for block in message.get("blocks") or ():
        if block.get("block_id") == blocks.ASKED_BLOCK:
            for element in block.get("elements") or ():
                text = element.get("text") or ""
                return question_text(text.split(": ", 1)[-1])
    return None


def thread_turns(
    messages: Sequence[Mapping[str, Any]],
    *,
    before_ts: str,
    bot_user_id: str | None,
    bot_id: str | None,
    dm: bool,
) -> list[Turn]:
    """The conversation in a thread before ``before_ts``: questions put to the bot and its answers.

    In a channel only messages that mention the bot count as questions (people also
    talk among themselves in threads); in a DM every message from the person does.
    """
    turns: list[Turn] = []
    for m in messages:
        if _ts(m.get("ts")) >= _ts(before_ts):
            continue
        text = m.get("text") or ""
        if (bot_id and m.get("bot_id") == bot_id) or (bot_user_id and m.get("user") == bot_user_id):
            asked = _asked(m)
            if asked:
                turns.append(Turn("user", asked))
            turns.append(Turn("assistant", html.unescape(text)))
        elif m.get("bot_id") or m.get("subtype") not in (None, "thread_broadcast"):
            continue  # other bots, joins, edits
        elif dm or (bot_user_id and f"<@{bot_user_id}" in text):
            question = question_text(text)
            if question:
                turns.append(Turn("user", question))
    return turns[-MAX_TURNS:]


def is_from_bot(event: Mapping[str, Any], context: BoltContext) -> bool:
    """Bots (ours included) never get an answer: two bots answering each other never stop."""
    return bool(
        event.get("bot_id")
        or event.get("subtype") == "bot_message"
        or event.get("bot_profile")
        or (context.bot_user_id and event.get("user") == context.bot_user_id)
        or not event.get("user")
    )


class _Seen:
    """Messages already taken on, so a retried or doubly delivered event is answered once
    (a DM that mentions the bot can arrive both as app_mention and as message.im)."""

    def __init__(self, size: int = 2048) -> None:
        self._keys: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def first_time(self, channel: str, ts: str) -> bool:
        key = (channel, ts)
        with self._lock:
            if key in self._keys:
                return False
            self._keys[key] = None
            if len(self._keys) > self._size:
                self._keys.popitem(last=False)
            return True


class SlackBot:
    def __init__(
        self,
        settings: SlackSettings,
        service: ServiceGetter,
        max_question_chars: int,
    ) -> None:
        self.settings = settings
        self.service = service
        self.max_question_chars = max_question_chars
        self.seen = _Seen()
        self.pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="citeline-slack-answer")

    def _later(self, work: Callable[..., None], *args: Any) -> None:
        def run() -> None:
            try:
                work(*args)
            except Exception:
                # Nothing else would see it: a pool swallows its tasks' errors.
                log.exception("slack: %s failed", work.__name__)

        self.pool.submit(run)

    # --- shared work -------------------------------------------------------

    def check(self, question: str) -> str | None:
        """Why this question cannot be answered, or None."""
        if not question:
            return USAGE
        return too_long(question, self.max_question_chars, "That question")

    def answer(
        self,
        question: str,
        history: Sequence[Turn],
        *,
        asked: str | None = None,
        asker: str | None = None,
        collections: list[str] | None = None,
    ) -> tuple[str, list[blocks.Block]]:
        """``collections``: what this channel may be answered from (None: all)."""
        # The same path as /v1/chat: the thread condensed (by the LLM when one is
        # configured), then the LLM's answer or the extractive one.
        service = self.service()
        messages = [*as_messages(history), {"role": "user", "content": question}]
        standalone, result = service.chat_sync(messages, collections=collections)
        standalone = standalone[: self.max_question_chars]
        log.info(
            "slack answer",
            extra={
                "condensed": standalone != question,
                "abstained": result.abstained,
                "answerer": result.answerer,
                "fallback_reason": result.fallback_reason,
            },
        )
        return blocks.answer_message(
            result,
            asked=asked,
            asker=asker,
            understood_as=standalone if standalone != question else None,
        )

    def history(
        self, client: WebClient, event: Mapping[str, Any], context: BoltContext
    ) -> list[Turn]:
        thread_ts = event.get("thread_ts")
        if not thread_ts or thread_ts == event.get("ts"):
            return []
        try:
            reply = client.conversations_replies(
                channel=event["channel"],
                ts=thread_ts,
                latest=event["ts"],
                inclusive=False,
                limit=REPLIES_LIMIT,
            )
        except SlackApiError as exc:
            # Most likely a missing *:history scope: answer without the thread.
            log.warning("could not read the thread: %s", exc.response.get("error"))
            return []
        return thread_turns(
            reply.get("messages") or [],
            before_ts=event["ts"],
            bot_user_id=context.bot_user_id,
            bot_id=context.bot_id,
            dm=event.get("channel_type") == "im",
        )

    def reply_in_thread(
        self, event: Mapping[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        if is_from_bot(event, context) or not event.get("channel") or not event.get("ts"):
            return
        channel, ts = event["channel"], event["ts"]
        if not self.seen.first_time(channel, ts):
            return
        thread_ts = event.get("thread_ts") or ts
        if not self.settings.channel_allowed(channel, event.get("channel_type")):
            log.info(
                "slack: asked in a channel that is not allowed",
                extra={"channel": channel},
            )
            text, body = blocks.notice(NOT_HERE)
        else:
            question = question_text(event.get("text") or "")
            problem = self.check(question)
            if problem:
                text, body = blocks.notice(problem)
            else:
                try:
                    text, body = self.answer(
                        question,
                        self.history(client, event, context),
                        collections=self.settings.collections_for(
                            channel, event.get("channel_type")
                        ),
                    )
                except Exception:
                    log.exception("slack: answering failed")
                    text, body = blocks.notice(blocks.FAILED)
        client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=text,
            blocks=body,
            unfurl_links=False,
            unfurl_media=False,
        )

    # --- listeners ---------------------------------------------------------

    def ack(self, ack: Ack) -> None:
        ack()

    def on_mention(self, event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        self._later(self.reply_in_thread, event, context, client)

    def on_message(self, event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        # Subscribed only to message.im; channel messages are answered when they mention us.
        if event.get("channel_type") != "im" or event.get("subtype") not in (
            None,
            "thread_broadcast",
        ):
            return
        self._later(self.reply_in_thread, event, context, client)

    def ack_command(self, ack: Ack, command: dict[str, Any]) -> None:
        question = question_text(command.get("text") or "")
        problem = None
        if not self.settings.channel_allowed(command.get("channel_id")):
            problem = NOT_HERE
        problem = problem or self.check(question)
        if problem:
            ack(text=problem)
        else:
            shown = blocks.escape(blocks.shorten(question, 200))
            ack(text=f"Looking that up in the articles: {shown}")

    def on_command(self, command: dict[str, Any]) -> None:
        self._later(self.answer_command, command)

    def answer_command(self, command: Mapping[str, Any]) -> None:
        question = question_text(command.get("text") or "")
        if not self.settings.channel_allowed(command.get("channel_id")):
            return
        if self.check(question) or not command.get("response_url"):
            return
        # A slash command has no thread and its text is seen by the asker only:
        # the answer goes to the whole channel through response_url (which needs
        # no channel membership), with the question echoed on top.
        response_type = "in_channel"
        try:
            text, body = self.answer(
                question,
                (),
                asked=question,
                asker=command.get("user_id"),
                collections=self.settings.collections_for(command.get("channel_id")),
            )
        except Exception:
            log.exception("slack: answering /ask failed")
            (text, body), response_type = blocks.notice(blocks.FAILED), "ephemeral"
        sent = WebhookClient(command["response_url"], retry_handlers=retry_handlers()).send(
            text=text,
            blocks=body,
            response_type=response_type,
            unfurl_links=False,
            unfurl_media=False,
        )
        if sent.status_code != 200:
            log.warning(
                "slack: response_url refused the answer: %s %s", sent.status_code, sent.body
            )

    def register(self, app: App) -> None:
        app.event("app_mention")(ack=self.ack, lazy=[self.on_mention])
        app.event("message")(ack=self.ack, lazy=[self.on_message])
        app.command("/ask")(ack=self.ack_command, lazy=[self.on_command])


def build_app(
    settings: SlackSettings,
    service: ServiceGetter,
    *,
    max_question_chars: int = 2000,
    socket_mode: bool = False,
) -> App:
    """The bolt App with Citeline's listeners. No network call happens here:
    bolt calls auth.test on the first event (token_verification_enabled=False)."""
    if not settings.bot_token:
        raise ValueError("SLACK_BOT_TOKEN is not set")
    if not socket_mode and not settings.signing_secret:
        raise ValueError(
            "SLACK_SIGNING_SECRET is not set: HTTP mode verifies every request with it"
        )
    app = App(
        client=web_client(settings),
        signing_secret=settings.signing_secret.get_secret_value()
        if settings.signing_secret
        else "",
        # Socket Mode gets its events over an authenticated websocket, not HTTP.
        request_verification_enabled=not socket_mode,
        token_verification_enabled=False,
        process_before_response=False,
        # Only acks and hand-offs run here; answers have their own pool.
        listener_executor=ThreadPoolExecutor(8, thread_name_prefix="citeline-slack-bolt"),
        logger=bolt_log,
        name="citeline",
    )
    SlackBot(settings, service, max_question_chars).register(app)
    return app
