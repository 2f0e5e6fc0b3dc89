"""Dates, numbers, places and names in English text, by pattern and small lexicon.

No statistical model: spaCy's English models are not published on PyPI (only
as GitHub release wheels, which cannot be installed here), so what a question
asks for and what a sentence states are recognised with regular expressions and
short word lists. They aim at the forms news and encyclopedia text use
("On 19 August", "in 1963", "$2.3bn", "40 per cent", "the State Oil Company").

Each finder returns the matched strings, lower-cased and folded the way
:func:`index.normalize.words` folds text, so a claim's "19 August" meets a
quote's "19 August" whatever the typography.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_DATE = re.compile(
    rf"""\b(?:
        (?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\.?(?:,?\s+\d{{4}})?)  # 19 Aug 2024
      | (?:(?:{_MONTHS})\.?\s+(?:of\s+)?\d{{4}})                                   # August 2024
      | (?:(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?!\d)(?:,?\s+\d{{4}})?) # Aug 19, 2024
      | (?:(?:early|mid|late)[\s-]+(?:{_MONTHS}))
      | (?:{_DAYS})
      | (?:\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}})                                   # 19/08/2024
      | (?:\d{{4}}s)                                                               # 1990s
      | (?:\d{{1,2}}(?:st|nd|rd|th)[\s-]+centur(?:y|ies))                          # 16th century
      | (?:(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh
           |twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth
           |nineteenth|twentieth|twenty-first)[\s-]+centur(?:y|ies))
      | (?:(?:1[0-9]|20)\d{{2}}(?:\s*[-–]\s*(?:1[0-9]|20)?\d{{2}})?)(?![\d,.]\d)     # 1963, 1914-18
      | (?:\d{{1,2}}[:.]\d{{2}}\s*(?:a\.?m\.?|p\.?m\.?)?)                           # 10:30
      | (?:\d{{1,2}}\s*(?:a\.?m\.?|p\.?m\.?))                                       # 3 pm
      | (?:(?:yesterday|today|tomorrow|tonight|midnight|noon))
      | (?:(?:last|next|this)\s+(?:week|month|year|spring|summer|autumn|fall|winter))
      | (?:(?:spring|summer|autumn|winter)\s+(?:of\s+)?\d{{4}})
      | (?:\d+\s+(?:bc|bce|ad|ce)\b)
    )""",
    re.IGNORECASE | re.VERBOSE,
)

_NUMBER_WORDS = (
    "zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen"
    "|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy"
    "|eighty|ninety|hundred|hundreds|thousand|thousands|million|millions|billion|billions"
    "|trillion|dozen|dozens|half|twice|double|triple|single|several|once|third|quarter"
)
_NUMBER = re.compile(
    rf"""(?:[$£€¥]\s?)?(?<![\w.])\d[\d,]*(?:\.\d+)?(?:\s?(?:%|bn|m|k|km|kg|mph|per\s?cent|percent))?\b
      | (?<![\w.])\d+(?:st|nd|rd|th)\b                                              # 43rd
      | \b(?:{_NUMBER_WORDS})(?:[\s-](?:{_NUMBER_WORDS}))*\b""",
    re.IGNORECASE | re.VERBOSE,
)

# Places: a gazetteer of continents and common country and city names would be
# long; words that introduce a place and generic geographic nouns carry most of it.
_PLACE_NOUNS = re.compile(
    r"\b(?:city|cities|town|village|country|countries|capital|province|region|state|county"
    r"|district|island|islands|river|mountain|mountains|lake|sea|ocean|coast|continent"
    r"|border|valley|desert|peninsula|port|street|square|building|bay|north|south|east|west"
    r"|northern|southern|eastern|western|central|abroad|overseas|located|headquartered|based)\b",
    re.IGNORECASE,
)
_PLACE_PREPOSITIONS = re.compile(
    r"\b(?:in|at|from|to|near|into|across|throughout|outside|inside|within|between)\s+"
    r"(?:the\s+)?((?:[A-Z][\w’'-]+)(?:\s+(?:of\s+)?[A-Z][\w’'-]+)*)"
)

# A run of capitalised words (or an acronym), allowing "of"/"de"/"the" inside:
# "State Oil Company of the Azerbaijan Republic", "SOCAR", "Vladimir Putin".
_NAME = re.compile(
    r"(?:[A-Z][\w’'&.-]*[\w]|[A-Z])(?:\s+(?:(?:of|de|del|la|van|von|der|the)\s+){0,2}"
    r"(?:[A-Z][\w’'&.-]*[\w]|[A-Z]))*"
)
_ORG_WORDS = frozenset(
    """company corporation corp inc ltd plc group bank university college institute
    agency ministry department council committee commission party army navy union
    association society foundation office court parliament government league club
    federation organisation organization fund board bureau school church""".split()
)
# Capitalised at the start of a sentence without being a name.
_COMMON_OPENERS = frozenset(
    """a an the this that these those it its he she they we i you his her their our my
    in on at by for with from to of as after before during when while since if but and
    or so yet although though because however also there here what which who where why
    how many much some most all both each every no not one two three on during despite
    according under over between among into about than then thus still even only just
    later earlier today yesterday currently meanwhile other another such""".split()
)


_POSSESSIVE_END = re.compile(r"['’]s$")


def without_possessive(word: str) -> str:
    """``word`` (or a run of words) without a closing "'s": "Conti's" -> "Conti"."""
    return _POSSESSIVE_END.sub("", word)


def _fold(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def dates(text: str) -> set[str]:
    """Date and time expressions: "19 August", "1963", "the 1990s", "10:30 pm"."""
    return {_fold(m.group(0)) for m in _DATE.finditer(text)}


def numbers(text: str) -> set[str]:
    """Numbers and quantities, in digits or words; years count too."""
    return {_fold(m.group(0)) for m in _NUMBER.finditer(text) if _fold(m.group(0))}


def digits(text: str) -> set[str]:
    """Numbers written with digits, separators removed ("2,225" -> "2225")."""
    return {
        m.group(0).replace(",", "").rstrip(".")
        for m in re.finditer(r"(?<![\w.])\d[\d,]*(?:\.\d+)?", text)
    }


def names(text: str) -> set[str]:
    """Capitalised words and runs of them, each word on its own too ("vladimir putin",
    "vladimir", "putin"), skipping common words capitalised at a sentence start."""
    out: set[str] = set()
    for m in _NAME.finditer(text):
        run = m.group(0)
        # "Conti's job" names Conti: the possessive is no part of the name.
        parts = [without_possessive(p) for p in run.split()]
        while parts and parts[0].lower() in _COMMON_OPENERS:
            parts = parts[1:]
        while parts and parts[-1].lower() in {"of", "de", "the", "and", "for"}:
            parts = parts[:-1]
        if not parts:
            continue
        out.add(_fold(" ".join(parts)))
        out.update(
            _fold(p)
            for p in parts
            if p.lower() not in {"of", "de", "del", "la", "the", "and", "for"} and _fold(p)
        )
    return {n for n in out if n and not _is_calendar(n)}


def _is_calendar(name: str) -> bool:
    return bool(re.fullmatch(rf"(?:{_MONTHS}|{_DAYS})", name))


# "a speech to Labour's spring conference", "at Shell's annual meeting": a
# possessive before a common noun names an owner, not a place ("at Gateshead's
# Sage Centre" still names one).
_OWNER_BEFORE_NOUN = re.compile(r"['’]s\s+[a-z]")


def has_place(text: str) -> bool:
    """A place name after a locative preposition, or a geographic noun."""
    if _PLACE_NOUNS.search(text):
        return True
    return any(
        not _OWNER_BEFORE_NOUN.match(text, m.end(1) - 2) for m in _PLACE_PREPOSITIONS.finditer(text)
    )


def has_person_or_org(text: str) -> bool:
    """A name that is not merely a capitalised first word."""
    return (
        any(n for n in names(text) if " " in n)
        or bool(set(_fold(text).split()) & _ORG_WORDS)
        or bool(names(text))
    )


@dataclass(frozen=True)
class Facts:
    """What a sentence states beyond its ordinary words, for comparing two texts."""

    dates: frozenset[str]
    numbers: frozenset[str]
    names: frozenset[str]


@lru_cache(maxsize=4096)
def facts(text: str) -> Facts:
    return Facts(frozenset(dates(text)), frozenset(numbers(text)), frozenset(names(text)))
