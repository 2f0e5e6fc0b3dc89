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
# A word, or single letters joined by dots ("U.S", "e.g"; also "3.5"), kept as
# one term so abbreviations made of single letters survive (those are dropped).
_TERM = re.compile(r"\b\w(?:\.\w)+\b|\w+")
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


# word -> term (None: dropped). A corpus repeats a few thousand words millions
# of times, so stemming each distinct word once makes indexing several times faster.
_TERMS: dict[str, str | None] = {}
_TERMS_MAX = 500_000


def term_of(word: str) -> str | None:
    """The term a word from :func:`words` indexes as, or None when it is dropped."""
    if "." in word:
        # "u.s" stays whole and unstemmed: stemming would cut its "s", and
        # joining it into "us" would meet the pronoun.
        return word
    if len(word) < 2 or word in _STOPWORDS:
        return None
    stem: str = _stemmer().stemWord(word)
    return stem


def words(text: str) -> list[str]:
    """Case- and Unicode-folded words, before stopwords and stemming.

    Spacing and punctuation do not matter here (words are runs of word
    characters), so only the Unicode folding of :func:`normalize` is applied."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return _TERM.findall(text.lower())


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed keyword terms, without stopwords and one-character words."""
    cache = _TERMS
    if len(cache) > _TERMS_MAX:
        cache.clear()
    out: list[str] = []
    for word in words(text):
        term = cache.get(word, "")
        if term == "":
            term = cache[word] = term_of(word)
        if term:
            out.append(term)
    return out
