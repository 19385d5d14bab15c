"""List sources as snapshots: what changed since the last good download, and whether to trust it.

A list kind's parser returns the whole list, one article per entry; `diff` compares it with the last
good snapshot (entry key → [digest, title]) and returns only the changes, worded by the kind. The first
snapshot is the baseline: nothing in it is news. A download that lost more than `max_shrink` of the
entries at once (an empty or truncated file, a half-published list) is held: the old snapshot stays,
the source shows why, and the next good download is diffed against the last good one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from monitor.config import SourceConfig
from monitor.models import Article
from monitor.sources import Announcer

Snapshot = dict[str, list[str]]  # entry key → [digest, title]


@dataclass(frozen=True)
class Diff:
    articles: tuple[Article, ...] = ()  # the changes, worded for rules
    snapshot: Snapshot | None = None  # the snapshot to keep; None when the download is held
    held: str | None = None  # why the download was not trusted
    baseline: bool = False
    new: int = 0
    changed: int = 0
    removed: int = 0


def digest(article: Article) -> str:
    return hashlib.sha256(f"{article.title}\n{article.content}".encode()).hexdigest()[:16]


def diff(previous: Mapping[str, Sequence[str]] | None, entries: Sequence[Article], source: SourceConfig,
         announce: Announcer, max_shrink: float = 0.05, fetched_at: datetime | None = None) -> Diff:
    current: Snapshot = {a.guid: [digest(a), a.title] for a in entries}
    if previous is None:
        return Diff(snapshot=current, baseline=True)
    if len(current) < len(previous) * (1 - max_shrink):
        return Diff(held=f"list shrank from {len(previous):,} to {len(current):,} entries; held")
    changes: list[Article] = []
    counts = {"new": 0, "changed": 0, "removed": 0}
    for article in entries:
        before = previous.get(article.guid)
        change = "new" if before is None else "changed" if before[0] != current[article.guid][0] else None
        if change:
            counts[change] += 1
            changes.append(_versioned(announce(article, change, source), change, current[article.guid][0]))
    for key in previous.keys() - current.keys():
        counts["removed"] += 1
        gone = Article(source=source.name, guid=key, url="", title=previous[key][1], fetched_at=fetched_at,
                       language="en")
        changes.append(_versioned(announce(gone, "removed", source), "removed", previous[key][0]))
    return Diff(tuple(changes), current, new=counts["new"], changed=counts["changed"], removed=counts["removed"])


def _versioned(article: Article, change: str, version: str) -> Article:
    # One article per change of an entry: an amended designation is news again, under a new guid.
    return replace(article, guid=f"{article.guid}#{change}:{version}")
