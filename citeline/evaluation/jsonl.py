"""Reading the evaluation sets' JSON Lines files: one object per line, blank lines
skipped, a bad line reported as ``path:line: reason``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path


def records(
    path: Path, error: type[Exception] = ValueError
) -> Iterator[tuple[int, dict[str, object]]]:
    """(line number, object) for every non-blank line; ``error`` is raised for a line
    that is not a JSON object."""
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise error(f"{path}:{n}: invalid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise error(f"{path}:{n}: expected a JSON object")
            yield n, record
