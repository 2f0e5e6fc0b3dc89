"""Two real ``citeline serve`` replicas behind real nginx (deploy/nginx/citeline.conf)
on 127.0.0.1: a replica killed with SIGKILL mid-traffic, restarted on the same port,
then the other one killed, and no client request fails."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import start_server
from tests.deploy.proxy import Nginx, NginxMissing, start_nginx

pytestmark = pytest.mark.slow

# Behind nginx every request reaches a replica from 127.0.0.1 (uvicorn trusts its
# X-Forwarded-For, but this client is 127.0.0.1 too): one shared per-address bucket
# would refuse the test's own traffic. The limit is not what is tested here.
REPLICA_ENV = {"CITELINE_RATE_LIMIT": "0", "CITELINE_LOG_LEVEL": "warning"}
QUESTION = "What did Gazprom and SOCAR sign?"


@dataclass
class Replica:
    index: Path
    log_dir: Path
    name: str
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""
    starts: int = 0

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Replica:
        self.starts += 1
        log = self.log_dir / f"{self.name}-{self.starts}.log"
        port = self.port if self.url else None  # a restart keeps its port (nginx knows it)
        self.proc, self.url = start_server(self.index, log, REPLICA_ENV, port=port)
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def served(self) -> int:
        """Answered /v1/search and /v1/ask requests, from its own /metrics."""
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = sample.labels
                if (
                    sample.name == "citeline_http_requests_total"
                    and labels.get("route") in ("/v1/search", "/v1/ask")
                    and labels.get("status") == "200"
                ):
                    total += sample.value
        return int(total)


@dataclass
class Traffic:
    """Clients sending requests through nginx until stopped; every outcome recorded."""

    url: str
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _record(self, what: str, response: httpx.Response | None, error: str = "") -> None:
        with self.lock:
            if response is None:
                self.failures.append(f"{what}: {error}")
            elif response.status_code != 200:
                self.failures.append(f"{what}: HTTP {response.status_code}: {response.text[:200]}")
            else:
                self.ok += 1

    def _call(self, http: httpx.Client, method: str, path: str, body: dict | None) -> None:
        try:
            response = http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            self._record(path, None, f"{type(exc).__name__}: {exc}")
            return
        self._record(path, response)

    def answers(self, n: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            i = n
            while not self.stop.is_set():
                if i % 2:
                    self._call(http, "POST", "/v1/search", {"query": QUESTION, "top_k": 3})
                else:
                    self._call(http, "POST", "/v1/ask", {"question": QUESTION})
                i += 1

    def probes(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as http:
            while not self.stop.wait(0.5):
                self._call(http, "GET", "/readyz", None)


def start_pair(index: Path, log_dir: Path) -> list[Replica]:
    pair = [Replica(index, log_dir, f"replica-{n}") for n in (1, 2)]
    # Both load the embedding model at once: about one cold start, not two.
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(Replica.start, pair))
    return pair


@contextmanager
def running(index: Path, work: Path) -> Iterator[tuple[list[Replica], Nginx]]:
    pair: list[Replica] = []
    try:
        pair = start_pair(index, work)
        try:
            nginx = start_nginx([r.address for r in pair], work / "nginx")
        except NginxMissing as exc:
            pytest.fail(str(exc))
        try:
            yield pair, nginx
        finally:
            nginx.stop()
    finally:
        for r in pair:
            r.stop()


@pytest.fixture(scope="module")
def proxy(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    """Two replicas behind nginx, left running: for the tests that kill nothing."""
    with running(seed_index, tmp_path_factory.mktemp("replicas")) as (_, nginx):
        yield nginx


def wait_until_serving(replica: Replica, timeout: float) -> int:
    """nginx sends a restarted replica requests again once its fail_timeout is over."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (served := replica.served()) > 0:
            return served
        time.sleep(0.5)
    return replica.served()


def test_killing_replicas_loses_no_request(seed_index: Path, tmp_path: Path) -> None:
    with running(seed_index, tmp_path) as ((first, second), proxy):
        assert httpx.get(f"{proxy.url}/readyz", timeout=10).json()["ready"] is True
        traffic = Traffic(proxy.url)
        threads = [threading.Thread(target=traffic.answers, args=(n,)) for n in range(3)]
        threads.append(threading.Thread(target=traffic.probes))
        for t in threads:
            t.start()
        try:
            time.sleep(4)
            assert first.served() > 0 and second.served() > 0, "least_conn uses both replicas"
            first.kill()
            time.sleep(4)  # the second replica alone
            first.start()  # same port; loading the model under load takes a while
            assert wait_until_serving(first, timeout=30) > 0, "the restarted one gets traffic"
            served_by_second = second.served()
            second.kill()
            time.sleep(4)  # the restarted first replica alone
        finally:
            traffic.stop.set()
            for t in threads:
                t.join(timeout=60)
        log = proxy.entries()
        # With every replica down the client hears so, in JSON, with the request id.
        first.kill()
        down = httpx.post(f"{proxy.url}/v1/search", json={"query": QUESTION}, timeout=30)

    assert traffic.failures == [], f"{len(traffic.failures)} failed: {traffic.failures[:5]}"
    assert traffic.ok > 50
    assert served_by_second > 0

    upstreams = {e["upstream_addr"] for e in log if e["status"] == 200}
    answered_by = {a.strip() for u in upstreams for a in u.split(",")}
    assert {first.address, second.address} <= answered_by
    # The kills were survived by retries: attempts on a dead replica ("502" or a
    # refused connection) followed by a 200 from the other one, in the same request.
    retried = [e for e in log if "," in e["upstream_status"] and e["status"] == 200]
    assert retried, "no request was retried on the other replica"
    print(f"\n{traffic.ok} requests answered through nginx, 0 failed, {len(retried)} retried")
    assert all(e["request_id"] for e in log)

    assert down.status_code == 503
    assert down.headers["retry-after"] == "5"
    assert down.headers["x-request-id"] in down.json()["error"]


def test_request_id_is_kept_across_the_proxy(proxy: Nginx) -> None:
    r = httpx.post(
        f"{proxy.url}/v1/search",
        json={"query": QUESTION},
        headers={"X-Request-ID": "client-chosen-id.1"},
        timeout=30,
    )
    assert r.status_code == 200
    assert r.headers.get_list("x-request-id") == ["client-chosen-id.1"]
    # An id Citeline would reject is replaced by nginx's own, the same on both sides.
    r = httpx.get(f"{proxy.url}/readyz", headers={"X-Request-ID": "bad id!"}, timeout=10)
    rid = r.headers["x-request-id"]
    assert rid != "bad id!" and len(rid) == 32
    assert proxy.entry(lambda e: e["request_id"] == rid)


def test_streamed_answer_arrives_as_events(proxy: Nginx) -> None:
    events: list[tuple[str, dict]] = []
    with httpx.stream(
        "POST",
        f"{proxy.url}/v1/ask",
        json={"question": QUESTION, "stream": True},
        timeout=30,
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        event = ""
        for line in r.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((event, json.loads(line.split(":", 1)[1])))
    names = [name for name, _ in events]
    assert names[-1] == "done"
    citations = dict(events)["citations"]
    assert "SOCAR" in citations["answer"] and citations["citations"]


def test_proxy_answers_its_own_routes(proxy: Nginx) -> None:
    assert httpx.get(f"{proxy.url}/healthz", timeout=5).json() == {"status": "ok"}
    # Per-replica routes are not load-balanced.
    r = httpx.get(f"{proxy.url}/metrics", timeout=5)
    assert r.status_code == 404 and "each replica" in r.json()["error"]
    # The body limit matches the replicas' (CITELINE_MAX_BODY_BYTES default), as JSON.
    r = httpx.post(f"{proxy.url}/v1/search", content=b"x" * (256 * 1024 + 1), timeout=10)
    assert r.status_code == 413 and "262144 bytes" in r.json()["error"]
