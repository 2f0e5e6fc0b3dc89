"""Cleaning of plain text, Markdown and HTML into article text plus header metadata."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ingest.clean import clean_text
from ingest.html import html_to_text

SEED = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "corpus"
    / "seed"
    / "putin-visit-to-azerbaijan.txt"
)

BODY_1 = (
    "The harbour reopened on Monday after three weeks of repairs. Fishing crews were the first "
    "to return, and the market on the quay was busy again by noon."
)
BODY_2 = (
    "Officials said the new sea wall should withstand storms for decades. The work cost less than "
    "planned because local firms supplied most of the stone."
)


def _seed_lines() -> list[str]:
    if not SEED.exists():
        pytest.skip(f"shared sample article not found at {SEED} (it lives beside the repo)")
    return [line.strip() for line in SEED.read_text(encoding="utf-8").splitlines()]


def _assert_well_formed(text: str) -> None:
    assert text == text.strip()
    assert "\n\n\n" not in text
    assert "\r" not in text
    assert all(line == line.rstrip() for line in text.split("\n"))


# --------------------------------------------------------------------------- the seed article


def test_seed_article_metadata_and_body() -> None:
    lines = _seed_lines()
    title_line = lines[0]
    expected_title, expected_author = (part.strip() for part in title_line.rsplit(" By ", 1))
    source_line = next(line for line in lines if line.lower().startswith("source:"))
    conclusion = next(line for line in lines if line.startswith("In conclusion"))
    first_body = next(line for line in lines if len(line.split()) > 25)
    chrome = [line for line in lines[lines.index(conclusion) + 1 :] if line]

    cleaned = clean_text(SEED.read_text(encoding="utf-8"))

    assert cleaned.title == expected_title
    assert cleaned.title.startswith("What does Putin")
    assert cleaned.title.endswith("changing global dynamics?")
    assert cleaned.author == expected_author == "George Meneshian"
    assert cleaned.source == source_line.split(":", 1)[1].strip()
    # The body starts with the first real paragraph: no title, byline, bio or source lines.
    assert cleaned.text.startswith(first_body)
    assert conclusion in cleaned.text
    assert cleaned.text.endswith(conclusion)
    assert "strategic partnership between the Russian state-owned energy company Gazprom" in (
        cleaned.text
    )
    # "Comments", the "popular posts" heading and the other posts' titles are all chrome.
    assert len(chrome) >= 3
    for line in chrome:
        assert line not in cleaned.text
    assert "Comments" not in cleaned.text
    assert "Analyst" not in cleaned.text
    _assert_well_formed(cleaned.text)


def test_seed_article_is_deterministic_and_idempotent() -> None:
    _seed_lines()
    raw = SEED.read_text(encoding="utf-8")
    first = clean_text(raw)
    assert clean_text(raw) == first
    # Cleaning the cleaned body again must not eat its first or last paragraph.
    assert clean_text(first.text).text == first.text


def test_seed_article_with_windows_newlines_cleans_the_same() -> None:
    _seed_lines()
    raw = SEED.read_text(encoding="utf-8")
    assert clean_text(raw.replace("\n", "\r\n")) == clean_text(raw)


# --------------------------------------------------------------------------- plain text


def test_newlines_and_blank_lines_are_normalised() -> None:
    raw = (
        f"Harbour Reopens\r\n\r\n\r\n\r\n{BODY_1}   \r\nA second line.\t \r\n"
        f"\r\n \u00a0 \r\n\r\n{BODY_2}\r\n\r\n"
    )
    cleaned = clean_text(raw)
    assert cleaned.title == "Harbour Reopens"
    assert cleaned.text == f"{BODY_1}\nA second line.\n\n{BODY_2}"
    _assert_well_formed(cleaned.text)


@pytest.mark.parametrize(
    "byline",
    ["By Jane Doe", "Written by Jane Doe", "Author: Jane Doe", "By Jane Doe | Staff writer"],
)
def test_byline_on_its_own_line(byline: str) -> None:
    cleaned = clean_text(f"Harbour Reopens\n{byline}\n\n{BODY_1}\n\n{BODY_2}")
    assert cleaned.title == "Harbour Reopens"
    assert cleaned.author == "Jane Doe"
    assert cleaned.text == f"{BODY_1}\n\n{BODY_2}"


def test_byline_at_end_of_title_line() -> None:
    cleaned = clean_text(f"Is the harbour safe now? By Ana María Ruiz\n\n{BODY_1}")
    assert cleaned.title == "Is the harbour safe now?"
    assert cleaned.author == "Ana María Ruiz"
    assert cleaned.text == BODY_1


def test_title_words_that_are_not_a_name_stay_in_the_title() -> None:
    cleaned = clean_text(f"How I Learned to Stand By Your Man\n\n{BODY_1}")
    assert cleaned.title == "How I Learned to Stand By Your Man"
    assert cleaned.author is None


def test_source_and_date_lines_are_metadata() -> None:
    raw = f"Harbour Reopens\n\nSource: The Coastal Times\nPublished: 12 March 2024\n\n{BODY_1}"
    cleaned = clean_text(raw)
    assert cleaned.source == "The Coastal Times"
    assert cleaned.date == "12 March 2024"
    assert cleaned.text == BODY_1


def test_author_bio_lines_in_header_are_dropped_but_body_kept() -> None:
    raw = (
        f"Harbour Reopens By Jane Doe\n\nJane Doe\n\nSenior Fellow, Ports Institute\n\n"
        f"{BODY_1}\n\nJane Doe\n\nShe wrote this from the quay."
    )
    cleaned = clean_text(raw)
    assert cleaned.author == "Jane Doe"
    assert cleaned.text.startswith(BODY_1)
    assert "Senior Fellow" not in cleaned.text
    # Only the header is metadata: a later mention of the name is body text.
    assert cleaned.text.endswith("Jane Doe\n\nShe wrote this from the quay.")


def test_no_title_when_first_line_is_a_body_paragraph() -> None:
    cleaned = clean_text(f"{BODY_1}\n\n{BODY_2}")
    assert cleaned.title is None
    assert cleaned.text == f"{BODY_1}\n\n{BODY_2}"


def test_wrapped_first_paragraph_is_not_a_title() -> None:
    raw = "The harbour reopened on Monday\nafter three weeks of repairs.\n\nMore text follows."
    cleaned = clean_text(raw)
    assert cleaned.title is None
    assert cleaned.text == raw


def test_text_that_is_all_header_is_kept_rather_than_emptied() -> None:
    cleaned = clean_text("Harbour Reopens\n\nBy Jane Doe")
    assert cleaned.text == "Harbour Reopens\n\nBy Jane Doe"
    assert cleaned.author == "Jane Doe"


def test_known_title_wins_and_only_a_matching_first_line_is_dropped() -> None:
    same = clean_text(f"Harbour Reopens\n\n{BODY_1}", known_title="Harbour reopens")
    assert same.title == "Harbour reopens"
    assert same.text == BODY_1
    lead = "Boats are back"
    other = clean_text(f"{lead}\n\n{BODY_1}", known_title="Harbour Reopens")
    assert other.title == "Harbour Reopens"
    assert other.text == f"{lead}\n\n{BODY_1}"


# --------------------------------------------------------------------------- chrome


@pytest.mark.parametrize(
    "heading",
    [
        "Comments",
        "3 Comments",
        "Leave a Reply",
        "Post a Comment",
        "Related posts",
        "You may also like",
        "Share this:",
        "Labels: harbours, storms",
        "Subscribe to our newsletter",
        "More from The Coastal Times",
    ],
)
def test_trailing_chrome_is_cut(heading: str) -> None:
    raw = (
        f"Harbour Reopens\n\n{BODY_1}\n\n{BODY_2}\n\n{heading}\n\nAnother post title\n\nJohn: nice!"
    )
    cleaned = clean_text(raw)
    assert cleaned.text == f"{BODY_1}\n\n{BODY_2}"


def test_chrome_heading_mid_article_does_not_cut_the_body() -> None:
    raw = f"Harbour Reopens\n\n{BODY_1}\n\nRecommended\n\n{BODY_2}\n\n{BODY_1}\n\n{BODY_2}"
    cleaned = clean_text(raw)
    assert "Recommended" in cleaned.text
    assert cleaned.text.endswith(BODY_2)
    assert cleaned.text.count(BODY_2) == 2


def test_chrome_word_before_any_body_is_kept() -> None:
    raw = "Comments\n\nShort note."
    assert clean_text(raw).text == "Short note."  # "Comments" becomes the title, not a cut


def test_navigation_lines_at_start_and_end_are_dropped() -> None:
    raw = (
        f"Skip to content\nHome | About | Contact\n\nHarbour Reopens\n\n{BODY_1}\n\n"
        f"Share\nFacebook\nTwitter\n\nBack to top\n\n© 2024 The Coastal Times"
    )
    cleaned = clean_text(raw)
    assert cleaned.title == "Harbour Reopens"
    assert cleaned.text == BODY_1


def test_nav_word_inside_the_body_is_kept() -> None:
    raw = f"Harbour Reopens\n\n{BODY_1}\n\nHome\n\n{BODY_2}"
    assert clean_text(raw).text == f"{BODY_1}\n\nHome\n\n{BODY_2}"


# --------------------------------------------------------------------------- markdown


def test_markdown_syntax_is_stripped_and_heading_is_title() -> None:
    raw = (
        "Intro badge ![build](https://ci/badge.svg)\n\n# Harbour *Reopens*\n\n"
        'The **harbour** reopened after [three weeks](https://example.org/a "t") of _repairs_. '
        "![photo](p.png) Crews returned with `nets`.\n\n## Costs\n\n> The wall cost less.\n\n"
        "---\n\n```\nx = a*b*c\n```\n\n[ref]: https://example.org"
    )
    cleaned = clean_text(raw, markdown=True)
    assert cleaned.title == "Harbour Reopens"
    assert cleaned.text == (
        "Intro badge\n\nThe harbour reopened after three weeks of repairs. "
        "Crews returned with nets.\n\nCosts\n\nThe wall cost less.\n\nx = a*b*c"
    )


def test_markdown_front_matter_is_metadata() -> None:
    raw = f'---\ntitle: "Harbour Reopens"\nauthor: Jane Doe\ndate: 2024-03-12\n---\n\n{BODY_1}'
    cleaned = clean_text(raw, markdown=True)
    assert (cleaned.title, cleaned.author, cleaned.date) == (
        "Harbour Reopens",
        "Jane Doe",
        "2024-03-12",
    )
    assert cleaned.text == BODY_1


def test_markdown_flag_off_keeps_markdown_characters() -> None:
    raw = f"Harbour Reopens\n\n{BODY_1} See [the map](https://example.org)."
    assert "[the map](https://example.org)" in clean_text(raw).text


# --------------------------------------------------------------------------- HTML

PAGE = f"""<!DOCTYPE html>
<html><head>
<title>Harbour Reopens | The Coastal Times</title>
<meta name="author" content="Jane Doe">
<meta property="og:title" content="Harbour Reopens">
<meta property="og:site_name" content="The Coastal Times">
<meta property="article:published_time" content="2024-03-12T08:00:00Z">
<link rel="canonical" href="https://coastal.example/harbour-reopens">
<style>p {{ color: red; }}</style>
<script>var tracking = "STYLE-AND-SCRIPT";</script>
</head><body>
<header class="site-header"><a href="/">Coastal Times home</a>
  <nav><ul><li>World</li><li>Sport</li></ul></nav></header>
<div class="cookie-banner">We use cookies to improve things.</div>
<main><article>
  <h1>Harbour Reopens</h1>
  <p class="byline">By Jane Doe</p>
  <p>{BODY_1}</p>
  <p>Crews &amp; traders at the caf&eacute;&nbsp;said AT&amp;T &lt;phones&gt; worked.</p>
  <script>alert(1)</script>
  <div class="share-buttons"><a>Share on Facebook</a><a>Tweet</a></div>
  <p class="note">{BODY_2}</p>
  <div class="canvas"><p>Kept inside a canvas class.</p></div>
  <section id="comments"><h2>2 Comments</h2><p>Great post, thanks!</p></section>
</article>
<aside class="related"><h2>Related</h2><p>Another story about boats</p></aside>
</main>
<footer><p>Copyright 2024 The Coastal Times</p></footer>
</body></html>"""


def test_html_page_text_and_metadata() -> None:
    cleaned = html_to_text(PAGE)
    assert cleaned.title == "Harbour Reopens"
    assert cleaned.author == "Jane Doe"
    assert cleaned.url == "https://coastal.example/harbour-reopens"
    assert cleaned.date == "2024-03-12"  # trafilatura normalises dates to ISO days
    assert cleaned.source == "The Coastal Times"
    assert cleaned.text == (
        f"{BODY_1}\n\nCrews & traders at the café said AT&T <phones> worked.\n\n{BODY_2}"
        "\n\nKept inside a canvas class."
    )
    for chrome in (
        "alert(1)",
        "STYLE-AND-SCRIPT",
        "color: red",
        "World",
        "cookies",
        "Share on Facebook",
        "Great post",
        "Another story",
        "Copyright",
    ):
        assert chrome not in cleaned.text
    _assert_well_formed(cleaned.text)


def test_html_fallback_metadata_sources() -> None:
    page = (
        "<html><head><title>Storm Warning - Coastal</title></head><body>"
        "<div class='post'><h1>Storm Warning</h1>"
        "<span class='author-name'>By Ana Ruiz</span>"
        "<time datetime='2024-01-05'>5 January</time>"
        f"<p>{BODY_1}</p></div></body></html>"
    )
    cleaned = html_to_text(page)
    assert cleaned.title == "Storm Warning"
    assert cleaned.author == "Ana Ruiz"
    assert cleaned.date == "2024-01-05"
    assert cleaned.url is None
    assert cleaned.text.endswith(BODY_1)
    assert "Storm Warning" not in cleaned.text


def test_html_title_from_title_tag_and_byline_from_text() -> None:
    page = f"<title>Tide Tables</title><p>By Ana Ruiz</p><p>{BODY_1}</p>"
    cleaned = html_to_text(page)
    assert cleaned.title == "Tide Tables"
    assert cleaned.author == "Ana Ruiz"
    assert cleaned.text == BODY_1


def test_html_json_ld_author() -> None:
    page = (
        '<html><head><script type="application/ld+json">{"@context": "https://schema.org", '
        '"@type": "NewsArticle", "author": {"@type": "Person", "name": "Ana Ruiz"}, '
        '"datePublished": "2024-02-01"}</script></head>'
        f"<body><article><p>{BODY_1}</p><p>{BODY_2}</p></article></body></html>"
    )
    cleaned = html_to_text(page)
    assert (cleaned.author, cleaned.date) == ("Ana Ruiz", "2024-02-01")
    assert cleaned.text == f"{BODY_1}\n\n{BODY_2}"


def test_html_wrapper_with_chrome_class_is_not_removed() -> None:
    # Whole-page wrappers (an ASP.NET <form>, a "has-comments" div) hold the article itself.
    page = (
        "<body><form id='aspnetForm'><div class='content has-comments'>"
        f"<article><p>{BODY_1}</p><p>{BODY_2}</p></article>"
        "<div class='comments'><p>First!</p></div></div></form></body>"
    )
    cleaned = html_to_text(page)
    assert cleaned.text == f"{BODY_1}\n\n{BODY_2}"


def test_html_block_elements_become_paragraphs() -> None:
    page = (
        "<div>One<br>Two</div><ul><li>Three</li><li>Four</li></ul>"
        "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>"
        "<p>Inline <b>bold</b><i>italic</i>   spaced\n out</p><pre>line 1\n  line 2</pre>"
    )
    cleaned = html_to_text(page)
    # Blocks become separate paragraphs, in order, with no markup left. (The old cleaner's
    # exact layout of inline tags and table cells is not kept: trafilatura decides it.)
    words = cleaned.text.split()
    assert [w for w in words if w != "|"][:4] == ["One", "Two", "Three", "Four"]
    assert "One\n\nTwo" in cleaned.text
    assert "spaced out" in cleaned.text and "line 1" in cleaned.text
    assert "<" not in cleaned.text


def test_html_trailing_text_chrome_is_cut() -> None:
    page = (
        f"<html><body><div><p>{BODY_1}</p><p>{BODY_2}</p><h3>Popular posts</h3>"
        "<ul><li>Other post title</li><li>Another post title</li></ul></div></body></html>"
    )
    text = html_to_text(page).text
    assert text.startswith(f"{BODY_1}\n\n{BODY_2}")
    assert "Popular posts" not in text


def test_deeply_nested_html_does_not_raise() -> None:
    depth = 5000
    page = "<html><body>" + "<div>" * depth + "<p>deep &amp; text</p>" + "</div>" * depth
    cleaned = html_to_text(page + f"<p>{BODY_1}</p></body></html>")
    assert "deep & text" in cleaned.text
    assert BODY_1 in cleaned.text


def test_deeply_nested_chrome_classes_stay_linear() -> None:
    # Removing nested chrome tag by tag was quadratic (20 s here for 5,000 levels).
    depth = 5000
    page = "<div class='menu'>" * depth + f"<h1>Deep</h1><p>{BODY_1}</p>" + "</div>" * depth
    page += '<script type="application/ld+json">' + "[" * depth + "]" * depth + "</script>"
    started = time.perf_counter()
    cleaned = html_to_text(page)
    assert time.perf_counter() - started < 5
    assert (cleaned.title, cleaned.text) == ("Deep", BODY_1)


@pytest.mark.parametrize(
    "page",
    [
        "",
        "   ",
        "<<<>>>",
        "</p></div></body>",
        "<div",
        "<p>a<b>b</p>c</b><table><p>x</table>",
        "<!DOCTYPE html>",
        '<?xml version="1.0"?><x/>',
        "<![CDATA[x]]>",
        "\x00\x01<p>nul bytes",
        "<p>&bogus; &#xFFFFFFF; &#0;</p>",
        "<script>alert(1)",
        "<a href='",
        "<html><body><p>unclosed <i>tags <b>everywhere",
        "http://example.org/looks/like/a/url",
    ],
)
def test_malformed_html_does_not_raise(page: str) -> None:
    cleaned = html_to_text(page)
    assert isinstance(cleaned.text, str)
    assert "alert(1)" not in cleaned.text
    _assert_well_formed(cleaned.text)


def test_html_xss_attributes_and_handlers_never_reach_the_text() -> None:
    page = (
        "<p onclick=\"alert('x')\">Visible</p><img src=x onerror=alert(2)>"
        "<iframe src='javascript:alert(3)'>frame text</iframe><svg><script>alert(4)</script></svg>"
        "<noscript>Enable JS</noscript><template><p>tpl</p></template>"
    )
    cleaned = html_to_text(page)
    assert cleaned.text == "Visible"


def test_closing_copyright_line_goes_but_a_body_sentence_about_copyright_stays() -> None:
    sentence = (
        "Copyright law changed in 1998, and it now protects authors for seventy years. "
        "Publishers welcomed the change."
    )
    raw = f"Harbour Reopens\n\n{BODY_1}\n\n{sentence}\n\n© 2024 The Coastal Times"
    assert clean_text(raw).text == f"{BODY_1}\n\n{sentence}"


def test_unencodable_characters_are_replaced_not_passed_on() -> None:
    # A JSON "\ud800" escape yields a lone surrogate, which no UTF-8 store can take.
    for cleaned in (clean_text("caf\ud800 bar\x00\u200b"), html_to_text("<p>caf\ud800 bar</p>")):
        assert cleaned.text.encode("utf-8")
        assert cleaned.text == "caf\ufffd bar"
