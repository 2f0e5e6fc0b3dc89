"""Ingest from where articles live: HTML extraction, PDF reading, and a sync of unchanged
feed entries, each against a baseline measured in the same run.

    .venv/bin/python bench/ingest_sources.py [--entries 200] [--pdf-pages 60] [--repeat 20]

Rows:
- HTML: trafilatura (ingest.html) vs the hand-written cleaner it replaced (loaded from git
  history, commit BASELINE; it needs beautifulsoup4, a dev dependency) on the saved pages
  in tests/ingest/pages: pages/s and the mean token-shingle F1 against the expected bodies;
- PDF: pages/s of pypdf text extraction (ingest.documents) on a PDF made here with fpdf2;
- sync: a feed of N summary-only entries on a real HTTP server on 127.0.0.1; the first
  sync fetches and embeds everything, the second (nothing changed) sends conditional
  requests: seconds, HTTP requests, 304 answers, passages re-embedded (must be 0).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from citeline.evaluation.extraction import shingle_score  # noqa: E402
from ingest.documents import pdf_to_text  # noqa: E402
from ingest.html import html_to_text  # noqa: E402

PAGES = ROOT / "tests" / "ingest" / "pages"
# The last commit with the hand-written HTML cleaner.
BASELINE = "367fc11"


def old_cleaner():  # type: ignore[no-untyped-def]
    source = subprocess.run(
        ["git", "show", f"{BASELINE}:ingest/clean.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "old_clean.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("old_clean", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_clean"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.html_to_text


def bench_html(repeat: int) -> list[tuple[str, float, float]]:
    pages = [
        (
            p.read_text(encoding="utf-8"),
            (PAGES / f"{p.stem}.expected.txt").read_text(encoding="utf-8"),
        )
        for p in sorted(PAGES.glob("*.html"))
    ]
    rows = []
    for name, extract in (
        ("trafilatura (ingest.html)", html_to_text),
        (f"old hand-written cleaner ({BASELINE})", old_cleaner()),
    ):
        f1 = statistics.mean(shingle_score(extract(h).text, g).f1 for h, g in pages)
        started = time.perf_counter()
        for _ in range(repeat):
            for html, _gold in pages:
                extract(html)
        seconds = time.perf_counter() - started
        rows.append((name, repeat * len(pages) / seconds, f1))
    return rows


def bench_pdf(pages: int) -> tuple[int, float]:
    from tests.ingest.test_documents import make_pdf

    text = "The ferry company ordered two electric ferries from a yard in Bergen. " * 30
    data = make_pdf([f"Page {i}. {text}" for i in range(pages)])
    started = time.perf_counter()
    doc = pdf_to_text(data)
    seconds = time.perf_counter() - started
    assert len(doc.page_starts) == pages
    return pages, pages / seconds


def bench_sync(entries: int) -> list[tuple[str, float, int, int, int]]:
    from index.embedder import Embedder
    from ingest.fetch import Fetcher, FetchPolicy
    from ingest.pipeline import Ingestor
    from ingest.urlsafety import URLPolicy
    from ingest.web import WebSource
    from tests.ingest.webserver import serve

    embedder = Embedder()
    rows = []
    with serve() as site, tempfile.TemporaryDirectory() as tmp:
        site.page("/robots.txt", "User-agent: *\nAllow: /\n", "text/plain")
        items = []
        for n in range(entries):
            body = "".join(
                f"<p>Story {n}, paragraph {p}: the council met on day {n} to discuss the "
                f"harbour budget, and item {n * 7 + p} on the agenda passed after a debate.</p>"
                for p in range(5)
            )
            site.page(
                f"/story/{n}",
                f"<html><head><title>Story {n}</title></head><body>"
                f"<article><h1>Story {n}</h1>{body}</article></body></html>",
            )
            items.append(
                f"<item><title>Story {n}</title><link>{site.url(f'/story/{n}')}</link>"
                f"<description>Summary {n}</description></item>"
            )
        site.page(
            "/feed.xml",
            '<?xml version="1.0"?><rss version="2.0"><channel><title>B'
            f"</title>{''.join(items)}</channel></rss>",
            "application/rss+xml",
        )
        policy = FetchPolicy(per_host_delay=0.0, urls=URLPolicy.of(["127.0.0.1"]))
        ingestor = Ingestor(embedder, Path(tmp) / "index")
        for label in ("first sync (fetch + embed all)", "second sync (unchanged)"):
            with Fetcher(policy) as fetcher:
                summary = ingestor.run([], web=[WebSource(site.url("/feed.xml"))], fetcher=fetcher)
            assert not summary.failed, summary.failed[:3]
            rows.append(
                (
                    label,
                    summary.seconds,
                    summary.requests,
                    summary.not_modified,
                    summary.chunks_embedded,
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200)
    parser.add_argument("--pdf-pages", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    html = bench_html(args.repeat)
    print("| HTML extractor | pages/s | mean F1 (saved pages) |")
    print("|---|---|---|")
    for name, rate, f1 in html:
        print(f"| {name} | {rate:.1f} | {f1:.3f} |")
    print(f"\nspeed ratio trafilatura / old: {html[0][1] / html[1][1]:.2f}x\n")

    pages, rate = bench_pdf(args.pdf_pages)
    print("| PDF | pages | pages/s |")
    print("|---|---|---|")
    print(f"| pypdf (ingest.documents) | {pages} | {rate:.1f} |\n")

    print(
        f"| sync of a {args.entries}-entry feed | seconds | HTTP requests | 304 | "
        "passages embedded |"
    )
    print("|---|---|---|---|---|")
    for label, seconds, requests, not_modified, embedded in bench_sync(args.entries):
        print(f"| {label} | {seconds:.2f} | {requests} | {not_modified} | {embedded} |")


if __name__ == "__main__":
    main()
