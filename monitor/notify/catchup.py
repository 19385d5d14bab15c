"""Catching up after downtime: when monitor was not polling for longer than `catch_up_after`, the alerts
its first polls find go out as one message per human channel instead of one each. Pure.

The daemon decides at start (`after_downtime`); the outbox holds the alerts of Slack and per-alert email
notifiers (delivery status `held`) until every source has been polled once, or `LIMIT` has passed; then
one catch-up message per notifier lists the events, and its acceptance marks them sent. Console and
webhook notifiers, read by programs, keep getting every alert.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from monitor.models import SEVERITIES, Alert, AlertKind, severity_rank
from monitor.notify.render import (
    SLACK_FALLBACK_MAX,
    SLACK_TEXT_MAX,
    SlackMessage,
    grading_label,
    header_safe,
    html_link,
    html_page,
    plain,
    slack_cap,
    slack_escape,
    slack_link,
    sources_count,
    when,
)

LIMIT = timedelta(minutes=30)  # a source that never answers does not hold the others' alerts longer
SLACK_SECTIONS_MAX = 45  # Slack takes 50 blocks a message; the rest is counted, not listed


@dataclass(frozen=True)
class CatchUp:
    """monitor starts after not polling since `since`: hold alerts from `started` until it is `over`."""

    since: datetime
    started: datetime

    def over(self, polled: Iterable[str], sources: Iterable[str], now: datetime) -> bool:
        """Every source was polled since the start (whatever the outcome), or the limit has passed."""
        return now - self.started >= LIMIT or set(sources) <= set(polled)


def after_downtime(last_poll: datetime | None, now: datetime, threshold: timedelta) -> CatchUp | None:
    """A catch-up when the last poll of any source is older than `threshold` (0: never). A new database
    (no poll yet) has nothing to catch up with."""
    if not threshold or last_poll is None or now - last_poll < threshold:
        return None
    return CatchUp(since=last_poll, started=now)


def joined(recorded: tuple[datetime, datetime] | None, now: datetime) -> CatchUp | None:
    """Another worker's catch-up (since, started) that may still run: a worker that starts during it
    holds alerts as that one does, so that no worker sends one by one what the others hold."""
    if recorded is None or now - recorded[1] >= LIMIT:
        return None
    return CatchUp(since=recorded[0], started=recorded[1])


@dataclass(frozen=True)
class CatchUpMessage:
    """What one catch-up message says: each event once (its latest alert), most severe first."""

    events: tuple[Alert, ...]
    alerts: int
    since: datetime | None  # the last poll before the downtime, when this process saw it
    until: datetime

    @classmethod
    def of(cls, alerts: Sequence[Alert], since: datetime | None, until: datetime) -> CatchUpMessage:
        latest: dict[int, Alert] = {}
        for alert in alerts:
            latest[alert.event_id] = alert  # oldest first: the last one holds the event's current state
        events = sorted(latest.values(), key=_most_severe_newest_first)
        return cls(tuple(events), len(alerts), since, until)

    def summary(self, tz: tzinfo = UTC) -> str:
        """"12 events (17 reports) found after monitor was not polling since 2026-11-28 21:00 UTC"."""
        count = f"{len(self.events)} event" + ("s" if len(self.events) != 1 else "")
        reports = f" ({self.alerts} reports)" if self.alerts != len(self.events) else ""
        since = f" since {when(self.since, tz)}" if self.since else ""
        return f"{count}{reports} found after monitor was not polling{since}"


def _most_severe_newest_first(alert: Alert) -> tuple[int, float]:
    rank = severity_rank(alert.severity) if alert.severity in SEVERITIES else -1  # a stored unknown one: last
    return -rank, -alert.matched_at.timestamp()


def _status(alert: Alert) -> str:
    parts = [alert.severity.upper(), grading_label(alert), sources_count(alert)]
    if alert.kind is AlertKind.UPDATE:
        parts.append("updated")
    return " · ".join(p for p in parts if p)


def slack_catch_up(message: CatchUpMessage) -> SlackMessage:
    """One line per event: severity, grade and stage, source count; the first article linked; the rule."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Catch-up after downtime", "emoji": False}},
              {"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(message.summary()) + "."}}]
    shown = message.events[:SLACK_SECTIONS_MAX]
    for alert in shown:
        line = (f"*{slack_escape(_status(alert))}* · {slack_link(alert.url, alert.title)}\n"
                f"{slack_escape(alert.source)} · {slack_escape(alert.rule_title)}")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": slack_cap(line, SLACK_TEXT_MAX)}})
    if len(message.events) > len(shown):
        rest = len(message.events) - len(shown)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f"and {rest} more events: `monitor events` or the web view lists them all")}]})
    fallback = "Catch-up after downtime: " + message.summary()
    return {"text": slack_cap(slack_escape(fallback), SLACK_FALLBACK_MAX), "blocks": blocks}


def email_catch_up_subject(message: CatchUpMessage) -> str:
    return header_safe(f"monitor catch-up: {message.summary()}")


def email_catch_up_text(message: CatchUpMessage, tz: tzinfo) -> str:
    lines = [message.summary(tz) + ".", ""]
    for alert in message.events:
        lines += [f"[{_status(alert)}] {plain(alert.rule_title)}", plain(alert.title),
                  f"{plain(alert.source)} · {when(alert.published, tz)}", plain(alert.url), ""]
    return "\n".join(lines)


def email_catch_up_html(message: CatchUpMessage, tz: tzinfo) -> str:
    intro = message.summary(tz)
    items = "\n".join(
        f"<li><strong>[{html.escape(_status(alert))}]</strong> {html.escape(plain(alert.rule_title))}<br>"
        f"{html_link(alert.url, alert.title)}<br>{html.escape(plain(alert.source))} · "
        f"{html.escape(when(alert.published, tz))}</li>"
        for alert in message.events)
    return html_page(email_catch_up_subject(message), f"<p>{html.escape(intro)}.</p>\n<ul>\n{items}\n</ul>")
