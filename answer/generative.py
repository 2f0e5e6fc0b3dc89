"""Answers written by an LLM over the retrieved passages, with verified citations.

The extractive answerer stays the fallback: when the LLM is unreachable, times
out or returns something unusable before its first token, the question is
answered extractively and the answer says why (``fallback_reason``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, replace

import numpy as np
from starlette.concurrency import run_in_threadpool

from answer.citations import CitationVerifier, is_abstention
from answer.extractive import ExtractiveAnswerer
from answer.llm import LLMClient, LLMError
from answer.models import Answer, FollowUpHints
from answer.prompting import PromptBuilder
from answer.repeats import RepeatGuard
from index.models import SearchHit

ABSTAIN_PHRASE = "I cannot find the answer in the provided sources."


@dataclass(frozen=True)
class TokenEvent:
    text: str


@dataclass(frozen=True)
class FinalEvent:
    answer: Answer


@dataclass(frozen=True)
class ErrorEvent:
    message: str


StreamEvent = TokenEvent | FinalEvent | ErrorEvent


async def extractive_stream(
    extractive: ExtractiveAnswerer,
    question: str,
    vector: np.ndarray,
    hits: list[SearchHit],
    fallback_reason: str | None = None,
    hints: FollowUpHints | None = None,
) -> AsyncIterator[StreamEvent]:
    """The extractive answer, streamed sentence by sentence."""
    answer = await run_in_threadpool(extractive.run, question, vector, hits, hints)
    async for event in answer_events(replace(answer, fallback_reason=fallback_reason)):
        yield event


async def answer_events(answer: Answer) -> AsyncIterator[StreamEvent]:
    """An extractive answer already made, as stream events: one token per quote
    (or the abstention), then the whole answer."""
    if answer.abstained:
        yield TokenEvent(answer.answer)
    else:
        for i, c in enumerate(answer.citations):
            yield TokenEvent(("" if i == 0 else " ") + f"{c.quote} [{c.n}]")
    yield FinalEvent(answer)


class GenerativeAnswerer:
    def __init__(
        self,
        client: LLMClient,
        prompts: PromptBuilder,
        verifier: CitationVerifier,
        fallback: ExtractiveAnswerer,
        abstain_phrase: str = ABSTAIN_PHRASE,
    ) -> None:
        self.client = client
        self.prompts = prompts
        self.verifier = verifier
        self.fallback = fallback
        self.abstain_phrase = abstain_phrase

    async def run(self, question: str, vector: np.ndarray, hits: list[SearchHit]) -> Answer:
        # Read as a stream even when the caller wants the whole answer (Slack, plain
        # /v1/ask): a model that loops is stopped at its second repeat, not at
        # max_tokens.
        final: Answer | None = None
        cut_off: str | None = None
        async for event in self.stream(question, vector, hits):
            if isinstance(event, ErrorEvent):
                cut_off = event.message
            elif isinstance(event, FinalEvent):
                final = event.answer
        if cut_off is not None:
            # A reader of the whole answer gets the quotes rather than half a reply.
            answer = await run_in_threadpool(self.fallback.run, question, vector, hits)
            return replace(answer, fallback_reason=cut_off)
        assert final is not None
        return final

    async def stream(
        self, question: str, vector: np.ndarray, hits: list[SearchHit]
    ) -> AsyncIterator[StreamEvent]:
        prompt = self.prompts.answer(question, hits)
        if not prompt.sources:
            async for event in extractive_stream(self.fallback, question, vector, hits):
                yield event
            return
        pieces: list[str] = []
        try:
            guard = RepeatGuard()
            async with aclosing(self.client.stream(prompt.messages)) as deltas:
                async for delta in deltas:
                    pieces.append(delta)
                    if shown := guard.feed(delta):
                        yield TokenEvent(shown)
                    if guard.looping:
                        break  # closing the stream stops the model generating
            if rest := guard.finish():
                yield TokenEvent(rest)
        except LLMError as exc:
            if not pieces:
                async for event in extractive_stream(
                    self.fallback, question, vector, hits, fallback_reason=str(exc)
                ):
                    yield event
                return
            yield ErrorEvent(f"the answer was cut off: {exc}")
        text = "".join(pieces).strip()
        model = self.client.config.model
        if is_abstention(text, self.abstain_phrase):
            yield FinalEvent(Answer(text, [], True, answerer="llm", model=model))
            return
        answer = await run_in_threadpool(self.verifier.run, text, prompt.sources)
        yield FinalEvent(replace(answer, model=model))
