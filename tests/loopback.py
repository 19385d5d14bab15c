"""A real HTTP server on 127.0.0.1 for tests: scenario routes, recorded requests, port 0.

    with LoopbackServer() as server:
        url = server.serve_bytes("/feed.xml", FEED, content_type="application/rss+xml")
        server.serve_sequence("/flaky", [Response(503), Response(200, b"ok")])
        ...  # run the code under test against `url`
        [request] = server.wait_for_requests(1, path="/feed.xml")
        assert request.headers["user-agent"].startswith("monitor/")

Registered paths win over the built-in scenarios:

    /status/{code}           that status, a short text body
    /redirect/{n}            n redirects, then 200 "redirected"
    /redirect-loop           302 to itself, forever
    /slow?interval=0.1       200 at once, then one byte per interval until the client or the server quits
    /delay/{seconds}         the whole response only after that many seconds
    /big?size=N              N bytes streamed (default 20 MB); &content_length=0 sends it chunked, unannounced
    /gzip-bomb?size=N        Content-Encoding: gzip, N zero bytes once decoded (default 100 MB, ~100 kB sent)
    /etag                    ETag and Last-Modified; If-None-Match or If-Modified-Since that match give 304
    /retry-after/{value}     503 (or ?status=429) with `Retry-After: value`

Handlers run in the server's threads. A streaming body (any iterable of bytes) is sent chunked unless
the response names a Content-Length; long-running handlers should wait on `server.stopping` rather
than sleep, so that `stop()` is quick.
"""

from __future__ import annotations

import functools
import mimetypes
import socketserver
import sys
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

ETAG = '"v1"'
LAST_MODIFIED = "Wed, 01 Jan 2025 00:00:00 GMT"
ETAG_BODY = b"<rss><channel><title>etag scenario</title></channel></rss>"

_FEED_TYPES = {
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
}


@dataclass(frozen=True)
class Response:
    """What the server sends. `body` may be an iterable of chunks, streamed as they are produced."""

    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    """What the server received. Header names are lower-cased."""

    method: str
    path: str
    params: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = b""


Handler = Callable[[Request], Response]


class LoopbackServer:
    """A ThreadingHTTPServer in a background thread, bound to a free port on 127.0.0.1."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.stopping = threading.Event()
        self._routes: dict[str, Handler] = {}
        self._requests: list[Request] = []
        self._changed = threading.Condition()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----

    def start(self) -> LoopbackServer:
        self._httpd = _Server((self.host, 0), _RequestHandler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="loopback", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # ends streaming and delayed responses
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start() the server first"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # ---- routes ----

    def route(self, path: str, handler: Handler) -> str:
        """Answer requests to exactly `path` (query ignored) with `handler`; returns the URL."""
        self._routes[path] = handler
        return self.url(path)

    def serve(self, path: str, response: Response) -> str:
        """The same response every time. (A streamed body is used up once: use `route` to make a fresh one.)"""
        return self.route(path, lambda request: response)

    def serve_bytes(
        self,
        path: str,
        body: bytes,
        *,
        content_type: str | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Serve fixed bytes; the content type is guessed from the path's suffix when not given."""
        all_headers = {"Content-Type": content_type or _guess_type(path), **(headers or {})}
        return self.serve(path, Response(status, body, all_headers))

    def serve_file(self, path: str, file: str | Path, *, content_type: str | None = None) -> str:
        """Serve a file's bytes, read now; the content type is guessed from `file` when not given."""
        file = Path(file)
        return self.serve_bytes(path, file.read_bytes(), content_type=content_type or _guess_type(file.name))

    def serve_sequence(self, path: str, responses: Sequence[Response]) -> str:
        """Successive requests get successive responses; the last one repeats once all are used."""
        assert responses, "serve_sequence needs at least one response"
        remaining = list(responses)
        lock = threading.Lock()

        def next_response(request: Request) -> Response:
            with lock:
                return remaining.pop(0) if len(remaining) > 1 else remaining[0]

        return self.route(path, next_response)

    # ---- what was received ----

    @property
    def requests(self) -> list[Request]:
        with self._changed:
            return list(self._requests)

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def wait_for_requests(self, count: int, *, path: str | None = None, timeout: float = 5.0) -> list[Request]:
        """Block until `count` requests (to `path`, if given) have arrived, or fail after `timeout` s."""

        def matching() -> list[Request]:
            return [r for r in self._requests if path is None or r.path == path]

        with self._changed:
            if not self._changed.wait_for(lambda: len(matching()) >= count, timeout):
                got = len(matching())
                raise AssertionError(f"expected {count} requests to {path or 'any path'}, got {got} in {timeout} s")
            return matching()

    # ---- used by the handler thread ----

    def _record(self, request: Request) -> None:
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()

    def _respond(self, request: Request) -> Response:
        handler = self._routes.get(request.path)
        if handler is not None:
            return handler(request)
        return _builtin(request, self.stopping) or Response(404, b"no route for " + request.path.encode())


# ---- the built-in scenarios ----


def _builtin(request: Request, stopping: threading.Event) -> Response | None:
    head, _, rest = request.path.lstrip("/").partition("/")
    scenarios: dict[str, Callable[[], Response]] = {
        "status": lambda: Response(int(rest), f"status {rest}".encode(), {"Content-Type": "text/plain"}),
        "redirect": lambda: _redirect_chain(int(rest)),
        "redirect-loop": lambda: Response(302, b"", {"Location": "/redirect-loop"}),
        "slow": lambda: _slow(float(request.params.get("interval", "0.1")), stopping),
        "delay": lambda: _delayed(float(rest), stopping),
        "big": lambda: _big(int(request.params.get("size", 20_000_000)), request.params, stopping),
        "gzip-bomb": lambda: _gzip_bomb(int(request.params.get("size", 100_000_000))),
        "etag": lambda: _etag(request),
        "retry-after": lambda: _retry_after(unquote(rest), int(request.params.get("status", 503))),
    }
    scenario = scenarios.get(head)
    return scenario() if scenario else None


def _redirect_chain(n: int) -> Response:
    if n <= 0:
        return Response(200, b"redirected", {"Content-Type": "text/plain"})
    return Response(302, b"", {"Location": f"/redirect/{n - 1}"})


def _slow(interval: float, stopping: threading.Event) -> Response:
    def trickle() -> Iterator[bytes]:
        while not stopping.wait(interval):
            yield b"."

    return Response(200, trickle(), {"Content-Type": "text/plain"})


def _delayed(seconds: float, stopping: threading.Event) -> Response:
    stopping.wait(seconds)
    return Response(200, b"late", {"Content-Type": "text/plain"})


def _big(size: int, params: Mapping[str, str], stopping: threading.Event) -> Response:
    def chunks() -> Iterator[bytes]:
        block = b"x" * 65536
        for start in range(0, size, len(block)):
            if stopping.is_set():
                return
            yield block[: size - start]

    headers = {"Content-Type": "application/octet-stream"}
    if params.get("content_length", "1") != "0":
        headers["Content-Length"] = str(size)
    return Response(200, chunks(), headers)


@functools.lru_cache(maxsize=4)
def _gzip_zeros(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    parts = [packer.compress(block[: min(len(block), size - start)]) for start in range(0, size, len(block))]
    return b"".join(parts) + packer.flush()


def _gzip_bomb(size: int) -> Response:
    headers = {"Content-Type": "application/xml", "Content-Encoding": "gzip"}
    return Response(200, _gzip_zeros(size), headers)


def _etag(request: Request) -> Response:
    validators = {"ETag": ETAG, "Last-Modified": LAST_MODIFIED}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        # RFC 9110 §13.1.2: a list of tags, weak comparison, or "*".
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        fresh = "*" in tags or ETAG in tags
    else:
        fresh = request.headers.get("if-modified-since") == LAST_MODIFIED
    if fresh:
        return Response(304, b"", validators)
    return Response(200, ETAG_BODY, {"Content-Type": "application/rss+xml", **validators})


def _retry_after(value: str, status: int) -> Response:
    return Response(status, b"come back later", {"Retry-After": value, "Content-Type": "text/plain"})


def _guess_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return _FEED_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


# ---- the HTTP plumbing ----


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a client that keeps a connection open must not block stop()

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], app: LoopbackServer):
        self.app = app
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-request (a cap or a deadline hit) is a scenario, not a failure.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look up our own name (socket.getfqdn): no lookups in tests.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.app.host, int(self.server_address[1])


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart
    timeout = 10  # an idle keep-alive connection ends on its own

    def do_GET(self) -> None:
        app = cast(_Server, self.server).app
        request = self._read_request()
        app._record(request)
        response = app._respond(request)
        try:
            self._write(response)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away: that is its right

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output quiet

    def _read_request(self) -> Request:
        target = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        return Request(
            method=self.command,
            path=target.path,
            params=dict(parse_qsl(target.query)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        names = {name.lower() for name in response.headers}
        for name, value in response.headers.items():
            self.send_header(name, value)
        # A declared Content-Length may be a lie on purpose (truncation tests): close after the body.
        self.close_connection = self.close_connection or "content-length" in names
        has_body = self.command != "HEAD" and response.status not in (204, 304)
        if isinstance(response.body, bytes):
            if "content-length" not in names and response.status not in (204, 304):
                self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if has_body:
                self.wfile.write(response.body)
        elif "content-length" in names:
            self.end_headers()
            for chunk in response.body if has_body else ():
                self.wfile.write(chunk)
        else:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._write_chunked(response.body if has_body else ())

    def _write_chunked(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")
