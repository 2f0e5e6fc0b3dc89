"""Dates, numbers and names by pattern (index/entities.py)."""

from __future__ import annotations

from index.entities import dates, digits, has_place, names, numbers


def test_dates_in_news_and_encyclopedia_forms() -> None:
    found = dates("On 19 August the deal, first proposed in March 2003 and in the 1990s, lapsed")
    assert {"19 august", "march 2003", "1990s"} <= found
    assert dates("He left on Monday at 10:30 pm.") >= {"monday", "10 30 pm"}
    assert dates("in the 16th century") == {"16th century"}
    assert not dates("Gazprom and SOCAR signed a partnership")


def test_numbers_and_quantities() -> None:
    found = numbers("It cost $2.3bn, up 40 per cent, over ten days")
    assert {"2 3bn", "40 per cent", "ten"} <= found
    assert digits("2,225 articles and 3.5 m") == {"2225", "3.5"}
    assert not numbers("no figures here")
    # An ordinal in digits is a number: it answers "In which minute?".
    assert numbers("scoring in the 43rd minute, his 2nd try") == {"43rd", "2nd"}
    assert not numbers("the 3D film")


def test_names_skip_capitalised_sentence_openers() -> None:
    found = names("The deal joined Gazprom and the State Oil Company of the Azerbaijan Republic.")
    assert "state oil company of the azerbaijan republic" in found
    assert {"gazprom", "azerbaijan"} <= found
    assert "the" not in found and "the deal" not in found
    assert names("When did it happen?") == set()


def test_places() -> None:
    assert has_place("The company is headquartered in Baku.")
    assert not has_place("they discussed trade and investment")


def test_an_owner_after_a_preposition_is_no_place() -> None:
    # "Where was the conference?" quoted the lede for "to Labour's spring conference".
    assert not has_place("He gave a rousing speech to Labour's spring conference.")
    assert not has_place("She spoke at Shell’s annual meeting.")
    # A possessive before another name, or a name alone, is still a place.
    assert has_place("To a packed audience at Gateshead's Sage Centre, he spoke.")
    assert has_place("Speaking at Labour's spring conference in Gateshead, he said so.")
    assert has_place("He flew to Paris on Monday.")


def test_a_possessive_is_no_part_of_the_name() -> None:
    # "Conti's job" names Conti: a claim saying "Conti" is about the same person.
    assert names("Bill Conti's job is not for the faint-hearted") == {"bill conti", "bill", "conti"}
    assert names("Gazprom’s deal with SOCAR") == {"gazprom", "socar"}
