"""Fetching against a real HTTP server on 127.0.0.1 (allowed by name in the URL policy, as a
deployment's allow-list would), and the URL safety rules."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from ingest.fetch import Fetcher, FetchError, FetchPolicy, Validators
from ingest.urlsafety import UnsafeURL, URLPolicy, check_url
from tests.ingest.webserver import Reply, Site, serve

ARTICLE = "<html><body><article><p>" + "Harbour news. " * 50 + "</p></article></body></html>"
LOCAL = URLPolicy.of(["127.0.0.1"])


@pytest.fixture
def site() -> Iterator[Site]:
    with serve() as s:
        s.page("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")
        s.page("/article", ARTICLE)
        yield s


def fetcher(**kw: object) -> Fetcher:
    options: dict[str, object] = {"per_host_delay": 0.0, "timeout": 2.0, "urls": LOCAL, **kw}
    return Fetcher(FetchPolicy(**options))  # type: ignore[arg-type]


def test_fetch_sends_user_agent_and_honours_conditional_get(site: Site) -> None:
    with fetcher() as f:
        first = f.get(site.url("/article"))
        assert first.status == 200 and first.body.decode() == ARTICLE
        assert first.validators.etag and first.validators.last_modified
        again = f.get(site.url("/article"), validators=first.validators)
    assert again.not_modified and again.body == b""
    (_, conditional) = site.requests_to("/article")
    assert conditional.headers["if-none-match"] == first.validators.etag
    assert conditional.headers["user-agent"].startswith("Citeline/")
    assert site.requests_to("/robots.txt")  # asked once per host
    assert len(site.requests_to("/robots.txt")) == 1


@pytest.mark.parametrize(
    ("path", "reply", "reason"),
    [
        ("/missing", None, "HTTP 404"),
        ("/broken", Reply(500, b"oops", "text/plain"), "HTTP 500"),
        ("/slow", Reply(body=ARTICLE.encode(), delay=3.0), "timed out"),
        ("/loop", Reply(301, headers={"Location": "/loop"}), "more than 5 redirects"),
        ("/huge", Reply(body=b"x" * 300_000), "byte cap"),
        (
            "/image",
            Reply(body=b"\x89PNG....", content_type="image/png"),
            "unsupported content type",
        ),
        ("/private/report", Reply(body=ARTICLE.encode()), "robots.txt disallows"),
    ],
)
def test_fetch_faults_are_reported(site: Site, path: str, reply: Reply | None, reason: str) -> None:
    if reply is not None:
        site.routes[path] = reply
    with fetcher(max_bytes=200_000) as f:
        with pytest.raises(FetchError) as caught:
            f.get(site.url(path))
        assert reason in caught.value.reason
        # The fetcher stays usable after a fault.
        assert f.get(site.url("/article")).status == 200


def test_redirects_are_followed_within_the_limit(site: Site) -> None:
    site.routes["/old"] = Reply(301, headers={"Location": "/article"})
    with fetcher() as f:
        fetched = f.get(site.url("/old"))
    assert fetched.final_url == site.url("/article")
    assert fetched.status == 200


def test_redirect_to_a_private_address_is_refused(site: Site) -> None:
    site.routes["/jump"] = Reply(302, headers={"Location": "http://169.254.169.254/latest/"})
    with fetcher() as f, pytest.raises(FetchError) as caught:
        f.get(site.url("/jump"))
    assert "169.254.169.254" in caught.value.reason


def test_per_host_delay_spaces_requests(site: Site) -> None:
    with fetcher(per_host_delay=0.3) as f:
        for _ in range(3):
            f.get(site.url("/article"))
    times = [r.at for r in site.log]  # robots.txt, then three pages
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 4
    # Server arrival times jitter by the connection set-up; the spacing holds on average.
    assert all(gap >= 0.2 for gap in gaps), gaps
    assert times[-1] - times[0] >= 0.85, gaps


def test_local_server_is_refused_without_the_allow_list(site: Site) -> None:
    with Fetcher(FetchPolicy(per_host_delay=0.0)) as f, pytest.raises(FetchError) as caught:
        f.get(site.url("/article"))
    assert "non-public address" in caught.value.reason
    assert site.log == []  # refused before any connection


# --------------------------------------------------------------------------- URL safety


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.1.2.3:8080/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.0.0.5/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[fe80::1]/",
        "http://[fd00:ec2::254]/",
        "http://localhost/",
    ],
)
def test_private_addresses_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURL):
        check_url(url, URLPolicy())


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://x/", "javascript:alert(1)"]
)
def test_only_http_and_https(url: str) -> None:
    with pytest.raises(UnsafeURL, match="only http and https"):
        check_url(url, URLPolicy(allow_private=True))


def test_every_resolved_address_is_checked() -> None:
    # No DNS server here can be made to answer with chosen records, so a resolver is injected
    # (the only fake in this file): a name with a public and a private record is refused.
    def resolver(host: str, port: int) -> list[str]:
        return {
            "mixed.example": ["93.184.216.34", "10.1.2.3"],
            "ten.example": ["10.9.9.9"],
            "public.example": ["93.184.216.34"],
        }[host]

    policy = URLPolicy(resolver=resolver)
    for name in ("mixed.example", "ten.example"):
        with pytest.raises(UnsafeURL, match="10\\."):
            check_url(f"https://{name}/feed.xml", policy)
    assert check_url("https://public.example/", policy) == ["93.184.216.34"]
    allowed = URLPolicy(allow=("10.0.0.0/8",), resolver=resolver)
    assert check_url("https://ten.example/", allowed) == ["10.9.9.9"]
    assert check_url("https://ten.example/", URLPolicy(allow=("ten.example",), resolver=resolver))


def test_allow_list_names_hosts_addresses_and_networks() -> None:
    assert check_url("http://127.0.0.1:9/", URLPolicy.of(["127.0.0.1"])) == ["127.0.0.1"]
    assert check_url("http://[::1]/", URLPolicy.of(["::1"])) == ["::1"]
    assert check_url("http://10.2.3.4/", URLPolicy.of(["10.0.0.0/8"])) == ["10.2.3.4"]
    with pytest.raises(UnsafeURL):
        check_url("http://10.2.3.4/", URLPolicy.of(["192.168.0.0/16"]))
    with pytest.raises(UnsafeURL, match="user name or password"):
        check_url("http://user:pw@127.0.0.1/", URLPolicy.of(["127.0.0.1"]))


def test_validators_become_conditional_headers() -> None:
    assert Validators('"abc"', "Wed, 01 Jan 2025 00:00:00 GMT").headers() == {
        "If-None-Match": '"abc"',
        "If-Modified-Since": "Wed, 01 Jan 2025 00:00:00 GMT",
    }
    assert Validators().headers() == {}
