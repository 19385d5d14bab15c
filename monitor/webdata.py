"""Read queries for the web view: filtered, paginated events; daily counts for plots; an event's
matches and deliveries. Read-only; every list is bounded (a page, a date range), never a whole table.

Pagination is by key (`opened_at`, `id`), not by offset, so page 2,000 costs what page 1 costs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from monitor.store import Store, alerts, articles, deliveries, event_articles, events, matches, polls


@dataclass(frozen=True)
class EventFilter:
    tag: str | None = None
    severity: str | None = None
    rule: str | None = None
    source: str | None = None
    state: str | None = None  # alerted | held | silenced
    since: datetime | None = None  # opened at or after
    until: datetime | None = None  # opened before
    q: str | None = None  # free text in the title


@dataclass(frozen=True)
class EventRow:
    id: int
    state: str
    severity: str
    title: str
    tags: tuple[str, ...]
    rule_ids: tuple[str, ...]
    opened_at: datetime
    updated_at: datetime
    first_source: str
    first_url: str
    reports: int
    sources: int  # independent: distinct domains of the reports that are not copies
    grade: str | None = None  # the Admiralty code, e.g. "B2" (docs/grading.md)
    stage: str | None = None  # intent | agreed | observed | designated
    denied: bool = False


@dataclass(frozen=True)
class EventPage:
    rows: list[EventRow]
    next: tuple[datetime, int] | None  # the key after which the next page starts


def _json_has(column: sa.ColumnElement[Any], value: str) -> sa.ColumnElement[bool]:
    """A JSON list of strings holds `value` (its text holds `"value"`): works on SQLite and PostgreSQL."""
    quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return sa.cast(column, sa.Text).contains(quoted, autoescape=True)  # autoescape: % and _ match themselves


def _where(f: EventFilter) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if f.state:
        where.append(events.c.state == f.state)
    if f.severity:
        where.append(events.c.severity == f.severity)
    if f.tag:
        where.append(_json_has(events.c.tags, f.tag))
    if f.rule:
        where.append(_json_has(events.c.rule_ids, f.rule))
    if f.since:
        where.append(events.c.opened_at >= f.since)
    if f.until:
        where.append(events.c.opened_at < f.until)
    if f.q:
        where.append(events.c.title.icontains(f.q, autoescape=True))
    if f.source:
        where.append(sa.exists().where(event_articles.c.event_id == events.c.id,
                                       event_articles.c.source == f.source))
    return where


def event_page(store: Store, f: EventFilter, limit: int, after: tuple[datetime, int] | None = None) -> EventPage:
    """Events matching `f`, newest first, `limit` of them, starting after the key `after`."""
    query = sa.select(events).where(*_where(f))
    if after is not None:
        opened, last_id = after
        query = query.where(sa.or_(events.c.opened_at < opened,
                                   sa.and_(events.c.opened_at == opened, events.c.id < last_id)))
    query = query.order_by(events.c.opened_at.desc(), events.c.id.desc()).limit(limit + 1)
    with store.engine.connect() as conn:
        found = list(conn.execute(query).mappings())
        shown = found[:limit]
        coverage = _coverage(conn, [r["id"] for r in shown])
    rows = [_row(r, coverage.get(r["id"])) for r in shown]
    more = len(found) > limit
    return EventPage(rows, (shown[-1]["opened_at"], shown[-1]["id"]) if more else None)


def all_events(store: Store, f: EventFilter, batch: int = 1000) -> Iterator[EventRow]:
    """Every event matching `f`, newest first, read a batch at a time (for the CSV export)."""
    after = None
    while True:
        page = event_page(store, f, batch, after)
        yield from page.rows
        if page.next is None:
            return
        after = page.next


def _coverage(conn: sa.Connection, ids: list[int]) -> dict[int, tuple[int, int, str, str]]:
    """event id → (reports, independent sources, first source, first link)."""
    if not ids:
        return {}
    counts = sa.select(
        event_articles.c.event_id, sa.func.count(), sa.func.min(event_articles.c.id),
        sa.func.count(sa.distinct(sa.case((event_articles.c.copy == sa.false(), event_articles.c.domain)))),
    ).where(event_articles.c.event_id.in_(ids)).group_by(event_articles.c.event_id)
    totals = {e: (int(n), int(first), int(d)) for e, n, first, d in conn.execute(counts)}
    firsts = {r.id: r for r in conn.execute(
        sa.select(event_articles.c.id, event_articles.c.source, event_articles.c.url)
        .where(event_articles.c.id.in_([t[1] for t in totals.values()])))}
    return {e: (n, d, firsts[first].source, firsts[first].url) for e, (n, first, d) in totals.items()}


def _row(r: Any, coverage: tuple[int, int, str, str] | None) -> EventRow:
    reports, sources, first_source, first_url = coverage or (0, 0, "", "")
    return EventRow(id=r["id"], state=r["state"], severity=r["severity"], title=r["title"], tags=tuple(r["tags"]),
                    rule_ids=tuple(r["rule_ids"]), opened_at=r["opened_at"], updated_at=r["updated_at"],
                    first_source=first_source, first_url=first_url, reports=reports, sources=sources,
                    grade=r["grade"], stage=r["stage"], denied=bool(r["denied"]))


def _day(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The UTC day of a stored time, as 'YYYY-MM-DD' text, on SQLite and PostgreSQL alike."""
    return sa.func.substr(sa.cast(column, sa.String), 1, 10)


def events_per_day_by_tag(store: Store, f: EventFilter, since: datetime) -> dict[str, dict[date, int]]:
    """tag → day → events opened that day (among those matching `f`), from `since` on."""
    query = (sa.select(_day(events.c.opened_at), sa.cast(events.c.tags, sa.Text), sa.func.count())
             .where(*_where(f), events.c.opened_at >= since).group_by(sa.text("1"), sa.text("2")))
    out: dict[str, dict[date, int]] = {}
    with store.engine.connect() as conn:
        for day, tags, n in conn.execute(query):
            when = date.fromisoformat(day)
            for tag in json.loads(tags) or ["(no tag)"]:
                per_day = out.setdefault(tag, {})
                per_day[when] = per_day.get(when, 0) + int(n)
    return out


def _per_day(store: Store, key: sa.ColumnElement[Any], at: sa.ColumnElement[Any],
             since: datetime) -> dict[str, dict[date, int]]:
    """key → day → rows whose `at` falls on that day, from `since` on."""
    query = sa.select(key, _day(at), sa.func.count()).where(at >= since).group_by(sa.text("1"), sa.text("2"))
    out: dict[str, dict[date, int]] = {}
    with store.engine.connect() as conn:
        for name, day, n in conn.execute(query):
            out.setdefault(name, {})[date.fromisoformat(day)] = int(n)
    return out


def articles_per_day(store: Store, since: datetime) -> dict[str, dict[date, int]]:
    """source → day → articles taken in (fetched) that day, from `since` on."""
    return _per_day(store, articles.c.source, articles.c.fetched_at, since)


def poll_outcomes_per_day(store: Store, since: datetime) -> dict[str, dict[str, dict[date, int]]]:
    """source → outcome (ok, not_modified, error, skipped) → day → polls, from `since` on."""
    query = (sa.select(polls.c.source, polls.c.outcome, _day(polls.c.at), sa.func.count())
             .where(polls.c.at >= since).group_by(sa.text("1"), sa.text("2"), sa.text("3")))
    out: dict[str, dict[str, dict[date, int]]] = {}
    with store.engine.connect() as conn:
        for source, outcome, day, n in conn.execute(query):
            out.setdefault(source, {}).setdefault(outcome, {})[date.fromisoformat(day)] = int(n)
    return out


def hits_per_day(store: Store, since: datetime) -> dict[str, dict[date, int]]:
    """rule id → day → matches that day, from `since` on."""
    return _per_day(store, matches.c.rule_id, matches.c.matched_at, since)


def last_hits(store: Store) -> dict[str, datetime]:
    """rule id → its latest match."""
    query = sa.select(matches.c.rule_id, sa.func.max(matches.c.matched_at)).group_by(matches.c.rule_id)
    with store.engine.connect() as conn:
        return {rule_id: when for rule_id, when in conn.execute(query) if when is not None}


@dataclass(frozen=True)
class Report:
    """One report of an event, with what the rules saw in it."""

    source: str
    url: str
    title: str
    domain: str
    copy: bool
    published: datetime | None
    added_at: datetime
    fetched_at: datetime | None
    decision: str
    reason: str
    content_hash: str
    evidence: str  # the text kept at decision time
    fields: dict[str, str]  # the article's title, summary, content as stored
    spans: list[dict[str, Any]]  # every span of every rule that matched it


def event_reports(store: Store, event_id: int) -> list[Report]:
    query = (sa.select(event_articles, articles.c.title.label("a_title"), articles.c.summary, articles.c.content)
             .join(articles, articles.c.id == event_articles.c.article_id)
             .where(event_articles.c.event_id == event_id).order_by(event_articles.c.id))
    with store.engine.connect() as conn:
        rows = list(conn.execute(query).mappings())
        spans: dict[int, list[dict[str, Any]]] = {}
        for article_id, found in conn.execute(sa.select(matches.c.article_id, matches.c.spans).where(
                matches.c.article_id.in_([r["article_id"] for r in rows]))):
            spans.setdefault(article_id, []).extend(found)
    return [Report(source=r["source"], url=r["url"], title=r["title"], domain=r["domain"], copy=bool(r["copy"]),
                   published=r["published"], added_at=r["added_at"], fetched_at=r["fetched_at"],
                   decision=r["decision"], reason=r["reason"], content_hash=r["content_hash"], evidence=r["text"],
                   fields={"title": r["a_title"], "summary": r["summary"], "content": r["content"]},
                   spans=spans.get(r["article_id"], [])) for r in rows]


def event_deliveries(store: Store, event_id: int) -> list[dict[str, Any]]:
    """Each delivery of each alert of the event: alert id, kind, notifier, status, attempts, last error."""
    query = (sa.select(alerts.c.id.label("alert_id"), alerts.c.payload, alerts.c.created_at, deliveries.c.notifier,
                       deliveries.c.status, deliveries.c.attempts, deliveries.c.last_error, deliveries.c.sent_at)
             .join(deliveries, deliveries.c.alert_id == alerts.c.id, isouter=True)
             .where(alerts.c.event_id == event_id).order_by(alerts.c.id, deliveries.c.notifier))
    with store.engine.connect() as conn:
        return [{"alert_id": r.alert_id, "kind": (r.payload or {}).get("kind", "alert"), "created_at": r.created_at,
                 "notifier": r.notifier, "status": r.status or "new", "attempts": r.attempts or 0,
                 "last_error": r.last_error, "sent_at": r.sent_at} for r in conn.execute(query)]


def days_back(now: datetime, days: int) -> datetime:
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return start
