"""POST /v1/ask and POST /v1/chat: answers with citations, whole or streamed (SSE).

Stream format (``"stream": true``), one Server-Sent Event each:
- ``question`` (chat only): ``{"condensed_question": str}``
- ``token``: ``{"text": str}``, pieces of the answer as they are produced
- ``citations``: the whole response as the non-streamed call returns it; its
  ``answer`` is authoritative (markers that pointed at no source are removed)
- ``error``: ``{"error": str}`` when the answer failed part-way; a ``citations``
  event with the partial answer may still follow (an LLM cut off), else ``done`` does
- ``done``: ``{}``, always last
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse

from answer.generative import ErrorEvent, FinalEvent, StreamEvent, TokenEvent
from answer.models import Answer
from server.access import covered
from server.deps import AnswerSvc, LengthLimit, Served
from server.schemas import (
    ACCESS_ERRORS,
    AskRequest,
    AskResponse,
    ChatRequest,
    ChatResponse,
    ErrorResponse,
)

log = logging.getLogger("citeline.answers")
router = APIRouter(prefix="/v1", tags=["answers"], responses={422: {"model": ErrorResponse}})
STREAM_DOC = {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when stream"}


def answer_body(answer: Answer) -> dict[str, Any]:
    """The JSON shape of an answer: AskResponse's fields (``model``: the LLM that
    wrote it, None for quotes)."""
    data = asdict(answer)
    for c in data["citations"]:
        c.pop("score", None)
    data.pop("confidence", None)
    return data


def _sse(event: str, data: dict[str, Any]) -> dict[str, str]:
    return {"event": event, "data": json.dumps(data, ensure_ascii=False)}


async def sse_events(
    events: AsyncIterator[StreamEvent],
    extra: dict[str, Any] | None = None,
) -> AsyncIterator[dict[str, str]]:
    """StreamEvents as SSE; any failure becomes an ``error`` event, never a cut connection."""
    try:
        async for event in events:
            if isinstance(event, TokenEvent):
                yield _sse("token", {"text": event.text})
            elif isinstance(event, FinalEvent):
                yield _sse("citations", {**answer_body(event.answer), **(extra or {})})
            elif isinstance(event, ErrorEvent):
                yield _sse("error", {"error": event.message})
    except Exception as exc:  # the client must hear about it, whatever it was
        log.exception("answer stream failed")
        yield _sse("error", {"error": f"the answer failed: {type(exc).__name__}"})
    yield _sse("done", {})


@router.post(
    "/ask",
    response_model=AskResponse,
    responses={200: STREAM_DOC, **ACCESS_ERRORS},
    summary="A short answer with cited quotes (SSE when stream is true)",
)
async def ask(
    body: AskRequest,
    served: Served,
    answers: AnswerSvc,
    limit: LengthLimit,
    request: Request,
) -> Any:
    limit(body.question)
    cols = covered(request, served, body.collections)
    if body.stream:
        events = answers.stream(body.question, body.top_k, body.mode, cols)
        return EventSourceResponse(sse_events(events), ping=15)
    answer = await answers.ask(body.question, body.top_k, body.mode, cols)
    return answer_body(answer)


@router.post(
    "/chat",
    response_model=ChatResponse,
    responses={200: STREAM_DOC, **ACCESS_ERRORS},
    summary="Answer the last message of a conversation; follow-ups are made standalone first",
)
async def chat(
    body: ChatRequest,
    served: Served,
    answers: AnswerSvc,
    limit: LengthLimit,
    request: Request,
) -> Any:
    limit(body.messages[-1].content)
    # Checked before anything is condensed: a refused request costs no LLM call.
    cols = covered(request, served, body.collections)
    messages = [m.model_dump() for m in body.messages]
    if body.stream:
        question, stream = await answers.chat_stream(messages, body.top_k, body.mode, cols)
        limit(question, "the condensed question")
        extra = {"condensed_question": question}

        async def events() -> AsyncIterator[dict[str, str]]:
            yield _sse("question", extra)
            async for e in sse_events(stream, extra):
                yield e

        return EventSourceResponse(events(), ping=15)
    question, answer = await answers.chat(messages, body.top_k, body.mode, cols)
    limit(question, "the condensed question")
    return {**answer_body(answer), "condensed_question": question}
