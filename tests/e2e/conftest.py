"""Browser tests: Debian's chromium driven by Playwright against a real server.

The index holds the seed article, a hostile article written here, whose text, title
and url carry markup and a javascript: url (the page must show all of it as text), and
a plain news page with a web address and a date but no site name (the page must name
its publisher by the address's host).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Playwright, sync_playwright

from index.embedder import Embedder
from tests.conftest import ROOT, SEED_DIR, require_shared
from tests.launcher import free_port, serving
from tests.llm.conftest import LlamaServer, gguf_model, llama, llm_env  # noqa: F401 - fixtures

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
# Every script the page loads, in order (server/static/index.html): nothing else may run.
PAGE_SCRIPTS = [
    "static/key.js",
    "static/collections.js",
    "static/markdown.js",
    "static/app.js",
    "static/articles.js",
]
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


# A page with a canonical web address and a date, but no og:site_name.
FERRY_ARTICLE = """<!doctype html>
<html><head>
<title>Night ferry to Quillport resumes</title>
<link rel="canonical" href="https://www.harbour-news.example/ferry-resumes">
<meta property="article:published_time" content="2024-05-03T08:00:00Z">
</head><body><article>
<h1>Night ferry to Quillport resumes</h1>
<p>The night ferry between Zorblax and Quillport resumed sailing on Friday after a
winter pause, the operator said, with two crossings each week until October.</p>
<p>Tickets for the Quillport night ferry cost 40 crowns, and cabins must be booked a
week ahead because the ship carries only twelve of them.</p>
</article></body></html>
"""


@pytest.fixture(scope="session")
def e2e_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    from ingest.pipeline import Ingestor

    hostile = tmp_path_factory.mktemp("hostile")
    (hostile / "zorblax-harbour-report.html").write_text(XSS_ARTICLE, encoding="utf-8")
    (hostile / "quillport-ferry.html").write_text(FERRY_ARTICLE, encoding="utf-8")
    index_dir = tmp_path_factory.mktemp("e2e") / "index"
    summary = Ingestor(embedder, index_dir).run([require_shared(SEED_DIR), hostile])
    assert summary.added == 3 and summary.committed, summary
    return index_dir


def _serve(index_dir: Path, log_path: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    # Every page test loads the page (its scripts, /readyz, /v1/collections) from one
    # address into one session-long server: on a fast machine that passes the default
    # 600 requests/min. Rate limiting has its own tests (tests/protection).
    env = {"CITELINE_RATE_LIMIT": "0", **(env or {})}
    with serving(index_dir, log_path, env) as url:
        yield url


@pytest.fixture(scope="session")
def page_server(e2e_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _serve(e2e_index, tmp_path_factory.mktemp("e2e-logs") / "server.log")


@pytest.fixture(scope="session")
def dead_llm_server(e2e_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real server configured with an LLM that is down: a port nothing listens on.
    Every answer then really falls back to the extractive answerer and says why."""
    env = {"CITELINE_LLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1"}
    log_path = tmp_path_factory.mktemp("e2e-logs") / "dead-llm-server.log"
    yield from _serve(e2e_index, log_path, env)


@pytest.fixture(scope="session")
def short_limit_server(e2e_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real server with a lower question limit than the documented 2,000."""
    log_path = tmp_path_factory.mktemp("e2e-logs") / "short-limit-server.log"
    yield from _serve(e2e_index, log_path, {"CITELINE_MAX_QUESTION_CHARS": str(SHORT_LIMIT)})


SHORT_LIMIT = 300


@pytest.fixture(scope="session")
def llm_page_server(
    llama: LlamaServer,  # noqa: F811 - the fixture imported above
    e2e_index: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The real server answering with the real local LLM (llama.cpp + SmolLM2), allowed
    long answers so that a stream lasts long enough to be stopped part-way."""
    log_path = tmp_path_factory.mktemp("e2e-logs") / "llm-server.log"
    yield from _serve(e2e_index, log_path, llm_env(llama.url, CITELINE_LLM_ANSWER_TOKENS="300"))


KEY = "e2e-test-key-0123456789"


@pytest.fixture(scope="session")
def keyed_server(e2e_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real server with API keys on (CITELINE_API_KEYS)."""
    log_path = tmp_path_factory.mktemp("e2e-logs") / "keyed-server.log"
    yield from _serve(e2e_index, log_path, {"CITELINE_API_KEYS": KEY})


class HoldingRelay:
    """A byte-for-byte TCP relay in front of the real server that can hold one event back.

    The extractive answerer streams a whole answer within milliseconds, too fast to see,
    assert or photograph the streaming state; and the real server cannot be made to drop
    a connection part-way. Every byte passes through unchanged and in order; ``hold``
    only delays the bytes from a named server-sent event on (until ``release``), and
    ``cut`` closes the connection there instead, as a network failure would.
    Events are matched within one read; the server writes each event in one piece.
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._marker: bytes | None = None
        self._cut = False
        self._released = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        port = free_port()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", port), self._loop
        ).result(timeout=10)
        self.url = f"http://127.0.0.1:{port}"

    def hold(self, event: str) -> None:
        """Hold back the next responses from their ``event`` on, until ``release``."""
        self._released.clear()
        self._cut = False
        self._marker = f"event: {event}".encode()

    def cut(self, event: str) -> None:
        """Close the next stream's connection just before its ``event``."""
        self.hold(event)
        self._cut = True

    def release(self) -> None:
        self._marker = None
        self._released.set()

    async def _handle(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        server_in, server_out = await asyncio.open_connection(*self._target)

        async def requests() -> None:
            try:
                while data := await client_in.read(65536):
                    server_out.write(data)
                    await server_out.drain()
            finally:
                server_out.close()

        async def responses() -> None:
            try:
                while data := await server_in.read(65536):
                    marker = self._marker  # set from the test's thread
                    at = data.find(marker) if marker else -1
                    if at >= 0:
                        client_out.write(data[:at])
                        await client_out.drain()
                        if self._cut:
                            self.release()
                            return
                        while not self._released.is_set():
                            await asyncio.sleep(0.02)
                        data = data[at:]
                    client_out.write(data)
                    await client_out.drain()
            finally:
                client_out.close()

        try:
            await asyncio.gather(requests(), responses())
        except (ConnectionError, OSError):
            pass  # the browser or the server let go: nothing left to relay
        finally:
            server_out.close()
            client_out.close()

    def close(self) -> None:
        self.release()

        async def shutdown() -> None:
            # Browsers keep connections open: end their relays before the loop goes.
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


@pytest.fixture
def relay(page_server: str) -> Iterator[HoldingRelay]:
    relay = HoldingRelay(page_server)
    yield relay
    relay.close()


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

    def open_(
        viewport: dict[str, int] | None = None,
        base_url: str | None = None,
        **context_options: object,
    ) -> Session:
        """A fresh browser context on the page at ``base_url`` (the e2e server by default)."""
        context = browser.new_context(viewport=viewport or DESKTOP, **context_options)  # type: ignore[arg-type]
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        session = Session(page, base_url or page_server)

        def on_dialog(dialog: Dialog) -> None:
            session.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                session.errors.append(message.text)

        page.on("dialog", on_dialog)
        page.on("console", on_console)
        page.on("pageerror", lambda exc: session.errors.append(f"uncaught: {exc}"))
        page.goto(session.url + "/")
        return session

    yield open_
    for context in contexts:
        context.close()
