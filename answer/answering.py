"""Answers for the HTTP routes: retrieval, then the LLM answerer when one is
configured, else the extractive one; streamed or whole; follow-ups condensed.

The QAService (index + retrieval) is passed per call rather than held, so a
reloaded index is picked up by the next request.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from starlette.concurrency import run_in_threadpool

from answer.answers import Answer
from answer.citations import CitationVerifier
from answer.condense import Condenser
from answer.extractive import ExtractiveAnswerer
from answer.generative import FinalEvent, GenerativeAnswerer, StreamEvent, extractive_stream
from answer.llm import LLMClient, LLMConfig
from answer.prompting import PromptBuilder, PromptTemplates
from answer.qa import QAService
from index.embedder import Embedder
from index.models import SearchHit
from index.retrieval import Mode
from server.settings import Settings

Message = dict[str, str]


class Timings(Protocol):
    """Where retrieval and answer times go (server.metrics.Metrics fits)."""

    def observe_retrieval(self, mode: str, seconds: float) -> None: ...

    def observe_answer(self, answerer: str, seconds: float, *, abstained: bool) -> None: ...


@dataclass
class AnswerService:
    generative: GenerativeAnswerer | None
    condenser: Condenser
    timings: Timings | None = None

    async def _retrieve(
        self, qa: QAService, question: str, top_k: int | None, mode: Mode | None
    ) -> tuple[np.ndarray, list[SearchHit]]:
        started = time.perf_counter()
        vector, hits = await run_in_threadpool(qa.retrieve, question, top_k, mode)
        if self.timings is not None:
            self.timings.observe_retrieval(mode or qa.mode, time.perf_counter() - started)
        return vector, hits

    def _answered(self, answer: Answer, started: float) -> None:
        if self.timings is not None:
            self.timings.observe_answer(
                answer.answerer, time.perf_counter() - started, abstained=answer.abstained
            )

    async def stream(
        self, qa: QAService, question: str, top_k: int | None = None, mode: Mode | None = None
    ) -> AsyncIterator[StreamEvent]:
        vector, hits = await self._retrieve(qa, question, top_k, mode)
        started = time.perf_counter()
        if self.generative is None:
            events = extractive_stream(qa.answerer, question, vector, hits)
        else:
            events = self.generative.stream(question, vector, hits)
        async for event in events:
            if isinstance(event, FinalEvent):
                self._answered(event.answer, started)
            yield event

    async def ask(
        self, qa: QAService, question: str, top_k: int | None = None, mode: Mode | None = None
    ) -> Answer:
        vector, hits = await self._retrieve(qa, question, top_k, mode)
        started = time.perf_counter()
        if self.generative is None:
            answer = await run_in_threadpool(qa.answerer.run, question, vector, hits)
        else:
            answer = await self.generative.run(question, vector, hits)
        self._answered(answer, started)
        return answer

    async def condense(self, messages: Sequence[Message]) -> str:
        """The last user message, made standalone with the conversation before it."""
        *history, last = messages
        return await self.condenser.run(last["content"], list(history))

    async def aclose(self) -> None:
        if self.generative is not None:
            await self.generative.client.aclose()

    @classmethod
    def from_settings(
        cls, settings: Settings, embedder: Embedder, timings: Timings | None = None
    ) -> AnswerService:
        if not settings.llm_base_url:
            return cls(None, Condenser(), timings)
        client = LLMClient(
            LLMConfig(
                base_url=settings.llm_base_url,
                model=settings.llm_model,
                api_key=settings.llm_api_key,
                timeout=settings.llm_timeout,
                connect_timeout=settings.llm_connect_timeout,
                max_tokens=settings.llm_answer_tokens,
                temperature=settings.llm_temperature,
            )
        )
        prompts = PromptBuilder(
            PromptTemplates.load(settings.prompts_dir),
            context_tokens=settings.llm_context_tokens,
            answer_tokens=settings.llm_answer_tokens,
        )
        generative = GenerativeAnswerer(
            client, prompts, CitationVerifier(embedder), ExtractiveAnswerer(embedder)
        )
        return cls(generative, Condenser(client, prompts), timings)

    def describe(self) -> str:
        if self.generative is None:
            return "Answers: extractive (no LLM configured; set CITELINE_LLM_BASE_URL to add one)"
        cfg = self.generative.client.config
        return f"Answers: LLM {cfg.model} at {cfg.base_url}, extractive fallback"
