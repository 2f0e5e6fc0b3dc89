"""Prometheus metrics: one registry per app, served at ``GET /metrics``.

Every app gets its own ``CollectorRegistry`` (tests build several apps in one
process; the global default registry would refuse the second one's metrics).
The retrieval and answer latency histograms (one per stage) are filled by the
answer service, which takes the app's :class:`Metrics` as its ``timings``
(server/app.py), so every path that answers (``/v1/ask``, ``/v1/chat``, the
OpenAI-compatible route, Slack over HTTP) records them the same way. Other
modules reach the app's metrics through the request with :func:`metrics_of`,
which is None when the app has no metrics installed.
Labels are fixed small sets (route templates, never raw paths).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Protocol

from fastapi import APIRouter, Request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    write_to_textfile,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from access.keys import ANONYMOUS

# Request latency: sub-10 ms probes up to LLM answers of tens of seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
UNMATCHED = "<unmatched>"


class _Summary(Protocol):
    """What ``record_ingest`` reads: ingest.pipeline.IngestSummary fits."""

    added: int
    updated: int
    unchanged: int
    removed: int
    failed: list[Any]
    chunks_embedded: int
    seconds: float


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "citeline_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "citeline_http_request_duration_seconds",
            "Time from request to the last byte of the response",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "citeline_http_requests_in_flight", "Requests being handled now", registry=r
        )
        self.refused = Counter(
            "citeline_http_refused",
            "Requests refused before reaching a route",
            ["reason"],  # auth, rate_limit, body_too_large
            registry=r,
        )
        self.feedback = Counter(
            "citeline_feedback",
            "Thumbs up/down given to answers (POST /v1/feedback)",
            ["vote"],
            registry=r,
        )
        self.retrieval = Histogram(
            "citeline_retrieval_duration_seconds",
            "Retrieval time (question embedding + search)",
            ["mode"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.answer = Histogram(
            "citeline_answer_duration_seconds",
            "Answer time after retrieval",
            ["answerer"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.answers = Counter(
            "citeline_answers",
            "Answers given, by answerer and whether it abstained",
            ["answerer", "abstained"],
            registry=r,
        )
        self.reloads = Counter(
            "citeline_index_reloads",
            "Index reload attempts by outcome (swapped, unchanged, failed)",
            ["trigger", "outcome"],
            registry=r,
        )
        self.ingest_documents = Counter(
            "citeline_ingest_documents",
            "Documents seen by ingest runs, by outcome",
            ["outcome"],  # added, updated, unchanged, removed, failed
            registry=r,
        )
        self.ingest_passages = Counter(
            "citeline_ingest_passages_embedded", "Passages embedded by ingest runs", registry=r
        )
        self.ingest_seconds = Histogram(
            "citeline_ingest_duration_seconds",
            "Duration of ingest runs",
            buckets=(1, 5, 15, 60, 300, 900, 3600),
            registry=r,
        )

    def observe_retrieval(self, mode: str, seconds: float) -> None:
        self.retrieval.labels(mode=mode).observe(seconds)

    def observe_answer(
        self, answerer: str, seconds: float, *, abstained: bool | None = None
    ) -> None:
        self.answer.labels(answerer=answerer).observe(seconds)
        if abstained is not None:
            self.answers.labels(answerer=answerer, abstained=str(abstained).lower()).inc()

    def record_ingest(self, summary: _Summary) -> None:
        for outcome in ("added", "updated", "unchanged", "removed"):
            self.ingest_documents.labels(outcome=outcome).inc(getattr(summary, outcome))
        self.ingest_documents.labels(outcome="failed").inc(len(summary.failed))
        self.ingest_passages.inc(summary.chunks_embedded)
        self.ingest_seconds.observe(summary.seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def write_ingest_metrics(summary: _Summary, path: str) -> None:
    """Write one ingest run's counters for node_exporter's textfile collector.

    ``citeline ingest`` is a separate process from the server, so its counters
    cannot appear in the server's /metrics; this file (written atomically) can.
    """
    metrics = Metrics()
    metrics.record_ingest(summary)
    Gauge(
        "citeline_ingest_last_run_timestamp_seconds",
        "When the last ingest run finished",
        registry=metrics.registry,
    ).set_to_current_time()
    write_to_textfile(path, metrics.registry)


class IndexCollector(Collector):
    """Index size read at scrape time, so a reloaded index shows at once."""

    def __init__(self, state: Any) -> None:
        self._state = state

    def collect(self) -> Iterable[Metric]:
        answers = getattr(self._state, "answers", None)
        searcher = getattr(answers, "searcher", None)
        ready = GaugeMetricFamily(
            "citeline_index_ready", "1 when an index is loaded and served, else 0"
        )
        ready.add_metric([], 1.0 if searcher is not None else 0.0)
        yield ready
        if searcher is None:
            return
        docs = GaugeMetricFamily("citeline_index_documents", "Documents in the served collections")
        docs.add_metric([], float(searcher.document_count))
        chunks = GaugeMetricFamily("citeline_index_passages", "Passages in the served collections")
        chunks.add_metric([], float(searcher.chunk_count))
        created = GaugeMetricFamily(
            "citeline_index_generation_created_timestamp_seconds",
            "When each served generation was written (its ingest time)",
            labels=["generation"],
        )
        for index in searcher.indexes.values():
            created.add_metric([index.manifest.generation], float(index.manifest.created_at))
        yield from (docs, chunks, created)


class QueryCacheCollector(Collector):
    """The embedder's query-vector cache, read from the shared embedder at scrape time."""

    def __init__(self, state: Any) -> None:
        self._state = state

    def collect(self) -> Iterable[Metric]:
        embedder = getattr(self._state, "embedder", None)
        if embedder is None:
            return
        hits, misses, size, capacity = embedder.query_cache_info()
        lookups = CounterMetricFamily(
            "citeline_query_embedding_cache_lookups",
            "Question embeddings looked up in the cache, by result",
            labels=["result"],
        )
        lookups.add_metric(["hit"], float(hits))
        lookups.add_metric(["miss"], float(misses))
        entries = GaugeMetricFamily(
            "citeline_query_embedding_cache_entries", "Question vectors held in the cache"
        )
        entries.add_metric([], float(size))
        limit = GaugeMetricFamily(
            "citeline_query_embedding_cache_capacity", "Most question vectors the cache holds"
        )
        limit.add_metric([], float(capacity))
        backend = GaugeMetricFamily(
            "citeline_embedder_backend_info",
            "The embedder's runtime (1 for the one running)",
            labels=["backend", "device"],
        )
        backend.add_metric([str(embedder.backend), str(embedder.device)], 1.0)
        yield from (lookups, entries, limit, backend)


def metrics_of(obj: Request | Any) -> Metrics | None:
    """The app's metrics from a request or an app, or None when not installed."""
    app = obj.app if isinstance(obj, Request) else obj
    state = getattr(app, "state", None)
    found = getattr(state, "metrics", None) if state is not None else None
    return found if isinstance(found, Metrics) else None


class MetricsMiddleware:
    """Counts and times every request, refused ones included, by route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # if the app raises before answering
        started = time.perf_counter()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.metrics.in_flight.dec()
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            route = self._route(scope)
            self.metrics.requests.labels(method=method, route=route, status=str(status)).inc()
            self.metrics.latency.labels(method=method, route=route).observe(
                time.perf_counter() - started
            )

    @staticmethod
    def _route(scope: Scope) -> str:
        # Set by the router. Requests refused before routing (401, 413, 429) and
        # unknown paths have none: counting raw paths would let clients invent labels.
        path = getattr(scope.get("route"), "path", None)
        return path if isinstance(path, str) else UNMATCHED


router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics_endpoint(request: Request) -> Response:
    # Totals over every collection: only for keys that may read every collection.
    caller = getattr(request.state, "caller", ANONYMOUS)
    if caller is None or caller.collections is not None:
        return Response(
            "metrics cover every collection: they need a key for all collections\n",
            status_code=403,
            media_type="text/plain",
        )
    m = metrics_of(request)
    if m is None:
        return Response("metrics are not installed\n", status_code=404, media_type="text/plain")
    return Response(m.render(), media_type=CONTENT_TYPE_LATEST)
