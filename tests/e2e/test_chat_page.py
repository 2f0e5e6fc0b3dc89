"""The chat page at GET /, driven in Debian's chromium against a real server.

The server streams answers (``"stream": true`` on /v1/ask and /v1/chat, see
server/routes/answers.py) and the page uses it, so the tests read what the server sent
from the server-sent events of the real responses.
Screenshots of the main states go to test-artifacts/e2e/ (git-ignored).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Locator, Page, Request, Route, expect

from tests.e2e.conftest import KEY, PAGE_SCRIPTS, PHONE, HoldingRelay, OpenPage, Session

pytestmark = pytest.mark.slow

GAZPROM = "What did Gazprom and SOCAR sign?"
VISIT = "When did Putin visit Azerbaijan?"
# A follow-up whose "it" is the deal of the question before it.
WHY = "Why does it matter to Russia?"
DONE = re.compile(r"^(answered|abstained|error)$")

# The answer text as the page shows it, with each chip written back as its [n] marker
# and the caret and screen-reader-only labels left out: comparable with the server's text.
MARKED_TEXT = """e => {
    const copy = e.cloneNode(true);
    copy.querySelectorAll('.visually-hidden, .stream-caret').forEach(x => x.remove());
    copy.querySelectorAll('.chip').forEach(x => x.replaceWith(`[${x.textContent}]`));
    return copy.textContent;
}"""

Event = tuple[str, dict[str, Any]]


def sse_events(body: str) -> list[Event]:
    """The (event, data) pairs of a server-sent-events body, in order."""
    events: list[Event] = []
    for block in re.split(r"\r\n\r\n|\n\n", body):
        name, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[len("event:") :].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:") :].removeprefix(" "))
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


def check_stream(events: list[Event]) -> dict[str, Any]:
    """The final ``citations`` payload (the whole answer), once the documented event
    order is checked: ``question`` (chat only), ``token``s, ``citations``, ``done``."""
    names = [name for name, _ in events]
    assert names[-2:] == ["citations", "done"], names
    assert set(names[:-2]) <= {"question", "token"} and "token" in names, names
    assert "question" not in names[1:], names
    return events[-2][1]


def replay(s: Session, request: Request) -> tuple[list[Event], dict[str, Any]]:
    """What the real server streams for the very request the page sent.

    The page's own response cannot be read back: Chromium's DevTools often keeps no
    body for a streamed text/event-stream fetch (Network.getResponseBody fails). The
    extractive answerer is deterministic, so the same request gets the same events.
    """
    body = request.post_data_json
    assert body["stream"] is True, body
    response = httpx.post(s.url + urlsplit(request.url).path, json=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    return events, check_stream(events)


def sse(events: list[Event]) -> str:
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)


def ask(s: Session, question: str) -> Locator:
    """Type a question, press Enter, wait for its answer card to settle; return the card."""
    turns = s.page.locator("#log > li.turn")
    before = turns.count()
    box = s.page.locator("#question")
    box.fill(question)
    box.press("Enter")
    expect(turns).to_have_count(before + 1)
    card = turns.nth(before).locator("article.answer")
    expect(card).to_have_attribute("data-state", DONE)
    return card


def no_horizontal_scroll(page: Page) -> tuple[int, int]:
    return page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )


def injected_markup(page: Page) -> dict[str, Any]:
    """Elements or attributes that could only exist if article text became HTML."""
    return page.evaluate(
        """() => ({
            scripts: [...document.scripts].map(s => s.getAttribute('src')),
            images: [...document.images].map(i => i.getAttribute('src')),
            handlers: [...document.querySelectorAll('*')].flatMap(e =>
                [...e.attributes].filter(a => a.name.startsWith('on')).map(a => a.name)),
            js_links: [...document.querySelectorAll('[href]')]
                .map(e => e.getAttribute('href'))
                .filter(h => /^\\s*javascript:/i.test(h)),
            bold: document.querySelectorAll('#log b, #source-panel b').length,
        })"""
    )


def test_page_and_assets_come_from_the_app(page_server: str) -> None:
    page = httpx.get(page_server + "/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    # Offline machine: no asset may come from elsewhere.
    assert not re.search(r"""(src|href)=["'](https?:)?//""", page.text)
    for name, kind in (("app.js", "javascript"), ("style.css", "css"), ("favicon.svg", "svg")):
        asset = httpx.get(f"{page_server}/static/{name}")
        assert asset.status_code == 200 and kind in asset.headers["content-type"], name
    for bad in ("../routes/page.py", "..%2Froutes%2Fpage.py", "index.html", "missing.js"):
        assert httpx.get(f"{page_server}/static/{bad}").status_code == 404, bad
    # The page's own rule: no HTML sinks at all (the browser tests below check the effect).
    for name in ("app.js", "key.js", "collections.js", "articles.js"):
        script = httpx.get(f"{page_server}/static/{name}").text
        assert "use strict" in script, name
        sink = r"\.(inner|outer)HTML\s*\+?=|insertAdjacentHTML|document\.write"
        assert not re.search(sink, script), name


def test_answer_with_clickable_citation_and_highlighted_quote(open_page: OpenPage) -> None:
    s = open_page(permissions=["clipboard-read", "clipboard-write"])
    page = s.page
    expect(page.locator("#index-status")).to_contain_text("3 articles")
    expect(page.locator("#question")).to_be_focused()
    s.shot("01-empty")

    # Hold the real request briefly so the "thinking" state can be seen and photographed.
    held: list[Route] = []
    page.route("**/v1/ask", lambda route: held.append(route))
    with page.expect_request("**/v1/ask") as request_info:
        page.locator("#question").fill(GAZPROM)
        page.locator("#question").press("Enter")
        card = page.locator("#log article.answer").first
        expect(card).to_have_attribute("data-state", "pending")
        expect(card).to_contain_text("Searching your articles")
        expect(page.locator("#send")).to_be_disabled()
        while not held:
            page.wait_for_timeout(20)
        s.shot("02-thinking")
        held[0].continue_()
    page.unroute("**/v1/ask")
    assert request_info.value.post_data_json == {"question": GAZPROM, "stream": True}
    _, body = replay(s, request_info.value)
    first = next(c for c in body["citations"] if c["n"] == 1)

    expect(card).to_have_attribute("data-state", "answered")
    answer = card.locator(".answer-text")
    expect(answer).to_contain_text("strategic partnership")
    expect(answer).to_contain_text("Gazprom")
    assert answer.evaluate(MARKED_TEXT) == body["answer"]
    # Markers became buttons; no literal "[1]" is left in the text.
    assert answer.locator("button.chip").count() == len(body["citations"]) >= 1
    assert "[1]" not in answer.inner_text()
    # One row per article, with a chip for each of its citations.
    articles = {c["doc_id"] for c in body["citations"]}
    expect(card.locator(".sources-list li")).to_have_count(len(articles))
    expect(card.locator(".sources-list button.chip")).to_have_count(len(body["citations"]))
    expect(card.locator(".sources-list")).to_contain_text("Putin")
    s.shot("03-answer")

    chip = answer.locator("button.chip[data-n='1']")
    chip.click()
    panel = page.locator("#source-panel")
    expect(panel).to_be_visible()
    expect(panel.locator("#source-kicker")).to_have_text("Answer 1 · Source 1")
    mark = panel.locator("mark")
    expect(mark).to_have_count(1)
    expect(mark).to_have_text(first["quote"])
    expect(mark).to_contain_text("strategic partnership")
    # The quote sits inside its whole paragraph: there is text around it.
    paragraph = panel.locator("p.passage:has(mark)")
    assert len(paragraph.inner_text()) > len(first["quote"]) + 100
    assert "On 19 August" in paragraph.inner_text()
    expect(panel.locator("#source-title")).to_contain_text("Putin's visit to Azerbaijan")
    s.shot("04-source-panel")

    panel.locator("#source-more").click()
    assert panel.locator("p.passage").count() > 3
    expect(mark).to_be_visible()

    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(chip).to_be_focused()

    card.get_by_role("button", name="Copy answer").click()
    expect(card.get_by_role("button", name="Copied")).to_be_visible()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.startswith(body["answer"].strip())
    assert "Sources:" in copied and f"[1] {first['title']}" in copied and first["quote"] in copied

    assert not s.errors, s.errors
    assert not s.dialogs


def test_follow_up_abstention_and_new_chat(open_page: OpenPage) -> None:
    s = open_page()
    page = s.page
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    first = ask(s, GAZPROM)
    expect(first).to_have_attribute("data-state", "answered")

    # A question that stands on its own goes through /v1/chat like any later turn; the
    # server keeps it as it is, so no "Understood as" line appears.
    second = ask(s, VISIT)
    expect(second).to_have_attribute("data-state", "answered")
    expect(second.locator(".answer-text")).to_contain_text("19 August")
    expect(first.locator(".answer-text")).to_contain_text("strategic partnership")
    expect(page.locator("#log .understood-as")).to_have_count(0)
    assert [u.rsplit("/", 1)[-1] for u in posts] == ["ask", "chat"], posts

    third = ask(s, "What is the boiling point of tungsten?")
    expect(third).to_have_attribute("data-state", "abstained")
    expect(third).to_contain_text("Not found in your articles")
    assert third.locator("button.chip").count() == 0
    # Visibly different from a confident answer: dashed border, other background.
    style = "e => [getComputedStyle(e).borderTopStyle, getComputedStyle(e).backgroundColor]"
    assert first.evaluate(style) != third.evaluate(style)
    assert third.evaluate(style)[0] == "dashed"
    expect(page.locator("#log > li.turn")).to_have_count(3)
    page.locator("#chat").evaluate("e => e.scrollTop = 0")
    s.shot("05-conversation")
    page.locator("#chat").evaluate("e => e.scrollTop = e.scrollHeight")
    s.shot("05b-conversation-end")

    page.get_by_role("button", name="New chat").click()
    expect(page.locator("#log > li")).to_have_count(0)
    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#question")).to_be_focused()
    again = ask(s, GAZPROM)
    expect(again).to_have_attribute("data-state", "answered")
    # A new chat forgets the old one: its first question is a plain /v1/ask again.
    assert posts[-1].endswith("/v1/ask"), posts
    assert not s.errors, s.errors


def test_hostile_article_renders_as_text(open_page: OpenPage) -> None:
    s = open_page()
    page = s.page
    card = ask(s, "What did the Zorblax harbour inspectors write on every crane?")
    expect(card).to_have_attribute("data-state", "answered")
    expect(card.locator(".answer-text")).to_contain_text("<script>alert(1)</script>")

    card2 = ask(s, "What were the Zorblax cranes marked with by a prankster?")
    expect(card2.locator(".answer-text")).to_contain_text("<img src=x onerror=alert(2)>")
    expect(card2.locator(".sources-list")).to_contain_text("Zorblax harbour report <img")

    card2.locator(".answer-text button.chip").first.click()
    panel = page.locator("#source-panel")
    expect(panel.locator("mark")).to_be_visible()
    expect(panel.locator("#source-title")).to_have_text(
        "Zorblax harbour report <img src=x onerror=alert(2)>"
    )
    # The page names javascript:alert(3) as its canonical url: ingest keeps only http(s)
    # urls, so it is never stored, shown or linked; no file path is shown either.
    expect(panel.locator("#source-link a")).to_have_count(0)
    expect(panel.locator("#source-link")).not_to_contain_text("javascript:")
    expect(panel.locator("#source-meta")).not_to_contain_text(".html")
    panel.locator("#source-more").click()
    expect(panel.locator("#source-body")).to_contain_text("<script>alert(1)</script>")
    page.wait_for_timeout(500)  # time for any injected handler or script to fire
    s.shot("06-hostile-article")

    found = injected_markup(page)
    assert found["scripts"] == PAGE_SCRIPTS, found
    assert found["images"] == ["static/favicon.svg"], found
    assert found["handlers"] == [] and found["js_links"] == [] and found["bold"] == 0, found
    assert s.dialogs == []
    assert not s.errors, s.errors


def test_phone_width_has_no_horizontal_scroll(open_page: OpenPage) -> None:
    s = open_page(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = s.page
    width, client = no_horizontal_scroll(page)
    assert width <= client == PHONE["width"]
    s.shot("07-phone-empty")

    card = ask(s, GAZPROM)
    expect(card).to_have_attribute("data-state", "answered")
    ask(s, WHY)
    understood = page.locator("#log .understood-as")
    expect(understood).to_contain_text("Understood as:")
    ask(s, "What is the boiling point of tungsten?")
    width, client = no_horizontal_scroll(page)
    assert width <= client, (width, client)
    understood_box = understood.bounding_box()
    assert understood_box is not None and understood_box["x"] >= 0
    assert understood_box["x"] + understood_box["width"] <= PHONE["width"]
    box = card.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    page.locator("#chat").evaluate("e => e.scrollTop = 0")
    s.shot("08-phone-answer")

    card.locator(".answer-text button.chip").first.tap()
    panel = page.locator("#source-panel")
    expect(panel.locator("mark")).to_be_visible()
    panel_box = panel.bounding_box()
    assert panel_box is not None and panel_box["width"] <= PHONE["width"]
    width, client = no_horizontal_scroll(page)
    assert width <= client, (width, client)
    s.shot("09-phone-source")
    panel.get_by_role("button", name="Close source").tap()
    expect(panel).to_be_hidden()
    assert not s.errors, s.errors


def test_keyboard_only(open_page: OpenPage) -> None:
    s = open_page()
    page = s.page
    kb = page.keyboard
    box = page.locator("#question")
    expect(box).to_be_focused()  # the page opens ready to type
    # Back up to the skip link (the first stop) and use it to return to the box.
    kb.press("Shift+Tab")
    expect(page.get_by_role("button", name="New chat")).to_be_focused()
    kb.press("Shift+Tab")
    expect(page.get_by_role("button", name="Articles")).to_be_focused()
    kb.press("Shift+Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    expect(page.locator(".skip-link")).to_be_in_viewport()
    kb.press("Enter")
    expect(box).to_be_focused()

    kb.type("What did Gazprom")
    kb.press("Shift+Enter")
    kb.type("and SOCAR sign?")
    assert box.input_value() == "What did Gazprom\nand SOCAR sign?"
    expect(page.locator("#log > li")).to_have_count(0)  # Shift+Enter did not send

    kb.press("Enter")
    card = page.locator("#log article.answer").first
    expect(card).to_have_attribute("data-state", "answered")
    expect(page.locator("#log .bubble").first).to_have_text("What did Gazprom\nand SOCAR sign?")
    expect(box).to_have_value("")

    # Tab from the box reaches the first citation of the answer.
    page.locator("#log .bubble").first.click()  # a neutral spot: the tab order starts from here
    for _ in range(10):
        kb.press("Tab")
        if page.evaluate("() => document.activeElement.matches('.answer-text .chip')"):
            break
    chip = card.locator(".answer-text button.chip").first
    expect(chip).to_be_focused()
    kb.press("Enter")
    panel = page.locator("#source-panel")
    expect(panel.locator("mark")).to_contain_text("strategic partnership")
    kb.press("Escape")
    expect(panel).to_be_hidden()
    expect(chip).to_be_focused()
    assert not s.errors, s.errors


def test_errors_are_shown_in_words_and_can_be_retried(open_page: OpenPage) -> None:
    s = open_page()
    page = s.page
    # Stands in for a server that went away: the real one cannot be stopped mid-test
    # without breaking the other tests that share it.
    page.route("**/v1/ask", lambda route: route.abort("connectionrefused"))
    card = ask(s, GAZPROM)
    expect(card).to_have_attribute("data-state", "error")
    expect(card).to_contain_text("could not be reached")
    s.shot("10-error")

    page.unroute("**/v1/ask")
    card.get_by_role("button", name="Try again").click()
    retried = page.locator("#log article.answer").first
    expect(retried).to_have_attribute("data-state", "answered")
    expect(page.locator("#log > li.turn")).to_have_count(1)

    # A real error in the real server's own words: the page never sends an over-long
    # question, so the follow-up is lengthened on its way; /v1/chat makes it standalone
    # and refuses the result before any event is streamed.
    def lengthen(route: Route) -> None:
        body = route.request.post_data_json
        body["messages"][-1]["content"] = "x" * 2001
        route.continue_(post_data=json.dumps(body))

    page.route("**/v1/chat", lengthen)
    refused = ask(s, GAZPROM)
    expect(refused).to_have_attribute("data-state", "error")
    expect(refused).to_contain_text("question is 2001 characters long")
    expect(refused).to_contain_text("the limit is 2000. Shorten it.")
    assert len(s.errors) == 2, s.errors  # the browser's own log lines for the two failures
    assert "ERR_CONNECTION_REFUSED" in s.errors[0] and "422" in s.errors[1], s.errors


def test_a_stream_cut_part_way_is_an_error_that_can_be_retried(
    open_page: OpenPage, relay: HoldingRelay
) -> None:
    """The relay closes the real server's stream after its tokens, before the final
    answer: the page must not present the half-read text as an answer."""
    s = open_page(base_url=relay.url)
    page = s.page
    relay.cut("citations")
    card = ask(s, GAZPROM)
    expect(card).to_have_attribute("data-state", "error")
    expect(card).to_contain_text("lost while answering")
    expect(card.locator("button.chip")).to_have_count(0)
    s.shot("18-stream-cut")

    card.get_by_role("button", name="Try again").click()
    retried = page.locator("#log article.answer").first
    expect(retried).to_have_attribute("data-state", "answered")
    expect(retried.locator(".answer-text")).to_contain_text("strategic partnership")
    expect(page.locator("#log > li.turn")).to_have_count(1)
    assert all("ERR_" in e for e in s.errors), s.errors  # only the cut itself is logged


def test_api_key_prompt_and_storage(open_page: OpenPage, keyed_server: str) -> None:
    """A real server with CITELINE_API_KEYS: the page asks for the key on the first 401,
    sends it with every API call (the schema read that turns streaming on included),
    keeps it across reloads of the tab (sessionStorage) and forgets it on request."""
    s = open_page(base_url=keyed_server)
    page = s.page
    sent: list[tuple[str, str | None, bool]] = []

    def record(request: Request) -> None:
        path = urlsplit(request.url).path
        if path in ("/openapi.json", "/v1/ask", "/v1/chat"):
            body = request.post_data_json if request.method == "POST" else {}
            sent.append((path, request.headers.get("authorization"), bool(body.get("stream"))))

    page.on("request", record)
    page.locator("#question").fill(GAZPROM)
    page.locator("#question").press("Enter")
    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("The key is kept in this browser")
    expect(page.locator("#key-input")).to_be_focused()
    s.shot("11-key-prompt")

    page.locator("#key-input").fill("wrong")
    page.locator("#key-input").press("Enter")
    expect(dialog).to_contain_text("That key was not accepted")
    page.locator("#key-input").fill(KEY)
    page.locator("#key-input").press("Enter")
    expect(dialog).to_be_hidden()
    card = page.locator("#log article.answer").first
    expect(card).to_have_attribute("data-state", "answered")
    expect(card.locator(".answer-text")).to_contain_text("strategic partnership")
    bearer = f"Bearer {KEY}"
    assert sent == [
        ("/openapi.json", None, False),
        ("/openapi.json", "Bearer wrong", False),
        ("/openapi.json", bearer, False),
        # the schema was read with the key, so the answer streams
        ("/v1/ask", bearer, True),
    ]
    # Kept for the session only (sessionStorage), never in localStorage.
    assert page.evaluate("() => sessionStorage.getItem('citeline.apiKey')") == KEY
    assert page.evaluate("() => localStorage.getItem('citeline.apiKey')") is None

    # Kept across a reload: the next question goes straight through (as a follow-up:
    # the conversation is kept across the reload too).
    page.reload()
    sent.clear()
    ask(s, GAZPROM)
    assert sent == [("/openapi.json", bearer, False), ("/v1/chat", bearer, True)]
    forget = page.get_by_role("button", name="Forget API key")
    expect(forget).to_be_visible()
    forget.click()
    assert page.evaluate("() => sessionStorage.getItem('citeline.apiKey')") is None
    assert page.evaluate("() => localStorage.getItem('citeline.apiKey')") is None
    expect(forget).to_be_hidden()
    assert all("401" in e for e in s.errors), s.errors


def test_streamed_answer_then_a_follow_up_through_chat(
    open_page: OpenPage, relay: HoldingRelay
) -> None:
    """Real streaming from the real server. The relay holds each final ``citations``
    event back until the streaming state has been checked and photographed."""
    s = open_page(base_url=relay.url)
    page = s.page
    posts: list[Request] = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)

    relay.hold("citations")
    with page.expect_request("**/v1/ask") as first_info:
        page.locator("#question").fill(GAZPROM)
        page.locator("#question").press("Enter")
        card = page.locator("#log article.answer").first
        text = card.locator(".answer-text")
        expect(card).to_have_attribute("data-state", "streaming")
        expect(text).to_contain_text("strategic partnership")
        expect(card.locator(".answer-label")).to_have_text("Answering…")
        expect(card).to_have_attribute("aria-busy", "true")
        # Markers show as numbers but cannot be opened before the citations arrive.
        expect(text.locator(".chip-pending").first).to_have_text("1")
        expect(text.locator("button")).to_have_count(0)
        expect(text.locator(".stream-caret")).to_be_visible()
        shown_while_streaming = text.evaluate(MARKED_TEXT)
        s.shot("12-streaming")
        relay.release()
    events, final = replay(s, first_info.value)
    assert "question" not in [name for name, _ in events]  # /v1/ask does not condense
    tokens = "".join(data["text"] for name, data in events if name == "token")
    assert "strategic partnership" in shown_while_streaming
    assert tokens.startswith(shown_while_streaming)

    expect(card).to_have_attribute("data-state", "answered")
    expect(card).to_have_attribute("aria-busy", "false")
    assert text.evaluate(MARKED_TEXT) == final["answer"]
    expect(text.locator("button.chip")).to_have_count(len(final["citations"]))
    expect(text.locator(".chip-pending, .stream-caret")).to_have_count(0)
    expect(page.locator("#log .understood-as")).to_have_count(0)

    relay.hold("citations")
    with page.expect_request("**/v1/chat") as follow_info:
        page.locator("#question").fill(WHY)
        page.locator("#question").press("Enter")
        turn = page.locator("#log > li.turn").nth(1)
        follow = turn.locator("article.answer")
        understood = turn.locator(".understood-as")
        expect(follow).to_have_attribute("data-state", "streaming")
        # The condensed question arrives first and is shown while the answer streams.
        expect(understood).to_contain_text("Understood as:")
        expect(understood).to_contain_text("Gazprom SOCAR")
        s.shot("13-follow-up-streaming")
        relay.release()
    assert follow_info.value.post_data_json == {
        "messages": [
            {"role": "user", "content": GAZPROM},
            {"role": "assistant", "content": final["answer"]},
            {"role": "user", "content": WHY},
        ],
        "stream": True,
    }
    events, chat_final = replay(s, follow_info.value)
    assert events[0][0] == "question"
    condensed = events[0][1]["condensed_question"]
    assert condensed != WHY and WHY.lower() in condensed.lower()
    assert chat_final["condensed_question"] == condensed

    expect(follow).to_have_attribute("data-state", "answered")
    expect(understood.locator("q")).to_have_text(condensed)
    expect(understood).to_contain_text(f"Understood as: {condensed}")
    # "Why does it matter to Russia?" names a subject of its own, so its words choose
    # the quotes (answer/condense.py): Russia's stake, quoted from the seed article.
    expect(follow.locator(".answer-text")).to_contain_text("Russia")
    assert chat_final["citations"] and not chat_final["abstained"]
    assert {c["doc_id"] for c in chat_final["citations"]} == {
        c["doc_id"] for c in final["citations"]
    }
    assert follow.locator(".answer-text").evaluate(MARKED_TEXT) == chat_final["answer"]
    assert [r.url.rsplit("/", 1)[-1] for r in posts] == ["ask", "chat"]
    page.locator("#chat").evaluate("e => e.scrollTop = e.scrollHeight")
    s.shot("14-follow-up-answer")
    assert not s.errors, s.errors


def test_llm_fallback_is_explained(open_page: OpenPage, dead_llm_server: str) -> None:
    """A real server configured with an LLM that is down: its answers fall back to
    quotes and carry ``fallback_reason``, which the page must show."""
    s = open_page(base_url=dead_llm_server)
    page = s.page
    with page.expect_request("**/v1/ask") as info:
        card = ask(s, GAZPROM)
    _, final = replay(s, info.value)
    assert final["answerer"] == "extractive" and final["fallback_reason"]
    expect(card).to_have_attribute("data-state", "answered")
    note = card.locator("[data-note='fallback']")
    expect(note).to_contain_text("language model could not be used")
    # The replay may meet the client's back-off after the first failure; both say unreachable.
    expect(note).to_contain_text("unreachable")
    s.shot("15-llm-unavailable")
    assert not s.errors, s.errors


def _split_answer(answer: str) -> tuple[str, str]:
    """The first sentence of the extractive answer to GAZPROM with its marker, and a
    second one for the simulated LLM answer (the extractive answer may quote only one)."""
    cut = answer.index("[1]") + len("[1]")
    rest = (
        answer[cut:].strip() or "The new Gazprom-SOCAR deal may provide a solution for Russia. [2]"
    )
    return answer[:cut], rest


def _two_citations(real: dict[str, Any]) -> list[dict[str, Any]]:
    """The simulated LLM answer cites two sources; a one-quote extractive answer lends
    its citation to both."""
    cites = real["citations"]
    return cites if len(cites) > 1 else [cites[0], {**cites[0], "n": 2}]


def test_llm_only_stream_shapes_simulated(open_page: OpenPage) -> None:
    """Simulated, because only an LLM answer can produce these and no LLM runs in this
    test: a sentence its sources do not back (``supported: false``), a marker that the
    final answer drops (so the final text differs from the streamed one), and an
    ``error`` event followed by the partial answer when the LLM is cut off part-way.
    Each stream is built from the real server's own streamed answer to the same
    request, in its real event format, and changed only in those LLM-only ways."""
    s = open_page()
    page = s.page

    def unsupported_answer(route: Route) -> None:
        _, real = real_stream(route)
        first, second = _split_answer(real["answer"])
        written = f"{first} {second}[7]"  # [7]: a source the model made up
        tokens = [("token", {"text": written[i : i + 24]}) for i in range(0, len(written), 24)]
        final = {
            **real,
            "answer": f"{first} {second}",
            "answerer": "llm",
            "citations": [{**c, "supported": c["n"] != 2} for c in _two_citations(real)],
            "sentences": [
                {"text": first, "citations": [1], "supported": True, "score": 0.82},
                {"text": second, "citations": [2], "supported": False, "score": 0.41},
            ],
        }
        body = sse([*tokens, ("citations", final), ("done", {})])
        route.fulfill(status=200, content_type="text/event-stream", body=body)

    partial_answers: list[str] = []

    def cut_off_answer(route: Route) -> None:
        events, real = real_stream(route)
        first, _ = _split_answer(real["answer"])
        partial_answers.append(first)
        question = [e for e in events if e[0] == "question"]
        partial = {
            **real,
            "answer": first,
            "answerer": "llm",
            "citations": [c for c in real["citations"] if c["n"] == 1],
            "sentences": [{"text": first, "citations": [1], "supported": True, "score": 0.8}],
        }
        body = sse(
            [
                *question,
                ("token", {"text": first}),
                ("error", {"error": "the answer was cut off: the LLM stopped responding"}),
                ("citations", partial),
                ("done", {}),
            ]
        )
        route.fulfill(status=200, content_type="text/event-stream", body=body)

    def failed_answer(route: Route) -> None:
        # What the server sends when answering raises part-way: no answer follows.
        body = sse([("error", {"error": "the answer failed: ReadTimeout"}), ("done", {})])
        route.fulfill(status=200, content_type="text/event-stream", body=body)

    chat_streams = [cut_off_answer, failed_answer]
    page.route("**/v1/ask", unsupported_answer)
    page.route("**/v1/chat", lambda route: chat_streams.pop(0)(route))

    card = ask(s, GAZPROM)
    expect(card).to_have_attribute("data-state", "answered")
    text = card.locator(".answer-text")
    # The final answer replaced the streamed text: the made-up [7] is gone.
    assert "[7]" not in text.evaluate(MARKED_TEXT)
    expect(text.locator("button.chip")).to_have_count(2)
    unsupported = text.locator("[data-unsupported]")
    expect(unsupported).to_have_count(1)
    expect(unsupported).to_contain_text("may provide a solution for Russia")
    expect(unsupported).to_contain_text("(not supported by the sources)")
    expect(unsupported).not_to_contain_text("strategic partnership")
    weak = text.locator("button.chip-weak")
    expect(weak).to_have_count(1)
    expect(weak).to_have_attribute("data-n", "2")
    expect(weak).to_have_attribute("aria-label", re.compile(r"^Answer 1, source 2, weak support"))
    s.shot("16-llm-unsupported")

    follow = ask(s, "And when was it signed?")
    expect(follow).to_have_attribute("data-state", "answered")
    assert follow.locator(".answer-text").evaluate(MARKED_TEXT) == partial_answers[0]
    warning = follow.locator("[data-note='warning']")
    expect(warning).to_have_text("The answer was cut off: the LLM stopped responding.")
    s.shot("17-llm-cut-off")

    failed = ask(s, "And who signed it?")
    expect(failed).to_have_attribute("data-state", "error")
    expect(failed.locator(".answer-text")).to_have_text("The answer failed: ReadTimeout.")
    expect(failed.get_by_role("button", name="Try again")).to_be_visible()
    assert not chat_streams
    assert not s.errors, s.errors


def real_stream(route: Route) -> tuple[list[Event], dict[str, Any]]:
    """The real server's streamed answer to the request a route intercepted."""
    response = route.fetch()
    assert response.ok, response.text()
    events = sse_events(response.text())
    return events, check_stream(events)
