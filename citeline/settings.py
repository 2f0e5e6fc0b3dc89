"""Citeline's one settings object, from ``CITELINE_*`` (and Slack's ``SLACK_*``)
environment variables or a ``.env`` file.

Every entry point (``citeline serve|ask|search|slack|eval|ingest``, the app
factory) reads it once with :func:`load_settings` and passes the parts down;
``index/`` and ``ingest/`` never read the environment (import-linter checks that
they do not import this module).

The groups keep the flat variable names README documents (``CITELINE_TOP_K``,
``CITELINE_LLM_BASE_URL``, ``SLACK_BOT_TOKEN`` ...): each group reads its own
variables, so ``settings.llm.base_url`` is ``CITELINE_LLM_BASE_URL``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_FILE = ".env"


def _config(prefix: str = "CITELINE_") -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix, env_file=ENV_FILE, extra="ignore", populate_by_name=True
    )


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


# --- index / vector backend --------------------------------------------------------


class BackendSettings(BaseSettings):
    """Where ingest writes passage vectors; readers follow the index's manifest.
    ``index.vector_store.BackendConfig.from_settings`` turns it into what index/ takes."""

    model_config = _config()

    index_backend: Literal["faiss", "qdrant"] = Field(
        "faiss",
        description="Vector store ingest writes to: faiss (files in the index folder) or "
        "qdrant (a Qdrant collection per generation)",
    )
    qdrant_url: str | None = Field(
        None, description="Qdrant server or cluster URL, e.g. http://qdrant:6333"
    )
    qdrant_path: Path | None = Field(
        None,
        description="Folder for qdrant-client's in-process local mode (tests, single-process "
        "setups: one process at a time may open it)",
    )
    qdrant_collection: str = Field(
        "citeline", description="Collection name prefix; each generation gets its own"
    )
    qdrant_api_key: SecretStr | None = Field(None, description="API key for the Qdrant server")
    qdrant_replication_factor: int = Field(
        1,
        ge=1,
        description="Qdrant cluster: copies of every shard of a new collection (2 or more "
        "keeps the index searchable when a node is down)",
    )
    qdrant_shards: int | None = Field(
        None, ge=1, description="Qdrant cluster: shards per collection; unset = one per node"
    )


# --- retrieval ---------------------------------------------------------------------------


class RetrievalSettings(BaseSettings):
    model_config = _config()

    top_k: int = Field(5, ge=1, le=50, description="Passages retrieved per question")
    mode: Literal["dense", "bm25", "hybrid"] = Field(
        "hybrid",
        validation_alias=AliasChoices("CITELINE_RETRIEVAL_MODE", "mode"),
        description="Default search mode; requests may override it with 'mode' "
        "(dense = embeddings, bm25 = keywords, hybrid = both fused)",
    )
    fusion_dense_weight: float = Field(
        0.5, ge=0.0, le=1.0, description="Hybrid mode: weight of the dense side (0..1)"
    )
    fusion_candidates: int = Field(
        100, ge=1, le=1000, description="Hybrid mode: documents each side brings to fusion"
    )


# --- embedder runtime (issue 16) --------------------------------------------------------


class EmbedderSettings(BaseSettings):
    """How the embedding model runs; ``index.embedder.EmbedderConfig.from_settings``
    turns it into what index/ takes. Defaults measured by bench/embed_backends.py."""

    model_config = _config("CITELINE_EMBED_")

    backend: Literal["torch", "onnx", "openvino", "openvino-bf16"] | None = Field(
        None,
        description="Embedder runtime: torch, onnx (ONNX Runtime), openvino, or openvino-bf16 "
        "(OpenVINO computing in bfloat16), all on a local export of the same model; unset = "
        "openvino-bf16 (fastest batches, a question as fast as onnx, within the quality "
        "bounds), torch on cuda",
    )
    device: Literal["cpu", "cuda"] = Field(
        "cpu", description="Where the embedder runs; cuda needs a CUDA build of torch"
    )
    cache_dir: Path | None = Field(
        None, description="Folder for the exported model; unset = beside the model's files"
    )
    query_cache: int = Field(
        1024, ge=0, description="Question vectors the server remembers (0 = none)"
    )

    def backend_for(self, role: Literal["serve", "ingest"]) -> str:
        if self.backend is not None:
            return self.backend
        if self.device == "cuda":
            return "torch"  # batched torch on a GPU; the runtimes installed here are CPU builds
        # bench/embed_backends.py on a CPU with bf16 (AMD Zen 4): OpenVINO in bf16 ingests
        # at 2.3-3.2x torch's passages/s; served, it embeds a question about as fast as
        # onnx (0.33x torch's time vs 0.30x) and the candidate sentences of /v1/ask twice
        # as fast (ask p50 0.50x torch's vs onnx 1.27x), within the quality bounds. Its
        # vectors agree with every fp32 backend's (cosine >= 0.9999 vs 0.999 needed), so
        # indexes move between backends freely. Without bf16 instructions it runs in f32.
        return "openvino-bf16"


# --- LLM -----------------------------------------------------------------------------------


class LLMSettings(BaseSettings):
    """An OpenAI-compatible LLM (llama.cpp server, vLLM, Ollama, OpenAI); optional."""

    model_config = _config("CITELINE_LLM_")

    base_url: str | None = Field(
        None, description="e.g. http://127.0.0.1:8080/v1; unset = extractive answers only"
    )
    model: str = Field("default", description="Model name sent to the LLM server")
    api_key: str | None = Field(None, description="Bearer token for the LLM server")
    timeout: float = Field(60.0, gt=0, description="Seconds to wait for an LLM answer")
    connect_timeout: float = Field(3.0, gt=0, description="Seconds to wait for a connection")
    context_tokens: int = Field(4096, ge=512, description="The model's context window")
    answer_tokens: int = Field(300, ge=16, description="Longest generated answer, in tokens")
    temperature: float = Field(0.1, ge=0.0, le=2.0)
    prompts_dir: Path | None = Field(
        None,
        validation_alias=AliasChoices("CITELINE_PROMPTS_DIR", "prompts_dir"),
        description="Folder of prompt templates replacing the shipped ones (prompts/)",
    )

    @property
    def on(self) -> bool:
        return bool(self.base_url)


# --- protection (keys, limits, logs, reload) ---------------------------------------------

# Keys travel in a header: printable ASCII without spaces or commas (the separator).
_KEY_RE = re.compile(r"^[\x21-\x2b\x2d-\x7e]+$")
MIN_KEY_CHARS = 16
KEY_HINT = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


class ProtectionSettings(BaseSettings):
    model_config = _config()

    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (),
        description="Comma-separated API keys; when set, every route but /healthz, /readyz, "
        "the chat page and Slack's signed /slack/events needs 'Authorization: Bearer <key>'",
    )
    admin_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (),
        description="Comma-separated admin keys: everything readers may do, plus writes and "
        "/v1/admin/*, on every collection (CITELINE_API_KEYS are readers of every collection)",
    )
    keys_file: Path | None = Field(
        None,
        description="TOML keys file with roles and collections, written by `citeline keys`; "
        "re-read within keys_reload_seconds of a change",
    )
    keys_reload_seconds: float = Field(
        1.0, gt=0, description="How often a changed keys file is noticed, at most"
    )
    audit_log: str | None = Field(
        None,
        description="Audit log: one JSON line per request (time, key name, route, "
        "collections, status) appended to this file, or '-' for stdout; unset = off",
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

    @field_validator("api_keys", "admin_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("api_keys", "admin_keys")
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
        return bool(self.api_keys or self.admin_keys or self.keys_file)

    def describe(self) -> str:
        """One line for startup output: what protects this server."""
        n = len(self.api_keys) + len(self.admin_keys)
        keys = (
            f"API keys: on ({n} key{'s' if n != 1 else ''}"
            + (f" + keys file {self.keys_file}" if self.keys_file else "")
            + ")"
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


# --- Slack -----------------------------------------------------------------------------------
# The Slack variables keep Slack's own names (SLACK_BOT_TOKEN ...) so the values can
# be pasted from the app's settings page as they are; Citeline's own knobs keep the
# CITELINE_ prefix.

SLACK_API_URL = "https://slack.com/api/"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SlackSettings(BaseSettings):
    model_config = _config("")

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
    channel_collections: dict[str, list[str]] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("CITELINE_SLACK_CHANNEL_COLLECTIONS", "channel_collections"),
        description="JSON map of channel ID to the collections its questions are answered "
        'from, e.g. {"C0123": ["energy"], "C0456": ["legal", "public"]}. When set, a channel '
        "not in it is not answered",
    )
    dm_collections: list[str] | None = Field(
        None,
        validation_alias=AliasChoices("CITELINE_SLACK_DM_COLLECTIONS", "dm_collections"),
        description="JSON list of the collections direct messages are answered from, e.g. "
        '["public"]; unset = every collection when no channel map is set, none when one is',
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

    def collections_for(
        self, channel: str | None, channel_type: str | None = None
    ) -> list[str] | None:
        """The collections a channel's (or a DM's) questions are answered from: None =
        every collection (no map configured); [] = none (not mapped)."""
        if channel_type == "im" or (channel or "").startswith("D"):
            if self.dm_collections is not None:
                return list(self.dm_collections)
            return None if not self.channel_collections else []
        if not self.channel_collections:
            return None
        return list(self.channel_collections.get(channel or "", []))

    def channel_allowed(self, channel: str | None, channel_type: str | None = None) -> bool:
        # A channel (or DM) mapped to no collection is not answered at all.
        if self.collections_for(channel, channel_type) == []:
            return False
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


# --- writes over HTTP (server/protection/admin.py, server/documents.py) ---------------------


class WriteSettings(BaseSettings):
    """Writes over HTTP and what the server may fetch. Who may write is a key's role
    (``CITELINE_ADMIN_KEYS`` or an admin in the keys file: ProtectionSettings)."""

    model_config = _config()

    allow_anonymous_writes: bool = Field(
        False,
        description="With no API or admin keys configured, let anyone who can reach the "
        "port add and delete articles (off: the write routes answer 403)",
    )
    max_upload_bytes: int = Field(
        20 * 1024 * 1024,
        ge=1024,
        description="Largest file upload to POST /v1/documents, in bytes (other requests "
        "keep CITELINE_MAX_BODY_BYTES)",
    )
    fetch_allow: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Comma-separated hosts, addresses or CIDR networks that URLs given to "
        "POST /v1/documents may reach although they are not public (e.g. an intranet); "
        "loopback, private, link-local and metadata addresses are refused otherwise",
    )

    @field_validator("fetch_allow", mode="before")
    @classmethod
    def _split_values(cls, value: Any) -> Any:
        return _split(value)


# --- the whole --------------------------------------------------------------------------------

GROUPS: dict[str, type[BaseSettings]] = {
    "backend": BackendSettings,
    "retrieval": RetrievalSettings,
    "llm": LLMSettings,
    "embedder": EmbedderSettings,
    "protection": ProtectionSettings,
    "slack": SlackSettings,
    "writes": WriteSettings,
}


class Settings(BaseSettings):
    """Top-level knobs plus one group per concern: ``settings.backend``,
    ``settings.retrieval``, ``settings.llm``, ``settings.protection``, ``settings.slack``,
    ``settings.writes``."""

    model_config = _config()

    index: Path = Field(Path("var/index"), description="Index directory written by ingest")
    host: str = "127.0.0.1"
    port: int = 8000
    max_question_chars: int = Field(2000, ge=10, description="Longest accepted question/query")
    feedback_db: Path | None = Field(
        None,
        description="SQLite file for the chat page's thumbs up/down; "
        "unset = feedback.sqlite3 beside the index folder",
    )
    embed_threads: int | None = Field(
        None,
        description="threads for the embedder; unset = in the server 2 for "
        "openvino-bf16 and 1 otherwise (bench/load.py on 2 cores: one thread per "
        "request beats two for torch, two win for OpenVINO's own pool), and the "
        "runtime's default for ingest",
    )
    log_level: str = "warning"
    tiktoken_bpe: Path | None = Field(
        None,
        description="A copy of tiktoken's cl100k_base.tiktoken to count tokens with instead "
        "of the one bundled in index/data/ (checked against tiktoken's published sha256)",
    )

    backend: BackendSettings
    retrieval: RetrievalSettings
    llm: LLMSettings
    embedder: EmbedderSettings
    protection: ProtectionSettings
    slack: SlackSettings
    writes: WriteSettings

    def __init__(self, **values: Any) -> None:
        # Each group reads its own variables (with the same ``_env_file`` if one is given).
        groups = {k: v for k, v in values.items() if k == "_env_file"}
        for name, group in GROUPS.items():
            if name not in values:
                values[name] = group(**groups)
        super().__init__(**values)

    @property
    def server_embed_threads(self) -> int:
        if self.embed_threads:
            return self.embed_threads
        # bench/load.py compare on 2 cores: torch serves most with one thread per
        # request, but OpenVINO in bf16 with two (ask 24.3 req/s vs 17.7 with one;
        # search 139 vs 114): its own pool keeps both cores busy without the fight.
        if self.embedder.backend_for("serve") == "openvino-bf16":
            return min(2, os.cpu_count() or 1)
        return 1


class SettingsError(ValueError):
    """A bad environment value, named by its variable."""


def env_name(model: type[BaseSettings], field: str) -> str:
    """The environment variable a group's field is read from."""
    info = model.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0].upper()
    return f"{model.model_config.get('env_prefix', '')}{field}".upper()


def explain(exc: ValidationError) -> str:
    """``CITELINE_X: reason; ...`` for a ValidationError of one of these classes."""
    classes: list[type[BaseSettings]] = [Settings, *GROUPS.values()]
    model = next((c for c in classes if c.__name__ == exc.title), Settings)
    problems = []
    for e in exc.errors():
        loc = [str(p) for p in e["loc"]]
        name = env_name(model, loc[0]) if loc else model.__name__
        problems.append(f"{name}: {e['msg']}")
    return "; ".join(problems)


def load_settings(**overrides: Any) -> Settings:
    """The settings from the environment and ``.env``; a bad value raises SettingsError
    naming the variable (entry points print it instead of a traceback)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(f"invalid configuration: {explain(exc)}") from None
