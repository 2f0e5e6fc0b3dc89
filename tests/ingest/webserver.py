"""A real HTTP server on 127.0.0.1 (a thread) that serves pages, feeds and sitemaps for the
fetching tests, answers conditional requests like a real server, and logs every request."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Handler = Callable[["SiteRequest"], "Reply"]


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the body is sent (timeouts)
    validators: bool = True  # send an ETag and Last-Modified, answer 304 when they match


@dataclass(frozen=True)
class SiteRequest:
    path: str
    headers: dict[str, str]
    at: float


class Site:
    def __init__(self) -> None:
        self.routes: dict[str, Reply | Handler] = {}
        self.log: list[SiteRequest] = []
        self.base = ""

    def page(
        self,
        path: str,
        body: str | bytes,
        content_type: str = "text/html; charset=utf-8",
        **kw: object,
    ) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Reply(body=data, content_type=content_type, **kw)  # type: ignore[arg-type]

    def requests_to(self, path: str) -> list[SiteRequest]:
        return [r for r in self.log if r.path == path]

    def url(self, path: str) -> str:
        return self.base + path


LAST_MODIFIED = "Wed, 01 Jan 2025 00:00:00 GMT"


class _Handler(BaseHTTPRequestHandler):
    site: Site

    def log_message(self, *args: object) -> None:  # keep test output clean
        return

    def do_GET(self) -> None:
        request = SiteRequest(
            self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic()
        )
        self.site.log.append(request)
        route = self.site.routes.get(self.path)
        if route is None:
            reply = Reply(404, b"not found", "text/plain")
        elif callable(route):
            reply = route(request)
        else:
            reply = route
        headers = dict(reply.headers)
        if reply.status == 200 and reply.validators:
            etag = '"' + hashlib.sha256(reply.body).hexdigest()[:16] + '"'
            headers.setdefault("ETag", etag)
            headers.setdefault("Last-Modified", LAST_MODIFIED)
            if request.headers.get("if-none-match") == headers["ETag"]:
                self.send_response(304)
                self.send_header("ETag", headers["ETag"])
                self.end_headers()
                return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if reply.delay:
            time.sleep(reply.delay)
        with suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(reply.body)


@contextmanager
def serve() -> Iterator[Site]:
    site = Site()
    handler = type("BoundHandler", (_Handler,), {"site": site})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
