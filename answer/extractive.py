"""The answerer that needs no LLM: it quotes the sentences that answer the question.

Every sentence of the answer is copied verbatim from an article, so every claim
is backed by construction; the citation carries its exact character offsets.
Sentences are scored by embedding similarity to the question plus overlap of
content words (stemmed by the one normalisation kit, index.normalize, with long
stems where one begins the other taken as one word, and weighted by the keyword
index's IDF so rare words count more; counted partly over the sentence together
with the one before it, which often holds the subject the answering sentence
leaves out, and then quoted with it), and the answer
abstains when the best one scores below a threshold calibrated on answerable
and unanswerable questions (see README). Among sentences that clear it, one
that states the kind of thing asked for (a date for "when", a number for "how
many"; answer.question_type) ranks first, and the sentences it needs around
it are quoted with it (answer.sentence_context).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import numpy as np

from answer.injection import addresses_an_assistant
from answer.models import Answer, Citation, FollowUpHints, ShownQuote
from answer.question_type import AskedFor
from answer.sentence_context import with_context
from index import entities, normalize
from index.embedder import Embedder
from index.models import SearchHit
from index.text import split_sentences


@dataclass(frozen=True)
class ExtractiveSettings:
    # Below this best-sentence score the articles are taken not to cover the question.
    # Calibrated with bench/calibrate_abstention.py (see README).
    abstain_below: float = 0.67
    # Weight of content-word overlap (0..1, words weighted by IDF) against cosine similarity.
    lexical_weight: float = 0.5
    # Share of that overlap counted over the sentence together with the one before it:
    # a sentence that answers often leaves its subject to the sentence before
    # ("Newcastle University is ... It won the award in 2000").
    window_share: float = 0.7
    # Added to the ranking (not to the abstention score) of a sentence that states
    # the kind of thing asked for ("when" -> a date) beyond what the question says.
    kind_weight: float = 0.12
    # Subtracted from the score, abstention included, of a sentence that does not
    # state the kind asked for: a "when" question whose best sentence holds no date
    # is less likely covered by the articles (xquad-dev: absent-article questions
    # refused 0.809 -> 0.831, no answerable one lost, flat from 0.02 to 0.05).
    kind_missing_penalty: float = 0.04
    max_sentences: int = 2
    # Further sentences must score within this of the best one.
    keep_within: float = 0.1
    candidates: int = 12
    max_answer_chars: int = 700
    # A quote that needs the sentence before it ("It was signed on ...") grows to
    # include it, unless the two together exceed this many words.
    context_words: int = 60
    # A sentence scored with the one before it (see window_share) is quoted with it
    # when the two together stay under this many words.
    lead_words: int = 60
    # Sentences are embedded after their article's title (see _in_context).
    title_context: bool = True
    # Added to the ranking (not to the abstention score) of a sentence by how much it
    # says beyond the question: its content words the question lacks, counted up to
    # ``novel_words``. A sentence that only restates the question ("a problem
    # instance is a string over an alphabet") rarely holds what it asks for.
    novel_weight: float = 0.1
    novel_words: int = 8
    # A short follow-up ("What do their lawyers say?", condensed to "Texas sue spam:
    # What do their lawyers say?") asks about its own few words; the words carried
    # from the conversation only say where. Carried words count this much in ordering
    # the sentences (not in the abstention score) when the follow-up has at most
    # ``focus_words`` content words of its own.
    context_weight: float = 0.5
    focus_words: int = 2
    # A condensed follow-up's carried words ("Meteor Awards" in "won Meteor Awards:
    # Where was the ceremony?") say which article, not which sentence: they count as
    # present in every sentence of an article that mentions them (in the passages
    # retrieved), so the follow-up's own words pick the sentence within it.
    carried_in_article: bool = True
    # "Who says so?" asks who said what the last answer quoted first (its lead
    # claim), "Who is he?" who a pronoun in it means (answer.readings decides which
    # follow-ups pass ``beside``): a sentence that states the kind asked (a speaker, a
    # name) within ``beside_chars`` of that quote, in the same article, ranks up to
    # this much higher, the closer the more (abstention score included). News
    # names the speaker beside the claim ("... there may not be enough iPod minis
    # to go round, predicts Oliver Irish"), not in the lede that made it ("experts
    # predict").
    beside_weight: float = 0.3
    beside_chars: int = 400


ABSTAIN_TEXT = "The articles do not cover this question."
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")

# Term -> weight (the keyword index's IDF); unknown terms get the highest weight.
TermWeights = Callable[[Iterable[str]], dict[str, float]]


@dataclass(frozen=True)
class _Candidate:
    hit: SearchHit
    start: int  # offsets in the article
    end: int
    text: str
    lexical: float
    kind: bool  # states the kind of thing asked for
    novel: float  # share of novel_words it says beyond the question (0..1)
    # Article offset where the sentence before it starts, when that sentence holds
    # question words this one lacks (quoted with it if short enough); else None.
    lead: int | None = None
    # The overlap with a short follow-up's carried words counted at context_weight:
    # it orders the sentences, never decides abstention. None: same as lexical.
    focused: float | None = None
    # States the kind asked (a speaker, a new name) next to the last answer's first
    # quote: 1 beside it, down to 0 at ``beside_chars`` away (``beside_weight``).
    beside: float = 0.0

    @property
    def ranked_lexical(self) -> float:
        return self.lexical if self.focused is None else self.focused


class ExtractiveAnswerer:
    def __init__(
        self,
        embedder: Embedder,
        settings: ExtractiveSettings | None = None,
        weights: TermWeights | None = None,
    ) -> None:
        self.embedder = embedder
        self.settings = settings or ExtractiveSettings()
        self.weights = weights

    def with_weights(self, weights: TermWeights | None) -> ExtractiveAnswerer:
        """The same answerer weighting question words by ``weights`` (one index's IDF)."""
        return ExtractiveAnswerer(self.embedder, self.settings, weights)

    def run(
        self,
        question: str,
        query_vector: np.ndarray,
        hits: list[SearchHit],
        hints: FollowUpHints | None = None,
    ) -> Answer:
        """``hints``: what a conversation adds (answer.models.FollowUpHints). Its
        ``focus`` weighs the follow-up's own words (``context_weight``); the sentences
        of its ``context`` passages compete with those of ``hits`` but are shortlisted
        apart (their retrieval scores answer another query), so they can add an answer
        and never push out one ``hits`` hold; ``beside`` ranks what is said next to
        the last answer's first quote (``beside_weight``)."""
        s = self.settings
        hints = hints or FollowUpHints()
        context, beside = hints.context, hints.beside
        asked = AskedFor.of(question)
        kind = asked.kind
        candidates = self._candidates(question, [*hits, *context], asked, hints.focus)
        if kind is not None and beside is not None:
            # "Who is he?" asks a name the quote did not say ("France's finance
            # minister has said ..."); "Who said that?" may be answered by the quote.
            known = entities.names(beside.text) if kind == "person" else set()
            candidates = [_beside(c, beside, s.beside_chars, known) for c in candidates]
            if any(c.beside for c in candidates):
                # Who said that claim, or who "he" is in it, only its article can tell.
                candidates = [c for c in candidates if c.hit.passage.doc_id == beside.doc_id]
        if not candidates:
            return Answer(ABSTAIN_TEXT, [], True)
        # Embedding sentences is the costly step: only the most promising are embedded.
        candidates.sort(
            key=lambda c: (
                c.ranked_lexical + c.hit.score + s.kind_weight * c.kind + s.beside_weight * c.beside
            ),
            reverse=True,
        )
        # The same sentence in two copies of an article (syndicated, re-published)
        # would take two of the shortlist's places.
        candidates = _distinct(candidates)
        from_context = {id(h) for h in context}
        candidates = [c for c in candidates if id(c.hit) not in from_context][: s.candidates] + [
            c for c in candidates if id(c.hit) in from_context
        ][: s.candidates if context else 0]
        vectors = self.embedder.encode(
            [_in_context(c) if s.title_context else c.text for c in candidates]
        )
        cosine = vectors @ np.asarray(query_vector, dtype=np.float32)
        lexical = np.array([c.lexical for c in candidates])
        # Beside the quote the last answer made, the articles already cover the
        # conversation: what is said there counts toward answering at all.
        beside_bonus = s.beside_weight * np.array([c.beside for c in candidates], dtype=np.float32)
        scores = cosine + s.lexical_weight * lexical + beside_bonus
        rank = (
            scores
            + s.lexical_weight * (np.array([c.ranked_lexical for c in candidates]) - lexical)
            + s.kind_weight * np.array([c.kind for c in candidates], dtype=np.float32)
            + s.novel_weight * np.array([c.novel for c in candidates], dtype=np.float32)
        )
        order = np.argsort(-rank, kind="stable")
        if kind is not None:
            stated = np.array([c.kind for c in candidates], dtype=bool)
            scores = scores - s.kind_missing_penalty * ~stated
        best = float(scores.max())
        if best < s.abstain_below:
            return Answer(ABSTAIN_TEXT, [], True, round(best, 4))
        # The kind bonus reorders answers; it never lets a sentence below the
        # abstention threshold in.
        order = np.array([i for i in order if scores[i] >= s.abstain_below])
        top = float(rank[order[0]])
        chosen: list[int] = []
        length = 0
        for i in order:
            if len(chosen) >= s.max_sentences or rank[i] < top - s.keep_within:
                break
            if any(float(vectors[i] @ vectors[j]) > 0.9 for j in chosen):
                continue  # a near-duplicate adds nothing
            if chosen and length + len(candidates[i].text) > s.max_answer_chars:
                continue
            if chosen and candidates[chosen[0]].kind and not candidates[i].kind:
                continue  # the first already states what was asked
            chosen.append(int(i))
            length += len(candidates[i].text)
        spans = with_context(
            [self._span(candidates[i], float(scores[i])) for i in chosen],
            asked,
            s.context_words,
        )
        citations = []
        parts = []
        for n, (hit, start, end, score) in enumerate(spans, start=1):
            p = hit.passage
            quote = p.text[start - p.start : end - p.start]
            citations.append(
                Citation(
                    n=n,
                    doc_id=p.doc_id,
                    title=p.title,
                    source=p.source,
                    quote=quote,
                    start=start,
                    end=end,
                    chunk_id=p.chunk_id,
                    url=p.url,
                    collection=p.collection,
                    score=round(score, 4),
                    page=p.page_of(start),
                )
            )
            parts.append(f"{quote} [{n}]")
        return Answer(" ".join(parts), citations, False, round(best, 4))

    def _span(self, c: _Candidate, score: float) -> tuple[SearchHit, int, int, float]:
        start = c.start
        if c.lead is not None:
            p = c.hit.passage
            if len(p.text[c.lead - p.start : c.end - p.start].split()) <= self.settings.lead_words:
                start = c.lead
        return (c.hit, start, c.end, score)

    def _candidates(
        self, question: str, hits: list[SearchHit], asked_for: AskedFor, focus: str | None
    ) -> list[_Candidate]:
        terms = normalize.content_term_list(question)
        if asked_for.form:
            # "said" of "Who said that?" as typed asks for a speaker, any attribution.
            typed = set(normalize.content_term_list(focus or question))
            terms = [t for t in terms if t not in asked_for.form or t not in typed]
        weights = self.weights(terms) if self.weights is not None and terms else {}
        weight = {t: weights.get(t, 1.0) for t in terms}
        own = set(normalize.content_term_list(focus)) if focus else set()
        focused: dict[str, float] | None = None
        if own and len(own) <= self.settings.focus_words:
            cw = self.settings.context_weight
            focused = {t: w if t in own else w * cw for t, w in weight.items()}
        asked = set(terms)
        carried = asked - own if own and self.settings.carried_in_article else set()
        in_article = (
            {doc: carried & said for doc, said in terms_by_article(hits).items()} if carried else {}
        )
        seen: set[tuple[str, int]] = set()
        out: list[_Candidate] = []
        share = self.settings.window_share

        def overlap(have: set[str], weight: dict[str, float] = weight) -> float:
            total = sum(weight.values())
            return sum(w for t, w in weight.items() if t in have) / total if total else 0.0

        for hit in hits:
            p = hit.passage
            before: tuple[int, set[str]] | None = None
            for a, b in split_sentences(p.text):
                text = p.text[a:b]
                said = normalize.content_terms(text)
                have = said | normalize.related_terms(weight, said)
                previous, before = before, (a, have)
                key = (p.doc_id, p.start + a)
                if key in seen or b - a < 12:
                    continue
                seen.add(key)
                if addresses_an_assistant(text):
                    continue  # orders to a model are never the answer (see answer.injection)
                alone = overlap(have)
                lead = None
                together = alone
                near = have
                if (
                    previous is not None
                    and not _PARAGRAPH_BREAK.search(p.text[previous[0] : a])
                    and not addresses_an_assistant(p.text[previous[0] : a])
                ):
                    near = have | previous[1]
                    together = overlap(near)
                    if together > alone:
                        lead = p.start + previous[0]
                lexical = (1 - share) * alone + share * together
                context = in_article.get(p.doc_id)
                if context:
                    have, near = have | context, near | context
                    lexical = (1 - share) * overlap(have) + share * overlap(near)
                focus_share = None
                if focused is not None:
                    focus_share = (1 - share) * overlap(have, focused) + share * overlap(
                        near, focused
                    )
                out.append(
                    _Candidate(
                        hit,
                        p.start + a,
                        p.start + b,
                        text,
                        lexical,
                        asked_for.stated_by(text),
                        min(1.0, len(said - asked) / self.settings.novel_words),
                        lead,
                        focus_share,
                    )
                )
        return out


def _beside(c: _Candidate, quote: ShownQuote, chars: int, known: set[str]) -> _Candidate:
    """``c`` with ``beside`` set when it states the kind asked within ``chars`` of
    ``quote`` (naming someone not in ``known``): 1 beside or inside it, falling to 0
    at ``chars`` away."""
    if not c.kind or quote.doc_id != c.hit.passage.doc_id:
        return c
    if known and not entities.names(c.text) - known:
        return c
    gap = max(0, quote.start - c.end, c.start - quote.end)
    return replace(c, beside=max(0.0, 1 - gap / chars)) if gap < chars else c


def _distinct(candidates: list[_Candidate]) -> list[_Candidate]:
    """The first of each sentence text (spacing aside), in order."""
    seen: set[str] = set()
    out = []
    for c in candidates:
        key = " ".join(c.text.split())
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def terms_by_article(hits: Iterable[SearchHit]) -> dict[str, set[str]]:
    """Article -> the content terms its passages among ``hits`` say."""
    said: dict[str, set[str]] = {}
    for hit in hits:
        said.setdefault(hit.passage.doc_id, set()).update(normalize.content_terms(hit.passage.text))
    return said


def _in_context(c: _Candidate) -> str:
    """The sentence as it is embedded: after its article's title, which names the
    subject a sentence of the article seldom repeats ("Huguenot: Most of the
    congregations ... affiliated with other Protestant denominations")."""
    title = (c.hit.passage.title or "").strip()
    return f"{title}: {c.text}" if title else c.text
