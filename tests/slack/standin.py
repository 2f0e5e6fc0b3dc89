"""A local stand-in for Slack's Web API (and its response_url hooks and Socket Mode socket).

Slack cannot be reached from these machines, so the bot's slack_sdk clients are
pointed (``SLACK_API_URL``) at this small HTTP server on 127.0.0.1. It answers the
few methods the bot calls the way Slack does (``auth.test``,
``conversations.replies``, ``chat.postMessage``, ``apps.connections.open``),
checks the bearer token, records every call, and can answer 429 like a
rate-limited workspace. It stands in for Slack; it is not Citeline code under test.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BOT_TOKEN = "xoxb-citeline-test-token"
APP_TOKEN = "xapp-citeline-test-token"
TEAM_ID = "T0CITELINE"
BOT_USER_ID = "UCITEBOT"
BOT_ID = "BCITEBOT"


@dataclass
class Call:
    method: str  # "chat.postMessage", ... or "hook" for a response_url
    params: dict[str, Any]
    token: str | None
    path: str
    status: int = 200


@dataclass
class SlackStandIn:
    threads: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    socket_url: str | None = None
    rate_limit_posts: int = 0  # how many of the next chat.postMessage calls get 429
    calls: list[Call] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _ts: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def hook_url(self, name: str) -> str:
        return f"{self.url}/hooks/{name}"

    # --- what the tests read ------------------------------------------------

    def record(self, call: Call) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    def find(self, match: Callable[[Call], bool]) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if match(c)]

    def wait_for(self, match: Callable[[Call], bool], timeout: float = 60) -> Call:
        """The first recorded call that matches, waiting up to ``timeout`` seconds for it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for c in self.calls:
                    if match(c):
                        return c
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.method, c.params.get("thread_ts")) for c in self.calls]
                    raise AssertionError(f"no matching Slack call within {timeout}s; saw {seen}")
                self._cond.wait(left)

    def posts_in_thread(self, channel: str, thread_ts: str) -> list[Call]:
        return self.find(
            lambda c: (
                c.method == "chat.postMessage"
                and c.status == 200
                and c.params.get("channel") == channel
                and c.params.get("thread_ts") == thread_ts
            )
        )

    # --- answering like Slack -------------------------------------------------

    def answer(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any]]:
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != expected:
            return 200, {"ok": False, "error": "invalid_auth"}
        if method == "auth.test":
            return 200, {
                "ok": True,
                "url": "https://citeline-test.slack.com/",
                "team": "Citeline Test",
                "user": "citeline",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if method == "conversations.replies":
            messages = self.threads.get((params.get("channel", ""), params.get("ts", "")))
            if messages is None:
                return 200, {"ok": False, "error": "thread_not_found"}
            return 200, {"ok": True, "messages": messages, "has_more": False}
        if method == "chat.postMessage":
            with self._cond:
                if self.rate_limit_posts > 0:
                    self.rate_limit_posts -= 1
                    return 429, {"ok": False, "error": "ratelimited"}
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            message = {k: params.get(k) for k in ("text", "blocks", "thread_ts")}
            message.update(type="message", user=BOT_USER_ID, bot_id=BOT_ID, ts=ts)
            return 200, {"ok": True, "channel": params.get("channel"), "ts": ts, "message": message}
        if method == "apps.connections.open":
            return 200, {"ok": True, "url": self.socket_url}
        return 200, {"ok": False, "error": "unknown_method"}

    def start(self) -> SlackStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _params(self) -> dict[str, Any]:
                split = urlsplit(self.path)
                params: dict[str, Any] = dict(parse_qsl(split.query))
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if raw:
                    if "json" in (self.headers.get("Content-Type") or ""):
                        params.update(json.loads(raw))
                    else:
                        params.update(parse_qsl(raw.decode()))
                return params

            def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                path = urlsplit(self.path).path
                params = self._params()
                auth = self.headers.get("Authorization") or ""
                token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
                if path.startswith("/hooks/"):
                    standin.record(Call("hook", params, token, path))
                    self._reply(200, "ok")
                    return
                if not path.startswith("/api/"):
                    self._reply(404, {"ok": False, "error": "not_found"})
                    return
                method = path.removeprefix("/api/")
                status, body = standin.answer(method, params, token)
                standin.record(Call(method, params, token, path, status))
                self._reply(status, body, {"Retry-After": "1"} if status == 429 else None)

            do_GET = _handle
            do_POST = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
