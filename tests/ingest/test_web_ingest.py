"""Feeds, sitemaps and URLs ingested end to end from a real HTTP server on 127.0.0.1, into a
real index with the real embedding model; incremental re-fetching with conditional GET."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from index.embedder import Embedder
from index.store import Index
from ingest.fetch import Fetcher, FetchPolicy
from ingest.pipeline import Ingestor
from ingest.urlsafety import URLPolicy
from ingest.web import WebSource
from tests.ingest.webserver import Reply, Site, serve

TOPICS = {
    "a": (
        "Harbour reopens after repairs",
        "The harbour reopened on Monday after three weeks "
        "of repairs to the sea wall, and the fishing fleet sailed at dawn.",
    ),
    "b": (
        "Library extends its hours",
        "The central library will stay open until nine in the "
        "evening after four thousand residents signed a petition.",
    ),
    "c": (
        "Glacier station goes solar",
        "Solar panels on the research hut at 3,100 metres "
        "replaced the diesel generator that needed fuel by helicopter.",
    ),
    "d": (
        "Council approves cycle path",
        "The council voted seven to two to build a riverside "
        "cycle path linking the station with the business park.",
    ),
    "e": (
        "Port strike ends",
        "Dock workers returned after their union accepted a pay offer "
        "of 6.5 percent, ending an eleven-day stoppage.",
    ),
}


def article_page(site: Site, key: str, extra: str = "") -> str:
    title, lead = TOPICS[key]
    body = "".join(
        f"<p>{lead} Paragraph {i} adds detail on the story so the page reads like an "
        f"article, with enough text for the extractor to see a main body. {extra}</p>"
        for i in range(4)
    )
    return (
        f"<html><head><title>{title}</title>"
        f'<link rel="canonical" href="{site.url("/story/" + key)}">'
        f'<meta property="og:site_name" content="Local Wire"></head><body>'
        f"<nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{body}</article>"
        f"<footer>Local Wire</footer></body></html>"
    )


def rss(site: Site, entries: list[tuple[str, str, str | None]]) -> str:
    items = []
    for key, path, content in entries:
        title, lead = TOPICS[key]
        encoded = f"<content:encoded><![CDATA[{content}]]></content:encoded>" if content else ""
        items.append(
            f"<item><title>{title}</title><link>{site.url(path)}</link>"
            f"<description>{lead[:60]}</description>"
            f"<pubDate>Tue, 06 May 2025 17:05:00 GMT</pubDate>{encoded}</item>"
        )
    return (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>Local Wire</title><link>{site.base}</link>{''.join(items)}</channel></rss>"
    )


def sitemap(site: Site, paths: list[str]) -> str:
    urls = "".join(f"<url><loc>{site.url(p)}</loc></url>" for p in paths)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    )


def full_text() -> str:
    return "".join(
        f"<p>{TOPICS['e'][1]} Full text part {i} of the feed entry.</p>" for i in range(6)
    )


@pytest.fixture
def site() -> Iterator[Site]:
    with serve() as s:
        s.page("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")
        for key in "abcde":
            s.page(f"/story/{key}", article_page(s, key))
        full = "".join(
            f"<p>{TOPICS['e'][1]} Full text part {i} of the feed entry.</p>" for i in range(6)
        )
        s.page(
            "/feed.xml",
            rss(s, [("a", "/story/a", None), ("b", "/story/b", None), ("e", "/feed-only/e", full)]),
            "application/rss+xml",
        )
        s.page("/sitemap.xml", sitemap(s, ["/story/c", "/story/d"]), "application/xml")
        yield s


def fetcher() -> Fetcher:
    return Fetcher(FetchPolicy(per_host_delay=0.0, timeout=3.0, urls=URLPolicy.of(["127.0.0.1"])))


def sources(site: Site, keep_days: float | None = 30.0) -> list[WebSource]:
    return [
        WebSource(site.url("/feed.xml"), keep_days=keep_days),
        WebSource(site.url("/sitemap.xml"), keep_days=keep_days),
        WebSource(site.url("/story/c")),  # also in the sitemap: fetched once, one document
    ]


def run(embedder: Embedder, index_dir: Path, site: Site, **kw: object):  # type: ignore[no-untyped-def]
    with fetcher() as f:
        return Ingestor(embedder, index_dir).run(
            [],
            web=kw.pop("web", sources(site)),  # type: ignore[arg-type]
            fetcher=f,
            **kw,
        )  # type: ignore[arg-type]


def test_feed_sitemap_and_url_end_to_end(tmp_path: Path, site: Site, embedder: Embedder) -> None:
    index_dir = tmp_path / "index"
    first = run(embedder, index_dir, site)
    assert first.failed == []
    assert (first.added, first.committed) == (5, True)
    with Index.open(index_dir) as index:
        ids = {d for d in index.chunk_ids_of([site.url(f"/story/{k}") for k in "abcd"])}
        assert all(index.document(site.url(f"/story/{k}")) is not None for k in "abcd")
        # The feed entry with full text was read from the feed, not fetched.
        feed_doc = index.document(site.url("/feed-only/e"))
        assert feed_doc is not None and "Full text part 5" in feed_doc.text
        story = index.document(site.url("/story/a"))
        assert story is not None
        assert story.title == TOPICS["a"][0]
        assert story.text.startswith(TOPICS["a"][1])
        assert "Home" not in story.text and "Local Wire" not in story.text
        hits = index.search(embedder.encode_query("cycle path by the river"), 1)
        assert hits[0].passage.doc_id == site.url("/story/d")
        cycle = index.document(site.url("/story/d"))
        assert cycle is not None
        p = hits[0].passage
        assert cycle.text[p.start : p.end] == p.text  # exact offsets into the stored text
    assert len(ids) == 4
    assert site.requests_to("/feed-only/e") == []

    # Second sync, nothing changed: conditional requests, 304s, nothing re-embedded.
    before = len(site.log)
    second = run(embedder, index_dir, site)
    assert second.failed == []
    assert (second.added, second.updated, second.removed) == (0, 0, 0)
    assert second.chunks_embedded == 0
    assert second.committed is False
    assert second.unchanged == 5
    # robots.txt, the feed and the sitemap (always fetched whole), and the four linked pages,
    # each asked for conditionally: all four answered 304.
    assert (second.not_modified, second.requests) == (4, 7)
    pages = [r for r in site.log[before:] if r.path.startswith("/story/")]
    assert len(pages) == 4 and all("if-none-match" in r.headers for r in pages)

    # One page changes: only it is re-embedded.
    site.page("/story/b", article_page(site, "b", extra="Update: Sunday openings added."))
    third = run(embedder, index_dir, site)
    assert (third.added, third.updated, third.removed) == (0, 1, 0)
    with Index.open(index_dir) as index:
        chunks_b = len(index.chunk_ids_of([site.url("/story/b")])[site.url("/story/b")])
        assert "Sunday openings" in index.document(site.url("/story/b")).text  # type: ignore[union-attr]
    assert third.chunks_embedded == chunks_b


def test_fetch_faults_are_reported_and_nothing_else_is_lost(
    tmp_path: Path, site: Site, embedder: Embedder
) -> None:
    index_dir = tmp_path / "index"
    assert run(embedder, index_dir, site).added == 5
    site.routes["/story/a"] = Reply(500, b"down", "text/plain")
    site.routes["/story/c"] = Reply(body=b"x" * 10, content_type="image/png")
    site.page(
        "/feed.xml",
        rss(
            site,
            [
                ("a", "/story/a", None),
                ("b", "/story/b", None),
                ("b", "/missing", None),
                ("d", "/private/d", None),
            ],
        ),
        "application/rss+xml",
    )
    # Entry "e" left the feed; its source keeps such entries for ten years.
    result = run(embedder, index_dir, site, web=sources(site, keep_days=3650))
    reasons = {f.source.rsplit("/", 1)[-1]: f.reason for f in result.failed}
    assert reasons["a"] == "HTTP 500"
    assert reasons["missing"] == "HTTP 404"
    assert reasons["d"] == "robots.txt disallows fetching this URL"
    assert "unsupported content type 'image/png'" in reasons["c"]
    # The failing pages stay as stored; the entry that left the feed is younger than
    # keep_days, so it stays too; nothing was re-embedded.
    assert result.removed == 0 and result.chunks_embedded == 0
    with Index.open(index_dir) as index:
        assert index.document_count == 5


def test_entries_that_left_the_feed_go_after_keep_days(
    tmp_path: Path, site: Site, embedder: Embedder
) -> None:
    index_dir = tmp_path / "index"
    assert run(embedder, index_dir, site, web=[WebSource(site.url("/feed.xml"))]).added == 3
    site.page("/feed.xml", rss(site, [("a", "/story/a", None)]), "application/rss+xml")
    kept = run(embedder, index_dir, site, web=[WebSource(site.url("/feed.xml"), keep_days=3650)])
    assert kept.removed == 0
    gone = run(embedder, index_dir, site, web=[WebSource(site.url("/feed.xml"), keep_days=0)])
    assert gone.removed == 2
    with Index.open(index_dir) as index:
        assert index.document_count == 1
        assert index.document(site.url("/story/a")) is not None
