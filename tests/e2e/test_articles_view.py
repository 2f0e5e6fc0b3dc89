"""The chat page's "Articles" view in real Chromium against a real server: what is
indexed, searchable, shown as text; admins add a file there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import OpenPage, _serve
from tests.protection.helpers import copy_index

ADMIN = "e2e-admin-key-0123456789"


@pytest.fixture(scope="module")
def admin_server(e2e_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("e2e-admin")
    index_dir = copy_index(e2e_index, tmp / "index")  # this test writes: a private copy
    yield from _serve(
        index_dir,
        tmp / "server.log",
        {"CITELINE_ADMIN_KEYS": ADMIN, "CITELINE_RELOAD_INTERVAL": "1"},
    )


def test_articles_are_listed_searchable_and_shown_as_text(open_page: OpenPage) -> None:
    session = open_page()
    page = session.page
    page.get_by_role("button", name="Articles").click()
    status = page.locator("#articles-status")
    expect(status).to_have_text("3 articles indexed")
    items = page.locator("#articles-list li")
    expect(items).to_have_count(3)
    # The hostile title is text, never markup: no image element, no alert.
    expect(page.locator("#articles-list")).to_contain_text("<img src=x onerror=alert(2)>")
    assert page.locator("#articles-list img").count() == 0
    page.locator("#articles-search").fill("zorblax")
    expect(status).to_have_text("1 article match")
    expect(items).to_have_count(1)
    # Without admin keys the write routes are off, and the view says so.
    page.locator("#articles-url").fill("https://example.org/story")
    page.locator("#articles-add").click()
    expect(page.locator("#articles-add-status")).to_contain_text("write routes are off")
    assert session.dialogs == []
    # The browser logs the refused POST (403) to the console; nothing else went wrong.
    assert all("403" in e for e in session.errors), session.errors


def test_admin_uploads_a_file_from_the_view(
    open_page: OpenPage, admin_server: str, tmp_path: Path
) -> None:
    session = open_page(base_url=admin_server)
    page = session.page
    page.evaluate(f"localStorage.setItem('citeline.apiKey', '{ADMIN}')")
    page.reload()
    page.get_by_role("button", name="Articles").click()
    expect(page.locator("#articles-status")).to_have_text("3 articles indexed")
    note = tmp_path / "tide-notes.txt"
    note.write_text(
        "Tide notes\n\nThe spring tide at Skerry Point reached 4.2 metres on "
        "Sunday, the highest this year. The harbour master closed the slipway.\n"
    )
    page.locator("#articles-file").set_input_files(str(note))
    page.locator("#articles-add").click()
    expect(page.locator("#articles-add-status")).to_have_text(
        "Added 1, updated 0, unchanged 0.", timeout=60_000
    )
    expect(page.locator("#articles-status")).to_have_text("4 articles indexed", timeout=30_000)
    expect(page.locator("#articles-list")).to_contain_text("Tide notes")
    assert session.dialogs == []
