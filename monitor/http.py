"""The one HTTP client of the project: fetch bytes politely, and say plainly why a fetch failed.

`HttpClient.fetch` does a conditional GET with timeouts, a size cap that also holds for decoded
(gzip/deflate) bytes, an overall deadline, redirects, per-host politeness and retries with backoff
honouring `Retry-After`. Every way a fetch can end is turned into a `FetchResult` or a typed
`FetchError` in one place: `_classify` for HTTP statuses, `_classify_exception` for everything else.
"""

from __future__ import annotations

import contextlib
import email.utils
import os
import random
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
import urllib3

from monitor.errors import (
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    InvalidURL,
    NetworkError,
    ResponseTooLarge,
    TLSError,
    TooManyRedirects,
)
from monitor.models import FetchResult

DEFAULT_USER_AGENT = "monitor/0.1 (sanctions event monitor)"

# Raw bytes asked of the socket per read; read1 returns sooner when fewer have arrived.
_CHUNK = 64 * 1024

# RFC 9110 §10.2.3 defines Retry-After for 503 (and 3xx); RFC 6585 §4 adds it to 429.
_RETRY_AFTER_STATUSES = frozenset({429, 503})


def _utc_now() -> datetime:
    return datetime.now(UTC)


class HttpClient:
    """One `requests.Session` and the policy around it; safe to share between polling threads."""

    def __init__(
        self,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        deadline: float = 120.0,
        max_bytes: int = 10_000_000,
        max_redirects: int = 5,
        retries: int = 3,
        backoff: float = 1.0,
        max_retry_wait: float = 60.0,
        min_host_interval: float = 0.0,
        host_intervals: Mapping[str, float] | None = None,
        per_host: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.retries = retries
        self.backoff = backoff
        self.max_retry_wait = max_retry_wait
        self._sleep = sleep
        self._monotonic = monotonic
        self._now = now
        self._rng = random.Random()
        self._hosts = _HostGate(min_host_interval, monotonic, sleep, host_intervals, per_host)
        self._session = requests.Session()
        # requests reads the proxy variables, netrc and CA-bundle variables on every request (0.5 ms of
        # CPU each): read them once here, and the proxies once per host (`_proxies`).
        self._session.trust_env = False
        self._session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self._proxy_cache: dict[tuple[str, str], dict[str, str]] = {}
        # Only codings we decode ourselves under the size cap (no br/zstd).
        self._session.headers.update({"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"})

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None,
              max_bytes: int | None = None) -> FetchResult:
        """GET `url`, conditionally when validators are given; raise a `FetchError` on failure.
        `max_bytes` replaces the client's size cap for this fetch (a large sanctions list)."""
        deadline = self._monotonic() + self.deadline
        headers = _conditional_headers(etag, last_modified)
        cap = max_bytes or self.max_bytes
        attempt = 0
        while True:
            try:
                return self._attempt(url, headers, deadline, cap)
            except FetchError as error:
                delay = self._retry_delay(error, attempt, deadline)
                if delay is None:
                    raise
                self._sleep(delay)
            attempt += 1

    def _retry_delay(self, error: FetchError, attempt: int, deadline: float) -> float | None:
        """The one retry policy: seconds to wait before trying again, or None to give up now."""
        if attempt >= self.retries:
            return None
        delay: float | None
        if error.retry_after is not None:
            # A long Retry-After is the caller's to honour (defer the source), not ours to block on.
            delay = error.retry_after if error.retry_after <= self.max_retry_wait else None
        elif isinstance(error, NetworkError) or (isinstance(error, HTTPStatusError) and error.status >= 500):
            delay = self._backoff(attempt)
        else:
            return None  # 4xx, timeouts, caps: trying again at once would not help (429: next cycle)
        if delay is None or self._monotonic() + delay > deadline:
            return None
        return delay

    def _backoff(self, attempt: int) -> float:
        # Exponential with up to +50 % jitter: waits always grow, and parallel pollers spread out.
        delay = self.backoff * 2.0**attempt * (1 + self._rng.random() / 2)
        return min(delay, self.max_retry_wait)

    def _attempt(self, url: str, headers: Mapping[str, str], deadline: float, cap: int) -> FetchResult:
        """One try, redirects included, with every low-level failure classified."""
        progress = _Progress(url, (self.connect_timeout, self.read_timeout), cap=cap)
        try:
            return self._follow_redirects(progress, headers, deadline)
        except (OSError, urllib3.exceptions.HTTPError, zlib.error, _Abort) as exc:
            # requests' exceptions are OSErrors; urllib3's come straight from response.raw.
            raise _classify_exception(exc, progress) from exc

    def _follow_redirects(self, progress: _Progress, headers: Mapping[str, str], deadline: float) -> FetchResult:
        # Followed by hand so that each hop waits its host's turn and counts against the deadline.
        visited: list[str] = []
        while len(visited) <= self.max_redirects:
            visited.append(progress.url)
            with self._hosts.turn(_host(progress.url)), self._send(progress, headers, deadline) as response:
                target = self._session.get_redirect_target(response)
                if target is None:
                    return self._outcome(response, progress, deadline)
                progress.url = urljoin(response.url, target)
        raise _RedirectLimit(self.max_redirects, visited)

    def _send(self, progress: _Progress, headers: Mapping[str, str], deadline: float) -> requests.Response:
        host = _host(progress.url)
        remaining = deadline - self._monotonic()
        if remaining <= 0:
            raise _Overdue(self.deadline)
        # Timeouts bound each socket operation; the deadline bounds their sum (checked between reads).
        progress.phase = f"waiting for a response from {host}"
        progress.timeouts = (min(self.connect_timeout, remaining), min(self.read_timeout, remaining))
        return self._session.get(
            progress.url, headers=headers, stream=True, allow_redirects=False, timeout=progress.timeouts,
            proxies=self._proxies(progress.url),
        )

    def _proxies(self, url: str) -> dict[str, str]:
        """HTTP(S)_PROXY / NO_PROXY from the environment for this URL's host, looked up once per host."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        found = self._proxy_cache.get(key)
        if found is None:
            found = self._proxy_cache[key] = dict(requests.utils.get_environ_proxies(url))
        return found

    def _outcome(self, response: requests.Response, progress: _Progress, deadline: float) -> FetchResult:
        error = _classify(response, progress.url, self._now())
        if error is not None:
            raise error
        if response.status_code == 304:
            _reusable(response)
            return self._result(response, b"", not_modified=True)
        body = self._read_body(response, progress, deadline)
        _reusable(response)
        return self._result(response, body)

    def _read_body(self, response: requests.Response, progress: _Progress, deadline: float) -> bytes:
        """Stream the body, decoding at most what the cap allows, checking the deadline between reads."""
        progress.phase = "reading the body"
        cap = progress.cap
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            raise _TooLarge(cap)
        decoder = _decoder_for(response.headers.get("Content-Encoding", ""))
        body = bytearray()
        raw_total = 0
        for chunk in _raw_chunks(response.raw):
            raw_total += len(chunk)
            body += decoder.feed(chunk, cap - len(body) + 1)
            progress.received = len(body)
            if max(raw_total, len(body)) > cap:
                raise _TooLarge(cap)
            if self._monotonic() > deadline:
                raise _Overdue(self.deadline)
        body += decoder.flush(cap - len(body) + 1)
        if len(body) > cap:
            raise _TooLarge(cap)
        return bytes(body)

    def _result(self, response: requests.Response, content: bytes, not_modified: bool = False) -> FetchResult:
        return FetchResult(
            url=response.url,
            status=response.status_code,
            content=content,
            headers={name.lower(): value for name, value in response.headers.items()},
            fetched_at=self._now(),
            not_modified=not_modified,
        )


def _reusable(response: requests.Response) -> None:
    """The body was read to its end (or there is none): closing the response hands the connection back
    to the pool instead of closing it, so the next request to the host skips the TCP (and TLS) setup.
    requests closes the socket of a streamed response it did not read itself."""
    response._content_consumed = True  # type: ignore[attr-defined]


class _HostGate:
    """Per-host politeness shared by all threads of a client: at most `per_host` requests in flight to
    one host, and a minimum gap between request starts (`interval`, or the host's own in `intervals`).

    A caller first takes one of the host's slots (waiting, if need be, for a request to that host to
    finish), then reserves the next free start time under the lock and sleeps outside it, so pollers
    of one host line up while other hosts go on.
    """

    def __init__(self, interval: float, monotonic: Callable[[], float], sleep: Callable[[float], None],
                 intervals: Mapping[str, float] | None = None, per_host: int | None = None) -> None:
        self._interval = interval
        self._intervals = {host.lower(): gap for host, gap in (intervals or {}).items()}
        self._per_host = per_host
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_start: dict[str, float] = {}
        self._slots: dict[str, threading.BoundedSemaphore] = {}

    def interval(self, host: str) -> float:
        return self._intervals.get(host.lower(), self._interval)

    @contextlib.contextmanager
    def turn(self, host: str) -> Iterator[None]:
        """Hold one of the host's slots for one request (headers and body), after its gap."""
        slot = self._slot(host)
        if slot is not None:
            slot.acquire()
        try:
            self.wait_turn(host)
            yield
        finally:
            if slot is not None:
                slot.release()

    def _slot(self, host: str) -> threading.BoundedSemaphore | None:
        if self._per_host is None:
            return None
        with self._lock:
            return self._slots.setdefault(host.lower(), threading.BoundedSemaphore(self._per_host))

    def wait_turn(self, host: str) -> None:
        interval = self.interval(host)
        if interval <= 0:
            return
        with self._lock:
            now = self._monotonic()
            start = max(now, self._next_start.get(host, now))
            self._next_start[host] = start + interval
        if start > now:
            self._sleep(start - now)


@dataclass
class _Progress:
    """Where one attempt is, so that a failure can be described: which URL, doing what, how far."""

    url: str
    timeouts: tuple[float, float]  # (connect, read) as used for this hop
    phase: str = "starting"
    received: int = 0
    cap: int = 10_000_000  # bytes


# ---- decoding under the cap -------------------------------------------------------------------


def _raw_chunks(raw: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    # read1 returns as soon as any bytes arrive, so a trickling server meets the deadline check.
    while chunk := raw.read1(_CHUNK, decode_content=False):
        yield chunk


class _Identity:
    def feed(self, data: bytes, limit: int) -> bytes:
        return data

    def flush(self, limit: int) -> bytes:
        return b""


class _Inflate:
    """gzip or deflate, never producing more than `limit` bytes per call, so a bomb cannot balloon."""

    def __init__(self, wbits: int, fallback_wbits: int | None = None) -> None:
        self._zlib = zlib.decompressobj(wbits)
        self._fallback_wbits = fallback_wbits
        self._fed = False

    def feed(self, data: bytes, limit: int) -> bytes:
        try:
            out = self._zlib.decompress(self._zlib.unconsumed_tail + data, limit)
        except zlib.error:
            if self._fed or self._fallback_wbits is None:
                raise
            # Some servers send raw deflate where RFC 9110 §8.4.1.2 says zlib: accept both.
            self._zlib = zlib.decompressobj(self._fallback_wbits)
            out = self._zlib.decompress(data, limit)
        self._fed = True
        return out

    def flush(self, limit: int) -> bytes:
        return self._zlib.flush(limit)


def _decoder_for(content_encoding: str) -> _Identity | _Inflate:
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return _Identity()
    if codings in (["gzip"], ["x-gzip"]):
        return _Inflate(16 + zlib.MAX_WBITS)
    if codings == ["deflate"]:
        return _Inflate(32 + zlib.MAX_WBITS, fallback_wbits=-zlib.MAX_WBITS)  # 32+: zlib or gzip header
    raise _Unsupported(content_encoding)


# ---- small helpers -----------------------------------------------------------------------------


def _conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    # RFC 9110 §13.1: send back the validators exactly as the server gave them.
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value: delay-seconds or an HTTP-date (RFC 9110 §10.2.3); None
    when absent or unreadable. The notifiers read their channels' answers with it too."""
    value = (value or "").strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to str.isdigit, not to float
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # HTTP-dates are always GMT
    return max(0.0, (when - now).total_seconds())


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname or url


def _redacted(url: str) -> str:
    # Credentials in a URL (user:password@host) never go into an error or a log.
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def _seconds(s: float) -> str:
    return f"{round(s, 2):g} s"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and all it wraps: requests and urllib3 nest the real cause several levels deep."""
    stack: list[BaseException] = [exc]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args)
        stack += [e for e in wrapped if isinstance(e, BaseException)]


def _caused_by(exc: BaseException, *kinds: type[BaseException]) -> BaseException | None:
    return next((e for e in _causes(exc) if isinstance(e, kinds)), None)


# ---- classification: the one place that says what happened -------------------------------------


class _Abort(Exception):
    """Raised inside an attempt by our own checks; `_classify_exception` words it for people."""


class _TooLarge(_Abort):
    def __init__(self, limit: int) -> None:
        self.limit = limit


class _Overdue(_Abort):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


class _RedirectLimit(_Abort):
    def __init__(self, limit: int, visited: list[str]) -> None:
        self.limit = limit
        self.visited = visited


class _Unsupported(_Abort):
    def __init__(self, coding: str) -> None:
        self.coding = coding


_BAD_URL = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
)


def _phrase(status: int) -> str:
    # The standard phrase, not the server's: some send none, some send nonsense.
    try:
        return " " + HTTPStatus(status).phrase
    except ValueError:
        return ""


def _advice(status: int, retry_after: float | None) -> str:
    wait = f"; it asks to wait {_seconds(retry_after)}" if retry_after is not None else ""
    if status == 429:
        return f"the server is rate-limiting this client; poll it less often{wait}"
    if status >= 500:
        return f"the server failed; a later attempt may succeed{wait}"
    if status in (401, 403):
        return "access denied; the source may need credentials or may block automated clients"
    if status in (404, 410):
        return "the feed moved or was removed; check the URL"
    if status < 400:
        return "a redirect without a usable Location header; check the URL"
    return "the server rejected the request; check the URL"


def _classify(response: requests.Response, url: str, now: datetime) -> HTTPStatusError | None:
    """None for a usable response (2xx, 304); otherwise an error that says what to do."""
    status = response.status_code
    if status < 300 or status == 304:
        return None
    retry_after = None
    if status in _RETRY_AFTER_STATUSES:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"), now)
    reason = f"HTTP {status}{_phrase(status)}: {_advice(status, retry_after)}"
    return HTTPStatusError(_redacted(url), status, reason, retry_after)


def _classify_exception(exc: BaseException, at: _Progress) -> FetchError:
    """Whatever stopped an attempt, as a typed error whose reason says what happened."""
    if isinstance(exc, _Abort):
        return _classify_abort(exc, at)
    url, host, (connect_s, read_s) = _redacted(at.url), _host(at.url), at.timeouts
    so_far = f" ({_size(at.received)} received)" if at.received else ""
    if isinstance(exc, _BAD_URL):
        return InvalidURL(url, "not a fetchable URL; it needs http:// or https:// and a host name")
    if tls := _caused_by(exc, ssl.SSLError) or _caused_by(exc, urllib3.exceptions.SSLError):
        return TLSError(url, f"TLS error with {host}: {_tls_detail(tls)}")
    if _caused_by(exc, urllib3.exceptions.NameResolutionError, socket.gaierror):
        return NetworkError(url, f"DNS lookup failed for host {host}; check the host name and the network")
    if _caused_by(exc, ConnectionRefusedError):
        return NetworkError(url, f"connection refused by {_host_port(at.url)}; the server is down or the port is wrong")
    if failed := _caused_by(exc, urllib3.exceptions.NewConnectionError):
        # Checked before timeouts: urllib3 derives NewConnectionError from ConnectTimeoutError.
        return NetworkError(url, f"could not connect to {_host_port(at.url)}{_os_detail(failed)}")
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return NetworkError(url, f"timed out after {_seconds(connect_s)} connecting to {host}")
    if _caused_by(exc, TimeoutError, urllib3.exceptions.TimeoutError):
        return FetchTimeout(url, f"timed out after {_seconds(read_s)} {at.phase}{so_far}")
    if _caused_by(exc, zlib.error, urllib3.exceptions.DecodeError):
        return FetchError(url, f"the compressed body is corrupt{so_far}; the server sent bad gzip/deflate")
    if _caused_by(exc, urllib3.exceptions.ProtocolError, ConnectionError):
        return NetworkError(url, f"the connection broke while {at.phase}{so_far}")
    return FetchError(url, f"{type(exc).__name__} while {at.phase}{so_far}")


def _classify_abort(exc: _Abort, at: _Progress) -> FetchError:
    """Our own checks (cap, deadline, redirects, encoding), worded for people."""
    url = _redacted(at.url)
    if isinstance(exc, _TooLarge):
        cap = _size(exc.limit)
        return ResponseTooLarge(url, f"response larger than {cap} cap; raise http max_bytes or pick a smaller feed")
    if isinstance(exc, _Overdue):
        so_far = f" ({_size(at.received)} received)" if at.received else ""
        return FetchTimeout(url, f"gave up after {_seconds(exc.seconds)} overall while {at.phase}{so_far}")
    if isinstance(exc, _RedirectLimit):
        loop = " (a redirect loop)" if len(set(exc.visited)) < len(exc.visited) else ""
        return TooManyRedirects(url, f"more than {exc.limit} redirects{loop}; check the feed URL")
    assert isinstance(exc, _Unsupported), exc
    return FetchError(url, f"unsupported Content-Encoding {exc.coding!r}; the server ignored Accept-Encoding")


def _os_detail(exc: BaseException) -> str:
    os_error = _caused_by(exc, OSError)
    strerror = getattr(os_error, "strerror", None)
    return f": {strerror}" if strerror else ""


def _tls_detail(exc: BaseException) -> str:
    detail = getattr(exc, "verify_message", None) or str(exc)
    return f"{detail}; check the URL's scheme, the server's certificate and the trusted CAs"
