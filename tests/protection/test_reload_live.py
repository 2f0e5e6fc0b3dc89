"""`citeline ingest` into the index a real `citeline serve` is serving, under queries.

Two client threads query /v1/search and /v1/ask without pause while a real
ingest subprocess writes a new generation; the server's watcher loads it beside
the old one and swaps. Every query must succeed, and the new article must be found.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.protection import articles
from tests.protection.helpers import AUTH, TEST_KEY, bbc_subset, citeline, copy_index, serve

pytestmark = pytest.mark.slow
NEW_BBC_ARTICLES = 10


@dataclass
class Outcome:
    at: float
    endpoint: str
    status: int | str


def _query_until(url: str, stop: threading.Event, out: list[Outcome], n: int) -> None:
    calls = [
        ("/v1/search", {"query": "Gazprom SOCAR strategic partnership", "top_k": 5}),
        ("/v1/ask", {"question": "What did Gazprom and SOCAR sign?"}),
        ("/v1/search", {"query": articles.GLASSWORKS_QUERY, "top_k": 3}),
    ]
    deadline = time.monotonic() + 240  # bounded even if the main thread dies
    with httpx.Client(base_url=url, headers=AUTH, timeout=60) as client:
        i = n
        while not stop.is_set() and time.monotonic() < deadline:
            path, body = calls[i % len(calls)]
            i += 1
            try:
                status: int | str = client.post(path, json=body).status_code
            except httpx.HTTPError as exc:
                status = repr(exc)
            out.append(Outcome(time.monotonic(), path, status))


def test_live_reindex_with_zero_failed_queries(tmp_path: Path, seed_index: Path) -> None:
    index = copy_index(seed_index, tmp_path / "index")
    new = tmp_path / "new"
    articles.write(new, articles.GLASSWORKS_ID, articles.GLASSWORKS)
    bbc_subset(new / "bbc.jsonl", NEW_BBC_ARTICLES)
    env = {
        "CITELINE_API_KEYS": TEST_KEY,
        "CITELINE_RELOAD_INTERVAL": "0.5",
        "CITELINE_RATE_LIMIT": "0",  # two tireless clients from one address
    }
    outcomes: list[Outcome] = []
    with serve(index, tmp_path / "server.log", env) as url:
        before = httpx.get(f"{url}/readyz", headers=AUTH).json()
        stop = threading.Event()
        threads = [
            threading.Thread(target=_query_until, args=(url, stop, outcomes, n), daemon=True)
            for n in range(2)
        ]
        for t in threads:
            t.start()
        try:
            ingest = citeline(["ingest", str(new), "--index", str(index), "--no-progress"])
            assert ingest.returncode == 0, ingest.stderr
            deadline = time.monotonic() + 30
            while (ready := httpx.get(f"{url}/readyz", headers=AUTH).json())[
                "documents"
            ] != 2 + NEW_BBC_ARTICLES:
                assert time.monotonic() < deadline, f"no swap seen: {ready}"
                time.sleep(0.2)
            swapped_at = time.monotonic()
            time.sleep(2)  # keep querying the new generation for a while
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=90)
        assert ready["generation"] != before["generation"]
        found = httpx.post(
            f"{url}/v1/search", json={"query": articles.GLASSWORKS_QUERY, "top_k": 1}, headers=AUTH
        ).json()["results"]
        assert found and found[0]["doc_id"] == articles.GLASSWORKS_ID
        metrics = httpx.get(f"{url}/metrics", headers=AUTH).text
    failed = [o for o in outcomes if o.status != 200]
    assert not failed, failed[:5]
    assert len(outcomes) >= 20, len(outcomes)
    assert any(o.at > swapped_at for o in outcomes), "no query ran after the swap"
    assert 'citeline_index_reloads_total{outcome="swapped",trigger="watch"} 1.0' in metrics
    assert 'outcome="failed"' not in metrics
