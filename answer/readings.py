"""Which readings of a follow-up answer it, in which order.

A follow-up has two readings: its raw words and the standalone form the
condenser made of it (answer.condense). Neither is safe alone: the condensed
form drags the old subject into a topic switch ("What about BRICS?"), the raw
one cannot say what "When was it signed?" is about. The answer service
retrieves with both, fuses the passages, and tries the readings in the order
chosen here; the next one (if any) answers when the first abstains.

Pure: texts and vectors in, readings out, no index needed to test it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from answer.condense import facet, has_own_subject, only_asks, refers_back
from answer.extractive import terms_by_article
from answer.models import Answer, FollowUpHints, ShownQuote
from answer.question_type import AskedFor
from answer.searcher import copy_key
from index import normalize
from index.models import SearchHit

# Of the conversation's subject (its terms weighted by IDF), the share an answer
# from a follow-up's own words must find in the articles it cites.
SUBJECT_SHARE = 0.5
# A condensed reading's sentences are compared in meaning with its question mixed
# with this much of the follow-up as typed: the carried words say where to look,
# the typed ones what is asked ("Where are they based?" after a question on
# hijacked computers quotes where the zombies are based, not what they are). Not
# for a bare question form ("Over how long?"), whose vector means nothing alone.
# Live follow-ups (bench/live_follow_ups.py) 0.15-0.3: +2 to +3 turns; convqa-dev
# unchanged up to 0.2 and one turn lost at 0.3.
TYPED_SHARE = 0.2


@dataclass(frozen=True)
class Reading:
    """One way to read a follow-up: the question whose words pick the sentences, and
    the vector they are compared with in meaning."""

    question: str
    vector: np.ndarray
    # For a condensed reading, the follow-up as typed: its own words are what it
    # asks about, the rest is carried context (answer.extractive weighs them so).
    focus: str | None = None
    # For a follow-up's own words answering alone: the terms of the conversation's
    # subject, which the articles it quotes must mention (:func:`stays_on_subject`).
    subject: frozenset[str] = frozenset()
    # For a follow-up with a subject of its own ("What about BRICS?"): it must stay
    # on the conversation's subject only when an article on that subject among the
    # passages names its own words too (:func:`stays_on_subject`); else it switches.
    may_switch: bool = False
    # For a question that stands alone mid-conversation, the passages retrieved with
    # the conversation's subject carried in (answer.extractive's ``context``).
    context: tuple[SearchHit, ...] = ()
    # For a follow-up without a subject of its own: the articles the last answer
    # quoted, among the passages. An answer from its own words must come from one
    # of them when one mentions those words (:func:`stays_on_subject`).
    discussed: frozenset[str] = frozenset()
    # For a follow-up that :func:`asks_beside_the_quote`: where the last answer's
    # first quote sits (:func:`shown_quotes`).
    beside: ShownQuote | None = None

    @property
    def hints(self) -> FollowUpHints:
        """What the extractive answerer takes from this reading beyond its question."""
        return FollowUpHints(self.focus, self.context, self.beside)


def follow_up_readings(
    raw: Reading, condensed: Reading, discussed: frozenset[str] = frozenset()
) -> list[Reading]:
    """The readings to answer with, best first.

    The condensed reading is compared in meaning with some of the typed words too
    (:data:`TYPED_SHARE`).

    - Words that only point back ("When was it signed?"), change one circumstance
      of the last question ("And in Canada?", "And the second?") or only ask
      ("For how long?"): the condensed form alone. Such words say nothing by
      themselves, so when the condensed form finds nothing, answering from them
      would quote whatever matches "it" or "in Canada" in any article.
    - Words with a subject of their own that do not point back ("What about
      BRICS?"): the raw reading leads with its own vector. When an article on the
      conversation's subject names those words too, the answer must come from
      such an article ("Who scored for Barcelona?" after a question on Chelsea v
      Barcelona had quoted another Barcelona match); else it is a topic switch
      and may quote any article.
    - Words that say neither ("How do I file an order?" after a question on
      restraining orders), or name something but point back too ("Why did they
      leave France?" after a question on the Huguenots, whose raw words alone
      quoted an executive leaving his post at a French firm): the raw words pick
      the sentences, compared in meaning with the mean of both vectors, so the
      conversation's subject counts without its words outweighing the follow-up's
      own. (Carried words counted as words did
      outweigh them on convqa-dev: "Value" after "renting or buying" quoted a
      renting-vs-buying list.) That answer must stay on the conversation's subject:
      "Where was the ceremony?" after "Who won the Meteor Awards?" quoted another
      awards ceremony, in Sydney. When the articles it quotes do not mention the
      subject, the condensed form answers instead (:func:`stays_on_subject`).
      Stricter still when the article the last answer quoted (``discussed``)
      mentions those words: the answer must come from it. "Where was the
      conference?" after a question on Gordon Brown's speech to Labour's spring
      conference had quoted another Labour conference article, on Manchester,
      which mentions Labour, spring and Brown too.
    """
    if raw.question == condensed.question:
        return [condensed]
    halfway = blend(raw.vector, condensed.vector, 0.5)
    if not only_asks(raw.question):
        condensed = replace(condensed, vector=blend(condensed.vector, raw.vector, TYPED_SHARE))
    own_subject = has_own_subject(raw.question)
    if (
        (refers_back(raw.question) and not own_subject)
        or facet(raw.question)
        or only_asks(raw.question)
    ):
        return [condensed]
    subject = frozenset(normalize.content_term_list(condensed.question)) - frozenset(
        normalize.content_term_list(raw.question)
    )
    if own_subject and not refers_back(raw.question):
        return [Reading(raw.question, raw.vector, subject=subject, may_switch=True), condensed]
    return [Reading(raw.question, halfway, subject=subject, discussed=discussed), condensed]


def blend(a: np.ndarray, b: np.ndarray, share: float) -> np.ndarray:
    """The unit vector of ``a`` and ``b`` mixed, ``b`` counting ``share`` (0..1)."""
    mixed = (1 - share) * np.asarray(a, dtype=np.float32) + share * np.asarray(b, dtype=np.float32)
    norm = float(np.linalg.norm(mixed))
    return mixed / norm if norm else mixed


def stays_on_subject(
    reading: Reading,
    answer: Answer,
    hits: Sequence[SearchHit],
    weights: Callable[[Iterable[str]], dict[str, float]] | None,
) -> bool:
    """Whether every article ``answer`` quotes (its passages among ``hits``) mentions
    at least :data:`SUBJECT_SHARE` of the reading's subject, its terms weighted by
    ``weights`` (IDF: "Meteor" counts, "won" and "awards" are said of every prize).
    True for a reading with no subject, and for one that ``may_switch`` when no
    article on the subject mentions that share of its own words."""
    if not reading.subject:
        return True
    said = terms_by_article(hits)
    if reading.discussed:
        own = _weighed(frozenset(normalize.content_term_list(reading.question)), weights)
        here = {d for d in reading.discussed if d in said and _mentions(said[d], own)}
        if here:
            return all(c.doc_id in here for c in answer.citations)
    subject = _weighed(reading.subject, weights)
    on_subject = {doc for doc, terms in said.items() if _mentions(terms, subject)}
    if reading.may_switch:
        own = _weighed(frozenset(normalize.content_term_list(reading.question)), weights)
        if not any(_mentions(said[doc], own) for doc in on_subject):
            return True  # no article on the subject names it: a topic switch
    return all(c.doc_id in on_subject for c in answer.citations)


def _weighed(
    terms: frozenset[str], weights: Callable[[Iterable[str]], dict[str, float]] | None
) -> dict[str, float]:
    weight = weights(terms) if weights is not None else {}
    return {t: weight.get(t, 1.0) for t in terms}


def _mentions(terms: set[str], wanted: dict[str, float]) -> bool:
    """Whether ``terms`` hold at least :data:`SUBJECT_SHARE` of the weight of
    ``wanted`` (term -> weight)."""
    total = sum(wanted.values())
    return sum(w for t, w in wanted.items() if t in terms) >= SUBJECT_SHARE * total


_CITATION_MARK = re.compile(r"\s*\[\d+\]\s*")


# "Who is he?", "Who are they?", "What is her name?": only who a pronoun means.
_WHO_IS = re.compile(
    r"^\W*(?:and\s+)?(?:who(?:\s+(?:is|was|are|were)|['’]s)\s+(?:he|she|they|that|this|it)"
    r"|what(?:\s+(?:is|was)|['’]s)\s+(?:his|her|their|its)\s+name)\W*$",
    re.IGNORECASE,
)


def asks_beside_the_quote(follow_up: str) -> bool:
    """Whether a follow-up asks for something said beside the last answer's first
    quote: who said it ("Who says so?", "According to whom?"), or who a pronoun
    means ("Who is he?" after "France's finance minister has said ...": the next
    sentence names Herve Gaymard). "Who was he speaking to?" asks something else."""
    return AskedFor.of(follow_up).kind == "speaker" or bool(_WHO_IS.match(follow_up))


def answer_quotes(answer: str) -> list[str]:
    """The quotes of an extractive answer as shown, whitespace folded, in order; a
    fragment too short to tell where it comes from is left out."""
    quotes = [" ".join(q.split()) for q in _CITATION_MARK.split(answer)]
    return [q for q in quotes if len(q) >= 20]


def shown_quotes(quotes: Sequence[str], hits: Sequence[SearchHit]) -> tuple[ShownQuote, ...]:
    """Where ``quotes`` (:func:`answer_quotes`) sit in the articles of ``hits``, in
    the quotes' order. Nothing for quotes not among them (an LLM's answer, a
    reformatted one)."""
    found: dict[tuple[str, int], ShownQuote] = {}
    texts = [copy_key(h) for h in hits]  # whitespace folded, as the quotes
    for q in quotes:  # in the answer's order
        for h, text in zip(hits, texts, strict=True):
            p = h.passage
            if q not in text:
                continue
            m = re.search(r"\s+".join(map(re.escape, q.split())), p.text)
            if m is not None:
                at = p.start + m.start()
                found.setdefault(
                    (p.doc_id, at), ShownQuote(p.doc_id, at, p.start + m.end(), m.group(0))
                )
    return tuple(found.values())


def discussed_articles(shown: Iterable[ShownQuote]) -> frozenset[str]:
    """The articles the last answer's quotes (``shown_quotes``) came from."""
    return frozenset(q.doc_id for q in shown)
