"""The generic webhook: a signed JSON POST per alert, against a receiver on loopback that checks it."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from pathlib import Path

import pytest
from loopback import LoopbackServer, Request, Response
from notify_support import Clock, Newsroom, alert

from monitor.config import Settings, WebhookConfig
from monitor.daemon import build_notifier, build_notifiers
from monitor.errors import ConfigError, DeliveryError
from monitor.notify.outbox import Outbox
from monitor.notify.webhook import WebhookNotifier
from monitor.store import open_store

SECRET = "whsec-test-5f9c2b"


def verify(request: Request, secret: str = SECRET) -> bool:
    """What a receiver does (docs/notifications.md)."""
    timestamp = request.headers["x-monitor-timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(request.headers["x-monitor-signature"], "sha256=" + expected)


def hook(url: str, clock: Clock) -> WebhookNotifier:
    config = WebhookConfig(name="siem", kind="webhook", url=url, timeout="5s")
    built = build_notifier(config, {"MONITOR_WEBHOOK_SECRET": SECRET}, clock)
    assert isinstance(built, WebhookNotifier)
    return built


def test_each_alert_is_a_signed_json_post(loopback: LoopbackServer, tmp_path: Path) -> None:
    clock = Clock()
    received: list[Request] = []

    def receiver(request: Request) -> Response:
        received.append(request)
        return Response(204 if verify(request) else 401)

    url = loopback.route("/hooks/monitor", receiver)
    store = open_store(f"sqlite:///{tmp_path / 'monitor.db'}")
    Newsroom(store, clock).report("https://en.yna.co.kr/view/1")
    report = Outbox(store, {"siem": hook(url + "?token=abc", clock)}, [], clock, clock.sleep).deliver()
    assert report.sent == 1
    [request] = received
    body = json.loads(request.body)
    assert body["version"] == 1 and body["notifier"] == "siem" and body["sources"] == 1
    assert body["alert"]["rule_id"] == "dprk-labor" and body["alert"]["kind"] == "alert"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.headers["x-monitor-event"] == "alert" and request.headers["x-monitor-delivery"] == "siem:1"
    assert request.headers["x-monitor-timestamp"] == str(int(clock.now.timestamp()))


def test_a_wrong_secret_does_not_verify(loopback: LoopbackServer) -> None:
    received: list[Request] = []
    url = loopback.route("/h", lambda r: received.append(r) or Response(200))
    hook(url, Clock()).send(alert(), None)
    assert verify(received[0]) and not verify(received[0], "another-secret")


@pytest.mark.parametrize(
    ("response", "retryable", "retry_after", "reason"),
    [
        (Response(500), True, None, "answered HTTP 500"),
        (Response(503, headers={"Retry-After": "120"}), True, 120.0, "answered HTTP 503"),
        (Response(429, headers={"Retry-After": "Thu, 19 Jun 2025 09:01:00 GMT"}), True, 60.0, "answered HTTP 429"),
        (Response(400), False, None, "answered HTTP 400: the receiver refused the alert"),
        (Response(401), False, None, "answered HTTP 401: check the secret"),
        (Response(301, headers={"Location": "/elsewhere"}), False, None, "it redirects; set url"),
    ],
)
def test_failures_are_classified(loopback: LoopbackServer, response: Response, retryable: bool,
                                 retry_after: float | None, reason: str) -> None:
    url = loopback.serve("/h", response)
    with pytest.raises(DeliveryError) as caught:
        hook(url + "?token=hidden-query-token", Clock()).send(alert(), None)
    assert (caught.value.retryable, caught.value.retry_after) == (retryable, retry_after)
    assert reason in caught.value.reason and "hidden-query-token" not in caught.value.reason


def test_the_same_alert_keeps_its_delivery_id_across_tries(loopback: LoopbackServer, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    url = loopback.serve_sequence("/h", [Response(502), Response(502), Response(200)])
    store = open_store(f"sqlite:///{tmp_path / 'monitor.db'}")
    Newsroom(store, clock).report("https://en.yna.co.kr/view/1")
    outbox = Outbox(store, {"siem": hook(url, clock)}, [], clock, clock.sleep)
    with caplog.at_level(logging.DEBUG):
        outbox.deliver()
        clock.advance(seconds=30)
        outbox.deliver()
    requests = loopback.wait_for_requests(3, path="/h")
    assert {r.headers["x-monitor-delivery"] for r in requests} == {"siem:1"}
    assert SECRET not in caplog.text


def test_a_missing_secret_is_a_config_error_naming_the_variable() -> None:
    settings = Settings(notifiers=[WebhookConfig(name="siem", kind="webhook", url="https://siem.example/h")])
    with pytest.raises(ConfigError, match=r"notifiers\[0\] \(siem\): the environment variable "
                                          r"MONITOR_WEBHOOK_SECRET is not set; put the webhook signing secret there"):
        build_notifiers(settings, environ={})
