"""The answerer that needs no LLM: it quotes the sentences that answer the question.

Every sentence of the answer is copied verbatim from an article, so every claim
is backed by construction; the citation carries its exact character offsets.
Sentences are scored by embedding similarity to the question plus overlap of
content words, and the answer abstains when the best one scores below a
threshold calibrated on answerable and unanswerable questions (see README).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from answer.injection import addresses_an_assistant
from answer.models import Answer, Citation
from index.embedder import Embedder
from index.models import SearchHit
from index.text import split_sentences

_STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with about against between into through
    during before after above below from up down out off over under again further then once
    here there when where why how all any both each few more most other some such no nor not
    only own same so than too very can will just should now is are was were be been being have
    has had having do does did doing i me my we our you your he him his she her it its they
    them their what which who whom this that these those am would could shall may might must
    tell me please say said know""".split()
)


def _stem(word: str) -> str:
    # Light suffix folding so "signed"/"signs"/"signing" meet "sign"; a full
    # stemmer would add a dependency for little gain on short questions.
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_terms(text: str) -> set[str]:
    return {_stem(w) for w in re.findall(r"\w+", text.lower()) if w not in _STOPWORDS}


@dataclass(frozen=True)
class ExtractiveSettings:
    # Below this best-sentence score the articles are taken not to cover the question.
    # Calibrated with bench/calibrate_abstention.py: at 0.60 it answered ~89% of
    # answerable and abstained on ~93% of unanswerable questions (0.40: 99% / 45%).
    abstain_below: float = 0.60
    # Weight of content-word overlap (0..1) against cosine similarity.
    lexical_weight: float = 0.35
    max_sentences: int = 3
    # Further sentences must score within this of the best one.
    keep_within: float = 0.08
    candidates: int = 8
    max_answer_chars: int = 700


ABSTAIN_TEXT = "The articles do not cover this question."


@dataclass(frozen=True)
class _Candidate:
    hit: SearchHit
    start: int  # offsets in the article
    end: int
    text: str
    lexical: float


class ExtractiveAnswerer:
    def __init__(self, embedder: Embedder, settings: ExtractiveSettings | None = None) -> None:
        self.embedder = embedder
        self.settings = settings or ExtractiveSettings()

    def run(self, question: str, query_vector: np.ndarray, hits: list[SearchHit]) -> Answer:
        s = self.settings
        candidates = self._candidates(question, hits)
        if not candidates:
            return Answer(ABSTAIN_TEXT, [], True)
        # Embedding sentences is the costly step: only the most promising are embedded.
        candidates.sort(key=lambda c: c.lexical + c.hit.score, reverse=True)
        candidates = candidates[: s.candidates]
        vectors = self.embedder.encode([c.text for c in candidates])
        cosine = vectors @ np.asarray(query_vector, dtype=np.float32)
        scores = cosine + s.lexical_weight * np.array([c.lexical for c in candidates])
        order = np.argsort(-scores)
        best = float(scores[order[0]])
        if best < s.abstain_below:
            return Answer(ABSTAIN_TEXT, [], True, round(best, 4))
        chosen: list[int] = []
        length = 0
        for i in order:
            if len(chosen) >= s.max_sentences or scores[i] < max(
                s.abstain_below, best - s.keep_within
            ):
                break
            if any(float(vectors[i] @ vectors[j]) > 0.9 for j in chosen):
                continue  # a near-duplicate adds nothing
            if chosen and length + len(candidates[i].text) > s.max_answer_chars:
                continue
            chosen.append(int(i))
            length += len(candidates[i].text)
        citations = []
        parts = []
        for n, i in enumerate(chosen, start=1):
            c = candidates[i]
            p = c.hit.passage
            citations.append(
                Citation(
                    n=n,
                    doc_id=p.doc_id,
                    title=p.title,
                    source=p.source,
                    quote=c.text,
                    start=c.start,
                    end=c.end,
                    chunk_id=p.chunk_id,
                    url=p.url,
                    collection=p.collection,
                    score=round(float(scores[i]), 4),
                    page=p.page_of(c.start),
                )
            )
            parts.append(f"{c.text} [{n}]")
        return Answer(" ".join(parts), citations, False, round(best, 4))

    def _candidates(self, question: str, hits: list[SearchHit]) -> list[_Candidate]:
        terms = content_terms(question)
        seen: set[tuple[str, int]] = set()
        out: list[_Candidate] = []
        for hit in hits:
            p = hit.passage
            for a, b in split_sentences(p.text):
                key = (p.doc_id, p.start + a)
                if key in seen or b - a < 12:
                    continue
                seen.add(key)
                text = p.text[a:b]
                if addresses_an_assistant(text):
                    continue  # orders to a model are never the answer (see answer.injection)
                overlap = len(terms & content_terms(text)) / len(terms) if terms else 0.0
                out.append(_Candidate(hit, p.start + a, p.start + b, text, overlap))
        return out
