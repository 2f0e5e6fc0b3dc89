"""What a question asks for, and sentences that state it (server/question_type.py)."""

from __future__ import annotations

import pytest

from answer.question_type import question_kind, states_kind


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When was it signed?", "date"),
        ("In what year did the war end?", "date"),
        ("How many people live in Warsaw?", "number"),
        ("How much did the deal cost?", "number"),
        ("Who founded the company?", "person"),
        ("Which company built the bridge?", "person"),
        ("Where is the stator located?", "place"),
        ("In which country was he born?", "place"),
        ("What are stators attached to?", None),
        ("Why did Azerbaijan apply?", None),
    ],
)
def test_question_kind(question: str, kind: str | None) -> None:
    assert question_kind(question) == kind


def test_a_sentence_must_state_something_the_question_does_not_already_say() -> None:
    q = "When did Putin visit Baku in August?"
    assert states_kind("On 19 August, Putin arrived in Baku.", "date", q)
    assert not states_kind("Putin visited Baku in August.", "date", q)
    assert states_kind("The plant employs 4,000 people.", "number", "How many people work there?")
    assert not states_kind("The plant employs many people.", "number", "How many work there?")
    assert states_kind("It was founded by Jan Kowalski.", "person", "Who founded it?")
    assert not states_kind("anything at all", None, "Why?")
