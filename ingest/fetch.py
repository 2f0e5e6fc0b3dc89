"""Polite, bounded HTTP fetching for web sources: pages, feeds, sitemaps, files.

Every request: a clear User-Agent, a timeout, a size cap (the body is streamed and cut off
past it), a content-type check, redirects followed by hand (counted, and each hop checked
by the URL policy), a minimum delay between requests to one host, and robots.txt honoured.
A request may carry the ETag / Last-Modified of the last fetch; a 304 answer then costs
no body and no re-embedding.

Connections are pinned to the addresses the URL policy checked: the request goes to the
checked IP with the original Host header and TLS server name, so a DNS answer that changes
between the check and the connection (DNS rebinding) cannot reach a private address.
"""

from __future__ import annotations

import threading
import time
import urllib.robotparser
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from ingest.urlsafety import UnsafeURL, URLPolicy, check_url

__all__ = [
    "FEED_TYPES",
    "FetchError",
    "FetchPolicy",
    "Fetched",
    "Fetcher",
    "Validators",
]

USER_AGENT = "Citeline/0.1 (self-hosted article indexer; honours robots.txt)"

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/xml",
        "text/xml",
    }
)
DOCUMENT_TYPES = frozenset(
    {
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "text/plain",
        "text/markdown",
    }
)
ANY_SUPPORTED = (
    HTML_TYPES | FEED_TYPES | DOCUMENT_TYPES | {"application/x-gzip", "application/gzip"}
)


class FetchError(Exception):
    """A URL that could not be fetched; ``reason`` says why in words a user can act on."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class Validators:
    """What the server said about the last copy, sent back as a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        out = {}
        if self.etag:
            out["If-None-Match"] = self.etag
        if self.last_modified:
            out["If-Modified-Since"] = self.last_modified
        return out


@dataclass(frozen=True)
class Fetched:
    url: str  # as asked for
    final_url: str  # after redirects
    status: int  # 200, or 304 when the validators still hold
    content_type: str
    body: bytes
    validators: Validators

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class FetchPolicy:
    timeout: float = 20.0
    max_bytes: int = 20 * 1024 * 1024
    max_redirects: int = 5
    per_host_delay: float = 1.0  # seconds between two requests to one host
    user_agent: str = USER_AGENT
    respect_robots: bool = True
    urls: URLPolicy = field(default_factory=URLPolicy)


class Fetcher:
    """One fetcher per run: it remembers each host's robots.txt and last request time."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy or FetchPolicy()
        self._client = httpx.Client(
            timeout=self.policy.timeout,
            follow_redirects=False,
            headers={"User-Agent": self.policy.user_agent},
            trust_env=False,  # a proxy from the environment would bypass the address pinning
        )
        self._robots: dict[str, urllib.robotparser.RobotFileParser] = {}
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep
        self.requests = 0  # HTTP requests sent, robots.txt included

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public ---------------------------------------------------------------

    def get(
        self,
        url: str,
        *,
        validators: Validators | None = None,
        accept: Iterable[str] = ANY_SUPPORTED,
    ) -> Fetched:
        """Fetch ``url``; raises :class:`FetchError` for anything but a usable answer."""
        allowed = frozenset(accept)
        current = url
        for _hop in range(self.policy.max_redirects + 1):
            if self.policy.respect_robots and not self._robots_allow(current):
                raise FetchError(current, "robots.txt disallows fetching this URL")
            response = self._request(current, (validators or Validators()).headers())
            try:
                if response.status_code in (301, 302, 303, 307, 308):
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(current, f"HTTP {response.status_code} without Location")
                    current = urljoin(current, location)
                    continue
                if response.status_code == 304 and validators is not None:
                    return Fetched(url, current, 304, "", b"", validators)
                if response.status_code != 200:
                    raise FetchError(current, f"HTTP {response.status_code}")
                content_type = _media_type(response.headers.get("content-type", ""))
                if content_type not in allowed:
                    raise FetchError(
                        current,
                        f"unsupported content type {content_type or 'none'!r} "
                        f"(expected one of {', '.join(sorted(allowed))})",
                    )
                body = self._read_capped(current, response)
                return Fetched(
                    url,
                    current,
                    200,
                    content_type,
                    body,
                    Validators(response.headers.get("etag"), response.headers.get("last-modified")),
                )
            finally:
                response.close()
        raise FetchError(url, f"more than {self.policy.max_redirects} redirects")

    # -- internals ------------------------------------------------------------

    def _request(self, url: str, headers: dict[str, str]) -> httpx.Response:
        try:
            addresses = check_url(url, self.policy.urls)
        except UnsafeURL as exc:
            raise FetchError(url, str(exc)) from None
        parts = urlsplit(url)
        host = parts.hostname or ""
        self._wait_for(host)
        pinned = _pin(parts, addresses[0])
        request_headers = {"Host": parts.netloc.rsplit("@", 1)[-1], **headers}
        request = self._client.build_request(
            "GET",
            pinned,
            headers=request_headers,
            extensions={"sni_hostname": host} if parts.scheme == "https" else {},
        )
        self.requests += 1
        try:
            return self._client.send(request, stream=True)
        except httpx.TimeoutException:
            raise FetchError(url, f"timed out after {self.policy.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise FetchError(url, f"request failed: {exc}") from None

    def _wait_for(self, host: str) -> None:
        with self._lock:
            last = self._last.get(host)
            now = self._clock()
            wait = 0.0 if last is None else last + self.policy.per_host_delay - now
            self._last[host] = now + max(wait, 0.0)
        if wait > 0:
            self._sleep(wait)

    def _read_capped(self, url: str, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.policy.max_bytes:
            raise FetchError(
                url, f"body of {declared} bytes exceeds the {self.policy.max_bytes} byte cap"
            )
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.policy.max_bytes:
                    raise FetchError(url, f"body exceeds the {self.policy.max_bytes} byte cap")
                chunks.append(chunk)
        except httpx.TimeoutException:
            raise FetchError(url, f"timed out after {self.policy.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise FetchError(url, f"reading the body failed: {exc}") from None
        return b"".join(chunks)

    def _robots_allow(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        parser = self._robots.get(origin)
        if parser is None:
            parser = urllib.robotparser.RobotFileParser()
            robots_url = origin + "/robots.txt"
            try:
                response = self._request(robots_url, {})
                try:
                    status = response.status_code
                    body = self._read_capped(robots_url, response) if status == 200 else b""
                finally:
                    response.close()
            except FetchError:
                status, body = 404, b""  # no robots.txt reachable: no rules
            if status in (401, 403) or status >= 500:
                # Forbidden robots.txt, or a failing server: fetch nothing there this run.
                parser.parse(["User-agent: *", "Disallow: /"])
            else:
                parser.parse(body.decode("utf-8", "replace").splitlines())
            self._robots[origin] = parser
        return parser.can_fetch(self.policy.user_agent, url)


def _media_type(header: str) -> str:
    return header.split(";", 1)[0].strip().lower()


def _pin(parts: object, address: str) -> str:
    """The URL with its host replaced by the checked address."""
    from urllib.parse import SplitResult

    assert isinstance(parts, SplitResult)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
