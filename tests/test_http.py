"""HttpClient against a real server on loopback: one behaviour per test, and no real waiting.

Backoff and politeness waits go to an injected clock that only records them; the few tests
about timeouts use real time with small limits and finish in about a second.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from loopback import LAST_MODIFIED, Response

from monitor.errors import (
    FetchTimeout,
    HTTPStatusError,
    InvalidURL,
    NetworkError,
    ResponseTooLarge,
    TLSError,
    TooManyRedirects,
)
from monitor.http import DEFAULT_USER_AGENT, HttpClient, retry_after_seconds

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """Injected time: `sleep` records each wait and moves the clock on at once (unless frozen)."""

    def __init__(self, frozen: bool = False) -> None:
        self.elapsed = 0.0
        self.sleeps: list[float] = []
        self.frozen = frozen

    def monotonic(self) -> float:
        return self.elapsed

    def now(self) -> datetime:
        return START + timedelta(seconds=self.elapsed)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if not self.frozen:
            self.elapsed += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def client_on(clock: FakeClock, **settings: Any) -> HttpClient:
    return HttpClient(sleep=clock.sleep, monotonic=clock.monotonic, now=clock.now, **settings)


@pytest.fixture
def client(clock: FakeClock) -> Iterator[HttpClient]:
    with client_on(clock) as http:
        yield http


@pytest.fixture
def closed_port() -> int:
    """A local port nobody listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# ---- success ----


def test_ok_response_gives_the_body_final_url_and_lowercased_headers(loopback, client):
    url = loopback.serve_bytes("/feed.xml", b"<rss/>", content_type="application/rss+xml")

    result = client.fetch(url)

    assert result.status == 200
    assert result.content == b"<rss/>"
    assert result.url == url
    assert result.content_type == "application/rss+xml"
    assert all(name == name.lower() for name in result.headers)
    assert result.fetched_at == START
    assert not result.not_modified


def test_conditional_get_round_trip_ends_in_not_modified(loopback, client):
    first = client.fetch(loopback.url("/etag"))
    second = client.fetch(loopback.url("/etag"), etag=first.etag, last_modified=first.last_modified)

    assert first.status == 200 and first.content
    assert second.not_modified and second.status == 304 and second.content == b""
    before, after = loopback.requests_to("/etag")
    assert "if-none-match" not in before.headers
    assert after.headers["if-none-match"] == first.etag == '"v1"'
    assert after.headers["if-modified-since"] == LAST_MODIFIED


def test_user_agent_names_the_project(loopback, client):
    client.fetch(loopback.url("/status/200"))

    [request] = loopback.requests
    assert request.headers["user-agent"] == DEFAULT_USER_AGENT
    assert DEFAULT_USER_AGENT.startswith("monitor/")


def test_redirects_are_followed_to_the_final_url(loopback, client):
    result = client.fetch(loopback.url("/redirect/3"))

    assert result.content == b"redirected"
    assert result.url == loopback.url("/redirect/0")


@pytest.mark.parametrize(
    "encoding, pack",
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),  # the zlib format RFC 9110 means by "deflate"
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
    ],
    ids=["gzip", "deflate", "raw deflate"],
)
def test_compressed_bodies_are_decoded(loopback, client, encoding, pack):
    feed = b"<rss>" + b"<item>Alabuga</item>" * 500 + b"</rss>"
    url = loopback.serve_bytes("/feed.xml", pack(feed), headers={"Content-Encoding": encoding})

    assert client.fetch(url).content == feed
    assert loopback.requests[0].headers["accept-encoding"] == "gzip, deflate"


# ---- HTTP errors and retries ----


def test_not_found_is_final_and_says_what_to_do(loopback, client, clock):
    with pytest.raises(HTTPStatusError) as caught:
        client.fetch(loopback.url("/status/404"))

    error = caught.value
    assert error.status == 404 and not error.retryable
    assert error.reason == "HTTP 404 Not Found: the feed moved or was removed; check the URL"
    assert len(loopback.requests) == 1 and clock.sleeps == []


def test_server_error_is_retried_with_growing_waits(loopback, client, clock):
    url = loopback.serve_sequence("/flaky", [Response(500), Response(500), Response(200, b"ok")])

    assert client.fetch(url).content == b"ok"
    assert len(clock.sleeps) == 2
    assert 1.0 <= clock.sleeps[0] < clock.sleeps[1]


def test_server_error_that_persists_gives_up_after_the_retries(loopback, client, clock):
    with pytest.raises(HTTPStatusError) as caught:
        client.fetch(loopback.url("/status/500"))

    assert caught.value.retryable and caught.value.status == 500
    assert len(loopback.requests) == 4  # the first try and 3 retries
    assert clock.sleeps == sorted(clock.sleeps) and len(clock.sleeps) == 3


def test_short_retry_after_on_503_is_waited_out(loopback, client, clock):
    busy = Response(503, b"busy", {"Retry-After": "2"})
    url = loopback.serve_sequence("/busy", [busy, Response(200, b"ok")])

    assert client.fetch(url).content == b"ok"
    assert clock.sleeps == [2.0]


def test_retry_after_may_be_an_http_date(loopback, client, clock):
    in_five_seconds = format_datetime(START + timedelta(seconds=5), usegmt=True)
    busy = Response(503, b"busy", {"Retry-After": in_five_seconds})
    url = loopback.serve_sequence("/busy", [busy, Response(200, b"ok")])

    client.fetch(url)

    assert clock.sleeps == [5.0]


def test_long_retry_after_on_429_is_handed_to_the_caller_without_waiting(loopback, client, clock):
    with pytest.raises(HTTPStatusError) as caught:
        client.fetch(loopback.url("/retry-after/3600?status=429"))

    error = caught.value
    assert error.status == 429 and error.retryable and error.retry_after == 3600
    assert "asks to wait 3600 s" in error.reason
    assert clock.sleeps == [] and len(loopback.requests) == 1


def test_429_without_retry_after_waits_for_the_next_cycle(loopback, client, clock):
    with pytest.raises(HTTPStatusError) as caught:
        client.fetch(loopback.url("/status/429"))

    assert caught.value.retry_after is None
    assert clock.sleeps == [] and len(loopback.requests) == 1


# ---- connection failures ----


def test_refused_connection_is_a_retryable_network_error(client, clock, closed_port):
    with pytest.raises(NetworkError) as caught:
        client.fetch(f"http://127.0.0.1:{closed_port}/feed.xml")

    assert caught.value.retryable
    assert caught.value.reason.startswith(f"connection refused by 127.0.0.1:{closed_port}")
    assert len(clock.sleeps) == 3 and clock.sleeps == sorted(clock.sleeps)


def test_dns_failure_names_the_host(client, monkeypatch):
    def no_such_host(*args: object, **kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)

    with pytest.raises(NetworkError) as caught:
        client.fetch("http://feeds.example.invalid/rss")

    assert caught.value.reason.startswith("DNS lookup failed for host feeds.example.invalid")


def test_tls_failure_is_final(loopback, client, clock):
    with pytest.raises(TLSError) as caught:  # https to a plain-HTTP port: the handshake fails
        client.fetch(f"https://127.0.0.1:{loopback.port}/status/200")

    assert not caught.value.retryable
    assert caught.value.reason.startswith("TLS error with 127.0.0.1: ")
    assert clock.sleeps == []


def test_truncated_body_is_a_retryable_network_error(loopback, client):
    url = loopback.serve("/cut", Response(200, b"short", {"Content-Length": "100"}))

    with pytest.raises(NetworkError) as caught:
        client.fetch(url)

    assert caught.value.reason == "the connection broke while reading the body (5 bytes received)"


def test_a_url_that_cannot_be_fetched_is_a_config_error(client):
    with pytest.raises(InvalidURL) as caught:
        client.fetch("feeds.example.org/rss")

    assert not caught.value.retryable


def test_credentials_in_the_url_stay_out_of_errors(client, closed_port):
    with pytest.raises(NetworkError) as caught:
        client.fetch(f"http://reader:s3cret@127.0.0.1:{closed_port}/feed.xml")

    assert "s3cret" not in str(caught.value)
    assert caught.value.url == f"http://127.0.0.1:{closed_port}/feed.xml"


# ---- redirects, caps and deadlines ----


def test_redirect_loop_ends_in_too_many_redirects(loopback, client):
    with pytest.raises(TooManyRedirects) as caught:
        client.fetch(loopback.url("/redirect-loop"))

    assert caught.value.reason == "more than 5 redirects (a redirect loop); check the feed URL"
    assert len(loopback.requests) == 6  # the first request and 5 redirects followed


def test_redirect_chain_longer_than_the_limit_is_refused(loopback, clock):
    with client_on(clock, max_redirects=2) as client, pytest.raises(TooManyRedirects):
        client.fetch(loopback.url("/redirect/3"))


@pytest.mark.parametrize(
    "path",
    ["/big?size=50000000", "/big?size=50000000&content_length=0"],
    ids=["announced by Content-Length", "streamed without Content-Length"],
)
def test_body_over_the_cap_is_refused_quickly(loopback, clock, path):
    started = time.perf_counter()
    with client_on(clock, max_bytes=1_000_000) as client, pytest.raises(ResponseTooLarge) as caught:
        client.fetch(loopback.url(path))

    assert time.perf_counter() - started < 1.0
    assert caught.value.reason == "response larger than 1 MB cap; raise http max_bytes or pick a smaller feed"
    assert not caught.value.retryable


def test_gzip_bomb_is_stopped_at_the_cap_without_decoding_it_all(loopback, clock):
    tracemalloc.start()
    try:
        with client_on(clock, max_bytes=1_000_000) as client, pytest.raises(ResponseTooLarge):
            client.fetch(loopback.url("/gzip-bomb?size=100000000"))  # 100 kB that inflate to 100 MB
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 10_000_000


def test_slow_loris_ends_at_the_deadline(loopback):
    started = time.monotonic()
    with HttpClient(read_timeout=0.5, deadline=1.0) as client, pytest.raises(FetchTimeout) as caught:
        client.fetch(loopback.url("/slow?interval=0.05"))  # a byte every 50 ms, never done

    assert time.monotonic() - started < 3.0
    assert caught.value.reason.startswith("gave up after 1 s overall while reading the body (")


def test_silent_server_times_out_waiting_for_the_response(loopback):
    started = time.monotonic()
    with HttpClient(read_timeout=0.3) as client, pytest.raises(FetchTimeout) as caught:
        client.fetch(loopback.url("/delay/10"))

    assert time.monotonic() - started < 2.0
    assert caught.value.reason == "timed out after 0.3 s waiting for a response from 127.0.0.1"


# ---- politeness ----


def test_requests_to_one_host_keep_the_minimum_gap(loopback, clock):
    with client_on(clock, min_host_interval=5.0) as client:
        client.fetch(loopback.url("/status/200"))
        client.fetch(loopback.url("/status/200"))
        assert clock.sleeps == [5.0]

        clock.elapsed += 60  # long after: no wait
        client.fetch(loopback.url("/status/200"))
        assert clock.sleeps == [5.0]


def test_parallel_pollers_of_one_host_line_up(loopback):
    clock = FakeClock(frozen=True)  # every thread sees the same instant
    with client_on(clock, min_host_interval=5.0) as client:
        threads = [threading.Thread(target=client.fetch, args=(loopback.url("/status/200"),)) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=5)

    assert sorted(clock.sleeps) == [5.0, 10.0]
    assert len(loopback.requests) == 3


def test_other_hosts_are_not_held_back(loopback, clock):
    with client_on(clock, min_host_interval=5.0) as client:
        client.fetch(loopback.url("/status/200"))
        client.fetch(f"http://localhost:{loopback.port}/status/200")

    assert clock.sleeps == []


@pytest.mark.parametrize("value", ["", "soon", "-5", "²", "١٢", "Thu, 99 Jun 2025 25:00:00 GMT"])
def test_an_unreadable_retry_after_is_none(value):
    assert retry_after_seconds(value, START) is None
