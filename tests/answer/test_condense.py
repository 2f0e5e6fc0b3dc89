"""The follow-up condensation heuristic (answer/condense.py)."""

from __future__ import annotations

import pytest

from answer.condense import (
    Turn,
    as_messages,
    condense_question,
    content_words,
    is_follow_up,
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


def test_a_chain_of_follow_ups_keeps_the_first_subject() -> None:
    history = [*HISTORY, Turn("user", "and the railway?"), Turn("assistant", "…")]
    assert condense_question("who pays for it?", history) == (
        "Gazprom SOCAR sign railway: who pays for it?"
    )


def test_only_the_latest_question_is_carried() -> None:
    history = [*HISTORY, Turn("user", "Why did Azerbaijan apply for BRICS membership?")]
    assert condense_question("and when?", history) == "Azerbaijan apply BRICS membership: when?"


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
