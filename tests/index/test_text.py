from index.text import split_sentences


def texts(t: str) -> list[str]:
    return [t[a:b] for a, b in split_sentences(t)]


def test_abbreviations_and_initials_do_not_end_sentences() -> None:
    t = "Dr. Smith met J. Doe in the U.S. on Monday. They talked."
    assert texts(t) == ["Dr. Smith met J. Doe in the U.S. on Monday.", "They talked."]


def test_paragraphs_and_quotes() -> None:
    t = 'He said "no." Then he left!\n\nA new paragraph starts here'
    assert texts(t) == ['He said "no."', "Then he left!", "A new paragraph starts here"]


def test_spans_are_exact_offsets_and_trimmed() -> None:
    t = "  First one.   Second one?  \n\n Third "
    spans = split_sentences(t)
    assert [t[a:b] for a, b in spans] == ["First one.", "Second one?", "Third"]


def test_hard_wrapped_line_continues_sentence() -> None:
    t = "This sentence is wrapped\nacross two lines. Next."
    assert texts(t) == ["This sentence is wrapped\nacross two lines.", "Next."]


def test_window_within_text() -> None:
    t = "Zero. One two. Three."
    spans = split_sentences(t, 6, len(t))
    assert [t[a:b] for a, b in spans] == ["One two.", "Three."]
