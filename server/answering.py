"""Answers for the HTTP routes: retrieval, then the LLM answerer when one is
configured, else the extractive one; streamed or whole; follow-ups condensed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from server.answers import Answer
from server.condense import Condenser
from server.generative import FinalEvent, GenerativeAnswerer, StreamEvent, extractive_stream
from server.qa import QAService

Message = dict[str, str]


@dataclass
class AnswerService:
    qa: QAService
    generative: GenerativeAnswerer | None
    condenser: Condenser

    async def stream(
        self, question: str, top_k: int | None = None, **retrieval: object
    ) -> AsyncIterator[StreamEvent]:
        vector, hits = await run_in_threadpool(self.qa.retrieve, question, top_k, **retrieval)
        if self.generative is None:
            events = extractive_stream(self.qa.answerer, question, vector, hits)
        else:
            events = self.generative.stream(question, vector, hits)
        async for event in events:
            yield event

    async def ask(self, question: str, top_k: int | None = None, **retrieval: object) -> Answer:
        vector, hits = await run_in_threadpool(self.qa.retrieve, question, top_k, **retrieval)
        if self.generative is None:
            return await run_in_threadpool(self.qa.answerer.run, question, vector, hits)
        return await self.generative.run(question, vector, hits)

    async def condense(self, messages: Sequence[Message]) -> str:
        """The last user message, made standalone with the conversation before it."""
        *history, last = messages
        return await self.condenser.run(last["content"], list(history))


async def final_answer(events: AsyncIterator[StreamEvent]) -> Answer:
    answer: Answer | None = None
    async for event in events:
        if isinstance(event, FinalEvent):
            answer = event.answer
    assert answer is not None
    return answer
