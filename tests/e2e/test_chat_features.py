"""The chat page's conversation features (issue 14), in Debian's chromium against a
real server: the source panel tied to its answer, the phone panel, the editable
"Understood as" line, Stop / Regenerate / Edit, chats kept across reloads, the length
limit and its messages, publisher and date, answer labels, the Markdown renderer and
thumbs up/down feedback. Screenshots go to test-artifacts/e2e/.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Request, Route, expect

from tests.e2e.conftest import PAGE_SCRIPTS, PHONE, SHORT_LIMIT, HoldingRelay, OpenPage, Session
from tests.e2e.test_chat_page import (
    DONE,
    GAZPROM,
    MARKED_TEXT,
    VISIT,
    WHY,
    ask,
    check_stream,
    injected_markup,
    sse,
    sse_events,
)

pytestmark = pytest.mark.slow

BRICS = "What about BRICS?"
BRICS_STANDALONE = "Did Azerbaijan apply for BRICS membership?"
FERRY = "How much does a ticket for the Quillport night ferry cost?"


def turns(s: Session) -> Locator:
    return s.page.locator("#log > li.turn")


def posts(s: Session) -> list[Request]:
    """Every POST the page sends from now on (the list fills as it goes)."""
    sent: list[Request] = []
    s.page.on("request", lambda r: sent.append(r) if r.method == "POST" else None)
    return sent


def metric(base_url: str, name: str, labels: str) -> float:
    """The value of one sample of /metrics (0 when it is not there yet)."""
    text = httpx.get(base_url + "/metrics", timeout=30).text
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


# ---------------------------------------------------------------- source panel


def test_source_panel_belongs_to_its_answer(open_page: OpenPage) -> None:
    s = open_page()
    page = s.page
    panel = page.locator("#source-panel")
    first = ask(s, GAZPROM)
    first.locator(".answer-text button.chip[data-n='1']").click()
    expect(panel.locator("#source-kicker")).to_have_text("Answer 1 · Source 1")
    expect(panel.locator("#source-for")).to_contain_text(GAZPROM)
    expect(turns(s).nth(0)).to_have_class(re.compile(r"\bsource-open\b"))
    # Publisher (the seed's "Source:" line), never the file it was read from.
    expect(panel.locator("#source-meta")).to_contain_text("Chatham house")
    for where in ("#source-meta", "#source-link"):
        expect(panel.locator(where)).not_to_contain_text("seed/")
        expect(panel.locator(where)).not_to_contain_text(".txt")
    expect(first.locator(".sources-list .source-host").first).to_have_text("Chatham house")

    # A new question: the panel of the old answer closes rather than linger beside it.
    second = ask(s, VISIT)
    expect(panel).to_be_hidden()
    expect(turns(s).nth(0)).not_to_have_class(re.compile(r"\bsource-open\b"))
    second.locator(".answer-text button.chip").first.click()
    expect(panel.locator("#source-kicker")).to_have_text(re.compile(r"^Answer 2 · Source \d$"))
    expect(panel.locator("#source-for")).to_contain_text(VISIT)
    expect(turns(s).nth(1)).to_have_class(re.compile(r"\bsource-open\b"))
    # The same number in two answers is told apart by its accessible name too.
    names = page.locator("#log .answer-text button.chip[data-n='1']").evaluate_all(
        "els => els.map(e => e.getAttribute('aria-label'))"
    )
    assert len(names) == 2 and names[0].startswith("Answer 1,") and names[1].startswith("Answer 2,")

    # Every chip is a target of 24 x 24 px at least.
    sizes = page.locator("#log button.chip").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; })"
    )
    assert sizes and all(w >= 24 and h >= 24 for w, h in sizes), sizes
    s.shot("20-desktop-panel-follows-answer")
    assert not s.errors, s.errors


def test_publisher_falls_back_to_the_web_address_with_the_date(open_page: OpenPage) -> None:
    s = open_page()
    card = ask(s, FERRY)
    expect(card).to_have_attribute("data-state", "answered")
    expect(card.locator(".answer-label")).to_have_text("Quoted from your articles")
    expect(card.locator(".answer-text")).to_contain_text("40 crowns")
    host = card.locator(".sources-list .source-host").first
    expect(host).to_contain_text("harbour-news.example")
    expect(host).to_contain_text("2024")
    card.locator(".answer-text button.chip").first.click()
    meta = s.page.locator("#source-meta")
    expect(meta).to_contain_text("harbour-news.example")
    expect(meta).to_contain_text("May")  # 3 May 2024, in the browser's own wording
    expect(meta).not_to_contain_text(".html")
    link = s.page.locator("#source-link a")
    expect(link).to_have_attribute("href", "https://www.harbour-news.example/ferry-resumes")
    assert not s.errors, s.errors


def test_phone_panel_has_a_sticky_close_and_the_back_button_closes_it(
    open_page: OpenPage,
) -> None:
    s = open_page(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = s.page
    card = ask(s, GAZPROM)
    card.locator(".answer-text button.chip").first.tap()
    panel = page.locator("#source-panel")
    close = panel.get_by_role("button", name="Close source")
    expect(panel.locator("mark")).to_be_visible()
    panel.locator("#source-more").tap()
    # Scrolled to the very end of the whole article, the close button is still on screen
    # and on top (nothing covers its centre).
    panel.evaluate("e => e.scrollTop = e.scrollHeight")
    assert panel.evaluate("e => e.scrollTop") > 500
    box = close.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]
    assert box["width"] >= 44 and box["height"] >= 44, box
    on_top = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y)?.id",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert on_top == "source-close", on_top
    s.shot("21-phone-panel-scrolled")

    # The phone's back button closes the panel and stays on the page.
    url = page.url
    page.go_back()
    expect(panel).to_be_hidden()
    assert page.url == url
    expect(turns(s)).to_have_count(1)
    # Closing with the button takes back the history entry the panel added.
    card.locator(".answer-text button.chip").first.tap()
    expect(panel).to_be_visible()
    assert page.evaluate("() => history.state") == {"citelinePanel": True}
    close.tap()
    expect(panel).to_be_hidden()
    page.wait_for_function("() => history.state === null")
    expect(turns(s)).to_have_count(1)
    assert not s.errors, s.errors


# ---------------------------------------------------------------- understood as


def test_understood_as_can_be_corrected_and_is_re_asked_standalone(open_page: OpenPage) -> None:
    s = open_page()
    page = s.page
    sent = posts(s)
    ask(s, GAZPROM)
    follow = ask(s, WHY)
    turn = turns(s).nth(1)
    understood = turn.locator(".understood-as")
    expect(understood).to_contain_text("Understood as:")
    condensed = understood.locator("q").inner_text()
    assert condensed and condensed != WHY

    understood.click()
    editor = turn.locator(".inline-edit textarea")
    expect(editor).to_have_value(condensed)
    expect(editor).to_be_focused()
    s.shot("22-understood-as-editing")
    editor.fill(BRICS_STANDALONE)
    with page.expect_request("**/v1/ask") as info:
        editor.press("Enter")
    # The corrected text goes alone, as a standalone question: no conversation with it.
    assert info.value.post_data_json == {"question": BRICS_STANDALONE, "stream": True}
    expect(follow).to_have_attribute("data-state", DONE)
    expect(follow).to_have_attribute("data-state", "answered")
    expect(follow.locator(".answer-text")).to_contain_text("BRICS")
    expect(turn.locator(".understood-as")).to_contain_text(f"Asked as: {BRICS_STANDALONE}")
    expect(turns(s)).to_have_count(2)
    assert [r.url.rsplit("/", 1)[-1] for r in sent] == ["ask", "chat", "ask"]

    # A later follow-up carries the corrected question in its history, not the old one.
    with page.expect_request("**/v1/chat") as info:
        ask(s, "When did it apply?")
    messages = info.value.post_data_json["messages"]
    assert [m["content"] for m in messages if m["role"] == "user"] == [
        GAZPROM,
        BRICS_STANDALONE,
        "When did it apply?",
    ]
    assert not s.errors, s.errors


# ---------------------------------------------------------------- stop, regenerate, edit


def send(s: Session, question: str) -> Locator:
    """Type a question and press Enter; the first answer card, not waited for (a real
    LLM takes its time, a held stream never settles)."""
    box = s.page.locator("#question")
    box.fill(question)
    box.press("Enter")
    return s.page.locator("#log article.answer").first


def test_stop_mid_stream_with_a_real_llm(open_page: OpenPage, llm_page_server: str) -> None:
    """A real LLM (SmolLM2 on llama.cpp) writes slowly enough to be stopped part-way."""
    s = open_page(base_url=llm_page_server)
    page = s.page
    card = send(s, GAZPROM)
    expect(card).to_have_attribute("data-state", "streaming", timeout=120_000)
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_visible()
    expect(page.locator("#send")).to_be_hidden()
    # Wait for a few tokens, then stop while the model is still writing.
    page.wait_for_function(
        "() => (document.querySelector('#log .answer-text')?.textContent || '').length > 20"
    )
    s.shot("23-llm-streaming")
    stop.click()
    expect(card).to_have_attribute("data-state", "stopped")
    expect(card.locator("[data-note='stopped']")).to_have_text("You stopped this answer.")
    partial = card.locator(".answer-text").inner_text()
    assert len(partial) > 20
    expect(page.locator("#send")).to_be_visible()
    expect(stop).to_be_hidden()
    # The stream really ended: no more text arrives after Stop.
    page.wait_for_timeout(1500)
    assert card.locator(".answer-text").inner_text() == partial
    s.shot("24-llm-stopped")

    # Regenerate is offered (exercised on the extractive server below; a finished
    # answer from this model is the next test's).
    expect(card.get_by_role("button", name="Regenerate")).to_be_visible()
    # The one failure logged is the aborted stream itself.
    assert all("ERR_ABORTED" in e or "net::" in e for e in s.errors), s.errors


def test_a_finished_real_llm_answer_names_its_model(
    open_page: OpenPage, llm_page_server: str
) -> None:
    """The real LLM (SmolLM2 on llama.cpp) answers to the end: the label names the
    configured model, every sentence of the answer is either cited or marked
    unsupported, and the chips open the quoted source."""
    s = open_page(base_url=llm_page_server)
    page = s.page
    card = send(s, GAZPROM)
    expect(card).to_have_attribute("data-state", "answered", timeout=240_000)
    expect(card.locator(".answer-label")).to_have_text(
        "Written by smollm2, checked against the quotes"
    )
    text = card.locator(".answer-text")
    assert text.inner_text().strip()
    chips = text.locator("button.chip")
    marked = text.locator("[data-unsupported]")
    # SmolLM2 invents freely: its answer may cite or not, but nothing goes unjudged.
    assert chips.count() + marked.count() >= 1
    if chips.count():
        chips.first.click()
        expect(page.locator("#source-panel")).to_be_visible()
    page.wait_for_timeout(300)
    s.shot("35-llm-finished")
    assert not s.errors, s.errors


def test_stop_keeps_the_partial_answer_and_ignores_the_rest(
    open_page: OpenPage, relay: HoldingRelay
) -> None:
    """The real server's stream, with its final event held back by the relay: Stop
    ends it there; the answer that arrives afterwards must not replace the stop."""
    s = open_page(base_url=relay.url)
    page = s.page
    relay.hold("citations")
    card = send(s, GAZPROM)
    expect(card).to_have_attribute("data-state", "streaming")
    expect(card.locator(".answer-text")).to_contain_text("strategic partnership")
    # Escape in the question box stops too; here the button.
    page.get_by_role("button", name="Stop").click()
    expect(card).to_have_attribute("data-state", "stopped")
    relay.release()
    page.wait_for_timeout(500)
    expect(card).to_have_attribute("data-state", "stopped")
    expect(card.locator(".answer-text")).to_contain_text("strategic partnership")
    expect(card.locator(".answer-text .stream-caret")).to_have_count(0)
    expect(card.get_by_role("button", name="Regenerate")).to_be_visible()
    # A stopped turn is kept as stopped across a reload, and is not sent as history.
    page.reload()
    card = page.locator("#log article.answer").first
    expect(card).to_have_attribute("data-state", "stopped")
    with page.expect_request("**/v1/ask") as info:
        ask(s, VISIT)
    assert info.value.post_data_json == {"question": VISIT, "stream": True}
    assert all("ERR_" in e or "net::" in e for e in s.errors), s.errors


def test_regenerate_and_edit_and_resend(open_page: OpenPage) -> None:
    s = open_page()
    page = s.page
    first = ask(s, GAZPROM)
    second = ask(s, WHY)
    expect(second).to_have_attribute("data-state", "answered")
    # Only the last answer offers Regenerate.
    expect(first.get_by_role("button", name="Regenerate")).to_have_count(0)
    before = second.locator(".answer-text").evaluate(MARKED_TEXT)
    with page.expect_request("**/v1/chat") as info:
        second.get_by_role("button", name="Regenerate").click()
    assert [m["content"] for m in info.value.post_data_json["messages"]][::2] == [GAZPROM, WHY]
    expect(second).to_have_attribute("data-state", "answered")
    assert second.locator(".answer-text").evaluate(MARKED_TEXT) == before  # same question
    expect(turns(s)).to_have_count(2)

    # Edit the first question: it is asked again and the turn after it goes.
    turns(s).nth(0).get_by_role("button", name="Edit this question and ask again").click()
    editor = turns(s).nth(0).locator(".inline-edit textarea")
    expect(editor).to_have_value(GAZPROM)
    expect(turns(s).nth(0).locator(".inline-edit-note")).to_have_text(
        "The question after this one will be removed."
    )
    s.shot("27-edit-question")
    editor.fill(VISIT)
    with page.expect_request("**/v1/ask") as info:
        turns(s).nth(0).get_by_role("button", name="Send").click()
    assert info.value.post_data_json == {"question": VISIT, "stream": True}
    expect(turns(s)).to_have_count(1)
    expect(turns(s).nth(0).locator(".bubble")).to_have_text(VISIT)
    card = turns(s).nth(0).locator("article.answer")
    expect(card).to_have_attribute("data-state", "answered")
    expect(card.locator(".answer-text")).to_contain_text("19 August")

    # Cancel leaves the question as it was.
    turns(s).nth(0).get_by_role("button", name="Edit this question and ask again").click()
    turns(s).nth(0).locator(".inline-edit textarea").fill("something else")
    turns(s).nth(0).get_by_role("button", name="Cancel").click()
    expect(turns(s).nth(0).locator(".bubble")).to_have_text(VISIT)
    assert not s.errors, s.errors


# ---------------------------------------------------------------- stored chats


def test_chats_survive_a_reload_and_are_listed(open_page: OpenPage) -> None:
    s = open_page()
    page = s.page
    first = ask(s, GAZPROM)
    ask(s, WHY)
    answer_text = first.locator(".answer-text").evaluate(MARKED_TEXT)
    condensed = turns(s).nth(1).locator(".understood-as q").inner_text()

    page.reload()
    expect(turns(s)).to_have_count(2)
    expect(page.locator("#empty")).to_be_hidden()
    restored = turns(s).nth(0).locator("article.answer")
    assert restored.locator(".answer-text").evaluate(MARKED_TEXT) == answer_text
    expect(turns(s).nth(1).locator(".understood-as q")).to_have_text(condensed)
    # Its citations still open their sources.
    restored.locator(".answer-text button.chip[data-n='1']").click()
    expect(page.locator("#source-panel mark")).to_contain_text("strategic partnership")
    page.keyboard.press("Escape")

    # A follow-up after the reload still has the conversation behind it.
    with page.expect_request("**/v1/chat") as info:
        ask(s, "Who signed it?")
    assert info.value.post_data_json["messages"][0]["content"] == GAZPROM

    chats = page.locator("#chat-list li")
    expect(chats).to_have_count(1)
    expect(chats.first).to_contain_text(GAZPROM)
    page.get_by_role("button", name="New chat").click()
    expect(turns(s)).to_have_count(0)
    ask(s, FERRY)
    expect(chats).to_have_count(2)
    expect(chats.first).to_contain_text("Quillport")  # newest first
    s.shot("28-chat-list")

    page.reload()
    expect(turns(s)).to_have_count(1)  # the chat open at the reload
    expect(turns(s).first.locator(".bubble")).to_have_text(FERRY)
    chats.nth(1).locator(".chat-open").click()
    expect(turns(s)).to_have_count(3)
    expect(turns(s).first.locator(".bubble")).to_have_text(GAZPROM)
    # Opening a chat does not reorder the list (asking in it does).
    expect(chats.nth(1).locator(".chat-open")).to_have_attribute("aria-current", "true")
    expect(chats.nth(0).locator(".chat-open")).not_to_have_attribute("aria-current", "true")

    chats.nth(0).get_by_role("button", name=re.compile("^Delete the chat")).click()
    expect(chats).to_have_count(1)
    page.reload()
    expect(chats).to_have_count(1)
    expect(turns(s)).to_have_count(3)
    assert not s.errors, s.errors


def test_phone_chat_list_is_a_drawer(open_page: OpenPage) -> None:
    s = open_page(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = s.page
    ask(s, GAZPROM)
    page.get_by_role("button", name="New chat").tap()
    ask(s, VISIT)
    drawer = page.locator("#chats")
    expect(drawer).to_be_hidden()
    page.get_by_role("button", name="Chats").tap()
    expect(drawer).to_be_visible()
    expect(drawer.locator("li")).to_have_count(2)
    page.wait_for_timeout(300)  # the slide-in transition
    s.shot("29-phone-chat-list")
    drawer.locator("li").nth(1).locator(".chat-open").tap()
    expect(drawer).to_be_hidden()
    expect(turns(s).first.locator(".bubble")).to_have_text(GAZPROM)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    assert not s.errors, s.errors


# ---------------------------------------------------------------- composer messages


def test_length_limit_counter_and_messages(open_page: OpenPage, short_limit_server: str) -> None:
    """The limit comes from the server (CITELINE_MAX_QUESTION_CHARS, here 300)."""
    s = open_page(base_url=short_limit_server)
    page = s.page
    sent = posts(s)
    count = page.locator("#composer-count")
    message = page.locator("#composer-message")
    box = page.locator("#question")
    expect(count).to_have_text(f"0 / {SHORT_LIMIT}")

    # Empty input: said so, nothing sent.
    box.press("Enter")
    expect(message).to_have_text("Type a question first.")
    expect(turns(s)).to_have_count(0)

    # A long paste is kept whole, counted and refused with the numbers.
    long = "Gazprom " * 100  # 800 characters
    box.fill(long)
    expect(count).to_have_text(f"{len(long.strip())} / {SHORT_LIMIT}")
    expect(count).to_have_attribute("data-level", "over")
    expect(message).to_contain_text(f"Your question is {len(long.strip())} characters long")
    expect(message).to_contain_text(f"the limit is {SHORT_LIMIT}")
    box.press("Enter")
    expect(turns(s)).to_have_count(0)
    assert box.input_value() == long  # not cut behind the reader's back
    s.shot("30-length-limit")
    box.fill(GAZPROM)
    expect(message).to_be_hidden()
    expect(count).to_have_attribute("data-level", "ok")

    # Sending while an answer is pending: said so, and the new text stays in the box.
    held: list[Route] = []
    page.route("**/v1/ask", lambda route: held.append(route))
    box.press("Enter")
    while not held:
        page.wait_for_timeout(20)
    box.fill(VISIT)
    box.press("Enter")
    expect(message).to_contain_text("An answer is still coming")
    expect(message).to_contain_text("Stop")
    expect(box).to_have_value(VISIT)
    s.shot("31-pending-message")
    held[0].continue_()
    page.unroute("**/v1/ask")
    expect(turns(s).first.locator("article.answer")).to_have_attribute("data-state", "answered")
    expect(turns(s)).to_have_count(1)
    assert [r.url.rsplit("/", 1)[-1] for r in sent] == ["ask"]
    assert not s.errors, s.errors


# ---------------------------------------------------------------- Markdown


HOSTILE_MARKDOWN = """The deal is **strategic** and *long-term* [1].

- first `point` with <b>bold</b> tags
- second: <script>alert("md-script")</script>
- third: <img src=x onerror="alert('md-img')">

1. a [safe link](https://example.org/deal) and a [bad link](javascript:alert('md-js'))
2. a [data link](data:text/html,<script>alert(1)</script>) and [JS with spaces]( JAVASCRIPT:a() )

```
<iframe src="javascript:alert('md-iframe')"></iframe>
```
"""


def test_markdown_renderer_builds_safe_nodes(open_page: OpenPage) -> None:
    """The renderer itself, on the page: structure kept, markup and script urls refused."""
    s = open_page()
    page = s.page
    shape = page.evaluate(
        """(md) => {
            const box = document.createElement('div');
            box.id = 'md-test';
            box.append(window.CitelineMarkdown.render(md));
            document.body.append(box);
            return {
                tags: [...box.querySelectorAll('*')].map(e => e.tagName.toLowerCase()),
                links: [...box.querySelectorAll('a')]
                    .map(a => [a.getAttribute('href'), a.textContent]),
                text: box.textContent,
                items: [...box.querySelectorAll('li')].map(li => li.textContent),
            };
        }""",
        HOSTILE_MARKDOWN,
    )
    tags = set(shape["tags"])
    assert tags <= {"p", "ul", "ol", "li", "strong", "em", "code", "pre", "a"}, tags
    assert {"p", "ul", "ol", "li", "strong", "em", "code", "pre", "a"} <= tags, tags
    assert shape["links"] == [["https://example.org/deal", "safe link"]]
    # What was markup is shown as the characters it was.
    for literal in (
        '<script>alert("md-script")</script>',
        "<img src=x onerror=\"alert('md-img')\">",
        "<b>bold</b>",
        "<iframe src=\"javascript:alert('md-iframe')\"></iframe>",
    ):
        assert literal in shape["text"], literal
    # The labels of refused links stay as text, their urls go.
    assert "bad link" in shape["text"] and "javascript:alert('md-js')" not in shape["text"]
    assert "data link" in shape["text"] and "JS with spaces" in shape["text"]
    assert shape["items"] == [
        "first point with <b>bold</b> tags",
        'second: <script>alert("md-script")</script>',
        "third: <img src=x onerror=\"alert('md-img')\">",
        "a safe link and a bad link",
        "a data link and JS with spaces",
    ]
    page.wait_for_timeout(300)
    found = injected_markup(page)
    assert found["handlers"] == [] and found["js_links"] == [], found
    assert found["scripts"] == PAGE_SCRIPTS, found
    assert found["images"] == ["static/favicon.svg"], found
    assert s.dialogs == [] and not s.errors, (s.dialogs, s.errors)


def test_llm_markdown_answer_in_the_page_simulated(open_page: OpenPage) -> None:
    """Simulated, because no LLM writes hostile Markdown on demand: the real server's
    streamed answer to the request, changed into an LLM answer whose text is the
    hostile Markdown above with the real citations. The page must render lists,
    emphasis and code, turn [1] into a chip, and run none of the markup."""
    s = open_page()
    page = s.page

    def llm_answer(route: Route) -> None:
        response = route.fetch()
        real = check_stream(sse_events(response.text()))
        final: dict[str, Any] = {
            **real,
            "answer": HOSTILE_MARKDOWN,
            "answerer": "llm",
            "model": "qwen2.5-0.5b",
            "sentences": [
                {
                    "text": "The deal is **strategic** and *long-term* [1].",
                    "citations": [1],
                    "supported": True,
                    "score": 0.8,
                },
                {
                    "text": "first `point` with <b>bold</b> tags",
                    "citations": [],
                    "supported": False,
                    "score": 0.1,
                },
            ],
        }
        body = sse([("token", {"text": HOSTILE_MARKDOWN}), ("citations", final), ("done", {})])
        route.fulfill(status=200, content_type="text/event-stream", body=body)

    page.route("**/v1/ask", llm_answer)
    card = ask(s, GAZPROM)
    expect(card).to_have_attribute("data-state", "answered")
    expect(card.locator(".answer-label")).to_have_text(
        "Written by qwen2.5-0.5b, checked against the quotes"
    )
    text = card.locator(".answer-text")
    expect(text.locator("ul > li")).to_have_count(3)
    expect(text.locator("ol > li")).to_have_count(2)
    expect(text.locator("strong")).to_have_text("strategic")
    expect(text.locator("em")).to_have_text("long-term")
    expect(text.locator("p button.chip[data-n='1']")).to_have_count(1)
    expect(text.locator("a")).to_have_count(1)
    expect(text.locator("a")).to_have_attribute("href", "https://example.org/deal")
    expect(text).to_contain_text('<script>alert("md-script")</script>')
    # The unsupported sentence is marked, even though `code` splits it into pieces,
    # and labelled once.
    unsupported = text.locator("[data-unsupported]")
    assert unsupported.count() >= 2
    expect(text.locator(".unsupported-end")).to_have_count(1)
    expect(card.locator("[data-note='unsupported']")).to_contain_text("One sentence is marked")
    page.wait_for_timeout(300)
    s.shot("32-llm-markdown")
    found = injected_markup(page)
    assert found["handlers"] == [] and found["js_links"] == [] and found["bold"] == 0, found
    assert found["images"] == ["static/favicon.svg"], found
    assert s.dialogs == [] and not s.errors, (s.dialogs, s.errors)


# ---------------------------------------------------------------- feedback


def test_thumbs_up_and_down_are_stored_and_counted(open_page: OpenPage) -> None:
    s = open_page()
    page = s.page
    ups = metric(s.url, "citeline_feedback_total", 'vote="up"')
    downs = metric(s.url, "citeline_feedback_total", 'vote="down"')
    first = ask(s, GAZPROM)
    with page.expect_response("**/v1/feedback") as info:
        first.get_by_role("button", name="Good answer").click()
    assert info.value.status == 201, info.value.text()
    sent = info.value.request.post_data_json
    assert sent["vote"] == "up" and sent["question"] == GAZPROM
    assert sent["citations"] and all(c["quote"] for c in sent["citations"])
    assert sent["answer"] == first.locator(".answer-text").evaluate(MARKED_TEXT)
    expect(first.locator(".feedback-status")).to_have_text("Thanks for the feedback.")
    expect(first.get_by_role("button", name="Good answer")).to_have_attribute(
        "aria-pressed", "true"
    )

    second = ask(s, WHY)
    second.get_by_role("button", name="Bad answer").click()
    comment = second.locator(".feedback-comment")
    expect(comment).to_be_focused()
    comment.fill("It should say why the deal matters, not repeat the deal.")
    s.shot("33-feedback-comment")
    with page.expect_response("**/v1/feedback") as info:
        second.get_by_role("button", name="Send feedback").click()
    assert info.value.status == 201
    sent = info.value.request.post_data_json
    # The question stored is the standalone one the answer answered.
    assert (
        sent["vote"] == "down"
        and sent["question"] != WHY
        and WHY.lower() in sent["question"].lower()
    )
    assert sent["comment"].startswith("It should say why")
    expect(second.locator(".feedback-form")).to_have_count(0)

    assert metric(s.url, "citeline_feedback_total", 'vote="up"') == ups + 1
    assert metric(s.url, "citeline_feedback_total", 'vote="down"') == downs + 1
    # The vote is remembered with the chat.
    page.reload()
    expect(turns(s).nth(1).get_by_role("button", name="Bad answer")).to_have_attribute(
        "aria-pressed", "true"
    )
    s.shot("34-feedback-after-reload")
    assert not s.errors, s.errors
