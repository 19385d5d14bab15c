"""The events stage's decisions: does a match open an event (and alert), or not? Pure: `now` goes in,
a decision with a named reason comes out; `store.apply` carries it out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.models import Alert, Article, Decision, DecisionKind, Event, Match, Report
from monitor.text import registered_domain


@dataclass(frozen=True)
class Policy:
    window: timedelta = timedelta(hours=72)  # how long an event stays open to joiners


def decide(match: Match, article_url: str, candidates: Sequence[Event], policy: Policy, now: datetime) -> Decision:
    """One alert per (rule, article): a rule that already alerted on this article stays quiet."""
    for event in candidates:
        if match.rule_id in event.rule_ids and article_url in event.article_urls:
            return Decision(DecisionKind.IGNORE, f"rule {match.rule_id} already alerted on this article", event.id)
    return Decision(DecisionKind.OPEN, f"first match of rule {match.rule_id} on this article")


def alert_for(article: Article, match: Match, now: datetime) -> Alert:
    """The alert a new event sends; the store fills in the event's id when it writes the outbox row."""
    return Alert(
        event_id=0, rule_id=match.rule_id, rule_title=match.rule_title, severity=match.severity, tags=match.tags,
        title=article.title, url=article.url, source=article.source, published=article.published, matched_at=now,
        snippet=match.snippet, rule_ids=(match.rule_id,), coverage=(report_of(article),),
    )


def report_of(article: Article) -> Report:
    return Report(article.source, article.url, article.title, article.published, registered_domain(article.url))
