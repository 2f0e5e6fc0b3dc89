"""Citation verification on text written the way an LLM writes answers, against
real passages of the seed index and the real embedder."""

from __future__ import annotations

from pathlib import Path

import pytest

from answer.citations import CitationVerifier, is_abstention
from index.embedder import Embedder
from index.models import SearchHit
from index.store import Index


@pytest.fixture(scope="module")
def hits(seed_index: Path, embedder: Embedder) -> list[SearchHit]:
    with Index.open(seed_index) as index:
        return index.search(embedder.encode_query("What did Gazprom and SOCAR sign?"), 3)


def test_supported_claims_get_exact_quotes(
    hits: list[SearchHit], embedder: Embedder, seed_index: Path
) -> None:
    text = "Gazprom and SOCAR signed a deal on an extensive strategic partnership.[1]"
    answer = CitationVerifier(embedder).run(text, hits)
    assert [c.n for c in answer.citations] == [1]
    c = answer.citations[0]
    assert "strategic partnership" in c.quote and c.supported
    with Index.open(seed_index) as index:
        doc = index.document(c.doc_id)
    assert doc is not None and doc.text[c.start : c.end] == c.quote
    assert answer.sentences[0].supported and answer.answer.endswith("[1]")


def test_markers_to_no_source_are_dropped_and_unsupported_claims_marked(
    hits: list[SearchHit], embedder: Embedder
) -> None:
    text = (
        "Gazprom and SOCAR agreed on a strategic partnership [1][n]. "
        "The moon is made of green cheese and orbits Saturn [9]."
    )
    answer = CitationVerifier(embedder).run(text, hits)
    assert "[9]" not in answer.answer and "[n]" not in answer.answer
    cheese = [s for s in answer.sentences if "cheese" in s.text]
    assert cheese and cheese[0].supported is False and cheese[0].citations == []
    assert {c.n for c in answer.citations} == {1}


def test_an_uncited_supported_claim_gets_its_source(
    hits: list[SearchHit], embedder: Embedder
) -> None:
    answer = CitationVerifier(embedder).run(
        "Gazprom and SOCAR signed an extensive strategic partnership.", hits
    )
    assert answer.citations and answer.sentences[0].citations
    assert answer.answer.endswith(f"[{answer.citations[0].n}]")


def test_the_models_paragraphs_and_lists_survive_verification(
    hits: list[SearchHit], embedder: Embedder
) -> None:
    """The page renders an LLM answer as Markdown: the verifier rebuilds the text
    sentence by sentence and must keep the line and paragraph breaks between them."""
    text = (
        "Gazprom and SOCAR signed an extensive strategic partnership [1].\n\n"
        "The visit covered:\n\n"
        "- a strategic partnership between Gazprom and SOCAR [1]\n"
        "- the North-South transport corridor [1]"
    )
    answer = CitationVerifier(embedder).run(text, hits)
    assert answer.answer == (
        "Gazprom and SOCAR signed an extensive strategic partnership. [1]\n\n"
        "The visit covered:\n\n"
        "- a strategic partnership between Gazprom and SOCAR [1]\n"
        "- the North-South transport corridor [1]"
    )
    assert [s.text for s in answer.sentences][-2:] == answer.answer.splitlines()[-2:]


def test_a_sentence_the_model_repeats_is_kept_once(
    hits: list[SearchHit], embedder: Embedder
) -> None:
    claim = "Gazprom and SOCAR signed an extensive strategic partnership. [1]"
    other = "The deal was signed in Baku. [1]"
    answer = CitationVerifier(embedder).run(f"{claim} {other} {claim}", hits)
    assert answer.answer == f"{claim} {other}"
    assert [s.text for s in answer.sentences] == [claim, other]


def test_abstention_phrase_is_recognised() -> None:
    phrase = "I cannot find the answer in the provided sources."
    assert is_abstention("I cannot find the answer in the provided sources", phrase)
    assert not is_abstention("Gazprom signed a deal [1].", phrase)


def test_a_wrong_name_is_not_supported_by_a_similar_sentence(
    seed_index: Path, embedder: Embedder
) -> None:
    with Index.open(seed_index) as index:
        brics = index.search(embedder.encode_query("Azerbaijan applied for BRICS membership"), 1)
    assert "BRICS" in brics[0].passage.text
    verifier = CitationVerifier(embedder)
    right = verifier.run("Azerbaijan applied for BRICS membership. [1]", brics)
    wrong = verifier.run("Azerbaijan applied for NATO membership. [1]", brics)
    assert right.sentences[0].supported and right.citations[0].supported
    assert "BRICS" in right.citations[0].quote
    assert not wrong.sentences[0].supported and not wrong.citations[0].supported
