"""Configuration, read from ``CITELINE_*`` environment variables or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class IndexBackendSettings(BaseSettings):
    """The vector backend alone: what the index package reads (index/vector_store.py),
    so a bad value elsewhere in the configuration cannot stop an ingest's writer."""

    model_config = SettingsConfigDict(env_prefix="CITELINE_", env_file=".env", extra="ignore")

    # Where ingest writes passage vectors; readers follow the index's manifest.
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


class Settings(IndexBackendSettings):
    model_config = SettingsConfigDict(env_prefix="CITELINE_", env_file=".env", extra="ignore")

    index: Path = Field(Path("var/index"), description="Index directory written by ingest")
    host: str = "127.0.0.1"
    port: int = 8000
    top_k: int = Field(5, ge=1, le=50, description="Passages retrieved per question")
    max_question_chars: int = Field(2000, ge=10, description="Longest accepted question/query")
    embed_threads: int | None = Field(
        None,
        description="torch threads for the embedder; unset = 1 in the server "
        "(bench/load.py: one thread per request beats two fighting over 2 cores) "
        "and torch's default for ingest",
    )
    log_level: str = "warning"
    retrieval_mode: Literal["dense", "bm25", "hybrid"] = Field(
        "hybrid",
        description="Default search mode; requests may override it with 'mode' "
        "(dense = embeddings, bm25 = keywords, hybrid = both fused)",
    )
    fusion_dense_weight: float = Field(
        0.5, ge=0.0, le=1.0, description="Hybrid mode: weight of the dense side (0..1)"
    )
    fusion_candidates: int = Field(
        100, ge=1, le=1000, description="Hybrid mode: documents each side brings to fusion"
    )

    # An OpenAI-compatible LLM (llama.cpp server, vLLM, Ollama, OpenAI); optional.
    llm_base_url: str | None = Field(
        None, description="e.g. http://127.0.0.1:8080/v1; unset = extractive answers only"
    )
    llm_model: str = Field("default", description="Model name sent to the LLM server")
    llm_api_key: str | None = Field(None, description="Bearer token for the LLM server")
    llm_timeout: float = Field(60.0, gt=0, description="Seconds to wait for an LLM answer")
    llm_connect_timeout: float = Field(3.0, gt=0, description="Seconds to wait for a connection")
    llm_context_tokens: int = Field(4096, ge=512, description="The model's context window")
    llm_answer_tokens: int = Field(300, ge=16, description="Longest generated answer, in tokens")
    llm_temperature: float = Field(0.1, ge=0.0, le=2.0)
    prompts_dir: Path | None = Field(None, description="Folder of prompt templates")

    @property
    def server_embed_threads(self) -> int:
        return self.embed_threads or 1
