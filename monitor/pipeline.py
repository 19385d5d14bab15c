"""One source's cycle: fetch → parse → intake (seen?) → rules → events → store.

The same code serves `run`, `once` and `demo`; `backtest` uses `Matcher` directly on its articles.
A failing source fails alone: its error goes on its own `SourceState` and the caller moves on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from monitor.config import SourceConfig
from monitor.errors import FetchError
from monitor.events import Policy, alert_for, decide
from monitor.models import Article, FetchResult, SourceState
from monitor.rules import Matcher
from monitor.sources import parser_for
from monitor.store import Store
from monitor.text import canonical_url

log = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(hours=6)
DEFAULT_POLICY = Policy()


class Fetcher(Protocol):
    def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> FetchResult: ...


@dataclass(frozen=True)
class CycleReport:
    source: str
    items: int = 0
    new: int = 0
    matches: int = 0
    alerts: tuple[int, ...] = ()
    not_modified: bool = False
    skipped: bool = False  # backing off after errors
    error: str | None = None
    problems: tuple[str, ...] = ()

    def summary(self) -> str:
        if self.error:
            return f"{self.source}: error: {self.error}"
        if self.skipped:
            return f"{self.source}: backing off after errors"
        if self.not_modified:
            return f"{self.source}: not modified"
        return f"{self.source}: {self.items} items, {self.new} new, {self.matches} matches, {len(self.alerts)} alerts"


@dataclass(frozen=True)
class IntakeResult:
    new: int = 0
    matches: int = 0
    alerts: tuple[int, ...] = ()


def poll(
    source: SourceConfig, fetcher: Fetcher, store: Store, matcher: Matcher, now: Callable[[], datetime],
    policy: Policy = DEFAULT_POLICY, force: bool = False,
) -> CycleReport:
    """Poll one source once; never raises for the source's own faults."""
    state = store.source_state(source.name)
    started = now()
    if not force and state.next_due and state.next_due > started and state.error_count:
        return CycleReport(source.name, skipped=True)
    try:
        result = fetcher.fetch(source.url, etag=state.etag, last_modified=state.last_modified)
    except FetchError as exc:
        return _failed(store, source, state, exc.reason, started, exc.retry_after)
    if result.not_modified:
        store.save_source_state(_succeeded(state, source, started, result, 0))
        return CycleReport(source.name, not_modified=True)
    try:
        parsed = parser_for(source.kind)(result, source)
    except Exception as exc:  # parsers promise not to raise; a third-party one might, and must fail alone
        log.exception("%s: the %s parser crashed", source.name, source.kind)
        return _failed(store, source, state, f"the {source.kind} parser crashed: {exc!r}", started, None)
    for problem in parsed.problems:
        log.warning("%s: %s", source.name, problem)
    if not parsed.articles and parsed.problems:
        return _failed(store, source, state, parsed.problems[0], started, None)
    intake = ingest(parsed.articles, store, matcher, now, policy)
    store.save_source_state(_succeeded(state, source, started, result, intake.new))
    return CycleReport(source.name, len(parsed.articles), intake.new, intake.matches, intake.alerts,
                       problems=parsed.problems)


def ingest(
    articles: Iterable[Article],
    store: Store,
    matcher: Matcher,
    now: Callable[[], datetime],
    policy: Policy = DEFAULT_POLICY,
) -> IntakeResult:
    """Store each unseen article with its matches, events and alerts, one transaction per article."""
    new = matched = 0
    alert_ids: list[int] = []
    for article in articles:
        with store.transaction() as intake:
            if intake.seen(article):
                continue
            article_id = intake.add_article(article)
            new += 1
            for match in matcher.match(article):
                matched += 1
                moment = now()
                decision = decide(match, canonical_url(article.url), intake.candidate_events(match, article),
                                  policy, moment)
                log.debug("%s on %s: %s (%s)", match.rule_id, article.url, decision.kind, decision.reason)
                alert = alert_for(article, match, moment) if decision.alerts else None
                alert_id = intake.apply(decision, article_id, match, alert, moment)
                if alert_id is not None:
                    alert_ids.append(alert_id)
    return IntakeResult(new, matched, tuple(alert_ids))


def _succeeded(state: SourceState, source: SourceConfig, at: datetime, result: FetchResult, new: int) -> SourceState:
    return replace(
        state,
        etag=result.etag or state.etag,
        last_modified=result.last_modified or state.last_modified,
        error_count=0,
        last_error=None,
        last_attempt=at,
        last_success=at,
        next_due=at + source.interval,
        items_seen=state.items_seen + new,
    )


def _failed(store: Store, source: SourceConfig, state: SourceState, reason: str, at: datetime,
            retry_after: float | None) -> CycleReport:
    errors = state.error_count + 1
    wait = timedelta(seconds=retry_after) if retry_after else min(source.interval * 2 ** (errors - 1), MAX_BACKOFF)
    store.save_source_state(replace(state, error_count=errors, last_error=reason, last_attempt=at, next_due=at + wait))
    log.warning("%s: %s (error %d in a row; next try after %s)", source.name, reason, errors, at + wait)
    return CycleReport(source.name, error=reason)
