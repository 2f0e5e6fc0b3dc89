"""What every ``citeline`` command shares: its two consoles, how it fails, how it logs,
and how it reads the settings (once, at the start of the command)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer
from rich.console import Console

from citeline.settings import Settings, SettingsError, load_settings

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

JSON_LOG_FORMAT = (
    '{"time":"%(asctime)s","level":"%(levelname)s","logger":"%(name)s","msg":"%(message)s"}'
)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr; ``raise fail(...)`` ends the command with ``code``."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def setup_logging(level: str) -> None:
    """One JSON object per line on stderr, for the long-running commands."""
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format=JSON_LOG_FORMAT)


def settings(index: Path | None = None) -> Settings:
    """The settings, with ``--index`` over CITELINE_INDEX; a bad environment value ends the
    command naming the variable and the reason, not with a traceback."""
    from index.tokens import use_bpe_file

    try:
        loaded = load_settings()
    except SettingsError as exc:
        raise fail(str(exc)) from None
    try:
        use_bpe_file(loaded.tiktoken_bpe)
    except (OSError, ValueError) as exc:
        raise fail(f"CITELINE_TIKTOKEN_BPE: {exc}") from None
    if index is not None:
        loaded.index = index
    return loaded
