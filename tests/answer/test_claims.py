"""Substance of a claim against its quote (server/claims.py), on the seed article's
sentences read from the shared corpus at test time."""

from __future__ import annotations

import re

import pytest

from answer.claims import missing_substance
from index.text import split_sentences
from tests.conftest import SEED_ARTICLE, require_shared


def _sentence(containing: str) -> str:
    text = require_shared(SEED_ARTICLE).read_text(encoding="utf-8")
    for a, b in split_sentences(text):
        if containing in text[a:b]:
            return text[a:b]
    pytest.fail(f"no sentence with {containing!r} in the seed article")


def test_the_quote_itself_and_faithful_paraphrases_are_backed() -> None:
    quote = _sentence("strategic partnership")
    assert missing_substance(quote, quote) == []
    assert missing_substance("According to the article, " + quote, quote) == []
    assert (
        missing_substance("Gazprom and SOCAR agreed an extensive strategic partnership.", quote)
        == []
    )


def test_invented_relations_events_and_names_are_reported() -> None:
    quote = _sentence("strategic partnership")
    # The case from the issue: shared names, invented substance.
    missing = missing_substance(
        "Gazprom and SOCAR signed a deal on gas transit that will allow them to move their "
        "pipeline from Azerbaijan to Russia.",
        quote,
    )
    assert {"word:transit", "word:pipelin", "word:move"} <= set(missing)
    assert missing_substance("Gazprom and Rosneft agreed a strategic partnership.", quote) == [
        "name:rosneft"
    ]


def test_changed_dates_and_numbers_are_reported() -> None:
    quote = _sentence("two-day visit")
    day = re.search(r"\d+", quote)
    assert day is not None
    changed = quote.replace(day.group(0), str(int(day.group(0)) + 1), 1)
    assert missing_substance(changed, quote) == [f"date:{int(day.group(0)) + 1}"]
    assert missing_substance(quote.replace("August", "October"), quote) == ["date:m10"]
