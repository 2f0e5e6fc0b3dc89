"""HTML extraction on saved pages written for this project, one per failure shape the old
hand-written cleaner had: a body container whose class says "sidebar", a reader comment
that is the largest <article>, an empty <main>, "Related coverage" / "Got a tip for us?" /
newsletter / "JUST WATCHED" blocks inside the article, teaser <article> cards, blog chrome.

Each page has a hand-written expected body; the measure is token-shingle F1 (the public
article-extraction benchmark's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from citeline.evaluation.extraction import shingle_score
from ingest.html import html_to_text

PAGES = Path(__file__).parent / "pages"
NAMES = sorted(p.stem for p in PAGES.glob("*.html"))

# Per page: the F1 the extraction must reach. All pages reach 1.0 but one: the teaser page
# keeps one teaser card above the article (trafilatura's choice), so precision is 0.92.
MIN_F1 = {"teaser-articles": 0.9}
METADATA = {
    "sidebar-class-body": ("The quiet comeback of the night train", "Priya Castellanos"),
    "comment-is-largest-article": ("Council approves the riverside cycle path", "Tomas Lindqvist"),
    "empty-main": ("Glacier monitoring station goes solar", "Lena Hofstetter"),
    "related-tip-newsletter": ("Port strike ends after eleven days", "Samuel Okafor"),
    "hill-sidebar-right": ("Senate panel delays vote on water bill", "Grace Whitfield"),
}


def test_the_set_covers_the_failure_shapes() -> None:
    assert len(NAMES) >= 7
    for name in NAMES:
        assert (PAGES / f"{name}.expected.txt").exists(), name


@pytest.mark.parametrize("name", NAMES)
def test_page_body_f1(name: str) -> None:
    html = (PAGES / f"{name}.html").read_text(encoding="utf-8")
    expected = (PAGES / f"{name}.expected.txt").read_text(encoding="utf-8").strip()
    cleaned = html_to_text(html)
    score = shingle_score(cleaned.text, expected)
    assert score.f1 >= MIN_F1.get(name, 0.99), (name, score, cleaned.text)
    # Every expected paragraph is kept verbatim, as a paragraph of its own.
    for paragraph in expected.split("\n\n"):
        assert paragraph in cleaned.text.split("\n\n")


def test_mean_f1_over_the_set() -> None:
    scores = [
        shingle_score(
            html_to_text((PAGES / f"{n}.html").read_text(encoding="utf-8")).text,
            (PAGES / f"{n}.expected.txt").read_text(encoding="utf-8"),
        ).f1
        for n in NAMES
    ]
    assert sum(scores) / len(scores) >= 0.95


@pytest.mark.parametrize("name", sorted(METADATA))
def test_page_metadata(name: str) -> None:
    cleaned = html_to_text((PAGES / f"{name}.html").read_text(encoding="utf-8"))
    title, author = METADATA[name]
    assert (cleaned.title, cleaned.author) == (title, author)
    assert cleaned.url is not None and cleaned.url.startswith("https://")
    assert cleaned.date is not None and cleaned.date[:2] == "20"
    assert cleaned.source  # the site name
    # The title and byline are metadata, not the first paragraph of the body.
    assert not cleaned.text.startswith(title)


def test_shingle_score_punishes_chrome_and_loss() -> None:
    gold = "one two three four five six seven eight"
    assert shingle_score(gold, gold).f1 == 1.0
    chrome = shingle_score(gold + " subscribe to our newsletter today please", gold)
    assert chrome.recall == 1.0 and chrome.precision < 1.0
    lost = shingle_score("one two three four five", gold)
    assert lost.precision == 1.0 and lost.recall < 1.0
    assert shingle_score("", gold).f1 == 0.0
