"""Wiring only: settings → store, rules, HTTP client, notifiers; APScheduler jobs; signals.

`App` holds the running parts and offers the cycle (`poll`, `deliver`); `run_daemon` schedules it.
SIGTERM/SIGINT let the current step finish and exit 0; SIGHUP reloads the rules, keeping the old ones
when the new files do not load.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from monitor.config import NotifierConfig, Settings, SourceConfig
from monitor.errors import ConfigError, MonitorError
from monitor.http import DEFAULT_USER_AGENT, HttpClient
from monitor.notify import Notifier
from monitor.notify.console import ConsoleNotifier
from monitor.notify.outbox import DeliveryReport, deliver_pending
from monitor.pipeline import CycleReport, Fetcher, poll
from monitor.rules import Matcher, load_rules
from monitor.sources import known_kinds
from monitor.store import Store, open_store

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def check_source_kinds(settings: Settings) -> None:
    kinds = known_kinds()
    problems = [
        f'sources[{i}].kind: unknown source kind "{s.kind}" (known: {", ".join(sorted(kinds))})'
        for i, s in enumerate(settings.sources)
        if s.kind not in kinds
    ]
    if problems:
        raise ConfigError(problems)


def http_client(settings: Settings, retries: int = 3) -> HttpClient:
    return HttpClient(user_agent=settings.user_agent or DEFAULT_USER_AGENT, retries=retries)


def build_notifier(config: NotifierConfig) -> Notifier:
    return ConsoleNotifier(config.name, config.format)


class App:
    """The running parts of one monitor process."""

    def __init__(self, settings: Settings, rules_dir: Path, fetcher: Fetcher | None = None,
                 now: Callable[[], datetime] = utcnow) -> None:
        check_source_kinds(settings)
        self.settings = settings
        self.rules_dir = rules_dir
        self.matcher = Matcher(load_rules(rules_dir))
        self.store: Store = open_store(settings.store.url)
        self.fetcher: Fetcher = fetcher or http_client(settings)
        self.notifiers = {n.name: build_notifier(n) for n in settings.notifiers}
        self.now = now
        self._delivery = threading.Lock()  # one delivery pass at a time: never two sends of one alert

    @property
    def sources(self) -> list[SourceConfig]:
        return [s for s in self.settings.sources if s.enabled]

    def poll(self, source: SourceConfig, force: bool = False) -> CycleReport:
        """One source's cycle, then delivery right away: an alert leaves with the poll that found it."""
        report = poll(source, self.fetcher, self.store, self.matcher, self.now, force=force)
        log.info("%s", report.summary())
        if report.alerts:
            self.deliver()
        return report

    def deliver(self) -> DeliveryReport:
        with self._delivery:
            return deliver_pending(self.store, self.notifiers, self.settings.routes, self.now)

    def run_once(self) -> list[CycleReport]:
        reports = [self.poll(source, force=True) for source in self.sources]
        self.deliver()
        return reports

    def reload_rules(self) -> bool:
        """Swap in freshly loaded rules; on any load error keep the old ones and log where it is."""
        try:
            matcher = Matcher(load_rules(self.rules_dir))
        except MonitorError as exc:
            log.error("rules not reloaded, the old rules stay in force:\n%s", exc)
            return False
        self.matcher = matcher
        log.info("rules reloaded from %s: %d enabled", self.rules_dir, len(matcher.rules))
        return True

    def close(self) -> None:
        self.store.close()


def run_daemon(app: App, stop: threading.Event | None = None) -> int:
    """Schedule every source and the outbox flush; block until SIGTERM/SIGINT (or `stop`)."""
    stop = stop or threading.Event()
    scheduler = BackgroundScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1})
    for source in app.sources:
        jitter = source.interval.total_seconds() * app.settings.jitter
        first = app.now() + timedelta(seconds=random.uniform(0, min(jitter, 5.0)))
        scheduler.add_job(_guarded(app.poll, source), "interval", seconds=source.interval.total_seconds(),
                          jitter=int(jitter) or None, next_run_time=first, id=f"source:{source.name}",
                          misfire_grace_time=int(source.interval.total_seconds()))
    scheduler.add_job(_guarded(app.deliver), "interval", seconds=app.settings.outbox_interval.total_seconds(),
                      id="outbox")
    _install_signals(app, stop)
    scheduler.start()
    log.info("monitor running: %d sources, %d rules, store %s", len(app.sources), len(app.matcher.rules),
             app.store.engine.url.render_as_string(hide_password=True))
    stop.wait()
    log.info("stopping: finishing the current step")
    scheduler.shutdown(wait=True)
    app.deliver()
    return 0


def _guarded(step: Callable[..., object], *args: object) -> Callable[[], None]:
    """A job that logs its own failure (a locked database, a full disk) and lets the next run retry."""
    def job() -> None:
        try:
            step(*args)
        except Exception:
            log.exception("%s failed; it will run again at its next time", getattr(step, "__name__", step))
    return job


def _install_signals(app: App, stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=app.reload_rules, daemon=True).start())
