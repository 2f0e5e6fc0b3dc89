"""Prompts from the templates in ``prompts/`` and token budgets for them.

The context window is shared by the instructions, the question, the sources and
the answer. Instructions and the question are never cut; sources are added in
rank order while they fit, and the first that does not fit is trimmed at a
sentence boundary. Token counts use cl100k; the model's own tokenizer may
count differently, so only ``budget_ratio`` of the window is planned for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import prompts
from answer.injection import redact
from index.models import SearchHit
from index.text import split_sentences
from index.tokens import count_tokens

# Role markers and separators a chat template adds around each message.
MESSAGE_OVERHEAD_TOKENS = 8
MIN_SOURCE_TOKENS = 40

Message = dict[str, str]


@dataclass(frozen=True)
class PromptTemplates:
    system: str
    user: str
    source: str
    condense: str

    @classmethod
    def load(cls, folder: Path | None = None) -> PromptTemplates:
        """The shipped templates, or those in ``folder``."""
        return cls(
            system=prompts.read("answer_system.txt", folder),
            user=prompts.read("answer_user.txt", folder),
            source=prompts.read("source.txt", folder),
            condense=prompts.read("condense.txt", folder),
        )


def fill(template: str, **values: str) -> str:
    # str.format would choke on braces inside article text; placeholders are few.
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


@dataclass(frozen=True)
class AnswerPrompt:
    messages: list[Message]
    sources: list[SearchHit]  # sources[n - 1] is what [n] refers to
    prompt_tokens: int


class PromptBuilder:
    def __init__(
        self,
        templates: PromptTemplates,
        *,
        context_tokens: int = 4096,
        answer_tokens: int = 300,
        budget_ratio: float = 0.85,
    ) -> None:
        self.templates = templates
        self.context_tokens = context_tokens
        self.answer_tokens = answer_tokens
        self.budget_ratio = budget_ratio

    @property
    def prompt_budget(self) -> int:
        return int(self.context_tokens * self.budget_ratio) - self.answer_tokens

    def answer(self, question: str, hits: Sequence[SearchHit]) -> AnswerPrompt:
        t = self.templates
        fixed = (
            count_tokens(t.system)
            + count_tokens(fill(t.user, sources="", question=question))
            + 2 * MESSAGE_OVERHEAD_TOKENS
        )
        room = self.prompt_budget - fixed
        blocks: list[str] = []
        used: list[SearchHit] = []
        for hit in hits:
            n = len(used) + 1
            text = redact(hit.passage.text)
            block = self._source_block(n, hit, text)
            cost = count_tokens(block) + 2
            if cost > room:
                text = self._trim(text, room - (cost - count_tokens(text)))
                if not text:
                    break
                block = self._source_block(n, hit, text)
                cost = count_tokens(block) + 2
            blocks.append(block)
            used.append(hit)
            room -= cost
        user = fill(t.user, sources="\n\n".join(blocks), question=question)
        messages = [{"role": "system", "content": t.system}, {"role": "user", "content": user}]
        tokens = sum(count_tokens(m["content"]) + MESSAGE_OVERHEAD_TOKENS for m in messages)
        return AnswerPrompt(messages, used, tokens)

    def condense(self, history: Sequence[Message], question: str) -> list[Message]:
        lines = [f"{m['role']}: {m['content']}" for m in history]
        # Oldest turns go first when the history is long: the last ones matter most.
        budget = self.prompt_budget - count_tokens(self.templates.condense) - count_tokens(question)
        kept: list[str] = []
        for line in reversed(lines):
            budget -= count_tokens(line) + 1
            if budget < 0:
                break
            kept.insert(0, line)
        prompt = fill(self.templates.condense, history="\n".join(kept), question=question)
        return [{"role": "user", "content": prompt}]

    def _source_block(self, n: int, hit: SearchHit, text: str) -> str:
        title = hit.passage.title or hit.passage.doc_id
        return fill(self.templates.source, n=str(n), title=title, text=text)

    @staticmethod
    def _trim(text: str, tokens: int) -> str:
        """The longest run of whole leading sentences within ``tokens``."""
        if tokens < MIN_SOURCE_TOKENS:
            return ""
        end = 0
        for _, b in split_sentences(text):
            if count_tokens(text[:b]) > tokens:
                break
            end = b
        return text[:end]
