"""Soak: a simulated week of the daemon's work in minutes of wall time, time passed in.

    .venv/bin/python benchmarks/soak.py [--days 7] [--sources 12] [--retention-days 2]

Sources on loopback (tests/loopback.py) gain three stories every simulated hour (one in six matches the
rules), each feed keeping its newest 40 items as a real feed does; two sources always fail (HTTP 500, a
body that is not a feed). Every simulated hour the real `App` polls each source (fetch, parse, intake into
SQLite, rules, events, outbox) and delivers to a counting notifier; retention runs every six simulated
hours. RSS and database size are sampled each simulated hour. It prints the growth ratio of the last day
over the first (goal for memory: <= 1.1) and the alerts lost or delivered twice (goal: 0).
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import random
import sys
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import sqlalchemy as sa  # noqa: E402
from loopback import LoopbackServer, Request, Response  # noqa: E402

from monitor.config import ConsoleConfig, HttpConfig, Settings, SourceConfig, StoreConfig  # noqa: E402
from monitor.daemon import App  # noqa: E402
from monitor.http import HttpClient  # noqa: E402
from monitor.models import Alert  # noqa: E402
from monitor.notify import Receipt, Thread  # noqa: E402
from monitor.store import alerts, articles  # noqa: E402

WORDS = ("ministry statement port vessel shipment delegation talks treaty harbour convoy ledger granite orbit "
         "tundra meadow lantern cobalt falcon glacier juniper marble quartz raven willow amber basalt cedar heron "
         "budget weather election football concert museum railway bridge festival market").split()
PLACES = ["Alabuga", "Vladivostok", "Kazan", "Rason", "Khasan", "Nakhodka"]


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Feed:
    """A source's feed: new stories each simulated hour, the newest 40 served."""

    name: str
    rng: random.Random
    clock: Clock
    items: list[str] = field(default_factory=list)
    count: int = 0

    def grow(self, n: int = 3) -> None:
        for _ in range(n):
            self.count += 1
            words = " ".join(self.rng.sample(WORDS, 25))
            if self.rng.random() < 1 / 6:
                place = self.rng.choice(PLACES)
                title = f"North Korea sends workers to {place} plant, report {self.name}-{self.count}"
                body = f"North Korea will send workers to the {place} drone plant. {words}"
            else:
                title, body = f"{self.name} story {self.count}: {words[:40]}", words
            self.items.append(
                f"<item><title>{title}</title><link>https://{self.name}.example.org/{self.count}</link>"
                f"<guid>{self.name}-{self.count}</guid><pubDate>{format_datetime(self.clock.now)}</pubDate>"
                f"<description>{body}</description></item>")
        self.items = self.items[-40:]

    def __call__(self, request: Request) -> Response:
        xml = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{self.name}</title>' \
              f'{"".join(self.items)}</channel></rss>'
        return Response(200, xml.encode(), {"Content-Type": "application/rss+xml"})


class Counting:
    """A notifier that counts what it was given, per alert."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: Counter[int] = Counter()
        self.lock = threading.Lock()

    def send(self, alert: Alert, thread: Thread | None) -> Receipt:
        assert alert.id is not None
        with self.lock:
            self.sent[alert.id] += 1
        return Receipt()


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def db_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--days", type=int, default=7)
    options.add_argument("--sources", type=int, default=12)
    options.add_argument("--retention-days", type=int, default=2)
    args = options.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("monitor").setLevel(logging.ERROR)  # the failing sources would fill the screen

    clock = Clock(datetime(2025, 6, 1, tzinfo=UTC))
    rng = random.Random(7)
    with LoopbackServer() as server, tempfile.TemporaryDirectory(prefix="monitor-soak-") as tmp:
        feeds = [Feed(f"s{i}", rng, clock) for i in range(args.sources)]
        sources = [SourceConfig(name=f.name, url=server.route(f"/{f.name}.xml", f), interval="1h") for f in feeds]
        server.serve_bytes("/broken.xml", b"<html>not a feed</html>", content_type="text/html")
        sources += [SourceConfig(name="failing-500", url=server.url("/status/500"), interval="1h"),
                    SourceConfig(name="not-a-feed", url=server.url("/broken.xml"), interval="1h")]
        db = Path(tmp) / "soak.db"
        settings = Settings(store=StoreConfig(url=f"sqlite:///{db}"), sources=sources,
                            notifiers=[ConsoleConfig(name="count")], retention_days=args.retention_days,
                            http=HttpConfig(min_host_interval="0s", retries=0))
        fetcher = HttpClient(retries=0, read_timeout=5, deadline=10, now=clock)  # fetch times on the simulated clock
        app = App(settings, ROOT / "tests" / "data" / "rules", fetcher=fetcher, now=clock)
        counting = Counting("count")
        app.notifiers["count"] = counting  # the console replaced: counted, not printed
        app.outbox.notifiers = app.notifiers
        samples: list[tuple[int, int, int]] = []  # (hour, rss, db bytes)
        try:
            for hour in range(args.days * 24):
                for feed in feeds:
                    feed.grow()
                for source in app.sources:
                    app.poll(source, force=True)
                app.deliver()
                if hour % 6 == 5:
                    app.prune()
                clock.now += timedelta(hours=1)
                gc.collect()
                samples.append((hour, rss_bytes(), db_bytes(db)))
                if hour % 24 == 23:
                    print(f"day {hour // 24 + 1}: rss {samples[-1][1] / 1e6:.1f} MB, db {samples[-1][2] / 1e6:.2f} MB, "
                          f"articles {app.store.count(articles)}, alerts {app.store.count(alerts)}", flush=True)
            with app.store.engine.connect() as conn:
                ids = list(conn.execute(sa.select(alerts.c.id)).scalars())
        finally:
            app.close()
    first, last = samples[:24], samples[-24:]
    rss_ratio = (sum(s[1] for s in last) / 24) / (sum(s[1] for s in first) / 24)
    db_ratio = (sum(s[2] for s in last) / 24) / (sum(s[2] for s in first) / 24)
    db_week = samples[-1][2] / max(1, samples[23][2])
    lost = sum(1 for i in ids if counting.sent[i] == 0)
    twice = sum(1 for i in ids if counting.sent[i] > 1)
    print(f"\n{args.days} simulated days, {len(sources)} sources ({len(feeds)} feeds, 2 failing), "
          f"{sum(f.count for f in feeds)} stories, {len(ids)} alerts")
    print(f"memory (RSS) growth, last day / first day: {rss_ratio:.3f} (goal <= 1.1)")
    print(f"database size growth, last day / first day: {db_ratio:.3f}; end of week / end of day 1: {db_week:.3f}")
    print(f"alerts lost: {lost}, delivered twice: {twice} (goal 0, 0)")
    return 0 if lost == twice == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
