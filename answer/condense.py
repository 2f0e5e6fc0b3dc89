"""Turn a follow-up question plus its conversation into one standalone question.

Retrieval sees one question at a time, so "and when?" after "What did Gazprom
and SOCAR sign?" must carry the subject along. The heuristic here needs no LLM
and is kept free of any front end (HTTP chat and Slack threads both use it):

1. Without an earlier question from the user, the question stands as it is.
2. A question is a follow-up when it opens with a continuation cue ("and",
   "also", "what about", ...), refers back with a pronoun ("it", "they",
   "that", ...) or has at most two content words ("when?", "how much oil?").
3. A follow-up carries the *subject* of the conversation: the content words of
   the most recent user question that has a subject of its own (a standalone
   question, a topic switch such as "What about BRICS?", or one naming
   something). Only that one question's own words are carried, never what it
   carried itself, so words cannot pile up turn after turn:
   "and when?" -> "Gazprom SOCAR sign: and when?". The one exception is a
   subject question that itself points back ("Who bought its main unit?"): the
   subject question before it comes along too, one step back and no further.
4. A follow-up that only changes a circumstance ("And in America?" after "What
   did the Huguenots do in South Africa?") or an item ("And the second?") is a
   *facet*: it carries the subject minus the phrase it replaces ("Huguenots: in
   America?") and is answered condensed first (:func:`facet`). A follow-up that
   is just a question form ("Why?", "For how long?", :func:`only_asks`) is
   answered condensed first too. Both continue the *last* question, so when that
   one had no subject of its own ("Why was she banned?"), its own words come
   along before the subject's ("banned ...: For how long?").
5. A follow-up with a subject of its own ("What about BRICS?", "Why does it
   matter for Russia?") is *unsure*: its own words may be a new topic or a
   detail of the old one. Callers retrieve with both the raw follow-up and the
   condensed form and fuse (:func:`has_own_subject`).

6. Answers (assistant turns) are otherwise unused: quoting them back would drag
   retrieval towards the passage already shown. The one exception is the person
   a "Who ...?" question was answered with: "he" in "What did he win an Oscar
   for?" after "Who is the musical director of the Oscars?" means the name the
   answer gave ("Bill Conti"), which no question said (:func:`_answered_person`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from answer.llm import LLMClient, LLMError
from answer.prompting import PromptBuilder
from index import entities
from index.normalize import CONTENT_STOPWORDS, content_words, term_of_word

_WORD = re.compile(r"[^\W_](?:[\w'’-]*[^\W_])?")

# Connectors are dropped when the subject is prepended; asides read fine as they are.
_CONNECTOR = re.compile(r"^(?:and|also|but|so|then|or)\b[\s,;:.-]*", re.IGNORECASE)
_ASIDE = re.compile(r"^(?:what|how) (?:about|else)\b", re.IGNORECASE)
_PRONOUNS = frozenset(
    "it its it's they them their theirs this that these those he him his she her hers "
    "there such".split()
)
# A name: a capitalised word past the first one, or an acronym anywhere.
_NAME = re.compile(r"(?<=\s)[A-Z][\w’'-]+|\b[A-Z]{2,}\b")
# "the money", "the criminal penalties": a definite noun phrase, something known.
_DEFINITE = re.compile(r"\b(?:the|which)\s+[^\W\d_]", re.IGNORECASE)

# "And in America?", "what about for children?": the same question with one of its
# circumstances changed (the place, the time, the group), not a new topic.
_PREPOSITIONS = (
    "in|on|at|for|during|since|before|after|from|to|with|without|under|over|near|"
    "among|between|by|outside|inside|within|across|around|against|per"
)
# "In which country?" asks something new about the same subject: not a facet.
_FACET = re.compile(
    rf"^(?:{_PREPOSITIONS})\b(?!\s+(?:what|which|whom|whose|how|when|where)\b)",
    re.IGNORECASE,
)

# "And the second?", "what about the next one?": the same question for another item.
_ORDINALS = frozenset(
    "first second third fourth fifth sixth seventh eighth ninth tenth last next previous "
    "other others latest earlier later final one ones".split()
)
_ORDINAL = "ordinal"  # what facet() returns for them: no phrase, ordinal words replaced

_WH = re.compile(r"\b(?:what|when|where|who|whom|whose|why|how|which)\b", re.IGNORECASE)
# The words of a question form that content_words keeps: "long" in "for how long?".
_HOW_WORDS = re.compile(r"\bhow (?:long|much|many|often|far|old|big|soon|come)\b", re.IGNORECASE)

# A pronoun for a person, and a "Who ...?" question that an answer names one for.
_PERSONAL = re.compile(r"\b(?:he|him|his|she|her|hers)\b", re.IGNORECASE)
_WHO = re.compile(r"^\W*(?:and\s+)?who\b", re.IGNORECASE)
_CAPITALISED_RUN = re.compile(r"[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*")
# What follows a name used as a subject ("Bill Conti's job", "Kelli White has
# admitted", "Westlife won"): a possessive, punctuation or a verb. A capitalised
# word before a noun ("Rock singer", "Shares in", "Banned American sprinter")
# describes rather than names.
_AFTER_NAME = re.compile(
    r"(?:['’]s\b|\s*[,.;:)]|\s+(?:has|have|had|is|was|were|are|will|would|who|said|won|took|"
    r"made|got|became|gave|told|met|beat|[a-z]+ed|[a-z]+s)\b)"
)

# Words carried from the subject question, at most.
MAX_CONTEXT_WORDS = 8

# What a front end calls: (question, earlier turns oldest first) -> standalone question.
CondenseFn = Callable[[str, Sequence["Turn"]], str]

__all__ = [
    "CondenseFn",
    "Condenser",
    "Turn",
    "as_messages",
    "condense_question",
    "content_words",
    "facet",
    "has_own_subject",
    "is_follow_up",
    "with_subject",
]


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    text: str


def as_messages(turns: Sequence[Turn]) -> list[dict[str, str]]:
    """The turns as chat messages ``{"role", "content"}``, the shape LLM prompts take."""
    return [{"role": t.role, "content": t.text} for t in turns]


def _strip_cue(question: str) -> tuple[str, bool]:
    rest = _CONNECTOR.sub("", question, count=1)
    return rest, rest != question or bool(_ASIDE.match(rest))


def is_follow_up(question: str) -> bool:
    _, cued = _strip_cue(question.strip())
    if cued:
        return True
    if refers_back(question):
        return True
    return len(content_words(question)) <= 2


def refers_back(question: str) -> bool:
    """True when the question points at the conversation with a pronoun ("it", "they",
    "that"): its own words cannot say what it is about."""
    return any(w.lower() in _PRONOUNS for w in _WORD.findall(question))


def has_own_subject(question: str) -> bool:
    """True when the question names what it is about: it stands alone, switches topic
    ("what about X?", "and X?"), names something, or has three or more content words."""
    question = question.strip()
    if not is_follow_up(question):
        return True
    rest, cued = _strip_cue(question)
    own = content_words(rest)
    if not own:
        return False
    if cued and not any(w.lower() in _PRONOUNS for w in _WORD.findall(rest)):
        # "what about BRICS?", "and the railway?"; "and the second?" names nothing
        return facet(question) != _ORDINAL
    return bool(_NAME.search(question)) or len(own) >= 3


def _only_ordinals(words: Sequence[str]) -> bool:
    return bool(words) and all(w.lower() in _ORDINALS or w.isdigit() for w in words)


def facet(question: str) -> str | None:
    """What a follow-up changes when it only changes one circumstance of the last
    question: the preposition of "And in America?" ("in"), ``"ordinal"`` for "And
    the second?", else None. Its words are no new topic: the subject comes along,
    minus the phrase it replaces ("in South Africa", "first")."""
    question = question.strip()
    if not is_follow_up(question) or refers_back(question):
        return None
    rest, _ = _strip_cue(question)
    rest = _ASIDE.sub("", rest, count=1).strip()
    m = _FACET.match(rest)
    if m:
        return m.group(0).lower()
    return _ORDINAL if _only_ordinals(content_words(rest)) else None


def _without_phrase(question: str, preposition: str) -> str:
    """``question`` without its first phrase opened by ``preposition``, up to the next
    preposition or punctuation: "What did the Huguenots do in South Africa?" -> "What
    did the Huguenots do ?". For ``"ordinal"``, without its ordinal words."""
    if preposition == _ORDINAL:
        return " ".join(w for w in question.split() if w.strip("?!.,;:").lower() not in _ORDINALS)
    pattern = rf"\b{re.escape(preposition)}\s+.*?(?=\s+(?:{_PREPOSITIONS})\b|[,;:?!.]|$)"
    return re.sub(pattern, " ", question, count=1, flags=re.IGNORECASE)


def _own_words(question: str, replacing: str | None = None) -> list[str]:
    rest, _ = _strip_cue(" ".join(question.split()))
    # "much" of "How much will Shell pay?" is how it asked, not what about.
    rest = _HOW_WORDS.sub(" ", rest)
    return content_words(_without_phrase(rest, replacing) if replacing else rest)


def _is_subject(asked: Sequence[str], i: int) -> bool:
    """Whether the ``i``-th question asked names the conversation's subject. The first
    always does, however short ("What is civil disobedience?"): nothing came before
    it to lean on."""
    return i == 0 or has_own_subject(asked[i])


def _subject(asked: Sequence[str], replacing: str | None = None) -> list[str]:
    """Content words of the most recent question with a subject of its own, then,
    when that question itself leans on the one before ("Who bought its main unit?",
    "And in America?"), those of the subject question before it: "its" needs
    "Yukos" to mean anything; or when it names nothing but speaks of a known thing
    ("Whose campaign got the money?"), those of the latest subject question that
    named something. Two questions at most, so words never pile up.
    ``replacing``: what a facet follow-up replaces (:func:`facet`), dropped from
    the subject question (the follow-up says the new one)."""
    subjects = [i for i in range(len(asked)) if _is_subject(asked, i)]
    if not subjects:
        return []
    latest = asked[subjects[-1]]
    words = _own_words(latest, replacing)
    leans = facet(latest)
    if len(subjects) < 2:
        return words
    if refers_back(latest) or leans or _detail(latest):
        earlier = subjects[-2]
    elif _NAME.search(latest) is None and _DEFINITE.search(latest) and not _strip_cue(latest)[1]:
        # "Whose campaign got the money?" after "How much will Titan pay over the
        # Benin bribery?": a subject that names nothing but speaks of "the" money
        # means a part of the last one that did ("Titan", "Benin"), however many
        # unnamed ones came between. "What are hijacked computers called?" or "Who
        # reached 1,000 points?" speaks of no such thing: a subject of its own. A
        # cued switch ("and the railway?") says what it replaces the subject with.
        named = [i for i in subjects[:-1] if _NAME.search(asked[i])]
        earlier = named[-1] if named else subjects[-2]
    else:
        return words
    have = {w.lower() for w in words}
    before = _own_words(asked[earlier], leans)
    return words + [w for w in before if w.lower() not in have]


def _answered_person(history: Sequence[Turn]) -> list[str]:
    """The words of the first name the answer to the latest "Who ...?" question gave
    that the question did not say ("Bill Conti" for "Who is the musical director of
    the Oscars?"), unless a later question names something without "he" or "she"
    (a new subject); else none."""
    for i in range(len(history) - 1, -1, -1):
        turn = history[i]
        if turn.role != "user":
            continue
        if not _WHO.match(turn.text):
            if _NAME.search(turn.text) and not _PERSONAL.search(turn.text):
                return []  # a later question named someone or something new
            continue
        answer = next((t.text for t in history[i + 1 :] if t.role == "assistant"), "")
        said = {w.lower() for w in _WORD.findall(turn.text)}
        known = entities.names(answer)
        for m in _CAPITALISED_RUN.finditer(answer):
            name = entities.without_possessive(m.group(0))
            if not _AFTER_NAME.match(answer, m.start() + len(name)):
                continue
            # entities.names skips capitalised openers ("The", "However").
            first = name.split()[0].lower()
            if first in known and not {w.lower() for w in name.split()} & said:
                return name.split()
        return []
    return []


def _detail(question: str) -> bool:
    """A short question that names something without a cue ("Who scored for
    Barcelona?" after a question on Chelsea v Barcelona): it asks a detail of the
    conversation's subject rather than switching from it ("What about BRICS?")."""
    return is_follow_up(question) and not _strip_cue(question)[1]


def _elliptic(question: str) -> bool:
    """A follow-up that says almost nothing but how it asks ("Why?", "For how
    long?"): it continues the last question, not just the conversation's subject."""
    rest, _ = _strip_cue(question)
    return len(content_words(rest)) <= 1 and not _NAME.search(question)


def only_asks(question: str) -> bool:
    """True for a follow-up that is just a question form ("Why?", "For how long?",
    "How much?"): it has no words that could pick the sentences. "What was the
    score?" has one, and a bare keyword ("Value") is one."""
    rest, _ = _strip_cue(question.strip())
    return bool(_WH.search(rest)) and not content_words(_HOW_WORDS.sub(" ", rest))


def condense_question(question: str, history: Sequence[Turn]) -> str:
    """The question to retrieve with; ``history`` is the earlier turns, oldest first."""
    question = " ".join(question.split())
    if not is_follow_up(question):
        return question
    return with_subject(question, history)


def with_subject(question: str, history: Sequence[Turn]) -> str:
    """``question`` with the conversation's subject carried in by the rules of
    :func:`condense_question`, whether or not it reads as a follow-up."""
    question = " ".join(question.split())
    asked = [t.text for t in history if t.role == "user" and t.text.strip()]
    if not asked:
        return question
    have = {term_of_word(w.lower()) for w in _WORD.findall(question)}
    replacing = facet(question)
    words = _subject(asked, replacing)
    if (_elliptic(question) or replacing) and not _is_subject(asked, len(asked) - 1):
        # "Why was she banned?" then "For how long?": the last question says what
        # is asked about (the ban), the subject whom. Its own words only, so at
        # most three questions (this one, the subject and the one it points back
        # to) and MAX_CONTEXT_WORDS words ever meet in one condensed question.
        last = _own_words(asked[-1], replacing)
        seen = {w.lower() for w in last}
        words = last + [w for w in words if w.lower() not in seen]
    if _PERSONAL.search(question):
        person = _answered_person(history)
        if person and not any(w in words for w in person):
            words = person + words
    carried = [
        w
        for w in words
        if term_of_word(w.lower()) not in have and w.lower() not in CONTENT_STOPWORDS
    ][:MAX_CONTEXT_WORDS]
    if not carried:
        return question
    rest, _ = _strip_cue(question)
    return f"{' '.join(carried)}: {rest or question}"


# --- with an LLM ----------------------------------------------------------------
# With an LLM configured, the ``condense.txt`` prompt asks it to rewrite the
# question; when it fails the heuristic above is used.

log = logging.getLogger("citeline.condense")
Message = dict[str, str]


class Condenser:
    def __init__(
        self, client: LLMClient | None = None, prompts: PromptBuilder | None = None
    ) -> None:
        if (client is None) != (prompts is None):
            raise ValueError("an LLM condenser needs both a client and prompts")
        self.client = client
        self.prompts = prompts

    async def run(self, question: str, history: Sequence[Message]) -> str:
        turns = _turns(history)
        if not turns:
            return question.strip()
        if self.client is not None and self.prompts is not None:
            try:
                text = await self.client.complete(
                    self.prompts.condense([dict(m) for m in history], question), max_tokens=80
                )
                line = text.strip().splitlines()[0].strip().strip('"') if text.strip() else ""
                if 3 <= len(line) <= 500:
                    return line
            except LLMError as exc:
                log.warning("LLM condensation failed, using the heuristic: %s", exc)
        return condense_question(question, turns)


def _turns(history: Sequence[Message]) -> list[Turn]:
    return [
        Turn("user" if m["role"] == "user" else "assistant", m["content"])
        for m in history
        if m.get("role") in ("user", "assistant") and m.get("content")
    ]


def in_context(question: str, history: Sequence[Message]) -> str:
    """A question that stands alone, read in the conversation ``history`` (chat
    messages): :func:`with_subject`, for retrieval only."""
    return with_subject(question, _turns(history))
