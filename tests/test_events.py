"""The events stage: one story, one alert. Pure decisions by example, then a timeline through the store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import SourceConfig
from monitor.events import EXPONENTIAL, Policy, RuleSettings, Sighting, Silence, decide
from monitor.fingerprint import fingerprint
from monitor.grading import Sourcing
from monitor.intake import intake
from monitor.models import Article, DecisionKind, Event, FetchResult, Match
from monitor.pipeline import ingest
from monitor.rules import Matcher, load_rules
from monitor.sources.rss import parse
from monitor.store import alerts, open_store

T0 = datetime(2025, 6, 19, 8, 0, tzinfo=UTC)
WIRE = ("North Korea is considering dispatching 25,000 workers to a Russian drone production plant, "
        "further cementing military and industrial ties between Pyongyang and Moscow, according to NHK.")
OTHER = "North Korean workers have arrived at a shipyard in Vladivostok to build fishing trawlers, officials said."


def match(rule: str = "dprk-labor", severity: str = "high", entities: tuple[str, ...] = ("alabuga",)) -> Match:
    return Match(rule, rule, severity, ("dprk_labor",), (), None, entities)


def sighting(text: str = WIRE, domain: str = "joins.com", matches: tuple[Match, ...] | None = None,
             official: bool = False) -> Sighting:
    return Sighting(f"https://{domain}/x", domain, domain, matches or (match(),), fingerprint(text), official)


def event(**changes: object) -> Event:
    base = Event(id=7, state="alerted", rule_ids=("dprk-labor",), severity="high", entities=("alabuga",),
                 opened_at=T0, window=timedelta(hours=72), fingerprints=(fingerprint(WIRE),),  # type: ignore[arg-type]
                 domains=("joins.com",), alert_count=1, last_alert_at=T0)
    return replace(base, **changes)  # type: ignore[arg-type]


NOW = T0 + timedelta(hours=1)
CASES = [
    # (name, sighting, candidates, policy, kind, event joined, words in the reason)
    ("a new story opens an event", sighting(), [], Policy(), DecisionKind.OPEN, None, "new story"),
    ("a syndicated copy on another domain follows up",
     sighting(WIRE + " Read more on our site.", "liga.net"), [event()], Policy(), DecisionKind.FOLLOW_UP, 7,
     "near-duplicate"),
    ("a translation with the same rule and entity follows up",
     sighting("КНДР может направить 25 тысяч рабочих в Алабугу.", "tass.ru"), [event()], Policy(),
     DecisionKind.FOLLOW_UP, 7, "same entities: alabuga"),
    ("the same rule at another place is another story",
     sighting(OTHER, "yna.co.kr", (match(entities=("vladivostok",)),)), [event()], Policy(), DecisionKind.OPEN,
     None, "new story"),
    ("no entities and another text: another story",
     sighting(OTHER, "yna.co.kr", (match(entities=()),)), [event()], Policy(), DecisionKind.OPEN, None, "new story"),
    ("after the window a report opens a new event",
     sighting(WIRE, "liga.net"), [event(opened_at=T0 - timedelta(hours=72))], Policy(), DecisionKind.OPEN, None,
     "new story"),
    ("a more severe rule is an update",
     sighting("КНДР направит рабочих в Алабугу.", "tass.ru", (match("dprk-drone-plant", "critical"),
                                                                 match("dprk-labor"))),
     [event()], Policy(), DecisionKind.UPDATE, 7, "from high to critical"),
    ("a first official source is an update",
     sighting("Treasury: DPRK workers for Alabuga.", "treasury.gov", official=True), [event()], Policy(),
     DecisionKind.UPDATE, 7, "first official source"),
    ("a list entry naming the event's entity joins it, whatever rule it matched",
     replace(sighting("OFAC designates JSC SEZ ALABUGA (entity).", "ofac-sdn",
                      (match("sanctions-designation", "high", ()),)), named=frozenset({"alabuga"}), stage="designated",
             sourcing=Sourcing("ofac-sdn", "A", ("official",), listed=True)),
     [event()], Policy(), DecisionKind.UPDATE, 7, "a designation of its entities: alabuga"),
    ("a list entry naming nothing of the event is another story",
     replace(sighting("OFAC designates PETREL 8 (vessel).", "ofac-sdn", (match("sanctions-designation", "high", ()),)),
             named=frozenset({"petrel-8"})), [event()], Policy(), DecisionKind.OPEN, None, "new story"),
    ("a rule silenced for everything it matched is ignored",
     sighting(), [], Policy(silences=(Silence(3, "dprk-labor", NOW + timedelta(hours=1), "known story"),)),
     DecisionKind.IGNORE, None, "silenced by #3"),
    ("an expired silence does not count",
     sighting(), [], Policy(silences=(Silence(3, "dprk-labor", NOW, "known story"),)), DecisionKind.OPEN, None,
     "new story"),
]


@pytest.mark.parametrize(("name", "seen", "candidates", "policy", "kind", "event_id", "reason"), CASES,
                         ids=[c[0] for c in CASES])
def test_decide(name: str, seen: Sighting, candidates: list[Event], policy: Policy, kind: DecisionKind,
                event_id: int | None, reason: str) -> None:
    decision = decide(seen, candidates, policy, NOW)
    assert (decision.kind, decision.event_id) == (kind, event_id), decision.reason
    assert reason in decision.reason


HELD = Policy(rules={"dprk-labor": RuleSettings(min_sources=2)})


def test_min_sources_holds_until_independent_sources_agree() -> None:
    first = decide(sighting(), [], HELD, NOW)
    assert (first.kind, first.reason) == (DecisionKind.HOLD, "new story held for corroboration: 1 of 2 "
                                                              "independent sources")
    held = event(state="held", min_sources=2, alert_count=0, last_alert_at=None)
    copy = decide(sighting(WIRE + " More at liga.net.", "liga.net"), [held], HELD, NOW)
    assert copy.kind is DecisionKind.HOLD and copy.copy and "a copy, not counted" in copy.reason
    second = decide(sighting("КНДР может направить 25 тысяч рабочих в Алабугу.", "tass.ru"), [held], HELD, NOW)
    assert (second.kind, second.event_id) == (DecisionKind.OPEN, 7)
    assert "corroborated by 2 independent sources" in second.reason


def test_realert_after_an_interval_and_exponentially() -> None:
    every_day = Policy(rules={"dprk-labor": RuleSettings(realert=timedelta(hours=24))})
    copy = sighting(WIRE, "liga.net")
    assert decide(copy, [event()], every_day, T0 + timedelta(hours=23)).kind is DecisionKind.FOLLOW_UP
    assert decide(copy, [event()], every_day, T0 + timedelta(hours=24)).kind is DecisionKind.OPEN

    doubling = Policy(rules={"dprk-labor": RuleSettings(realert=EXPONENTIAL)})
    after_three = event(alert_count=3, last_alert_at=T0)  # 1 h, 2 h, then 4 h
    assert decide(copy, [after_three], doubling, T0 + timedelta(hours=3)).kind is DecisionKind.FOLLOW_UP
    assert decide(copy, [after_three], doubling, T0 + timedelta(hours=4)).kind is DecisionKind.OPEN


def test_a_near_duplicate_wins_over_an_entity_match() -> None:
    by_entity = event(id=1, fingerprints=(fingerprint(OTHER),))
    by_text = event(id=2, entities=("kupol",))
    decision = decide(sighting(WIRE, "liga.net"), [by_entity, by_text], Policy(), NOW)
    assert decision.event_id == 2 and decision.copy


ROOT = Path(__file__).parents[1]


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def feed_items(name: str) -> dict[str, Article]:
    body = (ROOT / "tests" / "data" / "feeds" / name).read_bytes()
    result = FetchResult("https://feed.example/", 200, body, {"content-type": "application/rss+xml"}, T0)
    return {a.url: a for a in parse(result, SourceConfig(name=name, url="https://feed.example/")).articles}


def test_a_day_of_coverage_gives_one_alert_per_story(tmp_path: Path) -> None:
    english = feed_items("seed-story.xml")
    russian = feed_items("seed-story-ru.xml")
    seed = next(a for url, a in english.items() if "joongangdaily" in url)
    rewrite = replace(seed, source="wire-copy", guid="copy-1", url="https://www.example-news.com/world/nk-workers",
                      title="Pyongyang to send 25,000 labourers to Russia, Japanese broadcaster says",
                      summary=seed.summary + " Subscribe to our newsletter for more world news.")
    report_ru = next(a for url, a in russian.items() if "censor" in url)
    other = replace(seed, source="yonhap", guid="vlad-1", url="https://en.yna.co.kr/view/vladivostok",
                    title="N. Korean workers sent to Russian shipyard", summary=OTHER, content="")

    store = open_store(f"sqlite:///{tmp_path / 'monitor.db'}")
    matcher = Matcher(load_rules(ROOT / "rules"))
    clock = Clock(T0)
    for at, article in [(0, seed), (5, rewrite), (120, report_ru), (180, other)]:
        clock.now = T0 + timedelta(minutes=at)
        ingest([article], store, matcher, clock)

    with store.engine.connect() as conn:
        rows = conn.execute(alerts.select().order_by(alerts.c.id)).mappings().all()
    sent = [(r["payload"]["kind"], r["payload"]["event_id"], r["payload"]["url"]) for r in rows]
    first, second = sorted({event for _, event, _ in sent})
    assert sent == [
        ("alert", first, seed.url),
        ("follow_up", first, rewrite.url),
        ("follow_up", first, report_ru.url),
        ("alert", second, other.url),
    ]
    assert rows[2]["payload"]["coverage"][1]["domain"] == "example-news.com"
    with intake(store) as tx:  # the copy is one voice with its original; the Russian report is another
        assert tx.event(first).domains == tuple(sorted({"joins.com", "censor.net"}))
