"""One source's cycle: fetch → parse → intake (seen?) → rules → events → store.

The same code serves `run`, `once` and `demo`; `backtest` uses `Matcher` directly on its articles.
A failing source fails alone: its error goes on its own `SourceState` and the caller moves on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol
from weakref import WeakKeyDictionary

from monitor.config import EventsConfig, SourceConfig
from monitor.errors import FetchError
from monitor.events import Policy, RuleSettings, Sighting, Silence, alert_for, decide
from monitor.fingerprint import fingerprint
from monitor.grading import Sourcing, StageReading
from monitor.intake import Intake, intake
from monitor.models import Article, FetchResult, Match, Parsed, SourceState
from monitor.rules import Matcher, Rule
from monitor.rules.stages import StageScanner
from monitor.sources import Kind, kind_of
from monitor.sources.fulltext import extract_text
from monitor.sources.snapshot import diff
from monitor.store import Store
from monitor.text import canonical_url, registered_domain

log = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(hours=6)
DEFAULT_POLICY = Policy()
_MIN_BODY_WORDS = 8  # a body shorter than this is fingerprinted with its headline


class Fetcher(Protocol):
    def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None,
              max_bytes: int | None = None) -> FetchResult: ...


@dataclass(frozen=True)
class CycleReport:
    source: str
    items: int = 0
    new: int = 0
    matches: int = 0
    alerts: tuple[int, ...] = ()
    not_modified: bool = False
    skipped: bool = False  # backing off after errors, or resting as the server asked (ttl, max-age)
    error: str | None = None
    problems: tuple[str, ...] = ()
    pages: int = 1  # pages fetched (Telegram catching up with `?before=`)
    baseline: bool = False  # a list's first snapshot: kept, nothing announced
    elsewhere: bool = False  # another worker holds the source's lease (docs/scaling.md)

    def summary(self) -> str:
        if self.error:
            return f"{self.source}: error: {self.error}"
        if self.elsewhere:
            return f"{self.source}: polled by another worker (it holds the lease)"
        if self.skipped:
            return f"{self.source}: not due yet (backing off after errors, or as the server asked)"
        if self.baseline:
            return f"{self.source}: baseline snapshot of {self.items} entries kept; nothing announced"
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
    policy: Policy = DEFAULT_POLICY, force: bool = False, oldest: datetime | None = None,
) -> CycleReport:
    """Poll one source once; never raises for the source's own faults. An item published before
    `oldest` (the retention horizon) is not taken in: it may be one retention deleted."""
    state = store.source_state(source.name)
    started = now()
    if not force and _resting(state, source, started):
        return CycleReport(source.name, skipped=True)
    kind = kind_of(source.kind)
    try:
        result, parsed = fetch_and_parse(fetcher, kind, source, state)
    except FetchError as exc:
        return _failed(store, source, state, exc.reason, started, exc.retry_after)
    if result.not_modified:  # `_succeeded` still rests the source for the answer's max-age
        store.save_source_state(_succeeded(state, source, started, result, 0, parsed))
        return CycleReport(source.name, not_modified=True)
    for problem in parsed.problems:
        log.warning("%s: %s", source.name, problem)
    if not parsed.articles and parsed.problems:
        return _failed(store, source, state, parsed.problems[0], started, None)
    if kind.announce is not None:
        return _poll_list(source, kind, store, matcher, now, policy, state, started, result, parsed)

    def take_in(page: Parsed) -> IntakeResult:
        articles = _with_full_text(page.articles, source, fetcher, store) if source.full_text else page.articles
        return ingest(articles, store, matcher, now, policy, source_tags=frozenset(source.tags), oldest=oldest,
                      sourcing=sourcing_of(source))

    taken = take_in(parsed)
    items, new, matched, alerts = len(parsed.articles), taken.new, taken.matches, list(taken.alerts)
    page, pages = parsed, 1
    # Every item of the page was new: the page may not reach back to where the last poll stopped.
    while (page.more and page.articles and taken.new == len(page.articles) and state.last_success is not None
           and pages < getattr(source, "max_pages", 1)):
        try:
            older = _fetch(fetcher, page.more, source, SourceState(source.name))
        except FetchError as exc:
            log.warning("%s: catching up stopped at page %d: %s", source.name, pages + 1, exc.reason)
            break
        page, pages = _parsed(kind, older, source), pages + 1
        taken = take_in(page)
        items, new, matched, alerts = items + len(page.articles), new + taken.new, matched + taken.matches, [
            *alerts, *taken.alerts]
    store.save_source_state(_succeeded(state, source, started, result, new, parsed))
    return CycleReport(source.name, items, new, matched, tuple(alerts), problems=parsed.problems, pages=pages)


def fetch_and_parse(fetcher: Fetcher, kind: Kind, source: SourceConfig,
                    state: SourceState) -> tuple[FetchResult, Parsed]:
    """The source's answer and what its parser read in it (nothing when not modified); a page that
    only points at the document is followed once. Raises `FetchError`; a crashing parser is a problem."""
    result = _fetch(fetcher, kind.address(source), source, state)
    if result.not_modified:
        return result, Parsed()
    parsed = _parsed(kind, result, source)
    if parsed.more and not parsed.articles and not parsed.problems:  # a page that points at the document
        result = _fetch(fetcher, parsed.more, source, SourceState(source.name))
        parsed = _parsed(kind, result, source)
    return result, parsed


def ingest(
    articles: Iterable[Article],
    store: Store,
    matcher: Matcher,
    now: Callable[[], datetime],
    policy: Policy = DEFAULT_POLICY,
    source_tags: frozenset[str] = frozenset(),
    oldest: datetime | None = None,
    sourcing: Sourcing | None = None,
) -> IntakeResult:
    """Store each unseen article with its matches, event and alert, one transaction per article."""
    new = matched = 0
    alert_ids: list[int] = []
    for article in articles:
        if oldest is not None and article.published is not None and article.published < oldest:
            continue  # older than the retention horizon: perhaps taken in once and deleted since
        article = storable(article)
        with intake(store) as tx:
            if tx.seen(article):
                continue
            article_id = tx.add_article(article)
            new += 1
            found = matcher.match(article, source_tags=source_tags)
            if not found:
                continue
            matched += len(found)
            sighting = graded_sighting(sighting_of(article, found, official="official" in source_tags), article,
                                       found, matcher, sourcing)
            alert_id = decide_and_apply(tx, article_id, article, sighting, policy, now())
            if alert_id is not None:
                alert_ids.append(alert_id)
    return IntakeResult(new, matched, tuple(alert_ids))


def decide_and_apply(tx: Intake, article_id: int, article: Article, sighting: Sighting, policy: Policy,
                      now: datetime) -> int | None:
    candidates = tx.candidate_events(sighting, policy, now)
    decision = decide(sighting, candidates, policy, now)
    log.info("%s (%s): %s: %s", article.url, ", ".join(sighting.rule_ids), decision.kind, decision.reason)
    # `decide` joins only one of the candidates, read in this transaction: no second read of it.
    before = {e.id: e for e in candidates}[decision.event_id] if decision.event_id is not None else None
    applied = tx.apply(decision, before, article_id, article, sighting, policy, now)
    if not decision.notifies:
        return None
    event = tx.event(applied.event_id)  # as updated by `apply`
    return tx.queue(alert_for(decision, article, sighting, event, tx.coverage(applied.event_id), now, before), now)


def storable(article: Article) -> Article:
    """The article without NUL characters, which PostgreSQL refuses in text (and no reader needs)."""
    fields = ("source", "guid", "url", "title", "summary", "content")
    if not any("\x00" in getattr(article, f) for f in fields):
        return article
    return replace(article, **{f: getattr(article, f).replace("\x00", "") for f in fields})


def sighting_of(article: Article, found: Sequence[Match], official: bool = False) -> Sighting:
    """The events stage's view of an article: where it is from, its fingerprint, its matches."""
    body = " ".join(t for t in (article.summary, article.content) if t)
    text = body if len(body.split()) >= _MIN_BODY_WORDS else " ".join((article.title, body))
    return Sighting(
        url=canonical_url(article.url) if article.url else f"{article.source}:{article.guid}",
        source=article.source,
        domain=registered_domain(article.url) if article.url else article.source,
        matches=tuple(found),
        fingerprint=fingerprint(text),
        official=official,
        published=article.published,
    )


_SCANNERS: WeakKeyDictionary[Matcher, StageScanner] = WeakKeyDictionary()


def graded_sighting(sighting: Sighting, article: Article, found: Sequence[Match], matcher: Matcher,
                    sourcing: Sourcing | None) -> Sighting:
    """The sighting with its source's grading and the stage its text asserts near the key terms; an
    entry of a sanctions list is `designated` by its source kind."""
    reading = stage_reading(article, found, matcher)
    stage = "designated" if sourcing is not None and sourcing.listed else reading.stage
    sourcing = replace(sourcing if sourcing is not None else sighting.sourced, domain=sighting.domain)
    named = matcher.entities_in(article) if sourcing.listed else frozenset()
    return replace(sighting, sourcing=sourcing, stage=stage, denial=reading.denied and stage is None, named=named)


def stage_reading(article: Article, found: Sequence[Match], matcher: Matcher) -> StageReading:
    """The stage lexicons of the matcher's rule set, read near the matches' spans."""
    scanner = _SCANNERS.get(matcher)
    if scanner is None:
        scanner = _SCANNERS[matcher] = StageScanner(matcher.compiled.ruleset)
    return scanner.read(article, found)


def sourcing_of(source: SourceConfig) -> Sourcing:
    """A source's grading keys; the domain is each article's own (an aggregator carries many voices)."""
    official = "official" in source.tags or "official" in source.affiliation
    affiliation = tuple(dict.fromkeys((*source.affiliation, *(("official",) if official else ()))))
    return Sourcing("", source.reliability, affiliation, source.owner, listed=source.kind == "sanctions")


def events_policy(config: EventsConfig, rules: Iterable[Rule], silences: tuple[Silence, ...] = ()) -> Policy:
    """The events policy from the config, each rule's own settings, and the silences in force."""
    return Policy(
        window=config.window, similarity=config.similarity, containment=config.containment,
        realert_base=config.realert_base, silences=silences,
        rules={r.id: RuleSettings(r.window, r.min_sources, r.realert, r.min_grade, r.stages, r.notify_on)
               for r in rules},
        grade_threshold=config.grade_threshold,
    )


def _succeeded(state: SourceState, source: SourceConfig, at: datetime, result: FetchResult, new: int,
               parsed: Parsed) -> SourceState:
    rest = max(source.interval, min(timedelta(seconds=max(parsed.ttl or 0, _max_age(result) or 0)), MAX_REST))
    return replace(
        state,
        etag=result.etag or state.etag,
        last_modified=result.last_modified or state.last_modified,
        error_count=0,
        last_error=None,
        last_attempt=at,
        last_success=at,
        next_due=at + rest,
        items_seen=state.items_seen + new,
        # Silence is counted from the last new item, or from the first poll that worked.
        last_new=at if new or state.last_success is None else state.last_new,
        last_problem=parsed.problems[0] if parsed.problems else None,
    )


def _failed(store: Store, source: SourceConfig, state: SourceState, reason: str, at: datetime,
            retry_after: float | None) -> CycleReport:
    errors = state.error_count + 1
    # The exponent is capped: a source down for weeks would overflow timedelta (2**32 intervals) and crash.
    doubled = source.interval * 2 ** min(errors - 1, 20)
    wait = timedelta(seconds=retry_after) if retry_after else min(doubled, MAX_BACKOFF)
    store.save_source_state(replace(state, error_count=errors, last_error=reason, last_attempt=at, next_due=at + wait))
    log.warning("%s: %s (error %d in a row; next try after %s)", source.name, reason, errors, at + wait)
    return CycleReport(source.name, error=reason)


# --- polling helpers: politeness, lists, full text ------------------------------------------------

MAX_REST = timedelta(hours=24)  # the longest a ttl or max-age may keep a source from being polled
FULL_TEXT_PER_POLL = 30  # pages fetched for full text in one poll; the rest keep their feed text
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def _fetch(fetcher: Fetcher, url: str, source: SourceConfig, state: SourceState) -> FetchResult:
    if source.max_bytes:
        return fetcher.fetch(url, etag=state.etag, last_modified=state.last_modified, max_bytes=source.max_bytes)
    return fetcher.fetch(url, etag=state.etag, last_modified=state.last_modified)


def _parsed(kind: Kind, result: FetchResult, source: SourceConfig) -> Parsed:
    try:
        return kind.parse(result, source)
    except Exception as exc:  # parsers promise not to raise; a third-party one might, and must fail alone
        log.exception("%s: the %s parser crashed", source.name, source.kind)
        return Parsed(problems=(f"the {source.kind} parser crashed: {exc!r}",))


def _resting(state: SourceState, source: SourceConfig, now: datetime) -> bool:
    """Not due yet: backing off after errors, or the server asked for more than the interval."""
    if state.next_due is None or state.next_due <= now:
        return False
    if state.error_count:
        return True
    return state.last_attempt is not None and state.next_due - state.last_attempt > source.interval


def _max_age(result: FetchResult) -> float | None:
    """Cache-Control max-age (RFC 9111 §5.2.2.1): how long the response stays fresh."""
    match = _MAX_AGE.search(result.headers.get("cache-control", ""))
    return float(match.group(1)) if match else None


def _poll_list(source: SourceConfig, kind: Kind, store: Store, matcher: Matcher, now: Callable[[], datetime],
               policy: Policy, state: SourceState, started: datetime, result: FetchResult,
               parsed: Parsed) -> CycleReport:
    """A list source: diff the download against the last good snapshot; only the changes go on."""
    assert kind.announce is not None
    shrink = float(getattr(source, "max_shrink", 0.05))
    change = diff(store.snapshot(source.name), parsed.articles, source, kind.announce, shrink, result.fetched_at)
    if change.snapshot is None:  # held: keep the old snapshot, and its validators, so the next poll downloads
        return _failed(store, source, state, change.held or "held", started, None)
    taken = ingest(change.articles, store, matcher, now, policy, source_tags=frozenset({*source.tags, "official"}),
                   sourcing=sourcing_of(source))
    store.save_snapshot(source.name, change.snapshot, started)
    log.info("%s: %d entries; %d new, %d changed, %d removed%s", source.name, len(parsed.articles), change.new,
             change.changed, change.removed, " (baseline)" if change.baseline else "")
    store.save_source_state(_succeeded(state, source, started, result, taken.new, parsed))
    return CycleReport(source.name, len(parsed.articles), taken.new, taken.matches, taken.alerts,
                       problems=parsed.problems, baseline=change.baseline)


def _with_full_text(articles: Sequence[Article], source: SourceConfig, fetcher: Fetcher,
                    store: Store) -> tuple[Article, ...]:
    """Each new article with a link, with the body of its page in place of the feed's text (once: a
    known article is never fetched again). A page that fails keeps the feed's text."""
    out: list[Article] = []
    fetched = 0
    for article in articles:
        if article.url and fetched < FULL_TEXT_PER_POLL and not _known(store, article):
            fetched += 1
            article = _full_text(article, source, fetcher)
        out.append(article)
    return tuple(out)


def _known(store: Store, article: Article) -> bool:
    with intake(store) as tx:
        return tx.seen(article)


def _full_text(article: Article, source: SourceConfig, fetcher: Fetcher) -> Article:
    try:
        page = fetcher.fetch(article.url)
    except FetchError as exc:
        log.info("%s: full text of %s not fetched: %s", source.name, article.url, exc.reason)
        return article
    body = extract_text(page)
    if body.text and len(body.text) > len(article.content):
        return replace(article, content=body.text)
    if body.problem:
        log.info("%s: full text of %s: %s", source.name, article.url, body.problem)
    return article
