"""A source's health from its state: ok, degraded, failing, stale (or new, never polled).

- failing: the last poll failed (its error is shown; the source keeps being tried, backing off);
- stale: polls work, but no new item for longer than `expect_every` (default 3 days; list kinds
  never, since a sanctions list may rightly stay unchanged for weeks). "No alert" must never hide
  "no input": a proxy feed that went quiet shows here;
- degraded: the last poll worked but reported problems (an ill-formed feed, entries skipped);
- ok: none of these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.config import SourceConfig
from monitor.errors import ConfigError
from monitor.models import SourceState
from monitor.sources import kind_of

DEFAULT_EXPECT_EVERY = timedelta(days=3)


@dataclass(frozen=True)
class Health:
    status: str  # new | ok | degraded | failing | stale
    detail: str  # the error, the problem, or how long the source has been silent


def expected_every(source: SourceConfig) -> timedelta | None:
    if source.expect_every is not None:
        return source.expect_every
    return None if _is_list_kind(source.kind) else DEFAULT_EXPECT_EVERY


def _is_list_kind(name: str) -> bool:
    try:
        return kind_of(name).announce is not None
    except ConfigError:
        return False  # an unknown kind: expected like a feed


def health(source: SourceConfig, state: SourceState | None, now: datetime) -> Health:
    if state is None or (state.last_attempt is None and state.last_success is None):
        return Health("new", "never polled")
    if state.error_count:
        return Health("failing", f"{state.last_error or 'failed'} ({state.error_count} in a row)")
    limit = expected_every(source)
    silent_since = state.last_new or state.last_success
    if limit is not None and silent_since is not None and now - silent_since > limit:
        return Health("stale", f"no new item for {_span(now - silent_since)} (expected every {_span(limit)})")
    if state.last_problem:
        return Health("degraded", state.last_problem)
    return Health("ok", "")


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
