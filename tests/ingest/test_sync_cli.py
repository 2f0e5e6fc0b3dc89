"""`citeline ingest URL` and `citeline sync` as real processes against a real HTTP server on
127.0.0.1, plus the sources file's rules."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.store import Index
from ingest.sources import SourcesError, load_sources, parse_interval
from tests.ingest.test_web_ingest import TOPICS, article_page, rss
from tests.ingest.webserver import Site, serve


@pytest.fixture
def site() -> Iterator[Site]:
    with serve() as s:
        s.page("/robots.txt", "User-agent: *\nAllow: /\n", "text/plain")
        for key in "ab":
            s.page(f"/story/{key}", article_page(s, key))
        s.page(
            "/feed.xml",
            rss(s, [("a", "/story/a", None), ("b", "/story/b", None)]),
            "application/rss+xml",
        )
        yield s


def citeline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "citeline.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_ingest_url_refuses_local_addresses_unless_allowed(tmp_path: Path, site: Site) -> None:
    refused = citeline(
        "ingest", site.url("/story/a"), "--index", str(tmp_path / "i"), "--no-progress"
    )
    assert refused.returncode == 1
    assert "non-public address" in refused.stderr
    assert site.log == []
    run = citeline(
        "ingest",
        site.url("/story/a"),
        "--index",
        str(tmp_path / "i"),
        "--allow-private",
        "--delay",
        "0",
        "--json",
        "--no-progress",
    )
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["added"] == 1
    with Index.open(tmp_path / "i") as index:
        doc = index.document(site.url("/story/a"))  # the canonical URL is the id
        assert doc is not None and doc.title == TOPICS["a"][0]


def test_sync_folder_and_feed_then_conditional_second_run(tmp_path: Path, site: Site) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "note.txt").write_text(
        "Harbour Notes\n\nThe ferry timetable changes on Monday. Boats leave every hour.\n",
        encoding="utf-8",
    )
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[fetch]\ndelay = 0\nallow = ["127.0.0.1"]\n\n'
        f'[[source]]\nfolder = "articles"\n\n'
        f'[[source]]\nfeed = "{site.url("/feed.xml")}"\nkeep_days = 30\n',
        encoding="utf-8",
    )
    args = ("sync", "--sources", str(sources), "--index", str(tmp_path / "i"), "--json")
    first = citeline(*args)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["added"] == 3
    second = citeline(*args)
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)
    assert (summary["added"], summary["updated"], summary["chunks_embedded"]) == (0, 0, 0)
    assert summary["not_modified"] == 2
    assert summary["requests"] == 4  # robots.txt, the feed, two conditional page requests


def test_sync_reports_a_bad_sources_file(tmp_path: Path) -> None:
    bad = tmp_path / "sources.toml"
    bad.write_text('[[source]]\nfeed = "https://x.example/f"\nurl = "https://x.example/"\n')
    run = citeline("sync", "--sources", str(bad), "--index", str(tmp_path / "i"))
    assert run.returncode == 2
    assert "exactly one of folder, feed, sitemap, url" in run.stderr


def test_sources_file_rules(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        '[fetch]\ndelay = 2.5\nallow = ["intranet.example"]\n'
        '[[source]]\nfolder = "docs"\n[[source]]\nsitemap = "https://e.example/sitemap.xml"\n'
        "keep_days = 7\n"
    )
    plan = load_sources(path)
    assert plan.folders == [tmp_path / "docs"]
    assert [(w.kind, w.keep_days) for w in plan.web] == [("sitemap", 7.0)]
    assert plan.fetch.per_host_delay == 2.5
    assert plan.fetch.urls.allow == ("intranet.example",)
    path.write_text("[[source]]\nrss = 'x'\n")
    with pytest.raises(SourcesError, match="rss"):
        load_sources(path)
    path.write_text("not = [toml")
    with pytest.raises(SourcesError, match="not valid TOML"):
        load_sources(path)


def test_intervals() -> None:
    assert parse_interval("15m") == 900
    assert parse_interval("1h30m") == 5400
    assert parse_interval("90s") == 90
    for bad in ("", "15", "m", "15 minutes", "0s"):
        with pytest.raises(ValueError):
            parse_interval(bad)


def test_sync_every_runs_again_on_schedule(tmp_path: Path, site: Site) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[fetch]\ndelay = 0\nallow = ["127.0.0.1"]\n'
        f'[[source]]\nfeed = "{site.url("/feed.xml")}"\n',
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "citeline.cli",
            "sync",
            "--sources",
            str(sources),
            "--index",
            str(tmp_path / "i"),
            "--every",
            "1s",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while len(site.requests_to("/feed.xml")) < 3 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.2)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert len(site.requests_to("/feed.xml")) >= 3
    # Later runs ask for the pages conditionally and embed nothing.
    later = [r for r in site.requests_to("/story/a")[1:]]
    assert later and all("if-none-match" in r.headers for r in later)
    assert '"added": 2' in out
