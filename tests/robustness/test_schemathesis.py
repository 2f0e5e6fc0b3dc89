"""Property-based fuzzing of the real server from its own OpenAPI schema (schemathesis).

Every operation gets a bounded number of generated requests, valid and invalid,
against a real `citeline serve` on 127.0.0.1 with API keys on. Checked: no 5xx,
every status code and body is one the schema documents, and the content type
matches. Bounded and derandomized so CI runs the same cases in about a minute.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import BaseSchema, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.protection.helpers import AUTH, TEST_KEY, copy_index, serve

pytestmark = pytest.mark.slow

# Per operation and mode. CITELINE_FUZZ_EXAMPLES=200 for a deeper local run (minutes).
MAX_EXAMPLES = int(os.environ.get("CITELINE_FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory, seed_index: Path) -> Iterator[str]:
    base = tmp_path_factory.mktemp("fuzz")
    index = copy_index(seed_index, base / "index")
    env = {"CITELINE_API_KEYS": TEST_KEY, "CITELINE_RATE_LIMIT": "0"}
    with serve(index, base / "server.log", env) as url:
        yield url


@pytest.fixture(scope="module")
def api_schema(fuzzed_server: str) -> BaseSchema:
    return schemathesis.openapi.from_url(f"{fuzzed_server}/openapi.json", headers=AUTH)


# schemathesis's pytest plugin (from_fixture/parametrize) fails under pytest 9
# ('Function' object has no attribute '_nodeid'), so each operation's strategy is
# driven with hypothesis directly; failures of all operations are reported together.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_schema(api_schema: BaseSchema, mode: GenerationMode) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]  # type: ignore[union-attr]
    labels = {op.label for op in operations}
    assert {"POST /v1/search", "POST /v1/ask", "POST /v1/admin/reload"} <= labels, labels
    failures: dict[str, str] = {}
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Case) -> None:
            case.call_and_validate(headers=AUTH, checks=CHECKS, timeout=60)

        try:
            check()
        except Unsatisfiable:
            # No parameters and no body (GET /healthz): there is nothing to make invalid.
            assert mode is GenerationMode.NEGATIVE, operation.label
        except (Exception, BaseExceptionGroup) as exc:  # one broken operation must not hide others
            failures[operation.label] = f"{type(exc).__name__}: {exc}"
    assert not failures, "\n\n".join(f"{label}\n{error}" for label, error in failures.items())


# The write routes (POST/DELETE /v1/documents, GET /v1/jobs/{id}) with admin keys: the
# reader key above only ever gets their 403, so their ?collection= rules (403 outside
# a key's grant, 404 unknown, 422 invalid) and their successful answers (the admin of
# all writes `default` when no collection is named) are fuzzed here, against a root
# with collections a and b.
WRITE_ROUTES = ("POST /v1/documents", "DELETE /v1/documents/{doc_id}", "GET /v1/jobs/{job_id}")


@pytest.fixture(scope="module")
def write_server(
    tmp_path_factory: pytest.TempPathFactory, seed_index: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    """The server's URL and its admin keys: of collection a only, and of all."""
    from access.keys import KeysFile

    base = tmp_path_factory.mktemp("fuzz-writes")
    for name in ("a", "b"):
        copy_index(seed_index, base / "root" / "collections" / name)
    keys = KeysFile(base / "keys.toml")
    admins = {"scoped": keys.add("scoped", "admin", ["a"]), "all": keys.add("all", "admin", None)}
    env = {"CITELINE_KEYS_FILE": str(keys.path), "CITELINE_RATE_LIMIT": "0"}
    with serve(base / "root", base / "server.log", env) as url:
        yield url, admins


@pytest.mark.parametrize("admin", ["scoped", "all"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_write_routes_conform_with_admin_keys(
    write_server: tuple[str, dict[str, str]], mode: GenerationMode, admin: str
) -> None:
    url, keys = write_server
    headers = {"Authorization": f"Bearer {keys[admin]}"}
    statuses: set[int] = set()
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", headers=headers)
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())  # type: ignore[union-attr]
        if op.label in WRITE_ROUTES
    ]
    assert sorted(op.label for op in operations) == sorted(WRITE_ROUTES)
    for op in operations:
        # Documented where it applies; a job knows its own collection.
        takes = "collection" in [p.name for p in op.query]
        assert takes == (not op.label.startswith("GET")), op.label
    failures: dict[str, str] = {}
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=min(MAX_EXAMPLES, 15),
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Case) -> None:
            response = case.call(headers=headers, timeout=120)
            statuses.add(response.status_code)
            case.validate_response(response, checks=CHECKS)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:
            failures[operation.label] = f"{type(exc).__name__}: {exc}"
    assert not failures, "\n\n".join(f"{label}\n{error}" for label, error in failures.items())
    # The fuzzing reached the collection rules (generated names are rarely a or b).
    assert (403 if admin == "scoped" else 404) in statuses, statuses
    if mode is GenerationMode.POSITIVE:
        # Generated bodies seldom make a whole article; one that does, written to a (and
        # for the scoped admin to b), must answer as documented too.
        post = next(op for op in operations if op.label == "POST /v1/documents")
        article = {"title": "Fuzz", "text": "A plain sentence about harbour cranes."}
        for name, expected in (("a", 201), ("b", 201 if admin == "all" else 403)):
            case = post.Case(
                query={"collection": name}, body=article, media_type="application/json"
            )
            response = case.call(headers=headers, timeout=120)
            assert response.status_code == expected, response.text
            case.validate_response(response, checks=CHECKS)
