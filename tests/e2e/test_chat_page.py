"""The chat page at GET /, driven in Debian's chromium against a real server.

Screenshots of the main states go to test-artifacts/e2e/ (git-ignored).
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, Route, expect

from tests.e2e.conftest import PHONE, OpenPage, Session

pytestmark = pytest.mark.slow

GAZPROM = "What did Gazprom and SOCAR sign?"
DONE = re.compile(r"^(answered|abstained|error)$")


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
    script = httpx.get(page_server + "/static/app.js").text
    assert not re.search(r"\.(inner|outer)HTML\s*\+?=|insertAdjacentHTML|document\.write", script)


def test_answer_with_clickable_citation_and_highlighted_quote(open_page: OpenPage) -> None:
    s = open_page(permissions=["clipboard-read", "clipboard-write"])
    page = s.page
    expect(page.locator("#index-status")).to_contain_text("2 articles")
    expect(page.locator("#question")).to_be_focused()
    s.shot("01-empty")

    # Hold the real request briefly so the "thinking" state can be seen and photographed.
    held: list[Route] = []
    page.route("**/v1/ask", lambda route: held.append(route))
    with page.expect_response("**/v1/ask") as response_info:
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
    body = response_info.value.json()
    first = next(c for c in body["citations"] if c["n"] == 1)

    expect(card).to_have_attribute("data-state", "answered")
    answer = card.locator(".answer-text")
    expect(answer).to_contain_text("strategic partnership")
    expect(answer).to_contain_text("Gazprom")
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
    expect(panel.locator("#source-kicker")).to_have_text("Source 1")
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
    first = ask(s, GAZPROM)
    expect(first).to_have_attribute("data-state", "answered")

    # Plain /v1/ask: the follow-up is asked on its own; the conversation stays on screen.
    second = ask(s, "When did Putin visit Azerbaijan?")
    expect(second).to_have_attribute("data-state", "answered")
    expect(second.locator(".answer-text")).to_contain_text("19 August")
    expect(first.locator(".answer-text")).to_contain_text("strategic partnership")

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
    # The article's url is javascript:alert(3): shown as text, never as a link.
    expect(panel.locator("#source-link")).to_contain_text("javascript:alert(3)")
    expect(panel.locator("#source-link a")).to_have_count(0)
    panel.locator("#source-more").click()
    expect(panel.locator("#source-body")).to_contain_text("<script>alert(1)</script>")
    page.wait_for_timeout(500)  # time for any injected handler or script to fire
    s.shot("06-hostile-article")

    found = injected_markup(page)
    assert found["scripts"] == ["static/app.js"], found
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
    ask(s, "What is the boiling point of tungsten?")
    width, client = no_horizontal_scroll(page)
    assert width <= client, (width, client)
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
    # question, so the request is lengthened on its way to make the server refuse it.
    page.route(
        "**/v1/ask",
        lambda route: route.continue_(post_data=json.dumps({"question": "x" * 2001})),
    )
    refused = ask(s, GAZPROM)
    expect(refused).to_have_attribute("data-state", "error")
    expect(refused).to_contain_text("'question' is too long: at most 2000 characters")
    assert len(s.errors) == 2, s.errors  # the browser's own log lines for the two failures
    assert "ERR_CONNECTION_REFUSED" in s.errors[0] and "422" in s.errors[1], s.errors


def test_api_key_prompt_and_storage(open_page: OpenPage) -> None:
    """API keys are not in the server yet: this route stands in for a server that
    requires `Bearer sekret` on /v1/ask; accepted requests go on to the real server."""
    s = open_page()
    page = s.page
    seen: list[str | None] = []

    def require_key(route: Route) -> None:
        header = route.request.headers.get("authorization")
        seen.append(header)
        if header == "Bearer sekret":
            route.continue_()
        else:
            route.fulfill(
                status=401,
                content_type="application/json",
                body=json.dumps({"error": "an API key is required"}),
            )

    page.route("**/v1/ask", require_key)
    page.locator("#question").fill(GAZPROM)
    page.locator("#question").press("Enter")
    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("An API key is required. The key is kept in this browser")
    expect(page.locator("#key-input")).to_be_focused()
    s.shot("11-key-prompt")

    page.locator("#key-input").fill("wrong")
    page.locator("#key-input").press("Enter")
    expect(dialog).to_contain_text("That key was not accepted")
    page.locator("#key-input").fill("sekret")
    page.locator("#key-input").press("Enter")
    expect(dialog).to_be_hidden()
    card = page.locator("#log article.answer").first
    expect(card).to_have_attribute("data-state", "answered")
    assert seen == [None, "Bearer wrong", "Bearer sekret"]
    assert page.evaluate("() => localStorage.getItem('citeline.apiKey')") == "sekret"

    # Kept across a reload: the next question goes straight through.
    page.reload()
    ask(s, GAZPROM)
    assert seen[-1] == "Bearer sekret" and len(seen) == 4
    forget = page.get_by_role("button", name="Forget API key")
    expect(forget).to_be_visible()
    forget.click()
    assert page.evaluate("() => localStorage.getItem('citeline.apiKey')") is None
    expect(forget).to_be_hidden()
    assert all("401" in e for e in s.errors), s.errors


def _sse(events: list[tuple[str, dict[str, Any]]]) -> str:
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)


def test_streaming_and_chat_when_the_server_offers_them(open_page: OpenPage) -> None:
    """Streaming and /v1/chat are not in the server yet (the generated-answers issue).
    These routes stand in for them: the OpenAPI schema is the real one plus the two
    features, and the streamed events carry a real /v1/ask answer cut into pieces. The
    event shapes are this page's assumption and must be checked when streaming lands."""
    s = open_page()
    page = s.page
    bodies: list[tuple[str, dict[str, Any]]] = []

    def advertise(route: Route) -> None:
        spec = route.fetch().json()
        spec["components"]["schemas"]["AskRequest"]["properties"]["stream"] = {"type": "boolean"}
        spec["components"]["schemas"]["ChatRequest"] = {
            "properties": {"messages": {"type": "array"}, "stream": {"type": "boolean"}}
        }
        spec["paths"]["/v1/chat"] = {
            "post": {
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ChatRequest"}}
                    }
                }
            }
        }
        route.fulfill(json=spec)

    def stream(route: Route) -> None:
        body: dict[str, Any] = route.request.post_data_json or {}
        bodies.append((route.request.url.rsplit("/", 1)[-1], body))
        question = body["question"] if "question" in body else body["messages"][-1]["content"]
        real = route.fetch(
            url=route.request.url.replace("/v1/chat", "/v1/ask"),
            post_data=json.dumps({"question": question}),
        ).json()
        text = real["answer"]
        half = len(text) // 2
        first_sentence = text[: text.index("[1]") + 3]
        sentences = [{"text": first_sentence, "citations": [1], "supported": False, "score": 0.3}]
        final = {**real, "sentences": sentences}
        final["citations"][0]["supported"] = False
        events = [("token", {"text": text[:half]}), ("token", {"text": text[half:]})]
        route.fulfill(
            status=200,
            headers={"Content-Type": "text/event-stream"},
            body=_sse([*events, ("final", final)]),
        )

    page.route("**/openapi.json", advertise)
    page.route("**/v1/ask", stream)
    page.route("**/v1/chat", stream)
    page.reload()

    card = ask(s, GAZPROM)
    expect(card).to_have_attribute("data-state", "answered")
    expect(card.locator(".answer-text")).to_contain_text("strategic partnership")
    expect(card.locator(".answer-text button.chip")).to_have_count(2)
    unsupported = card.locator("[data-unsupported]")
    expect(unsupported).to_have_count(1)
    expect(unsupported).to_contain_text("The most significant was a deal")
    expect(card.locator(".answer-text button.chip-weak")).to_have_count(1)
    expect(card.locator(".answer-text button.chip-weak")).to_have_attribute("data-n", "1")
    s.shot("12-streamed-unsupported")

    follow = ask(s, "When did Putin visit Azerbaijan?")
    expect(follow.locator(".answer-text")).to_contain_text("19 August")
    assert [name for name, _ in bodies] == ["ask", "chat"]
    assert bodies[0][1] == {"question": GAZPROM, "stream": True}
    messages = bodies[1][1]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == GAZPROM and "strategic partnership" in messages[1]["content"]
    assert bodies[1][1]["stream"] is True
    assert not s.errors, s.errors
