"""API keys: every route but the probes, the chat page and Slack's signed endpoint."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from access.keys import KeyRing
from citeline.settings import ProtectionSettings
from tests.protection.conftest import AppFactory
from tests.protection.helpers import AUTH, TEST_KEY

OTHER_KEY = "second-key-abcdefghijklmnop"
KEYS = {"CITELINE_API_KEYS": f"{TEST_KEY}, {OTHER_KEY}", "CITELINE_RATE_LIMIT": "0"}
QUERY = {"query": "Gazprom SOCAR agreement"}

Opener = Callable[[FastAPI], TestClient]


@pytest.fixture
def keyed(make_app: AppFactory, open_client: Opener) -> TestClient:
    return open_client(make_app(KEYS))


def test_missing_key_is_refused_with_a_challenge(keyed: TestClient) -> None:
    r = keyed.post("/v1/search", json=QUERY)
    assert r.status_code == 401
    assert r.json()["error"].startswith("an API key is required")
    assert r.headers["www-authenticate"] == 'Bearer realm="citeline"'


@pytest.mark.parametrize(
    ("header", "error", "challenge"),
    [
        (f"Bearer {TEST_KEY}x", "the API key is not valid", 'error="invalid_token"'),
        (f"Bearer {TEST_KEY[:-1]}", "the API key is not valid", 'error="invalid_token"'),
        (f"Basic {TEST_KEY}", "must be 'Bearer <key>'", 'error="invalid_request"'),
        ("Bearer ", "must be 'Bearer <key>'", 'error="invalid_request"'),
    ],
)
def test_wrong_or_malformed_keys_are_refused(
    keyed: TestClient, header: str, error: str, challenge: str
) -> None:
    r = keyed.post("/v1/search", json=QUERY, headers={"Authorization": header})
    assert r.status_code == 401
    assert error in r.json()["error"]
    assert challenge in r.headers["www-authenticate"]
    assert TEST_KEY not in r.text


def test_every_configured_key_is_accepted(keyed: TestClient) -> None:
    for key in (TEST_KEY, OTHER_KEY):
        for scheme in ("Bearer", "bearer"):
            r = keyed.post("/v1/search", json=QUERY, headers={"Authorization": f"{scheme} {key}"})
            assert r.status_code == 200, r.text
            assert r.json()["results"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/search"),
        ("POST", "/v1/ask"),
        ("GET", "/v1/documents/putin-visit-to-azerbaijan.txt"),
        ("GET", "/metrics"),
        ("POST", "/v1/admin/reload"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("POST", "/"),
        ("GET", "/no-such-route"),
    ],
)
def test_protected_routes_need_a_key(keyed: TestClient, method: str, path: str) -> None:
    assert keyed.request(method, path).status_code == 401
    r = keyed.request(method, path, headers=AUTH, json=QUERY if method == "POST" else None)
    assert r.status_code != 401


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/readyz", 200),
        ("GET", "/", 200),  # the chat page asks for the key itself
        ("GET", "/static/app.js", 200),
        ("GET", "/static/nope.js", 404),
        # Slack is not configured here, so the route is absent: 404, not 401,
        # shows the key check lets Slack's signed requests through to bolt.
        ("POST", "/slack/events", 404),
    ],
)
def test_open_routes_need_no_key(keyed: TestClient, method: str, path: str, status: int) -> None:
    assert keyed.request(method, path).status_code == status


def test_keys_off_by_default(make_app: AppFactory, open_client: Opener) -> None:
    client = open_client(make_app())
    assert client.post("/v1/search", json=QUERY).status_code == 200
    assert client.get("/metrics").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "securitySchemes" not in schema.get("components", {})


def test_openapi_declares_the_bearer_scheme_when_keys_are_on(keyed: TestClient) -> None:
    schema = keyed.get("/openapi.json", headers=AUTH).json()
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    search = schema["paths"]["/v1/search"]["post"]
    assert search["security"] == [{"apiKey": []}]
    assert {"401", "413"} <= set(search["responses"])
    assert "429" not in search["responses"]  # the rate limit is off in this app
    assert "security" not in schema["paths"]["/healthz"]["get"]


@pytest.mark.parametrize("bad", ["short", "has space in it 0123456789", "x" * 15])
def test_weak_keys_are_refused_at_startup_without_echoing_them(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        ProtectionSettings(api_keys=f"{TEST_KEY},{bad}")
    assert "API key #2" in str(info.value)
    assert "token_urlsafe" in str(info.value)


def test_environment_keys_are_checked_by_the_keyring() -> None:
    ring = KeyRing(reader_keys=["a" * 16, "b" * 16])
    assert ring.identify(b"b" * 16) is not None
    assert ring.identify(b"a" * 16) != ring.identify(b"b" * 16)
    assert ring.identify(b"c" * 16) is None
    # rate-limit and audit identities are digests, never the key itself
    assert "a" * 16 not in str(ring.identify(b"a" * 16))


def test_startup_line_says_whether_keys_are_on() -> None:
    assert "API keys: off" in ProtectionSettings(api_keys=()).describe()
    on = ProtectionSettings(api_keys=f"{TEST_KEY},{OTHER_KEY}")
    assert "API keys: on (2 keys)" in on.describe()
    assert TEST_KEY not in on.describe() + repr(on)
