"""The events stage's decisions: one story, one alert. Pure: data and `now` in, a `Decision` with a
named reason out; `store.Intake.apply` carries it out.

An article's matches are decided together (a `Sighting`): it opens an event, or joins an open one
when its text is a near-duplicate of one of the event's articles, or when it matched one of the
event's rules with a key entity in common (Alabuga = Алабуга; Alabuga ≠ Vladivostok) inside the
event's window. Joining an alerted event is a follow-up, or an update when it makes the event more
serious; joining a held one may corroborate it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from monitor.fingerprint import near_duplicate
from monitor.grading import Grade, Grading, Sourcing, Voice, add_report, crossed, higher, stage_rank
from monitor.models import (
    Alert,
    AlertKind,
    Article,
    Decision,
    DecisionKind,
    Event,
    Fingerprint,
    Match,
    Report,
    severity_rank,
)

NEVER = "never"
EXPONENTIAL = "exponential"
_ALERT_KINDS = {DecisionKind.OPEN: AlertKind.ALERT, DecisionKind.FOLLOW_UP: AlertKind.FOLLOW_UP,
                DecisionKind.UPDATE: AlertKind.UPDATE}


@dataclass(frozen=True)
class RuleSettings:
    """A rule's own events settings (the rule file's `window`, `min_sources`, `realert`)."""

    window: timedelta | None = None
    min_sources: int = 1
    realert: str | timedelta = NEVER  # "never", "exponential" or an interval
    min_grade: str | None = None  # hold the event until its grade is at least this ("B2")
    stages: tuple[str, ...] = ()  # hold the event until its stage is one of these
    notify_on: tuple[str, ...] = ()  # stage_up, grade_up: such updates also go out at the top level


@dataclass(frozen=True)
class Silence:
    id: int
    rule_id: str
    until: datetime
    reason: str


@dataclass(frozen=True)
class Policy:
    window: timedelta = timedelta(hours=72)  # an event takes joiners this long after it opened
    similarity: float = 0.5  # estimated Jaccard of 3-word shingles at which texts are one story
    containment: float = 0.8  # or: this share of the shorter text's shingles is in the longer one
    rules: Mapping[str, RuleSettings] = field(default_factory=dict)
    silences: tuple[Silence, ...] = ()
    realert_base: timedelta = timedelta(hours=1)  # `exponential`: 1 h, then 2 h, 4 h, …
    grade_threshold: str = "B2"  # a grade change across this is an update

    def settings(self, rule_id: str) -> RuleSettings:
        return self.rules.get(rule_id, RuleSettings())

    def window_for(self, rule_ids: Sequence[str]) -> timedelta:
        return max((w for r in rule_ids if (w := self.settings(r).window)), default=self.window)

    def min_sources_for(self, rule_ids: Sequence[str]) -> int:
        return max((self.settings(r).min_sources for r in rule_ids), default=1)

    def silence_for(self, rule_ids: Sequence[str], now: datetime) -> Silence | None:
        """The silence that quiets these rules now: every one of them must be silenced."""
        active = {s.rule_id: s for s in self.silences if s.until > now}
        if rule_ids and all(r in active for r in rule_ids):
            return active[rule_ids[0]]
        return None


@dataclass(frozen=True)
class Sighting:
    """One article and what the rules found in it: the events stage's input."""

    url: str  # canonical
    source: str
    domain: str
    matches: tuple[Match, ...]
    fingerprint: Fingerprint | None = None
    official: bool = False
    published: datetime | None = None  # when the report says it was published
    sourcing: Sourcing | None = None  # the source's reliability, affiliation and owner (None: F, its domain)
    stage: str | None = None  # the stage this report asserts near its key terms
    denial: bool = False  # this report is a party's denial
    named: frozenset[str] = frozenset()  # a list entry: every lexicon entity its text names, whatever the rule

    @property
    def sourced(self) -> Sourcing:
        if self.sourcing is not None:
            return self.sourcing
        return Sourcing(self.domain, affiliation=("official",) if self.official else ())

    def at(self, now: datetime) -> datetime:
        """The time of the report: its publication (never in the future), else now. Events are windows
        on the story's time, not on when we happened to fetch it: a catch-up after downtime or an old
        article found late joins its own story, not today's."""
        return min(self.published, now) if self.published else now

    @property
    def primary(self) -> Match:
        """The most severe match (the first of them on a tie)."""
        return max(self.matches, key=lambda m: severity_rank(m.severity))

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(m.rule_id for m in self.matches)

    @property
    def entities(self) -> frozenset[str]:
        return frozenset(e for m in self.matches for e in m.entities)

    @property
    def tags(self) -> tuple[str, ...]:
        """Every match's tags, each once, in match order."""
        return tuple(dict.fromkeys(t for m in self.matches for t in m.tags))

    @property
    def joining_entities(self) -> frozenset[str]:
        """The entities that find its events: a designation joins the stories of what it designates."""
        return self.entities | self.named


def decide(sighting: Sighting, candidates: Sequence[Event], policy: Policy, now: datetime) -> Decision:
    """Open, hold, follow up, update or ignore, with the reason."""
    event, why, copy = _event_to_join(sighting, candidates, policy, now)
    if event is None:
        return _open(sighting, policy, now)
    rule_ids = tuple(dict.fromkeys(event.rule_ids + sighting.rule_ids))
    silence = policy.silence_for(rule_ids, now)
    if event.state == "silenced" or silence:
        decision = Decision(DecisionKind.IGNORE, f"joins event {event.id} ({why}); silenced", event.id)
    elif event.state == "held":
        decision = _corroborate(event, sighting, rule_ids, why, copy, policy)
    else:
        decision = _follow_up(event, sighting, why, policy, now)
        if decision.kind is DecisionKind.FOLLOW_UP:
            decision = _graded_update(event, sighting, copy, why, policy) or decision
    return replace(decision, copy=copy)


@dataclass(frozen=True)
class Graded:
    """An event's grading after a report: what `intake` stores and what alerts show."""

    grading: Grading
    stage: str | None
    denied: bool

    @property
    def grade(self) -> Grade:
        return self.grading.grade


def grading_of(event: Event) -> Grading:
    data = event.grading or {}
    return Grading(tuple(Voice.from_dict(v) for v in data.get("voices", ())), bool(data.get("doubted", False)))


def grading_json(grading: Grading) -> dict[str, object]:
    return {"voices": [v.to_dict() for v in grading.voices], "doubted": grading.denied_by_reliable}


def regrade(event: Event | None, sighting: Sighting, copy: bool) -> Graded:
    """The event's grading with this report added (a new event: this report alone)."""
    before = grading_of(event) if event else Grading()
    grading = add_report(before, sighting.sourced, copy=copy, denial=sighting.denial)
    stage = higher(event.stage if event else None, None if sighting.denial else sighting.stage)
    return Graded(grading, stage, (event.denied if event else False) or sighting.denial)


def _graded_update(event: Event, sighting: Sighting, copy: bool, why: str, policy: Policy) -> Decision | None:
    """An update when the report moves the event up the ladder or its grade across the threshold; a
    thread reply only, unless one of the event's rules asks for it at the top level (`notify_on`)."""
    after = regrade(event, sighting, copy)
    asks = {k for r in event.rule_ids for k in policy.settings(r).notify_on}
    if stage_rank(after.stage) > stage_rank(event.stage):
        return Decision(DecisionKind.UPDATE, f"joins event {event.id} ({why}); stage up from "
                        f"{event.stage or 'none'} to {after.stage}", event.id, broadcast="stage_up" in asks)
    threshold = Grade.parse(policy.grade_threshold)
    before = Grade.parse(event.grade) if event.grade else None
    if crossed(before, after.grade, threshold):
        return Decision(DecisionKind.UPDATE, f"joins event {event.id} ({why}); grade {before or 'none'} → "
                        f"{after.grade}, across {threshold}", event.id, broadcast="grade_up" in asks)
    return None


def _unmet(graded: Graded, rule_ids: Sequence[str], policy: Policy) -> str | None:
    """Why the rules' `min_grade` or `stages` hold the event back, if they do."""
    for rule_id in rule_ids:
        settings = policy.settings(rule_id)
        if settings.min_grade and not graded.grade.at_least(Grade.parse(settings.min_grade)):
            return f"grade {graded.grade} below min_grade {settings.min_grade} of {rule_id}"
        if settings.stages and graded.stage not in settings.stages:
            return f"stage {graded.stage or 'none'} not in {', '.join(settings.stages)} of {rule_id}"
    return None


def _open(sighting: Sighting, policy: Policy, now: datetime) -> Decision:
    silence = policy.silence_for(sighting.rule_ids, now)
    if silence:
        return Decision(DecisionKind.IGNORE,
                        f"new story, silenced by #{silence.id} until {silence.until:%Y-%m-%d %H:%M}: {silence.reason}")
    need = policy.min_sources_for(sighting.rule_ids)
    if need > 1:
        return Decision(DecisionKind.HOLD, f"new story held for corroboration: 1 of {need} independent sources")
    unmet = _unmet(regrade(None, sighting, False), sighting.rule_ids, policy)
    if unmet:
        return Decision(DecisionKind.HOLD, f"new story held: {unmet}")
    return Decision(DecisionKind.OPEN, "new story: no open event has a near-duplicate text or a rule with "
                    "the same entities")


def _corroborate(event: Event, sighting: Sighting, rule_ids: tuple[str, ...], why: str, copy: bool,
                 policy: Policy) -> Decision:
    voices = set(event.domains) | ({sighting.domain} if not copy else set())
    need = max(event.min_sources, policy.min_sources_for(rule_ids))
    unmet = _unmet(regrade(event, sighting, copy), rule_ids, policy)
    if len(voices) >= need and unmet:
        return Decision(DecisionKind.HOLD, f"joins held event {event.id} ({why}); {unmet}", event.id)
    if len(voices) >= need:
        return Decision(DecisionKind.OPEN, f"joins held event {event.id} ({why}); corroborated by "
                        f"{len(voices)} independent sources", event.id)
    counted = "a copy, not counted" if copy else f"{len(voices)} of {need} independent sources"
    return Decision(DecisionKind.HOLD, f"joins held event {event.id} ({why}); {counted}", event.id)


def _follow_up(event: Event, sighting: Sighting, why: str, policy: Policy, now: datetime) -> Decision:
    interval = _realert_interval(event, policy)
    if interval is not None and event.last_alert_at and now >= event.last_alert_at + interval:
        return Decision(DecisionKind.OPEN, f"joins event {event.id} ({why}); re-alert after {interval}", event.id)
    primary = sighting.primary
    if severity_rank(primary.severity) > severity_rank(event.severity):
        return Decision(DecisionKind.UPDATE, f"joins event {event.id} ({why}); rule {primary.rule_id} raises it "
                        f"from {event.severity} to {primary.severity}", event.id)
    if sighting.official and not event.official:
        return Decision(DecisionKind.UPDATE, f"joins event {event.id} ({why}); first official source", event.id)
    return Decision(DecisionKind.FOLLOW_UP, f"joins event {event.id} ({why})", event.id)


def _realert_interval(event: Event, policy: Policy) -> timedelta | None:
    """The shortest re-alert interval any of the event's rules asks for, if any."""
    intervals = []
    for rule_id in event.rule_ids:
        realert = policy.settings(rule_id).realert
        if isinstance(realert, timedelta):
            intervals.append(realert)
        elif realert == EXPONENTIAL:
            intervals.append(policy.realert_base * 2 ** max(0, event.alert_count - 1))
    return min(intervals, default=None)


def _event_to_join(sighting: Sighting, candidates: Sequence[Event], policy: Policy,
                   now: datetime) -> tuple[Event | None, str, bool]:
    """The open event this sighting belongs to, why, and whether it is a copy of one of its articles."""
    at = sighting.at(now)
    open_events = [e for e in candidates if abs(at - e.opened_at) < e.window]
    if sighting.fingerprint is not None:
        best = max(((_closest(sighting.fingerprint, e, policy), e) for e in open_events),
                   key=lambda pair: pair[0], default=(0.0, None))
        if best[1] is not None and best[0] > 0:
            return best[1], f"near-duplicate of one of its articles, similarity {best[0]:.2f}", True
    by_entities = []
    for event in open_events:
        shared_rules = [r for r in sighting.rule_ids if r in event.rule_ids]
        shared_entities = sorted(sighting.joining_entities & set(event.entities))
        if (shared_rules or sighting.named) and shared_entities:
            why = f"rule {shared_rules[0]} with the same entities" if shared_rules else "a designation of its entities"
            by_entities.append((len(shared_entities), event.opened_at, event, why, shared_entities))
    if by_entities:
        _, _, event, why, entities = max(by_entities, key=lambda t: (t[0], t[1]))
        return event, f"{why}: {', '.join(entities)}", False
    return None, "", False


def _closest(print_: Fingerprint, event: Event, policy: Policy) -> float:
    scores = (near_duplicate(print_, other, policy.similarity, policy.containment) for other in event.fingerprints)
    return max((s for s in scores if s is not None), default=0.0)


def alert_for(decision: Decision, article: Article, sighting: Sighting, event: Event,
              coverage: Sequence[Report], now: datetime, before: Event | None = None) -> Alert:
    """What goes out for a decision that notifies: the event's severity, rules, grade and stage, this
    article's title, link and matched sentence, and the coverage so far. `before`: the event before
    this report (an update shows its grade and stage before and after)."""
    primary = sighting.primary
    return Alert(
        event_id=event.id, rule_id=primary.rule_id, rule_title=primary.rule_title, severity=event.severity,
        tags=sighting.tags, title=article.title, url=article.url, source=article.source, published=article.published,
        matched_at=now, snippet=primary.snippet, kind=_ALERT_KINDS[decision.kind], rule_ids=event.rule_ids,
        coverage=tuple(coverage), grade=event.grade, stage=event.stage, denied=event.denied,
        grade_before=before.grade if before else None, stage_before=before.stage if before else None,
        broadcast=decision.broadcast,
    )
