"""Settings of the protection layer, from ``CITELINE_*`` variables (or ``.env``).

A class of its own so this layer installs with one call and the server's
``Settings`` stays about answering.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Keys travel in a header: printable ASCII without spaces or commas (the separator).
_KEY_RE = re.compile(r"^[\x21-\x2b\x2d-\x7e]+$")
MIN_KEY_CHARS = 16
KEY_HINT = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class ProtectionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITELINE_", env_file=".env", extra="ignore")

    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (),
        description="Comma-separated API keys; when set, every route but /healthz, /readyz, "
        "the chat page and Slack's signed /slack/events needs 'Authorization: Bearer <key>'",
    )
    rate_limit: float = Field(
        600,
        ge=0,
        description="Requests per minute per API key (or per client address when keys are "
        "off); 0 turns rate limiting off",
    )
    rate_limit_burst: int = Field(
        60, ge=1, description="Requests a client may send at once before the rate applies"
    )
    max_body_bytes: int = Field(
        256 * 1024, ge=1024, description="Largest accepted request body, in bytes"
    )
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Comma-separated origins allowed to call the API from a browser "
        "(e.g. https://intranet.example.com); empty = no cross-origin access",
    )
    log_json: bool = Field(False, description="Write logs as one JSON object per line")
    threadpool: int = Field(
        4,
        ge=0,
        le=1000,
        description="Threads that run synchronous routes (search, ask) at once; the rest "
        "queue in order. Answering is CPU-bound: more threads than cores only add "
        "contention (see bench/load.py). 0 keeps anyio's default of 40",
    )
    reload_interval: float = Field(
        2.0,
        ge=0,
        description="Seconds between checks of the index's CURRENT file for a new "
        "generation to load; 0 turns the watcher off (POST /v1/admin/reload still works)",
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("api_keys")
    @classmethod
    def _strong_keys(cls, keys: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        for n, key in enumerate(keys, start=1):
            raw = key.get_secret_value()
            # The message names the key's position, never the key itself.
            if len(raw) < MIN_KEY_CHARS or not _KEY_RE.match(raw):
                raise ValueError(
                    f"API key #{n} in CITELINE_API_KEYS must be at least {MIN_KEY_CHARS} "
                    f"printable characters without spaces or commas; make one with {KEY_HINT}"
                )
        return keys

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("cors_origins")
    @classmethod
    def _exact_origins(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        for origin in origins:
            # "*" would let any web page a user visits query the user's server.
            if origin == "*" or not re.match(r"^https?://[^/\s]+$", origin):
                raise ValueError(
                    f"CITELINE_CORS_ORIGINS entry {origin!r} must be an exact origin like "
                    "https://app.example.com (scheme and host, no path, no '*')"
                )
        return origins

    @property
    def keys_on(self) -> bool:
        return bool(self.api_keys)

    def describe(self) -> str:
        """One line for startup output: what protects this server."""
        keys = (
            f"API keys: on ({len(self.api_keys)} key{'s' if len(self.api_keys) != 1 else ''})"
            if self.keys_on
            else "API keys: off (anyone who can reach the port can query; set CITELINE_API_KEYS)"
        )
        rate = (
            f"rate limit {self.rate_limit:g}/min, burst {self.rate_limit_burst}"
            if self.rate_limit
            else "rate limit off"
        )
        cors = f"CORS: {', '.join(self.cors_origins)}" if self.cors_origins else "CORS: closed"
        return f"{keys}; {rate}; {cors}"
