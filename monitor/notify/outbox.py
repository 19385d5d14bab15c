"""Delivery as named steps: claim → route → already sent? → in order? → send with retry → mark.

A delivery is recorded per (alert, notifier): one notifier failing never blocks another, and a notifier
that accepted an alert is never sent it again, across restarts. It is marked sent only after the
channel accepted it, in the transaction that also keeps the event's thread. Digests follow the same
shape: a schedule asks for one, a pass claims it, builds it from the alerts queued for it, sends it,
and marks it and its alerts sent once the SMTP server accepted.

The one window: a process that dies after a channel accepted and before the mark is written has sent
that one message; after the claim runs out (`CLAIM_LEASE`) it is sent once more. docs/notifications.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from monitor.config import RouteConfig
from monitor.errors import DeliveryError
from monitor.models import Alert, AlertKind
from monitor.notify import Notifier, Outcome, Receipt, Thread
from monitor.notify.catchup import CatchUpMessage
from monitor.notify.digest import Digest, HeldRecord, Queued, build_digest
from monitor.notify.routes import RouteKey, targets
from monitor.store import Store

log = logging.getLogger(__name__)

RETRY_BASE = timedelta(seconds=30)  # a retryable failure waits 30 s, doubling per attempt ...
RETRY_MAX = timedelta(minutes=10)  # ... up to 10 min (or as long as the channel's Retry-After asks)
INLINE_WAIT_MAX = 10.0  # a Retry-After up to this many seconds is waited in place, then sent again
INLINE_TRIES = 3
BLIP_WAIT = 1.0  # one quick second try after a server error, before leaving it to the next pass
CLAIM_LEASE = timedelta(minutes=5)  # a claimed delivery or digest left in `sending` this long is taken again
DIGEST_RETRY_BASE = timedelta(minutes=1)
DIGEST_RETRY_MAX = timedelta(hours=1)
FINISHED = ("sent", "failed", "skipped", "queued", "held", "catching_up")  # held: for the catch-up message

Sleep = Callable[[float], None]


@dataclass
class DeliveryReport:
    sent: int = 0
    queued: int = 0
    held: int = 0  # for the catch-up message after downtime
    skipped: int = 0
    retrying: int = 0
    failed: int = 0
    waiting: int = 0  # not tried in this pass: the channel backs off, or the event's earlier alert goes first
    errors: list[str] = field(default_factory=list)


class Outbox:
    """The delivery pass over the outbox. Kept by the daemon between passes: a channel that asked to
    be left alone (`Retry-After`) is not sent anything before that time."""

    def __init__(self, store: Store, notifiers: Mapping[str, Notifier], routes: Sequence[RouteConfig],
                 now: Callable[[], datetime], sleep: Sleep = time.sleep, all_names: Sequence[str] = ()) -> None:
        """`all_names`: every notifier of the config, when this pass serves only some (`digest send`)."""
        self.store = store
        self.notifiers = notifiers
        self.all_names = list(all_names)
        self.routes = routes
        self.now = now
        self.sleep = sleep
        self.resting: dict[str, datetime] = {}
        self.on_sent: Callable[[Alert, str, datetime], None] | None = None  # metrics: after each mark "sent"
        self.holding = False  # catching up after downtime: human channels' alerts wait for one message

    def deliver(self) -> DeliveryReport:
        report = DeliveryReport()
        failing: set[str] = set()  # failed in this pass: leave it to the next one
        for alert in self.store.pending_alerts():  # claim (the alerts not done)
            assert alert.id is not None
            names = targets(alert, self.routes, self.all_names or list(self.notifiers))  # route
            if not names:
                log.info("alert %s (%s) matched no route; nothing to send", alert.id, alert.rule_id)
            done = [self._deliver_one(alert, self.notifiers[n], failing, report) for n in names if n in self.notifiers]
            if all(done) and len(done) == len(names):  # a pass over some notifiers leaves the rest to the daemon
                self.store.mark_done(alert.id, self.now())
        return report

    def _deliver_one(self, alert: Alert, notifier: Notifier, failing: set[str], report: DeliveryReport) -> bool:
        """Send one alert to one notifier unless done already; True when nothing is left to do for it."""
        assert alert.id is not None
        name = notifier.name
        known = self.store.delivery(alert.id, name)
        if known and known["status"] in FINISHED:  # already sent?
            return True
        if self._held_back(alert, notifier):  # catching up: for one message later
            return self._hold(alert, name, report)
        if self._must_wait(alert, name, failing):  # in order?
            report.waiting += 1
            return False
        attempts = self.store.claim_delivery(alert.id, name, self.now(), CLAIM_LEASE)
        if attempts is None:  # not due yet, or another process has it
            return False
        thread = self._thread(alert.event_id, name)
        try:
            receipt = send_with_retry(notifier, alert, thread, self.sleep)  # send with retry
        except DeliveryError as exc:
            if exc.retryable:
                failing.add(name)
            return self._failed(alert, name, exc, attempts, report)
        self._mark(alert, name, receipt, thread)  # mark: only now, after the channel accepted
        setattr(report, receipt.outcome.value, getattr(report, receipt.outcome.value) + 1)
        return True

    def send_catch_ups(self, since: datetime | None = None) -> list[DigestResult]:
        """Once the catch-up is over, one message per notifier for the alerts held (also those an earlier
        run held and could not send), marked sent once it was accepted: the same window as a digest's,
        a crash between the two sends it once more after `CLAIM_LEASE`. `since`: the last poll before."""
        results = []
        for name, notifier in self.notifiers.items():
            if self.holding or not getattr(notifier, "catches_up", False):
                continue
            held = self.store.claim_held(name, self.now(), CLAIM_LEASE)
            if held:
                results.append(self._send_catch_up(notifier, held, since))  # type: ignore[arg-type]
        return results

    def _send_catch_up(self, channel: CatchUpChannel, held: list[tuple[int, Alert]],
                       since: datetime | None) -> DigestResult:
        ids = [delivery_id for delivery_id, _ in held]
        message = CatchUpMessage.of([alert for _, alert in held], since, self.now())
        try:
            channel.send_catch_up(message)
        except DeliveryError as exc:
            if not exc.retryable:
                self.store.finish_held(ids, "failed", self.now(), exc.reason)
                log.error("catch-up message to %s failed: %s. Its %d alerts stay in the outbox as failed; once "
                          "that is fixed, `monitor outbox retry` sends them one by one", channel.name, exc.reason,
                          len(ids))
                return DigestResult(channel.name, "failed", exc.reason)
            wait = timedelta(seconds=exc.retry_after) if exc.retry_after else DIGEST_RETRY_BASE
            self.store.finish_held(ids, "held", self.now(), exc.reason, next_attempt_at=self.now() + wait)
            log.warning("catch-up message to %s will be retried in %s: %s", channel.name, wait, exc.reason)
            return DigestResult(channel.name, "retrying", f"{exc.reason}; next try in {wait}")
        self.store.finish_held(ids, "sent", self.now())  # mark: after acceptance
        log.info("catch-up message to %s sent: %s", channel.name, message.summary())
        if self.on_sent is not None:  # metrics: each alert the message carried
            for _, alert in held:
                self.on_sent(alert, channel.name, self.now())
        return DigestResult(channel.name, "sent", f"{len(message.events)} events from {len(ids)} alerts")

    def _held_back(self, alert: Alert, notifier: Notifier) -> bool:
        """While catching up, what would be a message of its own on a human channel; a follow-up of an
        event that has a thread there goes to the thread (quietly) as always."""
        if not self.holding or not getattr(notifier, "catches_up", False):
            return False
        return alert.kind is not AlertKind.FOLLOW_UP or self._thread(alert.event_id, notifier.name) is None

    def _hold(self, alert: Alert, name: str, report: DeliveryReport) -> bool:
        assert alert.id is not None
        if self.store.claim_delivery(alert.id, name, self.now(), CLAIM_LEASE) is None:
            return False
        self.store.finish_delivery(alert.id, name, "held", self.now())
        report.held += 1
        return True

    def _must_wait(self, alert: Alert, name: str, failing: set[str]) -> bool:
        """The channel failed in this pass or asked for a pause, or an earlier alert of the same event
        is still on its way to it (a follow-up never overtakes its alert)."""
        if name in failing or self.resting.get(name, self.now()) > self.now():
            return True
        return self.store.waits_for_earlier(alert, name)

    def _thread(self, event_id: int, name: str) -> Thread | None:
        found = self.store.thread(event_id, name)
        return Thread(*found) if found else None

    def _mark(self, alert: Alert, name: str, receipt: Receipt, thread: Thread | None) -> None:
        assert alert.id is not None
        started = (alert.event_id, receipt.channel, receipt.ref) if thread is None and receipt.ref else None
        why = receipt.note if receipt.outcome is Outcome.SKIPPED else None  # the outbox says why it was skipped
        self.store.finish_delivery(alert.id, name, receipt.outcome.value, self.now(), why, thread=started)
        if self.on_sent is not None and receipt.outcome is Outcome.SENT:
            self.on_sent(alert, name, self.now())
        log.info("alert %s (%s) to %s: %s%s", alert.id, alert.kind.value, name, receipt.outcome.value,
                 f" ({receipt.note})" if receipt.note else "")

    def _failed(self, alert: Alert, name: str, exc: DeliveryError, attempts: int, report: DeliveryReport) -> bool:
        assert alert.id is not None
        now = self.now()
        report.errors.append(f"{name}: {exc.reason}")
        if not exc.retryable:
            log.error("alert %s to %s failed for good: %s. It stays in the outbox as failed; once that is fixed, "
                      "`monitor outbox retry` sends it again", alert.id, name, exc.reason)
            self.store.finish_delivery(alert.id, name, "failed", now, exc.reason)
            report.failed += 1
            return True
        wait = timedelta(seconds=exc.retry_after) if exc.retry_after else min(RETRY_BASE * 2**attempts, RETRY_MAX)
        if exc.retry_after:
            self.resting[name] = now + wait
        log.warning("alert %s to %s will be retried in %s: %s", alert.id, name, wait, exc.reason)
        self.store.finish_delivery(alert.id, name, "pending", now, exc.reason, next_attempt_at=now + wait)
        report.retrying += 1
        return False


def deliver_pending(store: Store, notifiers: Mapping[str, Notifier], routes: Sequence[RouteConfig],
                    now: Callable[[], datetime], sleep: Sleep = time.sleep) -> DeliveryReport:
    """One delivery pass (for a command that runs once; the daemon keeps its `Outbox`)."""
    return Outbox(store, notifiers, routes, now, sleep).deliver()


def send_with_retry(notifier: Notifier, alert: Alert, thread: Thread | None, sleep: Sleep) -> Receipt:
    """Send; a short `Retry-After` is waited here and the alert sent again, a server error gets one
    quick second try; anything longer is the next pass's (the caller records it)."""
    blipped = False
    for attempt in range(1, INLINE_TRIES + 1):
        try:
            return notifier.send(alert, thread)
        except DeliveryError as exc:
            if not exc.retryable or attempt == INLINE_TRIES:
                raise
            if exc.retry_after is not None and exc.retry_after <= INLINE_WAIT_MAX:
                wait = exc.retry_after
            elif exc.retry_after is None and not blipped:
                blipped, wait = True, BLIP_WAIT
            else:
                raise
            log.info("%s: %s; trying again in %.0f s", notifier.name, exc.reason, wait)
            sleep(wait)
    raise AssertionError("unreachable")


# --- the catch-up message after downtime (notify/catchup.py) ------------------------------------------


class CatchUpChannel(Protocol):
    name: str

    def send_catch_up(self, message: CatchUpMessage) -> Receipt: ...


# --- digests ---------------------------------------------------------------------------------------


class DigestChannel(Protocol):
    """A notifier that can send a digest (email with a schedule)."""

    name: str

    @property
    def send_empty(self) -> bool: ...

    def send_digest(self, digest: Digest, digest_id: int) -> Receipt: ...


@dataclass(frozen=True)
class DigestResult:
    notifier: str
    outcome: str  # sent | empty | retrying | failed | busy | none
    detail: str = ""


def collect_digest(store: Store, name: str, routes: Sequence[RouteConfig], notifier_names: Sequence[str],
                   until: datetime, include_unqueued: bool = False) -> Digest:
    """The digest `name` would send now: its queued alerts, what changed since the last digest, and
    what the events stage held back that this notifier's routes would have carried. A preview
    (`include_unqueued`) also shows alerts routed to it that no delivery pass has queued yet."""
    queued = [Queued(delivery_id, alert) for delivery_id, alert in store.queued(name)]
    if include_unqueued:
        queued += [Queued(0, alert) for alert in store.pending_alerts()
                   if name in targets(alert, routes, notifier_names) and alert.id is not None
                   and store.delivery(alert.id, name) is None]
    since = store.last_sent_digest(name)
    previous = store.last_digested(name, {q.alert.event_id for q in queued})
    held = [
        HeldRecord(row["event_id"], row["event_title"], row["decision"], row["reason"], bool(row["copy"]),
                   row["source"], row["title"])
        for row in store.held_back(since, until)
        if name in targets(RouteKey(row["severity"], tuple(row["tags"]), tuple(row["rule_ids"]), row["grade"],
                                    row["stage"]), routes, notifier_names)
    ]
    return build_digest(name, queued, previous, held, since, until)


def send_due_digests(store: Store, channels: Mapping[str, DigestChannel], routes: Sequence[RouteConfig],
                     notifier_names: Sequence[str], now: Callable[[], datetime],
                     on_sent: Callable[[Alert, str, datetime], None] | None = None) -> list[DigestResult]:
    """Send every digest a schedule asked for and that is due (a failed one waits its backoff).
    `on_sent`: told of each alert a sent digest carried (metrics)."""
    results = []
    for name, channel in channels.items():
        claimed = store.claim_digest(name, now(), CLAIM_LEASE)
        if claimed is not None:
            results.append(_send_digest(store, channel, claimed, routes, notifier_names, now, on_sent))
    return results


def send_digest_now(store: Store, channel: DigestChannel, routes: Sequence[RouteConfig],
                    notifier_names: Sequence[str], now: Callable[[], datetime]) -> DigestResult:
    """`monitor digest send NAME`: ask for a digest and send it at once, even while one waits to retry."""
    store.request_digest(channel.name, now())
    claimed = store.claim_digest(channel.name, now(), CLAIM_LEASE, force=True)
    if claimed is None:
        return DigestResult(channel.name, "busy", "another process is sending this digest right now")
    return _send_digest(store, channel, claimed, routes, notifier_names, now)


def _send_digest(store: Store, channel: DigestChannel, claimed: tuple[int, int], routes: Sequence[RouteConfig],
                 notifier_names: Sequence[str], now: Callable[[], datetime],
                 on_sent: Callable[[Alert, str, datetime], None] | None = None) -> DigestResult:
    digest_id, attempts = claimed
    digest = collect_digest(store, channel.name, routes, notifier_names, now())
    if digest.empty and not channel.send_empty:
        store.finish_digest(digest_id, "empty", now(), since=digest.since)
        log.info("digest %s: no new events since %s; not sent (send_empty = false)", channel.name, digest.since)
        return DigestResult(channel.name, "empty", "no new events; not sent (send_empty = false)")
    try:
        receipt = channel.send_digest(digest, digest_id)
    except DeliveryError as exc:
        return _digest_failed(store, channel.name, digest_id, attempts, exc, now())
    store.finish_digest(digest_id, "sent", now(), since=digest.since, entries=len(digest.entries),
                        delivery_ids=digest.delivery_ids, message_id=receipt.ref)  # mark: after acceptance
    log.info("digest %s sent: %d events from %d alerts", channel.name, len(digest.entries), len(digest.delivery_ids))
    if on_sent is not None:
        for alert in digest.alerts:
            on_sent(alert, channel.name, now())
    return DigestResult(channel.name, "sent", f"{len(digest.entries)} events from {len(digest.delivery_ids)} alerts")


def _digest_failed(store: Store, name: str, digest_id: int, attempts: int, exc: DeliveryError,
                   now: datetime) -> DigestResult:
    if not exc.retryable:
        store.finish_digest(digest_id, "failed", now, error=exc.reason)
        log.error("digest %s failed: %s. Its alerts stay queued for the next digest; once that is fixed, "
                  "`monitor digest send %s` sends it now", name, exc.reason, name)
        return DigestResult(name, "failed", exc.reason)
    wait = timedelta(seconds=exc.retry_after) if exc.retry_after else min(
        DIGEST_RETRY_BASE * 2**attempts, DIGEST_RETRY_MAX)
    store.finish_digest(digest_id, "pending", now, error=exc.reason, next_attempt_at=now + wait)
    log.warning("digest %s will be retried in %s: %s", name, wait, exc.reason)
    return DigestResult(name, "retrying", f"{exc.reason}; next try in {wait}")
