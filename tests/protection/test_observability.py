"""Request ids, JSON logs, a JSON 500, and /metrics."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from ingest.pipeline import IngestSummary
from server.metrics import Metrics, metrics_of, write_ingest_metrics
from server.protection.logs import JsonFormatter, RequestIdFilter, request_id_var
from tests.protection.conftest import AppFactory
from tests.protection.helpers import AUTH, TEST_KEY

Opener = Callable[[FastAPI], TestClient]
QUERY = {"query": "Gazprom SOCAR agreement"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


# -- request ids ------------------------------------------------------------------------


@pytest.fixture
def client(make_app: AppFactory, open_client: Opener) -> TestClient:
    app = make_app({"CITELINE_RATE_LIMIT": "0"})

    @app.get("/test-only/boom", include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/test-only/log", include_in_schema=False)
    def log_something(request: Request) -> dict[str, str]:
        logging.getLogger("citeline.test").warning("inside the route")
        return {"state": request.state.request_id}

    return open_client(app)


def test_request_id_is_generated_and_echoed(client: TestClient) -> None:
    a = client.get("/healthz").headers["x-request-id"]
    b = client.get("/healthz").headers["x-request-id"]
    assert len(a) == 32 and a != b


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("req-42.a:b_c", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("has space", False),
        ("line\\nbreak", False),
        ('"><script>', False),
    ],
)
def test_client_request_ids_are_kept_only_when_safe(
    client: TestClient, sent: str, kept: bool
) -> None:
    got = client.get("/healthz", headers={"X-Request-ID": sent}).headers["x-request-id"]
    assert (got == sent) is kept
    assert got.isascii() and " " not in got


def test_log_records_carry_the_request_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    r = client.get("/test-only/log", headers={"X-Request-ID": "trace-me-1"})
    assert r.json() == {"state": "trace-me-1"}
    route_records = [rec for rec in caplog.records if rec.name == "citeline.test"]
    access = [rec for rec in caplog.records if rec.name == "citeline.access"]
    # the route runs in a worker thread: the id crossed over with the context
    assert route_records
    assert getattr(route_records[0], "request_id", None) == "trace-me-1"
    assert access
    assert vars(access[-1])["status"] == 200 and vars(access[-1])["path"] == "/test-only/log"
    assert request_id_var.get() is None  # nothing leaks out of the request


def test_an_unhandled_error_is_a_json_500_naming_the_request_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    r = client.get("/test-only/boom", headers={"X-Request-ID": "bug-7"})
    assert r.status_code == 500
    assert r.headers["x-request-id"] == "bug-7"
    assert "bug-7" in r.json()["error"]
    assert "a bug" not in r.text  # no internals to the client
    assert any(rec.exc_info and "a bug" in str(rec.exc_info[1]) for rec in caplog.records)
    text = client.get("/metrics").text
    assert (
        samples(text)[
            (
                "citeline_http_requests_total",
                (("method", "GET"), ("route", "/test-only/boom"), ("status", "500")),
            )
        ]
        == 1
    )


def test_json_log_lines() -> None:
    record = logging.LogRecord("citeline.x", logging.WARNING, __file__, 1, "hello %s", ("w",), None)
    record.documents = 3
    token = request_id_var.set("rid-1")
    try:
        RequestIdFilter().filter(record)
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    entry = json.loads(line)
    assert entry["msg"] == "hello w" and entry["level"] == "WARNING"
    assert entry["request_id"] == "rid-1" and entry["documents"] == 3
    assert entry["time"].endswith("Z")


def test_json_logs_setting_formats_the_root_handlers(
    make_app: AppFactory, open_client: Opener
) -> None:
    root = logging.getLogger()
    # install() restyles every root handler, pytest's own included: put them back after.
    saved = [(h, h.formatter) for h in root.handlers]
    handler = logging.StreamHandler()
    root.addHandler(handler)
    try:
        open_client(make_app({"CITELINE_LOG_JSON": "1"}))
        assert isinstance(handler.formatter, JsonFormatter)
        assert any(isinstance(f, RequestIdFilter) for f in handler.filters)
    finally:
        root.removeHandler(handler)
        for h, formatter in saved:
            h.setFormatter(formatter)


# -- metrics ----------------------------------------------------------------------------------


def test_metrics_count_requests_by_route_template_and_status(client: TestClient) -> None:
    client.post("/v1/search", json=QUERY)
    client.post("/v1/search", json={"query": ""})
    client.get("/v1/documents/putin-visit-to-azerbaijan.txt")
    client.get("/v1/documents/no-such-doc")
    client.get("/no/such/route/abc")
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    s = samples(r.text)

    def requests(method: str, route: str, status: str) -> float:
        key = (("method", method), ("route", route), ("status", status))
        return s.get(("citeline_http_requests_total", key), 0.0)

    assert requests("POST", "/v1/search", "200") == 1
    assert requests("POST", "/v1/search", "422") == 1
    # a template, not the raw path: clients cannot invent label values
    assert requests("GET", "/v1/documents/{doc_id:path}", "200") == 1
    assert requests("GET", "/v1/documents/{doc_id:path}", "404") == 1
    assert requests("GET", "<unmatched>", "404") == 1
    assert not any("no/such" in str(k) for k in s)
    count = s[
        (
            "citeline_http_request_duration_seconds_count",
            (("method", "POST"), ("route", "/v1/search")),
        )
    ]
    assert count == 2
    assert s[("citeline_index_documents", ())] == 1
    assert s[("citeline_index_passages", ())] > 1
    assert s[("citeline_index_ready", ())] == 1


def test_each_app_has_its_own_registry(make_app: AppFactory, open_client: Opener) -> None:
    a = open_client(make_app())
    b = open_client(make_app())
    a.post("/v1/search", json=QUERY)
    key = (
        "citeline_http_requests_total",
        (("method", "POST"), ("route", "/v1/search"), ("status", "200")),
    )
    assert samples(a.get("/metrics").text)[key] == 1
    assert key not in samples(b.get("/metrics").text)


def test_metrics_need_the_key_when_keys_are_on(make_app: AppFactory, open_client: Opener) -> None:
    client = open_client(make_app({"CITELINE_API_KEYS": TEST_KEY}))
    assert client.get("/metrics").status_code == 401
    s = samples(client.get("/metrics", headers=AUTH).text)
    assert s[("citeline_http_refused_total", (("reason", "auth"),))] == 1


def test_routes_record_retrieval_and_answer_timings(client: TestClient) -> None:
    client.post("/v1/search", json={**QUERY, "mode": "bm25"})
    client.post("/v1/ask", json={"question": "What did Gazprom and SOCAR sign?"})
    client.post("/v1/ask", json={"question": "Who won the 1998 football world cup?"})
    s = samples(client.get("/metrics").text)
    assert s[("citeline_retrieval_duration_seconds_count", (("mode", "bm25"),))] == 1
    # the two questions used the default mode
    assert s[("citeline_retrieval_duration_seconds_count", (("mode", "hybrid"),))] == 2
    assert s[("citeline_answer_duration_seconds_count", (("answerer", "extractive"),))] == 2
    assert s[("citeline_answer_duration_seconds_sum", (("answerer", "extractive"),))] > 0
    answered = ("citeline_answers_total", (("abstained", "false"), ("answerer", "extractive")))
    abstained = ("citeline_answers_total", (("abstained", "true"), ("answerer", "extractive")))
    assert s[answered] == 1
    assert s[abstained] == 1
    assert metrics_of(object()) is None  # nothing installed there: callers get None


def test_every_answering_route_records_both_stages(client: TestClient) -> None:
    question = "What did Gazprom and SOCAR sign?"
    client.post("/v1/chat", json={"messages": [{"role": "user", "content": question}]})
    client.post(
        "/v1/chat/completions",
        json={"model": "citeline", "messages": [{"role": "user", "content": question}]},
    )
    r = client.post("/v1/ask", json={"question": question, "stream": True})
    assert r.status_code == 200 and "event:" in r.text
    s = samples(client.get("/metrics").text)
    assert s[("citeline_retrieval_duration_seconds_count", (("mode", "hybrid"),))] == 3
    assert s[("citeline_answer_duration_seconds_count", (("answerer", "extractive"),))] == 3


def _documented_server_metrics() -> set[str]:
    """The metric names README's Observability paragraph promises on /metrics (the
    ingest counters it names go to a file, not to the server)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    start = readme.index("**Observability.**")
    paragraph = readme[start : readme.index("\n\n", start)]
    served = paragraph[: paragraph.index("`citeline ingest` is a separate process")]
    names = set(re.findall(r"`(citeline_[a-z_]+)`", served))
    assert len(names) >= 10, names  # the paragraph moved or changed form: fix this reader
    return names


def test_metrics_show_what_readme_documents(make_app: AppFactory, open_client: Opener) -> None:
    client = open_client(make_app({"CITELINE_ADMIN_KEYS": TEST_KEY}))
    assert client.post("/v1/search", json=QUERY).status_code == 401  # a refusal to count
    question = {"question": "What did Gazprom and SOCAR sign?"}
    assert client.post("/v1/ask", json=question, headers=AUTH).status_code == 200
    assert client.post("/v1/admin/reload", headers=AUTH).status_code == 200
    text = client.get("/metrics", headers=AUTH).text
    shown = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    for name in sorted(_documented_server_metrics()):
        # A histogram shows as name_bucket/_count/_sum, a counter as name (ending _total).
        assert name in shown or f"{name}_count" in shown, f"README documents {name}"


def test_ingest_counters_for_the_textfile_collector(tmp_path: Path) -> None:
    summary = IngestSummary(
        added=3, updated=1, unchanged=5, removed=2, chunks_embedded=40, seconds=2.5
    )
    path = tmp_path / "citeline_ingest.prom"
    write_ingest_metrics(summary, str(path))
    s = samples(path.read_text())
    assert s[("citeline_ingest_documents_total", (("outcome", "added"),))] == 3
    assert s[("citeline_ingest_documents_total", (("outcome", "removed"),))] == 2
    assert s[("citeline_ingest_passages_embedded_total", ())] == 40
    assert s[("citeline_ingest_duration_seconds_count", ())] == 1
    assert ("citeline_ingest_last_run_timestamp_seconds", ()) in s
    metrics = Metrics()
    metrics.record_ingest(summary)
    assert b"citeline_ingest_documents_total" in metrics.render()
