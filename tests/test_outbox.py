"""Delivery: claim → route → already sent? → in order? → send with retry → mark, per (alert, notifier)."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from factories import alert_of, ingest_one
from notify_support import NOW, Clock, Newsroom, match

from monitor.config import RouteConfig
from monitor.errors import DeliveryError
from monitor.models import Alert, AlertKind, Article, Match, Snippet
from monitor.notify import Outcome, Receipt, Thread
from monitor.notify.console import ConsoleNotifier
from monitor.notify.outbox import CLAIM_LEASE, Outbox, deliver_pending
from monitor.notify.render import console_json, console_text
from monitor.notify.routes import RouteKey, targets
from monitor.store import Store, open_store


class Channel:
    """A stand-in for a remote channel: refuses with the given errors, then accepts, and answers with
    a message reference so that threads can be followed."""

    def __init__(self, name: str, failures: list[DeliveryError] | None = None) -> None:
        self.name = name
        self.failures = list(failures or [])
        self.accepted: list[tuple[Alert, Thread | None]] = []
        self.tries = 0

    def send(self, alert: Alert, thread: Thread | None) -> Receipt:
        self.tries += 1
        if self.failures:
            raise self.failures.pop(0)
        self.accepted.append((alert, thread))
        return Receipt(Outcome.SENT, "C1", f"ts-{alert.id}")

    @property
    def ids(self) -> list[int | None]:
        return [a.id for a, _ in self.accepted]


def simple_match(severity: str = "high", tags: tuple[str, ...] = ("dprk_labor",), rule: str = "dprk-labor") -> Match:
    text = "Pyongyang will send workers to Alabuga."
    return Match(rule, "DPRK labour", severity, tags, (), Snippet("content", text, ((0, 9), (31, 38))))


def queue(store: Store, m: Match, guid: str = "1") -> int:
    item = Article(source="feed", guid=guid, url=f"https://example{guid}.org/{guid}", title="Workers for Alabuga")
    alert_id = ingest_one(store, item, [m], NOW)
    assert alert_id is not None
    return alert_id


def test_every_notifier_gets_the_alert_once(store: Store, clock: Clock) -> None:
    queue(store, simple_match())
    a, b = Channel("a"), Channel("b")
    outbox = Outbox(store, {"a": a, "b": b}, [], clock, clock.sleep)
    outbox.deliver()
    outbox.deliver()
    deliver_pending(open_store(str(store.engine.url)), {"a": a, "b": b}, [], clock, clock.sleep)  # a restart
    assert len(a.accepted) == len(b.accepted) == 1
    assert store.pending_alerts() == []


def test_a_short_retry_after_is_waited_in_place_and_the_alert_sent_once(store: Store, clock: Clock) -> None:
    queue(store, simple_match())
    slack = Channel("slack", [DeliveryError("slack rate limit", retryable=True, retry_after=1)])
    report = Outbox(store, {"slack": slack}, [], clock, clock.sleep).deliver()
    assert (report.sent, report.retrying, slack.tries, len(slack.accepted)) == (1, 0, 2, 1)
    assert clock.slept == [1]
    assert store.pending_alerts() == []


def test_a_long_wait_rests_the_channel_without_blocking_the_other_one(store: Store, clock: Clock) -> None:
    first, second = queue(store, simple_match(), "1"), queue(store, simple_match(rule="other"), "2")
    flaky = Channel("flaky", [DeliveryError("HTTP 503", True), DeliveryError("HTTP 503", True),
                              DeliveryError("slack rate limit", True, retry_after=120)])
    steady = Channel("steady")
    outbox = Outbox(store, {"flaky": flaky, "steady": steady}, [], clock, clock.sleep)

    report = outbox.deliver()  # 503, a second quick try, 503 again: 30 s; the second alert waits its turn
    assert (report.sent, report.retrying, report.waiting) == (2, 1, 1) and steady.ids == [first, second]
    assert clock.slept == [1.0]
    clock.advance(seconds=29)
    outbox.deliver()
    assert flaky.tries == 2  # not due yet, and nothing else goes to a failing channel before it is

    clock.advance(seconds=1)
    outbox.deliver()  # due: 429 asking for 120 s, longer than waiting in place
    assert flaky.tries == 3 and outbox.resting["flaky"] == clock.now + timedelta(seconds=120)
    clock.advance(seconds=119)
    outbox.deliver()
    assert flaky.accepted == []
    clock.advance(seconds=1)
    outbox.deliver()
    assert flaky.ids == [first, second] and steady.ids == [first, second]
    assert store.pending_alerts() == []


def test_a_permanent_failure_stays_failed_with_its_reason_until_retried(
        store: Store, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    alert_id = queue(store, simple_match())
    broken = Channel("broken", [DeliveryError("slack channel_not_found: check `channel`", retryable=False)])
    console = Channel("console")
    outbox = Outbox(store, {"broken": broken, "console": console}, [], clock, clock.sleep)
    with caplog.at_level(logging.ERROR):
        report = outbox.deliver()
    assert report.failed == 1 and console.ids == [alert_id]
    [row] = store.deliveries("failed")
    assert row["last_error"] == "slack channel_not_found: check `channel`"
    assert "failed for good: slack channel_not_found" in caplog.text and "monitor outbox retry" in caplog.text
    outbox.deliver()
    assert broken.tries == 1  # not hammered again

    assert store.retry_deliveries(row["id"]) == 1  # the channel was fixed: `monitor outbox retry ID`
    outbox.deliver()
    assert broken.ids == [alert_id] and console.ids == [alert_id]  # the other channel is not sent it again
    assert store.retry_deliveries(row["id"]) == 0  # an accepted delivery is never made due again


def test_follow_ups_wait_for_their_events_first_message_then_reply_in_its_thread(store: Store, clock: Clock) -> None:
    news = Newsroom(store, clock)
    first = news.report("https://en.yna.co.kr/view/1")
    clock.advance(minutes=5)
    other = "Pyongyang is sending thousands of workers to Alabuga, where drones are built."
    follow = news.report("https://www.nknews.org/2", "Pyongyang sends labourers",
                         match(sentence=other, terms=("workers", "Alabuga")), text=other)
    slack = Channel("slack", [DeliveryError("slack answered internal_error", True)] * 2)
    outbox = Outbox(store, {"slack": slack}, [], clock, clock.sleep)

    report = outbox.deliver()
    assert slack.accepted == [] and report.waiting == 1  # the follow-up never overtakes its alert
    clock.advance(seconds=30)
    outbox.deliver()
    [(parent, none), (reply, thread)] = slack.accepted
    assert (parent.id, parent.kind, none) == (first, AlertKind.ALERT, None)
    assert reply.id == follow and reply.kind is AlertKind.FOLLOW_UP and reply.source_count == 2
    assert thread is not None and (thread.channel, thread.ref, thread.parent.id) == ("C1", f"ts-{first}", first)


def test_another_process_holding_a_delivery_is_left_alone_until_its_claim_runs_out(store: Store, clock: Clock) -> None:
    alert_id = queue(store, simple_match())
    assert store.claim_delivery(alert_id, "slack", clock.now, CLAIM_LEASE) == 0  # the other process
    slack = Channel("slack")
    outbox = Outbox(store, {"slack": slack}, [], clock, clock.sleep)
    outbox.deliver()
    assert slack.tries == 0 and store.delivery(alert_id, "slack")["status"] == "sending"  # type: ignore[index]
    clock.now += CLAIM_LEASE
    outbox.deliver()  # it died mid-send: the claim ran out
    assert slack.ids == [alert_id]


class Killed(BaseException):
    """The process dies: nothing after this line runs."""


class DiesBeforeMarking(Store):
    def finish_delivery(self, *args: object, **kwargs: object) -> None:
        if args[2] == "sent":
            raise Killed
        super().finish_delivery(*args, **kwargs)  # type: ignore[arg-type]


def test_killed_between_send_and_mark_repeats_that_one_message_only(tmp_path: Path, clock: Clock) -> None:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    store = open_store(url)
    first, second = queue(store, simple_match(), "1"), queue(store, simple_match(rule="other"), "2")
    slack = Channel("slack")
    with pytest.raises(Killed):
        Outbox(DiesBeforeMarking(store.engine), {"slack": slack}, [], clock, clock.sleep).deliver()
    assert slack.ids == [first]  # Slack accepted it; the mark was never written

    restarted = open_store(url)
    Outbox(restarted, {"slack": slack}, [], clock, clock.sleep).deliver()
    assert slack.ids == [first]  # still inside the claim: not sent again yet
    clock.now += CLAIM_LEASE
    Outbox(restarted, {"slack": slack}, [], clock, clock.sleep).deliver()
    assert slack.ids == [first, first, second]  # the documented window: that one message, once more
    Outbox(restarted, {"slack": slack}, [], clock, clock.sleep).deliver()
    assert slack.ids == [first, first, second] and restarted.pending_alerts() == []


def test_a_pass_over_some_notifiers_leaves_the_alert_pending_for_the_others(store: Store, clock: Clock) -> None:
    alert_id = queue(store, simple_match())
    digest = Channel("digest")
    Outbox(store, {"digest": digest}, [], clock, clock.sleep, all_names=["digest", "slack"]).deliver()
    assert digest.ids == [alert_id] and [a.id for a in store.pending_alerts()] == [alert_id]
    slack = Channel("slack")
    Outbox(store, {"digest": digest, "slack": slack}, [], clock, clock.sleep).deliver()
    assert digest.ids == slack.ids == [alert_id] and store.pending_alerts() == []


def test_an_alert_no_route_matches_goes_nowhere_and_leaves_the_outbox(store: Store, clock: Clock) -> None:
    queue(store, simple_match(severity="low"))
    pager = Channel("pager")
    Outbox(store, {"pager": pager}, [RouteConfig(notify=("pager",), severity="high")], clock).deliver()
    assert pager.tries == 0 and store.pending_alerts() == []


def test_routes_pick_notifiers_by_severity_tags_and_rule() -> None:
    routes = [
        RouteConfig(notify=("pager",), severity="high", **{"continue": True}),
        RouteConfig(notifiers=("labour-desk",), tags=("dprk_labor",)),  # the old key name still works
        RouteConfig(notify=("digest",)),
    ]
    names = ["pager", "labour-desk", "digest"]
    alert = alert_of(Article("s", "1", "u", "t"), simple_match("critical"), NOW)
    assert targets(alert, routes, names) == ["pager", "labour-desk"]
    assert targets(alert_of(Article("s", "1", "u", "t"), simple_match("low"), NOW), routes, names) == ["labour-desk"]
    other = alert_of(Article("s", "1", "u", "t"), simple_match("low", ("sanctions_action",)), NOW)
    assert targets(other, routes, names) == ["digest"]
    assert targets(other, [], names) == names  # no routes: everyone


@pytest.mark.parametrize(
    ("route", "key", "matches"),
    [
        (RouteConfig(notify=("x",), rules=("dprk-troops",)), RouteKey("high", (), ("dprk-labor", "dprk-troops")), True),
        (RouteConfig(notify=("x",), rules=("dprk-troops",)), RouteKey("high", (), ("dprk-labor",)), False),
        (RouteConfig(notify=("x",), severity="high", tags=("a",)), RouteKey("critical", ("a", "b")), True),
        (RouteConfig(notify=("x",), severity="high", tags=("a",)), RouteKey("critical", ("b",)), False),  # all keys
        (RouteConfig(notify=("x",), severity="high", tags=("a",)), RouteKey("medium", ("a",)), False),
        (RouteConfig(notify=("x",)), RouteKey("info"), True),
    ],
)
def test_a_route_matches_when_every_key_it_gives_matches(route: RouteConfig, key: RouteKey, matches: bool) -> None:
    assert (targets(key, [route], ["x", "y"]) == ["x"]) is matches


def test_console_text_marks_the_matched_terms() -> None:
    alert = alert_of(Article("kyiv", "1", "https://x.org/1", "Workers for Alabuga", published=NOW), simple_match(), NOW)
    text = console_text(alert)
    assert "[HIGH] DPRK labour" in text
    assert "> **Pyongyang** will send workers to **Alabuga**." in text
    assert "kyiv · 2025-06-19 09:00 UTC" in text and "https://x.org/1" in text


def test_console_output_carries_no_terminal_escapes_from_article_text() -> None:
    hostile = Article("feed", "1", "https://x.org/1", "Breaking\x1b[2J\x1b]0;pwned\x07 news\r\nFake: line")
    text = console_text(alert_of(hostile, simple_match(), NOW), color=True)
    assert "\x1b[2J" not in text and "\x07" not in text and "\r" not in text
    assert "Breaking [2J ]0;pwned news Fake: line" in text


def test_console_jsonl_has_the_contract_fields() -> None:
    record = json.loads(console_json(alert_of(Article("feed", "1", "https://x.org/1", "T"), simple_match(), NOW)))
    assert {"rule_id", "severity", "tags", "title", "url", "source"} <= set(record)
    assert record["highlights"] == ["Pyongyang", "Alabuga"]


def test_the_console_notifier_flushes_each_alert() -> None:
    class Recording(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            Recording.flushes += 1

    stream = Recording()
    ConsoleNotifier("console", "jsonl", stream).send(alert_of(Article("f", "1", "u", "T"), simple_match(), NOW), None)
    assert stream.getvalue().count("\n") == 1 and Recording.flushes == 1
