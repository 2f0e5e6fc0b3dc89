"""Is a generated sentence's substance in the quote it cites?

Embedding similarity and shared names are not enough: "Gazprom and SOCAR signed
a gas transit deal" sits close to "Gazprom and SOCAR signed a strategic
partnership" in embedding space. A claim is backed only when what it asserts
is found in the quote: its dates, numbers, names, and its other content words
(the relations and events: "signed", "transit", "pipeline"), compared through
the one normalisation kit (stems as the keyword index makes them). Word forms
(sign/signed), a short list of common synonyms and words that only frame a
claim ("according", "reported") are allowed; anything else new is reported.
"""

from __future__ import annotations

import re
from functools import lru_cache

from index import entities
from index.normalize import content_terms, term_of_word, words

# Words that frame or hedge a claim without asserting anything the quote must hold.
_FRAMING = frozenset(
    term_of_word(w)
    for w in """according article articles source sources text passage report reports reported
    reportedly state states stated say says said note notes noted mention mentions mentioned
    describe describes described explain explains explained write writes wrote written
    indicate indicates indicated suggest suggests suggested claim claims claimed
    also however furthermore moreover additionally overall thus therefore still addition
    one several various many""".split()
)

# Common synonyms of news and encyclopedia prose, both ways; a paraphrase may use
# either word of a pair. Small on purpose: an unlisted synonym is reported as new.
_SYNONYM_PAIRS = """buy purchase|begin start|end finish|big large|small little|
help assist|show demonstrate|use utilize|need require|get obtain|try attempt|
make create|build construct|want wish|agreement deal|agreement accord|deal accord|
visit trip|talk discuss|talks discussions|meet met|country nation|firm company|
business company|chief head|leader head|rise increase|fall decrease|drop decrease|
grow increase|cut reduce|buy acquire|kill slay|die perish|famous renowned|
important significant|main principal|major significant|huge large|
allow permit|enable allow|aim goal|go travel|travel journey|fight battle|
war conflict|film movie|job work|hit strike|city town|speak talk|link connect|
tie relation|ties relations|strong robust|quickly rapidly|often frequently|
near close|around approximately|about approximately|almost nearly|
seek pursue|boost increase|strengthen boost|cooperation collaboration|
extensive broad|extensive wide|pact agreement|pact deal|award prize|
located situated|locate situate|consist comprise|include contain|
contain include|largest biggest|agree deal|agree agreement|agree sign|
sign conclude|first earliest|known called|name call"""


@lru_cache(maxsize=1)
def _synonyms() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for pair in _SYNONYM_PAIRS.replace("\n", "").split("|"):
        a, b = (term_of_word(w) for w in pair.split())
        table.setdefault(a, {a}).add(b)
        table.setdefault(b, {b}).add(a)
    return {k: frozenset(v) for k, v in table.items()}


def _same_word(term: str, have: set[str]) -> bool:
    if term in have:
        return True
    if term in _synonyms() and _synonyms()[term] & have:
        return True
    # Derivations the stemmer keeps apart: russia/russian, europe/european.
    if len(term) >= 5:
        return any(
            len(h) >= 5
            and (h.startswith(term) or term.startswith(h))
            and abs(len(h) - len(term)) <= 3
            for h in have
        )
    return False


_MONTH_NUMBER = {
    m: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for m in names
}
_NUMBER_WORD = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}


@lru_cache(maxsize=1)
def _calendar_stems() -> frozenset[str]:
    return frozenset(term_of_word(w) for w in [*_MONTH_NUMBER, *_NUMBER_WORD])


def _date_tokens(text: str) -> set[str]:
    """Tokens of the date expressions in ``text``, months as numbers, ordinals bare."""
    out: set[str] = set()
    for expr in entities.dates(text):
        for tok in expr.split():
            tok = re.sub(r"(?<=\d)(?:st|nd|rd|th)$", "", tok)
            if tok in _MONTH_NUMBER:
                out.add(f"m{_MONTH_NUMBER[tok]}")
            elif tok not in {"of", "the", "early", "mid", "late", "in", "on"}:
                out.add(tok)
    return out


def _numbers(text: str) -> set[str]:
    """Numbers in digits, number words as digits ("two" -> "2")."""
    out = set(entities.digits(text))
    for w in words(text):
        if w in _NUMBER_WORD:
            out.add(_NUMBER_WORD[w])
    return out


def missing_substance(claim: str, quote: str) -> list[str]:
    """What ``claim`` asserts that ``quote`` does not hold, as ``kind:item`` strings
    (empty when the quote backs every date, number, name and content word)."""
    missing: list[str] = []
    quote_words = set(words(quote))
    quote_terms = content_terms(quote) | {term_of_word(w) for w in quote_words}
    quote_dates = _date_tokens(quote) | quote_words
    for tok in sorted(_date_tokens(claim)):
        month = tok.startswith("m") and tok[1:].isdigit()
        if month:
            if tok not in _date_tokens(quote):
                missing.append(f"date:{tok}")
        elif tok not in quote_dates:
            missing.append(f"date:{tok}")
    quote_numbers = _numbers(quote)
    for number in sorted(_numbers(claim) - quote_numbers):
        if f"date:{number}" not in missing:
            missing.append(f"number:{number}")
    checked: set[str] = set()
    for name in sorted(entities.names(claim)):
        for part in name.split():
            checked.add(term_of_word(part))
            if part in quote_words or _same_word(term_of_word(part), quote_terms):
                continue
            if f"name:{part}" not in missing:
                missing.append(f"name:{part}")
    for term in sorted(content_terms(claim)):
        if term in checked or term in _FRAMING or term.isdigit():
            continue
        if term in _calendar_stems():
            continue  # months and number words were compared as dates and numbers
        if not _same_word(term, quote_terms):
            missing.append(f"word:{term}")
    return missing
