"""Rate limit (429 + Retry-After), body size (413), question length (422), CORS."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import anyio.to_thread
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from citeline.settings import ProtectionSettings
from server.protection.ratelimit import TokenBucketLimiter, retry_after_header
from tests.protection.conftest import AppFactory
from tests.protection.helpers import AUTH, TEST_KEY

Opener = Callable[[FastAPI], TestClient]
QUERY = {"query": "Gazprom SOCAR agreement"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the token bucket itself ---------------------------------------------------


def test_bucket_allows_a_burst_then_the_rate() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(per_minute=60, burst=3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("a")
    assert wait == pytest.approx(1.0)
    assert retry_after_header(wait) == "1"
    assert limiter.acquire("b") == 0.0  # clients have their own buckets
    clock.now += 0.5
    assert limiter.acquire("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("a") == 0.0
    clock.now += 3600  # refills up to the burst, not beyond
    assert [limiter.acquire("a") for _ in range(4)][-1] > 0


def test_bucket_memory_is_bounded() -> None:
    limiter = TokenBucketLimiter(per_minute=1, burst=1, clock=FakeClock(), max_clients=100)
    for n in range(1000):
        limiter.acquire(f"client-{n}")
    assert len(limiter) == 100


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(2.2) == "3"


# -- over HTTP -----------------------------------------------------------------------


@pytest.fixture
def limited(make_app: AppFactory, open_client: Opener) -> TestClient:
    # One request per minute after a burst of two: the third is refused at once.
    return open_client(make_app({"CITELINE_RATE_LIMIT": "1", "CITELINE_RATE_LIMIT_BURST": "2"}))


def test_over_the_rate_gets_429_with_retry_after(limited: TestClient) -> None:
    assert [limited.post("/v1/search", json=QUERY).status_code for _ in range(2)] == [200, 200]
    r = limited.post("/v1/search", json=QUERY)
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 30  # about a minute at 1/min
    assert "rate limit" in r.json()["error"]
    # probes are never limited: an orchestrator must not see a healthy server as down
    assert all(limited.get(p).status_code == 200 for p in ["/healthz", "/readyz"] * 5)
    metrics = limited.get("/metrics")
    assert metrics.status_code == 429  # /metrics counts like any other route


def test_keys_have_their_own_buckets_and_key_guessing_is_limited(
    make_app: AppFactory, open_client: Opener
) -> None:
    client = open_client(
        make_app(
            {
                "CITELINE_API_KEYS": f"{TEST_KEY},other-key-0123456789abc",
                "CITELINE_RATE_LIMIT": "1",
                "CITELINE_RATE_LIMIT_BURST": "2",
            }
        )
    )
    other = {"Authorization": "Bearer other-key-0123456789abc"}
    assert [client.post("/v1/search", json=QUERY, headers=AUTH).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    assert client.post("/v1/search", json=QUERY, headers=other).status_code == 200
    # Wrong keys spend the address's tokens: guessing hits 429 after the burst.
    wrong = {"Authorization": "Bearer wrong-key-0123456789abc"}
    codes = [client.post("/v1/search", json=QUERY, headers=wrong).status_code for _ in range(4)]
    assert codes == [401, 401, 429, 429]


# -- request body size -------------------------------------------------------------------


@pytest.fixture
def small_bodies(make_app: AppFactory, open_client: Opener) -> TestClient:
    return open_client(make_app({"CITELINE_MAX_BODY_BYTES": "2048", "CITELINE_RATE_LIMIT": "0"}))


def test_declared_large_body_is_refused_before_reading(small_bodies: TestClient) -> None:
    body = b'{"query": "' + b"a" * 4000 + b'"}'
    r = small_bodies.post("/v1/search", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413
    error = r.json()["error"]
    assert "2048 bytes" in error and f"{len(body)} bytes" in error
    assert "CITELINE_MAX_BODY_BYTES" in error


def test_streamed_large_body_is_refused(small_bodies: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"query": "'
        for _ in range(10):
            yield b"a" * 500
        yield b'"}'

    r = small_bodies.post(
        "/v1/search", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert "2048 bytes" in r.json()["error"]
    refused = small_bodies.get("/metrics").text
    assert 'citeline_http_refused_total{reason="body_too_large"} 1.0' in refused


def test_body_under_the_limit_passes_and_long_questions_get_422(small_bodies: TestClient) -> None:
    assert small_bodies.post("/v1/search", json=QUERY).status_code == 200
    long_query = {"query": "pipeline " * 220}  # 1980 characters, under both limits
    assert small_bodies.post("/v1/search", json=long_query).status_code == 200
    r = small_bodies.post("/v1/ask", json={"question": "w" * 2001})
    assert r.status_code == 422
    assert "2000" in r.json()["error"]


def test_default_body_limit_is_256_kib() -> None:
    assert ProtectionSettings.model_fields["max_body_bytes"].default == 256 * 1024


# -- CORS --------------------------------------------------------------------------------------

ORIGIN = "https://intranet.example.com"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


def test_cors_is_closed_by_default(make_app: AppFactory, open_client: Opener) -> None:
    client = open_client(make_app())
    preflight = client.options("/v1/search", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in preflight.headers
    r = client.post("/v1/search", json=QUERY, headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in r.headers


def test_cors_allows_exactly_the_configured_origins(
    make_app: AppFactory, open_client: Opener
) -> None:
    client = open_client(make_app({"CITELINE_CORS_ORIGINS": ORIGIN, "CITELINE_API_KEYS": TEST_KEY}))
    preflight = client.options("/v1/search", headers=PREFLIGHT)
    assert preflight.status_code == 200  # answered before the key check: browsers send none
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    refused = client.post("/v1/search", json=QUERY, headers={"Origin": ORIGIN})
    assert refused.status_code == 401
    # the page on the allowed origin can read why it was refused
    assert refused.headers["access-control-allow-origin"] == ORIGIN
    ok = client.post("/v1/search", json=QUERY, headers={"Origin": ORIGIN, **AUTH})
    assert ok.status_code == 200
    assert "x-request-id" in ok.headers["access-control-expose-headers"].lower()
    evil = client.options("/v1/search", headers={**PREFLIGHT, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in evil.headers


@pytest.mark.parametrize("bad", ["*", "intranet.example.com", "https://a.example/path"])
def test_cors_origins_must_be_exact(bad: str) -> None:
    with pytest.raises(ValidationError, match="exact origin"):
        ProtectionSettings(cors_origins=bad)


# -- the request thread pool ---------------------------------------------------------------


@pytest.mark.parametrize(("setting", "tokens"), [("3", 3), ("0", 40)])
def test_thread_pool_size_is_applied_at_startup(
    make_app: AppFactory, open_client: Opener, setting: str, tokens: int
) -> None:
    app = make_app({"CITELINE_THREADPOOL": setting})

    @app.get("/test-only/pool", include_in_schema=False)
    async def pool() -> dict[str, float]:
        return {"tokens": anyio.to_thread.current_default_thread_limiter().total_tokens}

    assert open_client(app).get("/test-only/pool").json() == {"tokens": tokens}


def test_probes_answer_while_the_pool_is_busy(make_app: AppFactory, open_client: Opener) -> None:
    """With a small pool, sync routes queue for a thread. Probes must not queue behind
    them (a liveness probe timing out gets a busy server restarted), so /healthz and
    /readyz must be ``async def`` routes: they do no blocking work."""
    app = make_app({"CITELINE_THREADPOOL": "1"})
    entered, release = threading.Event(), threading.Event()

    @app.get("/test-only/busy", include_in_schema=False)
    def busy() -> dict[str, bool]:  # sync: holds the only pool thread
        entered.set()
        return {"released": release.wait(timeout=10)}

    client = open_client(app)
    worker = threading.Thread(target=client.get, args=("/test-only/busy",))
    worker.start()
    try:
        assert entered.wait(timeout=10)
        threading.Timer(3.0, release.set).start()  # frees the pool if a probe queued
        for probe in ("/healthz", "/readyz"):
            started = time.perf_counter()
            assert client.get(probe).status_code == 200
            waited = time.perf_counter() - started
            assert waited < 1.5, f"{probe} waited {waited:.1f} s for a pool thread"
    finally:
        release.set()
        worker.join(timeout=10)
