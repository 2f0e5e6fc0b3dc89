"""Settings, the install switch and the app manifest (no network, no model)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI
from pydantic import ValidationError

from citeline.settings import SLACK_API_URL
from slackbot import SlackSettings, install_slack
from slackbot.http import EVENTS_PATH

ROOT = Path(__file__).resolve().parents[2]


def settings(**values: object) -> SlackSettings:
    # every field given: nothing comes from the environment of the test run
    base: dict[str, object] = {
        "bot_token": None,
        "signing_secret": None,
        "app_token": None,
        "api_url": SLACK_API_URL,
        "allowed_channels": "",
    }
    return SlackSettings(_env_file=None, **{**base, **values})  # type: ignore[arg-type]


def slack_routes(app: FastAPI) -> list[str]:
    return [getattr(r, "path", "") for r in app.routes if "slack" in getattr(r, "path", "")]


def test_without_tokens_install_adds_no_route_and_says_slack_is_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    with caplog.at_level(logging.INFO, logger="citeline.slack"):
        assert install_slack(app, settings=settings()) is None
        assert install_slack(app, settings=settings(bot_token="xoxb-1")) is None
    assert slack_routes(app) == []
    assert "Slack: off" in caplog.text
    assert "SLACK_SIGNING_SECRET is not set" in caplog.text


def test_with_tokens_install_mounts_the_events_route_once(caplog: pytest.LogCaptureFixture) -> None:
    app = FastAPI()
    configured = settings(
        bot_token="xoxb-1", signing_secret="s3cret", api_url="http://127.0.0.1:9/api"
    )
    with caplog.at_level(logging.INFO, logger="citeline.slack"):
        first = install_slack(app, lambda: None, settings=configured)  # type: ignore[arg-type,return-value]
        again = install_slack(app, lambda: None, settings=configured)  # type: ignore[arg-type,return-value]
    assert first is not None and again is first
    assert slack_routes(app) == [EVENTS_PATH]
    assert "HTTP mode on at POST /slack/events" in caplog.text
    assert "s3cret" not in caplog.text and "xoxb-1" not in repr(configured)


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-env")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "sig")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-env")
    monkeypatch.setenv("CITELINE_SLACK_ALLOWED_CHANNELS", " C1, C2 ,,")
    s = SlackSettings(_env_file=None)
    assert s.http_mode and s.socket_mode
    assert s.bot_token is not None and s.bot_token.get_secret_value() == "xoxb-env"
    assert s.allowed_channels == {"C1", "C2"}
    assert s.api_url == "https://slack.com/api/"
    assert s.channel_allowed("C1") and not s.channel_allowed("C3")
    assert s.channel_allowed("D9", "im") and s.channel_allowed("D9")  # DMs are always answered
    assert settings().channel_allowed("C3")  # no allow-list: every channel


def test_the_token_is_never_sent_over_plain_http_to_another_host() -> None:
    for url in ("http://slack.example.com/api/", "ftp://127.0.0.1/", "file:///etc/passwd"):
        with pytest.raises(ValidationError):
            settings(api_url=url)
    assert settings(api_url="http://127.0.0.1:8080/api").api_url == "http://127.0.0.1:8080/api/"
    assert settings(api_url="http://[::1]:8080/api/").api_url == "http://[::1]:8080/api/"


def test_the_manifest_asks_for_what_the_bot_uses() -> None:
    manifest = yaml.safe_load((ROOT / "slackbot" / "manifest.yaml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands", "im:history"} <= scopes
    assert {"channels:history", "groups:history"} <= scopes  # thread history for follow-ups
    events = manifest["settings"]["event_subscriptions"]
    assert set(events["bot_events"]) == {"app_mention", "message.im"}
    assert events["request_url"].endswith(EVENTS_PATH)
    [ask] = manifest["features"]["slash_commands"]
    assert ask["command"] == "/ask" and ask["url"].endswith(EVENTS_PATH)
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
