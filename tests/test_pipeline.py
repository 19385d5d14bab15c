"""A failing source fails alone: each bad input gets a readable error on its own state, and every
other source in the same cycle is still read and alerted on."""

from __future__ import annotations

import socket
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from loopback import LoopbackServer, Response

from monitor.config import ConsoleConfig, Settings, SourceConfig, StoreConfig
from monitor.daemon import App
from monitor.http import HttpClient
from monitor.store import articles

ROOT = Path(__file__).parents[1]
FEED = (ROOT / "tests" / "data" / "feeds" / "seed-story.xml").read_bytes()
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">]>
<rss version="2.0"><channel><title>bomb</title><item><title>&h;</title><link>https://x.org/1</link></item></channel></rss>"""

XXE_MARKER = "xxe-file-contents-must-never-be-read"
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "SECRET">]>
<rss version="2.0"><channel><title>xxe</title><item><title>Story &xxe;</title><link>https://x.org/xxe</link>
<description>North Korea &xxe; workers</description></item></channel></rss>"""


@pytest.fixture
def app(loopback: LoopbackServer, tmp_path: Path) -> App:
    loopback.serve_bytes("/good.xml", FEED, content_type="application/rss+xml")
    loopback.serve_bytes("/page.html", b"<html><body><h1>Moved</h1></body></html>", content_type="text/html")
    loopback.serve_bytes("/bomb.xml", BILLION_LAUGHS, content_type="application/rss+xml")
    loopback.serve_bytes("/empty.xml", b"", content_type="application/rss+xml")
    loopback.serve_sequence("/flaky.xml", [Response(503), Response(503), Response(503), Response(503)])
    secret = tmp_path / "secret.txt"
    secret.write_text(XXE_MARKER)
    loopback.serve_bytes("/xxe.xml", XXE.replace(b"SECRET", secret.as_uri().encode()),
                         content_type="application/rss+xml")
    paths = {
        "good": "/good.xml", "server-error": "/status/500", "gone": "/status/404", "html-page": "/page.html",
        "hung": "/slow?interval=0.5", "huge": "/big?size=3000000&content_length=0", "xml-bomb": "/bomb.xml",
        "empty": "/empty.xml", "loop": "/redirect-loop", "flaky": "/flaky.xml",
        "gzip-bomb": "/gzip-bomb?size=100000000", "xxe": "/xxe.xml",
        "tls": f"https://127.0.0.1:{loopback.port}/good.xml",  # a TLS handshake with a plain-HTTP server
        "dns": "http://feeds.example.invalid/rss",
    }
    settings = Settings(
        store=StoreConfig(url=f"sqlite:///{tmp_path / 'monitor.db'}"),
        sources=[SourceConfig(name=name, url=path if path.startswith("http") else loopback.url(path))
                 for name, path in paths.items()],
        notifiers=[ConsoleConfig(name="console", format="jsonl")],
    )
    client = HttpClient(read_timeout=1.0, deadline=3.0, max_bytes=1_000_000, retries=1, backoff=0.01)
    created = App(settings, ROOT / "tests" / "data" / "rules", fetcher=client)
    yield created
    created.close()


def test_every_bad_source_fails_alone_with_a_readable_error(app: App, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    real_lookup = socket.getaddrinfo

    def lookup(host: str, *args: Any, **kwargs: Any) -> Any:
        if str(host).endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    tracemalloc.start()
    try:
        reports = {r.source: r for r in app.run_once()}
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000  # the 100 MB gzip bomb, the 3 MB body, the entity bomb: none blew up memory

    assert reports["good"].error is None and reports["good"].alerts
    assert capsys.readouterr().out.count('"rule_id"') == len(reports["good"].alerts)
    expected = {
        "server-error": "500",
        "gone": "404",
        "html-page": "not an RSS/Atom feed",
        "hung": "gave up after 3 s",
        "huge": "1 MB",
        "empty": "empty",
        "loop": "redirect",
        "flaky": "503",
        "gzip-bomb": "1 MB",
        "tls": "tls",
        "dns": "dns lookup failed for host feeds.example.invalid",
    }
    for name, words in expected.items():
        state = app.store.source_state(name)
        assert state.error_count == 1, name
        assert state.last_error and words.lower() in state.last_error.lower(), (name, state.last_error)
    assert app.store.source_state("good").error_count == 0
    with app.store.engine.connect() as conn:  # the entity bomb was read as text, never expanded
        titles = conn.execute(sa.select(articles.c.title).where(articles.c.source == "xml-bomb")).scalars().all()
    assert all(len(t) < 100 for t in titles)
    with app.store.engine.connect() as conn:  # an external entity is never fetched from disk or network
        stored = conn.execute(sa.select(articles.c.title, articles.c.summary, articles.c.content)).all()
    assert not any(XXE_MARKER in " ".join(row) for row in stored)


def test_a_failing_source_backs_off_and_recovers(app: App, loopback: LoopbackServer) -> None:
    flaky = next(s for s in app.sources if s.name == "flaky")
    assert app.poll(flaky).error
    assert app.poll(flaky).skipped  # not due again before its backoff ends
    loopback.serve_bytes("/flaky.xml", FEED, content_type="application/rss+xml")
    recovered = app.poll(flaky, force=True)
    assert recovered.error is None and recovered.new == 7
    state = app.store.source_state("flaky")
    assert (state.error_count, state.last_error, state.items_seen) == (0, None, 7)


def test_a_source_down_for_weeks_keeps_its_backoff_and_its_error(app: App) -> None:
    from dataclasses import replace

    server_error = next(s for s in app.sources if s.name == "server-error")
    app.store.save_source_state(replace(app.store.source_state("server-error"), error_count=40))
    report = app.poll(server_error, force=True)  # 2**40 intervals once overflowed timedelta and raised
    state = app.store.source_state("server-error")
    assert report.error and state.error_count == 41
    assert state.next_due and state.last_attempt and state.next_due - state.last_attempt == timedelta(hours=6)
