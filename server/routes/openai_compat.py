"""Citeline as an OpenAI-compatible model, for Open WebUI, LibreChat or any OpenAI SDK.

The conversation is condensed into a standalone question like /v1/chat does;
the answer's content ends with a "Sources" list, and the structured citations
ride along in an extra ``citations`` field (in the last chunk when streaming).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from sse_starlette import EventSourceResponse

from access.scope import UnknownModel, collections_of_model, model_names
from answer.generative import ErrorEvent, FinalEvent, TokenEvent
from answer.models import Answer
from answer.service import AnswerService
from index.tokens import count_tokens
from server.access import covered
from server.deps import AnswerSvc, LengthLimit, Served
from server.openai_schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    ModelCard,
    ModelList,
    Usage,
)
from server.routes.answers import answer_body
from server.schemas import ACCESS_ERRORS

MODEL_ID = "citeline"
router = APIRouter(prefix="/v1", tags=["openai-compatible"])


def sources_text(answer: Answer) -> str:
    if not answer.citations:
        return ""
    lines = ["", "", "Sources:"]
    for c in answer.citations:
        where = c.url or c.source or c.doc_id
        lines.append(f'[{c.n}] {c.title or c.doc_id} ({where}): "{c.quote}"')
    return "\n".join(lines)


@router.get(
    "/models",
    response_model=ModelList,
    responses=ACCESS_ERRORS,
    summary="citeline (every collection you may read) and citeline:NAME for each of them",
)
def models(served: Served, request: Request) -> ModelList:
    return ModelList(data=[ModelCard(id=m) for m in model_names(covered(request, served, None))])


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={
        **ACCESS_ERRORS,
        200: {
            "content": {"text/event-stream": {}},
            "description": "A ChatCompletion, or with stream=true OpenAI's SSE stream of "
            "chat.completion.chunk objects ending in 'data: [DONE]'",
        },
    },
    summary="OpenAI chat completions: the answer with its sources",
)
async def chat_completions(
    body: ChatCompletionRequest,
    served: Served,
    answers: AnswerSvc,
    limit: LengthLimit,
    request: Request,
) -> Any:
    # The model names the collections: citeline (all readable) or citeline:NAME.
    try:
        requested = collections_of_model(body.model)
    except UnknownModel as exc:
        raise HTTPException(404, str(exc)) from None
    cols = covered(request, served, requested)
    model = body.model
    # System messages from the client are not instructions to Citeline's answerer.
    messages = [
        {"role": m.role, "content": m.text()}
        for m in body.messages
        if m.role in ("user", "assistant")
    ]
    if not messages or messages[-1]["role"] != "user" or not messages[-1]["content"].strip():
        raise HTTPException(422, "the last message must be a non-empty user message")
    question = await answers.condense(messages)
    limit(question, "the question")
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if body.stream:
        return EventSourceResponse(_stream(answers, question, cid, created, cols, model), ping=15)
    answer = await answers.ask(question, collections=cols)
    content = answer.answer + sources_text(answer)
    prompt_tokens = sum(count_tokens(m["content"]) for m in messages)
    completion_tokens = count_tokens(content)
    return ChatCompletion(
        id=cid,
        created=created,
        model=model,
        choices=[Choice(message=AssistantMessage(content=content))],
        usage=Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        ),
        citations=answer_body(answer)["citations"],
        abstained=answer.abstained,
        condensed_question=question,
    )


def _chunk(
    cid: str,
    created: int,
    delta: dict[str, str],
    finish: str | None = None,
    model: str = MODEL_ID,
    **extra: Any,
) -> dict[str, str]:
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return {"data": json.dumps(body, ensure_ascii=False)}


async def _stream(
    answers: AnswerService,
    question: str,
    cid: str,
    created: int,
    collections: list[str],
    model: str,
) -> AsyncIterator[dict[str, str]]:
    yield _chunk(cid, created, {"role": "assistant", "content": ""}, model=model)
    final: Answer | None = None
    try:
        async for event in answers.stream(question, collections=collections):
            if isinstance(event, TokenEvent):
                yield _chunk(cid, created, {"content": event.text}, model=model)
            elif isinstance(event, ErrorEvent):
                yield _chunk(cid, created, {"content": f"\n\n[{event.message}]"}, model=model)
            elif isinstance(event, FinalEvent):
                final = event.answer
    except Exception as exc:
        failed = f"\n\n[the answer failed: {type(exc).__name__}]"
        yield _chunk(cid, created, {"content": failed}, model=model)
    if final is not None:
        tail = sources_text(final)
        if tail:
            yield _chunk(cid, created, {"content": tail}, model=model)
        body = answer_body(final)
        yield _chunk(
            cid,
            created,
            {},
            "stop",
            model=model,
            citations=body["citations"],
            abstained=final.abstained,
            condensed_question=question,
        )
    else:
        yield _chunk(cid, created, {}, "stop", model=model)
    yield {"data": "[DONE]"}
