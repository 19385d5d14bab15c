"""The routing tree: which notifiers an alert goes to. Pure, built from config, testable alone."""

from __future__ import annotations

from collections.abc import Sequence

from monitor.config import RouteConfig
from monitor.models import Alert, severity_rank


def route_matches(route: RouteConfig, alert: Alert) -> bool:
    if route.severity and severity_rank(alert.severity) < severity_rank(route.severity):
        return False
    if route.tags and not set(route.tags) & set(alert.tags):
        return False
    return not (route.rules and alert.rule_id not in route.rules)


def targets(alert: Alert, routes: Sequence[RouteConfig], notifiers: Sequence[str]) -> list[str]:
    """Without routes, every notifier. Otherwise the first matching route's notifiers, and the next
    matching ones' while a route says `continue`. An alert no route matches goes nowhere (logged)."""
    if not routes:
        return list(notifiers)
    chosen: list[str] = []
    for route in routes:
        if route_matches(route, alert):
            chosen += [n for n in route.notifiers if n not in chosen]
            if not route.continue_:
                break
    return chosen
