"""A local Slack Web API on the loopback server, for slack-sdk's `WebClient(base_url=...)`.

    slack = SlackAPI(loopback)                      # routes /api/chat.postMessage and /api/chat.update
    client = WebClient(token=slack.token, base_url=slack.base_url)
    slack.fail_next(slack.rate_limited(retry_after=1), slack.server_error())
    ...
    [message] = slack.wait_for_messages(1)

It answers like Slack: HTTP 200 with `{"ok": true, "channel": "C…", "ts": "…"}` for an accepted message,
HTTP 200 with `{"ok": false, "error": "channel_not_found"}` (or `invalid_auth`, `not_in_channel`,
`message_not_found`) for a refusal, 429 with `Retry-After` for a rate limit; scripted failures are
answered first, in order. Accepted messages are kept with their thread, text and blocks.
"""

from __future__ import annotations

import itertools
import json
import threading
from typing import Any
from urllib.parse import parse_qsl

from loopback import LoopbackServer, Request, Response

TOKEN = "xoxb-test-0000-secret-token"


class SlackAPI:
    def __init__(self, server: LoopbackServer, token: str = TOKEN,
                 channels: dict[str, str] | None = None, members_of: set[str] | None = None) -> None:
        self.server = server
        self.token = token
        self.channels = channels or {"#sanctions-alerts": "C0ALERTS", "#desk": "C0DESK", "#private": "C0PRIV"}
        self.members_of = members_of if members_of is not None else {"C0ALERTS", "C0DESK"}
        self.messages: list[dict[str, Any]] = []  # accepted chat.postMessage calls
        self.updates: list[dict[str, Any]] = []  # accepted chat.update calls
        self.calls: list[tuple[str, dict[str, Any]]] = []  # every call received, answered or not
        self._script: list[Response] = []
        self.down: Response | None = None  # while set, every call gets this answer
        self._lock = threading.Condition()
        self._ts = itertools.count(1)
        server.route("/api/chat.postMessage", lambda r: self._answer("chat.postMessage", r))
        server.route("/api/chat.update", lambda r: self._answer("chat.update", r))
        server.route("/api/auth.test", lambda r: self._answer("auth.test", r))

    @property
    def base_url(self) -> str:
        return self.server.url("/api/")

    # --- scripting ---

    def fail_next(self, *responses: Response) -> None:
        """The next calls get these answers, in order, before Slack behaves normally again."""
        with self._lock:
            self._script += responses

    @staticmethod
    def rate_limited(retry_after: int = 1) -> Response:
        return Response(429, b'{"ok": false, "error": "ratelimited"}',
                        {"Retry-After": str(retry_after), "Content-Type": "application/json"})

    @staticmethod
    def server_error(status: int = 500) -> Response:
        return Response(status, b"<html><body>Slack is having trouble</body></html>", {"Content-Type": "text/html"})

    @staticmethod
    def error(code: str) -> Response:
        return Response(200, json.dumps({"ok": False, "error": code}).encode(), {"Content-Type": "application/json"})

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(f"expected {count} messages, Slack accepted {len(self.messages)}")
            return list(self.messages)

    def thread(self, ts: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("thread_ts") == ts]

    # --- the API ---

    def _answer(self, method: str, request: Request) -> Response:
        args = _arguments(request)
        with self._lock:
            self.calls.append((method, args))
            if self._script:
                return self._script.pop(0)
            if self.down is not None:
                return self.down
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return self.error("invalid_auth")
        if method == "auth.test":
            return _ok({"team": "Sanctions desk", "user": "monitor", "user_id": "U0MONITOR"})
        channel = self.channels.get(args.get("channel", ""), args.get("channel", ""))
        if channel not in self.channels.values():
            return self.error("channel_not_found")
        if channel not in self.members_of:
            return self.error("not_in_channel")
        with self._lock:
            if method == "chat.update":
                return self._update(channel, args)
            ts = f"1750323600.{next(self._ts):06d}"
            self.messages.append({**args, "channel": channel, "ts": ts})
            self._lock.notify_all()
        return _ok({"channel": channel, "ts": ts, "message": {"text": args.get("text", "")}})

    def _update(self, channel: str, args: dict[str, Any]) -> Response:
        if not any(m["ts"] == args.get("ts") and m["channel"] == channel for m in self.messages):
            return self.error("message_not_found")
        self.updates.append({**args, "channel": channel})
        return _ok({"channel": channel, "ts": args["ts"]})


def _arguments(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("application/json"):
        data: dict[str, Any] = json.loads(request.body or b"{}")
        return data
    return dict(parse_qsl(request.body.decode()))


def _ok(data: dict[str, Any]) -> Response:
    return Response(200, json.dumps({"ok": True, **data}).encode(), {"Content-Type": "application/json"})
