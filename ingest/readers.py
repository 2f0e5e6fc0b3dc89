"""Find article files and read them into Articles, reporting every skipped input as a Failure.

Nothing here raises for bad input: a broken file, line or link becomes a Failure whose reason
tells the user what to fix, and the rest of the input is still read.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from index.models import Article, Failure
from ingest.clean import clean_text
from ingest.formats import FORMAT_OF_SUFFIX, FormatError, decode_text, parse
from ingest.html import html_to_text

__all__ = ["DEFAULT_MAX_BYTES", "SUPPORTED_SUFFIXES", "ReadResult", "discover", "read_file"]

SUPPORTED_SUFFIXES = frozenset({*FORMAT_OF_SUFFIX, ".jsonl"})
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
_SNIFF_BYTES = 8192
_JSONL_FIELDS = frozenset({"id", "_id", "text", "title", "url", "author", "date", "metadata"})
_LOOKS_LIKE_HTML = re.compile(
    r"<(?:p|div|br|span|a|html|body|article|section|h[1-6]|li|ul|ol|table|blockquote)\b[^>]*>",
    re.IGNORECASE,
)


@dataclass
class ReadResult:
    articles: list[Article] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


def _supported_list() -> str:
    return ", ".join(sorted(SUPPORTED_SUFFIXES))


def discover(paths: Sequence[Path]) -> tuple[list[tuple[Path, Path]], list[Failure]]:
    """Expand files and directories into (file, root) pairs; the root anchors the doc id."""
    found: list[tuple[Path, Path]] = []
    failures: list[Failure] = []
    seen: dict[Path, int] = {}  # resolved file -> its position in ``found``

    def add(file: Path, root: Path) -> None:
        key = file.resolve()
        if key not in seen:
            seen[key] = len(found)
            found.append((file, root))
        elif found[seen[key]][0].is_symlink() and not file.is_symlink():
            # Read a linked file once, under its real name, so its doc id does not hinge on
            # whether the link sorts first.
            found[seen[key]] = (file, root)

    for path in paths:
        path = Path(path)
        if path.is_dir():
            files, dir_failures = _walk(path)
            failures.extend(dir_failures)
            if not files and not dir_failures:
                failures.append(
                    Failure(str(path), f"no supported files found (supported: {_supported_list()})")
                )
            for file in files:
                add(file, path)
        elif not path.exists():
            failures.append(Failure(str(path), "no such file or directory"))
        elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
            failures.append(
                Failure(
                    str(path),
                    f"unsupported file type '{path.suffix or path.name}' "
                    f"(supported: {_supported_list()})",
                )
            )
        elif not path.is_file():
            failures.append(Failure(str(path), "not a regular file; skipped"))
        else:
            add(path, path.parent)
    return found, failures


def _walk(root: Path) -> tuple[list[Path], list[Failure]]:
    """Supported, non-hidden regular files below ``root``, sorted by relative path."""
    real_root = root.resolve()
    files: list[Path] = []
    failures: list[Failure] = []

    def unreadable(exc: OSError) -> None:
        failures.append(Failure(str(exc.filename), f"cannot read directory: {exc.strerror}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=False):
        current = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in dirnames:
            # os.walk does not descend into linked directories; only an escape needs reporting.
            if (current / name).is_symlink() and not _inside(current / name, real_root):
                failures.append(_outside(current / name, root))
        for name in sorted(filenames):
            file = current / name
            if name.startswith(".") or file.suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            if file.is_symlink() and not _inside(file, real_root):
                failures.append(_outside(file, root))
            elif not file.is_file():
                failures.append(Failure(str(file), "not a regular file; skipped"))
            else:
                files.append(file)
    files.sort(key=lambda f: f.relative_to(root).as_posix())
    return files, failures


def _inside(link: Path, real_root: Path) -> bool:
    return link.resolve().is_relative_to(real_root)


def _outside(link: Path, root: Path) -> Failure:
    return Failure(str(link), f"symlink points outside {root}; skipped")


def read_file(path: Path, root: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ReadResult:
    """Read one file into articles (several for .jsonl); problems come back as failures."""
    rel = _relpath(path, root)
    suffix = path.suffix.lower()
    result = ReadResult()

    def fail(reason: str) -> ReadResult:
        result.failures.append(Failure(rel, reason))
        return result

    if suffix not in SUPPORTED_SUFFIXES:
        return fail(f"unsupported file type '{suffix}' (supported: {_supported_list()})")
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return fail("not a regular file; skipped")
        if suffix == ".jsonl":
            # A JSONL corpus may be large: the size limit applies to each record instead.
            return _read_jsonl(path, rel, max_bytes)
        if info.st_size > max_bytes:
            return fail(f"file is larger than {_size(max_bytes)} ({_size(info.st_size)}); skipped")
        data = path.read_bytes()
    except OSError as exc:
        return fail(f"cannot read file: {exc.strerror or exc}")

    try:
        parsed = parse(data, FORMAT_OF_SUFFIX[suffix])
    except FormatError as exc:
        return fail(str(exc))
    article = Article(
        doc_id=rel,
        text=parsed.text,
        title=parsed.title,
        author=parsed.author,
        source=parsed.url or rel,
        url=parsed.url,
        date=parsed.date,
        metadata={"path": rel, **parsed.metadata},
    )
    result.articles.append(article)
    return result


def _relpath(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n} bytes"


@dataclass(frozen=True)
class _Problem:
    reason: str


def _sniff(head: bytes) -> _Problem | None:
    """Why the input is not UTF-8 text at all, judged from its first bytes."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _Problem("UTF-16 text; re-save it as UTF-8")
    if b"\x00" in head[:_SNIFF_BYTES]:
        return _Problem("binary file (not text); skipped")
    return None


# --------------------------------------------------------------------------- JSONL


def _read_jsonl(path: Path, rel: str, max_bytes: int) -> ReadResult:
    result = ReadResult()
    first_seen: dict[str, int] = {}
    records = 0
    offset = 0
    with path.open("rb") as handle:
        if problem := _sniff(handle.read(_SNIFF_BYTES)):
            result.failures.append(Failure(rel, problem.reason))
            return result
        handle.seek(0)
        # Streamed line by line: a JSONL corpus may be far larger than one article file.
        for lineno, raw in enumerate(handle, start=1):
            line_offset, offset = offset, offset + len(raw)
            if not raw.strip():
                continue
            records += 1
            where = f"{rel}:{lineno}"
            if len(raw) > max_bytes:
                outcome: Article | _Problem = _Problem(
                    f"record is larger than {_size(max_bytes)}; skipped"
                )
            else:
                try:
                    outcome = _jsonl_article(decode_text(raw, line_offset), rel)
                except FormatError as exc:
                    outcome = _Problem(str(exc))
            if isinstance(outcome, _Problem):
                result.failures.append(Failure(where, outcome.reason))
            elif outcome.doc_id in first_seen:
                reason = (
                    f"duplicate id '{outcome.doc_id}' (first seen on line "
                    f"{first_seen[outcome.doc_id]}); skipped"
                )
                result.failures.append(Failure(where, reason))
            else:
                first_seen[outcome.doc_id] = lineno
                result.articles.append(outcome)
    if records == 0:
        result.failures.append(Failure(rel, "empty: no text after cleaning"))
    return result


def _jsonl_article(line: str, rel: str) -> Article | _Problem:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return _Problem(f"invalid JSON: {exc.msg} (column {exc.colno})")
    if not isinstance(record, dict):
        return _Problem(f"expected a JSON object, got {type(record).__name__}")

    id_key = "id" if record.get("id") not in (None, "") else "_id"
    raw_id = record.get(id_key)
    if raw_id is None or raw_id == "":
        return _Problem("missing 'id' or '_id'")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
        return _Problem(f"'{id_key}' must be a string or an integer")
    doc_id = str(raw_id)

    body = record.get("text")
    if not isinstance(body, str) or not body.strip():
        return _Problem("missing or empty 'text'")

    title = _opt_str(record.get("title"))
    if _LOOKS_LIKE_HTML.search(body):
        cleaned = html_to_text(body)
        cleaned = replace(cleaned, title=title or cleaned.title)
    else:
        cleaned = clean_text(body, known_title=title)
    if not cleaned.text:
        return _Problem("empty: no text after cleaning")

    metadata: dict[str, Any] = {}
    nested = record.get("metadata")
    if isinstance(nested, dict):
        metadata.update(nested)
    elif nested is not None:
        metadata["metadata"] = nested
    metadata.update({k: v for k, v in record.items() if k not in _JSONL_FIELDS})
    if id_key == "id" and "_id" in record:
        metadata["_id"] = record["_id"]
    metadata.setdefault("path", rel)
    metadata.setdefault("format", "jsonl")
    if cleaned.source:
        metadata.setdefault("publication", cleaned.source)

    url = _opt_str(record.get("url")) or cleaned.url
    return Article(
        doc_id=doc_id,
        text=cleaned.text,
        title=cleaned.title,
        author=_opt_str(record.get("author")) or cleaned.author,
        source=url or f"{rel}#{doc_id}",
        url=url,
        date=_opt_str(record.get("date")) or cleaned.date,
        metadata=metadata,
    )


def _opt_str(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
