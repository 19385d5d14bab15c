"""The console notifier: alerts on standard output, flushed per line so a pipe sees them at once."""

from __future__ import annotations

import sys
from typing import TextIO

from monitor.errors import DeliveryError
from monitor.models import Alert
from monitor.notify import Receipt, Thread
from monitor.notify.render import console_json, console_text


class ConsoleNotifier:
    def __init__(self, name: str, format: str = "text", stream: TextIO | None = None) -> None:
        self.name = name
        self.format = format
        self.stream = stream

    def send(self, alert: Alert, thread: Thread | None = None) -> Receipt:
        stream = self.stream or sys.stdout  # looked up late: tests and `demo` swap stdout
        if self.format == "jsonl":
            text = console_json(alert) + "\n"
        else:
            text = console_text(alert, color=stream.isatty()) + "\n"
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError) as exc:  # a closed pipe: the reader is gone
            raise DeliveryError(f"cannot write to the console: {exc}", retryable=False) from exc
        return Receipt()
