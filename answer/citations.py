"""Verified citations for generated answers.

A model's ``[n]`` markers are claims, not proof. For every sentence of the
answer this finds the span of the cited source that best supports it (the same
score the extractive answerer uses: embedding cosine plus content-word
overlap) and returns that span as the citation's quote with exact article
offsets. Markers that point at no source are dropped; a sentence without a
marker is given the best source when one supports it; a sentence whose best
support falls below the threshold is marked ``supported: false``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from answer.claims import missing_substance
from answer.models import Answer, Citation, SentenceSupport
from answer.repeats import sentence_key
from index.embedder import Embedder
from index.models import SearchHit
from index.normalize import content_terms
from index.text import split_sentences

_MARKER = re.compile(r"\s*\[(\d{1,3})\]")
# Placeholders a model copies from instructions ("[n]", "[source]") cite nothing.
_PLACEHOLDER = re.compile(r"\s*\[(?:n|N|source|sources|citation|\.\.\.)\]")
_ONLY_MARKERS = re.compile(r"^(\s*\[\d{1,3}\])+\s*[.,;:]?$")


@dataclass(frozen=True)
class _Span:
    source: int  # 1-based source number
    start: int  # article offsets
    end: int
    text: str


@dataclass(frozen=True)
class VerifierSettings:
    supported_at: float = 0.55
    lexical_weight: float = 0.35
    # Embeddings barely tell "joined NATO" from "joined BRICS": names and numbers
    # of the claim that the span lacks cost this much (times the share missing).
    missing_name_penalty: float = 0.4
    min_claim_chars: int = 12
    # Spans (closest first) checked for the claim's substance.
    substance_candidates: int = 4


_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b(?:[A-Z][\w’'-]*|\w*\d[\w.,]*)")


def names(text: str) -> set[str]:
    """Capitalised words past the sentence start, and anything with a digit."""
    return {
        m.group(0).lower().rstrip(".,").removesuffix("’s").removesuffix("'s")
        for m in _NAME.finditer(text.strip())
    }


def _layout(between: str) -> str:
    """What separates two sentences of the answer: a paragraph break, a line break
    or a space."""
    breaks = between.count("\n")
    return "\n\n" if breaks >= 2 else "\n" if breaks else " "


def is_abstention(text: str, phrase: str) -> bool:
    norm = re.sub(r"\W+", " ", text).strip().lower()
    return re.sub(r"\W+", " ", phrase).strip().lower() in norm


class CitationVerifier:
    def __init__(self, embedder: Embedder, settings: VerifierSettings | None = None) -> None:
        self.embedder = embedder
        self.settings = settings or VerifierSettings()

    def run(self, text: str, sources: Sequence[SearchHit], *, answerer: str = "llm") -> Answer:
        s = self.settings
        sentences = self._sentences(text)
        spans = self._spans(sources)
        claims = [_PLACEHOLDER.sub("", _MARKER.sub("", sent)).strip() for sent, _, _ in sentences]
        if spans and claims:
            claim_vecs = self.embedder.encode(claims)
            span_vecs = self.embedder.encode([sp.text for sp in spans])
            cosine = claim_vecs @ span_vecs.T
        else:
            cosine = np.zeros((len(claims), len(spans)), dtype=np.float32)
        span_terms = [content_terms(sp.text) for sp in spans]
        span_words = [set(re.findall(r"[\w’'-]+", sp.text.lower())) for sp in spans]

        best_for_source: dict[int, tuple[float, _Span]] = {}
        supported_sources: set[int] = set()
        out_sentences: list[SentenceSupport] = []
        parts: list[str] = []
        said: set[str] = set()
        for i, ((_, cited, gap), claim) in enumerate(zip(sentences, claims, strict=True)):
            # Small models loop ("This shift is driven by ... [4]" twice): a claim
            # already made is dropped, not shown and judged twice.
            key = sentence_key(claim)  # the stream's test for a repeat (answer.repeats)
            if len(claim) >= s.min_claim_chars and key in said:
                continue
            said.add(key)
            valid = [n for n in dict.fromkeys(cited) if 1 <= n <= len(sources)]
            terms = content_terms(claim)
            claim_names = names(claim)

            scores = [
                self._support(float(cosine[i, j]), terms, claim_names, span_terms[j], span_words[j])
                for j in range(len(spans))
            ]
            allowed = set(valid) if valid else {sp.source for sp in spans}
            candidates = [j for j in range(len(spans)) if spans[j].source in allowed]
            # Substance first: among the closest spans, one holding everything the
            # claim asserts beats a closer one that lacks a date, name or relation.
            near = sorted(candidates, key=lambda j: -scores[j])[: s.substance_candidates]
            backed = {j for j in near if not missing_substance(claim, spans[j].text)}
            best_j = max(near, key=lambda j: (j in backed, scores[j]), default=None)
            best = scores[best_j] if best_j is not None else 0.0
            is_claim = len(claim) >= s.min_claim_chars
            supported = best_j is not None and best >= s.supported_at and best_j in backed
            if not valid and supported and is_claim and best_j is not None:
                valid = [spans[best_j].source]  # an uncited but supported claim gets its source
            for n in valid:
                js = [j for j in candidates if spans[j].source == n]
                if not js:
                    continue
                j = max(js, key=lambda j: (j in backed, scores[j]))
                if n not in best_for_source or scores[j] > best_for_source[n][0]:
                    best_for_source[n] = (scores[j], spans[j])
                if scores[j] >= s.supported_at and j in backed:
                    supported_sources.add(n)
            clean = claim + "".join(f" [{n}]" for n in valid)
            parts.append((gap if parts else "") + clean)
            if is_claim:
                out_sentences.append(
                    SentenceSupport(clean, valid, bool(valid) and supported, round(best, 4))
                )
        citations = []
        for n in sorted(best_for_source):
            score, span = best_for_source[n]
            p = sources[n - 1].passage
            citations.append(
                Citation(
                    n=n,
                    doc_id=p.doc_id,
                    title=p.title,
                    source=p.source,
                    quote=span.text,
                    start=span.start,
                    end=span.end,
                    chunk_id=p.chunk_id,
                    url=p.url,
                    collection=p.collection,
                    score=round(score, 4),
                    supported=n in supported_sources,
                    page=p.page_of(span.start),
                )
            )
        confidence = max((x.score for x in out_sentences), default=0.0)
        return Answer(
            "".join(parts),
            citations,
            False,
            confidence,
            answerer=answerer,
            sentences=out_sentences,
        )

    def _support(
        self,
        cosine: float,
        terms: set[str],
        claim_names: set[str],
        span_terms: set[str],
        span_words: set[str],
    ) -> float:
        s = self.settings
        overlap = len(terms & span_terms) / len(terms) if terms else 0.0
        missing = len(claim_names - span_words) / len(claim_names) if claim_names else 0.0
        return cosine + s.lexical_weight * overlap - s.missing_name_penalty * missing

    @staticmethod
    def _sentences(text: str) -> list[tuple[str, list[int], str]]:
        """Sentences of the answer with the markers they carry and the layout before
        each (a space, or the line or paragraph breaks of the model's Markdown, so
        that lists and paragraphs survive); a run of markers split off after a full
        stop belongs to the sentence before it."""
        merged: list[list[str]] = []
        end = 0
        for a, b in split_sentences(text):
            piece = text[a:b]
            if merged and _ONLY_MARKERS.match(piece):
                merged[-1][0] = merged[-1][0] + " " + piece.strip()
            else:
                merged.append([piece, _layout(text[end:a])])
            end = b
        return [(m, [int(x) for x in _MARKER.findall(m)], gap) for m, gap in merged]

    @staticmethod
    def _spans(sources: Sequence[SearchHit]) -> list[_Span]:
        spans = []
        for n, hit in enumerate(sources, start=1):
            p = hit.passage
            sentences = split_sentences(p.text)
            for a, b in sentences:
                spans.append(_Span(n, p.start + a, p.start + b, p.text[a:b]))
            # Two neighbouring sentences as one quote: a generated sentence often
            # joins them ("signed" in one, what was signed in the next).
            for (a, _), (_, b) in pairwise(sentences):
                if "\n\n" not in p.text[a:b]:
                    spans.append(_Span(n, p.start + a, p.start + b, p.text[a:b]))
        return spans
