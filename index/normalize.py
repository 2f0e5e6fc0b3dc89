"""Text normalisation shared by ingest and query time, so both sides see the same terms.

``normalize`` repairs typography that varies between sources without changing
meaning (compatibility forms, spaces before punctuation, runs of whitespace).
``terms`` turns text into the stemmed keyword terms the BM25 index stores and
searches with. Stored article text is never changed: citation offsets index
into the original, so normalisation only shapes what is embedded and indexed.

Bump ``ANALYZER_VERSION`` whenever ``terms`` changes: indexes record it and are
rebuilt by the next ingest, because query terms must match indexed terms.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

ANALYZER_VERSION = "en-snowball-1"

# "WORD ." / "WORD ," as in typewritten or OCR'd sources; closing brackets too.
_SPACE_BEFORE = re.compile(r"(?<=\S)[ \t]+(?=[.,;:!?%)\]}](?:\s|$|[.,;:!?)\]}\"'’”]))")
_SPACE_AFTER_OPEN = re.compile(r"(?<=[(\[{])[ \t]+")
_SPACES = re.compile(r"[ \t\u00a0]+")
# A word, or letters joined by dots ("U.S.", "e.g."), kept as one term so
# abbreviations made of single letters survive (single letters are dropped).
_TERM = re.compile(r"(?:\w\.){2,}(?!\w)|\w(?:\.\w)+(?=\W|$)|\w+")
_STOPWORDS = frozenset(STOPWORDS_EN)


def normalize(text: str) -> str:
    """Compatibility forms (NFKC), no space before closing punctuation, single spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = _SPACE_BEFORE.sub("", text)
    text = _SPACE_AFTER_OPEN.sub("", text)
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def _term(word: str) -> str | None:
    # Cached: a corpus repeats a few thousand words millions of times.
    if "." in word:
        # "u.s" stays whole and unstemmed: stemming would cut its "s", and
        # joining it into "us" would meet the pronoun.
        return word
    if len(word) < 2 or word in _STOPWORDS:
        return None
    stem: str = _stemmer().stemWord(word)
    return stem


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed keyword terms, without stopwords and one-character words."""
    found = (_term(m.group().rstrip(".")) for m in _TERM.finditer(normalize(text).lower()))
    return [t for t in found if t]
