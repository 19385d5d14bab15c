"""Scaling: articles per second through the whole pipeline (fetch, parse, intake, the shipped rules,
events, outbox) with 1, 2 and 3 worker processes on PostgreSQL, and one on SQLite, printed as ratios.

    MONITOR_TEST_POSTGRES_URL=postgresql+psycopg://… .venv/bin/python benchmarks/scale_bench.py [--sources 90]

Each worker is a process that walks every source and polls those whose lease it wins (monitor/leases.py),
as `monitor run` does; the feeds (50 new items each) are served on loopback from this process. Without
a PostgreSQL URL only the SQLite line is printed. Results: docs/performance.md, "Scaling".
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.synchronize
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import sqlalchemy as sa  # noqa: E402
from loopback import LoopbackServer, Request, Response  # noqa: E402
from poll_bench import feed  # noqa: E402

from monitor.config import SourceConfig  # noqa: E402
from monitor.http import HttpClient  # noqa: E402
from monitor.leases import Leases  # noqa: E402
from monitor.pipeline import poll  # noqa: E402
from monitor.rules import Matcher, load_rules  # noqa: E402
from monitor.store import articles, open_store  # noqa: E402


def now() -> datetime:
    return datetime.now(UTC)


def worker(url: str, feeds: list[str], owner: str, ready: multiprocessing.synchronize.Barrier) -> None:
    store = open_store(url)
    matcher = Matcher(load_rules(ROOT / "rules"))
    leases = Leases(store, owner)
    ready.wait()  # every worker has its rules loaded: the clock starts
    with HttpClient(retries=0, min_host_interval=0.0, per_host=16) as client:
        for n, feed_url in enumerate(feeds):
            if leases.claim(f"source:b{n}", now(), timedelta(hours=1)):
                poll(SourceConfig(name=f"b{n}", url=feed_url), client, store, matcher, now)
    store.close()


def run(url: str, feeds: list[str], workers: int) -> float:
    """Articles per second with `workers` processes on the store at `url` (made fresh by the caller)."""
    open_store(url).close()  # the schema, before the clock starts
    ready = multiprocessing.Barrier(workers + 1)
    processes = [multiprocessing.Process(target=worker, args=(url, feeds, f"w{n}", ready)) for n in range(workers)]
    for process in processes:
        process.start()
    ready.wait()
    began = time.perf_counter()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - began
    store = open_store(url)
    taken = store.count(articles)
    store.close()
    return taken / elapsed


def postgres_schema(base: str) -> tuple[str, sa.Engine, str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}", admin, schema


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=90)
    args = parser.parse_args()
    with LoopbackServer() as server, tempfile.TemporaryDirectory() as tmp:
        bodies = {n: feed(n) for n in range(args.sources)}
        feeds = [server.route(f"/b/{n}", lambda _r, n=n: Response(200, bodies[n])) for n in range(args.sources)]
        _ = Request  # the handlers' argument type
        results = {"sqlite, 1 worker": run(f"sqlite:///{Path(tmp) / 'bench.db'}", feeds, 1)}
        base = os.environ.get("MONITOR_TEST_POSTGRES_URL")
        for count in (1, 2, 3) if base else ():
            url, admin, schema = postgres_schema(base or "")
            try:
                results[f"postgresql, {count} worker{'s' if count > 1 else ''}"] = run(url, feeds, count)
            finally:
                with admin.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    first = results.get("postgresql, 1 worker") or results["sqlite, 1 worker"]
    print(f"{args.sources} sources × 50 new articles, {os.cpu_count()} CPUs")
    for name, rate in results.items():
        print(f"{name:24} {rate:8.0f} articles/s   × {rate / first:.2f}")


if __name__ == "__main__":
    main()
