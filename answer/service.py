"""The one answer path: retrieval over the served index, then the LLM answerer when
one is configured, else the extractive one (also the LLM's fallback); streamed or
whole; follow-ups condensed with the conversation; retrieval and answer timings.

The HTTP routes, Slack (HTTP events and Socket Mode), ``citeline ask|search`` and
``citeline eval qa`` all use an ``AnswerService`` built by
:meth:`AnswerService.from_settings`, the one place that turns settings into one.

A reload replaces :attr:`AnswerService.searcher` in one assignment; a request that
already took the old Searcher finishes on it.

Synchronous callers (Slack's worker threads, the CLI, eval) use :meth:`ask_sync`
and friends: the coroutines run on the server's event loop when one is bound
(:meth:`bind_loop`), else on a loop thread of the service's own, because the LLM
client's connections belong to one event loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
from starlette.concurrency import run_in_threadpool

from answer.citations import CitationVerifier
from answer.condense import Condenser, Turn, as_messages, in_context
from answer.extractive import ExtractiveAnswerer
from answer.generative import (
    FinalEvent,
    GenerativeAnswerer,
    StreamEvent,
    answer_events,
    extractive_stream,
)
from answer.llm import LLMClient, LLMConfig
from answer.models import Answer
from answer.prompting import PromptBuilder, PromptTemplates
from answer.readings import (
    Reading,
    answer_quotes,
    asks_beside_the_quote,
    discussed_articles,
    follow_up_readings,
    shown_quotes,
    stays_on_subject,
)
from answer.searcher import Searcher, checker, copy_key, without_copies
from index.embedder import Embedder, EmbedderConfig
from index.library import Library
from index.models import SearchHit
from index.retrieval import FusionSettings, Mode
from index.store import IndexMissing, IndexUnavailable
from index.vector_store import BackendConfig

if TYPE_CHECKING:
    from citeline.settings import Settings

Message = dict[str, str]
T = TypeVar("T")
# Passages the keyword index returns for a quote of the last answer, to find it.
QUOTE_LOOKUP = 3


class Timings(Protocol):
    """Where retrieval and answer times go (server.metrics.Metrics fits)."""

    def observe_retrieval(self, mode: str, seconds: float) -> None: ...

    def observe_answer(self, answerer: str, seconds: float, *, abstained: bool) -> None: ...


def too_long(text: str, limit: int, what: str = "question") -> str | None:
    """Why a question longer than ``limit`` characters is refused (HTTP and Slack say
    the same), or None."""
    if len(text) <= limit:
        return None
    return f"{what} is {len(text)} characters long; the limit is {limit}. Shorten it."


RRF_K = 60


def fuse_hits(lists: Sequence[list[SearchHit]], top_k: int) -> list[SearchHit]:
    """Passages of several rankings by reciprocal rank fusion (scores are per query
    and not comparable across queries; ranks are). A passage keeps its best score."""
    fused: dict[tuple[str | None, int], float] = {}
    best: dict[tuple[str | None, int], SearchHit] = {}
    for hits in lists:
        for rank, hit in enumerate(hits):
            cid = (hit.passage.collection, hit.passage.chunk_id)
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
            if cid not in best or hit.score > best[cid].score:
                best[cid] = hit
    order = sorted(fused, key=lambda c: -fused[c])
    # Each list is free of copies, but a copy in one may be the original in the other.
    return without_copies(best[c] for c in order)[:top_k]


class NoIndex(IndexUnavailable):
    """No index generation is served (it could not be loaded)."""


@dataclass
class AnswerService:
    embedder: Embedder
    extractive: ExtractiveAnswerer
    generative: GenerativeAnswerer | None
    condenser: Condenser
    index_dir: Path
    top_k: int = 5
    mode: Mode = "hybrid"
    fusion: FusionSettings = field(default_factory=FusionSettings)
    backend: BackendConfig = field(default_factory=BackendConfig)
    timings: Timings | None = None
    # The generation served; None (with ``index_error``) until one loads.
    searcher: Searcher | None = None
    index_error: str | None = None

    def __post_init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._own_loop: asyncio.AbstractEventLoop | None = None
        self._loop_lock = threading.Lock()
        self._library: Library | None = None

    # --- building -----------------------------------------------------------

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        searcher: Searcher | None = None,
        timings: Timings | None = None,
        load_index: bool = True,
        mode: Mode | None = None,
    ) -> AnswerService:
        """The service the settings describe. ``searcher`` hands over an index already
        open (its embedder is reused); else the index at ``settings.index`` is opened
        when ``load_index`` (an unreadable one leaves ``index_error`` set instead)."""
        if embedder is None:
            embedder = searcher.embedder if searcher else Embedder(config=_serving(settings))
        retrieval = settings.retrieval
        llm = settings.llm
        generative: GenerativeAnswerer | None = None
        condenser = Condenser()
        if llm.base_url:
            client = LLMClient(
                LLMConfig(
                    base_url=llm.base_url,
                    model=llm.model,
                    api_key=llm.api_key,
                    timeout=llm.timeout,
                    connect_timeout=llm.connect_timeout,
                    max_tokens=llm.answer_tokens,
                    temperature=llm.temperature,
                )
            )
            prompts = PromptBuilder(
                PromptTemplates.load(llm.prompts_dir),
                context_tokens=llm.context_tokens,
                answer_tokens=llm.answer_tokens,
            )
            generative = GenerativeAnswerer(
                client, prompts, CitationVerifier(embedder), ExtractiveAnswerer(embedder)
            )
            condenser = Condenser(client, prompts)
        service = cls(
            embedder=embedder,
            extractive=ExtractiveAnswerer(embedder),
            generative=generative,
            condenser=condenser,
            index_dir=Path(searcher.index.root) if searcher else Path(settings.index),
            top_k=retrieval.top_k,
            mode=mode or retrieval.mode,
            fusion=FusionSettings(
                dense_weight=retrieval.fusion_dense_weight,
                candidates=retrieval.fusion_candidates,
            ),
            backend=BackendConfig.from_settings(settings.backend),
            timings=timings,
            searcher=searcher,
        )
        if searcher is None and load_index:
            try:
                service.searcher = service.open_searcher()
            except IndexUnavailable as exc:
                service.index_error = str(exc)
        return service

    def library(self, index_dir: Path | None = None) -> Library:
        """The open collections under the index root (kept between reloads, so only
        collections that changed are opened again)."""
        root = Path(index_dir or self.index_dir)
        served = self.searcher
        if served is not None and served.root == root:
            return served.library
        if self._library is None or self._library.root != root:
            if not root.is_dir():
                raise IndexMissing(
                    f"no index at {root}: run `citeline ingest PATH --index {root}` first"
                )
            self._library = Library(root, self.backend, checker(self.embedder))
        return self._library

    def open_searcher(self, index_dir: Path | None = None, *, retry: bool = False) -> Searcher:
        """A Searcher over every collection's current generation with this service's
        model and retrieval settings (startup and reload): collections that changed are
        opened (and checked) again, the others kept."""
        library = self.library(index_dir)
        library.refresh(retry_failed=retry)
        return Searcher.from_library(
            library, self.embedder, top_k=self.top_k, mode=self.mode, fusion=self.fusion
        )

    def current(self) -> Searcher:
        """The Searcher served now; NoIndex when none is."""
        searcher = self.searcher
        if searcher is None:
            raise NoIndex(self.index_error or "no index loaded")
        return searcher

    # --- retrieval ----------------------------------------------------------------

    def search(
        self,
        query: str,
        top_k: int | None = None,
        filters: Mapping[str, Any] | None = None,
        mode: Mode | None = None,
        collections: Sequence[str] | None = None,
    ) -> list[SearchHit]:
        """``collections``: which to search (None: every one served)."""
        searcher = self.current()
        mode = mode or searcher.mode
        started = time.perf_counter()
        try:
            return searcher.search(query, top_k, filters, mode, collections)
        finally:
            if self.timings is not None:
                self.timings.observe_retrieval(mode, time.perf_counter() - started)

    async def _retrieve(
        self,
        question: str,
        top_k: int | None,
        mode: Mode | None,
        collections: Sequence[str] | None = None,
    ) -> tuple[np.ndarray, list[SearchHit]]:
        searcher = self.current()
        started = time.perf_counter()
        vector, hits = await run_in_threadpool(
            searcher.retrieve, question, top_k, mode, collections
        )
        if self.timings is not None:
            self.timings.observe_retrieval(mode or searcher.mode, time.perf_counter() - started)
        return vector, hits

    # --- answers ----------------------------------------------------------------------

    def _answered(self, answer: Answer, started: float) -> None:
        if self.timings is not None:
            self.timings.observe_answer(
                answer.answerer, time.perf_counter() - started, abstained=answer.abstained
            )

    def _extractive_for(self, searcher: Searcher) -> ExtractiveAnswerer:
        # Question words weigh by their IDF over every collection served.
        return self.extractive.with_weights(searcher.term_weights)

    async def stream(
        self,
        question: str,
        top_k: int | None = None,
        mode: Mode | None = None,
        collections: Sequence[str] | None = None,
    ) -> AsyncIterator[StreamEvent]:
        searcher = self.current()
        vector, hits = await self._retrieve(question, top_k, mode, collections)
        async for event in self._stream_from(searcher, Reading(question, vector), hits):
            yield event

    async def _stream_from(
        self, searcher: Searcher, reading: Reading, hits: list[SearchHit]
    ) -> AsyncIterator[StreamEvent]:
        started = time.perf_counter()
        question, vector = reading.question, reading.vector
        if self.generative is None:
            extractive = self._extractive_for(searcher)
            events = extractive_stream(extractive, question, vector, hits, hints=reading.hints)
        else:
            events = self.generative.stream(question, vector, hits)
        async for event in events:
            if isinstance(event, FinalEvent):
                self._answered(event.answer, started)
            yield event

    async def ask(
        self,
        question: str,
        top_k: int | None = None,
        mode: Mode | None = None,
        collections: Sequence[str] | None = None,
    ) -> Answer:
        """``collections``: which to answer from (None: every one served)."""
        searcher = self.current()
        vector, hits = await self._retrieve(question, top_k, mode, collections)
        return await self._answer_from(searcher, Reading(question, vector), hits)

    async def _answer_from(
        self, searcher: Searcher, reading: Reading, hits: list[SearchHit]
    ) -> Answer:
        started = time.perf_counter()
        question, vector = reading.question, reading.vector
        if self.generative is None:
            extractive = self._extractive_for(searcher)
            answer = await run_in_threadpool(extractive.run, question, vector, hits, reading.hints)
        else:
            answer = await self.generative.run(question, vector, hits)
        self._answered(answer, started)
        return answer

    # --- conversations ----------------------------------------------------------------

    async def _follow_up(
        self,
        messages: Sequence[Message],
        top_k: int | None,
        mode: Mode | None,
        collections: Sequence[str] | None = None,
    ) -> tuple[str, Searcher, list[Reading], list[SearchHit]]:
        """(standalone question shown, the searcher, questions to answer with in
        order of preference with their vectors, passages).

        The condensed form may be wrong (a topic switch such as "What about BRICS?",
        or a follow-up whose own words already say what it asks): rather than bet on
        it, both it and the raw follow-up retrieve and the passage lists are fused
        (both lists whole for the extractive answerer, which picks sentences among
        them; ``top_k`` for an LLM's prompt). answer.readings orders the readings;
        the next answers when the first finds nothing. With an LLM condenser its
        rewrite answers, over the fused passages."""
        searcher = self.current()
        raw = " ".join(messages[-1]["content"].split())
        standalone = await self.condense(messages)
        llm = self.condenser.client is not None
        if standalone == raw:
            vector, hits = await self._retrieve(standalone, top_k, mode, collections)
            context = in_context(raw, messages[:-1]) if not llm else raw
            if context == raw:
                return standalone, searcher, [Reading(standalone, vector)], hits
            # A full question mid-conversation ("How long does Labour officially
            # have?") may still mean the article under discussion: its passages
            # join the candidates, and the question as typed picks among them.
            _, context_hits = await self._retrieve(context, top_k, mode, collections)
            own = {copy_key(h) for h in hits}
            extra = tuple(h for h in context_hits if copy_key(h) not in own)
            return standalone, searcher, [Reading(standalone, vector, context=extra)], hits
        raw_vector, raw_hits = await self._retrieve(raw, top_k, mode, collections)
        vector, hits = await self._retrieve(standalone, top_k, mode, collections)
        k = top_k or searcher.default_top_k
        condensed = Reading(standalone, vector, focus=raw)
        if llm:
            return standalone, searcher, [condensed], fuse_hits([raw_hits, hits], k)
        # Both readings' passages are kept: the sentence scoring picks among them.
        fused = fuse_hits([raw_hits, hits], 2 * k)
        last = messages[-2] if len(messages) >= 2 else None
        quotes = (
            answer_quotes(last["content"])
            if last is not None and last.get("role") == "assistant"
            else []
        )
        shown = shown_quotes(quotes, fused)
        readings = follow_up_readings(
            Reading(raw, raw_vector), condensed, discussed_articles(shown)
        )
        if not quotes or not asks_beside_the_quote(raw):
            return standalone, searcher, readings, fused
        first = next((q for q in shown if " ".join(q.text.split()) == quotes[0]), None)
        if first is None:
            # "Who said that?" is about the last answer's claim, whose passage the
            # follow-up's words may not retrieve: the quote's own words find it.
            _, quoted = await self._retrieve(quotes[0], QUOTE_LOOKUP, "bm25", collections)
            first = next(iter(shown_quotes(quotes[:1], quoted)), None)
            fused += [h for h in quoted if first and h.passage.doc_id == first.doc_id]
        if first is None:
            return standalone, searcher, readings, fused
        return standalone, searcher, [replace(r, beside=first) for r in readings], fused

    async def _first_answer(
        self,
        searcher: Searcher,
        questions: Sequence[Reading],
        hits: list[SearchHit],
    ) -> Answer:
        """The answer of the first reading of the question that does not abstain and
        stays on the conversation's subject (answer.readings); else the first that
        answered at all; else the last one's abstention."""
        answer = None
        off_subject = None  # the first answer that left the conversation's subject
        for r in questions:
            answer = await self._answer_from(searcher, r, hits)
            if answer.abstained:
                continue
            if stays_on_subject(r, answer, hits, searcher.term_weights):
                break
            off_subject = off_subject or answer
        if answer is not None and answer.abstained and off_subject is not None:
            answer = off_subject
        assert answer is not None
        return answer

    async def chat(
        self,
        messages: Sequence[Message],
        top_k: int | None = None,
        mode: Mode | None = None,
        collections: Sequence[str] | None = None,
    ) -> tuple[str, Answer]:
        """The standalone question and its answer for the last message of a conversation."""
        standalone, searcher, questions, hits = await self._follow_up(
            messages, top_k, mode, collections
        )
        return standalone, await self._first_answer(searcher, questions, hits)

    async def chat_stream(
        self,
        messages: Sequence[Message],
        top_k: int | None = None,
        mode: Mode | None = None,
        collections: Sequence[str] | None = None,
    ) -> tuple[str, AsyncIterator[StreamEvent]]:
        """The standalone question, and the answer's events to stream."""
        standalone, searcher, questions, hits = await self._follow_up(
            messages, top_k, mode, collections
        )
        if self.generative is None and (len(questions) > 1 or questions[0].context):
            # Extractive answers are whole before they stream: the first that answers.
            return standalone, answer_events(await self._first_answer(searcher, questions, hits))
        return standalone, self._stream_from(searcher, questions[0], hits)

    def chat_sync(
        self,
        messages: Sequence[Message],
        top_k: int | None = None,
        mode: Mode | None = None,
        collections: Sequence[str] | None = None,
    ) -> tuple[str, Answer]:
        return self.run_sync(self.chat(messages, top_k, mode, collections))

    async def condense(self, messages: Sequence[Message]) -> str:
        """The last user message, made standalone with the conversation before it
        (by the LLM when one is configured, else or when it fails by the heuristic)."""
        *history, last = messages
        return await self.condenser.run(last["content"], list(history))

    async def condense_turns(self, question: str, history: Sequence[Turn]) -> str:
        return await self.condense([*as_messages(history), {"role": "user", "content": question}])

    # --- for callers without an event loop -------------------------------------------

    def bind_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Run synchronous callers' work on ``loop`` (the server's), or on a loop of
        the service's own when None."""
        self._loop = loop

    def _loop_for_sync(self) -> asyncio.AbstractEventLoop:
        if self._loop is not None and not self._loop.is_closed():
            return self._loop
        with self._loop_lock:
            if self._own_loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="citeline-answer-loop", daemon=True
                ).start()
                self._own_loop = loop
            return self._own_loop

    def run_sync(self, work: Coroutine[Any, Any, T]) -> T:
        loop = self._loop_for_sync()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            work.close()
            raise RuntimeError("run_sync was called on the loop it would wait for")
        return asyncio.run_coroutine_threadsafe(work, loop).result()

    def ask_sync(
        self,
        question: str,
        top_k: int | None = None,
        mode: Mode | None = None,
        collections: Sequence[str] | None = None,
    ) -> Answer:
        return self.run_sync(self.ask(question, top_k, mode, collections))

    def condense_sync(self, question: str, history: Sequence[Turn]) -> str:
        return self.run_sync(self.condense_turns(question, history))

    # --- lifetime -----------------------------------------------------------------------

    async def aclose(self) -> None:
        if self.generative is not None:
            await self.generative.client.aclose()

    def close(self, *, index: bool = True) -> None:
        """For synchronous owners (CLI, Socket Mode): the LLM client, the own loop and
        (unless ``index`` is False) the served index."""
        if self.generative is not None:
            self.run_sync(self.aclose())
        if self._own_loop is not None:
            self._own_loop.call_soon_threadsafe(self._own_loop.stop)
            self._own_loop = None
        if index and self.searcher is not None:
            self.searcher.close()

    def describe(self) -> str:
        if self.generative is None:
            return "Answers: extractive (no LLM configured; set CITELINE_LLM_BASE_URL to add one)"
        cfg = self.generative.client.config
        return f"Answers: LLM {cfg.model} at {cfg.base_url}, extractive fallback"


def _serving(settings: Settings) -> EmbedderConfig:
    return EmbedderConfig.from_settings(
        settings.embedder, role="serve", threads=settings.embed_threads
    )
