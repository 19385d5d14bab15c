"""A store filled by the real pipeline from loopback feeds, for the web view's tests.

Two feeds: the seed story (two reports of one event, among look-alikes) and a hostile feed whose
headlines carry `<script>`, `<img onerror>` and a `javascript:` link, around a sentence the shipped
rules match, so it becomes an event of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from loopback import LoopbackServer

from monitor.config import ConsoleConfig, Settings, SourceConfig, StoreConfig, WebConfig
from monitor.daemon import App
from monitor.rules.model import RuleSet
from monitor.store import Store

ROOT = Path(__file__).parents[1]
NOW = datetime(2025, 6, 25, 12, tzinfo=UTC)  # a few days after the seed story
HOSTILE_TITLE = ('<script>document.title="pwned"</script> North Korean workers for Alabuga drone plant '
                 '<img src=x onerror="document.title=\'pwned\'">')
HOSTILE_FEED = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>hostile &lt;b&gt;feed&lt;/b&gt;</title><link>http://localhost/</link>
<description>hostile</description>
<item>
<title>{HOSTILE_TITLE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")}</title>
<link>javascript:document.title='pwned'</link>
<guid isPermaLink="false">hostile-1</guid>
<pubDate>Mon, 23 Jun 2025 10:00:00 +0000</pubDate>
<description>North Korea has sent 6,000 workers to the Alabuga drone plant in Tatarstan, where Shahed
drones are assembled, officials said. &lt;script&gt;document.title="pwned"&lt;/script&gt;</description>
</item>
</channel></rss>
""".encode()


@dataclass
class Filled:
    settings: Settings
    store: Store
    rules: RuleSet


@contextmanager
def filled_store(tmp: Path, web: WebConfig | None = None, url: str | None = None) -> Iterator[Filled]:
    """One `monitor once` cycle over the two feeds into a store: `url`, else a SQLite file under `tmp`."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        os.environ.pop(name, None)
    with LoopbackServer() as server:
        seed = server.serve_file("/seed.xml", ROOT / "tests" / "data" / "feeds" / "seed-story.xml")
        hostile = server.serve_bytes("/hostile.xml", HOSTILE_FEED, content_type="application/rss+xml")
        settings = Settings(
            store=StoreConfig(url=url or f"sqlite:///{tmp / 'web.db'}"),
            sources=[SourceConfig(name="seed-feed", url=seed), SourceConfig(name="hostile-feed", url=hostile),
                     SourceConfig(name="never-polled", url=server.url("/never.xml"))],
            notifiers=[ConsoleConfig(name="console", format="jsonl")],
            web=web or WebConfig(),
        )
        app = App(settings, ROOT / "rules", now=lambda: NOW)  # the story is fresh news on NOW
        try:
            for source in app.sources[:2]:
                app.poll(source, force=True)
            app.deliver()
            yield Filled(settings, app.store, app.matcher.compiled.ruleset)
        finally:
            app.close()
