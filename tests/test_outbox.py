"""Delivery: claim → route → already sent? → send → mark sent, recorded per (alert, notifier)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import RouteConfig
from monitor.errors import DeliveryError
from monitor.events import alert_for
from monitor.models import Alert, Article, Match, Snippet
from monitor.notify.console import ConsoleNotifier
from monitor.notify.outbox import deliver_pending
from monitor.notify.render import console_json, console_text
from monitor.notify.routes import targets
from monitor.store import Store, open_store

NOW = datetime(2025, 6, 19, 9, 0, tzinfo=UTC)


class Channel:
    """A stand-in for a remote channel: refuses with the given errors, then accepts."""

    def __init__(self, name: str, failures: list[DeliveryError] | None = None) -> None:
        self.name = name
        self.failures = list(failures or [])
        self.accepted: list[Alert] = []

    def send(self, alert: Alert) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.accepted.append(alert)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def match(severity: str = "high", tags: tuple[str, ...] = ("dprk_labor",), rule: str = "dprk-labor") -> Match:
    text = "Pyongyang will send workers to Alabuga."
    return Match(rule, "DPRK labour", severity, tags, (), Snippet("content", text, ((0, 9), (31, 38))))


def queue(store: Store, m: Match, guid: str = "1") -> int:
    item = Article(source="feed", guid=guid, url=f"https://example.org/{guid}", title="Workers for Alabuga")
    with store.transaction() as tx:
        from monitor.events import Policy, decide

        decision = decide(m, item.url, [], Policy(), NOW)
        alert_id = tx.apply(decision, tx.add_article(item), m, alert_for(item, m, NOW), NOW)
    assert alert_id is not None
    return alert_id


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'monitor.db'}")


def test_every_notifier_gets_the_alert_once(store: Store) -> None:
    queue(store, match())
    a, b = Channel("a"), Channel("b")
    deliver_pending(store, {"a": a, "b": b}, [], Clock())
    deliver_pending(store, {"a": a, "b": b}, [], Clock())
    assert len(a.accepted) == len(b.accepted) == 1
    assert store.pending_alerts() == []


def test_a_retryable_failure_waits_and_never_blocks_the_other_channel(store: Store) -> None:
    queue(store, match())
    clock = Clock()
    flaky = Channel("flaky", [DeliveryError("HTTP 503", retryable=True), DeliveryError("HTTP 429", True, 120)])
    steady = Channel("steady")
    channels = {"flaky": flaky, "steady": steady}

    report = deliver_pending(store, channels, [], clock)
    assert (report.sent, report.retrying) == (1, 1) and len(steady.accepted) == 1
    deliver_pending(store, channels, [], clock)  # not due yet: nothing happens
    assert store.delivery(1, "flaky")["attempts"] == 1  # type: ignore[index]

    clock.now += timedelta(seconds=30)
    deliver_pending(store, channels, [], clock)  # due: 429, asks for 120 s
    clock.now += timedelta(seconds=119)
    deliver_pending(store, channels, [], clock)
    assert flaky.accepted == []
    clock.now += timedelta(seconds=1)
    deliver_pending(store, channels, [], clock)
    assert len(flaky.accepted) == 1 and len(steady.accepted) == 1
    assert store.pending_alerts() == []


def test_a_permanent_failure_keeps_the_alert_as_failed_with_its_reason(store: Store) -> None:
    queue(store, match())
    broken = Channel("broken", [DeliveryError("channel_not_found", retryable=False)])
    report = deliver_pending(store, {"broken": broken}, [], Clock())
    assert report.failed == 1
    [row] = store.deliveries("failed")
    assert row["last_error"] == "channel_not_found"
    deliver_pending(store, {"broken": broken}, [], Clock())
    assert broken.accepted == []  # not hammered again


def test_routes_pick_notifiers_by_severity_tags_and_rule() -> None:
    routes = [
        RouteConfig(notifiers=("pager",), severity="high", **{"continue": True}),
        RouteConfig(notifiers=("labour-desk",), tags=("dprk_labor",)),
        RouteConfig(notifiers=("digest",)),
    ]
    names = ["pager", "labour-desk", "digest"]
    alert = alert_for(Article("s", "1", "u", "t"), match("critical"), NOW)
    assert targets(alert, routes, names) == ["pager", "labour-desk"]
    assert targets(alert_for(Article("s", "1", "u", "t"), match("low"), NOW), routes, names) == ["labour-desk"]
    other = alert_for(Article("s", "1", "u", "t"), match("low", ("sanctions_action",)), NOW)
    assert targets(other, routes, names) == ["digest"]
    assert targets(other, [], names) == names  # no routes: everyone


def test_console_text_marks_the_matched_terms() -> None:
    alert = alert_for(Article("kyiv", "1", "https://x.org/1", "Workers for Alabuga", published=NOW), match(), NOW)
    text = console_text(alert)
    assert "[HIGH] DPRK labour" in text
    assert "> **Pyongyang** will send workers to **Alabuga**." in text
    assert "kyiv · 2025-06-19 09:00 UTC" in text and "https://x.org/1" in text


def test_console_output_carries_no_terminal_escapes_from_article_text() -> None:
    hostile = Article("feed", "1", "https://x.org/1", "Breaking\x1b[2J\x1b]0;pwned\x07 news\r\nFake: line")
    text = console_text(alert_for(hostile, match(), NOW), color=True)
    assert "\x1b[2J" not in text and "\x07" not in text and "\r" not in text
    assert "Breaking [2J ]0;pwned news Fake: line" in text


def test_console_jsonl_has_the_contract_fields() -> None:
    record = json.loads(console_json(alert_for(Article("feed", "1", "https://x.org/1", "T"), match(), NOW)))
    assert {"rule_id", "severity", "tags", "title", "url", "source"} <= set(record)
    assert record["highlights"] == ["Pyongyang", "Alabuga"]


def test_the_console_notifier_flushes_each_alert() -> None:
    class Recording(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            Recording.flushes += 1

    stream = Recording()
    ConsoleNotifier("console", "jsonl", stream).send(alert_for(Article("f", "1", "u", "T"), match(), NOW))
    assert stream.getvalue().count("\n") == 1 and Recording.flushes == 1
