"""The store on a real SQLite file: intake in one transaction, seen articles, source state, schema version."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from factories import ingest_one

from monitor.intake import intake as article_intake
from monitor.models import Article, Match, SourceState
from monitor.store import Store, StoreError, alerts, articles, create_engine, events, open_store

NOW = datetime(2025, 6, 19, 9, 0, tzinfo=UTC)
MATCH = Match("dprk-labor", "DPRK labour", "high", ("dprk_labor",), ())


def article(guid: str = "1", url: str = "https://example.org/a?utm_source=x") -> Article:
    return Article(source="feed", guid=guid, url=url, title="North Korea sends workers", published=NOW)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'sub' / 'monitor.db'}")


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


def test_the_state_survives_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    first = open_store(url)
    intake(first, article())
    first.close()
    again = open_store(url)
    assert intake(again, article()) is None
    assert len(again.pending_alerts()) == 1


def test_sqlite_runs_in_wal_mode(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    open_store(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE meta SET value = '99' WHERE key = 'schema_version'"))
    with pytest.raises(StoreError, match="schema version 99, newer than this monitor"):
        Store(engine)


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
