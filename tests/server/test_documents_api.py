"""Adding, listing and deleting articles over HTTP against a real `citeline serve` on
127.0.0.1, with reader and admin keys, and a real HTTP server for fetched pages."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from access.keys import ANONYMOUS, KeyRing
from citeline.settings import WriteSettings
from server.protection.admin import require_admin
from tests.conftest import start_server
from tests.ingest.test_documents import make_pdf
from tests.ingest.test_web_ingest import article_page
from tests.ingest.webserver import serve
from tests.protection.helpers import copy_index, subprocess_env

READER = "reader-key-0123456789abcdef"
ADMIN = "admin-key-0123456789abcdefgh"
AS_READER = {"Authorization": f"Bearer {READER}"}
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}

WIND = (
    "The lighthouse keepers of Skerry Point measured a record gust of 212 kilometres per "
    "hour on the night of the storm. The anemometer on the tower was bent but kept "
    "recording, and the keepers sent the reading to the weather service at dawn."
)
PAGES = [
    "The ferry company Nordlys ordered two electric ferries from a yard in Bergen.",
    "The new ferries will carry 180 cars each and charge their batteries in twelve minutes "
    "at the quay in Moss, the company said.",
]


@pytest.fixture(scope="module")
def api(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("docs-api")
    index_dir = copy_index(seed_index, tmp / "index")
    env = subprocess_env(
        {
            "CITELINE_API_KEYS": READER,
            "CITELINE_ADMIN_KEYS": ADMIN,
            "CITELINE_RATE_LIMIT": "0",
            "CITELINE_RELOAD_INTERVAL": "1",
        }
    )
    proc, url = start_server(index_dir, tmp / "server.log", env=env)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def search(api: str, query: str) -> list[dict]:  # type: ignore[type-arg]
    r = httpx.post(
        f"{api}/v1/search", json={"query": query, "top_k": 3}, headers=AS_READER, timeout=30
    )
    assert r.status_code == 200, r.text
    return r.json()["results"]


def test_json_article_added_listed_searched_and_deleted(api: str) -> None:
    article = {
        "id": "notes/skerry-gust",
        "title": "Record gust at Skerry Point",
        "text": WIND,
        "url": "https://weather.example/skerry",
        "date": "2025-01-12",
        "metadata": {"category": "weather"},
    }
    added = httpx.post(f"{api}/v1/documents", json=article, headers=AS_ADMIN, timeout=60)
    assert added.status_code == 201, added.text
    assert added.json()["status"] == "done" and added.json()["added"] == 1
    hits = search(api, "strongest gust measured at the lighthouse")
    assert hits[0]["doc_id"] == "notes/skerry-gust"
    listed = httpx.get(
        f"{api}/v1/documents", params={"q": "skerry"}, headers=AS_READER, timeout=30
    ).json()
    assert listed["total"] == 1
    assert listed["documents"][0] | {"passages": 1} == {
        "doc_id": "notes/skerry-gust",
        "title": "Record gust at Skerry Point",
        "source": "https://weather.example/skerry",
        "url": "https://weather.example/skerry",
        "date": "2025-01-12",
        "passages": 1,
        "collection": "default",
    }
    by_filter = httpx.get(
        f"{api}/v1/documents", params={"filter": "category:weather"}, headers=AS_READER, timeout=30
    ).json()
    assert [d["doc_id"] for d in by_filter["documents"]] == ["notes/skerry-gust"]

    gone = httpx.delete(f"{api}/v1/documents/notes/skerry-gust", headers=AS_ADMIN, timeout=60)
    assert gone.status_code == 200, gone.text
    assert gone.json()["removed"] == 1
    assert all(
        h["doc_id"] != "notes/skerry-gust"
        for h in search(api, "strongest gust measured at the lighthouse")
    )
    again = httpx.delete(f"{api}/v1/documents/notes/skerry-gust", headers=AS_ADMIN, timeout=60)
    assert again.status_code == 404


def test_pdf_upload_then_a_question_is_answered_from_it(api: str) -> None:
    files = {"file": ("ferries.pdf", make_pdf(PAGES, title="Electric ferries"), "application/pdf")}
    up = httpx.post(f"{api}/v1/documents", files=files, headers=AS_ADMIN, timeout=60)
    assert up.status_code == 201, up.text
    assert up.json()["doc_ids"] == ["upload/ferries.pdf"]
    job = httpx.get(f"{api}{up.headers['location']}", headers=AS_ADMIN, timeout=30).json()
    assert job["status"] == "done"
    answer = httpx.post(
        f"{api}/v1/ask",
        json={"question": "How long do the new ferries take to charge their batteries?"},
        headers=AS_READER,
        timeout=60,
    ).json()
    cited = [c for c in answer["citations"] if c["doc_id"] == "upload/ferries.pdf"]
    assert cited, answer
    assert any("twelve minutes" in c["quote"] for c in cited)
    page = [c.get("page") for c in cited if "twelve minutes" in c["quote"]]
    assert page == [2]


def test_bad_upload_is_reported(api: str) -> None:
    files = {"file": ("scan.pdf", make_pdf(["x"])[:300], "application/pdf")}
    r = httpx.post(f"{api}/v1/documents", files=files, headers=AS_ADMIN, timeout=60)
    assert r.status_code == 422
    assert "damaged or truncated PDF" in r.json()["error"]
    r = httpx.post(
        f"{api}/v1/documents",
        files={"file": ("a.exe", b"MZ", "application/x-msdos")},
        headers=AS_ADMIN,
        timeout=30,
    )
    assert r.status_code == 415
    r = httpx.post(f"{api}/v1/documents", json={"title": "no text"}, headers=AS_ADMIN, timeout=30)
    assert r.status_code == 422 and "'url' to fetch" in r.text


def test_reader_keys_cannot_write(api: str) -> None:
    article = {"title": "x", "text": WIND}
    assert httpx.post(f"{api}/v1/documents", json=article, headers=AS_READER).status_code == 403
    assert httpx.delete(f"{api}/v1/documents/anything", headers=AS_READER).status_code == 403
    assert httpx.post(f"{api}/v1/documents", json=article).status_code == 401
    bad = {"Authorization": "Bearer not-a-key-0123456789"}
    assert httpx.post(f"{api}/v1/documents", json=article, headers=bad).status_code == 401
    # Admin keys read too.
    assert httpx.get(f"{api}/v1/documents", headers=AS_ADMIN).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://localhost/",  # a DNS name that resolves to loopback
        "http://10.1.2.3/",
        "file:///etc/passwd",
    ],
)
def test_ssrf_attempts_are_refused(api: str, url: str) -> None:
    r = httpx.post(f"{api}/v1/documents", json={"url": url}, headers=AS_ADMIN, timeout=30)
    assert r.status_code == 400, r.text
    assert "refusing to fetch" in r.json()["error"]


def test_the_api_refuses_even_the_local_test_server(api: str) -> None:
    # The CLI may be told to allow local addresses; the API has no such switch.
    with serve() as site:
        site.page("/story/a", article_page(site, "a"))
        r = httpx.post(
            f"{api}/v1/documents", json={"url": site.url("/story/a")}, headers=AS_ADMIN, timeout=30
        )
        assert r.status_code == 400
        assert site.log == []


def test_concurrent_uploads_and_queries(api: str) -> None:
    failures: list[str] = []
    answered = 0

    def query() -> None:
        nonlocal answered
        deadline = time.monotonic() + 25
        with httpx.Client(headers=AS_READER, timeout=30) as client:
            while time.monotonic() < deadline:
                r = client.post(f"{api}/v1/search", json={"query": "Gazprom SOCAR", "top_k": 3})
                if r.status_code != 200 or not r.json()["results"]:
                    failures.append(f"{r.status_code}: {r.text[:200]}")
                answered += 1

    def upload(n: int) -> None:
        article = {
            "id": f"concurrent/{n}",
            "title": f"Tide table {n}",
            "text": f"{WIND} Entry {n} of the concurrent upload test.",
        }
        r = httpx.post(f"{api}/v1/documents", json=article, headers=AS_ADMIN, timeout=120)
        if r.status_code not in (201, 202):
            failures.append(f"upload {n}: {r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=query) for _ in range(3)]
    threads += [threading.Thread(target=upload, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert failures == []
    assert answered > 10
    listed = httpx.get(f"{api}/v1/documents", params={"q": "Tide table"}, headers=AS_READER).json()
    assert listed["total"] == 4


# --------------------------------------------------------------------------- the role rules


def access(
    admin: tuple[str, ...] = (), readers: tuple[str, ...] = (), anonymous: bool = False
) -> tuple[KeyRing, WriteSettings]:
    """The real key ring the access middleware builds, and the write settings."""
    ring = KeyRing(None, reader_keys=list(readers), admin_keys=list(admin))
    return ring, WriteSettings(_env_file=None, allow_anonymous_writes=anonymous)


def status(check: tuple[KeyRing, WriteSettings], header: str | None) -> int:
    """What a write route answers: the middleware's 401 for a missing or unknown key
    (when keys are on), then require_admin's decision on the identified caller."""
    from fastapi import HTTPException

    ring, writes = check
    if ring.enabled:
        token = header.removeprefix("Bearer ").encode() if header else None
        caller = ring.identify(token) if token else None
        if caller is None:
            return 401
    else:
        caller = ANONYMOUS
    request = SimpleNamespace(
        app=SimpleNamespace(state=SimpleNamespace(settings=SimpleNamespace(writes=writes)))
    )
    try:
        require_admin(request, caller)  # type: ignore[arg-type]
    except HTTPException as exc:
        return exc.status_code
    return 200


def test_write_roles() -> None:
    both = access((ADMIN,), (READER,))
    assert status(both, f"Bearer {ADMIN}") == 200
    assert status(both, f"Bearer {READER}") == 403
    assert status(both, None) == 401
    assert status(both, "Bearer wrong-key-0123456789") == 401
    # Keys off: writes off, unless anonymous writes are allowed explicitly.
    assert status(access(), None) == 403
    assert status(access(anonymous=True), None) == 200
    # Anonymous writes never apply once any key is configured.
    assert status(access(readers=(READER,), anonymous=True), None) == 401
    # Reader keys but no admin key: nobody writes.
    assert status(access(readers=(READER,)), f"Bearer {READER}") == 403
