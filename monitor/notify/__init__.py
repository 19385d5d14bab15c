"""Delivery: one small protocol every notifier implements, and what a send returns.

A notifier gets an alert and, when the alert's event already has a message on that notifier, the
`Thread` it started (a Slack message, an email's Message-ID); it returns a `Receipt` once the channel
accepted, or raises `DeliveryError(retryable, retry_after)` saying whether trying again can help.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from monitor.models import Alert


class Outcome(StrEnum):
    SENT = "sent"  # the channel accepted it
    QUEUED = "queued"  # held for a digest; the digest's own send marks it sent
    SKIPPED = "skipped"  # nothing to send on this channel (a follow-up where no thread can hold it)


@dataclass(frozen=True)
class Receipt:
    """What the channel said. `channel` and `ref` locate the message (Slack: channel id and ts;
    email: recipients and Message-ID), so that the event's later alerts can reply to it."""

    outcome: Outcome = Outcome.SENT
    channel: str = ""
    ref: str = ""
    note: str = ""


@dataclass(frozen=True)
class Thread:
    """The message an event started on one notifier; follow-ups and updates go there."""

    channel: str
    ref: str
    parent: Alert  # the alert of that first message, as it was sent


class Notifier(Protocol):
    """Sends one alert, or raises `DeliveryError(retryable, retry_after)` saying whether to try again."""

    name: str

    def send(self, alert: Alert, thread: Thread | None) -> Receipt: ...
