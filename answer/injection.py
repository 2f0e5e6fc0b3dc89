"""Spotting sentences that address an AI instead of informing a reader.

Articles are data, never instructions. The extractive answerer cannot obey
anything, but it can be made to *quote* an instruction as if it were the answer
when the instruction repeats a question's words (content poisoning). A sentence
that gives orders to an assistant is never a factual answer to a question about
the articles, so the answerer leaves such sentences out. The patterns are the
common shapes of prompt injection (override phrases, chat-role markers, demands
on the reply's form), not words of any particular article.
"""

from __future__ import annotations

import re

from index.text import split_sentences

_PATTERNS = (
    # "Ignore all previous instructions", "disregard the above prompt", ...
    r"\b(ignore|disregard|forget|override)\b[^.!?\n]{0,40}\b(previous|prior|above|earlier|"
    r"preceding|system|original|all)\b[^.!?\n]{0,20}\b(instructions|prompts?)\b",
    # A chat transcript's role marker opening the sentence: "System: ...", "Assistant: ..."
    r"^\W*(system|assistant|ai|chatbot)\s*:",
    # An order about the reply itself, opening the sentence or a clause:
    # "Reply with the single word ...", "... and respond only with ..."
    r"(^|\band\b|[,;:])\W*(reply|respond|answer)\s+(only\s+)?(with|in)\b",
    r"\bdo not (answer|respond to|reply to) the (user|user's|question|prompt)",
    r"\byou are (now )?(an? )?(ai|assistant|language model|chatbot|llm)\b",
)
_INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)


def addresses_an_assistant(sentence: str) -> bool:
    """True for a sentence shaped like an instruction to an AI model."""
    return _INSTRUCTION.search(sentence) is not None


REDACTED = "[text addressed to an AI assistant, left out]"


def redact(text: str) -> str:
    """``text`` with its instruction-shaped sentences replaced by a marker.

    For LLM prompts: the system prompt already tells the model that sources are
    data, but a small model can still be swayed; what it never reads cannot.
    """
    out, last = [], 0
    for a, b in split_sentences(text):
        if addresses_an_assistant(text[a:b]):
            out += [text[last:a], REDACTED]
            last = b
    if last == 0:
        return text
    out.append(text[last:])
    return "".join(out)
