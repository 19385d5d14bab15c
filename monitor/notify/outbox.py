"""Delivery as named steps: claim → route → already sent? → send → mark sent.

A delivery is marked sent only after the channel accepted it, and recorded per (alert, notifier):
one notifier failing never blocks another, and a restart never resends what was accepted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.config import RouteConfig
from monitor.errors import DeliveryError
from monitor.models import Alert
from monitor.notify import Notifier
from monitor.notify.routes import targets
from monitor.store import Store

log = logging.getLogger(__name__)
RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def deliver_pending(
    store: Store, notifiers: Mapping[str, Notifier], routes: Sequence[RouteConfig], now: Callable[[], datetime]
) -> DeliveryReport:
    report = DeliveryReport()
    for alert in store.pending_alerts():  # claim
        assert alert.id is not None
        names = targets(alert, routes, list(notifiers))  # route
        if not names:
            log.info("alert %s (%s) matched no route; nothing to send", alert.id, alert.rule_id)
        finished = all([_deliver_one(store, alert, notifiers[n], now, report) for n in names])
        if finished:
            store.mark_done(alert.id, now())
    return report


def _deliver_one(store: Store, alert: Alert, notifier: Notifier, now: Callable[[], datetime],
                 report: DeliveryReport) -> bool:
    """Send one alert to one notifier unless already done; True when nothing is left to do for it."""
    assert alert.id is not None
    delivery = store.delivery(alert.id, notifier.name)  # already sent?
    if delivery and delivery["status"] in ("sent", "failed"):
        return True
    if delivery and delivery["next_attempt_at"] and delivery["next_attempt_at"] > now():
        return False
    try:
        notifier.send(alert)  # send
    except DeliveryError as exc:
        attempts = delivery["attempts"] if delivery else 0
        return _record_failure(store, alert, notifier.name, exc, attempts, now(), report)
    store.record_delivery(alert.id, notifier.name, "sent", now())  # mark sent
    report.sent += 1
    return True


def _record_failure(store: Store, alert: Alert, name: str, exc: DeliveryError, attempts: int, now: datetime,
                    report: DeliveryReport) -> bool:
    assert alert.id is not None
    report.errors.append(f"{name}: {exc.reason}")
    if not exc.retryable:
        log.error("alert %s to %s failed for good: %s; it stays in the outbox as failed", alert.id, name, exc.reason)
        store.record_delivery(alert.id, name, "failed", now, exc.reason)
        report.failed += 1
        return True
    wait = timedelta(seconds=exc.retry_after) if exc.retry_after else min(RETRY_BASE * 2**attempts, RETRY_MAX)
    log.warning("alert %s to %s will be retried in %s: %s", alert.id, name, wait, exc.reason)
    store.record_delivery(alert.id, name, "pending", now, exc.reason, next_attempt_at=now + wait)
    report.retrying += 1
    return False

