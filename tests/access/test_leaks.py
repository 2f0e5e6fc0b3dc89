"""Nothing leaks between collections: a real server, real keys, every route.

Two collections with different BBC articles (A: business, B: sport), keys kA (reader
of A), kB (reader of B) and kAdm (admin of all) from a real keys file made by
`citeline keys add`. Every response kA gets, whatever it asks, is searched for B's
doc ids, titles and passage text; none may appear. The matrix of checks is in
:data:`MATRIX` (route x what is asked) and is reported in the README.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from index.embedder import Embedder
from index.store import Index
from ingest.pipeline import Ingestor
from tests.collections_helpers import bbc_articles, subset_index, write_jsonl
from tests.protection.helpers import citeline, serve

pytestmark = pytest.mark.slow


@dataclass
class Deployment:
    url: str
    root: Path
    keys_file: Path
    audit: Path
    log: Path
    keys: dict[str, str]
    secrets: dict[str, list[str]]  # collection -> strings only its readers may see
    doc_ids: dict[str, list[str]]


def _secrets(index_dir: Path) -> tuple[list[str], list[str]]:
    with Index.open(index_dir) as ix:
        ids = list(ix.bm25.doc_ids)
        out = list(ids)
        for d in ids:
            doc = ix.document(d)
            assert doc is not None
            if doc.title:
                out.append(doc.title)
        for chunk_ids in ix.chunk_ids_of(ids).values():
            for p in ix.passages(chunk_ids).values():
                # Distinctive runs of each passage: any quote of it contains one.
                words = p.text.split()
                out += [" ".join(words[i : i + 6]) for i in range(0, max(1, len(words) - 6), 6)]
    return ids, [s for s in out if len(s) >= 12]


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[Deployment]:
    base = tmp_path_factory.mktemp("leaks")
    rows = list(bbc_articles())
    business = [r for r in rows if r["category"] == "business"][:6]
    sport = [r for r in rows if r["category"] == "sport"][:6]
    whole = base / "whole"
    Ingestor(embedder, whole).run([write_jsonl(base / "all.jsonl", business + sport)])
    root = base / "root"
    subset_index(whole, root / "collections" / "a", {r["_id"] for r in business})
    subset_index(whole, root / "collections" / "b", {r["_id"] for r in sport})
    keys_file = base / "keys.toml"
    keys = {}
    for name, role, cols in (("kA", "reader", "a"), ("kB", "reader", "b"), ("kAdm", "admin", None)):
        args = ["keys", "add", name, "--role", role, "--keys-file", str(keys_file)]
        r = citeline([*args, *(["--collections", cols] if cols else [])])
        assert r.returncode == 0, r.stderr
        keys[name] = r.stdout.strip().splitlines()[-1]
    ids_a, secrets_a = _secrets(root / "collections" / "a")
    ids_b, secrets_b = _secrets(root / "collections" / "b")
    audit = base / "audit.log"
    env = {
        "CITELINE_KEYS_FILE": str(keys_file),
        "CITELINE_AUDIT_LOG": str(audit),
        "CITELINE_RATE_LIMIT": "0",
        "CITELINE_RELOAD_INTERVAL": "0.5",
    }
    log = base / "server.log"
    with serve(root, log, env) as url:
        yield Deployment(
            url,
            root,
            keys_file,
            audit,
            log,
            keys,
            {"a": secrets_a, "b": secrets_b},
            {"a": ids_a, "b": ids_b},
        )


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def leaked(d: Deployment, body: str, collection: str) -> list[str]:
    return [s for s in d.secrets[collection] if s in body]


def b_title(d: Deployment) -> str:
    return next(s for s in d.secrets["b"] if " " in s and s not in d.doc_ids["b"])


# (label, method, path, json body or None, expected statuses); {B_ID}/{B_TITLE} filled in.
MATRIX: list[tuple[str, str, str, object, set[int]]] = [
    ("search, no collections", "POST", "/v1/search", {"query": "{B_TITLE}", "top_k": 20}, {200}),
    (
        "search, collections [b]",
        "POST",
        "/v1/search",
        {"query": "{B_TITLE}", "collections": ["b"]},
        {403},
    ),
    (
        "search, collections [a,b]",
        "POST",
        "/v1/search",
        {"query": "x", "collections": ["a", "b"]},
        {403},
    ),
    (
        "search, filter on B doc id",
        "POST",
        "/v1/search",
        {"query": "{B_TITLE}", "filters": {"doc_id": "{B_ID}"}},
        {200},
    ),
    (
        "search, dense mode",
        "POST",
        "/v1/search",
        {"query": "{B_TITLE}", "mode": "dense", "top_k": 20},
        {200},
    ),
    (
        "search, bm25 mode",
        "POST",
        "/v1/search",
        {"query": "{B_TITLE}", "mode": "bm25", "top_k": 20},
        {200},
    ),
    (
        "search, unknown collection",
        "POST",
        "/v1/search",
        {"query": "x", "collections": ["nope"]},
        {403},
    ),
    ("ask, no collections", "POST", "/v1/ask", {"question": "{B_TITLE}?"}, {200}),
    (
        "ask, collections [b]",
        "POST",
        "/v1/ask",
        {"question": "{B_TITLE}?", "collections": ["b"]},
        {403},
    ),
    ("ask, streamed", "POST", "/v1/ask", {"question": "{B_TITLE}?", "stream": True}, {200}),
    (
        "ask, streamed [b]",
        "POST",
        "/v1/ask",
        {"question": "x?", "stream": True, "collections": ["b"]},
        {403},
    ),
    ("chat", "POST", "/v1/chat", {"messages": [{"role": "user", "content": "{B_TITLE}?"}]}, {200}),
    (
        "chat [b]",
        "POST",
        "/v1/chat",
        {"messages": [{"role": "user", "content": "x?"}], "collections": ["b"]},
        {403},
    ),
    (
        "chat, streamed",
        "POST",
        "/v1/chat",
        {"messages": [{"role": "user", "content": "{B_TITLE}?"}], "stream": True},
        {200},
    ),
    (
        "completions, model citeline",
        "POST",
        "/v1/chat/completions",
        {"model": "citeline", "messages": [{"role": "user", "content": "{B_TITLE}?"}]},
        {200},
    ),
    (
        "completions, model citeline:b",
        "POST",
        "/v1/chat/completions",
        {"model": "citeline:b", "messages": [{"role": "user", "content": "{B_TITLE}?"}]},
        {403},
    ),
    (
        "completions, streamed citeline:b",
        "POST",
        "/v1/chat/completions",
        {"model": "citeline:b", "stream": True, "messages": [{"role": "user", "content": "x?"}]},
        {403},
    ),
    ("models", "GET", "/v1/models", None, {200}),
    ("collections", "GET", "/v1/collections", None, {200}),
    ("document by B id", "GET", "/v1/documents/{B_ID}", None, {404}),
    ("document by B id in b", "GET", "/v1/documents/{B_ID}?collection=b", None, {403}),
    ("admin reload", "POST", "/v1/admin/reload", None, {403}),
    ("readyz", "GET", "/readyz", None, {200}),
    ("healthz", "GET", "/healthz", None, {200}),
    ("bad body", "POST", "/v1/search", {"query": "{B_TITLE}", "collections": "b"}, {422}),
]


def _fill(value: object, b_id: str, title: str) -> object:
    text = json.dumps(value).replace("{B_ID}", b_id).replace("{B_TITLE}", title)
    return json.loads(text)


@pytest.mark.parametrize("case", MATRIX, ids=[m[0] for m in MATRIX])
def test_ka_never_sees_b(deployment: Deployment, case: tuple) -> None:  # type: ignore[type-arg]
    label, method, path, body, expected = case
    d = deployment
    b_id = d.doc_ids["b"][0]
    title = b_title(d)
    path = path.replace("{B_ID}", b_id)
    r = httpx.request(
        method,
        d.url + path,
        json=_fill(body, b_id, title) if body is not None else None,
        headers=auth(d.keys["kA"]),
        timeout=120,
    )
    assert r.status_code in expected, (label, r.status_code, r.text[:300])
    # Our own question may echo back (condensed question, 422 input); B's text never.
    echo = {title, b_id, f"{title}?"}
    assert [s for s in leaked(d, r.text, "b") if s not in echo and s not in title] == [], label
    if r.status_code == 200 and path.startswith("/v1/search"):
        assert all(x["collection"] == "a" for x in r.json()["results"])


def test_the_same_questions_reach_b_with_kb_and_both_with_the_admin(deployment: Deployment) -> None:
    d = deployment
    title = b_title(d)
    r = httpx.post(
        f"{d.url}/v1/search",
        json={"query": title, "top_k": 5},
        headers=auth(d.keys["kB"]),
        timeout=60,
    )
    assert r.status_code == 200 and r.json()["results"]
    assert {x["collection"] for x in r.json()["results"]} == {"b"}
    # The leak detector finds B's text where B's reader is shown it (so its silence
    # for kA means something).
    assert leaked(d, r.text, "b") and not leaked(d, r.text, "a")
    r = httpx.post(
        f"{d.url}/v1/ask", json={"question": title + "?"}, headers=auth(d.keys["kB"]), timeout=120
    )
    assert r.status_code == 200 and all(c["collection"] == "b" for c in r.json()["citations"])
    r = httpx.post(
        f"{d.url}/v1/search",
        json={"query": title, "top_k": 50},
        headers=auth(d.keys["kAdm"]),
        timeout=60,
    )
    assert {x["collection"] for x in r.json()["results"]} == {"a", "b"}
    models = httpx.get(f"{d.url}/v1/models", headers=auth(d.keys["kAdm"]), timeout=30).json()
    assert {m["id"] for m in models["data"]} == {"citeline", "citeline:a", "citeline:b"}
    models = httpx.get(f"{d.url}/v1/models", headers=auth(d.keys["kA"]), timeout=30).json()
    assert {m["id"] for m in models["data"]} == {"citeline", "citeline:a"}
    r = httpx.post(f"{d.url}/v1/admin/reload", headers=auth(d.keys["kAdm"]), timeout=60)
    assert r.status_code == 200
    # The audit log: one line per request, the key's name, never the key.
    text = d.audit.read_text()
    assert all(k not in text for k in d.keys.values())
    lines = [json.loads(line) for line in text.splitlines()]
    assert any(x["key"] == "kB" and x["collections"] == ["b"] and x["status"] == 200 for x in lines)
    assert any(x["key"] == "kA" and x["status"] == 403 for x in lines)


FUZZ_EXAMPLES = 10


def test_generated_requests_with_ka_never_reach_b(deployment: Deployment) -> None:
    """schemathesis-generated bodies for every operation, sent with kA: no 5xx, and no
    response carries B's text (unless the generated request itself did)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import Case, GenerationMode

    d = deployment
    headers = auth(d.keys["kA"])
    schema = schemathesis.openapi.from_url(f"{d.url}/openapi.json", headers=headers)
    problems: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        if operation.label.startswith(("POST /v1/admin", "POST /slack")):
            continue  # not readers' routes (403 / signature-checked)

        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Case) -> None:
            response = case.call(headers=headers, timeout=120)
            assert response.status_code < 500, response.text[:300]
            sent = json.dumps(case.body, default=str) + str(case.path_parameters)
            found = [x for x in leaked(d, response.text, "b") if x not in sent]
            assert not found, found[:3]

        try:
            check()
        except Unsatisfiable:
            pass
        except (Exception, BaseExceptionGroup) as exc:
            problems[operation.label] = f"{type(exc).__name__}: {exc}"
    assert not problems, problems


def test_revocation_and_a_broken_keys_file_without_restart(deployment: Deployment) -> None:
    d = deployment
    body = {"query": "profits", "top_k": 1}
    kb = auth(d.keys["kB"])
    assert httpx.post(f"{d.url}/v1/search", json=body, headers=kb, timeout=30).status_code == 200
    good = d.keys_file.read_text()
    d.keys_file.write_text(good + "\n[keys.broken\n")
    time.sleep(1.5)
    assert httpx.post(f"{d.url}/v1/search", json=body, headers=kb, timeout=30).status_code == 200
    assert "previous keys stay in force" in d.log.read_text()
    d.keys_file.write_text(good)
    r = citeline(["keys", "revoke", "kB", "--keys-file", str(d.keys_file)])
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 3  # documented: within 1 s of the change
    while time.monotonic() < deadline:
        status = httpx.post(f"{d.url}/v1/search", json=body, headers=kb, timeout=30).status_code
        if status == 401:
            break
        time.sleep(0.1)
    assert status == 401
    r = citeline(
        [
            "keys",
            "add",
            "kB",
            "--role",
            "reader",
            "--collections",
            "b",
            "--keys-file",
            str(d.keys_file),
        ]
    )
    d.keys["kB"] = r.stdout.strip().splitlines()[-1]
    time.sleep(1.5)
    assert (
        httpx.post(
            f"{d.url}/v1/search", json=body, headers=auth(d.keys["kB"]), timeout=30
        ).status_code
        == 200
    )


def test_deleting_b_while_kb_queries_it(deployment: Deployment) -> None:
    d = deployment
    statuses: list[int] = []
    stop = threading.Event()

    def hammer(body: dict[str, object]) -> None:
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                r = client.post(f"{d.url}/v1/search", json=body, headers=auth(d.keys["kB"]))
                statuses.append(r.status_code)

    threads = [
        threading.Thread(target=hammer, args=({"query": "match", "collections": ["b"]},)),
        threading.Thread(target=hammer, args=({"query": "match"},)),
    ]
    for t in threads:
        t.start()
    time.sleep(2)
    r = citeline(["collections", "delete", "b", "--index", str(d.root), "--yes"])
    assert r.returncode == 0, r.stderr
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join()
    assert statuses and 500 not in statuses and set(statuses) <= {200, 404}, set(statuses)
    assert 404 in statuses  # named B after it was gone
    r = httpx.post(
        f"{d.url}/v1/search", json={"query": "profits"}, headers=auth(d.keys["kA"]), timeout=30
    )
    assert r.status_code == 200 and r.json()["results"]
    assert httpx.get(f"{d.url}/readyz", timeout=10).status_code == 200
