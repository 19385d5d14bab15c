"""Leases and claims on both engines: one holder at a time, taken over when they run out, and claims
made at the same moment by many workers (threads, each with its own connection) won by exactly one."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from factories import ingest_one

from monitor.leases import Leases, holders
from monitor.models import Article, Match
from monitor.store import Store, open_store

NOW = datetime(2025, 6, 19, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def test_one_holder_until_the_lease_runs_out(store: Store) -> None:
    a, b = Leases(store, "a"), Leases(store, "b")
    assert a.claim("source:feed", NOW, MINUTE)
    assert not b.claim("source:feed", NOW + MINUTE / 2, MINUTE)  # a holds it
    assert not a.claim("source:feed", NOW + MINUTE / 2, MINUTE)  # done in this period: not twice
    assert a.claim("source:feed", NOW + MINUTE * 0.95, MINUTE)  # its own, a little early: renewed
    assert holders(store, NOW + MINUTE)["source:feed"][0] == "a"
    assert b.claim("source:feed", NOW + MINUTE * 2, MINUTE)  # a died: b takes over once it ran out
    assert holders(store, NOW + MINUTE * 2)["source:feed"] == ("b", NOW + MINUTE * 3)


def race(workers: int, attempt: Callable[[int], bool]) -> list[int]:
    """Run `attempt` in `workers` threads released at once; the indexes of those that won."""
    start, won, lock = threading.Barrier(workers), [], threading.Lock()

    def run(n: int) -> None:
        start.wait()
        if attempt(n):
            with lock:
                won.append(n)
    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return won


def test_many_workers_claiming_at_once_each_lease_goes_to_one(store_url: str) -> None:
    stores = [open_store(store_url) for _ in range(6)]
    try:
        names = [f"source:s{i}" for i in range(20)]
        winners = {name: race(6, lambda n, name=name: Leases(stores[n], f"w{n}").claim(name, NOW, MINUTE))  # type: ignore[misc]
                   for name in names}
        assert all(len(won) == 1 for won in winners.values()), winners
    finally:
        for opened in stores:
            opened.close()


def test_a_delivery_is_claimed_by_one_worker(store_url: str) -> None:
    stores = [open_store(store_url) for _ in range(6)]
    try:
        article = Article(source="feed", guid="1", url="https://example.org/a", title="North Korea sends workers")
        alert_id = ingest_one(stores[0], article, [Match("dprk-labor", "DPRK labour", "high", (), ())], NOW)
        assert alert_id is not None
        won = race(6, lambda n: stores[n].claim_delivery(alert_id, "console", NOW, MINUTE) is not None)
        assert len(won) == 1
    finally:
        for opened in stores:
            opened.close()


def test_one_digest_request_per_slot_from_workers_asking_at_once(store_url: str) -> None:
    stores = [open_store(store_url) for _ in range(6)]
    try:
        won = race(6, lambda n: stores[n].request_digest("daily", NOW, slot=NOW) is not None)
        assert len(won) == 1 and len(stores[0].digests("daily")) == 1
    finally:
        for opened in stores:
            opened.close()
