"""What a question asks for, and sentences that state it (answer/question_type.py)."""

from __future__ import annotations

import pytest

from answer.question_type import (
    AskedFor,
    amounts_of_money,
    asked_type,
    attributes_to,
    question_kind,
    speakers,
    states_kind,
)


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
        ("What type of plea do some activists enter?", "type"),
        ("What is the name of the alphabet most often used?", "type"),
        ("What is it called?", "name"),
        ("What was the first network named", "name"),
        ("What is it called when people refuse to pay taxes?", "name"),
        ("When was it named?", "date"),
        ("What did the man called Smith do?", None),
        ("What are stators attached to?", None),
        ("Why did Azerbaijan apply?", None),
        ("Who says so?", "speaker"),
        ("Who said that?", "speaker"),
        ("And according to whom?", "speaker"),
        ("Who predicted the shortage?", "speaker"),
        ("gadget shortage Christmas: Who says so?", "speaker"),  # condensed
        ("Who scored?", "person"),
        ("Who did the team beat?", "person"),
        ("To what level?", "number"),
        ("In which minute?", "number"),
        ("What did the treasurer say?", "words"),
        ("What does France's finance minister warn?", "words"),
        ("Brown Labour conference: What did Labour say about him?", "words"),  # condensed
        ("What did he say about costs?", None),  # names no one: the condensed form does
        ("What did the inquiry conclude?", None),
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


def test_asked_how_old_only_an_age_answers() -> None:
    """ "How old is he?" after a question on Gavin Henson: "At 23" answers, "One game
    into his career" states a number but no age."""
    asked = AskedFor.of("Gavin Henson: How old is he?")
    assert asked.stated_by("At 23, Henson has the rugby world at his feet.")
    assert asked.stated_by("The 36-year-old said he would stay.")
    assert asked.stated_by("He spent his 19th birthday on the bench.")
    assert not asked.stated_by("One game into his Six Nations career, he is a legend.")
    assert not asked.stated_by("He arrived at 3pm with 10 team-mates.")
    # Other "how many" questions still take any number.
    assert AskedFor.of("How many games has he played?").stated_by("He has played 12.")


def test_a_name_is_what_follows_called_or_known_as() -> None:
    """ "What is it called?" after a question on French digital TV: the sentence that
    says "known as TNT" answers; one that only describes the platform does not."""
    asked = AskedFor.of("French digital terrestrial TV: What is it called?")
    assert asked.stated_by("The French DTT platform is known as TNT, which stands for ...")
    assert asked.stated_by("A number that is not prime is called a composite number.")
    assert not asked.stated_by("Digital terrestrial TV will launch as a free platform.")
    # The name must be news: "called" followed by a word the question already says.
    assert not asked.stated_by("It was called French TV by some.")


def test_a_kind_of_thing_is_the_noun_asked_about_with_a_word_the_question_lacks() -> None:
    q = "What type of plea is sometimes entered as an act of disobedience?"
    assert asked_type(q) == "plea"
    assert states_kind("Some activists have opted to enter a blind plea.", "type", q)
    # "a plea bargain": the word before the noun is an article, not a kind.
    assert not states_kind("The prosecution proposes a plea bargain.", "type", q)
    two = "Which kind of civil disobedience is larger in scale?"
    assert asked_type(two) == "civil disobedience"
    assert states_kind("Revolutionary civil disobedience aims higher.", "type", two)
    assert not states_kind("Some forms of civil disobedience are coercive.", "type", two)
    assert asked_type("What type is it?") is None


@pytest.mark.parametrize(
    ("question", "sentence", "stated"),
    [
        ("When did Putin visit Baku?", "On 19 August, Putin arrived in Baku.", True),
        ("When did Putin visit Baku in August?", "Putin visited Baku in August.", False),
        ("How many people work there?", "The plant employs 4,000 people.", True),
        ("How many people work there?", "The plant employs many people.", False),
        ("Who founded it?", "It was founded by Jan Kowalski.", True),
        ("Who founded Kowalski Steel?", "Kowalski Steel was founded long ago.", False),
        ("What type of plea is sometimes taken?", "Some activists enter a blind plea.", True),
        (
            "What type of plea bargain is offered?",
            "The prosecution proposes a plea bargain.",
            False,
        ),
        ("Why did it happen?", "On 19 August it happened.", False),
    ],
)
def test_a_question_read_once_checks_each_sentence(
    question: str, sentence: str, stated: bool
) -> None:
    asked = AskedFor.of(question)
    assert asked.kind == question_kind(question)
    assert asked.stated_by(sentence) is stated


def test_asked_how_much_was_paid_only_an_amount_of_money_answers() -> None:
    """ "How much did the film take?" is answered by "It took dollars 19.1m", not by
    the sentence that says its takings were down 26.5%; a number is not enough."""
    asked = AskedFor.of("How much did Meet The Fockers take at Christmas?")
    assert not asked.stated_by("Takings were down 26.5% on 2003's figures.")
    assert asked.stated_by("It took dollars 19.1m (pounds 9.9m) on Christmas Day alone.")
    assert asked.stated_by("Sales reached £4bn.")
    assert asked.stated_by("The ticket was 12 euros.")
    # An amount the question already names is no answer.
    paid = AskedFor.of("How much more than $5m did they pay?")
    assert not paid.stated_by("They paid more than $5m.")
    assert paid.stated_by("They paid $7.5m, more than $5m.")
    # "How much has TB risen?" asks a quantity, not money: any number will do.
    assert AskedFor.of("How much has TB risen?").stated_by("TB rose by 25% in ten years.")


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("cost $150m and £2.5bn", {"$150m", "£2.5bn"}),
        ("Shell is to pay dollars 1m (pounds 522,000)", {"dollars 1m", "pounds 522,000"}),
        ("a 5 euros fee, 10 pounds each", {"5 euros", "10 pounds"}),
        ("25% more, 300 jobs, in 2004", set()),
    ],
)
def test_amounts_of_money(text: str, amounts: set[str]) -> None:
    assert amounts_of_money(text) == amounts


@pytest.mark.parametrize(
    ("sentence", "named"),
    [
        ("There may be too few robots, predicts Oliver Berg, editor of Gizmo.", "oliver berg"),
        ('"The robot will sell out," said Mr Berg.', "berg"),
        ('And coach Andy Lund said: "I am disappointed."', "andy lund"),
        ("But Labour said the poster was fine.", "labour"),
        ("According to Sony, the robot is not for sale.", "sony"),
        ("He said it was fine.", None),
        ("Experts predict a shortage this Christmas.", None),
        ("The Berg robot is not for sale.", None),
    ],
)
def test_speakers_are_the_names_words_are_attributed_to(sentence: str, named: str | None) -> None:
    found = speakers(sentence)
    assert (named in found) if named else not found
    assert AskedFor.of("Who says so?").stated_by(sentence) is (named is not None)


@pytest.mark.parametrize(
    ("sentence", "said"),
    [
        ('Labour said he had "cleverly" not asked about paid advocacy.', True),
        ('A Scottish Labour Party spokesman said: "This should mean an inquiry."', True),
        ('"It is moderating," said Labour MP Ann Gray.', True),
        ('Ms Sturgeon said: "This episode has been damaging for Labour and for him."', False),
        ("Labour has a lead of four points in the poll.", False),
    ],
)
def test_what_one_said_is_a_sentence_that_attributes_words_to_them(
    sentence: str, said: bool
) -> None:
    asked = AskedFor.of("What did Labour say about him?")
    assert asked.by == {"labour"}
    assert attributes_to(sentence, asked.by) is said
    assert asked.stated_by(sentence) is said


def test_who_is_asked_about_may_be_a_common_noun_in_another_form() -> None:
    asked = AskedFor.of("What did the prosecutor say?")
    assert asked.stated_by("Prosecuting counsel Ann Lee said the man had lied.")
    assert not asked.stated_by("Defence counsel Ann Lee said the man had not lied.")
