"""The store: SQLAlchemy Core over a SQLite file (WAL) by default, any SQLAlchemy URL in principle.

Every arrow after `sources` goes through here. One article's intake, matches, events and outbox rows
are written in one transaction, so a crash at any point loses nothing and repeats nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from monitor.errors import MonitorError
from monitor.models import Alert, Article, Decision, DecisionKind, Event, Match, SourceState
from monitor.text import canonical_url, content_hash

SCHEMA_VERSION = 1


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out, whatever the engine keeps."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


metadata = sa.MetaData()

meta = sa.Table("meta", metadata, sa.Column("key", sa.String(50), primary_key=True), sa.Column("value", sa.Text))

articles = sa.Table(
    "articles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("guid", sa.Text, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("canonical_url", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("published", UTCDateTime),
    sa.Column("fetched_at", UTCDateTime),
    sa.Column("language", sa.String(20)),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.UniqueConstraint("source", "guid", name="uq_articles_source_guid"),
    sa.Index("ix_articles_canonical_url", "canonical_url"),
)

source_state = sa.Table(
    "source_state",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("error_count", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("last_attempt", UTCDateTime),
    sa.Column("last_success", UTCDateTime),
    sa.Column("next_due", UTCDateTime),
    sa.Column("items_seen", sa.Integer, nullable=False, default=0),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("rule_ids", sa.JSON, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("severity", sa.String(20), nullable=False),
    sa.Column("entities", sa.JSON, nullable=False),
    sa.Column("first_article_id", sa.Integer, sa.ForeignKey("articles.id"), nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

matches = sa.Table(
    "matches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id"), nullable=False),
    sa.Column("event_id", sa.Integer, sa.ForeignKey("events.id")),
    sa.Column("rule_id", sa.String(200), nullable=False),
    sa.Column("severity", sa.String(20), nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("spans", sa.JSON, nullable=False),
    sa.Column("decision", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("matched_at", UTCDateTime, nullable=False),
    sa.Index("ix_matches_article", "article_id"),
)

# The outbox: an alert row is written with its event; a delivery row per notifier records sending.
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("event_id", sa.Integer, sa.ForeignKey("events.id"), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("done_at", UTCDateTime),  # every notifier it was routed to has accepted or refused it
    sa.Index("ix_alerts_pending", "done_at"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False),
    sa.Column("notifier", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # pending | sent | failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("sent_at", UTCDateTime),
    sa.UniqueConstraint("alert_id", "notifier", name="uq_deliveries_alert_notifier"),
)


class StoreError(MonitorError):
    pass


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (the web view, `monitor events`) never block polls
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_store(url: str) -> Store:
    """Open (and create, on first use) the store at a SQLAlchemy URL, or say why it cannot be."""
    try:
        return Store(create_engine(url))
    except (sa.exc.SQLAlchemyError, OSError, ImportError) as exc:  # ImportError: no driver for that engine
        shown = sa.engine.make_url(url).render_as_string(hide_password=True) if "://" in url else url
        raise StoreError(f"cannot open the store at {shown}: {exc}; check store.url") from exc


def create_engine(url: str) -> Engine:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)
        self._check_version()

    def _check_version(self) -> None:
        with self.engine.begin() as conn:
            found = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
            if found is None:
                conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            elif int(found) > SCHEMA_VERSION:
                raise StoreError(
                    f"the database has schema version {found}, newer than this monitor ({SCHEMA_VERSION}); "
                    "upgrade monitor or point store.url at another database"
                )

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Intake]:
        with self.engine.begin() as conn:
            yield Intake(conn)

    # --- source state ---------------------------------------------------------------------------

    def source_state(self, name: str) -> SourceState:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(source_state).where(source_state.c.name == name)).mappings().first()
        return SourceState(**dict(row)) if row else SourceState(name=name)

    def source_states(self) -> list[SourceState]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(source_state).order_by(source_state.c.name)).mappings().all()
        return [SourceState(**dict(r)) for r in rows]

    def save_source_state(self, state: SourceState) -> None:
        values = {c.name: getattr(state, c.name) for c in source_state.columns}
        with self.engine.begin() as conn:
            updated = conn.execute(
                source_state.update().where(source_state.c.name == state.name).values(**values)
            ).rowcount
            if not updated:
                conn.execute(source_state.insert().values(**values))

    # --- outbox -----------------------------------------------------------------------------------

    def pending_alerts(self, limit: int = 500) -> list[Alert]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(alerts.c.id, alerts.c.payload).where(alerts.c.done_at.is_(None)).order_by(alerts.c.id)
                .limit(limit)
            ).all()
        return [Alert.from_dict({**payload, "id": alert_id}) for alert_id, payload in rows]

    def delivery(self, alert_id: int, notifier: str) -> dict[str, Any] | None:
        """The delivery row of one alert to one notifier, if any attempt was made."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(deliveries).where(deliveries.c.alert_id == alert_id, deliveries.c.notifier == notifier)
            ).mappings().first()
        return dict(row) if row else None

    def record_delivery(
        self, alert_id: int, notifier: str, status: str, now: datetime, error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        values = {"status": status, "last_error": error, "next_attempt_at": next_attempt_at,
                  "sent_at": now if status == "sent" else None}
        where = (deliveries.c.alert_id == alert_id) & (deliveries.c.notifier == notifier)
        with self.engine.begin() as conn:
            updated = conn.execute(
                deliveries.update().where(where).values(attempts=deliveries.c.attempts + 1, **values)
            ).rowcount
            if not updated:
                conn.execute(deliveries.insert().values(alert_id=alert_id, notifier=notifier, attempts=1, **values))

    def mark_done(self, alert_id: int, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(alerts.update().where(alerts.c.id == alert_id).values(done_at=now))

    def deliveries(self, status: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(deliveries).order_by(deliveries.c.id)
        if status:
            query = query.where(deliveries.c.status == status)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def count(self, table: sa.Table) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)


class Intake:
    """One article's intake inside one transaction: seen? store it, its matches, events and alerts."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def seen(self, article: Article) -> bool:
        """Known by its source's GUID or by its canonical URL (from any source)."""
        known = (articles.c.source == article.source) & (articles.c.guid == article.guid)
        if article.url:  # an article without a link is known by its GUID alone
            known = known | (articles.c.canonical_url == canonical_url(article.url))
        return self.conn.execute(sa.select(articles.c.id).where(known).limit(1)).first() is not None

    def add_article(self, article: Article) -> int:
        result = self.conn.execute(
            articles.insert().values(
                source=article.source, guid=article.guid, url=article.url, canonical_url=canonical_url(article.url),
                title=article.title, summary=article.summary, content=article.content,
                published=article.published, fetched_at=article.fetched_at, language=article.language,
                content_hash=content_hash(article.title, article.summary, article.content),
            )
        )
        return _new_id(result)

    def candidate_events(self, match: Match, article: Article) -> list[Event]:
        """Events that matched the same rule on the same canonical URL (the v1 notion of "same story")."""
        url = canonical_url(article.url)
        rows = self.conn.execute(
            sa.select(events.c.id, events.c.rule_ids, events.c.opened_at, events.c.entities, articles.c.canonical_url)
            .join(articles, articles.c.id == events.c.first_article_id)
            .where(articles.c.canonical_url == url)
        ).all()
        return [
            Event(id=r.id, rule_ids=tuple(r.rule_ids), article_urls=(r.canonical_url,), opened_at=r.opened_at,
                  entities=tuple(r.entities))
            for r in rows
            if match.rule_id in r.rule_ids
        ]

    def apply(
        self, decision: Decision, article_id: int, match: Match, alert: Alert | None, now: datetime
    ) -> int | None:
        """Carry out a decision: record the match; on OPEN write the event and its outbox row.
        Returns the new alert's id, if any."""
        event_id = decision.event_id
        alert_id = None
        if decision.kind is DecisionKind.OPEN:
            event_id = self._open_event(article_id, match, now)
            if alert is not None:
                payload = replace(alert, event_id=event_id).to_dict()
                payload.pop("id")
                alert_id = _new_id(
                    self.conn.execute(alerts.insert().values(event_id=event_id, payload=payload, created_at=now))
                )
        self.conn.execute(
            matches.insert().values(
                article_id=article_id, event_id=event_id, rule_id=match.rule_id, severity=match.severity,
                tags=list(match.tags), spans=[_span_json(s) for s in match.spans], decision=decision.kind.value,
                reason=decision.reason, matched_at=now,
            )
        )
        return alert_id

    def _open_event(self, article_id: int, match: Match, now: datetime) -> int:
        title = self.conn.execute(sa.select(articles.c.title).where(articles.c.id == article_id)).scalar() or ""
        return _new_id(
            self.conn.execute(
                events.insert().values(
                    rule_ids=[match.rule_id], title=title, severity=match.severity, entities=list(match.entities),
                    first_article_id=article_id, opened_at=now, updated_at=now,
                )
            )
        )


def _new_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _span_json(span: Any) -> dict[str, Any]:
    return {"field": span.field, "start": span.start, "end": span.end, "text": span.text, "term": span.term,
            "concept": span.concept, "entity": span.entity}

