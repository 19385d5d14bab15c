"""Three `monitor run` processes on one PostgreSQL database, a few hundred loopback sources, one worker
killed midway: each source is polled once per interval by one worker, every alert is delivered once,
and the dead worker's sources are taken over within one lease period (docs/scaling.md).

Needs MONITOR_TEST_POSTGRES_URL (tests/engines.py); skipped, saying so, without it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from engines import fresh_schema, postgres_url
from loopback import LoopbackServer, Request, Response

from monitor.models import Alert
from monitor.notify import Receipt, Thread
from monitor.notify.outbox import CLAIM_LEASE, Outbox
from monitor.store import alerts, open_store

ROOT = Path(__file__).parents[1]
SOURCES = 240
INTERVAL = 3.0  # seconds; the lease period of a source
BEFORE, AFTER = 3, 4  # polls of every source before the kill, and after it
STORY = ("North Korea will send {n} workers to the Alabuga drone plant in Tatarstan, officials in "
         "Pyongyang said on {when}, in report {guid}.")


def feed(index: int, polls: int) -> bytes:
    """Every tenth source has a new matching report at each poll; the others never change."""
    items = []
    for k in range(polls if index % 10 == 0 else 1):
        guid = f"s{index}-{k}" if index % 10 == 0 else f"quiet-{index}"
        text = STORY.format(n=1000 + index * 100 + k, when=f"day {k}", guid=guid) if index % 10 == 0 else (
            f"Weather report {index}: sunny.")
        items.append(f"<item><title>{guid}</title><link>https://site{index}.example/{guid}</link>"
                     f"<guid>{guid}</guid><description>{text}</description></item>")
    return f'<rss version="2.0"><channel><title>s{index}</title>{"".join(items)}</channel></rss>'.encode()


class Sources:
    """The loopback feeds, recording each poll: (time, worker) per source."""

    def __init__(self, server: LoopbackServer) -> None:
        self.polls: dict[int, list[tuple[float, str]]] = defaultdict(list)
        self.lock = threading.Condition()
        self.urls = [server.route(f"/feed/{i}", self._handler(i)) for i in range(SOURCES)]

    def _handler(self, index: int):  # type: ignore[no-untyped-def]
        def handle(request: Request) -> Response:
            with self.lock:
                self.polls[index].append((time.monotonic(), request.headers.get("user-agent", "")))
                count = len(self.polls[index])
                self.lock.notify_all()
            return Response(200, feed(index, count), {"content-type": "application/rss+xml"})
        return handle

    def wait_until(self, each: int, after: float = 0.0, timeout: float = 60.0) -> None:
        """Every source polled at least `each` times since `after` (monotonic)."""
        def done() -> bool:
            return all(sum(1 for t, _ in self.polls[i] if t >= after) >= each for i in range(SOURCES))
        with self.lock:
            assert self.lock.wait_for(done, timeout), "not every source was polled in time"


def start_worker(n: int, url: str, sources: Sources, tmp_path: Path) -> subprocess.Popen[str]:
    config = tmp_path / f"worker{n}.toml"
    lines = [f'rules_dir = "{ROOT / "tests" / "data" / "rules"}"', f'user_agent = "worker-{n}"', "jitter = 0.5",
             '[store]', f'url = "{url}"',
             "[http]", 'min_host_interval = "0s"', "per_host = 16"]  # the sources share one loopback host
    for i, source_url in enumerate(sources.urls):
        lines += ["[[sources]]", f'name = "s{i}"', f'url = "{source_url}"', f'interval = "{INTERVAL:g}s"']
    lines += ["[[notifiers]]", 'name = "console"', 'kind = "console"', 'format = "jsonl"']
    config.write_text("\n".join(lines) + "\n")
    return subprocess.Popen([sys.executable, "-m", "monitor.cli", "run", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_three_workers_share_the_sources_and_take_over_a_dead_ones(loopback: LoopbackServer, tmp_path: Path) -> None:
    with fresh_schema(postgres_url()) as url:
        sources = Sources(loopback)
        workers = [start_worker(n, url, sources, tmp_path) for n in range(3)]
        outputs: dict[int, str] = {}
        try:
            sources.wait_until(BEFORE)
            workers[1].kill()  # SIGKILL: no clean stop, its leases run out on their own
            killed_at = time.monotonic()
            workers[1].wait(timeout=10)
            sources.wait_until(AFTER, after=killed_at + INTERVAL * 1.5)
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.send_signal(signal.SIGTERM)
            for n, worker in enumerate(workers):
                outputs[n] = worker.communicate(timeout=60)[0]
        report = measure(sources.polls, killed_at)
        print(report)  # the figures docs/scaling.md quotes: `pytest -s tests/test_workers.py`
        assert report["overlaps"] == 0, report
        assert report["max_takeover"] <= INTERVAL + INTERVAL * 0.5 + 1.0, report  # one lease period, + jitter
        assert report["dead_sources"] > 0 and len(report["workers_after"]) == 2, report

        delivered = [json.loads(line)["url"] for out in outputs.values() for line in out.splitlines() if line]
        store = open_store(url)
        with store.engine.connect() as conn:
            written = [row.payload["url"] for row in conn.execute(alerts.select())]
        sending = {d["alert_id"] for d in store.deliveries("sending")}  # the dead worker's one window
        # A worker killed mid-send holds its claim, and with it the later alerts of that event, until the
        # claim runs out (docs/notifications.md): a pass after that delivers them.
        late = Console()
        Outbox(store, {"console": late}, [], lambda: datetime.now(UTC) + CLAIM_LEASE).deliver()
        store.close()
        assert written and len(delivered) == len(set(delivered)), "an alert was delivered twice"
        assert len(sending) <= 1, "more than the one in-flight delivery was left claimed"
        assert set(written) == set(delivered) | set(late.urls), "an alert was lost"
        assert len(set(delivered) & set(late.urls)) <= len(sending), "an alert was delivered twice"


class Console:
    """The late pass's console: the URLs it was handed."""

    name = "console"

    def __init__(self) -> None:
        self.urls: list[str] = []

    def send(self, alert: Alert, thread: Thread | None) -> Receipt:
        self.urls.append(alert.url)
        return Receipt()


def measure(polls: dict[int, list[tuple[float, str]]], killed_at: float) -> dict[str, object]:
    """Overlap: two polls of one source less than half an interval apart. Gap: the longest wait between
    two polls of one source. Takeover: from the dead worker's lease running out (its last poll + one
    interval) to the first poll of that source by another worker."""
    overlaps, gaps, takeovers = 0, [], []
    close: list[tuple[float, str, str, float]] = []
    for times in polls.values():
        stamps = [t for t, _ in times]
        spacing = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
        overlaps += sum(1 for s in spacing if s < INTERVAL / 2)
        close += [(round(b[0] - killed_at, 2), a[1], b[1], round(b[0] - a[0], 2))
                  for a, b in zip(times, times[1:], strict=False) if b[0] - a[0] < INTERVAL / 2]
        gaps.append(max(spacing))
        dead = [t for t, who in times if who.startswith("worker-1") and t < killed_at]
        if dead and times[-1][1] != "worker-1" and any(t > killed_at for t, _ in times):
            last = max(dead)
            if last + INTERVAL > killed_at:  # it held the lease when it died
                after = min(t for t, who in times if t > last and not who.startswith("worker-1"))
                takeovers.append(after - (last + INTERVAL))
    after_kill = {who for times in polls.values() for t, who in times if t > killed_at + INTERVAL * 1.5}
    return {"polls": sum(len(t) for t in polls.values()), "overlaps": overlaps, "max_gap": round(max(gaps), 2),
            "dead_sources": len(takeovers), "max_takeover": round(max(takeovers, default=0.0), 2),
            "mean_takeover": round(sum(takeovers) / max(len(takeovers), 1), 2),
            "workers_after": sorted(after_kill), "overlapping": close[:10]}
