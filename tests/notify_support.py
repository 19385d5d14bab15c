"""Building blocks for the delivery tests: an injected clock, matches, and stories that go through the
real intake and events stage into the outbox (so follow-ups and updates are the events stage's own)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from factories import ingest_one

from monitor.events import Policy
from monitor.models import Alert, Article, Match, Snippet, Span
from monitor.store import Store
from monitor.text import registered_domain

NOW = datetime(2025, 6, 19, 9, 0, tzinfo=UTC)
SENTENCE = "North Korea will send 25,000 workers to the Alabuga drone plant in Tatarstan."


class Clock:
    """`now()` for the code under test, and a `sleep` that moves time on instead of waiting."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def match(rule: str = "dprk-labor", severity: str = "high", tags: tuple[str, ...] = ("dprk_labor",),
          title: str = "DPRK labour for Russia's defence industry", sentence: str = SENTENCE,
          terms: tuple[str, ...] = ("North Korea", "workers", "Alabuga"), entities: tuple[str, ...] = ("alabuga",),
          ) -> Match:
    marks = tuple((sentence.index(t), sentence.index(t) + len(t)) for t in terms if t in sentence)
    spans = tuple(Span("content", a, b, sentence[a:b], sentence[a:b].lower()) for a, b in marks)
    return Match(rule, title, severity, tags, spans, Snippet("content", sentence, marks), entities)


class Newsroom:
    """Reports of stories, taken in through the real events stage at the clock's time."""

    def __init__(self, store: Store, clock: Clock, policy: Policy | None = None) -> None:
        self.store = store
        self.clock = clock
        self.policy = policy or Policy()

    def report(self, url: str, title: str = "North Korea to send 25,000 workers to Russia's Alabuga drone plant",
               *matches: Match, text: str = SENTENCE, source: str | None = None) -> int | None:
        """One article; the outbox row it made (an alert, follow-up or update), if any."""
        host = urlsplit(url).netloc
        article = Article(source=source or registered_domain(url).split(".")[0], guid=url, url=url, title=title,
                          content=text + f" ({host} reporting, {len(self.store.pending_alerts())})",
                          published=self.clock.now, fetched_at=self.clock.now)
        return ingest_one(self.store, article, list(matches or (match(sentence=text),)), self.clock.now, self.policy)


def alert(**changes: object) -> Alert:
    """A stand-alone alert (no store), for rendering tests."""
    from dataclasses import replace

    from monitor.models import Report

    base = Alert(event_id=7, rule_id="dprk-labor", rule_title="DPRK labour for Russia's defence industry",
                 severity="high", tags=("dprk_labor", "dprk_russia_military"), title="North Korea to send workers",
                 url="https://en.yna.co.kr/view/AEN20250619000100315", source="yonhap-en", published=NOW,
                 matched_at=NOW, snippet=match().snippet, rule_ids=("dprk-labor",), id=1,
                 coverage=(Report("yonhap-en", "https://en.yna.co.kr/view/AEN20250619000100315",
                                  "North Korea to send workers", NOW, "yna.co.kr"),))
    return replace(base, **changes)  # type: ignore[arg-type]
