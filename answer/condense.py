"""Turn a follow-up question plus its conversation into one standalone question.

Retrieval sees one question at a time, so "and when?" after "What did Gazprom
and SOCAR sign?" must carry the subject along. There is no LLM here yet, so this
is a heuristic, kept free of Slack so any front end (and later an LLM condenser
with the same signature) can use it:

1. Without an earlier question from the user, the question stands as it is.
2. A question is a follow-up when it opens with a continuation cue ("and",
   "also", "what about", ...), refers back with a pronoun ("it", "they",
   "that", ...) or has at most two content words ("when?", "how much oil?").
3. A follow-up gets the content words of the previous question, itself made
   standalone first (so chains of follow-ups keep their subject), prepended
   in their original order and spelling, minus words it already has:
   "and when?" -> "Gazprom SOCAR sign: when?".

Answers (assistant turns) are accepted but unused: quoting them back would
drag retrieval towards the passage already shown.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from answer.llm import LLMClient, LLMError
from answer.prompting import PromptBuilder

_WORD = re.compile(r"[^\W_](?:[\w'’-]*[^\W_])?")

# Connectors are dropped when the subject is prepended; asides read fine as they are.
_CONNECTOR = re.compile(r"^(?:and|also|but|so|then|or)\b[\s,;:.-]*", re.IGNORECASE)
_ASIDE = re.compile(r"^(?:what|how) (?:about|else)\b", re.IGNORECASE)
_PRONOUNS = frozenset(
    "it its it's they them their theirs this that these those he him his she her hers "
    "there such".split()
)
_STOPWORDS = (
    frozenset(
        """a an the and or but if of to in on at by for with about against between into through
    during before after above below from up down out off over under again further then once
    here when where why how all any both each few more most other some no nor not only own
    same so than too very can will just should now is are was were be been being have has had
    having do does did doing i me my we our you your what which who whom whose am would could
    shall may might must also else tell please say said know ok okay thanks thank""".split()
    )
    | _PRONOUNS
)

MAX_CONTEXT_WORDS = 8

# What a front end calls: (question, earlier turns oldest first) -> standalone question.
CondenseFn = Callable[[str, Sequence["Turn"]], str]


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    text: str


def as_messages(turns: Sequence[Turn]) -> list[dict[str, str]]:
    """The turns as chat messages ``{"role", "content"}``, the shape LLM prompts take."""
    return [{"role": t.role, "content": t.text} for t in turns]


def content_words(text: str) -> list[str]:
    """Words that carry meaning, in order, first spelling kept, case-insensitively unique."""
    seen: set[str] = set()
    words: list[str] = []
    for word in _WORD.findall(text):
        key = word.lower()
        if key in _STOPWORDS or key in seen:
            continue
        seen.add(key)
        words.append(word)
    return words


def _strip_cue(question: str) -> tuple[str, bool]:
    rest = _CONNECTOR.sub("", question, count=1)
    return rest, rest != question or bool(_ASIDE.match(rest))


def is_follow_up(question: str) -> bool:
    _, cued = _strip_cue(question.strip())
    if cued:
        return True
    words = [w.lower() for w in _WORD.findall(question)]
    if any(w in _PRONOUNS for w in words):
        return True
    return len(content_words(question)) <= 2


def condense_question(question: str, history: Sequence[Turn]) -> str:
    """The question to retrieve with; ``history`` is the earlier turns, oldest first."""
    question = " ".join(question.split())
    asked = [t.text for t in history if t.role == "user" and t.text.strip()]
    if not asked or not is_follow_up(question):
        return question
    previous = condense_question(asked[-1], [Turn("user", q) for q in asked[:-1]])
    have = {w.lower() for w in _WORD.findall(question)}
    carried = [w for w in content_words(previous) if w.lower() not in have][:MAX_CONTEXT_WORDS]
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
        turns = [
            Turn("user" if m["role"] == "user" else "assistant", m["content"])
            for m in history
            if m.get("role") in ("user", "assistant") and m.get("content")
        ]
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
