"""Sentence spans over article text, shared by the chunker and the answerers.

Spans are (start, end) character offsets, so whatever is built from them can be
traced back to the exact place in the article.
"""

from __future__ import annotations

import re

# Words that end with a period without ending a sentence.
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st mt ft vs etc e.g i.e cf al fig no nos vol pp
    gen col lt sgt capt cmdr adm gov sen rep rev hon pres inc ltd co corp jan feb mar apr
    jun jul aug sep sept oct nov dec u.s u.k u.n a.m p.m approx est dept univ""".split()
)
_TERMINAL = re.compile(r"[.!?…]+[\"'”’)\]]*")
_NEXT_START = re.compile(r"\s+(?=[\"'“‘(\[]?[A-Z0-9À-Ý])")


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at ``dot`` closes an abbreviation or an initial."""
    start = dot
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    word = text[start:dot].lower().lstrip("\"'“‘([")
    if not word:
        return False
    if len(word) == 1 and word.isalpha():  # an initial: "J. Smith"
        return True
    return word in _ABBREVIATIONS


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans in ``text[start:end]``, trimmed of surrounding whitespace.

    Paragraph breaks always end a sentence; a single line break ends one unless
    the next line starts in lower case (a hard-wrapped line).
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cut_points: set[int] = set()
    for m in _TERMINAL.finditer(text, start, end):
        after = m.end()
        if after >= end:
            continue
        nxt = _NEXT_START.match(text, after, end)
        if nxt is None:
            continue
        if (
            text[m.start()] == "."
            and m.end() - m.start() == 1
            and _is_abbreviation(text, m.start())
        ):
            continue
        cut_points.add(after)
    for m in re.finditer(r"\n\s*\n|\n(?=\s*[^\s\na-z])", text[start:end]):
        cut_points.add(start + m.start())
    pos = start
    for cut in [*sorted(cut_points), end]:
        _append_trimmed(text, pos, cut, spans)
        pos = cut
    return spans


def _append_trimmed(text: str, a: int, b: int, spans: list[tuple[int, int]]) -> None:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if b > a:
        spans.append((a, b))
