"""The sources file of ``citeline sync``: which folders, feeds, sitemaps and pages to keep
an index in line with, and how to fetch them.

    [fetch]                        # all optional
    delay = 1.0                    # seconds between two requests to one host
    timeout = 20.0                 # seconds per request
    max_bytes = 20971520           # larger bodies are refused
    max_redirects = 5
    user_agent = "Citeline/0.1 (...)"
    robots = true                  # honour robots.txt
    allow = ["intranet.example", "10.1.0.0/16"]   # non-public hosts that may be fetched

    [[source]]
    folder = "articles"            # relative to this file

    [[source]]
    feed = "https://example.org/feed.xml"
    keep_days = 30                 # an entry that left the feed goes once this old

    [[source]]
    sitemap = "https://example.org/sitemap.xml"

    [[source]]
    url = "https://example.org/a-page"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ingest.fetch import USER_AGENT, FetchPolicy
from ingest.urlsafety import URLPolicy
from ingest.web import WebSource

__all__ = ["SourcesError", "SyncPlan", "load_sources"]


class SourcesError(ValueError):
    """A sources file that cannot be used; the message names the problem."""


class _Fetch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delay: float = Field(1.0, ge=0)
    timeout: float = Field(20.0, gt=0)
    max_bytes: int = Field(20 * 1024 * 1024, gt=0)
    max_redirects: int = Field(5, ge=0, le=20)
    user_agent: str = USER_AGENT
    robots: bool = True
    allow: list[str] = []


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    folder: str | None = None
    feed: str | None = None
    sitemap: str | None = None
    url: str | None = None
    keep_days: float | None = Field(30.0, ge=0)
    max_entries: int = Field(1000, gt=0)

    @model_validator(mode="after")
    def _one_kind(self) -> _Source:
        given = [k for k in ("folder", "feed", "sitemap", "url") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("each [[source]] needs exactly one of folder, feed, sitemap, url")
        return self


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fetch: _Fetch = _Fetch()
    source: list[_Source] = []


@dataclass(frozen=True)
class SyncPlan:
    folders: list[Path]
    web: list[WebSource]
    fetch: FetchPolicy


def load_sources(path: Path, *, allow_private: bool = False) -> SyncPlan:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SourcesError(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(f"{path} is not valid TOML: {exc}") from None
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in exc.errors()
        )
        raise SourcesError(f"{path}: {problems}") from None
    if not parsed.source:
        raise SourcesError(f"{path} lists no [[source]]")
    folders: list[Path] = []
    web: list[WebSource] = []
    for s in parsed.source:
        if s.folder:
            folder = Path(s.folder)
            folders.append(folder if folder.is_absolute() else path.parent / folder)
        elif s.feed:
            web.append(WebSource(s.feed, "feed", s.keep_days, s.max_entries))
        elif s.sitemap:
            web.append(WebSource(s.sitemap, "sitemap", s.keep_days, s.max_entries))
        elif s.url:
            web.append(WebSource(s.url, "auto", s.keep_days, s.max_entries))
    f = parsed.fetch
    policy = FetchPolicy(
        timeout=f.timeout,
        max_bytes=f.max_bytes,
        max_redirects=f.max_redirects,
        per_host_delay=f.delay,
        user_agent=f.user_agent,
        respect_robots=f.robots,
        urls=URLPolicy.of(f.allow, allow_private=allow_private),
    )
    return SyncPlan(folders, web, policy)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """ "15m", "1h", "90s", "1h30m" in seconds."""
    import re

    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", text.strip().lower())
    if not parts or "".join(n + u for n, u in parts) != text.strip().lower():
        raise ValueError(f"{text!r} is not an interval such as 90s, 15m, 1h or 1h30m")
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError("the interval must be longer than 0")
    return seconds
