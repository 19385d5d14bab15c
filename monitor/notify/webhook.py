"""A generic webhook: each alert as a JSON POST, signed with HMAC-SHA256.

The receiver checks `X-Monitor-Signature: sha256=<hex>`, the HMAC-SHA256 with the shared secret of
`<X-Monitor-Timestamp>.` followed by the raw body, and may refuse old timestamps (replays).
`X-Monitor-Delivery` is the same on every try of one alert to one webhook: a receiver that keeps the
ones it has seen drops the one repeat a crash can cause. See docs/notifications.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

import requests

from monitor.errors import DeliveryError
from monitor.http import retry_after_seconds
from monitor.models import Alert
from monitor.notify import Outcome, Receipt, Thread

USER_AGENT = "monitor-webhook/1"


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def payload(alert: Alert, notifier: str) -> bytes:
    record = {"version": 1, "notifier": notifier, "sources": alert.source_count, "alert": alert.to_dict()}
    return json.dumps(record, ensure_ascii=False, sort_keys=True).encode()


class WebhookNotifier:
    def __init__(self, name: str, url: str, secret: bytes, timeout: float, now: Callable[[], datetime],
                 session: requests.Session | None = None) -> None:
        self.name = name
        self.url = url
        self.timeout = timeout
        self.now = now
        self._secret = secret
        self._session = session or requests.Session()
        self._where = urlsplit(url).netloc  # for messages: the query may hold a token

    def send(self, alert: Alert, thread: Thread | None) -> Receipt:
        body = payload(alert, self.name)
        timestamp = str(int(self.now().timestamp()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "X-Monitor-Event": alert.kind.value,
            "X-Monitor-Delivery": f"{self.name}:{alert.id}",
            "X-Monitor-Timestamp": timestamp,
            "X-Monitor-Signature": signature(self._secret, timestamp, body),
        }
        try:
            response = self._session.post(self.url, data=body, headers=headers, timeout=self.timeout,
                                          allow_redirects=False)
        except requests.RequestException as exc:
            raise DeliveryError(f"cannot reach the webhook at {self._where}: {type(exc).__name__}",
                                retryable=True) from None
        if 200 <= response.status_code < 300:
            return Receipt(Outcome.SENT, self._where)  # no ref: a webhook has no thread to reply to
        raise self._refused(response)

    def _refused(self, response: requests.Response) -> DeliveryError:
        status = response.status_code
        said = f"the webhook at {self._where} answered HTTP {status}"
        if status in (408, 425, 429) or status >= 500:
            return DeliveryError(said, retryable=True,
                                 retry_after=retry_after_seconds(response.headers.get("Retry-After"), self.now()))
        hint = {401: "check the secret", 403: "check the secret", 404: "check url",
                410: "the receiver is gone: check url"}.get(status, "the receiver refused the alert")
        if 300 <= status < 400:
            hint = "it redirects; set url to the address it redirects to"
        return DeliveryError(f"{said}: {hint}", retryable=False)
