"""Fixtures for the Slack bot: the Slack stand-in and the real Citeline app serving
``POST /slack/events`` on 127.0.0.1 over the seed index."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from answer.searcher import Searcher
from citeline.settings import Settings, SlackSettings
from index.embedder import Embedder
from tests.conftest import free_port
from tests.slack.standin import BOT_TOKEN, TEAM_ID, SlackStandIn

ALLOWED_CHANNEL = "CGENERAL"
OTHER_CHANNEL = "CRANDOM"


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 request signature, computed here from the secret (not with slack_sdk)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + digest.hexdigest()}


_ts_counter = iter(range(1, 10**9))


def new_ts() -> str:
    return f"{int(time.time())}.{next(_ts_counter):06d}"


@dataclass
class SlackClient:
    """Sends requests to /slack/events the way Slack does, signed with the test's secret."""

    url: str
    secret: str
    http: httpx.Client

    def post_raw(self, body: bytes, content_type: str, **sign_args: Any) -> httpx.Response:
        headers = {"Content-Type": content_type, **sign(self.secret, body, **sign_args)}
        return self.http.post(f"{self.url}/slack/events", content=body, headers=headers)

    def post_json(self, payload: dict[str, Any], **sign_args: Any) -> httpx.Response:
        return self.post_raw(json.dumps(payload).encode(), "application/json", **sign_args)

    def event(self, event: dict[str, Any], **sign_args: Any) -> httpx.Response:
        return self.post_json(event_callback(event), **sign_args)

    def command(self, fields: dict[str, str], **sign_args: Any) -> httpx.Response:
        body = urlencode(fields).encode()
        return self.post_raw(body, "application/x-www-form-urlencoded", **sign_args)


def event_callback(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "token": "unused-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": "A0CITELINE",
        "event": event,
        "type": "event_callback",
        "event_id": "Ev" + secrets.token_hex(5).upper(),
        "event_time": int(time.time()),
    }


@pytest.fixture(scope="module")
def standin() -> Iterator[SlackStandIn]:
    s = SlackStandIn().start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def signing_secret() -> str:
    return secrets.token_hex(16)


@pytest.fixture(scope="module")
def slack_settings(standin: SlackStandIn, signing_secret: str) -> SlackSettings:
    return SlackSettings(
        _env_file=None,
        bot_token=BOT_TOKEN,
        signing_secret=signing_secret,
        app_token=None,
        api_url=standin.api_url,
        allowed_channels=ALLOWED_CHANNEL,
    )


@contextmanager
def serve_app(app: FastAPI) -> Iterator[str]:
    """``app`` under uvicorn in a thread of this process on 127.0.0.1, once /readyz says
    ready (in-process, so a test can read the app's log records)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the Citeline app did not start")
            time.sleep(0.05)
        assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def citeline_url(
    seed_index: Path,
    embedder: Embedder,
    slack_settings: SlackSettings,
    standin: SlackStandIn,
    signing_secret: str,
) -> Iterator[str]:
    """The real app (create_app + install_slack) under uvicorn on 127.0.0.1."""
    from server.app import create_app
    from slackbot import install_slack

    qa = Searcher.open(seed_index, embedder=embedder)
    # Should create_app itself call install_slack (reading the environment), it
    # must see the same settings as the explicit call below.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
        env.setenv("SLACK_SIGNING_SECRET", signing_secret)
        env.setenv("SLACK_API_URL", standin.api_url)
        env.setenv("CITELINE_SLACK_ALLOWED_CHANNELS", ALLOWED_CHANNEL)
        env.delenv("SLACK_APP_TOKEN", raising=False)
        app = create_app(Settings(index=seed_index), searcher=qa)
        install_slack(app, settings=slack_settings)
    try:
        with serve_app(app) as url:
            yield url
    finally:
        qa.index.close()


@pytest.fixture(scope="module")
def slack(citeline_url: str, signing_secret: str) -> Iterator[SlackClient]:
    with httpx.Client(timeout=30) as http:
        yield SlackClient(citeline_url, signing_secret, http)
