"""The store: SQLAlchemy Core over a SQLite file (WAL) by default, any SQLAlchemy URL in principle.

Every arrow after `sources` goes through here. One article's intake, matches, events and outbox rows
are written in one transaction, so a crash at any point loses nothing and repeats nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.errors import MonitorError
from monitor.models import Alert, SourceState

log = logging.getLogger(__name__)

SCHEMA_VERSION = 5  # 3: source_state.last_new, last_problem, extra; snapshots. 4: leases, digests.slot. 5: polls
OLDEST_UPGRADABLE = 3  # older databases were made by pre-releases


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
    sa.Index("ix_articles_content_hash", "content_hash"),
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
    sa.Column("last_new", UTCDateTime),
    sa.Column("last_problem", sa.Text),
    sa.Column("extra", sa.JSON),
)

_STATE_OF = sa.select(source_state).where(source_state.c.name == sa.bindparam("state_name"))
_UPDATE_STATE = source_state.update().where(source_state.c.name == sa.bindparam("state_name")).values(
    {c.name: sa.bindparam(c.name) for c in source_state.columns})

# The last good snapshot of a list source (sanctions): entry key → [digest, title]. The next download is
# diffed against it; a suspect one (shrunk too much) never replaces it.
snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("taken_at", UTCDateTime, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("entries", sa.JSON, nullable=False),
)

# An event is one story; its articles (with the evidence kept at decision time) and the keys that
# find it again (entities, MinHash bands) live beside it.
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("state", sa.String(20), nullable=False),  # alerted | held | silenced
    sa.Column("rule_ids", sa.JSON, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("severity", sa.String(20), nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("entities", sa.JSON, nullable=False),
    sa.Column("first_article_id", sa.Integer, sa.ForeignKey("articles.id"), nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("window_seconds", sa.Integer, nullable=False),
    sa.Column("min_sources", sa.Integer, nullable=False),
    sa.Column("official", sa.Boolean, nullable=False),
    sa.Column("alert_count", sa.Integer, nullable=False),
    sa.Column("last_alert_at", UTCDateTime),
    # Analyst grading (docs/grading.md): the Admiralty code, the evidence-ladder stage, the denial
    # marker, and what the grade rests on (independent voices, an open denial) to recompute it.
    sa.Column("grade", sa.String(2)),
    sa.Column("stage", sa.String(20)),
    sa.Column("denied", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("grading", sa.JSON),
    sa.Index("ix_events_opened", "opened_at"),
)

event_articles = sa.Table(
    "event_articles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("event_id", sa.Integer, sa.ForeignKey("events.id"), nullable=False),
    sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id"), nullable=False),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("published", UTCDateTime),
    sa.Column("domain", sa.String(200), nullable=False),
    sa.Column("copy", sa.Boolean, nullable=False),  # a near-duplicate of an earlier report: one voice with it
    sa.Column("rule_ids", sa.JSON, nullable=False),
    sa.Column("decision", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("fingerprint", sa.JSON),
    sa.Column("text", sa.Text, nullable=False),  # the evidence: what was matched, as it was then
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("fetched_at", UTCDateTime),
    sa.Column("added_at", UTCDateTime, nullable=False),
    sa.Index("ix_event_articles_event", "event_id"),
)

event_keys = sa.Table(
    "event_keys",
    metadata,
    sa.Column("key", sa.String(100), nullable=False),
    sa.Column("event_id", sa.Integer, sa.ForeignKey("events.id"), nullable=False),
    sa.PrimaryKeyConstraint("key", "event_id"),
)

silences = sa.Table(
    "silences",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("rule_id", sa.String(200), nullable=False),
    sa.Column("until", UTCDateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
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
    # pending → sending (claimed; next_attempt_at is the claim's end) → sent | failed | skipped | queued | held;
    # queued (waiting for a digest) → sent once the digest was accepted; held (catching up after downtime) →
    # catching_up (claimed for the catch-up message) → sent once it was accepted, or held again to retry
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("sent_at", UTCDateTime),
    sa.UniqueConstraint("alert_id", "notifier", name="uq_deliveries_alert_notifier"),
)

# An alert in the outbox that no delivery pass has tried yet (not done, no delivery row).
UNTRIED = sa.and_(alerts.c.done_at.is_(None), ~sa.exists().where(deliveries.c.alert_id == alerts.c.id))

# The message an event started on a notifier (Slack: channel id and ts; email: Message-ID): its later
# alerts reply there. Written in the transaction that marks the first message sent.
threads = sa.Table(
    "threads",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("event_id", sa.Integer, sa.ForeignKey("events.id"), nullable=False),
    sa.Column("notifier", sa.String(200), nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("ref", sa.Text, nullable=False),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False),  # the alert that started it
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("event_id", "notifier", name="uq_threads_event_notifier"),
)

# One row per digest a schedule (or `monitor digest send`) asked for.
digests = sa.Table(
    "digests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("notifier", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # pending | sending | sent | empty | failed | merged
    sa.Column("requested_at", UTCDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("next_attempt_at", UTCDateTime),  # when pending: not before; when sending: the claim's end
    sa.Column("since", UTCDateTime),  # the period it covers: since the previous digest sent ...
    sa.Column("until", UTCDateTime),  # ... until it was built
    sa.Column("entries", sa.Integer, nullable=False, default=0),
    sa.Column("alerts", sa.Integer, nullable=False, default=0),
    sa.Column("message_id", sa.Text),
    sa.Column("sent_at", UTCDateTime),
    # the schedule's fire time it answers (None: asked for by hand); unique, so that of several workers
    # whose schedules fire together only one asks (schema 4)
    sa.Column("slot", UTCDateTime),
    sa.Index("ix_digests_notifier_status", "notifier", "status"),
    sa.Index("uq_digests_notifier_slot", "notifier", "slot", unique=True),
)

# Leases (schema 4): a named piece of work ("source:NAME") held by one worker until `expires_at`;
# see monitor/leases.py and docs/scaling.md.
# One row per poll: what the sources page plots (outcomes per day), kept `POLL_HISTORY_DAYS`.
polls = sa.Table(
    "polls",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),  # ok | not_modified | error | skipped
    sa.Column("items", sa.Integer, nullable=False),
    sa.Column("new", sa.Integer, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Index("ix_polls_source_at", "source", "at"),
    sa.Index("ix_polls_at", "at"),
)
POLL_HISTORY_DAYS = 90

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(250), primary_key=True),
    sa.Column("owner", sa.String(200)),
    sa.Column("expires_at", UTCDateTime),
    sa.Column("acquired_at", UTCDateTime),  # when this owner took it (kept while it renews)
)


class StoreError(MonitorError):
    pass


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (the web view, `monitor events`) never block polls
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MB: key lookups stay in memory as stories pile up
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
    if url.startswith("postgresql"):  # a server restart must not cost a poll its first statement
        return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


# --- schema versions and upgrades ------------------------------------------------------------------
# The target is always the current `metadata`: a fresh database gets it whole (create_all); an older one
# gets its missing tables from create_all and its missing columns and indexes from the numbered steps
# below, all in one transaction. docs/scaling.md says how to add a column.

_MIGRATION_LOCK = 0x6D6F6E69746F72  # "monitor": PostgreSQL advisory lock, so that workers upgrade one at a time


def add_columns(conn: sa.Connection, table: sa.Table, *names: str) -> None:
    """ALTER TABLE … ADD COLUMN for each named column of `table` (as `metadata` declares it) not there yet."""
    present = {c["name"] for c in sa.inspect(conn).get_columns(table.name)}
    preparer = conn.dialect.identifier_preparer
    for name in names:
        if name not in present:
            column = sa.schema.CreateColumn(table.c[name]).compile(dialect=conn.dialect)
            conn.execute(sa.text(f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {column}"))


def add_indexes(conn: sa.Connection, table: sa.Table, *names: str) -> None:
    for index in table.indexes:
        if index.name in names:
            index.create(conn, checkfirst=True)


def _upgrade_to_4(conn: sa.Connection) -> None:
    add_columns(conn, digests, "slot")  # leases, digests.slot: several workers (docs/scaling.md)
    add_indexes(conn, digests, "uq_digests_notifier_slot")  # `leases` is new: create_all made it
    add_columns(conn, events, "grade", "stage", "denied", "grading")  # grading (docs/grading.md)


def _upgrade_to_5(conn: sa.Connection) -> None:
    """`polls` is new: create_all made it; nothing else changed."""


# version → the step that brings a database of the version before it there
UPGRADES: dict[int, Callable[[sa.Connection], None]] = {4: _upgrade_to_4, 5: _upgrade_to_5}


def migrate(engine: Engine) -> int:
    """Create or upgrade the schema to SCHEMA_VERSION; returns the version the database had (0: new)."""
    for attempt in range(3):
        try:
            with engine.begin() as conn:
                return _migrate(conn)
        except sa.exc.OperationalError:  # two processes creating one new SQLite file at once
            if attempt == 2 or engine.dialect.name != "sqlite":
                raise
    raise AssertionError("unreachable")


def _migrate(conn: sa.Connection) -> int:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    found = 0
    if sa.inspect(conn).has_table(meta.name):
        found = int(conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar() or 0)
    if found > SCHEMA_VERSION:
        raise StoreError(f"the database has schema version {found}, newer than this monitor ({SCHEMA_VERSION}); "
                         "upgrade monitor or point store.url at another database")
    if 0 < found < OLDEST_UPGRADABLE:
        raise StoreError(f"the database has schema version {found}, older than this monitor ({SCHEMA_VERSION}) "
                         "and made by a pre-release; move it aside and start a new one")
    metadata.create_all(conn)
    for version in range(found + 1 if found else SCHEMA_VERSION + 1, SCHEMA_VERSION + 1):
        UPGRADES[version](conn)
        log.info("store: schema upgraded from version %d to %d", version - 1, version)
    if found == 0:
        conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
    elif found < SCHEMA_VERSION:
        conn.execute(meta.update().where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION)))
    return found


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        migrate(engine)

    def close(self) -> None:
        self.engine.dispose()

    # --- source state ---------------------------------------------------------------------------

    def source_state(self, name: str) -> SourceState:
        with self.engine.connect() as conn:
            row = conn.execute(_STATE_OF, {"state_name": name}).mappings().first()
        return _source_state(row) if row else SourceState(name=name)

    def source_states(self) -> list[SourceState]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(source_state).order_by(source_state.c.name)).mappings().all()
        return [_source_state(r) for r in rows]

    def snapshot(self, source: str) -> dict[str, list[str]] | None:
        """The last good snapshot of a list source (entry key → [digest, title]), or None before the first."""
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(snapshots.c.entries).where(snapshots.c.source == source)).scalar()
        return dict(found) if found is not None else None

    def save_snapshot(self, source: str, entries: dict[str, list[str]], taken_at: datetime) -> None:
        values = {"taken_at": taken_at, "size": len(entries), "entries": entries}
        with self.engine.begin() as conn:
            if not conn.execute(snapshots.update().where(snapshots.c.source == source).values(**values)).rowcount:
                conn.execute(snapshots.insert().values(source=source, **values))

    def record_poll(self, source: str, at: datetime, outcome: str, items: int, new: int, seconds: float) -> None:
        """One poll's outcome, for the history the sources page plots (`prune_polls` bounds it)."""
        with self.engine.begin() as conn:
            conn.execute(polls.insert(), {"source": source, "at": at, "outcome": outcome, "items": items,
                                          "new": new, "seconds": seconds})

    def last_poll_at(self) -> datetime | None:
        """When any source was last polled, by any worker: how long monitor has not been running."""
        with self.engine.connect() as conn:
            found: datetime | None = conn.execute(sa.select(sa.func.max(polls.c.at))).scalar()
        return found

    def polled_since(self, at: datetime) -> set[str]:
        """The sources polled (successfully or not) at or after `at`."""
        with self.engine.connect() as conn:
            return set(conn.execute(sa.select(polls.c.source).where(polls.c.at >= at).distinct()).scalars())

    def record_catch_up(self, since: datetime, started: datetime) -> None:
        """The catch-up this worker began, for the workers that start after it (they join it)."""
        value = json.dumps({"since": since.isoformat(), "started": started.isoformat()})
        update = meta.update().where(meta.c.key == "catch_up").values(value=value)
        try:
            with self.engine.begin() as conn:
                if not conn.execute(update).rowcount:
                    conn.execute(meta.insert().values(key="catch_up", value=value))
        except sa.exc.IntegrityError:  # two workers began at once: the row is there now
            with self.engine.begin() as conn:
                conn.execute(update)

    def last_catch_up(self) -> tuple[datetime, datetime] | None:
        """(since, started) of the last catch-up any worker began."""
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(meta.c.value).where(meta.c.key == "catch_up")).scalar()
        if not value:
            return None
        found = json.loads(value)
        return datetime.fromisoformat(found["since"]), datetime.fromisoformat(found["started"])

    def prune_polls(self, now: datetime) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(polls.delete().where(
                polls.c.at < now - timedelta(days=POLL_HISTORY_DAYS))).rowcount or 0)

    def save_source_state(self, state: SourceState) -> None:
        values = {c.name: getattr(state, c.name) for c in source_state.columns}
        values["extra"] = dict(state.extra)
        with self.engine.begin() as conn:
            # Statements built once (below the table): building them per call cost a third of a 304 poll.
            if not conn.execute(_UPDATE_STATE, {**values, "state_name": state.name}).rowcount:
                conn.execute(source_state.insert(), values)

    # --- outbox -----------------------------------------------------------------------------------
    # An alert row stays pending until each notifier it was routed to is done with it. A delivery is
    # claimed before its send (status `sending` until the claim ends), so two processes (the daemon and
    # `monitor outbox retry`, or two daemons) never send it both; it is marked only after the channel
    # answered.

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

    def deliveries(self, status: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(deliveries).order_by(deliveries.c.id)
        if status:
            query = query.where(deliveries.c.status == status)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def waits_for_earlier(self, alert: Alert, notifier: str) -> bool:
        """An earlier alert of the same event is still on its way to this notifier: keep the order."""
        earlier = sa.select(alerts.c.id).where(alerts.c.event_id == alert.event_id, alerts.c.id < alert.id)
        query = sa.select(deliveries.c.id).where(
            deliveries.c.alert_id.in_(earlier), deliveries.c.notifier == notifier,
            deliveries.c.status.in_(("pending", "sending", "held", "catching_up")),
        ).limit(1)
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def claim_delivery(self, alert_id: int, notifier: str, now: datetime, lease: timedelta) -> int | None:
        """Take one delivery for sending until `now + lease`. Returns the attempts made before this one,
        or None when it is done, not yet due, or claimed by another process."""
        where = (deliveries.c.alert_id == alert_id) & (deliveries.c.notifier == notifier)
        try:
            with self.engine.begin() as conn:
                if conn.execute(sa.select(deliveries.c.id).where(where)).first() is None:
                    conn.execute(deliveries.insert().values(alert_id=alert_id, notifier=notifier, status="pending",
                                                            attempts=0))
        except sa.exc.IntegrityError:
            pass  # another process inserted it first; the claim below decides
        due = ((deliveries.c.status == "pending")
               & (deliveries.c.next_attempt_at.is_(None) | (deliveries.c.next_attempt_at <= now))) | (
            (deliveries.c.status == "sending") & (deliveries.c.next_attempt_at <= now))  # a claim that ran out
        with self.engine.begin() as conn:
            # PostgreSQL: a row another worker is claiming right now is passed over, not waited for
            # (SQLite takes the database's write lock instead; the UPDATE's own WHERE decides on both).
            if conn.execute(sa.select(deliveries.c.id).where(where & due)
                            .with_for_update(skip_locked=True)).first() is None:
                return None
            taken = conn.execute(deliveries.update().where(where & due).values(
                status="sending", next_attempt_at=now + lease, attempts=deliveries.c.attempts + 1)).rowcount
            if not taken:
                return None
            return int(conn.execute(sa.select(deliveries.c.attempts).where(where)).scalar_one()) - 1

    def finish_delivery(self, alert_id: int, notifier: str, status: str, now: datetime, error: str | None = None,
                        next_attempt_at: datetime | None = None, thread: tuple[int, str, str] | None = None) -> None:
        """Record how a claimed delivery ended. `thread` (event id, channel, ref) is the event's first
        message on this notifier, kept in the same transaction unless the event has one already."""
        where = (deliveries.c.alert_id == alert_id) & (deliveries.c.notifier == notifier)
        with self.engine.begin() as conn:
            conn.execute(deliveries.update().where(where).values(
                status=status, last_error=error, next_attempt_at=next_attempt_at,
                sent_at=now if status == "sent" else None))
            if thread is None:
                return
            event_id, channel, ref = thread
            known = sa.select(threads.c.id).where(threads.c.event_id == event_id, threads.c.notifier == notifier)
            if conn.execute(known).first() is None:
                conn.execute(threads.insert().values(event_id=event_id, notifier=notifier, channel=channel, ref=ref,
                                                     alert_id=alert_id, created_at=now))

    def thread(self, event_id: int, notifier: str) -> tuple[str, str, Alert] | None:
        """The event's first message on a notifier: channel, ref and the alert it carried."""
        query = (sa.select(threads.c.channel, threads.c.ref, alerts.c.id, alerts.c.payload)
                 .join(alerts, alerts.c.id == threads.c.alert_id)
                 .where(threads.c.event_id == event_id, threads.c.notifier == notifier))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return (row.channel, row.ref, Alert.from_dict({**row.payload, "id": row.id})) if row else None

    def mark_done(self, alert_id: int, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(alerts.update().where(alerts.c.id == alert_id).values(done_at=now))

    def undelivered(self) -> list[dict[str, Any]]:
        """For `monitor outbox`: every delivery not done (pending, sending, failed), and alerts not yet
        tried at all, oldest first, with the alert's headline."""
        tried = (sa.select(deliveries, alerts.c.payload, alerts.c.created_at)
                 .join(alerts, alerts.c.id == deliveries.c.alert_id)
                 .where(deliveries.c.status.in_(("pending", "sending", "failed"))))
        untried = sa.select(alerts.c.id.label("alert_id"), alerts.c.payload, alerts.c.created_at).where(UNTRIED)
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(tried).mappings()]
            rows += [{**dict(r), "id": None, "notifier": None, "status": "new", "attempts": 0, "last_error": None,
                      "next_attempt_at": None} for r in conn.execute(untried).mappings()]
        return sorted(rows, key=lambda r: (r["alert_id"], r["notifier"] or ""))

    def delivery_counts(self) -> dict[tuple[str, str], int]:
        """(notifier, status) → deliveries."""
        query = sa.select(deliveries.c.notifier, deliveries.c.status, sa.func.count()).group_by(
            deliveries.c.notifier, deliveries.c.status)
        with self.engine.connect() as conn:
            return {(n, s): int(c) for n, s, c in conn.execute(query).all()}

    def retry_deliveries(self, delivery_id: int | None = None) -> int:
        """Make failed and waiting deliveries due now (one, or all), and their alerts pending again.
        A delivery a channel accepted, or one being sent, is never touched. Returns how many."""
        chosen: list[sa.ColumnElement[bool]] = [deliveries.c.status.in_(("failed", "pending"))]
        if delivery_id is not None:
            chosen.append(deliveries.c.id == delivery_id)
        with self.engine.begin() as conn:
            alert_ids = list(conn.execute(sa.select(deliveries.c.alert_id).where(*chosen)).scalars())
            count = conn.execute(deliveries.update().where(*chosen).values(status="pending",
                                                                           next_attempt_at=None)).rowcount
            if alert_ids:
                conn.execute(alerts.update().where(alerts.c.id.in_(alert_ids)).values(done_at=None))
        return int(count)

    # --- digests ----------------------------------------------------------------------------------

    def queued(self, notifier: str) -> list[tuple[int, Alert]]:
        """Alerts waiting for the next digest of `notifier`: (delivery id, alert), oldest first."""
        query = (sa.select(deliveries.c.id, alerts.c.id.label("alert_id"), alerts.c.payload)
                 .join(alerts, alerts.c.id == deliveries.c.alert_id)
                 .where(deliveries.c.notifier == notifier, deliveries.c.status == "queued").order_by(alerts.c.id))
        with self.engine.connect() as conn:
            return [(r.id, Alert.from_dict({**r.payload, "id": r.alert_id})) for r in conn.execute(query)]

    def claim_held(self, notifier: str, now: datetime, lease: timedelta) -> list[tuple[int, Alert]]:
        """Take the alerts held for `notifier`'s catch-up message until `now + lease` (also those of a
        claim that ran out): (delivery id, alert), oldest first. Empty when none are due."""
        due = (deliveries.c.notifier == notifier) & (
            ((deliveries.c.status == "held")
             & (deliveries.c.next_attempt_at.is_(None) | (deliveries.c.next_attempt_at <= now)))
            | ((deliveries.c.status == "catching_up") & (deliveries.c.next_attempt_at <= now)))
        with self.engine.begin() as conn:
            ids = list(conn.execute(sa.select(deliveries.c.id).where(due).with_for_update(skip_locked=True)).scalars())
            if not ids:
                return []
            conn.execute(deliveries.update().where(deliveries.c.id.in_(ids), due).values(
                status="catching_up", next_attempt_at=now + lease, attempts=deliveries.c.attempts + 1))
            query = (sa.select(deliveries.c.id, alerts.c.id.label("alert_id"), alerts.c.payload)
                     .join(alerts, alerts.c.id == deliveries.c.alert_id)
                     .where(deliveries.c.id.in_(ids), deliveries.c.status == "catching_up").order_by(alerts.c.id))
            return [(r.id, Alert.from_dict({**r.payload, "id": r.alert_id})) for r in conn.execute(query)]

    def finish_held(self, delivery_ids: Sequence[int], status: str, now: datetime, error: str | None = None,
                    next_attempt_at: datetime | None = None) -> None:
        """How a catch-up message ended for the deliveries it carried, all in one transaction: `sent`,
        `held` again (to retry at `next_attempt_at`) or `failed`."""
        with self.engine.begin() as conn:
            conn.execute(deliveries.update().where(deliveries.c.id.in_(list(delivery_ids)),
                                                   deliveries.c.status == "catching_up").values(
                status=status, last_error=error, next_attempt_at=next_attempt_at,
                sent_at=now if status == "sent" else None))

    def last_digested(self, notifier: str, event_ids: Iterable[int]) -> dict[int, Alert]:
        """For each event, its last alert an earlier digest of `notifier` carried."""
        query = (sa.select(alerts.c.id, alerts.c.event_id, alerts.c.payload)
                 .join(deliveries, deliveries.c.alert_id == alerts.c.id)
                 .where(deliveries.c.notifier == notifier, deliveries.c.status == "sent",
                        alerts.c.event_id.in_(list(event_ids)))
                 .order_by(alerts.c.id))
        with self.engine.connect() as conn:
            return {r.event_id: Alert.from_dict({**r.payload, "id": r.id}) for r in conn.execute(query)}

    def request_digest(self, notifier: str, now: datetime, slot: datetime | None = None) -> int | None:
        """A digest is due: the pending request of `notifier`, or a new one. `slot` (the schedule's fire
        time) makes it once per slot however many workers ask: None when another asked for it already."""
        try:
            with self.engine.begin() as conn:
                if slot is not None and conn.execute(sa.select(digests.c.id).where(
                        digests.c.notifier == notifier, digests.c.slot == slot)).first() is not None:
                    return None
                found = conn.execute(sa.select(digests.c.id).where(
                    digests.c.notifier == notifier, digests.c.status.in_(("pending", "sending")))).scalar()
                if found is not None and slot is None:
                    return int(found)
                # a slot that finds a request waiting is recorded as merged into it, so no one asks again
                status = "pending" if found is None else "merged"
                new = inserted_id(conn.execute(digests.insert().values(
                    notifier=notifier, status=status, requested_at=now, attempts=0, slot=slot,
                    last_error=f"merged into digest {found}" if found is not None else None)))
                return new if found is None else int(found)
        except sa.exc.IntegrityError:  # another worker inserted this slot between our look and our insert
            return None

    def claim_digest(self, notifier: str, now: datetime, lease: timedelta,
                     force: bool = False) -> tuple[int, int] | None:
        """Take the due digest request of `notifier` for building and sending (`force`: even if it waits
        after a failure): its id and the attempts made before. None when there is none or another
        process holds it."""
        due = digests.c.next_attempt_at.is_(None) | (digests.c.next_attempt_at <= now)
        ready = ((digests.c.status == "pending") & (sa.true() if force else due)) | (
            (digests.c.status == "sending") & (digests.c.next_attempt_at <= now))
        with self.engine.begin() as conn:
            found = conn.execute(sa.select(digests.c.id, digests.c.attempts)
                                 .where(digests.c.notifier == notifier, ready).order_by(digests.c.id).limit(1)
                                 .with_for_update(skip_locked=True)).first()
            if found is None:
                return None
            taken = conn.execute(digests.update().where(digests.c.id == found.id, ready).values(
                status="sending", next_attempt_at=now + lease, attempts=digests.c.attempts + 1)).rowcount
        return (int(found.id), int(found.attempts)) if taken else None

    def finish_digest(self, digest_id: int, status: str, now: datetime, *, error: str | None = None,
                      next_attempt_at: datetime | None = None, since: datetime | None = None,
                      entries: int = 0, delivery_ids: Sequence[int] = (), message_id: str | None = None) -> None:
        """Record how a claimed digest ended; when sent, the alerts it carried are marked sent with it,
        in one transaction."""
        values: dict[str, Any] = {"status": status, "last_error": error, "next_attempt_at": next_attempt_at}
        if status in ("sent", "empty"):
            values.update(since=since, until=now, entries=entries, alerts=len(delivery_ids), message_id=message_id,
                          sent_at=now if status == "sent" else None)
        with self.engine.begin() as conn:
            conn.execute(digests.update().where(digests.c.id == digest_id).values(**values))
            if status == "sent" and delivery_ids:
                conn.execute(deliveries.update().where(deliveries.c.id.in_(list(delivery_ids)),
                                                       deliveries.c.status == "queued")
                             .values(status="sent", sent_at=now, last_error=None))

    def digests(self, notifier: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(digests).order_by(digests.c.id)
        if notifier:
            query = query.where(digests.c.notifier == notifier)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def last_sent_digest(self, notifier: str) -> datetime | None:
        """When the period of the last digest sent ended: the next digest starts there."""
        query = sa.select(sa.func.max(digests.c.until)).where(digests.c.notifier == notifier,
                                                              digests.c.status == "sent")
        with self.engine.connect() as conn:
            found: datetime | None = conn.execute(query).scalar()
        return found

    def last_digest_request(self, notifier: str) -> datetime | None:
        query = sa.select(sa.func.max(digests.c.requested_at)).where(digests.c.notifier == notifier)
        with self.engine.connect() as conn:
            found: datetime | None = conn.execute(query).scalar()
        return found

    def held_back(self, since: datetime | None, until: datetime) -> list[dict[str, Any]]:
        """Reports the events stage took in without alerting (held, silenced) or as copies of a report
        the event had, between `since` and `until`, with their event's routing keys."""
        query = (sa.select(event_articles.c.event_id, event_articles.c.decision, event_articles.c.reason,
                           event_articles.c.copy, event_articles.c.source, event_articles.c.title,
                           events.c.title.label("event_title"), events.c.severity, events.c.tags, events.c.rule_ids,
                           events.c.grade, events.c.stage)
                 .join(events, events.c.id == event_articles.c.event_id)
                 .where(event_articles.c.added_at <= until,
                        event_articles.c.copy | event_articles.c.decision.in_(("hold", "ignore")))
                 .order_by(event_articles.c.id))
        if since is not None:
            query = query.where(event_articles.c.added_at > since)  # the previous digest took up to `since`
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def count(self, table: sa.Table) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)


def _source_state(row: Any) -> SourceState:
    values = dict(row)
    values["extra"] = values.get("extra") or {}
    return SourceState(**values)


def inserted_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


# --- rule-engine queries (issue 4)
# Imported here to keep this block apart from the rest of the module.
from collections.abc import Iterator  # noqa: E402

from monitor.models import Article  # noqa: E402


def stored_articles(store: Store, since: datetime | None = None, until: datetime | None = None,
                    batch: int = 500) -> Iterator[Article]:
    """Stored articles, oldest first, published (else fetched) in [since, until): for `backtest --from-store`.
    Read-only; read in batches so a large store does not sit in memory."""
    when = sa.func.coalesce(articles.c.published, articles.c.fetched_at)
    query = sa.select(articles).order_by(articles.c.id)
    if since is not None:
        query = query.where(when >= since)
    if until is not None:
        query = query.where(when < until)
    last = 0
    while True:
        with store.engine.connect() as conn:
            rows = list(conn.execute(query.where(articles.c.id > last).limit(batch)).mappings())
        for row in rows:
            yield Article(source=row["source"], guid=row["guid"], url=row["url"], title=row["title"],
                          summary=row["summary"], content=row["content"], published=row["published"],
                          fetched_at=row["fetched_at"], language=row["language"])
        if len(rows) < batch:
            return
        last = rows[-1]["id"]
