"""Wiring only: settings → store, rules, HTTP client, notifiers; APScheduler jobs; signals.

`App` holds the running parts and offers the cycle (`poll`, `deliver`); `run_daemon` schedules it.
SIGTERM/SIGINT let the current step finish and exit 0; SIGHUP reloads the rules, keeping the old ones
when the new files do not load.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from monitor.config import (
    ConsoleConfig,
    EmailConfig,
    NotifierConfig,
    Settings,
    SlackConfig,
    SourceConfig,
    WebhookConfig,
)
from monitor.errors import ConfigError, MonitorError
from monitor.eventlog import active_silences
from monitor.health import HealthServer, Metrics, serve_health
from monitor.http import DEFAULT_USER_AGENT, HttpClient
from monitor.leases import Leases, worker_id
from monitor.notify import Notifier
from monitor.notify.catchup import CatchUp, after_downtime, joined
from monitor.notify.console import ConsoleNotifier
from monitor.notify.email import EmailNotifier
from monitor.notify.outbox import DeliveryReport, Outbox, send_due_digests
from monitor.notify.slack import SlackNotifier, SlackWebhookNotifier, web_client, webhook_client
from monitor.notify.webhook import WebhookNotifier
from monitor.pipeline import CycleReport, Fetcher, events_policy, poll
from monitor.retention import horizon, prune
from monitor.rules import Matcher, load_rules
from monitor.sources import kind_of, known_kinds
from monitor.store import Store, meta, open_store

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


def http_client(settings: Settings, retries: int | None = None) -> HttpClient:
    """The client with `[http]`'s politeness; a kind's own gap for its hosts (GDELT: 5 s) unless set."""
    http = settings.http
    hosts: dict[str, float] = {}
    for source in settings.sources:
        gap = kind_of(source.kind).host_interval if source.kind in known_kinds() else None
        host = urlsplit(kind_of(source.kind).address(source)).hostname if gap else None
        if host and gap:
            hosts[host] = max(gap, hosts.get(host, 0.0))
    hosts.update({host.lower(): gap.total_seconds() for host, gap in http.hosts.items()})
    return HttpClient(
        user_agent=settings.user_agent or DEFAULT_USER_AGENT, retries=http.retries if retries is None else retries,
        connect_timeout=http.connect_timeout.total_seconds(), read_timeout=http.read_timeout.total_seconds(),
        deadline=http.deadline.total_seconds(), max_bytes=http.max_bytes,
        min_host_interval=http.min_host_interval.total_seconds(), host_intervals=hosts, per_host=http.per_host,
    )


class MissingSecret(MonitorError):
    pass


def build_notifiers(settings: Settings, environ: Mapping[str, str] | None = None,
                    now: Callable[[], datetime] = utcnow) -> dict[str, Notifier]:
    """Every notifier of the config, with its secrets from the environment. A missing secret is a
    ConfigError that names the notifier and the variable (never a value)."""
    built, problems = {}, []
    for i, config in enumerate(settings.notifiers):
        try:
            built[config.name] = build_notifier(config, os.environ if environ is None else environ, now)
        except MissingSecret as exc:
            problems.append(f"notifiers[{i}] ({config.name}): {exc}")
    if problems:
        raise ConfigError(problems)
    return built


def build_notifier(config: NotifierConfig, environ: Mapping[str, str], now: Callable[[], datetime]) -> Notifier:
    if isinstance(config, ConsoleConfig):
        return ConsoleNotifier(config.name, config.format)
    if isinstance(config, SlackConfig):
        timeout = config.timeout.total_seconds()
        if config.webhook_url_env:
            url = _secret(environ, config.webhook_url_env, "the Slack incoming webhook URL")
            return SlackWebhookNotifier(config.name, webhook_client(url, timeout), config.webhook_url_env)
        token = _secret(environ, config.token_env, "the Slack bot token (xoxb-…)")
        assert config.channel is not None  # the config requires it with a token
        return SlackNotifier(config.name, config.channel, web_client(token, config.base_url, timeout), config.token_env)
    if isinstance(config, EmailConfig):
        password = _secret(environ, config.password_env, "the SMTP password") if config.username else None
        return EmailNotifier(config, password, now)
    if isinstance(config, WebhookConfig):
        secret = _secret(environ, config.secret_env, "the webhook signing secret")
        return WebhookNotifier(config.name, config.url, secret.encode(), config.timeout.total_seconds(), now)
    raise AssertionError(f"no notifier for {config!r}")


def _secret(environ: Mapping[str, str], variable: str, what: str) -> str:
    value = environ.get(variable, "").strip()
    if not value:
        raise MissingSecret(f"the environment variable {variable} is not set; put {what} there")
    return value


def digest_trigger(config: EmailConfig) -> CronTrigger:
    assert config.schedule is not None
    return CronTrigger.from_crontab(config.schedule, timezone=ZoneInfo(config.timezone))


def digest_slot(config: EmailConfig, now: datetime, late: timedelta = timedelta(hours=1)) -> datetime:
    """The schedule's last fire time at or before `now` (the job may run up to its grace time late):
    every worker whose schedule fired names the same slot, and only one request is made for it."""
    trigger, slot = digest_trigger(config), now
    fire = trigger.get_next_fire_time(None, now - late)
    while fire is not None and fire <= now:
        slot = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return slot.astimezone(UTC)


class App:
    """The running parts of one monitor process."""

    def __init__(self, settings: Settings, rules_dir: Path, fetcher: Fetcher | None = None,
                 now: Callable[[], datetime] = utcnow) -> None:
        check_source_kinds(settings)
        self.settings = settings
        self.rules_dir = rules_dir
        self._use_rules(Matcher(load_rules(rules_dir)))
        self.notifiers = build_notifiers(settings, now=now)  # a missing secret stops us before the store opens
        self.store: Store = open_store(settings.store.url)
        self.fetcher: Fetcher = fetcher or http_client(settings)
        self.outbox = Outbox(self.store, self.notifiers, settings.routes, now)
        self.now = now
        # Several workers on one PostgreSQL database divide the sources by lease. SQLite serves one worker
        # (docs/scaling.md): no leases there, so a restarted daemon polls at once instead of waiting for
        # its previous life's leases to run out.
        self.leases = Leases(self.store, worker_id()) if self.store.engine.dialect.name != "sqlite" else None
        self.metrics = Metrics(self.store)  # served by `run --health-port`; counted whether served or not
        self.outbox.on_sent = self.metrics.delivered
        self._delivery = threading.Lock()  # one delivery pass at a time: never two sends of one alert
        self._wanted = threading.Event()  # a poll wrote alerts: the running pass (or a new one) goes again
        self.catch_up = self._catching_up(now())
        self.outbox.holding = self.catch_up is not None

    def _catching_up(self, now: datetime) -> CatchUp | None:
        """A catch-up after downtime, begun here or (several workers) joined from the one that began it."""
        threshold = self.settings.catch_up_after
        began = after_downtime(self.store.last_poll_at(), now, threshold)
        if began is not None:
            self.store.record_catch_up(began.since, began.started)
            log.info("no source was polled since %s: until each has been polled once, the alerts found go to "
                     "Slack and per-alert email as one catch-up message (catch_up_after = %s)",
                     began.since.isoformat(timespec="seconds"), threshold)
            return began
        return joined(self.store.last_catch_up(), now) if threshold else None

    @property
    def sources(self) -> list[SourceConfig]:
        return [s for s in self.settings.sources if s.enabled]

    def poll(self, source: SourceConfig, force: bool = False) -> CycleReport:
        """One source's cycle, then delivery right away: an alert leaves with the poll that found it.
        Unless forced, only with the source's lease for one interval: another worker may hold it."""
        if not force and self.leases and not self.leases.claim(f"source:{source.name}", self.now(), source.interval):
            log.debug("%s: another worker holds its lease", source.name)
            return CycleReport(source.name, skipped=True, elsewhere=True)
        policy = replace(self.rules_policy, silences=active_silences(self.store, self.now()))
        started = time.monotonic()
        report = poll(source, self.fetcher, self.store, self.matcher, self.now, policy, force=force,
                      oldest=horizon(self.now(), self.settings.retention_days))
        seconds = time.monotonic() - started
        self.metrics.polled(source.name, _outcome(report), report.new, seconds, self.now())
        if not report.elsewhere:
            self.store.record_poll(source.name, self.now(), _outcome(report), report.items, report.new, seconds)
        log.info("%s", report.summary())
        if report.alerts or self.outbox.holding:  # catching up: this poll may be the one that ends it
            self.deliver_soon()
        return report

    def deliver_soon(self) -> None:
        """A delivery pass now, or one more by the pass running now: a poll never waits for another's
        sends (with hundreds of sources, polls queued behind the lock missed their intervals)."""
        self._wanted.set()
        while self._wanted.is_set() and self._delivery.acquire(blocking=False):
            try:
                while self._wanted.is_set():
                    self._wanted.clear()
                    self._deliver_pass()
            finally:
                self._delivery.release()

    def deliver(self) -> DeliveryReport:
        """A delivery pass over the outbox, then any digest a schedule asked for."""
        with self._delivery:
            return self._deliver_pass()

    def _deliver_pass(self) -> DeliveryReport:
        report = self.outbox.deliver()
        self._end_catch_up_when_polled()  # after the pass: the last source's alerts are held with the others
        self.outbox.send_catch_ups(self.catch_up.since if self.catch_up else None)
        send_due_digests(self.store, self.digest_channels, self.settings.routes, list(self.notifiers), self.now,
                         self.metrics.delivered)
        return report

    def _end_catch_up_when_polled(self) -> None:
        if self.catch_up is None or not self.outbox.holding:
            return
        polled = self.store.polled_since(self.catch_up.started)
        names = {s.name for s in self.sources}
        if self.catch_up.over(polled, names, self.now()):
            self.outbox.holding = False
            log.info("caught up: %d of %d sources polled since the start; sending the catch-up messages",
                     len(polled & names), len(names))

    @property
    def digest_channels(self) -> dict[str, EmailNotifier]:
        return {name: n for name, n in self.notifiers.items() if isinstance(n, EmailNotifier) and n.digest}

    def digest_due(self, name: str) -> None:
        """A digest's schedule fired: ask for the digest and send it (later, if the server is down)."""
        now = self.now()
        self.store.request_digest(name, now, slot=digest_slot(self.digest_channels[name].config, now))
        self.deliver()

    def missed_digests(self) -> list[str]:
        """Digests whose time came while no daemon ran (since the last one was asked for): asked for now."""
        missed = []
        for name, channel in self.digest_channels.items():
            last = self.store.last_digest_request(name)
            due = digest_trigger(channel.config).get_next_fire_time(None, last + timedelta(seconds=1)) if last else None
            if due is not None and due <= self.now():
                log.info("digest %s was due at %s while monitor was not running; sending it now", name, due)
                self.store.request_digest(name, self.now(), slot=due)  # once, however many workers start
                missed.append(name)
        return missed

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
        self._use_rules(matcher)
        log.info("rules reloaded from %s: %d enabled", self.rules_dir, len(matcher.rules))
        return True

    def _use_rules(self, matcher: Matcher) -> None:
        # The events policy changes only with the rules; each poll adds the silences in force then.
        self.matcher = matcher
        self.rules_policy = events_policy(self.settings.events, matcher.rules)

    def prune(self) -> int:
        """Retention: delete the articles older than `retention_days` that no event holds."""
        return prune(self.store, self.now(), self.settings.retention_days)

    def prune_polls(self) -> int:
        """The poll history the sources page plots stays bounded (`store.POLL_HISTORY_DAYS`)."""
        return self.store.prune_polls(self.now())

    def store_problem(self) -> str | None:
        """None while the store answers a query, else why not (for /healthz)."""
        try:
            self.store.count(meta)
        except Exception as exc:
            return f"the store does not answer: {exc.__class__.__name__}"
        return None

    def close(self) -> None:
        self.store.close()


def run_daemon(app: App, stop: threading.Event | None = None, health_port: int | None = None,
               health_host: str = "127.0.0.1") -> int:
    """Schedule every source and the outbox flush; block until SIGTERM/SIGINT (or `stop`). With
    `health_port`, serve /healthz and /metrics there meanwhile (docs/operations.md)."""
    stop = stop or threading.Event()
    scheduler = BackgroundScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1})
    for source in app.sources:
        jitter = source.interval.total_seconds() * app.settings.jitter
        first = app.now() + timedelta(seconds=random.uniform(0, min(jitter, 5.0)))
        scheduler.add_job(_guarded(app.poll, source), "interval", seconds=source.interval.total_seconds(),
                          jitter=int(jitter) or None, next_run_time=first, id=f"source:{source.name}",
                          misfire_grace_time=int(source.interval.total_seconds()))
    first_flush = {"next_run_time": app.now()} if app.missed_digests() else {}  # None would pause the job
    scheduler.add_job(_guarded(app.deliver), "interval", seconds=app.settings.outbox_interval.total_seconds(),
                      id="outbox", **first_flush)
    for name, channel in app.digest_channels.items():
        scheduler.add_job(_guarded(app.digest_due, name), digest_trigger(channel.config), id=f"digest:{name}",
                          misfire_grace_time=3600)
    if app.settings.retention_days:
        scheduler.add_job(_guarded(app.prune), "interval", hours=6, id="retention", next_run_time=app.now())
    scheduler.add_job(_guarded(app.prune_polls), "interval", hours=6, id="poll-history")
    _install_signals(app, stop)
    scheduler.start()
    health = _serve_health(app, scheduler, health_host, health_port) if health_port is not None else None
    log.info("monitor running: %d sources, %d rules, store %s", len(app.sources), len(app.matcher.rules),
             app.store.engine.url.render_as_string(hide_password=True))
    stop.wait()
    log.info("stopping: finishing the current step")
    if health is not None:
        health.close()
    scheduler.shutdown(wait=True)
    app.deliver()  # its leases run out as a dead worker's would: released early, a source was polled twice
    return 0


def _guarded(step: Callable[..., object], *args: object) -> Callable[[], None]:
    """A job that logs its own failure (a locked database, a full disk) and lets the next run retry."""
    def job() -> None:
        try:
            step(*args)
        except Exception:
            name = getattr(step, "__name__", str(step))
            log.exception("%s failed; it will run again at its next time", name)
            metrics = getattr(getattr(step, "__self__", None), "metrics", None)
            if isinstance(metrics, Metrics):
                metrics.cycle_failures.labels(name).inc()
    return job


def _outcome(report: CycleReport) -> str:
    if report.error:
        return "error"
    return "skipped" if report.skipped else "not_modified" if report.not_modified else "ok"


def _serve_health(app: App, scheduler: BackgroundScheduler, host: str, port: int) -> HealthServer:
    def problem() -> str | None:
        if not scheduler.running:
            return "the scheduler is not running"
        return app.store_problem()

    server = serve_health(app.metrics, problem, port, host)
    log.info("health and metrics on http://%s:%d/healthz and /metrics", host, server.port)
    return server


def _install_signals(app: App, stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=app.reload_rules, daemon=True).start())
