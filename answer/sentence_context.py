"""The sentences around a chosen one that it needs to make sense.

- A sentence that opens by pointing back ("It was signed on ...", "They ...",
  "This deal ...") is quoted together with the sentence before it, as one
  contiguous span, when both lie in the same paragraph. "This Christmas ..." or
  "That night ..." only dates the sentence and stays alone.
- A sentence followed by one that opens with an example or the usual case ("For
  instance P ⊆ NP ...", "Usually, the alphabet is ...") is quoted with it: a
  general statement leaves its specifics to the sentence that elaborates it.
- A quote that does not state the kind of thing asked (a date for "when", a
  number for "how many", a name for "who") is quoted with the sentence right
  before or after it, in the same paragraph, when that one does ("On 12 May
  1705, the Assembly passed an act ... Of the original 390 settlers, ...").
- Asked "when", a quote still without a date borrows the date from the start of
  its paragraph: news paragraphs open with the day of the event they describe
  ("On 19 August, ...") and do not repeat it.

Quotes stay verbatim: every span is a slice of the passage with exact offsets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from answer.question_type import AskedFor
from index.models import SearchHit
from index.text import split_sentences

# (hit, start, end, score): start/end are article offsets inside hit.passage.
Span = tuple[SearchHit, int, int, float]

# "This Christmas, ...", "That night ...": a demonstrative before a time word dates
# the sentence from the time of writing; it names nothing said before.
_WHEN = (
    r"(?:year|week|month|season|summer|winter|spring|autumn|morning|afternoon|evening"
    r"|night|weekend|christmas|easter|day|decade|century|quarter"
    r"|(?:mon|tues|wednes|thurs|fri|satur|sun)day"
    r"|january|february|march|april|may|june|july|august|september|october|november"
    r"|december)s?"
)

_POINTS_BACK = re.compile(
    r"^[\"'“‘(]?(?:it|its|this|that|these|those|they|them|their|he|she|his|her|such"
    r"|both|the two|the latter|the former|the same)\b(?!\s+" + _WHEN + r"\b)",
    re.IGNORECASE,
)


# "uses this network type", "All of this set the stage", "In this way, ...": a
# demonstrative with no noun phrase of its own names something said before.
_REFERS_BACK = re.compile(
    r"\b(?:(?:this|these|those|such)\s+(?:\w+\s+){0,2}?(?:type|kind|way|form|sort|method|"
    r"process|approach|system|network|model|idea|view|name|term|case|period|time|event|"
    r"role|step|practice|act|law|rule)s?\b|(?:all|both|none|each|some|many|most) of "
    r"(?:this|these|those|them)\b|in (?:this|that) way)",
    re.IGNORECASE,
)


# Openings of a sentence that gives the specifics of the one before it.
_ELABORATES = re.compile(
    r"^[\"'“‘(]?(?:for (?:instance|example)|e\.g\.|usually|typically|in particular|"
    r"specifically|namely)\b",
    re.IGNORECASE,
)


def points_back(sentence: str) -> bool:
    return bool(_POINTS_BACK.match(sentence) or _REFERS_BACK.search(sentence))


def _sentences(hit: SearchHit) -> list[tuple[int, int]]:
    """Sentence spans of the passage, as article offsets."""
    p = hit.passage
    return [(p.start + a, p.start + b) for a, b in split_sentences(p.text)]


def _same_paragraph(hit: SearchHit, a: int, b: int) -> bool:
    """No blank line between article offsets a < b of this passage."""
    p = hit.passage
    between = p.text[a - p.start : b - p.start]
    return not re.search(r"\n\s*\n", between)


def _words(hit: SearchHit, a: int, b: int) -> int:
    p = hit.passage
    return len(p.text[a - p.start : b - p.start].split())


def _text(hit: SearchHit, a: int, b: int) -> str:
    p = hit.passage
    return p.text[a - p.start : b - p.start]


def _with_neighbour_stating(span: Span, asked: AskedFor, max_words: int) -> Span:
    """The span grown by the sentence just before it, else just after it, when
    that one states what was asked and lies in the same paragraph."""
    hit, start, end, score = span
    if asked.kind is None:
        return span
    sentences = _sentences(hit)
    before = [x for x in sentences if x[1] <= start]
    if before:
        a, b = before[-1]
        if (
            _same_paragraph(hit, a, start)
            and asked.stated_by(_text(hit, a, b))
            and _words(hit, a, end) <= max_words
        ):
            return (hit, a, end, score)
    after = [x for x in sentences if x[0] >= end]
    if after:
        a, b = after[0]
        if (
            _same_paragraph(hit, end, a)
            and asked.stated_by(_text(hit, a, b))
            and _words(hit, start, b) <= max_words
        ):
            return (hit, start, b, score)
    return span


def with_context(
    spans: Sequence[Span], asked: AskedFor, max_words: int, max_spans: int = 2
) -> list[Span]:
    out: list[Span] = []
    for hit, start, end, score in spans:
        if points_back(_text(hit, start, end)):
            before = [s for s in _sentences(hit) if s[1] <= start]
            if before:
                a, _ = before[-1]
                if _same_paragraph(hit, a, start) and _words(hit, a, end) <= max_words:
                    start = a
        after = [x for x in _sentences(hit) if x[0] >= end]
        if after and _ELABORATES.match(_text(hit, *after[0])):
            a, b = after[0]
            if _same_paragraph(hit, end, a) and _words(hit, start, b) <= max_words:
                end = b
        out.append((hit, start, end, score))
    if out and not any(asked.stated_by(_text(h, a, b)) for h, a, b, _ in out):
        out[0] = _with_neighbour_stating(out[0], asked, max_words)
    if (
        asked.kind == "date"
        and out
        and not any(asked.stated_by(_text(h, a, b)) for h, a, b, _ in out)
    ):
        hit, start, end, score = out[0]
        sentences = [s for s in _sentences(hit) if s[1] <= start]
        opening = None
        for a, b in reversed(sentences):  # back to the paragraph's first sentence
            if not _same_paragraph(hit, a, start):
                break
            opening = (a, b)
        if opening is not None and asked.stated_by(_text(hit, *opening)):
            a, b = opening
            if b == sentences[-1][1] and _words(hit, a, end) <= max_words:
                out[0] = (hit, a, end, score)  # adjacent: one contiguous quote
            else:
                out = [(hit, a, b, score), *out[: max_spans - 1]]
    # Spans that now overlap are merged; order of first appearance is kept.
    merged: list[Span] = []
    for hit, a, b, score in out:
        for k, (h2, a2, b2, s2) in enumerate(merged):
            if h2.passage == hit.passage and a < b2 and a2 < b:
                merged[k] = (h2, min(a, a2), max(b, b2), max(score, s2))
                break
        else:
            merged.append((hit, a, b, score))
    return merged
