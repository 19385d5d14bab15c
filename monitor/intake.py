"""One article's intake, in one transaction: seen? store it; its sighting's candidate events; carry out
the decision (event, its article with the evidence, its keys, the matches) and queue the alert.

The decisions themselves are `events.decide`'s; this module only reads and writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitor.events import Policy, Sighting, grading_json, regrade
from monitor.fingerprint import band_keys
from monitor.models import Alert, Article, Decision, DecisionKind, Event, Fingerprint, Report, Span, severity_rank
from monitor.store import Store, alerts, articles, event_articles, event_keys, events, inserted_id, matches
from monitor.text import canonical_url, content_hash

_STATE = {DecisionKind.OPEN: "alerted", DecisionKind.HOLD: "held", DecisionKind.IGNORE: "silenced"}
_MIN_HASHED_TEXT = 80  # shorter texts ("Video", a bare headline) are too common to identify an article


def _seen_query(by_url: bool, by_text: bool) -> sa.Select[tuple[int]]:
    known = (articles.c.source == sa.bindparam("source")) & (articles.c.guid == sa.bindparam("guid"))
    if by_url:
        known = known | (articles.c.canonical_url == sa.bindparam("url"))
    if by_text:
        known = known | (articles.c.content_hash == sa.bindparam("hash"))
    return sa.select(articles.c.id).where(known).limit(1)


_SEEN = {(u, t): _seen_query(u, t) for u in (False, True) for t in (False, True)}
_ADD_ARTICLE = articles.insert()


@contextmanager
def intake(store: Store) -> Iterator[Intake]:
    with store.engine.begin() as conn:
        yield Intake(conn)


@dataclass(frozen=True)
class Applied:
    """What `apply` did: the event the article went to."""

    event_id: int
    opened: bool


class Intake:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def seen(self, article: Article) -> bool:
        """Known by its source's GUID, its canonical URL or its exact text, from any source."""
        by_url = bool(article.url)  # an article without a link is known by its GUID alone
        by_text = len(article.title) + len(article.summary) + len(article.content) >= _MIN_HASHED_TEXT
        found = self.conn.execute(_SEEN[(by_url, by_text)], {
            "source": article.source, "guid": article.guid,
            "url": canonical_url(article.url) if by_url else "", "hash": _hash(article) if by_text else "",
        }).first()
        return found is not None

    def add_article(self, article: Article) -> int:
        # A prebuilt statement with parameters: building `insert().values(...)` per article cost as
        # much as the insert itself.
        return inserted_id(self.conn.execute(_ADD_ARTICLE, {
            "source": article.source, "guid": article.guid, "url": article.url,
            "canonical_url": canonical_url(article.url), "title": article.title, "summary": article.summary,
            "content": article.content, "published": article.published, "fetched_at": article.fetched_at,
            "language": article.language, "content_hash": _hash(article),
        }))

    # --- events ---------------------------------------------------------------------------------

    def candidate_events(self, sighting: Sighting, policy: Policy, now: datetime) -> list[Event]:
        """Events opened inside the longest window that share an entity or a MinHash band."""
        longest = max([policy.window, *(s.window for s in policy.rules.values() if s.window)])
        at = sighting.at(now)  # the story's time: reports may arrive late or out of order
        days = [(at - longest + timedelta(days=n)).date() for n in range(2 * longest.days + 3)]
        keys = [k for day in days for k in _entity_keys(sighting.joining_entities, day)] + _band_keys(
            sighting.fingerprint)
        if not keys:
            return []
        # Two steps, so that the key index leads: a planner that started from the opened_at index would
        # read every event of the window, which grows with the number of sources.
        ids = list(self.conn.execute(sa.select(event_keys.c.event_id).where(event_keys.c.key.in_(keys))).scalars())
        if not ids:
            return []
        rows = self.conn.execute(
            sa.select(events).where(events.c.id.in_(set(ids)), events.c.opened_at > at - longest,
                                    events.c.opened_at < at + longest)
        ).mappings().all()
        members = self._members([row["id"] for row in rows])
        return [_event(row, members.get(row["id"], [])) for row in rows]

    def event(self, event_id: int) -> Event:
        row = self.conn.execute(sa.select(events).where(events.c.id == event_id)).mappings().one()
        return _event(row, self._members([event_id]).get(event_id, []))

    def _members(self, event_ids: list[int]) -> dict[int, list[Any]]:
        """The fingerprint, domain and copy flag of each article of these events, in one query."""
        found: dict[int, list[Any]] = {}
        if not event_ids:
            return found
        query = sa.select(event_articles.c.event_id, event_articles.c.fingerprint, event_articles.c.domain,
                          event_articles.c.copy).where(event_articles.c.event_id.in_(event_ids))
        for member in self.conn.execute(query):
            found.setdefault(member.event_id, []).append(member)
        return found

    def apply(self, decision: Decision, joined: Event | None, article_id: int, article: Article, sighting: Sighting,
              policy: Policy, now: datetime) -> Applied:
        """Open or update the event, link the article with its evidence and keys, record the matches.
        `joined`: the event the decision joins as read in this transaction (None: open a new one)."""
        if joined is None:
            event_id, opened = self._open(decision, article_id, article, sighting, policy, now), sighting.at(now)
        else:
            event_id, opened = joined.id, joined.opened_at
            self._update(joined, decision, sighting, now)
        self._link(event_id, decision, article_id, article, sighting, now)
        self._index(event_id, sighting, opened)
        for match in sighting.matches:
            self.conn.execute(matches.insert().values(
                article_id=article_id, event_id=event_id, rule_id=match.rule_id, severity=match.severity,
                tags=list(match.tags), spans=[_span_json(s) for s in match.spans], decision=decision.kind.value,
                reason=decision.reason, matched_at=now,
            ))
        return Applied(event_id, joined is None)

    def _open(self, decision: Decision, article_id: int, article: Article, sighting: Sighting, policy: Policy,
              now: datetime) -> int:
        alerted = decision.kind is DecisionKind.OPEN
        graded = regrade(None, sighting, False)
        return inserted_id(self.conn.execute(events.insert().values(
            grade=str(graded.grade), stage=graded.stage, denied=graded.denied, grading=grading_json(graded.grading),
            state=_STATE[decision.kind], rule_ids=list(sighting.rule_ids), title=article.title,
            severity=sighting.primary.severity, tags=list(sighting.tags), entities=sorted(sighting.entities),
            first_article_id=article_id, opened_at=sighting.at(now), updated_at=now,
            window_seconds=int(policy.window_for(sighting.rule_ids).total_seconds()),
            min_sources=policy.min_sources_for(sighting.rule_ids), official=sighting.official,
            alert_count=1 if alerted else 0, last_alert_at=now if alerted else None,
        )))

    def _update(self, event: Event, decision: Decision, sighting: Sighting, now: datetime) -> None:
        severity = max(event.severity, sighting.primary.severity, key=severity_rank)
        graded = regrade(event, sighting, decision.copy)
        values: dict[str, Any] = {
            "grade": str(graded.grade), "stage": graded.stage, "denied": graded.denied,
            "grading": grading_json(graded.grading),
            "rule_ids": list(dict.fromkeys(event.rule_ids + sighting.rule_ids)),
            "severity": severity,
            "entities": sorted(set(event.entities) | sighting.entities),
            "official": event.official or sighting.official,
            "updated_at": now,
        }
        if decision.kind in (DecisionKind.OPEN, DecisionKind.UPDATE):
            values.update(alert_count=event.alert_count + 1, last_alert_at=now)
        if decision.kind is DecisionKind.OPEN:
            values["state"] = "alerted"
        self.conn.execute(events.update().where(events.c.id == event.id).values(**values))

    def _link(self, event_id: int, decision: Decision, article_id: int, article: Article, sighting: Sighting,
              now: datetime) -> None:
        self.conn.execute(event_articles.insert().values(
            event_id=event_id, article_id=article_id, source=article.source, url=article.url, title=article.title,
            published=article.published, domain=sighting.domain, copy=decision.copy, rule_ids=list(sighting.rule_ids),
            decision=decision.kind.value, reason=decision.reason,
            fingerprint={"values": list(sighting.fingerprint.values), "size": sighting.fingerprint.size}
            if sighting.fingerprint else None,
            text="\n\n".join(t for t in (article.title, article.summary, article.content) if t),
            content_hash=_hash(article), fetched_at=article.fetched_at, added_at=now,
        ))

    def _index(self, event_id: int, sighting: Sighting, opened: datetime) -> None:
        """Keys that find the event again: its entities on the day it opened, and the article's bands."""
        known = set(self.conn.execute(sa.select(event_keys.c.key).where(event_keys.c.event_id == event_id)).scalars())
        keys = _entity_keys(sighting.entities, opened.date()) + _band_keys(sighting.fingerprint)
        fresh = [k for k in dict.fromkeys(keys) if k not in known]
        if fresh:
            self.conn.execute(event_keys.insert(), [{"key": k, "event_id": event_id} for k in fresh])

    def coverage(self, event_id: int) -> list[Report]:
        rows = self.conn.execute(
            sa.select(event_articles).where(event_articles.c.event_id == event_id).order_by(event_articles.c.id)
        ).mappings()
        return [Report(r["source"], r["url"], r["title"], r["published"], r["domain"], r["copy"]) for r in rows]

    def queue(self, alert: Alert, now: datetime) -> int:
        """Write the alert to the outbox, in the event's transaction."""
        payload = replace(alert, id=None).to_dict()
        payload.pop("id")
        return inserted_id(self.conn.execute(
            alerts.insert().values(event_id=alert.event_id, payload=payload, created_at=now)
        ))


def _event(row: Any, members: list[Any]) -> Event:
    originals = [m for m in members if not m.copy]
    return Event(
        id=row["id"], state=row["state"], rule_ids=tuple(row["rule_ids"]), severity=row["severity"],
        entities=tuple(row["entities"]), opened_at=row["opened_at"], window=timedelta(seconds=row["window_seconds"]),
        fingerprints=tuple(Fingerprint(tuple(m.fingerprint["values"]), m.fingerprint["size"])
                           for m in originals if m.fingerprint),
        domains=tuple(sorted({m.domain for m in originals})),
        min_sources=row["min_sources"], official=row["official"], alert_count=row["alert_count"],
        last_alert_at=row["last_alert_at"], grade=row["grade"], stage=row["stage"], denied=bool(row["denied"]),
        grading=row["grading"] or {},
    )


def _entity_keys(entities: frozenset[str], day: date) -> list[str]:
    # Dated, so that a lookup reads only the events of the window's days, however many a year holds.
    return [f"en:{day.isoformat()}:{e}"[:100] for e in sorted(entities)]


def _band_keys(fingerprint: Fingerprint | None) -> list[str]:
    return band_keys(fingerprint) if fingerprint else []


@lru_cache(maxsize=64)  # seen, add_article and the evidence all hash the same article in one transaction
def _hash(article: Article) -> str:
    return content_hash(article.title, article.summary, article.content)


def _span_json(span: Span) -> dict[str, Any]:
    return {"field": span.field, "start": span.start, "end": span.end, "text": span.text, "term": span.term,
            "concept": span.concept, "entity": span.entity}

