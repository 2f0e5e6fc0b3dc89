"""The prompt templates (the ``*.txt`` files beside this module), shipped in the wheel
as package data, and the small loader that finds them."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

TEMPLATES = ("answer_system.txt", "answer_user.txt", "source.txt", "condense.txt")


def read(name: str, folder: Path | None = None) -> str:
    """One template's text: from ``folder`` when given (CITELINE_PROMPTS_DIR), else the
    copy installed with the package."""
    source = folder / name if folder is not None else resources.files(__name__) / name
    try:
        return source.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise FileNotFoundError(f"prompt template {source} is missing: {exc}") from exc
