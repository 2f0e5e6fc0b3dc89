"""The chat page over two collections with scoped keys, in real Chromium against a real
`citeline serve` and a real keys file.

Collection a holds the seed article, b the Quillport ferry page and the hostile Zorblax
report (tests/e2e/conftest.py). Keys: kA reads a, kAll reads both, kAdmB is an admin of
b. The page lists what the key may read (GET /v1/collections) in a picker, sends the
picked collections with every question and with the Articles view's listing, names the
collection of each source when the key reads more than one, and keeps the key in
sessionStorage only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Locator, Page, Request, expect

from access.keys import KeysFile
from index.store import Index
from tests.collections_helpers import subset_index
from tests.e2e.conftest import PHONE, OpenPage, _serve

pytestmark = pytest.mark.slow

GAZPROM = "What did Gazprom and SOCAR sign?"
FERRY = "How much does a ticket for the Quillport night ferry cost?"
DONE = re.compile(r"^(answered|abstained|error)$")


@dataclass
class TwoCollections:
    url: str
    keys: dict[str, str]


@pytest.fixture(scope="module")
def two(e2e_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoCollections]:
    base = tmp_path_factory.mktemp("e2e-collections")
    with Index.open(e2e_index) as ix:
        ids = list(ix.bm25.doc_ids)
        seed = {d for d in ids if "Putin" in (getattr(ix.document(d), "title", "") or "")}
    assert len(seed) == 1 and len(ids) == 3, ids
    root = base / "root"
    subset_index(e2e_index, root / "collections" / "a", seed)
    subset_index(e2e_index, root / "collections" / "b", set(ids) - seed)
    keys_file = KeysFile(base / "keys.toml")
    keys = {
        "kA": keys_file.add("kA", "reader", ["a"]),
        "kAll": keys_file.add("kAll", "reader", None),
        "kAdmB": keys_file.add("kAdmB", "admin", ["b"]),
    }
    env = {"CITELINE_KEYS_FILE": str(keys_file.path), "CITELINE_RELOAD_INTERVAL": "1"}
    for url in _serve(root, base / "server.log", env):
        yield TwoCollections(url, keys)


def storage(page: Page, kind: str) -> dict[str, str]:
    return page.evaluate(
        f"() => Object.fromEntries(Object.keys({kind}).map(k => [k, {kind}.getItem(k)]))"
    )


def enter_key_on_first_question(page: Page, question: str, key: str) -> None:
    page.locator("#question").fill(question)
    page.locator("#question").press("Enter")
    expect(page.locator("#key-dialog")).to_be_visible()
    page.locator("#key-input").fill(key)
    page.locator("#key-input").press("Enter")
    expect(page.locator("#key-dialog")).to_be_hidden()


def picker_values(page: Page) -> list[str]:
    return page.locator("#collections input[type=checkbox]").evaluate_all(
        "boxes => boxes.map(b => b.value)"
    )


def test_a_key_for_a_is_shown_a_only_and_kept_for_the_session(
    open_page: OpenPage, two: TwoCollections
) -> None:
    s = open_page(base_url=two.url)
    page = s.page
    picker = page.get_by_role("group", name="Search in")
    expect(picker).to_be_hidden()  # no key yet: nothing can be listed
    enter_key_on_first_question(page, GAZPROM, two.keys["kA"])
    card = page.locator("#log article.answer").first
    expect(card).to_have_attribute("data-state", "answered")
    expect(card.locator(".answer-text")).to_contain_text("strategic partnership")

    # The picker appeared once the key was entered, with a and nothing of b.
    expect(picker).to_be_visible()
    expect(picker.get_by_role("checkbox")).to_have_count(2)
    assert picker_values(page) == ["*", "a"]
    expect(picker.get_by_role("checkbox", name="All collections")).to_be_checked()
    expect(picker.get_by_role("checkbox", name="a", exact=True)).not_to_be_checked()
    # One readable collection: sources are not labelled with it.
    expect(card.locator(".source-collection")).to_have_count(0)
    s.shot("20-collections-one")

    # The key is in sessionStorage, nowhere in localStorage (the chats are, without it).
    assert storage(page, "sessionStorage").get("citeline.apiKey") == two.keys["kA"]
    local = storage(page, "localStorage")
    assert "citeline.chats.v1" in local and GAZPROM in local["citeline.chats.v1"]
    assert all(two.keys["kA"] not in v for v in [*local, *local.values()]), local.keys()

    # The Articles view lists a only.
    page.get_by_role("button", name="Articles").click()
    expect(page.locator("#articles-status")).to_have_text("1 article indexed")
    expect(page.locator("#articles-list")).to_contain_text("Putin")
    expect(page.locator("#articles-list")).not_to_contain_text("Quillport")
    page.locator("#articles-close").click()

    # Forgetting the key forgets what it could read.
    page.get_by_role("button", name="Forget API key").click()
    expect(picker).to_be_hidden()
    assert "citeline.apiKey" not in storage(page, "sessionStorage")
    expect(page.get_by_role("button", name="Forget API key")).to_be_hidden()

    # A new tab is a new session: the key is asked for again (the chats stay).
    tab = page.context.new_page()
    tab.goto(two.url + "/")
    assert storage(tab, "sessionStorage").get("citeline.apiKey") is None
    enter_key_on_first_question(tab, GAZPROM, two.keys["kA"])
    expect(tab.locator("#log article.answer").last).to_have_attribute("data-state", "answered")
    tab.close()
    # So is a new browser context.
    fresh = open_page(base_url=two.url).page
    assert storage(fresh, "sessionStorage") == {}
    assert "citeline.apiKey" not in storage(fresh, "localStorage")
    fresh.locator("#question").fill(GAZPROM)
    fresh.locator("#question").press("Enter")
    expect(fresh.locator("#key-dialog")).to_be_visible()
    assert s.dialogs == []
    assert all("401" in e for e in s.errors), s.errors


def test_picked_collections_scope_questions_sources_and_the_articles_view(
    open_page: OpenPage, two: TwoCollections
) -> None:
    s = open_page(base_url=two.url)
    page = s.page
    sent: list[tuple[str, Any]] = []

    def record(request: Request) -> None:
        parts = urlsplit(request.url)
        if request.method == "POST" and parts.path in ("/v1/ask", "/v1/chat"):
            sent.append((parts.path, request.post_data_json.get("collections")))
        elif request.method == "GET" and parts.path == "/v1/documents":
            sent.append((parts.path, parse_qs(parts.query).get("collection")))

    page.on("request", record)
    # A key left in localStorage by the earlier page is moved to sessionStorage once.
    page.evaluate(f"localStorage.setItem('citeline.apiKey', '{two.keys['kAll']}')")
    page.reload()
    picker = page.get_by_role("group", name="Search in")
    expect(picker).to_be_visible()  # listed at load: the key was there
    assert storage(page, "localStorage").get("citeline.apiKey") is None
    assert storage(page, "sessionStorage").get("citeline.apiKey") == two.keys["kAll"]
    assert picker_values(page) == ["*", "a", "b"]
    every = picker.get_by_role("checkbox", name="All collections")
    box_a = picker.get_by_role("checkbox", name="a", exact=True)
    box_b = picker.get_by_role("checkbox", name="b", exact=True)
    expect(every).to_be_checked()

    # All (the default): no `collections` sent; the ferry answer comes from b, named.
    card = ask(page, FERRY)
    expect(card).to_have_attribute("data-state", "answered")
    expect(card.locator(".answer-text")).to_contain_text("40 crowns")
    assert sent[-1] == ("/v1/ask", None)
    labels = card.locator(".source-collection")
    expect(labels.first).to_be_visible()
    assert set(labels.all_text_contents()) == {"Collection b"}
    card.locator(".answer-text button.chip").first.click()
    expect(page.locator("#source-meta")).to_contain_text("Collection b")
    s.shot("21-collections-source")
    page.keyboard.press("Escape")

    # Only a: the question covers a, and nothing of b can be cited.
    box_a.check()
    expect(every).not_to_be_checked()
    page.get_by_role("button", name="New chat").click()
    card = ask(page, FERRY)
    assert sent[-1] == ("/v1/ask", ["a"])
    assert set(card.locator(".source-collection").all_text_contents()) <= {"Collection a"}
    assert "Quillport" not in (card.text_content() or "").replace(FERRY, "")
    assert "40 crowns" not in (card.locator(".answer-text").text_content() or "")
    # Both: a follow-up through /v1/chat carries them too.
    box_b.check()
    card = ask(page, "And what did they sign?")
    assert sent[-1] == ("/v1/chat", ["a", "b"])
    # Unticking every collection goes back to all of them.
    box_a.uncheck()
    box_b.uncheck()
    expect(every).to_be_checked()
    box_b.check()
    s.shot("22-collections-picked")

    # The Articles view lists the picked collection, each row naming it, all as text.
    page.get_by_role("button", name="Articles").click()
    expect(page.locator("#articles-status")).to_have_text("2 articles indexed")
    assert sent[-1] == ("/v1/documents", ["b"])
    rows = page.locator("#articles-list li")
    expect(rows).to_have_count(2)
    for text in rows.all_text_contents():
        assert "Collection b" in text
    expect(page.locator("#articles-list")).to_contain_text("<img src=x onerror=alert(2)>")
    assert page.locator("#articles-list img").count() == 0
    # Two readable collections: an addition asks which one, the picked one first.
    target = page.get_by_label("Add to collection")
    expect(target).to_be_visible()
    assert target.locator("option").all_text_contents() == ["a", "b"]
    expect(target).to_have_value("b")
    assert s.dialogs == []
    # Only the first load's listing, before the key was put there, was refused.
    assert len(s.errors) == 1 and "401" in s.errors[0], s.errors


def test_the_picker_fits_a_phone(open_page: OpenPage, two: TwoCollections) -> None:
    s = open_page(viewport=PHONE, base_url=two.url)
    page = s.page
    page.evaluate(f"sessionStorage.setItem('citeline.apiKey', '{two.keys['kAll']}')")
    page.reload()
    picker = page.get_by_role("group", name="Search in")
    expect(picker).to_be_visible()
    expect(picker.get_by_role("checkbox")).to_have_count(3)
    width, client = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert width <= client, (width, client)
    # With a key the top bar holds four buttons: they wrap, each still a touch target.
    for button in page.locator(".topbar-actions button:visible").all():
        box = button.bounding_box()
        assert box is not None and box["height"] >= 24 and box["x"] + box["width"] <= client
    # Reachable with the keyboard: Tab from the question box goes back to the boxes.
    page.locator("#question").focus()
    page.keyboard.press("Shift+Tab")
    focused = page.evaluate("() => document.activeElement.value")
    assert focused == "b", focused
    page.keyboard.press("Space")
    expect(picker.get_by_role("checkbox", name="b", exact=True)).to_be_checked()
    expect(picker.get_by_role("checkbox", name="All collections")).not_to_be_checked()
    s.shot("23-collections-phone")


def test_an_admin_of_b_adds_to_b_from_the_articles_view(
    open_page: OpenPage, two: TwoCollections, tmp_path: Path
) -> None:
    s = open_page(base_url=two.url)
    page = s.page
    posted: list[str] = []
    page.on(
        "request",
        lambda r: posted.append(urlsplit(r.url).query) if r.method == "POST" else None,
    )
    enter_key_on_first_question(page, FERRY, two.keys["kAdmB"])
    expect(page.locator("#log article.answer").first).to_have_attribute("data-state", "answered")
    expect(page.get_by_role("group", name="Search in")).to_be_visible()
    page.get_by_role("button", name="Articles").click()
    expect(page.locator("#articles-status")).to_have_text("2 articles indexed")
    # One collection to write: no choice shown, the addition goes to it.
    expect(page.locator("#articles-collection")).to_be_hidden()
    note = tmp_path / "quillport-pier.txt"
    note.write_text(
        "Quillport pier repairs\n\nThe pier at Quillport will be closed for repairs from "
        "March, and the night ferry will berth at the old fish quay instead.\n"
    )
    page.locator("#articles-file").set_input_files(str(note))
    page.locator("#articles-add").click()
    expect(page.locator("#articles-add-status")).to_have_text(
        "Added 1, updated 0, unchanged 0.", timeout=60_000
    )
    assert posted[-1] == "collection=b"
    expect(page.locator("#articles-status")).to_have_text("3 articles indexed", timeout=30_000)
    expect(page.locator("#articles-list")).to_contain_text("Quillport pier repairs")
    assert all("401" in e for e in s.errors), s.errors


def ask(page: Page, question: str) -> Locator:
    turns = page.locator("#log > li.turn")
    before = turns.count()
    page.locator("#question").fill(question)
    page.locator("#question").press("Enter")
    expect(turns).to_have_count(before + 1)
    card = turns.nth(before).locator("article.answer")
    expect(card).to_have_attribute("data-state", DONE)
    return card
