"""Logging: human-readable lines by default, one JSON object a line with `--log-format json`; and no
secret (a token, a password, a webhook URL, a signing secret) in any line, whoever logged it.

The secrets are the values of the environment variables the config names (`token_env`, `password_env`,
`webhook_url_env`, `secret_env`) and a password in `store.url`. A URL's path is a secret on its own too:
urllib3 logs "POST /services/T0/B0/XXXX" without the host.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TextIO
from urllib.parse import urlsplit

from monitor.config import EmailConfig, Settings, SlackConfig, WebhookConfig

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "[redacted]"
_MIN_SECRET = 6  # shorter values ("1", "true") would redact ordinary words


def secret_values(settings: Settings, environ: Mapping[str, str]) -> list[str]:
    """Every secret value this config can bring into the process, longest first."""
    names: list[str] = []
    for notifier in settings.notifiers:
        if isinstance(notifier, SlackConfig):
            names += [notifier.token_env, *([notifier.webhook_url_env] if notifier.webhook_url_env else [])]
        elif isinstance(notifier, EmailConfig):
            names.append(notifier.password_env)
        elif isinstance(notifier, WebhookConfig):
            names.append(notifier.secret_env)
    values = [environ.get(name, "").strip() for name in names]
    password = urlsplit(settings.store.url).password if "://" in settings.store.url else None
    values += [password or ""]
    values += [urlsplit(v).path for v in values if v.startswith(("http://", "https://"))]
    return sorted({v for v in values if len(v) >= _MIN_SECRET}, key=len, reverse=True)


_known: list[str] = []  # the secrets `protect` was given, for messages printed outside logging


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    for secret in _known if secrets is None else secrets:
        text = text.replace(secret, REDACTED)
    return text


class Redactor(logging.Filter):
    """Rewrites a record's message and traceback with the secrets replaced, before any handler formats it."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = list(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        record.msg, record.args = redact(record.getMessage(), self.secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


class JsonFormatter(logging.Formatter):
    """One object a line: time (UTC, ISO 8601), level, logger, message, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: int, format: str = "text", stream: TextIO | None = None) -> None:
    """The root handler with its redactor (empty until `protect` gives it the config's secrets). Like
    `logging.basicConfig`, it leaves handlers someone else installed (a test's capture) in place, and
    only adds a redactor to them."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_monitor", False)]:
        root.removeHandler(old)
    if not root.handlers:
        ours = logging.StreamHandler(stream or sys.stderr)
        ours.setFormatter(JsonFormatter() if format == "json" else logging.Formatter(TEXT_FORMAT))
        ours._monitor = True  # type: ignore[attr-defined]
        root.addHandler(ours)
    for handler in root.handlers:
        if not any(isinstance(f, Redactor) for f in handler.filters):
            handler.addFilter(Redactor())
    root.setLevel(level)


def protect(settings: Settings, environ: Mapping[str, str]) -> list[str]:
    """Give every root handler's redactor the secrets of this config; returns them (for error messages)."""
    secrets = secret_values(settings, environ)
    _known[:] = secrets
    for handler in logging.getLogger().handlers:
        for found in handler.filters:
            if isinstance(found, Redactor):
                found.secrets = secrets
    return secrets
