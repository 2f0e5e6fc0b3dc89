"""Slack configuration, from the environment (or ``.env``).

The Slack variables keep Slack's own names (``SLACK_BOT_TOKEN`` ...) so the values
can be pasted from the app's settings page as they are; Citeline's own knobs keep
the ``CITELINE_`` prefix.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SLACK_API_URL = "https://slack.com/api/"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SlackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    bot_token: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("SLACK_BOT_TOKEN", "bot_token"),
        description="Bot User OAuth Token (xoxb-...)",
    )
    signing_secret: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "signing_secret"),
        description="Signing Secret; HTTP mode verifies every request with it",
    )
    app_token: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("SLACK_APP_TOKEN", "app_token"),
        description="App-Level Token (xapp-...) with connections:write, for Socket Mode",
    )
    api_url: str = Field(
        SLACK_API_URL,
        validation_alias=AliasChoices("SLACK_API_URL", "api_url"),
        description="Base URL of the Slack Web API (a local stand-in in tests)",
    )
    allowed_channels: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(),
        validation_alias=AliasChoices("CITELINE_SLACK_ALLOWED_CHANNELS", "allowed_channels"),
        description="Comma-separated channel IDs the bot answers in; empty = every channel "
        "it is invited to. Direct messages are always answered.",
    )
    workers: int = Field(
        2,
        ge=1,
        le=32,
        validation_alias=AliasChoices("CITELINE_SLACK_WORKERS", "workers"),
        description="Questions answered at once; the rest wait (answering is CPU-bound)",
    )

    @field_validator("allowed_channels", mode="before")
    @classmethod
    def _split_channels(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("api_url")
    @classmethod
    def _safe_api_url(cls, value: str) -> str:
        # The bot token travels with every call: plain http only to this machine.
        parts = urlsplit(value)
        if parts.scheme == "https" or (
            parts.scheme == "http" and _is_loopback(parts.hostname or "")
        ):
            return value if value.endswith("/") else value + "/"
        raise ValueError("SLACK_API_URL must be https:// (plain http only to localhost)")

    @property
    def http_mode(self) -> bool:
        return bool(self.bot_token and self.signing_secret)

    @property
    def socket_mode(self) -> bool:
        return bool(self.bot_token and self.app_token)

    def channel_allowed(self, channel: str | None, channel_type: str | None = None) -> bool:
        if channel_type == "im" or (channel or "").startswith("D"):
            return True
        return not self.allowed_channels or channel in self.allowed_channels

    def describe(self) -> str:
        """One line for startup logs: which mode is on, or what is missing."""
        if self.http_mode:
            return "Slack: HTTP mode on at POST /slack/events"
        socket = "; Socket Mode runs with `citeline slack`" if self.socket_mode else ""
        if self.bot_token:
            return f"Slack: HTTP mode off (SLACK_SIGNING_SECRET is not set){socket}"
        return "Slack: off (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to enable /slack/events)"
