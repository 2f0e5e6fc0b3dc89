"""The follow-up condensation heuristic (answer/condense.py): subjects carried
from one question only (no drift), topic switches, and when to fuse."""

from __future__ import annotations

import pytest

from answer.condense import (
    Turn,
    as_messages,
    condense_question,
    content_words,
    facet,
    has_own_subject,
    is_follow_up,
    only_asks,
    refers_back,
    with_subject,
)

FIRST = "What did Gazprom and SOCAR sign?"
HISTORY = [Turn("user", FIRST), Turn("assistant", "An extensive strategic partnership [1].")]


def test_without_history_the_question_stands() -> None:
    assert condense_question("  and   when? ", []) == "and when?"
    assert condense_question("and when?", [Turn("assistant", "Hello")]) == "and when?"


def test_a_standalone_question_is_left_alone() -> None:
    question = "Why did Azerbaijan apply for BRICS membership?"
    assert not is_follow_up(question)
    assert condense_question(question, HISTORY) == question


def test_a_standalone_question_can_still_be_read_with_the_subject() -> None:
    """For retrieval only (the answer service also searches with it): the same
    carrying rules, for a question that does not read as a follow-up."""
    question = "How long does the government officially have?"
    assert condense_question(question, HISTORY) == question
    assert with_subject(question, HISTORY) == f"Gazprom SOCAR sign: {question}"
    assert with_subject(question, []) == question


@pytest.mark.parametrize(
    ("follow_up", "expected"),
    [
        ("and when?", "Gazprom SOCAR sign: when?"),
        ("And, when was that?", "Gazprom SOCAR sign: when was that?"),
        ("what about the railway?", "Gazprom SOCAR sign: what about the railway?"),
        ("Why does it matter for Russia?", "Gazprom SOCAR sign: Why does it matter for Russia?"),
        ("When?", "Gazprom SOCAR sign: When?"),
    ],
)
def test_follow_ups_carry_the_previous_subject(follow_up: str, expected: str) -> None:
    assert is_follow_up(follow_up)
    assert condense_question(follow_up, HISTORY) == expected


def test_words_the_follow_up_already_has_are_not_repeated() -> None:
    assert condense_question("Did SOCAR sign it with Gazprom?", HISTORY) == (
        "Did SOCAR sign it with Gazprom?"
    )
    assert condense_question("what did they sign with socar?", HISTORY) == (
        "Gazprom: what did they sign with socar?"
    )


def test_a_chain_of_follow_ups_without_a_subject_keeps_the_last_subject() -> None:
    history = [*HISTORY, Turn("user", "and when?"), Turn("assistant", "…")]
    assert condense_question("who pays for it?", history) == "Gazprom SOCAR sign: who pays for it?"


def test_five_follow_ups_keep_at_most_the_last_subject() -> None:
    """Words never pile up: each follow-up carries one earlier question's own words."""
    asked = [
        FIRST,
        "What about BRICS?",
        "and the railway?",
        "How about Shoigu?",
        "When was that?",
        "Who else went?",
    ]
    history: list[Turn] = []
    condensed = []
    for q in asked:
        condensed.append(condense_question(q, history))
        history += [Turn("user", q), Turn("assistant", "…")]
    # Each topic switch carries only the subject before it...
    assert condensed[1] == "Gazprom SOCAR sign: What about BRICS?"
    assert condensed[2] == "BRICS: the railway?"
    assert condensed[3] == "railway: How about Shoigu?"
    # ...and follow-ups without a subject carry the last one, nothing older.
    for text in condensed[4:]:
        assert text.startswith("Shoigu: ")
        for old in ("Gazprom", "SOCAR", "BRICS", "railway"):
            assert old not in text
    assert max(len(c.split()) for c in condensed) <= len(FIRST.split()) + 3


def test_the_follow_ups_own_subject_is_not_buried() -> None:
    """A topic switch names its subject: callers fuse raw and condensed retrieval."""
    assert has_own_subject("What about BRICS?")
    assert has_own_subject("and the railway?")
    assert has_own_subject("Why does it matter for Russia?")
    assert has_own_subject(FIRST)
    assert not has_own_subject("When was it signed?")
    assert not has_own_subject("and when?")
    assert not has_own_subject("who pays for it?")
    # The new subject stays in the condensed question and is never dropped.
    assert "BRICS" in condense_question("What about BRICS?", HISTORY)


def test_the_subject_comes_from_the_latest_question_that_has_one() -> None:
    history = [
        *HISTORY,
        Turn("user", "Why did Azerbaijan apply for BRICS membership?"),
        Turn("assistant", "…"),
        Turn("user", "and when?"),
    ]
    assert condense_question("who decided it?", history) == (
        "Azerbaijan apply BRICS membership: who decided it?"
    )


def test_a_subject_that_points_back_keeps_what_it_points_to() -> None:
    """ "Who bought its main unit?" names a subject, but "its" needs the question
    before it; one step back only, so a third question's words never come along."""
    history = [
        Turn("user", "Why did Yukos go bankrupt?"),
        Turn("assistant", "…"),
        Turn("user", "Who bought its main unit?"),
        Turn("assistant", "…"),
    ]
    assert condense_question("How much did they pay?", history) == (
        "bought main unit Yukos go bankrupt: How much did they pay?"
    )
    longer = [
        Turn("user", FIRST),
        Turn("assistant", "…"),
        *history,
        Turn("user", "Who runs its parent company now?"),
        Turn("assistant", "…"),
    ]
    condensed = condense_question("When did that start?", longer)
    assert condensed == "runs parent company bought main unit: When did that start?"
    for old in ("Yukos", "Gazprom", "SOCAR"):
        assert old not in condensed


def test_a_short_named_question_asks_a_detail_of_the_subject_before_it() -> None:
    """ "Who scored for Barcelona?" after a question on Desailly and Chelsea v
    Barcelona names a subject, but only a detail of the one before: "he" in the next
    question is still Desailly, who must come along ("scored Barcelona" alone
    retrieved another Barcelona match). A cued switch ("What about BRICS?") does
    not bring the subject before it (the drift test above)."""
    history = [
        Turn("user", "What does Desailly say about Chelsea playing Barcelona?"),
        Turn("assistant", "…"),
        Turn("user", "Who scored for Barcelona?"),
        Turn("assistant", "…"),
    ]
    assert condense_question("How much was he signed for?", history) == (
        "scored Barcelona Desailly Chelsea playing: How much was he signed for?"
    )


def test_a_subject_that_names_nothing_keeps_the_last_subject_that_named_something() -> None:
    """ "Whose campaign got the money?" is a question of its own (three content
    words) but names nothing: the article is still the one "Titan" and "Benin"
    named, however many unnamed subjects came between; never more than two
    questions' words."""
    history = [
        Turn("user", "How much will Titan pay over the Benin bribery?"),
        Turn("assistant", "…"),
        Turn("user", "Whose campaign got the money?"),
        Turn("assistant", "…"),
    ]
    assert condense_question("What was the money used for?", history) == (
        "campaign got Titan pay Benin bribery: What was the money used for?"
    )
    longer = [
        *history,
        Turn("user", "How large are the criminal penalties?"),
        Turn("assistant", "…"),
    ]
    condensed = condense_question("What did the prosecutor say?", longer)
    assert (
        condensed
        == "large criminal penalties Titan pay Benin bribery: What did the prosecutor say?"
    )
    assert "campaign" not in condensed
    # A subject that names something stands alone, as before.
    said = "What did President Kerekou say about the campaign funds?"
    named = [*history, Turn("user", said), Turn("assistant", "…")]
    assert condense_question("When was that?", named) == (
        "President Kerekou campaign funds: When was that?"
    )


def test_a_subject_that_names_nothing_and_no_known_thing_stands_alone() -> None:
    """ "Who reached 1,000 points?" names nothing, but neither does it speak of "the"
    or "which" thing already talked about: it is a subject of its own, so the next
    follow-up does not carry the name asked about two questions before."""
    history = [
        Turn("user", "Who scored the first try for the Harbour Hawks?"),
        Turn("assistant", "…"),
        Turn("user", "How many points did Ana Ruiz add?"),
        Turn("assistant", "…"),
        Turn("user", "Who reached 1,000 points?"),
        Turn("assistant", "…"),
    ]
    assert condense_question("Who else has done that?", history) == (
        "reached 1 000 points: Who else has done that?"
    )
    # "Which cities are covered first?" asks about a known set: the named subject stays.
    cities = [*history[:4], Turn("user", "Which cities are covered first?"), Turn("assistant", "…")]
    assert condense_question("When does it start?", cities) == (
        "cities covered first points Ana Ruiz add: When does it start?"
    )


def test_he_after_a_who_question_carries_the_name_its_answer_gave() -> None:
    """ "Who conducts the festival orchestra?" was answered with a name no question
    said: "he" two questions later means that person, not the orchestra."""
    history = [
        Turn("user", "Who conducts the festival orchestra?"),
        Turn("assistant", "Folk singer Marta Lind's second year as conductor begins. [1]"),
        Turn("user", "How often does the orchestra play?"),
        Turn("assistant", "It plays 40 times a season. [1]"),
    ]
    assert condense_question("What prize did he win?", history) == (
        "Marta Lind orchestra play conducts festival: What prize did he win?"
    )
    # "Folk" describes her ("Folk singer"): only a name used as one is carried.
    assert "Folk" not in condense_question("What prize did she win?", history)
    # Without "he" or "she" the answer is not read, as before.
    assert condense_question("When was it founded?", history) == (
        "orchestra play conducts festival: When was it founded?"
    )
    # A later question naming something new without a pronoun is the new subject.
    switched = [*history, Turn("user", "What did the Tivoli Trust fund?"), Turn("assistant", "…")]
    assert "Marta" not in condense_question("What did he say?", switched)


@pytest.mark.parametrize(
    ("follow_up", "preposition"),
    [
        ("And in America?", "in"),
        ("what about for children?", "for"),
        ("And per shopper?", "per"),
        ("In 2003?", "in"),
        ("and before the war?", "before"),
        ("In which country?", None),  # a new question about the same subject
        ("and the railway?", None),  # a new topic
        ("What about BRICS?", None),
        ("And in it?", None),  # points back: the pronoun rule decides
        ("And the second?", "ordinal"),
        ("what about the next one?", "ordinal"),
        (FIRST, None),  # stands alone
    ],
)
def test_a_facet_changes_one_circumstance(follow_up: str, preposition: str | None) -> None:
    assert facet(follow_up) == preposition


def test_a_facet_replaces_the_phrase_it_changes() -> None:
    asked = [Turn("user", "Who won the Booker prize in 2004 for fiction?"), Turn("assistant", "…")]
    assert condense_question("And in 2005?", asked) == "won Booker prize fiction: in 2005?"
    assert condense_question("and for poetry?", asked) == "won Booker prize 2004: for poetry?"
    # A facet leans on its subject: the next follow-up carries both, one step back only.
    asked += [Turn("user", "And in 2005?"), Turn("assistant", "…")]
    assert (
        condense_question("Who judged it?", asked)
        == "2005 won Booker prize fiction: Who judged it?"
    )


def test_an_ordinal_asks_the_last_question_again_and_names_no_subject() -> None:
    asked = [
        Turn("user", "Who is the Doctor in Doctor Who?"),
        Turn("assistant", "…"),
        Turn("user", "Who played him first?"),
        Turn("assistant", "…"),
    ]
    assert not has_own_subject("And the second?")
    assert condense_question("And the second?", asked) == "played Doctor: the second?"
    # "second" is no subject: the next follow-up carries the Doctor, not it.
    asked += [Turn("user", "And the second?"), Turn("assistant", "…")]
    assert condense_question("How many series were there?", asked) == (
        "Doctor: How many series were there?"
    )


def test_a_bare_question_form_continues_the_last_question() -> None:
    """ "For how long?" after "Why was she banned?" asks how long the ban was: the last
    question's own words come along with the subject; one says what, the other whom."""
    asked = [
        Turn("user", "What happened to the runner Susan Chepkemei?"),
        Turn("assistant", "…"),
        Turn("user", "Why was she banned?"),
        Turn("assistant", "…"),
    ]
    assert only_asks("For how long?")
    assert condense_question("For how long?", asked) == (
        "banned happened runner Susan Chepkemei: For how long?"
    )
    # A follow-up with words of its own carries the subject only, as before.
    assert condense_question("Did she appeal the decision?", asked) == (
        "happened runner Susan Chepkemei: Did she appeal the decision?"
    )
    assert only_asks("Why?") and only_asks("And how much?")
    # Words that can pick sentences themselves: a keyword, a noun asked about.
    assert not only_asks("Value")
    assert not only_asks("What was the score?")


def test_a_short_first_question_is_the_subject() -> None:
    """ "What is civil disobedience?" has two content words, as many as a follow-up
    may have, but it opened the conversation: it is what "it" refers to."""
    asked = [Turn("user", "What is civil disobedience?"), Turn("assistant", "…")]
    assert not has_own_subject("What is civil disobedience?")
    assert condense_question("Who practised it in India?", asked) == (
        "civil disobedience: Who practised it in India?"
    )


def test_content_words_keep_order_and_first_spelling() -> None:
    assert content_words("What did Gazprom and gazprom's SOCAR sign with GAZPROM?") == [
        "Gazprom",
        "gazprom's",
        "SOCAR",
        "sign",
    ]
    assert content_words("what is it?") == []


def test_assistant_turns_are_not_carried() -> None:
    history = [Turn("assistant", "Rasht-Astara railway"), Turn("user", FIRST)]
    assert "Rasht" not in condense_question("and when?", history)


def test_turns_convert_to_chat_messages_for_an_llm_condenser() -> None:
    assert as_messages(HISTORY) == [
        {"role": "user", "content": FIRST},
        {"role": "assistant", "content": "An extensive strategic partnership [1]."},
    ]


@pytest.mark.parametrize(
    ("question", "points"),
    [
        ("When was it signed?", True),
        ("Why does that matter to them?", True),
        ("How do I file an order?", False),
        ("Value", False),
        ("What about BRICS?", False),
    ],
)
def test_refers_back_only_through_pronouns(question: str, points: bool) -> None:
    assert refers_back(question) is points


def test_how_a_question_asks_is_not_carried_as_its_subject() -> None:
    """ "much" in "How much will Shell pay ...?" says how it asked: the "Understood
    as" line and the carried words are about Shell's payment, not "much"."""
    history = [Turn("user", "How much will Shell pay its former finance chief?")]
    assert (
        condense_question("Why did she step down?", history)
        == "Shell pay former finance chief: Why did she step down?"
    )
    history = [Turn("user", "How big will the US budget deficit be?")]
    assert condense_question("And last year?", history) == "US budget deficit: last year?"
