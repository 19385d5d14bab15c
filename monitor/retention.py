"""Retention: articles taken in more than `retention_days` ago are deleted, unless an event holds them.

An event keeps its evidence on its own rows (`event_articles.text`, hash, fetch time), and its first
article, its reports and their matches keep their `articles` rows; everything else (the large majority:
articles no rule matched) goes. What stays grows with the events only, so the database stays bounded
over a long run; SQLite reuses the freed pages, so the file stops growing rather than shrinks.

An article older than the horizon that a feed still lists is not taken in again (`pipeline.ingest`
skips what was published before it), so a pruned article never comes back as new.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from monitor.store import Store, articles, event_articles, events, matches

log = logging.getLogger(__name__)
BATCH = 5000  # rows per transaction: a poll waiting on the lock waits for one batch, not for all


def horizon(now: datetime, days: int) -> datetime | None:
    """The oldest moment kept, or None when `retention_days = 0` keeps everything."""
    return now - timedelta(days=days) if days > 0 else None


def prune(store: Store, now: datetime, days: int) -> int:
    """Delete the articles fetched before the horizon that no event holds; returns how many."""
    oldest = horizon(now, days)
    if oldest is None:
        return 0
    held = sa.union(sa.select(event_articles.c.article_id), sa.select(events.c.first_article_id),
                    sa.select(matches.c.article_id)).subquery()
    when = sa.func.coalesce(articles.c.fetched_at, articles.c.published)
    chosen = (sa.select(articles.c.id).where(when < oldest, articles.c.id.not_in(sa.select(held.c[0])))
              .limit(BATCH))
    total = 0
    while True:
        with store.engine.begin() as conn:
            ids = list(conn.execute(chosen).scalars())
            if ids:
                conn.execute(articles.delete().where(articles.c.id.in_(ids)))
        total += len(ids)
        if len(ids) < BATCH:
            break
    if total:
        log.info("retention: %d articles older than %d days deleted (events and their evidence kept)", total, days)
    return total
