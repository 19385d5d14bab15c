"""Polling: one cycle over 500 sources on loopback, then a second (mostly 304) cycle, then memory
over many cycles.

    .venv/bin/python benchmarks/poll_bench.py [--sources 500] [--hosts 100] [--workers 16] [--cycles 100]

The servers run in a child process (so the CPU figures are the poller's own), on 127.0.0.1 … 127.0.0.N:
several hosts, since the client keeps one request at a time per host with a gap between them
(`[http]` defaults: 1 per host, 1 s apart). The sources are a mix: 70 % feeds of 50 items with an ETag
(200 first, 304 after), 10 % slow (the same feed after 0.5 s), 10 % HTTP 500, 10 % oversized (2 MB
against a 1 MB cap). Each source goes through the real pipeline: fetch, parse, intake into SQLite,
the shipped rules, events. Goals (issue 6): the 500-source cycle within 30 s on two cores, CPU per
unchanged (304) source under 2 ms, memory flat over 100 cycles.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from loopback import LoopbackServer, Request, Response  # noqa: E402

from monitor.config import SourceConfig  # noqa: E402
from monitor.http import HttpClient  # noqa: E402
from monitor.pipeline import CycleReport, poll  # noqa: E402
from monitor.rules import Matcher, load_rules  # noqa: E402
from monitor.store import open_store  # noqa: E402

WORDS = ("sanctions ministry statement port vessel shipment drones factory workers delegation talks treaty "
         "missile launch exercise border trade grain oil tanker bank payment").split()


def feed(source: int) -> bytes:
    items = []
    for n in range(50):
        text = " ".join(WORDS[(source * 7 + n * 3 + k) % len(WORDS)] for k in range(40))
        items.append(f"<item><title>Source {source} story {n}: {WORDS[n % len(WORDS)]}</title>"
                     f"<link>https://news{source}.example/{n}</link><guid>s{source}-{n}</guid>"
                     f"<pubDate>Mon, 01 Dec 2025 10:{n:02d}:00 GMT</pubDate>"
                     f"<description>{text} {source} {n}</description></item>")
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>bench {source}</title>'
            f"{''.join(items)}</channel></rss>").encode()


def kind_of(index: int) -> str:
    return {7: "slow", 8: "error", 9: "huge"}.get(index % 10, "feed")


def handler(index: int, stopping: object) -> object:
    body, etag = feed(index), f'"v{index}"'

    def answer(request: Request) -> Response:
        kind = kind_of(index)
        if kind == "error":
            return Response(500, b"boom", {"Content-Type": "text/plain"})
        if kind == "huge":
            return Response(200, b"x" * 2_000_000, {"Content-Type": "application/rss+xml"})
        if request.headers.get("if-none-match") == etag:
            return Response(304, b"", {"ETag": etag})
        if kind == "slow":
            stopping.wait(0.5)  # type: ignore[attr-defined]
        return Response(200, body, {"Content-Type": "application/rss+xml", "ETag": etag})
    return answer


def serve(sources: int, hosts: int, ready: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    servers = [LoopbackServer(f"127.0.0.{h + 1}").start() for h in range(hosts)]
    urls = []
    for index in range(sources):
        server = servers[index % hosts]
        urls.append(server.route(f"/feed/{index}.xml", handler(index, server.stopping)))  # type: ignore[arg-type]
    ready.put(urls)
    stop.wait()
    for server in servers:
        server.stop()


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def cycle(sources: list[SourceConfig], client: HttpClient, store: object, matcher: Matcher,
          workers: int) -> tuple[float, float, list[CycleReport]]:
    def one(source: SourceConfig) -> CycleReport:
        return poll(source, client, store, matcher, lambda: datetime.now(UTC), force=True)  # type: ignore[arg-type]

    wall, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(workers) as pool:
        reports = list(pool.map(one, sources))
    return time.perf_counter() - wall, time.process_time() - cpu, reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=int, default=500)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--cycles", type=int, default=100, help="cycles of the memory check")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the failing sources' warnings are the point, not the output

    ready: multiprocessing.Queue = multiprocessing.Queue()
    stop = multiprocessing.Event()
    child = multiprocessing.Process(target=serve, args=(args.sources, args.hosts, ready, stop), daemon=True)
    child.start()
    urls = ready.get(timeout=120)
    sources = [SourceConfig(name=f"s{i}", url=url) for i, url in enumerate(urls)]
    matcher = Matcher(load_rules(ROOT / "rules"))
    with tempfile.TemporaryDirectory() as tmp, HttpClient(retries=0, max_bytes=1_000_000, read_timeout=10,
                                                          min_host_interval=1.0, per_host=1) as client:
        store = open_store(f"sqlite:///{tmp}/bench.db")
        first_wall, first_cpu, reports = cycle(sources, client, store, matcher, args.workers)
        new = sum(r.new for r in reports)
        errors = sum(1 for r in reports if r.error)
        print(f"cycle 1: {len(sources)} sources on {args.hosts} hosts, {args.workers} workers: "
              f"{first_wall:.1f} s wall, "
              f"{first_cpu:.1f} s CPU ({first_cpu / len(sources) * 1000:.1f} ms per source); {new} new articles, "
              f"{errors} sources failed")
        second_wall, second_cpu, reports = cycle(sources, client, store, matcher, args.workers)
        unchanged = sum(1 for r in reports if r.not_modified)
        print(f"cycle 2: {second_wall:.1f} s wall, {second_cpu:.2f} s CPU; {unchanged} not modified; "
              f"second/first wall {second_wall / first_wall:.2f}")
        cached = [s for s, r in zip(sources, reports, strict=True) if r.not_modified]
        quick = HttpClient(retries=0, min_host_interval=0.0)  # CPU of the 304 path itself, without waits
        _, cpu304, _ = cycle(cached, quick, store, matcher, 1)
        print(f"unchanged (304) sources: {cpu304 / len(cached) * 1000:.2f} ms CPU each (one thread, no gaps)")
        marks = {}
        for number in range(1, args.cycles + 1):
            cycle(cached, quick, store, matcher, 4)
            if number in (10, args.cycles // 2, args.cycles):
                marks[number] = rss_mb()
        print("memory (RSS) over " + ", ".join(f"cycle {n}: {mb:.0f} MB" for n, mb in marks.items()))
        quick.close()
        store.close()
    stop.set()
    child.join(timeout=10)


if __name__ == "__main__":
    main()
