"""The bundled sample feeds, served on a loopback port so `monitor demo` needs no network."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources


def bundled_feeds() -> dict[str, bytes]:
    """Feed name (file stem) → bytes, from the package's `demo/feeds/`."""
    folder = resources.files("monitor.demo").joinpath("feeds")
    return {
        entry.name.removesuffix(".xml"): entry.read_bytes()
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".xml")
    }


@contextmanager
def serve(feeds: dict[str, bytes]) -> Iterator[str]:
    """Serve each feed at `/NAME.xml` on 127.0.0.1 (a free port); yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            body = feeds.get(self.path.strip("/").removesuffix(".xml"))
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: object) -> None:
            pass  # the demo's output is the alerts

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
