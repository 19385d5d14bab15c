"""`/healthz` and `/metrics` (Prometheus text format) for `monitor run --health-port N`.

`Metrics` holds what the process counts as it goes (polls, errors, items, latencies) and reads what the
store knows (matches per rule, events, deliveries per notifier) when scraped, so those figures survive a
restart. `health_app` is a plain WSGI app: `serve_health` runs it on a port of its own, and a web view
can mount it under its own server instead (`/healthz` and `/metrics` are its only paths).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor.models import Alert
from monitor.store import UNTRIED, Store, alerts, events, matches

log = logging.getLogger(__name__)

# Publication to delivery: a minute for a fast feed, a day and more for a digest or a slow source.
LATENCY_BUCKETS = (30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 24 * 3600, 3 * 24 * 3600)
POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Metrics:
    """The process's figures, in a registry of its own (two Apps in one process never collide)."""

    def __init__(self, store: Store | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter("monitor_source_polls", "Polls per source and outcome (ok, not_modified, error, "
                             "skipped)", ["source", "outcome"], registry=r)
        self.errors = Counter("monitor_source_errors", "Failed polls per source", ["source"], registry=r)
        self.items = Counter("monitor_source_items", "New items taken in per source", ["source"], registry=r)
        self.last_success = Gauge("monitor_source_last_success_timestamp_seconds",
                                  "When a poll of the source last worked (Unix time)", ["source"], registry=r)
        self.poll_seconds = Histogram("monitor_poll_duration_seconds", "One source's cycle, fetch to commit",
                                      ["source"], buckets=POLL_BUCKETS, registry=r)
        self.delivery_seconds = Histogram("monitor_delivery_latency_seconds", "From the article's publication "
                                          "(else its match) to the channel accepting the alert", ["notifier"],
                                          buckets=LATENCY_BUCKETS, registry=r)
        self.sent = Counter("monitor_alerts_delivered", "Alerts a channel accepted, by this process", ["notifier"],
                            registry=r)
        self.cycle_failures = Counter("monitor_job_failures", "Scheduler jobs that raised (locked database, full "
                                      "disk ...)", ["job"], registry=r)
        if store is not None:
            r.register(StoreCollector(store))

    def polled(self, source: str, outcome: str, new: int, seconds: float, at: datetime) -> None:
        self.polls.labels(source, outcome).inc()
        self.poll_seconds.labels(source).observe(seconds)
        if outcome == "error":
            self.errors.labels(source).inc()
        else:
            self.items.labels(source).inc(new)
            if outcome != "skipped":
                self.last_success.labels(source).set(at.timestamp())

    def delivered(self, alert: Alert, notifier: str, at: datetime) -> None:
        self.sent.labels(notifier).inc()
        since = alert.published if alert.published and alert.published <= at else alert.matched_at
        self.delivery_seconds.labels(notifier).observe(max(0.0, (at - since).total_seconds()))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class StoreCollector(Collector):
    """What the store knows, read at scrape time: a restart does not reset it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Any]:
        try:
            with self.store.engine.connect() as conn:
                by_rule = conn.execute(sa.select(matches.c.rule_id, sa.func.count()).group_by(matches.c.rule_id)).all()
                by_state = conn.execute(sa.select(events.c.state, sa.func.count()).group_by(events.c.state)).all()
                untried = conn.execute(sa.select(sa.func.count()).select_from(alerts).where(UNTRIED)).scalar()
            by_status = self.store.delivery_counts()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("metrics: the store did not answer: %s", exc.__class__.__name__)
            return
        rules = CounterMetricFamily("monitor_rule_matches", "Matches per rule (stored)", labels=["rule"])
        for rule, n in by_rule:
            rules.add_metric([rule], n)
        states = GaugeMetricFamily("monitor_events", "Events per state (alerted, held, silenced)", labels=["state"])
        for state, n in by_state:
            states.add_metric([state], n)
        outbox = GaugeMetricFamily("monitor_deliveries", "Deliveries per notifier and status (pending, sending, "
                                   "sent, queued, skipped, failed)", labels=["notifier", "status"])
        for (notifier, status), n in by_status.items():
            outbox.add_metric([notifier, status], n)
        new = GaugeMetricFamily("monitor_alerts_untried", "Alerts in the outbox no delivery pass has tried yet")
        new.add_metric([], int(untried or 0))
        yield from (rules, states, outbox, new)


def health_app(metrics: Metrics, problem: Callable[[], str | None]) -> WSGIApp:
    """`/healthz`: 200 "ok" while `problem()` is None, else 503 with it; `/metrics`: the exposition."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            found = problem()
            status, body = ("200 OK", b"ok\n") if found is None else ("503 Service Unavailable",
                                                                     f"{found}\n".encode())
            return _answer(start_response, status, "text/plain; charset=utf-8", body)
        if path == "/metrics":
            return _answer(start_response, "200 OK", CONTENT_TYPE_LATEST, metrics.exposition())
        return _answer(start_response, "404 Not Found", "text/plain; charset=utf-8", b"/healthz or /metrics\n")

    return app


def _answer(start_response: StartResponse, status: str, content_type: str, body: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("health: " + format, *args)


class _ThreadedServer(ThreadingMixIn, WSGIServer):
    # One thread per scrape: a slow client never holds up the next one, nor `close()`.
    daemon_threads = True
    block_on_close = False


class HealthServer:
    """`app` served on host:port (port 0: a free one) in a daemon thread until `close()`."""

    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = make_server(host, port, app, server_class=_ThreadedServer, handler_class=_Quiet)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="health", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_health(metrics: Metrics, problem: Callable[[], str | None], port: int,
                 host: str = "127.0.0.1") -> HealthServer:
    return HealthServer(health_app(metrics, problem), host, port)
