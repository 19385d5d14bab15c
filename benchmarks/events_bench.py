"""The events stage: the cost of one dedup decision as stored stories grow, and how well rewrites of one
story stay one event while distinct stories stay apart.

    .venv/bin/python benchmarks/events_bench.py [--large 100000] [--dev ../shared/eval/dev.jsonl]

Part 1 stores N stories (each with a MinHash signature, its band keys and an entity), then times
`candidate_events` + `decide` for new sightings against 1,000 and against N stored stories, printing
the per-article cost and the ratio (goal: under 1 ms, flat).

Part 2 takes the real articles of the development set that carry a topic label, makes four rewrites
of each (a new headline, boilerplate added, sentences reordered, the ending trimmed), each on its own
domain, and runs all of them through the real pipeline with the shipped rules in the order of their
publication dates. It prints the alerts per story (goal 1.00) and the share of events that merged
distinct stories (goal 0).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from monitor.events import Policy, Sighting, decide  # noqa: E402
from monitor.fingerprint import PERMUTATIONS, band_keys, fingerprint  # noqa: E402
from monitor.intake import intake  # noqa: E402
from monitor.models import Article, Fingerprint, Match  # noqa: E402
from monitor.pipeline import ingest  # noqa: E402
from monitor.rules import Matcher, load_rules  # noqa: E402
from monitor.store import alerts, articles, event_articles, event_keys, events, open_store  # noqa: E402

NOW = datetime(2025, 6, 19, tzinfo=UTC)
ENTITIES = [f"place{i}" for i in range(500)]


def fill(store_url: str, count: int, rng: random.Random) -> None:
    """`count` stored stories, in bulk: the event, one article with its signature, and its keys."""
    store = open_store(store_url)
    with store.engine.begin() as conn:
        conn.execute(articles.insert(), [
            {"id": i, "source": "s", "guid": str(i), "url": f"https://x{i}.org/", "canonical_url": f"https://x{i}.org/",
             "title": "t", "summary": "", "content": "", "content_hash": str(i)} for i in range(1, count + 1)])
        ev, members, keys = [], [], []
        for i in range(1, count + 1):
            values = tuple(rng.getrandbits(61) for _ in range(PERMUTATIONS))
            entity = rng.choice(ENTITIES)
            opened = NOW - timedelta(minutes=rng.randrange(0, 60 * 24 * 365))  # a year of stories
            ev.append({"id": i, "state": "alerted", "rule_ids": ["r"], "title": "t", "severity": "high", "tags": [],
                       "entities": [entity], "first_article_id": i, "opened_at": opened, "updated_at": opened,
                       "window_seconds": 72 * 3600, "min_sources": 1, "official": False, "alert_count": 1,
                       "last_alert_at": opened})
            members.append({"event_id": i, "article_id": i, "source": "s", "url": "u", "title": "t",
                            "domain": f"x{i}.org", "copy": False, "rule_ids": ["r"], "decision": "open", "reason": "",
                            "fingerprint": {"values": list(values), "size": 100},
                            "text": "", "content_hash": str(i), "added_at": opened})
            keys += [{"key": k, "event_id": i} for k in band_keys(Fingerprint(values))]
            keys.append({"key": f"en:{opened.date().isoformat()}:{entity}", "event_id": i})
        conn.execute(events.insert(), ev)
        conn.execute(event_articles.insert(), members)
        conn.execute(event_keys.insert(), keys)
    store.close()


def time_decisions(store_url: str, rng: random.Random, samples: int = 300) -> float:
    """Mean seconds for candidates + decide, for sightings that share an entity with ~N/500 stories."""
    store = open_store(store_url)
    texts = [" ".join(rng.choice(WORDS) for _ in range(120)) for _ in range(samples)]
    sightings = [Sighting(f"https://new{i}.org/", "s", f"new{i}.org",
                          (Match("r", "r", "high", (), (), None, (rng.choice(ENTITIES),)),), fingerprint(t))
                 for i, t in enumerate(texts)]
    policy = Policy()
    started = time.perf_counter()
    with intake(store) as tx:
        for sighting in sightings:
            decide(sighting, tx.candidate_events(sighting, policy, NOW), policy, NOW)
    elapsed = (time.perf_counter() - started) / samples
    store.close()
    return elapsed


WORDS = ("north korea russia workers drone plant alabuga troops kursk sanctions treasury designated entities "
         "shells missiles pyongyang moscow factory shahed geran production supply army soldiers deployed said "
         "officials report according agency minister week city region state media").split()


def part_one(large: int) -> None:
    rng = random.Random(1)
    results = {}
    for count in (1_000, large):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            started = time.perf_counter()
            fill(url, count, rng)
            print(f"  stored {count:>7,} stories in {time.perf_counter() - started:5.1f} s", flush=True)
            results[count] = time_decisions(url, rng)
    small, big = results[1_000], results[large]
    print(f"dedup decision per article: {small * 1000:.3f} ms at 1,000 stories, {big * 1000:.3f} ms at {large:,}; "
          f"ratio {big / small:.2f}")


# --- part 2: rewrites ----------------------------------------------------------------------------

BOILERPLATE = ("Subscribe to our newsletter for the day's top stories. "
               "Follow us on Telegram and X. All rights reserved; reproduction without permission is prohibited.")


def sentences(text: str) -> list[str]:
    from monitor.text import sentence_starts

    starts = sentence_starts(text)
    return [text[a:b].strip() for a, b in zip(starts, starts[1:] + [len(text)], strict=True) if text[a:b].strip()]


def rewrites(article: Article, rng: random.Random) -> list[Article]:
    parts = sentences(article.content)
    shuffled = parts[:]
    rng.shuffle(shuffled)
    variants = [
        ("headline", article.content, f"{article.title.split(':')[-1].strip()} — report"),
        ("boilerplate", f"{article.content} {BOILERPLATE}", article.title),
        ("reordered", " ".join(shuffled), article.title),
        ("trimmed", " ".join(parts[:-1]) if len(parts) > 2 else article.content[: int(len(article.content) * 0.8)],
         article.title),
    ]
    return [replace(article, source=f"{kind}-copy", guid=f"{article.guid}-{kind}", title=title, content=text,
                    url=f"https://{kind}-{article.guid}.example/{article.guid}") for kind, text, title in variants]


def _published(value: str | None, rng: random.Random) -> datetime:
    """The row's date; a month alone gets a day in it and a missing date a day in 2020-2025, at random,
    so that undated stories do not all meet on one day (which no real feed does)."""
    if not value:
        return datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(0, 6 * 365))
    if len(value) == 7:
        return datetime.fromisoformat(value + "-01").replace(tzinfo=UTC) + timedelta(days=rng.randrange(0, 28))
    return datetime.fromisoformat(value).replace(tzinfo=UTC) + timedelta(hours=rng.randrange(0, 12))


def part_two(dev: Path) -> None:
    rng = random.Random(2)
    rows = [json.loads(line) for line in dev.read_text(encoding="utf-8").splitlines() if line.strip()]
    stories = []
    for row in rows:
        if not row.get("labels"):
            continue
        when = _published(row.get("published"), rng)
        base = Article(source=row["source"], guid=row["id"], url=row["url"], title=row["title"], content=row["text"],
                       published=when)
        stories.append((when, base, rewrites(base, rng)))
    matcher = Matcher(load_rules(ROOT / "rules"))
    timeline, story_of_url = [], {}
    for when, base, copies in stories:
        for n, article in enumerate([base, *copies]):
            timeline.append((when + timedelta(minutes=5 * n + rng.randrange(0, 120)), article))
            story_of_url[article.url] = base.guid
    timeline.sort(key=lambda pair: pair[0])
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/rewrites.db")
        clock = {"now": NOW}
        for when, article in timeline:
            clock["now"] = when
            ingest([article], store, matcher, lambda: clock["now"])
        with store.engine.connect() as conn:
            members = conn.execute(event_articles.select()).mappings().all()
            alert_rows = conn.execute(alerts.select()).mappings().all()
    events_of_story: dict[str, set[int]] = {}
    stories_of_event: dict[int, set[str]] = {}
    for member in members:
        story = story_of_url[member["url"]]
        events_of_story.setdefault(story, set()).add(member["event_id"])
        stories_of_event.setdefault(member["event_id"], set()).add(story)
    first_alerts = [a for a in alert_rows if a["payload"]["kind"] == "alert"]
    alerted_stories = {s for e in {a["event_id"] for a in first_alerts} for s in stories_of_event.get(e, ())}
    merged = [e for e, s in stories_of_event.items() if len(s) > 1]
    print(f"rewrites: {len(stories)} labelled stories x 5 versions, {len(timeline)} articles, "
          f"{len(events_of_story)} stories matched by the rules")
    print(f"  alerts per story: {len(first_alerts) / max(1, len(alerted_stories)):.2f} "
          f"({len(first_alerts)} alerts for {len(alerted_stories)} stories); events per story: "
          f"{sum(len(e) for e in events_of_story.values()) / max(1, len(events_of_story)):.2f}")
    print(f"  events that merged distinct stories: {len(merged)} of {len(stories_of_event)} "
          f"({len(merged) / max(1, len(stories_of_event)):.1%})")
    for event in merged[:10]:
        print(f"    event {event}: {sorted(stories_of_event[event])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", type=int, default=100_000, help="stored stories for the big run")
    parser.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    args = parser.parse_args()
    part_one(args.large)
    if args.dev.exists():
        part_two(args.dev)


if __name__ == "__main__":
    main()
