"""What kind of thing a question asks for, and whether a sentence states one.

"When ...?" wants a date or time, "How many ...?" a number, "Who ...?" a
person or organisation, "Where ...?" a place, "What type of plea ...?" a kind
of plea ("a blind plea": the noun asked about, with a word before it that the
question does not say). A sentence that is on the topic
but states nothing of the asked kind beyond what the question already says
rarely answers it, so the extractive answerer prefers sentences that do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from index import entities, normalize

_NAMING = r"(?:called|named|known as|termed|dubbed|nicknamed|referred to as)"
# A naming phrase and the first word of the name it gives ("known as TNT").
_NAMED = re.compile(rf"\b{_NAMING}\s+(?:an?\s+|the\s+)?[\"'“‘]?([\w-]+)", re.IGNORECASE)

Kind = Literal["name", "date", "number", "words", "speaker", "person", "place", "type"]

# Verbs that attribute words or a view to someone ("says", "predicts Oliver Irish").
_ATTRIBUTION_VERBS = """say says said saying claim claims claimed predict predicts predicted
think thinks thought believe believes believed warn warns warned argue argues argued told
tells insist insists insisted suggest suggests suggested estimate estimates estimated add
adds added stated states explained explains forecast forecasts expect expects
expected""".split()
_ATTRIBUTES = rf"(?:{'|'.join(_ATTRIBUTION_VERBS)}|according to)"
_ATTRIBUTING = re.compile(rf"\b{_ATTRIBUTES}\b", re.IGNORECASE)
# Their keyword terms: in a speaker question they say how it asks, not what about.
_ATTRIBUTION_TERMS = frozenset(normalize.content_term_list(" ".join(_ATTRIBUTION_VERBS)))

# "What did the treasurer say?": group 1 names who; a pronoun ("What did he say?")
# names no one, and its condensed reading carries who.
_WORDS_OF = re.compile(
    r"\bwhat\s+(?:did|does|do|has|have|had|is|was|were|are|will|would)\s+"
    r"(?!(?:he|she|they|it|we|you|i|this|that|these|those|one)\s)"
    rf"([\w'’&. -]+?)\s+(?:{'|'.join(_ATTRIBUTION_VERBS)}|tell)\b",
    re.IGNORECASE,
)

_PATTERNS: list[tuple[Kind, re.Pattern[str]]] = [
    (
        # "What is it called?", "What was the first network named", "What is it
        # called when ...": the word for something, said after "called" or
        # "known as" in the sentence that answers.
        "name",
        re.compile(
            rf"\b(?:what|which)\b[^?]*\b{_NAMING}(?=\s*(?:[?.!]|$|when\b|if\b|that\b|in\b|by\b))",
            re.IGNORECASE,
        ),
    ),
    (
        "date",
        re.compile(
            r"\b(?:when|since when|what (?:year|years|date|day|month|time|century|decade|era|"
            r"period)|which (?:year|years|date|day|month|century|decade)|how long ago|"
            r"in what (?:year|century|decade|month))\b",
            re.IGNORECASE,
        ),
    ),
    (
        "number",
        re.compile(
            r"\b(?:how (?:many|much|long|old|far|big|large|tall|high|often|fast|deep|wide|"
            r"heavy|few)|what (?:percentage|percent|proportion|share|number|amount|size|"
            r"fraction|price|cost|temperature|population|level|rate|score)"
            r"|at what (?:age|rate|speed|level)"
            r"|(?:in\s+)?(?:which|what) (?:minute|lap|position))\b",
            re.IGNORECASE,
        ),
    ),
    # "What did Labour say about him?", "What does the report warn?": what the one
    # named said, in a sentence that attributes words to them (AskedFor.by).
    ("words", _WORDS_OF),
    (
        # "Who says so?", "Who said that?", "According to whom?": who the words or
        # the view quoted come from. A condensed follow-up puts it after a colon.
        "speaker",
        re.compile(
            rf"(?:^|:\s)\W*(?:who\b(?:\s+(?:is|was|has|had|did|does|first))?\s+{_ATTRIBUTES}\b"
            r"|(?:and\s+)?according to whom\b|who (?:made|makes|is behind) (?:the|that|this) "
            r"(?:claim|prediction|statement|comment|forecast|estimate)s?\b"
            r"|whose (?:claim|prediction|view|words|estimate|forecast)s?\b)",
            re.IGNORECASE,
        ),
    ),
    (
        "person",
        re.compile(
            r"^(?:\W*)(?:who|whom|whose)\b|\b(?:who|whom|whose)\b|\b(?:which|what) "
            r"(?:person|people|company|companies|organi[sz]ation|group|team|party|king|queen|"
            r"leader|president|author|scientist|firm|band|club|university|agency|ruler|"
            r"emperor|family|dynasty|tribe|player|artist|architect|engineer|official)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "place",
        re.compile(
            r"\bwhere\b|\b(?:which|what|in which|in what) (?:country|countries|city|cities|"
            r"place|region|state|town|continent|location|area|island|river|province|county|"
            r"district|street|building|venue|border)\b",
            re.IGNORECASE,
        ),
    ),
]


# "What type of plea", "which kind of civil disobedience", "the name of the alphabet".
_TYPE_OF = re.compile(
    r"\b(?:what|which)\s+(?:is\s+the\s+|are\s+the\s+)?(?:type|kind|sort|form|variety|"
    r"class|category|name|term)s?\s+(?:of|for)\s+(?:the\s+|a\s+|an\s+)?"
    r"([a-z][\w-]*(?:\s+[a-z][\w-]*)?)",
    re.IGNORECASE,
)
# Words that end the noun asked about ("what type of plea is ...") or cannot modify it.
_NOT_NOUN = frozenset(
    "is are was were be been do does did can could would should will has have had that "
    "which who whom whose in on at by for from with to of and or as".split()
)
_NOT_MODIFIER = frozenset(
    "a an the this that these those its their his her our your my of in on at by for "
    "from with to and or as is are was were be some any each every no other such".split()
)


# "How much did the film take?", "What price ...?": an amount of money, not just any
# number (the same sentence's "down 26.5%" does not answer it).
_MONEY_QUESTION = re.compile(
    r"\bhow much\b.*\b(?:cost|costs|costing|pay|paid|pays|spend|spent|spends|take|took|"
    r"taken|takes|earn|earned|earns|make|made|makes|raise|raised|give|gave|given|donate|"
    r"donated|sell|sold|bid|offer|offered|worth|charge|charged|fine|fined|owe|owed|invest|"
    r"invested|borrow|borrowed|money|cash|budget|fee|fees|price|salary|wage|wages|gross|"
    r"grossed|fetch|fetched)\b|\bwhat (?:price|cost|fee|salary)\b",
    re.IGNORECASE,
)
_CURRENCY = (
    r"(?:US\$|\$|£|€|¥|\b(?:dollars?|pounds?|euros?|yen|yuan|rupees?|francs?|roubles?|"
    r"rubles?)\b)"
)
_SCALE = r"(?:\s?(?:m|bn|k|million|billion|trillion)\b)?"
_MONEY = re.compile(
    rf"{_CURRENCY}\s?\d[\d,.]*{_SCALE}|\d[\d,.]*{_SCALE}\s?{_CURRENCY}", re.IGNORECASE
)


# "How old is he?", "At what age ...": an age ("At 23", "the 36-year-old", "aged
# 19", "his 19th birthday"), not "One game into his career".
_AGE_QUESTION = re.compile(r"\bhow old\b|\bwhat age\b", re.IGNORECASE)
_AGE = re.compile(
    r"\b(?:aged\s+\d{1,3}|\d{1,3}[- ]years?[- ]old|\d{1,3}(?:st|nd|rd|th) birthday|"
    r"(?:at|age of|age)\s+\d{1,3}(?![\d.:%]|\s?(?:am|pm|per|%))|\d{1,3} years of age)\b",
    re.IGNORECASE,
)


# An attribution to a name: "said Mr Irish", "predicts Oliver Irish", "Irish said",
# "according to Sony". A pronoun ("he said") names no one new.
_TITLE = r"(?:(?:Mr|Mrs|Ms|Miss|Dr|Prof|Sir|Lord|Lady|Dame|Rev)\.?\s+)?"
_ATTRIBUTION = re.compile(
    rf"\b(?i:{_ATTRIBUTES})\s+(?:by\s+)?(?:the\s+)?{_TITLE}((?:[A-Z][\w'’-]*\s*){{1,4}})"
    rf"|((?:[A-Z][\w'’-]*\s+){{1,4}})(?:has\s+|had\s+|also\s+)?({_ATTRIBUTES})\b"
)
# "Experts predict ...", "Critics say ...": one capitalised plural before a plural
# verb opens the sentence; it is a common noun, not a name.
_PLURAL_VERB = frozenset(
    "say claim predict think believe warn argue insist suggest estimate add expect forecast".split()
)
# How many words either side of "said" can name the speaker ("A Scottish Labour
# Party spokesman said", "said Treasurer Peter Costello").
_SPEAKER_WORDS = 5
_NOT_SPEAKER = frozenset("he she they it we i you this that there but and".split())


def speakers(sentence: str) -> set[str]:
    """The names a sentence attributes words or a view to (folded as entities.names)."""
    out: set[str] = set()
    for m in _ATTRIBUTION.finditer(sentence):
        run = (m.group(1) or m.group(2)).split()
        if m.group(3) in _PLURAL_VERB and len(run) == 1 and run[0].endswith("s"):
            continue
        while run and run[0].lower() in _NOT_SPEAKER:
            run = run[1:]
        if run:
            out |= entities.names(" ".join(run))
    return out


def attributes_to(sentence: str, by: frozenset[str]) -> bool:
    """True when ``sentence`` attributes words to one of ``by`` (keyword terms):
    "Labour said he had ...", "... said Treasurer Peter Costello", "A Scottish Labour
    Party spokesman said". The words beside an attribution verb name who speaks."""
    for m in _ATTRIBUTING.finditer(sentence):
        before = sentence[: m.start()].split()[-_SPEAKER_WORDS:]
        after = sentence[m.end() :].split()[:_SPEAKER_WORDS]
        near = normalize.content_terms(" ".join([*before, *after]))
        if by & near or normalize.related_terms(by, near):
            return True
    return False


def amounts_of_money(text: str) -> set[str]:
    """The amounts of money a text states ("dollars 19.1m", "£2m", "5 euros")."""
    return {" ".join(m.group(0).lower().split()) for m in _MONEY.finditer(text)}


def asked_type(question: str) -> str | None:
    """The noun a "what type/kind/name of N" question asks about ("plea"), or None."""
    m = _TYPE_OF.search(question)
    if m is None:
        return None
    words = m.group(1).lower().split()
    if words[0] in _NOT_NOUN:
        return None
    if len(words) > 1 and words[1] in _NOT_NOUN:
        words = words[:1]
    return " ".join(words)


def question_kind(question: str) -> Kind | None:
    """The kind of answer asked for, or None ("what", "why", "how" ask for anything)."""
    for kind, pattern in _PATTERNS:
        if pattern.search(question):
            return kind
    if asked_type(question) is not None:
        return "type"
    return None


@dataclass(frozen=True)
class AskedFor:
    """What one question asks for, read once, checked against many sentences."""

    kind: Kind | None
    question: str
    noun: str | None = None  # for "type": the noun asked about
    dates: frozenset[str] = frozenset()
    numbers: frozenset[str] = frozenset()
    # For "number": the question asks an amount of money; its own amounts, if any.
    money: frozenset[str] | None = None
    # For "number": the question asks an age.
    age: bool = False
    # The question's words and names: a sentence must say something beyond them.
    said: frozenset[str] = frozenset()
    # Content terms that only say how it asks: "said" in "Who said that?" is met by
    # "predicts Hanna Voss" as well as by "said Marc Ferrand".
    form: frozenset[str] = frozenset()
    # For "words": the terms of who is asked about ("treasurer" in "What did the
    # treasurer say?").
    by: frozenset[str] = frozenset()

    @classmethod
    def of(cls, question: str, kind: Kind | None = None) -> AskedFor:
        """``kind`` given overrides the one read from the question (sentence_context
        asks whether a sentence holds a date whatever the question's kind)."""
        kind = kind if kind is not None else question_kind(question)
        if kind == "date":
            return cls(kind, question, dates=frozenset(entities.dates(question)))
        if kind == "number":
            money = None
            if _MONEY_QUESTION.search(question):
                money = frozenset(amounts_of_money(question))
            return cls(
                kind,
                question,
                numbers=frozenset(entities.numbers(question)),
                money=money,
                age=bool(_AGE_QUESTION.search(question)),
            )
        if kind == "type":
            words = frozenset(re.findall(r"[\w-]+", question.lower()))
            return cls(kind, question, noun=asked_type(question), said=words)
        if kind == "name":
            return cls(kind, question, said=frozenset(re.findall(r"[\w-]+", question.lower())))
        if kind == "words":
            m = _WORDS_OF.search(question)
            by = frozenset(normalize.content_term_list(m.group(1))) if m else frozenset()
            return cls(kind, question, by=by) if by else cls(None, question)
        if kind in ("person", "place", "speaker"):
            said = frozenset(entities.names(question)) | frozenset(
                re.findall(r"\w+", question.lower())
            )
            form = _ATTRIBUTION_TERMS if kind == "speaker" else frozenset()
            return cls(kind, question, said=said, form=form)
        return cls(None, question)

    def stated_by(self, sentence: str) -> bool:
        """True when ``sentence`` states something of the kind asked that the question
        does not already say."""
        kind = self.kind
        if kind is None:
            return False
        if kind == "date":
            return bool(entities.dates(sentence) - self.dates)
        if kind == "number":
            if self.money is not None:
                return bool(amounts_of_money(sentence) - self.money)
            if self.age:
                return bool(_AGE.search(sentence))
            return bool(entities.numbers(sentence) - self.numbers)
        if kind == "type":
            if self.noun is None:
                return False
            pattern = r"([\w-]+)\s+" + re.escape(self.noun) + r"\b"
            for m in re.finditer(pattern, sentence, re.IGNORECASE):
                word = m.group(1).lower()
                if word not in _NOT_MODIFIER and word not in self.said and not word.isdigit():
                    return True
            return False
        if kind == "person":
            return bool(entities.names(sentence) - self.said)
        if kind == "speaker":
            return bool(speakers(sentence) - self.said)
        if kind == "words":
            return attributes_to(sentence, self.by)
        if kind == "name":
            return any(m.group(1).lower() not in self.said for m in _NAMED.finditer(sentence))
        # place
        if entities.has_place(sentence):
            return bool(entities.names(sentence) - self.said) or bool(
                re.search(r"\b(?:located|headquartered|based|situated)\b", sentence, re.IGNORECASE)
            )
        return False


def states_kind(sentence: str, kind: Kind | None, question: str) -> bool:
    """True when ``sentence`` states something of ``kind`` the question does not already say."""
    if kind is None:
        return False
    return AskedFor.of(question, kind).stated_by(sentence)
