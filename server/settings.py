"""Configuration, read from ``CITELINE_*`` environment variables or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITELINE_", env_file=".env", extra="ignore")

    index: Path = Field(Path("var/index"), description="Index directory written by ingest")
    host: str = "127.0.0.1"
    port: int = 8000
    top_k: int = Field(5, ge=1, le=50, description="Passages retrieved per question")
    max_question_chars: int = Field(2000, ge=10, description="Longest accepted question/query")
    embed_threads: int | None = Field(None, description="torch threads for the embedder")
    log_level: str = "warning"
