"""The data on the pipeline's arrows: sources → intake → rules → events → outbox → notifiers.

Frozen dataclasses only; every stage takes these and returns these. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

# Lowest first: a route or a filter "at least high" compares by position.
SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")

# The article fields rules can look at, in reading order.
FIELDS: tuple[str, ...] = ("title", "summary", "content")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class FetchResult:
    """What `http.fetch` got: the bytes and the headers that describe them."""

    url: str  # the final URL, after redirects
    status: int
    content: bytes
    headers: Mapping[str, str]  # keys lower-cased
    fetched_at: datetime
    not_modified: bool = False  # 304: the validators still hold, `content` is empty

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass(frozen=True)
class Article:
    """One item from a source, reduced to plain text."""

    source: str
    guid: str
    url: str
    title: str
    summary: str = ""
    content: str = ""
    published: datetime | None = None  # timezone-aware UTC, when the source said
    fetched_at: datetime | None = None
    language: str | None = None

    def text_of(self, field_name: str) -> str:
        value: str = getattr(self, field_name)
        return value


@dataclass(frozen=True)
class Parsed:
    """A parser's answer: what it could read, and what was wrong. Parsers never raise."""

    articles: tuple[Article, ...] = ()
    problems: tuple[str, ...] = ()
    more: str | None = None  # the URL of the next older page (Telegram's `?before=`), to catch up after downtime
    ttl: float | None = None  # seconds the source asks to be left alone (RSS <ttl>, Cache-Control max-age)


@dataclass(frozen=True)
class Span:
    """A stretch of an article's field that satisfied part of a rule."""

    field: str
    start: int  # character offsets into the original field text
    end: int
    text: str
    term: str  # the rule's term, as written
    concept: str | None = None
    entity: str | None = None


@dataclass(frozen=True)
class Snippet:
    """The sentence to show an analyst, with the matched stretches marked."""

    field: str
    text: str
    marks: tuple[tuple[int, int], ...] = ()  # offsets into `text`

    def marked(self, before: str = "**", after: str = "**") -> str:
        out, cursor = [], 0
        for start, end in self.marks:
            out += [self.text[cursor:start], before, self.text[start:end], after]
            cursor = end
        out.append(self.text[cursor:])
        return "".join(out)


@dataclass(frozen=True)
class Match:
    """A rule that matched an article, with its evidence."""

    rule_id: str
    rule_title: str
    severity: str
    tags: tuple[str, ...]
    spans: tuple[Span, ...]
    snippet: Snippet | None = None
    entities: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fingerprint:
    """A text's MinHash signature (near-duplicates share most of its values) and its shingle count."""

    values: tuple[int, ...]
    size: int = 0


@dataclass(frozen=True)
class Event:
    """One real-world story, as far as the store knows it: what `decide` compares a sighting with."""

    id: int
    state: str  # "alerted" | "held" | "silenced"
    rule_ids: tuple[str, ...]
    severity: str
    entities: tuple[str, ...]
    opened_at: datetime
    window: timedelta  # takes reports published less than this before or after it opened
    fingerprints: tuple[Fingerprint, ...] = ()  # of its articles that are not copies of another
    domains: tuple[str, ...] = ()  # independent voices: registered domains of its original reports
    min_sources: int = 1
    official: bool = False  # an official source reported it
    alert_count: int = 0
    last_alert_at: datetime | None = None
    grade: str | None = None  # the Admiralty code, "B2" (docs/grading.md)
    stage: str | None = None  # intent | agreed | observed | designated
    denied: bool = False  # a party denied it
    grading: Mapping[str, Any] = field(default_factory=dict)  # what the grade rests on (grading.Grading as JSON)


class DecisionKind(StrEnum):
    OPEN = "open"  # a new event, or a held one now corroborated, or a re-alert: an alert goes out
    FOLLOW_UP = "follow_up"  # joins an alerted event: a thread reply and a digest line, no new ping
    UPDATE = "update"  # joins and makes it more serious: an update alert
    HOLD = "hold"  # opens or joins an event held for corroboration: nothing goes out yet
    IGNORE = "ignore"  # joins or opens a silenced event: recorded, nothing goes out


@dataclass(frozen=True)
class Decision:
    """What the events stage decided for one article's matches, and why (the reason shows in logs).
    `event_id` is the event joined; None opens a new one."""

    kind: DecisionKind
    reason: str
    event_id: int | None = None
    copy: bool = False  # a near-duplicate of one of the event's reports: one voice with it
    broadcast: bool = True  # an update: also at the top level (Slack's reply_broadcast), not only in the thread

    @property
    def notifies(self) -> bool:
        return self.kind in (DecisionKind.OPEN, DecisionKind.FOLLOW_UP, DecisionKind.UPDATE)


@dataclass(frozen=True)
class Report:
    """One article that reported an event: a line of the event's coverage."""

    source: str
    url: str
    title: str
    published: datetime | None = None
    domain: str = ""  # registered domain: reports from one domain are one voice
    copy: bool = False  # a near-duplicate of an earlier report: one voice with it

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "url": self.url, "title": self.title, "domain": self.domain,
                "published": self.published.isoformat() if self.published else None, "copy": self.copy}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        published = data.get("published")
        return cls(data["source"], data["url"], data["title"],
                   datetime.fromisoformat(published) if published else None, data.get("domain", ""),
                   bool(data.get("copy", False)))


class AlertKind(StrEnum):
    ALERT = "alert"  # a new event: ping
    FOLLOW_UP = "follow_up"  # the same event reported again: a thread reply, a digest line
    UPDATE = "update"  # the event became more serious (a higher severity, a first official source)


@dataclass(frozen=True)
class Alert:
    """What a notifier sends. Built once from the event and the article, stored in the outbox.

    `rule_id`, `rule_title` and `severity` are the event's most severe rule; `rule_ids` every rule it
    matched so far. `coverage` lists the reports so far, first first; the article of this alert is
    `title`/`url`/`source`.
    """

    event_id: int
    rule_id: str
    rule_title: str
    severity: str
    tags: tuple[str, ...]
    title: str
    url: str
    source: str
    published: datetime | None
    matched_at: datetime
    snippet: Snippet | None = None
    kind: AlertKind = AlertKind.ALERT
    rule_ids: tuple[str, ...] = ()
    coverage: tuple[Report, ...] = ()
    id: int | None = None  # the outbox row, once stored
    grade: str | None = None  # the event's Admiralty code, "B2"
    stage: str | None = None  # the event's stage on the evidence ladder
    denied: bool = False  # a party denied it
    grade_before: str | None = None  # an update: the grade and stage before it
    stage_before: str | None = None
    broadcast: bool = True  # an update: also at the top level, not only in the event's thread

    @property
    def source_count(self) -> int:
        """Independent voices: distinct domains among the original reports (copies count with theirs)."""
        return max(1, len({r.domain or r.source for r in self.coverage if not r.copy}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "kind": self.kind.value,
            "rule_id": self.rule_id,
            "rule_title": self.rule_title,
            "severity": self.severity,
            "tags": list(self.tags),
            "rule_ids": list(self.rule_ids),
            "title": self.title,
            "url": self.url,
            "source": self.source,
            "published": self.published.isoformat() if self.published else None,
            "matched_at": self.matched_at.isoformat(),
            "snippet": None
            if self.snippet is None
            else {
                "field": self.snippet.field,
                "text": self.snippet.text,
                "marks": [list(m) for m in self.snippet.marks],
            },
            "coverage": [r.to_dict() for r in self.coverage],
            "grade": self.grade,
            "stage": self.stage,
            "denied": self.denied,
            "grade_before": self.grade_before,
            "stage_before": self.stage_before,
            "broadcast": self.broadcast,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        snippet = data.get("snippet")
        return cls(
            id=data.get("id"),
            event_id=data["event_id"],
            kind=AlertKind(data.get("kind", "alert")),
            rule_id=data["rule_id"],
            rule_title=data["rule_title"],
            severity=data["severity"],
            tags=tuple(data["tags"]),
            rule_ids=tuple(data.get("rule_ids", ())),
            title=data["title"],
            url=data["url"],
            source=data["source"],
            published=datetime.fromisoformat(data["published"]) if data.get("published") else None,
            matched_at=datetime.fromisoformat(data["matched_at"]),
            snippet=None
            if not snippet
            else Snippet(
                field=snippet["field"],
                text=snippet["text"],
                marks=tuple((int(a), int(b)) for a, b in snippet["marks"]),
            ),
            coverage=tuple(Report.from_dict(r) for r in data.get("coverage", ())),
            grade=data.get("grade"),
            stage=data.get("stage"),
            denied=bool(data.get("denied", False)),
            grade_before=data.get("grade_before"),
            stage_before=data.get("stage_before"),
            broadcast=bool(data.get("broadcast", True)),
        )


@dataclass(frozen=True)
class SourceState:
    """A source's own health and HTTP validators: a failing source fails alone, here."""

    name: str
    etag: str | None = None
    last_modified: str | None = None
    error_count: int = 0
    last_error: str | None = None
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    next_due: datetime | None = None
    items_seen: int = 0
    last_new: datetime | None = None  # when a poll last brought an item never seen before (silence = stale)
    last_problem: str | None = None  # a successful poll's first problem (ill-formed, entries skipped): degraded
    extra: Mapping[str, Any] = field(default_factory=dict)  # a kind's own state, as JSON
