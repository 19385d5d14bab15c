"""Reading what the events stage stored (events, their coverage and evidence) and managing silences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from monitor.events import Silence
from monitor.store import Store, event_articles, events, inserted_id, silences


@dataclass(frozen=True)
class EventSummary:
    id: int
    state: str
    severity: str
    title: str
    rule_ids: tuple[str, ...]
    entities: tuple[str, ...]
    opened_at: datetime
    updated_at: datetime
    reports: int
    sources: int  # independent: distinct domains of original reports
    first_source: str
    grade: str | None = None  # the Admiralty code (docs/grading.md)
    stage: str | None = None
    denied: bool = False


def event_detail(store: Store, event_id: int) -> tuple[EventSummary, list[dict[str, Any]]] | None:
    """An event and each of its reports, oldest first, with the decision, reason and evidence."""
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(events).where(events.c.id == event_id)).mappings().first()
        if row is None:
            return None
        members = _members(conn, event_id)
    return _summary(row, members), members


def _members(conn: sa.Connection, event_id: int) -> list[dict[str, Any]]:
    query = sa.select(event_articles).where(event_articles.c.event_id == event_id).order_by(event_articles.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]


def _summary(row: Any, members: list[dict[str, Any]]) -> EventSummary:
    return EventSummary(
        id=row["id"], state=row["state"], severity=row["severity"], title=row["title"],
        rule_ids=tuple(row["rule_ids"]), entities=tuple(row["entities"]), opened_at=row["opened_at"],
        updated_at=row["updated_at"], reports=len(members),
        sources=len({m["domain"] for m in members if not m["copy"]}),
        first_source=members[0]["source"] if members else "",
        grade=row["grade"], stage=row["stage"], denied=bool(row["denied"]),
    )


def add_silence(store: Store, rule_id: str, until: datetime, reason: str, now: datetime) -> int:
    with store.engine.begin() as conn:
        return inserted_id(conn.execute(
            silences.insert().values(rule_id=rule_id, until=until, reason=reason, created_at=now)
        ))


def active_silences(store: Store, now: datetime) -> tuple[Silence, ...]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(silences).where(silences.c.until > now).order_by(silences.c.id)).mappings()
        return tuple(Silence(r["id"], r["rule_id"], r["until"], r["reason"]) for r in rows)
