"""The story that started the project, end to end: a feed on loopback, the shipped rules, console alerts.

A feed carries two real reports that North Korea was considering sending 25,000 workers to the
Alabuga drone plant, among real look-alikes (a missile test, Central Asian migrants in Russia, a
Korean drone start-up, Tatarstan news, Korean wage talks). `monitor once` alerts on the reports and
on nothing else; a second cycle alerts on nothing; so does a fresh process on the same database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from loopback import LoopbackServer

from monitor.config import ConsoleConfig, Settings, SourceConfig, StoreConfig
from monitor.daemon import App
from monitor.models import SEVERITIES

ROOT = Path(__file__).parents[1]
FEED = ROOT / "tests" / "data" / "feeds" / "seed-story.xml"
SEED_URLS = {
    "https://news.liga.net/en/politics/news/nhk-dprk-may-send-25-000-workers-to-russia-for-drone-manufacturing-plant",
    "https://koreajoongangdaily.joins.com/news/2025-06-19/national/northKorea/"
    "North-may-send-25000-workers-to-Russian-drone-factory-NHK-reports/2334271",
}


def write_config(path: Path, feed_url: str, database: Path) -> Path:
    path.write_text(
        f'[store]\nurl = "sqlite:///{database}"\n\n'
        f'[[sources]]\nname = "seed-feed"\nkind = "rss"\nurl = "{feed_url}"\ninterval = "1m"\n\n'
        '[[notifiers]]\nname = "console"\nkind = "console"\nformat = "jsonl"\n'
    )
    return path


def run_once(config: Path, cwd: Path) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "once", "--config", str(config), "--rules", str(ROOT / "rules")],
        capture_output=True, text=True, timeout=60, cwd=cwd, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_the_seed_story_alerts_once_and_nothing_else_does(loopback: LoopbackServer, tmp_path: Path) -> None:
    feed_url = loopback.serve_file("/feed.xml", FEED, content_type="application/rss+xml")
    config = write_config(tmp_path / "monitor.toml", feed_url, tmp_path / "monitor.db")

    first = run_once(config, tmp_path)
    assert first, "the seed story raised no alert"
    assert {a["url"] for a in first} == SEED_URLS
    assert {"dprk_labor", "dprk_russia_military"} <= {t for a in first for t in a["tags"]}
    for url in SEED_URLS:  # the most severe rule on each report pages someone
        assert max(SEVERITIES.index(str(a["severity"])) for a in first if a["url"] == url) >= SEVERITIES.index("high")
    # One story, one alert: the first report alerts, the rewrite is a follow-up of the same event.
    assert [a["kind"] for a in first] == ["alert", "follow_up"]
    assert len({a["event_id"] for a in first}) == 1
    assert first[-1]["sources"] == 2

    assert run_once(config, tmp_path) == []  # a restart: a new process on the same database


def test_a_second_cycle_in_the_same_process_alerts_on_nothing(
    loopback: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(
        store=StoreConfig(url=f"sqlite:///{tmp_path / 'monitor.db'}"),
        sources=[SourceConfig(name="seed-feed", url=loopback.serve_file("/feed.xml", FEED))],
        notifiers=[ConsoleConfig(name="console", format="jsonl")],
    )
    app = App(settings, ROOT / "rules")
    try:
        first = app.run_once()
        printed = capsys.readouterr().out
        second = app.run_once()
    finally:
        app.close()
    assert sum(len(r.alerts) for r in first) == len(printed.splitlines()) > 0
    assert [(r.items, r.new, r.alerts) for r in second] == [(7, 0, ())]
    assert capsys.readouterr().out == ""
