"""Normalisation and keyword terms: the same function serves ingest and queries."""

from __future__ import annotations

from index.normalize import content_term_list, content_terms, normalize, related_terms, terms


def test_normalize_repairs_typography_only() -> None:
    raw = "THE U.S . FIRST PROPOSED ( TIME, DEC . 28) .  THEN WHAT ?\u00a0Ｆｕｌｌ"
    assert normalize(raw) == "THE U.S. FIRST PROPOSED (TIME, DEC. 28). THEN WHAT? Full"
    # Decimal numbers and spaced dashes are not punctuation to glue.
    assert normalize("rose 3.5 % - a record") == "rose 3.5% - a record"


def test_terms_fold_case_stem_and_drop_stopwords() -> None:
    assert terms("The Leaders SIGNED agreements") == ["leader", "sign", "agreement"]
    assert terms("the leaders signed agreements") == terms("THE LEADERS SIGNED AGREEMENTS")


def test_dotted_abbreviations_survive_as_one_term() -> None:
    # Single letters are dropped, so "U.S." would vanish if split; "us" would
    # collide with the pronoun.
    assert terms("the U.S . envoy") == ["u.s", "envoy"]
    assert terms("The U.S. envoy") == ["u.s", "envoy"]
    assert "u.s" not in terms("tell us")


def test_query_and_document_spacing_variants_meet() -> None:
    doc = terms("BRITAIN'S BOMBER FORCE HAS PRESUMABLY BECOME OBSOLETE .")
    query = terms("Britain's bomber force: obsolete?")
    assert set(query) <= set(doc)


def test_long_stems_one_of_which_begins_the_other_are_related() -> None:
    prosecutor, prosecuting = terms("prosecutor prosecuting")
    assert prosecutor != prosecuting  # Snowball keeps them apart
    assert related_terms([prosecutor], {prosecuting, "attorney"}) == {prosecutor}
    # Short stems begin too many other words; a term already there is not "related".
    govern, governor = terms("govern governor")
    assert related_terms([governor], {govern}) == set()
    assert related_terms([prosecutor], {prosecutor}) == set()
    assert related_terms([prosecutor], {"attorney"}) == set()


def test_a_lone_letter_left_by_an_apostrophe_is_no_content_word() -> None:
    """ "firm's" splits into "firm" and "s": the "s" would match every possessive, and
    as a term the keyword index never stores it would weigh the most."""
    assert content_term_list("Who is the firm's executive partner?") == [
        "firm",
        "execut",
        "partner",
    ]
    assert "t" not in content_terms("He didn't score")
    assert "3" in content_terms("He scored 3 goals")  # a lone digit says something
