"""Serving the app: waitress in a thread (pure Python, threads, no event loop: it sits beside the daemon's
scheduler threads and the synchronous store), and the rule that an exposed view needs credentials."""

from __future__ import annotations

import ipaddress
import threading
from types import TracebackType
from typing import Any

from waitress.server import create_server

from monitor.config import WebConfig
from monitor.errors import ConfigError


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(web: WebConfig, host: str) -> None:
    """Binding to anything but loopback needs `[web] username` and MONITOR_WEB__PASSWORD."""
    if is_loopback(host):
        return
    missing = [what for what, given in (("[web] username in the config", web.username),
                                        ("the password in the environment variable MONITOR_WEB__PASSWORD",
                                         web.password and web.password.get_secret_value())) if not given]
    if missing:
        raise ConfigError([f"web: serving on {host} (not a loopback address) needs a login; set "
                           + " and ".join(missing) + ", or serve on 127.0.0.1 behind your own proxy"])


class WebServer:
    """A WSGI app served on (host, port) in a background thread; port 0 takes a free one."""

    def __init__(self, app: Any, host: str, port: int, threads: int = 8) -> None:
        self._server = create_server(app, host=host, port=port, threads=threads, ident="monitor",
                                     clear_untrusted_proxy_headers=True)
        self.host = host
        self.port = int(self._server.effective_port)
        self._thread = threading.Thread(target=self._server.run, name="monitor-web", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> WebServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
