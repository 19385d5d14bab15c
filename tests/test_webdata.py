"""The web view's read queries against a real SQLite store: a filter's `%`, `_` and `\\` are literal
characters, never LIKE wildcards."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.store import Store, articles, events
from monitor.webdata import EventFilter, event_page

NOW = datetime(2025, 6, 25, tzinfo=UTC)
TITLES = {1: "Output up 50% at the plant", 2: "Output up 500 at the plant", 3: "snake_case tag story",
          4: "snakeXcase tag story", 5: "a back\\slash story", 6: "OUTPUT UP 50% AT THE PLANT"}
TAGS = {1: ["50%"], 2: ["500"], 3: ["a_b"], 4: ["axb"], 5: ["back\\slash"], 6: ['say "hi"']}


@pytest.fixture
def stored(store: Store) -> Store:
    with store.engine.begin() as conn:
        conn.execute(articles.insert().values(id=1, source="s", guid="g", url="https://x.example/",
                                              canonical_url="https://x.example/", title="t", summary="", content="",
                                              content_hash="h", fetched_at=NOW))
        conn.execute(events.insert(), [
            {"id": n, "state": "alerted", "rule_ids": [f"rule_{n}"], "title": title, "severity": "high",
             "tags": TAGS[n], "entities": [], "first_article_id": 1, "opened_at": NOW, "updated_at": NOW,
             "window_seconds": 3600, "min_sources": 1, "official": False, "alert_count": 1}
            for n, title in TITLES.items()])
    return store


@pytest.mark.parametrize(("f", "expected"), [
    (EventFilter(q="50%"), {1, 6}),  # case-insensitive, and % is not "anything"
    (EventFilter(q="snake_case"), {3}),  # _ is not "any one character"
    (EventFilter(q="back\\slash"), {5}),
    (EventFilter(q="%"), {1, 6}),
    (EventFilter(tag="50%"), {1}),
    (EventFilter(tag="a_b"), {3}),
    (EventFilter(tag="back\\slash"), {5}),
    (EventFilter(tag='say "hi"'), {6}),
    (EventFilter(tag="50"), set()),  # a whole tag, not a part of one
    (EventFilter(rule="rule_1"), {1}),
], ids=lambda v: repr(v) if isinstance(v, EventFilter) else "")
def test_filters_match_percent_underscore_and_backslash_literally(stored: Store, f: EventFilter,
                                                                  expected: set[int]) -> None:
    assert {r.id for r in event_page(stored, f, 50).rows} == expected
