"""Web sources to articles: a page, an RSS/Atom feed, or a sitemap.

A page's document id is its canonical URL (the ``<link rel=canonical>`` it names, when that
is an http(s) URL on the same host; else the URL it was fetched from). A feed entry that
carries its full text (``content:encoded``, Atom ``content``) is read from the feed; an
entry with only a summary has its link fetched. A sitemap index is followed one level down.

Each fetched URL is fetched conditionally (ETag / Last-Modified of the last fetch): an
unchanged page costs a 304 and comes back as "unchanged" with the document id it gave.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urldefrag, urlsplit

import feedparser
from lxml import etree

from index.models import Article, Failure
from index.store import FetchState
from ingest.fetch import FEED_TYPES, Fetcher, FetchError, Validators
from ingest.formats import FORMAT_OF_MEDIA_TYPE, FormatError, parse
from ingest.html import html_to_text

__all__ = ["WebItem", "WebRead", "WebReader", "WebSource"]

Kind = Literal["auto", "page", "feed", "sitemap"]
_SITEMAP = re.compile(rb"<(?:\w+:)?(urlset|sitemapindex)\b")
# A feed entry whose own content is shorter than this is a summary: its link is fetched.
FULL_TEXT_CHARS = 500


@dataclass(frozen=True)
class WebSource:
    url: str
    kind: Kind = "auto"
    # Removal rule: an entry that left its feed or sitemap is removed once its date (else
    # the time it was stored) is more than this many days old; None keeps it for ever.
    keep_days: float | None = 30.0
    max_entries: int = 1000

    @property
    def origin(self) -> str:
        """Stored with each document it gave, to apply the removal rule to its own."""
        return f"web:{self.url}"


@dataclass(frozen=True)
class WebItem:
    url: str  # the URL fetched (or the entry link, for full-text feed entries)
    doc_id: str
    article: Article | None  # None: the server answered 304, the stored copy stands
    validators: Validators | None = None


@dataclass
class WebRead:
    items: list[WebItem] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    # A feed or sitemap that was read whole: its entries are the full list (removal rule).
    listing: bool = False


class WebReader:
    def __init__(
        self,
        fetcher: Fetcher,
        states: Mapping[str, FetchState] | None = None,
        stored: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        self.fetcher = fetcher
        self.states = dict(states or {})
        self.stored = stored  # doc ids in the index: a 304 only counts if its doc is there
        # Stored documents whose page failed this time: a failure removes nothing.
        self.kept: set[str] = set()
        self._done: dict[str, WebItem | Failure] = {}

    def read(self, source: WebSource) -> WebRead:
        result = WebRead()
        # Feeds and sitemaps are small and always fetched whole: a page can change while its
        # feed does not, so every listed page is asked for (conditionally) on every run.
        listing = source.kind in ("feed", "sitemap")
        if not listing and source.url in self._done:  # a page listed earlier in this run
            done = self._done[source.url]
            (result.failures if isinstance(done, Failure) else result.items).append(done)  # type: ignore[arg-type]
            return result
        validators = None if listing else self._validators(source.url)
        try:
            fetched = self.fetcher.get(source.url, validators=validators)
        except FetchError as exc:
            if source.url in self.states:
                self.kept.add(self.states[source.url].doc_id)
            result.failures.append(Failure(exc.url, exc.reason))
            return result
        if fetched.not_modified:
            result.items.append(WebItem(source.url, self.states[source.url].doc_id, None))
            return result
        kind = (
            source.kind if source.kind != "auto" else _kind_of(fetched.content_type, fetched.body)
        )
        if kind == "page":
            item = self._page_item(
                source.url,
                fetched.final_url,
                fetched.content_type,
                fetched.body,
                fetched.validators,
            )
            self._done[source.url] = item
            if isinstance(item, Failure):
                if source.url in self.states:
                    self.kept.add(self.states[source.url].doc_id)
                result.failures.append(item)
            else:
                result.items.append(item)
            return result
        result.listing = True
        entries = (
            self._feed(source, fetched.body)
            if kind == "feed"
            else self._sitemap(source, fetched.body, depth=0)
        )
        for entry in entries:
            if isinstance(entry, Failure):
                result.failures.append(entry)
                result.listing = result.listing and not entry.reason.startswith("not a")
            else:
                result.items.append(entry)
        return result

    # -- pages ------------------------------------------------------------------

    def _validators(self, url: str) -> Validators | None:
        state = self.states.get(url)
        if state is None or not (state.etag or state.last_modified):
            return None
        # A 304 is only of use while the document it gave is still stored.
        if state.doc_id not in self.stored:
            return None
        return Validators(state.etag, state.last_modified)

    def fetch_page(self, url: str) -> WebItem | Failure:
        if url in self._done:
            return self._done[url]  # listed twice in this run: fetched once
        self._done[url] = item = self._fetch_page(url)
        return item

    def _fetch_page(self, url: str) -> WebItem | Failure:
        try:
            fetched = self.fetcher.get(url, validators=self._validators(url))
        except FetchError as exc:
            if url in self.states:
                self.kept.add(self.states[url].doc_id)
            return Failure(exc.url, exc.reason)
        if fetched.not_modified:
            return WebItem(url, self.states[url].doc_id, None)
        return self._page_item(
            url, fetched.final_url, fetched.content_type, fetched.body, fetched.validators
        )

    def _page_item(
        self, url: str, final_url: str, content_type: str, body: bytes, validators: Validators
    ) -> WebItem | Failure:
        fmt = FORMAT_OF_MEDIA_TYPE.get(content_type)
        if fmt is None:
            return Failure(final_url, f"not an article page (content type {content_type!r})")
        try:
            parsed = parse(body, fmt, url=final_url)
        except FormatError as exc:
            return Failure(final_url, str(exc))
        doc_id = _document_id(parsed.url, final_url)
        metadata = dict(parsed.metadata)
        article = Article(
            doc_id=doc_id,
            text=parsed.text,
            title=parsed.title,
            author=parsed.author,
            source=doc_id,
            url=doc_id,
            date=parsed.date,
            metadata=metadata,
        )
        return WebItem(url, doc_id, article, validators)

    # -- feeds ------------------------------------------------------------------

    def _feed(self, source: WebSource, body: bytes) -> Iterator[WebItem | Failure]:
        feed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
        if not feed.entries:
            reason = "not a feed: no entries found"
            if feed.bozo:
                reason = f"not a feed: {feed.get('bozo_exception', 'unreadable XML')}"
            yield Failure(source.url, reason)
            return
        publication = feed.feed.get("title")
        for entry in feed.entries[: source.max_entries]:
            link = _http_url(entry.get("link"))
            if link is None:
                yield Failure(source.url, f"feed entry {entry.get('title')!r} has no http(s) link")
                continue
            content = "".join(c.get("value", "") for c in entry.get("content", []))
            cleaned = html_to_text(content, url=link) if content else None
            if cleaned is not None and len(cleaned.text) >= FULL_TEXT_CHARS:
                doc_id = urldefrag(link)[0]
                metadata: dict[str, object] = {"format": "feed"}
                if publication:
                    metadata["publication"] = publication
                yield WebItem(
                    link,
                    doc_id,
                    Article(
                        doc_id=doc_id,
                        text=cleaned.text,
                        title=entry.get("title") or cleaned.title,
                        author=entry.get("author") or cleaned.author,
                        source=doc_id,
                        url=doc_id,
                        date=_entry_date(entry) or cleaned.date,
                        metadata=metadata,
                    ),
                )
            else:
                yield self.fetch_page(link)

    # -- sitemaps ---------------------------------------------------------------

    def _sitemap(
        self, source: WebSource, body: bytes, *, depth: int
    ) -> Iterator[WebItem | Failure]:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        try:
            root = etree.fromstring(body, parser=parser)
        except etree.XMLSyntaxError as exc:
            yield Failure(source.url, f"not a sitemap: {exc}")
            return
        locs = [
            (loc.text or "").strip()
            for loc in root.iter("{*}loc")
            if loc.getparent() is not None and loc.getparent().getparent() is root
        ]
        if etree.QName(root).localname == "sitemapindex":
            if depth >= 1:
                yield Failure(source.url, "sitemap index nested in a sitemap index; skipped")
                return
            for loc in locs[:50]:
                try:
                    fetched = self.fetcher.get(loc, accept=FEED_TYPES)
                except FetchError as exc:
                    yield Failure(exc.url, exc.reason)
                    continue
                yield from self._sitemap(source, fetched.body, depth=depth + 1)
            return
        for loc in locs[: source.max_entries]:
            url = _http_url(loc)
            if url is None:
                yield Failure(source.url, f"sitemap entry {loc!r} is not an http(s) URL")
            else:
                yield self.fetch_page(url)


def _kind_of(content_type: str, body: bytes) -> Kind:
    if content_type in FEED_TYPES or content_type == "application/feed+json":
        return "sitemap" if _SITEMAP.search(body[:4096]) else "feed"
    return "page"


def _http_url(value: object) -> str | None:
    if isinstance(value, str) and urlsplit(value.strip()).scheme in ("http", "https"):
        return value.strip()
    return None


def _document_id(canonical: str | None, fetched: str) -> str:
    """The canonical URL when it is on the host the page came from; else the URL fetched."""
    fetched = urldefrag(fetched)[0]
    if canonical:
        canonical = urldefrag(canonical)[0]
        if urlsplit(canonical).hostname == urlsplit(fetched).hostname:
            return canonical
    return fetched


def _entry_date(entry: Mapping[str, object]) -> str | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if parsed is None:
        return None
    stamp = calendar.timegm(parsed)  # type: ignore[arg-type]
    return time.strftime("%Y-%m-%d", time.gmtime(stamp))
