"""Delivery: one small protocol every notifier implements."""

from __future__ import annotations

from typing import Protocol

from monitor.models import Alert


class Notifier(Protocol):
    """Sends one alert, or raises `DeliveryError(retryable, retry_after)` saying whether to try again."""

    name: str

    def send(self, alert: Alert) -> None: ...
