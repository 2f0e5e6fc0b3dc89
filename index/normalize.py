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
from collections.abc import Iterable
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


# --- content words: the one kit for answers, condensing and verification -------
# Questions and claims carry words that say nothing about the subject ("tell me",
# "what", "please"); these are dropped on top of the keyword index's stopwords.
# Negations stay: "not" changes what a claim says.
_NEGATIONS = frozenset({"no", "nor", "not", "never", "without"})
CONTENT_STOPWORDS = (
    _STOPWORDS
    | frozenset(
        """a an the and or but if of to in on at by for with about against between into
        through during before after above below from up down out off over under again
        further then once here there when where why how all any both each few more most
        other some such only own same so than too very can will just should now is are was
        were be been being have has had having do does did doing i me my we our you your he
        him his she her it its they them their what which who whom whose this that these
        those am would could shall may might must also else tell please say know ok okay
        thanks thank""".split()
    )
) - _NEGATIONS


def _is_content(word: str) -> bool:
    # A lone letter is what splitting "firm's" or "don't" leaves ("s", "t"): it says
    # nothing, and as a word the keyword index never saw it would weigh the most.
    # A lone digit ("3 goals") stays.
    return word not in CONTENT_STOPWORDS and not (len(word) == 1 and word.isalpha())


def term_of_word(word: str) -> str:
    """A folded word's stem (Snowball, like the keyword index), cached."""
    term = _STEMS.get(word)
    if term is None:
        if len(_STEMS) > _TERMS_MAX:
            _STEMS.clear()
        term = _STEMS[word] = word if "." in word else _stemmer().stemWord(word)
    return term


_STEMS: dict[str, str] = {}


def content_terms(text: str) -> set[str]:
    """Stemmed words that carry meaning: what answers, questions and claims share."""
    return {term_of_word(w) for w in words(text) if _is_content(w)}


# Snowball leaves some forms of one word apart: "prosecutor" stays whole while
# "prosecuting" becomes "prosecut". Two terms this long where one begins the other
# are taken as one word where sentences are scored (not in the keyword index).
# Shorter stems begin too many other words ("govern", "intern", "presid").
RELATED_MIN_LETTERS = 7


def related_terms(wanted: Iterable[str], have: set[str]) -> set[str]:
    """The terms of ``wanted`` missing from ``have`` that a term of ``have`` begins,
    or begins with, both at least :data:`RELATED_MIN_LETTERS` long."""
    out: set[str] = set()
    for t in wanted:
        if len(t) < RELATED_MIN_LETTERS or t in have:
            continue
        if any(
            len(h) >= RELATED_MIN_LETTERS and (h.startswith(t) or t.startswith(h)) for h in have
        ):
            out.add(t)
    return out


def content_term_list(text: str) -> list[str]:
    """:func:`content_terms` in order of first appearance."""
    return list(dict.fromkeys(term_of_word(w) for w in words(text) if _is_content(w)))


# A word as written: letters/digits, inner apostrophes and hyphens kept.
_SURFACE = re.compile(r"[^\W_](?:[\w'’-]*[^\W_])?")


def content_words(text: str) -> list[str]:
    """Words that carry meaning, in order, first spelling kept, case-insensitively unique."""
    seen: set[str] = set()
    out: list[str] = []
    for word in _SURFACE.findall(text):
        key = word.lower()
        base = key.replace("’", "'").removesuffix("'s")
        if key in CONTENT_STOPWORDS or base in CONTENT_STOPWORDS or key in seen:
            continue
        seen.add(key)
        out.append(word)
    return out
