"""Building blocks for tests: alerts and stored events made through the real events stage."""

from __future__ import annotations

from datetime import datetime

from monitor.events import Policy, alert_for
from monitor.intake import intake
from monitor.models import Alert, Article, Decision, DecisionKind, Event, Match
from monitor.pipeline import decide_and_apply, sighting_of
from monitor.store import Store


def alert_of(article: Article, match: Match, now: datetime) -> Alert:
    """The alert a new event opened by this article and match would send."""
    sighting = sighting_of(article, [match])
    event = Event(1, "alerted", (match.rule_id,), match.severity, match.entities, now, Policy().window)
    opened = Decision(DecisionKind.OPEN, "new story")
    return alert_for(opened, article, sighting, event, [], now)


def ingest_one(store: Store, article: Article, matches: list[Match], now: datetime,
               policy: Policy = Policy()) -> int | None:  # noqa: B008 (a frozen default)
    """Take one article with the given matches through intake and the events stage; the alert id, if any."""
    with intake(store) as tx:
        if tx.seen(article):
            return None
        article_id = tx.add_article(article)
        return decide_and_apply(tx, article_id, article, sighting_of(article, matches), policy, now)
