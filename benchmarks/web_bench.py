"""The web view's events page and its JSON twin at 1,000 and at 100,000 stored events (500 sources).

    .venv/bin/python benchmarks/web_bench.py [--large 100000]

Events are written straight into a SQLite store (two or three reports each, spread over 90 days and 500
sources), then `/`, `/events.json`, a filtered `/events.json?tag=…&source=…` and page 50 (by its `next`
key) are asked for through the app (Flask's test client, no network), each 20 times; the median is printed
with the ratio large / small (goal: every page under 200 ms, the ratio near 1).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from monitor.config import Settings, SourceConfig, StoreConfig  # noqa: E402
from monitor.rules import load_rules  # noqa: E402
from monitor.store import articles, event_articles, events, open_store  # noqa: E402
from monitor.web import WebContext, create_app  # noqa: E402

NOW = datetime(2025, 6, 25, tzinfo=UTC)
TAGS = ["dprk_labor", "dprk_russia_military", "drone_production", "sanctions_action"]
SOURCES = [f"source-{n:03d}" for n in range(500)]


def fill(url: str, count: int) -> None:
    store = open_store(url)
    rng = random.Random(7)
    with store.engine.begin() as conn:
        conn.execute(articles.insert(), [
            {"id": 1, "source": SOURCES[0], "guid": "g", "url": "https://x.example/", "canonical_url": "https://x.example/",
             "title": "t", "summary": "", "content": "", "content_hash": "h", "fetched_at": NOW}])
        batch_events, batch_reports = [], []
        for n in range(1, count + 1):
            opened = NOW - timedelta(seconds=rng.randrange(90 * 86400))
            batch_events.append({
                "id": n, "state": rng.choice(["alerted"] * 8 + ["held", "silenced"]), "rule_ids": [f"rule-{n % 14}"],
                "title": f"Story {n}: North Korean workers sent to plant {n % 97}", "severity": "high",
                "tags": rng.sample(TAGS, 2), "entities": ["alabuga"], "first_article_id": 1, "opened_at": opened,
                "updated_at": opened, "window_seconds": 259200, "min_sources": 1, "official": False, "alert_count": 1})
            for k in range(rng.choice([2, 3])):
                source = rng.choice(SOURCES)
                batch_reports.append({
                    "event_id": n, "article_id": 1, "source": source, "url": f"https://{source}.example/{n}/{k}",
                    "title": "t", "published": opened, "domain": f"{source}.example", "copy": k == 2,
                    "rule_ids": [], "decision": "open", "reason": "r", "text": "", "content_hash": "h",
                    "added_at": opened})
            if len(batch_events) >= 5000:
                conn.execute(events.insert(), batch_events)
                conn.execute(event_articles.insert(), batch_reports)
                batch_events, batch_reports = [], []
        if batch_events:
            conn.execute(events.insert(), batch_events)
            conn.execute(event_articles.insert(), batch_reports)
    store.close()


def timings(url: str) -> dict[str, float]:
    settings = Settings(store=StoreConfig(url=url), sources=[SourceConfig(name=s, url=f"https://{s}.example/feed")
                                                             for s in SOURCES])
    store = open_store(url)
    rules = load_rules(ROOT / "rules")
    client = create_app(WebContext(settings, store, lambda: rules, now=lambda: NOW)).test_client()
    token = None
    for _ in range(49):  # page 50, by key
        token = client.get("/events.json" + (f"?next={token}" if token else "")).get_json()["next"]
    paths = {"/": "/", "/events.json": "/events.json",
             "/events.json?tag=…&source=…": f"/events.json?tag=drone_production&source={SOURCES[7]}",
             "/events.json page 50": f"/events.json?next={token}"}
    out = {}
    for name, path in paths.items():
        assert client.get(path).status_code == 200
        samples = []
        for _ in range(20):
            start = time.perf_counter()
            client.get(path)
            samples.append(time.perf_counter() - start)
        out[name] = statistics.median(samples) * 1000
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=100_000)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in (args.small, args.large):
            url = f"sqlite:///{tmp}/web-{count}.db"
            fill(url, count)
            results[count] = timings(url)
    print(f"{'page':<30} {args.small:>10,} ev {args.large:>10,} ev   ratio")
    for name in results[args.small]:
        small, large = results[args.small][name], results[args.large][name]
        print(f"{name:<30} {small:>10.1f} ms {large:>10.1f} ms   {large / small:5.2f}")


if __name__ == "__main__":
    main()
