"""The order in which a follow-up's two readings answer it (answer.readings).

Pure function over texts and vectors: the vectors here are small hand-made unit
vectors, since only their direction matters to the choice; tests/answer/
test_follow_ups.py checks the same choices end to end with the real model."""

from __future__ import annotations

import numpy as np
import pytest

from answer.models import Answer, Citation
from answer.readings import (
    TYPED_SHARE,
    Reading,
    answer_quotes,
    asks_beside_the_quote,
    blend,
    discussed_articles,
    follow_up_readings,
    shown_quotes,
    stays_on_subject,
)
from index import normalize
from index.models import Passage, SearchHit


def unit(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


RAW = unit(1, 0, 0)
CONDENSED = unit(0, 1, 0)


def test_a_follow_up_that_only_points_back_is_answered_condensed_only() -> None:
    """Alone, "When did it open?" is about nothing: when the condensed form finds
    nothing (the museum asked about is in no article), the raw words must not go on
    to quote whatever else opened (they did: an art show in Brussels)."""
    condensed = Reading("Gazprom SOCAR sign: When was it signed?", CONDENSED)
    (only,) = follow_up_readings(Reading("When was it signed?", RAW), condensed)
    assert only.question == condensed.question
    # Its meaning is mostly the condensed question's, some of it the typed words'.
    assert np.allclose(only.vector, blend(CONDENSED, RAW, TYPED_SHARE))
    assert float(only.vector @ CONDENSED) > float(only.vector @ RAW) > 0


def test_a_topic_switch_leads_with_its_own_words_and_vector() -> None:
    raw = Reading("What about BRICS?", RAW)
    got = follow_up_readings(raw, Reading("Gazprom SOCAR sign: BRICS?", CONDENSED))
    assert got[0].question == raw.question
    assert got[0].vector is RAW
    assert got[0].may_switch
    assert got[1].question == "Gazprom SOCAR sign: BRICS?"


def test_a_named_subject_that_points_back_is_compared_with_both_meanings() -> None:
    """ "Why did they leave France?" names France, but "they" are the conversation's
    Huguenots: the raw words choose, the meaning of both readings compares."""
    raw = Reading("Why did they leave France?", RAW)
    condensed = Reading("Huguenots: Why did they leave France?", CONDENSED)
    lead, second = follow_up_readings(raw, condensed)
    assert lead.question == raw.question
    assert np.allclose(lead.vector, unit(1, 1, 0))
    assert second.question == condensed.question


def test_a_changed_circumstance_is_answered_condensed_only() -> None:
    """ "And in Canada?" names a place, but only as a circumstance of the last question:
    on their own its words would quote any sentence that says "in Canada"."""
    condensed = Reading("Flemish weavers build: in Canada?", CONDENSED)
    (only,) = follow_up_readings(Reading("And in Canada?", RAW), condensed)
    assert only.question == condensed.question


def test_a_bare_question_form_is_answered_condensed_only() -> None:
    """ "For how long?" has one word, "long", that would quote any long vacation."""
    condensed = Reading("banned Chepkemei: For how long?", CONDENSED)
    assert follow_up_readings(Reading("For how long?", RAW), condensed) == [condensed]
    # Its typed words mean nothing alone, so its meaning is the condensed one's only.
    assert follow_up_readings(Reading("For how long?", RAW), condensed)[0] is condensed


def test_words_that_say_neither_are_compared_with_both_meanings() -> None:
    raw = Reading("How do I file an order?", RAW)
    condensed = Reading("restraining order: How do I file an order?", CONDENSED)
    lead, second = follow_up_readings(raw, condensed)
    assert lead.question == raw.question
    assert second.question == condensed.question
    assert np.isclose(np.linalg.norm(lead.vector), 1.0)
    # Halfway between the two: as close to the follow-up as to the conversation.
    assert np.isclose(float(lead.vector @ RAW), float(lead.vector @ CONDENSED))
    assert float(lead.vector @ RAW) > 0.7
    # Its answer must stay on the conversation's subject: the carried words.
    assert lead.subject == {normalize.term_of_word("restraining")}
    assert not second.subject


def test_a_question_the_condenser_left_alone_has_one_reading() -> None:
    same = Reading("What did Gazprom and SOCAR sign?", CONDENSED)
    got = follow_up_readings(Reading(same.question, RAW), same)
    assert len(got) == 1 and got[0] is same


def test_opposite_vectors_do_not_divide_by_zero() -> None:
    raw = Reading("How do I file an order?", RAW)
    lead, _ = follow_up_readings(raw, Reading("order: How do I file an order?", -RAW))
    assert np.all(np.isfinite(lead.vector))


def _hit(doc_id: str, text: str) -> SearchHit:
    return SearchHit(Passage(1, doc_id, None, None, text, 0, len(text)), 1.0)


def _quoting(doc_id: str) -> Answer:
    return Answer("... [1]", [Citation(1, doc_id, None, None, "...", 0, 3, 1)], False)


def test_an_answer_stays_on_subject_when_its_article_names_the_rare_part_of_it() -> None:
    """After "Who won the Meteor Awards?", "Where was the ceremony?" answered from its
    own words quoted another awards ceremony. "won" and "awards" are said of every
    prize; weighted by IDF, the subject is mostly "Meteor"."""
    raw = Reading("Where was the ceremony?", RAW)
    lead, _ = follow_up_readings(
        raw, Reading("won Meteor Awards: Where was the ceremony?", CONDENSED)
    )
    idf = lambda terms: {t: 6.0 if t == "meteor" else 1.0 for t in terms}  # noqa: E731
    hits = [
        _hit("sydney", "Stars won awards at the ceremony at Luna Park in Sydney."),
        _hit("dublin", "The band won two Meteor awards.\n\nThe ceremony was at the Point."),
    ]
    assert not stays_on_subject(lead, _quoting("sydney"), hits, idf)
    assert stays_on_subject(lead, _quoting("dublin"), hits, idf)
    # Counted alike, two of the three subject words are enough for the wrong one.
    assert stays_on_subject(lead, _quoting("sydney"), hits, None)
    # A reading with no subject (a topic switch, the condensed form) always stays.
    assert stays_on_subject(raw, _quoting("sydney"), hits, idf)


def test_a_named_follow_up_stays_with_the_article_under_discussion_when_it_names_it() -> None:
    """ "Who scored for Barcelona?" after a question on Desailly and Chelsea v
    Barcelona quoted another Barcelona match. The article under discussion names
    Barcelona too, so the answer must come from it; a name that no article on the
    subject mentions is a topic switch, and its answer goes anywhere."""
    lead, _ = follow_up_readings(
        Reading("Who scored for Barcelona?", RAW),
        Reading("Desailly Chelsea: Who scored for Barcelona?", CONDENSED),
    )
    hits = [
        _hit("desailly", "Desailly says Chelsea will not lose to Barcelona again."),
        _hit("atletico", "Barcelona lost 2-0 at home; Torres scored twice."),
        _hit("freeview", "Freeview has thirty channels; nobody scored."),
    ]
    assert not stays_on_subject(lead, _quoting("atletico"), hits, None)
    assert stays_on_subject(lead, _quoting("desailly"), hits, None)
    switch, _ = follow_up_readings(
        Reading("What about Freeview?", RAW),
        Reading("Desailly Chelsea: Freeview?", CONDENSED),
    )
    assert stays_on_subject(switch, _quoting("freeview"), hits, None)


def test_the_article_the_last_answer_quoted_is_found_among_the_passages() -> None:
    hits = [
        _hit(
            "brown", "Gordon Brown has delivered a rousing speech to Labour's spring\nconference."
        ),
        _hit("manchester", "Labour will hold its autumn conference in Manchester."),
    ]
    shown = "Gordon Brown has delivered a rousing speech to Labour's spring conference. [1]"

    def discussed(answer: str) -> frozenset[str]:
        return discussed_articles(shown_quotes(answer_quotes(answer), hits))

    assert discussed(shown) == {"brown"}
    # Two quotes, each before its mark; a fragment too short to tell is ignored.
    both = f"{shown} Labour will hold its autumn conference in Manchester. [2]"
    assert discussed(both) == {"brown", "manchester"}
    assert discussed("Yes. [1]") == frozenset()
    assert discussed("The articles do not cover this question.") == frozenset()


def test_the_quotes_shown_are_found_with_their_offsets_in_the_answers_order() -> None:
    hits = [
        _hit("manchester", "Labour will hold its autumn conference in Manchester."),
        _hit("brown", "Mr Brown spoke. Gordon Brown has delivered a speech to\nLabour."),
    ]
    shown = (
        "Gordon Brown has delivered a speech to Labour. [1] "
        "Labour will hold its autumn conference in Manchester. [2]"
    )
    (first, second) = shown_quotes(answer_quotes(shown), hits)
    brown = hits[1].passage
    assert (first.doc_id, first.start, first.end) == (
        "brown",
        brown.start + 16,
        brown.start + len(brown.text),
    )
    # The article's text there, its line break kept: offsets and text agree.
    assert first.text == brown.text[first.start - brown.start : first.end - brown.start]
    assert first.text == "Gordon Brown has delivered a speech to\nLabour."
    assert second.doc_id == "manchester"
    assert shown_quotes(answer_quotes("Yes. [1]"), hits) == ()
    assert shown_quotes(answer_quotes(shown)[1:], hits) == (second,)


def test_a_follow_up_without_a_subject_stays_in_the_article_quoted_when_it_can() -> None:
    """ "Where was the conference?" after a question on Gordon Brown's speech to
    Labour's spring conference quoted another Labour conference article: it says
    Labour, spring and Brown too, so the subject's share let it through. The article
    the last answer quoted says "conference": the answer must come from it."""
    hits = [
        _hit("brown", "Gordon Brown spoke to Labour's spring conference in Gateshead."),
        _hit("manchester", "Mr Brown's Labour holds its spring conference in Manchester."),
    ]
    lead, _ = follow_up_readings(
        Reading("Where was the conference?", RAW),
        Reading("Gordon Brown Labour's spring: Where was the conference?", CONDENSED),
        discussed_articles(
            shown_quotes(
                answer_quotes("Gordon Brown spoke to Labour's spring conference in Gateshead. [1]"),
                hits,
            )
        ),
    )
    assert lead.discussed == {"brown"}
    assert not stays_on_subject(lead, _quoting("manchester"), hits, None)
    assert stays_on_subject(lead, _quoting("brown"), hits, None)
    # Without the quoted article the subject's share decides, as before: both pass.
    plain = Reading(lead.question, lead.vector, subject=lead.subject)
    assert stays_on_subject(plain, _quoting("manchester"), hits, None)
    # A quoted article that does not mention the follow-up's words does not bind it.
    elsewhere = Reading(
        lead.question, lead.vector, subject=lead.subject, discussed=frozenset({"x"})
    )
    assert stays_on_subject(
        elsewhere, _quoting("manchester"), [*hits, _hit("x", "Gordon Brown and Labour.")], None
    )


@pytest.mark.parametrize(
    ("follow_up", "beside"),
    [
        ("Who says so?", True),
        ("According to whom?", True),
        ("Who is he?", True),
        ("Who are they?", True),
        ("What is her name?", True),
        ("Who's he?", True),
        ("what’s his name", True),
        ("Who was he speaking to?", False),  # asks something else of him
        ("Who scored for Barcelona?", False),  # a subject of its own
        ("When was it signed?", False),
        ("What about BRICS?", False),
    ],
)
def test_who_said_it_and_who_a_pronoun_means_are_asked_beside_the_quote(
    follow_up: str, beside: bool
) -> None:
    assert asks_beside_the_quote(follow_up) is beside
