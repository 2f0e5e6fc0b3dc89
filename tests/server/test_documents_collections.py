"""The write routes name their collection: a real `citeline serve` on 127.0.0.1 over a
root with collections a, b (each a copy of the seed index) and c (created empty), and a
real keys file: an admin of a, a reader of a, an admin of everything.

An admin scoped to [a] writes a and nothing else (403 for b, default and an unknown
name), a reader writes nothing, an unknown collection is a 404 saying how to create it,
and what one collection gains is searchable there at once (the writer's reload) and
never in another.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from access.keys import KeysFile
from index.collections import Registry
from index.embedder import Embedder
from index.models import Article
from ingest.fetch import FetchPolicy
from server.documents import DocumentWriter
from tests.protection.helpers import citeline, serve

pytestmark = pytest.mark.slow

HAIL = (
    "Hailstones the size of walnuts fell on the vineyards of Quarnby on Tuesday, and the "
    "growers' cooperative said a third of the grape harvest was lost within ten minutes."
)
HAIL_QUERY = "hailstones destroyed the grape harvest in the vineyards"


@dataclass
class Site:
    url: str
    root: Path
    keys: dict[str, str]

    def headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[key]}"}

    def post(self, key: str, collection: str | None, body: Any, **kw: Any) -> httpx.Response:
        params = {"collection": collection} if collection else None
        return httpx.post(
            f"{self.url}/v1/documents",
            params=params,
            json=body,
            headers=self.headers(key),
            timeout=120,
            **kw,
        )

    def search(self, key: str, query: str, collections: list[str] | None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"query": query, "top_k": 5}
        if collections is not None:
            body["collections"] = collections
        r = httpx.post(f"{self.url}/v1/search", json=body, headers=self.headers(key), timeout=60)
        assert r.status_code == 200, r.text
        return r.json()["results"]


@pytest.fixture(scope="module")
def site(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("write-collections")
    root = base / "root"
    for name in ("a", "b"):
        shutil.copytree(
            seed_index, root / "collections" / name, ignore=shutil.ignore_patterns(".lock")
        )
    r = citeline(["collections", "create", "c", "--index", str(root)])
    assert r.returncode == 0, r.stderr
    keys_file = KeysFile(base / "keys.toml")
    keys = {
        "adminA": keys_file.add("adminA", "admin", ["a", "c"]),
        "readerA": keys_file.add("readerA", "reader", ["a", "c"]),
        "admin": keys_file.add("admin", "admin", None),
    }
    env = {
        "CITELINE_KEYS_FILE": str(keys_file.path),
        "CITELINE_RATE_LIMIT": "0",
        "CITELINE_RELOAD_INTERVAL": "1",
    }
    with serve(root, base / "server.log", env) as url:
        yield Site(url, root, keys)


def article(doc_id: str) -> dict[str, str]:
    return {"id": doc_id, "title": "Hail in Quarnby", "text": HAIL}


def test_a_scoped_admin_writes_its_collection_and_only_there(site: Site) -> None:
    added = site.post("adminA", "a", article("notes/hail"))
    assert added.status_code == 201, added.text
    job = added.json()
    assert job["collection"] == "a" and job["added"] == 1 and job["status"] == "done"
    # The writer's reload has run before the 201: a search in a finds it at once.
    hits = site.search("readerA", HAIL_QUERY, ["a"])
    assert hits[0]["doc_id"] == "notes/hail" and hits[0]["collection"] == "a"
    assert all(h["doc_id"] != "notes/hail" for h in site.search("admin", HAIL_QUERY, ["b"]))
    every = site.search("admin", HAIL_QUERY, None)
    assert [(h["doc_id"], h["collection"]) for h in every if h["doc_id"] == "notes/hail"] == [
        ("notes/hail", "a")
    ]
    # Its job is the scoped admin's to read; the listing names the collection.
    status = httpx.get(
        f"{site.url}{added.headers['location']}", headers=site.headers("adminA"), timeout=30
    )
    assert status.status_code == 200 and status.json()["collection"] == "a"
    listed = httpx.get(
        f"{site.url}/v1/documents",
        params={"q": "Quarnby"},
        headers=site.headers("admin"),
        timeout=30,
    ).json()
    assert [(d["doc_id"], d["collection"]) for d in listed["documents"]] == [("notes/hail", "a")]


@pytest.mark.parametrize(
    ("key", "collection", "expected", "says"),
    [
        ("adminA", "b", 403, "may not write collection b"),
        ("adminA", None, 403, "may not write collection default"),  # default: not its scope
        ("adminA", "nope", 403, "may not write collection nope"),  # outside its grant: 403
        ("readerA", "a", 403, "may read but not write"),
        ("readerA", "b", 403, "may read but not write"),
        ("admin", "nope", 404, "citeline collections create nope"),
        ("admin", "Bad Name", 422, "invalid collection name"),
    ],
)
def test_writes_outside_the_keys_grant_are_refused(
    site: Site, key: str, collection: str | None, expected: int, says: str
) -> None:
    r = site.post(key, collection, article("notes/refused"))
    assert r.status_code == expected, r.text
    assert says in r.json()["error"]
    params = {"collection": collection} if collection else None
    gone = httpx.delete(
        f"{site.url}/v1/documents/notes/refused",
        params=params,
        headers=site.headers(key),
        timeout=60,
    )
    assert gone.status_code == expected, gone.text
    # Nothing was written anywhere.
    hits = site.search("admin", HAIL_QUERY, None)
    assert all(h["doc_id"] != "notes/refused" for h in hits)
    assert not (site.root / "collections" / "nope").exists()


def test_no_key_is_401_and_the_collection_goes_in_the_query(site: Site) -> None:
    r = httpx.post(f"{site.url}/v1/documents?collection=a", json=article("x"), timeout=30)
    assert r.status_code == 401
    r = site.post("admin", None, {**article("x"), "collection": "a"})
    assert r.status_code == 422 and "?collection=NAME" in r.json()["error"]
    r = httpx.post(
        f"{site.url}/v1/documents",
        files={"file": ("hail.txt", HAIL.encode(), "text/plain")},
        data={"collection": "a"},
        headers=site.headers("admin"),
        timeout=60,
    )
    assert r.status_code == 422 and "?collection=NAME" in r.json()["error"]


def test_delete_removes_from_the_named_collection_only(site: Site) -> None:
    seed = site.search("admin", "Gazprom and SOCAR", ["b"])[0]["doc_id"]
    r = httpx.delete(
        f"{site.url}/v1/documents/{seed}",
        params={"collection": "b"},
        headers=site.headers("adminA"),
        timeout=60,
    )
    assert r.status_code == 403
    r = httpx.delete(
        f"{site.url}/v1/documents/{seed}",
        params={"collection": "b"},
        headers=site.headers("admin"),
        timeout=60,
    )
    assert r.status_code == 200 and r.json()["removed"] == 1 and r.json()["collection"] == "b"
    # b lost it, a (a copy of the same index) keeps it.
    assert all(h["doc_id"] != seed for h in site.search("admin", "Gazprom and SOCAR", ["b"]))
    assert site.search("readerA", "Gazprom and SOCAR", ["a"])[0]["doc_id"] == seed
    again = httpx.delete(
        f"{site.url}/v1/documents/{seed}",
        params={"collection": "b"},
        headers=site.headers("admin"),
        timeout=60,
    )
    assert again.status_code == 404 and "in collection b" in again.json()["error"]
    # A job of b is not the scoped admin's to see: "not found", as an unknown job.
    job = httpx.get(
        f"{site.url}{r.headers['location']}", headers=site.headers("adminA"), timeout=30
    )
    assert job.status_code == 404
    job = httpx.get(f"{site.url}{r.headers['location']}", headers=site.headers("admin"))
    assert job.status_code == 200 and job.json()["kind"] == "delete"
    reader = httpx.get(f"{site.url}{r.headers['location']}", headers=site.headers("readerA"))
    assert reader.status_code == 403


def test_an_empty_collection_becomes_searchable_with_its_first_write(site: Site) -> None:
    before = httpx.get(f"{site.url}/v1/collections", headers=site.headers("readerA")).json()
    assert {c["name"]: c["documents"] for c in before["collections"]}["c"] == 0
    files = {"file": ("quarnby-hail.txt", f"Hail in Quarnby\n\n{HAIL}\n".encode(), "text/plain")}
    r = httpx.post(
        f"{site.url}/v1/documents",
        params={"collection": "c"},
        files=files,
        headers=site.headers("adminA"),
        timeout=120,
    )
    assert r.status_code == 201, r.text
    assert r.json()["collection"] == "c"
    hits = site.search("readerA", HAIL_QUERY, ["c"])
    assert [(h["doc_id"], h["collection"]) for h in hits] == [("upload/quarnby-hail.txt", "c")]
    after = httpx.get(f"{site.url}/v1/collections", headers=site.headers("readerA")).json()
    counts = {c["name"]: c["documents"] for c in after["collections"]}
    assert counts["c"] == 1 and set(counts) == {"a", "c"}  # never b: not the reader's


def test_a_write_queued_for_a_collection_deleted_meanwhile_writes_nothing(
    embedder: Embedder, tmp_path: Path
) -> None:
    """The race the routes cannot close: a collection deleted after the request was
    checked and before its job ran. The job fails as "gone" (the route's 404), and the
    write does not bring the collection back."""
    root = tmp_path / "root"
    registry = Registry(root)
    registry.create("gone")
    writer = DocumentWriter(embedder, root, FetchPolicy())
    try:
        assert writer.writable("gone") and writer.writable("default")
        assert not writer.writable("never")
        registry.delete("gone")  # the request was checked; then the operator deleted it
        job = writer.add_articles([Article(doc_id="x", text=HAIL, title="Hail in Quarnby")], "gone")
        assert job.done.wait(60)
        assert job.status == "failed" and job.collection_gone, job
        assert "deleted before the write ran" in (job.error or "")
        assert not (root / "collections" / "gone").exists()
        # The writer keeps going: the next job, for default, is written.
        job = writer.add_articles([Article(doc_id="y", text=HAIL, title="Hail")])
        assert job.done.wait(120) and job.status == "done", job.error
        assert job.summary is not None and job.summary.added == 1
        assert registry.names() == ["default"]
    finally:
        writer.close()
