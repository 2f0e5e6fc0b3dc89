"""The guard that keeps a looping model's repeats off the page (answer.repeats)."""

from __future__ import annotations

import pytest

from answer.repeats import RepeatGuard

FIRST = "Gazprom and SOCAR signed a memorandum on strategic partnership [1]. "
SECOND = "This shift is driven by the European Union's sanctions [2]. "


def stream(text: str, step: int, guard: RepeatGuard | None = None) -> tuple[str, RepeatGuard]:
    """Feed ``text`` in deltas of ``step`` characters; what the reader is shown."""
    guard = guard or RepeatGuard()
    shown = [guard.feed(text[i : i + step]) for i in range(0, len(text), step)]
    return "".join(shown) + guard.finish(), guard


@pytest.mark.parametrize("step", [1, 3, 7, 1000])
def test_text_without_repeats_is_shown_unchanged(step: int) -> None:
    text = FIRST + SECOND + "Both sides\n\n- expect more gas\n- and more trade."
    shown, guard = stream(text, step)
    assert shown == text
    assert guard.dropped == 0 and not guard.looping


@pytest.mark.parametrize("step", [1, 4, 1000])
def test_a_repeated_sentence_is_never_shown(step: int) -> None:
    shown, guard = stream(FIRST + SECOND + SECOND + "It matters for Russia.", step)
    assert shown == FIRST + SECOND + "It matters for Russia."
    assert guard.dropped == 1 and not guard.looping


def test_markers_spacing_and_case_do_not_make_a_sentence_new() -> None:
    again = "this shift is  driven by the European Union's sanctions [3]. "
    shown, guard = stream(FIRST + SECOND + again, 2)
    assert shown == FIRST + SECOND
    assert guard.dropped == 1


def test_a_sentence_that_starts_like_an_earlier_one_is_released_once_it_differs() -> None:
    guard = RepeatGuard()
    assert guard.feed(SECOND) == SECOND
    # The start of the earlier sentence is held: it may be a repeat ...
    assert guard.feed("This shift is driven") == ""
    # ... and released, held part included, as soon as it says something new.
    assert guard.feed(" by oil prices") == "This shift is driven by oil prices"
    assert guard.finish() == ""


def test_the_last_sentence_is_dropped_at_the_end_when_it_repeats() -> None:
    guard = RepeatGuard()
    guard.feed(FIRST)
    assert guard.feed(FIRST.strip().removesuffix(" [1].")) == ""
    assert guard.finish() == ""
    assert guard.dropped == 1


def test_repeats_in_a_row_mean_the_model_is_looping() -> None:
    guard = RepeatGuard(stop_after=2)
    guard.feed(FIRST + SECOND + FIRST)
    assert not guard.looping
    guard.feed(SECOND)
    assert guard.looping
    # A new sentence between repeats is not a loop.
    other = RepeatGuard(stop_after=2)
    other.feed(FIRST + SECOND + FIRST + "Something else entirely happened. " + SECOND)
    assert not other.looping


def test_short_sentences_may_repeat() -> None:
    shown, guard = stream("Yes. " + FIRST + "Yes. ", 1)
    assert shown == "Yes. " + FIRST + "Yes. "
    assert guard.dropped == 0
