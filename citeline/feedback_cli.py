"""``citeline feedback export``: the chat page's votes as a QA set for ``citeline eval qa``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from citeline.console import err, fail
from citeline.console import settings as read_settings
from server.feedback import FeedbackStore, default_path, qa_lines

feedback_app = typer.Typer(
    help="Thumbs up/down given to answers in the chat page.", no_args_is_help=True
)


@feedback_app.command("export")
def export(
    out: Annotated[Path, typer.Argument(help="jsonl file to write, or - for stdout")],
    db: Annotated[
        Path | None,
        typer.Option(
            "--db", help="Feedback file [default: $CITELINE_FEEDBACK_DB, else beside the index]"
        ),
    ] = None,
    index: Annotated[
        Path | None,
        typer.Option("--index", "-i", help="Index directory [default: $CITELINE_INDEX]"),
    ] = None,
) -> None:
    """Write the up-voted answers as QA lines: {"question", "answers": [approved quotes],
    "gold_doc_id"}. Down votes are counted but not written (they say an answer was
    wrong, not what the right one is)."""
    settings = read_settings(index)
    path = db or settings.feedback_db or default_path(settings.index)
    if not path.is_file():
        raise fail(
            f"no feedback file at {path}: the server stores votes there "
            "(CITELINE_FEEDBACK_DB, or feedback.sqlite3 beside the index)"
        )
    feedback = FeedbackStore(path).all()
    lines = qa_lines(feedback)
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    if str(out) == "-":
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    ups = sum(1 for f in feedback if f.vote == "up")
    downs = len(feedback) - ups
    err.print(
        f"{len(lines)} questions written from {ups} up votes"
        + (f" to {out}" if str(out) != "-" else "")
        + f"; {downs} down votes not exported."
    )
