"""The routing tree: which notifiers an alert goes to. Pure, built from config, testable alone
(`monitor routes test`).

Routes are walked in order; a route matches when every key it gives matches; the first matching route
wins unless it says `continue`. No routes: every notifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.config import RouteConfig
from monitor.grading import Grade
from monitor.models import Alert, severity_rank


@dataclass(frozen=True)
class RouteKey:
    """What routing looks at: the event's severity, its tags and the rules it matched."""

    severity: str
    tags: tuple[str, ...] = ()
    rule_ids: tuple[str, ...] = ()
    grade: str | None = None  # the event's Admiralty code, "B2"
    stage: str | None = None


def key_of(alert: Alert) -> RouteKey:
    return RouteKey(alert.severity, alert.tags, tuple(dict.fromkeys((alert.rule_id, *alert.rule_ids))),
                    alert.grade, alert.stage)


def route_matches(route: RouteConfig, key: RouteKey) -> bool:
    if route.severity and severity_rank(key.severity) < severity_rank(route.severity):
        return False
    if route.tags and not set(route.tags) & set(key.tags):
        return False
    if route.grade and not (key.grade and Grade.parse(key.grade).at_least(Grade.parse(route.grade))):
        return False
    if route.stage and key.stage not in route.stage:
        return False
    return not (route.rules and not set(route.rules) & set(key.rule_ids))


def matching_routes(key: RouteKey, routes: Sequence[RouteConfig]) -> list[int]:
    """The indexes of the routes the walk stops at or passes through with `continue`."""
    matched = []
    for index, route in enumerate(routes):
        if route_matches(route, key):
            matched.append(index)
            if not route.continue_:
                break
    return matched


def targets(alert: Alert | RouteKey, routes: Sequence[RouteConfig], notifiers: Sequence[str]) -> list[str]:
    """Without routes, every notifier. Otherwise the notifiers of the routes the walk matched, each
    once, in order. An alert no route matches goes nowhere (the outbox logs it)."""
    if not routes:
        return list(notifiers)
    key = alert if isinstance(alert, RouteKey) else key_of(alert)
    chosen: list[str] = []
    for index in matching_routes(key, routes):
        chosen += [n for n in routes[index].notify if n not in chosen]
    return chosen


def describe(route: RouteConfig) -> str:
    """A route in one line, as `monitor routes test` prints it."""
    when = [f"severity ≥ {route.severity}"] if route.severity else []
    when += [f"tags any of {', '.join(route.tags)}"] if route.tags else []
    when += [f"rules any of {', '.join(route.rules)}"] if route.rules else []
    when += [f"grade ≥ {route.grade}"] if route.grade else []
    when += [f"stage any of {', '.join(route.stage)}"] if route.stage else []
    return (" and ".join(when) or "everything") + (" (continue)" if route.continue_ else "")
