"""The store on a real SQLite file and, when a server is configured, on PostgreSQL (tests/engines.py):
intake in one transaction, seen articles, source state, schema versions and upgrades."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from factories import ingest_one

from monitor.intake import intake as article_intake
from monitor.models import Article, Match, SourceState
from monitor.store import (
    SCHEMA_VERSION,
    Store,
    StoreError,
    alerts,
    articles,
    create_engine,
    events,
    metadata,
    migrate,
    open_store,
)

NOW = datetime(2025, 6, 19, 9, 0, tzinfo=UTC)
SCHEMA = Path(__file__).parent / "data" / "schema"
MATCH = Match("dprk-labor", "DPRK labour", "high", ("dprk_labor",), ())


def article(guid: str = "1", url: str = "https://example.org/a?utm_source=x") -> Article:
    return Article(source="feed", guid=guid, url=url, title="North Korea sends workers", published=NOW)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def intake(store: Store, item: Article) -> int | None:
    return ingest_one(store, item, [MATCH], NOW)


def test_an_article_is_known_by_guid_or_canonical_url(store: Store) -> None:
    assert intake(store, article()) is not None
    assert intake(store, article(guid="1", url="https://example.org/other")) is None  # same GUID
    assert intake(store, article(guid="2", url="https://EXAMPLE.org/a#comments")) is None  # same canonical URL
    assert intake(store, article(guid="3", url="https://example.org/b")) is not None


def test_the_same_text_from_another_source_is_known(store: Store) -> None:
    text = "North Korea is considering sending 25,000 workers to Russia's Alabuga special economic zone."
    first = Article(source="a", guid="1", url="https://a.org/1", title="Workers", summary=text)
    copy = Article(source="b", guid="9", url="https://b.org/other-path", title="Workers", summary=text)
    assert intake(store, first) is not None
    assert intake(store, copy) is None


def test_event_and_outbox_row_are_written_together(store: Store) -> None:
    alert_id = intake(store, article())
    [alert] = store.pending_alerts()
    assert alert.id == alert_id
    assert alert.rule_id == "dprk-labor" and alert.published == NOW
    assert store.count(events) == 1 and store.count(alerts) == 1


def test_a_failed_transaction_leaves_nothing_half_written(store: Store) -> None:
    with pytest.raises(RuntimeError), article_intake(store) as tx:
        tx.add_article(article())
        raise RuntimeError("the disk filled up")
    assert store.count(articles) == 0
    assert intake(store, article()) is not None  # and the article is taken on the next cycle


def test_source_state_round_trips(store: Store) -> None:
    state = SourceState("feed", etag='"v1"', error_count=2, last_error="HTTP 503", last_success=NOW, next_due=NOW)
    store.save_source_state(state)
    assert store.source_state("feed") == state
    assert store.source_state("unknown") == SourceState("unknown")


def test_the_state_survives_a_restart(store_url: str) -> None:
    url = store_url
    first = open_store(url)
    intake(first, article())
    first.close()
    again = open_store(url)
    assert intake(again, article()) is None
    assert len(again.pending_alerts()) == 1
    again.close()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'monitor.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_newer_schema_is_refused(store_url: str) -> None:
    open_store(store_url).close()
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE meta SET value = '99' WHERE key = 'schema_version'"))
    with pytest.raises(StoreError, match="schema version 99, newer than this monitor"):
        Store(engine)
    engine.dispose()


def test_a_pre_release_schema_is_refused_with_what_to_do(store_url: str) -> None:
    open_store(store_url).close()
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE meta SET value = '2' WHERE key = 'schema_version'"))
    with pytest.raises(StoreError, match="made by a pre-release; move it aside"):
        Store(engine)
    engine.dispose()


def test_a_version_3_database_is_upgraded_to_the_current_schema_keeping_its_data(store_url: str) -> None:
    """The upgrade's target is the current metadata: every table, column and index it declares.
    A column added to `metadata` without its upgrade step fails here (docs/scaling.md: adding a column)."""
    engine = create_engine(store_url)
    lines = (SCHEMA / f"v3.{engine.dialect.name}.sql").read_text().splitlines()
    ddl = "\n".join(line for line in lines if not line.startswith("--"))
    with engine.begin() as conn:
        for statement in (s for s in ddl.split(";") if s.strip()):
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql("INSERT INTO digests (notifier, status, requested_at, attempts, entries, alerts) "
                             "VALUES ('daily', 'pending', '2025-06-19 07:00:00', 0, 0, 0)")
    store = Store(engine)
    inspector = sa.inspect(engine)
    for table in metadata.sorted_tables:
        assert {c["name"] for c in inspector.get_columns(table.name)} == set(table.c.keys()), table.name
        found = {i["name"] for i in inspector.get_indexes(table.name)} | {
            u["name"] for u in inspector.get_unique_constraints(table.name)}
        assert {i.name for i in table.indexes} <= found, table.name
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT value FROM meta WHERE key = 'schema_version'")).scalar() == str(
            SCHEMA_VERSION)
    assert [d["notifier"] for d in store.digests()] == ["daily"]
    assert store.request_digest("daily", NOW, slot=NOW) == 1  # the waiting request takes the slot in
    assert migrate(engine) == SCHEMA_VERSION  # a second start finds nothing to do
    store.close()


def test_one_digest_request_per_schedule_slot_however_many_workers_ask(store: Store) -> None:
    first = store.request_digest("daily", NOW, slot=NOW)
    assert first is not None
    assert store.request_digest("daily", NOW, slot=NOW) is None  # a second worker, same fire time
    store.finish_digest(first, "sent", NOW)
    assert store.request_digest("daily", NOW, slot=NOW) is None  # even once the first was sent
    assert store.request_digest("daily", NOW, slot=NOW + timedelta(days=1)) not in (None, first)


def test_articles_without_a_link_are_known_by_guid_alone(store: Store) -> None:
    assert intake(store, article(guid="a", url="")) is not None
    assert intake(store, article(guid="b", url="")) is not None
    assert intake(store, article(guid="a", url="")) is None


def test_a_store_that_cannot_be_opened_says_which_and_what_to_do(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match=r"cannot open the store at sqlite:///.*; check store.url"):
        open_store(f"sqlite:///{blocker / 'monitor.db'}")
    with pytest.raises(StoreError, match="cannot open the store at postgresql://monitor:\\*\\*\\*@"):
        open_store("postgresql://monitor:secret@127.0.0.1:1/monitor")


def test_nul_characters_never_reach_the_database(store_url: str) -> None:
    from monitor.pipeline import ingest
    from monitor.rules import Matcher, load_rules

    raw = Article(source="feed", guid="1", url="https://x.org/\x00a", title="DPRK workers\x00 for Alabuga",
                  summary="North Korean workers\x00 at the Alabuga plant.")
    store = open_store(store_url)
    matcher = Matcher(load_rules(Path(__file__).parent / "data" / "rules"))
    taken = ingest([raw], store, matcher, lambda: NOW)  # PostgreSQL refuses NUL in text
    assert (taken.new, len(taken.alerts)) == (1, 1)
    [alert] = store.pending_alerts()
    assert alert.title == "DPRK workers for Alabuga" and alert.url == "https://x.org/a"


def test_the_poll_history_is_kept_for_its_days(store_url: str) -> None:
    from datetime import timedelta

    import sqlalchemy as sa

    from monitor.store import POLL_HISTORY_DAYS, polls

    store = open_store(store_url)
    store.record_poll("feed", NOW - timedelta(days=POLL_HISTORY_DAYS + 1), "error", 0, 0, 1.5)
    store.record_poll("feed", NOW, "ok", 20, 3, 0.2)
    assert store.prune_polls(NOW) == 1
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(polls.c.outcome, polls.c.new)).all() == [("ok", 3)]
