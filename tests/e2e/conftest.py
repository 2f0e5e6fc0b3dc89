"""Browser tests: Debian's chromium driven by Playwright against a real server.

The index holds the seed article plus a hostile article written here, whose text,
title and url carry markup and a javascript: url; the page must show all of it as text.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Playwright, sync_playwright

from index.embedder import Embedder
from tests.conftest import ROOT, SEED_DIR, require_shared, start_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}

# A hostile article: markup in the body, the title and the author, a javascript: link
# in the body and a javascript: canonical url (which becomes the document's url).
XSS_ARTICLE = """<!doctype html>
<html><head>
<title>Zorblax harbour report &lt;img src=x onerror=alert(2)&gt;</title>
<link rel="canonical" href="javascript:alert(3)">
<meta name="author" content="Inspector &lt;b onmouseover=alert(6)&gt;Quill">
<script>alert(5)</script>
</head><body><article>
<h1>Zorblax harbour report &lt;img src=x onerror=alert(2)&gt;</h1>
<p>The Zorblax harbour inspectors wrote &lt;script&gt;alert(1)&lt;/script&gt; on every crane
they checked in the spring survey of the harbour.</p>
<p>Their summary of the crane survey says the cranes were marked
&lt;img src=x onerror=alert(2)&gt; by a prankster, and the full findings are at
<a href="javascript:alert(4)">the harbour office page</a>.</p>
<p>The harbour master of Zorblax replaced the rusted crane cables in June after the
inspectors complained about their condition for three years.</p>
</article></body></html>
"""


@pytest.fixture(scope="session")
def e2e_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    from ingest.pipeline import Ingestor

    hostile = tmp_path_factory.mktemp("hostile")
    (hostile / "zorblax-harbour-report.html").write_text(XSS_ARTICLE, encoding="utf-8")
    index_dir = tmp_path_factory.mktemp("e2e") / "index"
    summary = Ingestor(embedder, index_dir).run([require_shared(SEED_DIR), hostile])
    assert summary.added == 2 and summary.committed, summary
    return index_dir


@pytest.fixture(scope="session")
def page_server(e2e_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("e2e-logs") / "server.log"
    proc, url = start_server(e2e_index, log_path)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run .ci/install-browser.sh (Debian's chromium)")
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class Session:
    """A page plus everything it reported that a test may want to assert on."""

    page: Page
    url: str
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


OpenPage = Callable[..., Session]


@pytest.fixture
def open_page(browser: Browser, page_server: str) -> Iterator[OpenPage]:
    contexts = []

    def open_(viewport: dict[str, int] | None = None, **context_options: object) -> Session:
        context = browser.new_context(viewport=viewport or DESKTOP, **context_options)  # type: ignore[arg-type]
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        session = Session(page, page_server)

        def on_dialog(dialog: Dialog) -> None:
            session.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                session.errors.append(message.text)

        page.on("dialog", on_dialog)
        page.on("console", on_console)
        page.on("pageerror", lambda exc: session.errors.append(f"uncaught: {exc}"))
        page.goto(page_server + "/")
        return session

    yield open_
    for context in contexts:
        context.close()
