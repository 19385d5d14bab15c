"""Each source kind polled end to end against real files served on loopback: fetch → parse → store,
with the politeness, catching up, list diffing and health that go with it. A fixed clock is passed in;
nothing here sleeps."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from loopback import LoopbackServer, Request, Response

from monitor.config import (
    GdeltSourceConfig,
    HtmlSourceConfig,
    SanctionsSourceConfig,
    Settings,
    SourceConfig,
    TelegramSourceConfig,
)
from monitor.daemon import http_client
from monitor.http import HttpClient
from monitor.pipeline import poll
from monitor.rules import Matcher, load_rules
from monitor.sources.health import health
from monitor.store import Store, articles

ROOT = Path(__file__).parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
if not (CORPUS / "listings").is_dir():
    pytest.skip(f"no corpus at {CORPUS}", allow_module_level=True)
T0 = datetime(2025, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def matcher() -> Matcher:
    return Matcher(load_rules(ROOT / "tests" / "data" / "rules"))


@pytest.fixture
def client() -> Iterator[HttpClient]:
    with HttpClient(retries=0, deadline=10) as made:
        yield made


def corpus(folder: str, name: str) -> bytes:
    return (CORPUS / folder / name).read_bytes()


def titles(store: Store, source: str) -> list[str]:
    with store.engine.connect() as conn:
        query = sa.select(articles.c.title).where(articles.c.source == source).order_by(articles.c.id)
        return list(conn.execute(query).scalars())


# --- html ---------------------------------------------------------------------------------------


def test_a_listing_page_is_polled_and_known_items_are_not_taken_twice(
        loopback: LoopbackServer, store: Store, matcher: Matcher, client: HttpClient) -> None:
    url = loopback.serve_bytes("/public-notices", corpus("listings", "bidwire__boston_public_notices_index.html"),
                               content_type="text/html; charset=utf-8")
    source = HtmlSourceConfig(name="boston", url=url, item="div.n-li", title=".n-li-t a", link=".n-li-t a[href]",
                              date=".date-display-single[content]", summary=".n-li-a")
    clock = Clock()
    first = poll(source, client, store, matcher, clock)
    assert (first.error, first.items, first.new) == (None, 10, 10)
    assert titles(store, "boston")[0] == "Zoning Board of Appeal Hearing"
    clock.now += timedelta(minutes=10)
    again = poll(source, client, store, matcher, clock)
    assert (again.items, again.new) == (10, 0)


def test_a_listing_whose_layout_changed_fails_with_a_readable_error(
        loopback: LoopbackServer, store: Store, matcher: Matcher, client: HttpClient) -> None:
    url = loopback.serve_bytes("/press", corpus("listings", "RadarFlow__8world.html"))
    source = HtmlSourceConfig(name="press", url=url, item="div.press-release")
    report = poll(source, client, store, matcher, Clock())
    assert report.error and 'item selector "div.press-release" matched nothing' in report.error
    assert store.source_state("press").error_count == 1


# --- telegram -----------------------------------------------------------------------------------


def channel_pages(loopback: LoopbackServer, pages: dict[str, bytes]) -> str:
    """/s/chan: the page for each `before` value ("" for the newest)."""
    def page(request: Request) -> Response:
        body = pages.get(request.params.get("before", ""), pages["else"])
        return Response(200, body, {"Content-Type": "text/html; charset=utf-8"})
    return loopback.route("/s/chan", page)


def test_telegram_catches_up_with_before_after_downtime(
        loopback: LoopbackServer, store: Store, matcher: Matcher, client: HttpClient) -> None:
    lifemodel = corpus("telegram", "lifemodel__telegram-test-channel.html")
    url = channel_pages(loopback, {"": lifemodel, "else": lifemodel})
    source = TelegramSourceConfig(name="tg", channel="chan", url=url, max_pages=3)
    clock = Clock()
    first = poll(source, client, store, matcher, clock)
    assert (first.new, first.pages) == (2, 1)  # the first poll takes the newest page only: no backfill
    # Downtime: the newest page is now all new posts, and so is the one before it.
    channel_pages(loopback, {"": corpus("telegram", "rust-any2feed__full.html"),
                             "70989": corpus("telegram", "ukraine_aggregator__telegram_channel_ClashReport.html"),
                             "else": lifemodel})
    clock.now += timedelta(hours=6)
    caught_up = poll(source, client, store, matcher, clock)
    assert (caught_up.new, caught_up.pages) == (12 + 17, 3)  # the third page held only known posts: stop
    befores = [r.params.get("before") for r in loopback.requests_to("/s/chan")]
    assert befores == [None, None, "70989", "93429"]
    assert store.source_state("tg").items_seen == 31


def test_telegram_catching_up_stops_at_max_pages(
        loopback: LoopbackServer, store: Store, matcher: Matcher, client: HttpClient) -> None:
    clash = corpus("telegram", "ukraine_aggregator__telegram_channel_ClashReport.html")
    url = channel_pages(loopback, {"": corpus("telegram", "lifemodel__telegram-test-channel.html"), "else": clash})
    source = TelegramSourceConfig(name="tg", channel="chan", url=url, max_pages=2)
    clock = Clock()
    poll(source, client, store, matcher, clock)
    channel_pages(loopback, {"": corpus("telegram", "rust-any2feed__full.html"), "else": clash})
    clock.now += timedelta(hours=1)
    assert poll(source, client, store, matcher, clock).pages == 2


def test_a_vanished_channel_says_so(loopback: LoopbackServer, store: Store, matcher: Matcher,
                                    client: HttpClient) -> None:
    url = loopback.serve_bytes("/s/gone", corpus("telegram", "snscrape__deleted-page.html"))
    report = poll(TelegramSourceConfig(name="gone", channel="gone", url=url), client, store, matcher, Clock())
    assert report.error and "contact page" in report.error


# --- GDELT ----------------------------------------------------------------------------------------

GDELT_BODY = b'{"articles": ' + (CORPUS / "gdelt" / "media_monitoring_poc__gdelt_sample.json").read_bytes() + b"}"


def test_gdelt_query_is_sent_as_an_artlist_request(loopback: LoopbackServer, store: Store, matcher: Matcher,
                                                   client: HttpClient) -> None:
    url = loopback.serve_bytes("/api/v2/doc/doc", GDELT_BODY, content_type="application/json")
    source = GdeltSourceConfig(name="gdelt", url=url, query='"north korea" (workers OR troops)', timespan="3d",
                               maxrecords=250)
    report = poll(source, client, store, matcher, Clock())
    assert (report.error, report.new) == (None, 2)
    [request] = loopback.requests_to("/api/v2/doc/doc")
    assert request.params == {"query": '"north korea" (workers OR troops)', "mode": "artlist", "format": "json",
                              "maxrecords": "250", "timespan": "3d", "sort": "datedesc"}


def test_gdelt_host_gets_five_seconds_between_requests() -> None:
    settings = Settings(sources=[GdeltSourceConfig(name="g", query="x"), SourceConfig(name="f", url="https://a.org/")])
    client = http_client(settings)
    assert client._hosts.interval("api.gdeltproject.org") == 5.0
    assert client._hosts.interval("a.org") == 1.0  # [http] min_host_interval


def test_gdelt_429_waits_for_the_next_cycle_and_throttle_text_is_a_problem(
        loopback: LoopbackServer, store: Store, matcher: Matcher) -> None:
    sleeps: list[float] = []
    client = HttpClient(retries=3, sleep=sleeps.append)
    url = loopback.serve_sequence("/doc", [
        Response(429, b"Please limit requests to one every 5 seconds", {"Content-Type": "text/plain"}),
        Response(200, b"Please limit requests to one every 5 seconds or contact kalev.leetaru5@gmail.com",
                 {"Content-Type": "text/plain"}),
        Response(200, GDELT_BODY, {"Content-Type": "application/json"})])
    source = GdeltSourceConfig(name="g", url=url, query="x")
    clock = Clock()
    throttled = poll(source, client, store, matcher, clock)
    assert throttled.error and "429" in throttled.error and sleeps == []  # no retry in a loop
    assert len(loopback.requests_to("/doc")) == 1
    assert store.source_state("g").next_due == T0 + source.interval  # the next cycle
    clock.now += source.interval
    slow_down = poll(source, client, store, matcher, clock)
    assert slow_down.error and "GDELT asks to slow down" in slow_down.error
    clock.now += source.interval * 2
    assert poll(source, client, store, matcher, clock).new == 2


def test_one_request_at_a_time_per_host(loopback: LoopbackServer) -> None:
    in_flight, most = [0], [0]
    lock = threading.Lock()

    def slowish(request: Request) -> Response:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        loopback.stopping.wait(0.05)  # a slow server, so that requests would overlap
        with lock:
            in_flight[0] -= 1
        return Response(200, b"ok")

    url = loopback.route("/one", slowish)
    client = HttpClient(per_host=1, retries=0)
    threads = [threading.Thread(target=client.fetch, args=(url,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(loopback.requests_to("/one")) == 4 and most[0] == 1


def test_the_gap_between_requests_to_one_host_is_kept() -> None:
    ticks = [100.0]
    slept: list[float] = []
    from monitor.http import _HostGate

    gate = _HostGate(1.0, lambda: ticks[0], slept.append, {"api.gdeltproject.org": 5.0}, per_host=1)
    for _ in range(3):
        with gate.turn("api.gdeltproject.org"):
            pass
    with gate.turn("other.org"):
        pass
    assert slept == [5.0, 10.0]  # starts at 100, 105, 110; the other host does not wait


# --- sanctions lists ------------------------------------------------------------------------------

SDN = (CORPUS / "sanctions" / "watchman__sdn_full.csv").read_bytes()


def test_a_list_baseline_then_changes_then_a_held_shrink(loopback: LoopbackServer, store: Store, matcher: Matcher,
                                                         client: HttpClient) -> None:
    rows = SDN.split(b"\n")
    added = b'99999,"KIM, Test Person","individual","DPRK3",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 1970."'
    changed = [rows[0].replace(b'"CUBA"', b'"CUBA] [DPRK3"'), *rows[1:], added]
    truncated = b"\n".join(rows[:100])
    url = loopback.serve_sequence("/sdn.csv", [Response(200, SDN), Response(200, b"\n".join(changed)),
                                               Response(200, truncated), Response(200, b"\n".join(changed[:-1]))])
    source = SanctionsSourceConfig(name="ofac", list="ofac-sdn", url=url)
    clock = Clock()
    baseline = poll(source, client, store, matcher, clock)
    assert (baseline.baseline, baseline.items, baseline.new, baseline.error) == (True, 7379, 0, None)
    assert titles(store, "ofac") == []  # the baseline alerts on nothing
    clock.now += timedelta(hours=6)
    update = poll(source, client, store, matcher, clock)
    assert (update.new, update.error) == (2, None)
    assert titles(store, "ofac") == [
        "OFAC amends the designation of AEROCARIBBEAN AIRLINES (entity; programs: CUBA, DPRK3)",
        "OFAC designates KIM, Test Person (individual; programs: DPRK3)"]
    clock.now += timedelta(hours=6)
    held = poll(source, client, store, matcher, clock)
    assert held.error == "list shrank from 7,380 to 100 entries; held"
    state = store.source_state("ofac")
    assert state.last_error == held.error and len(store.snapshot("ofac") or {}) == 7380  # the old one stays
    clock.now += timedelta(hours=12)
    recovered = poll(source, client, store, matcher, clock, force=True)  # diffed against the last good one
    assert (recovered.new, recovered.error) == (1, None)
    assert titles(store, "ofac")[-1] == "OFAC removes KIM, Test Person (individual; programs: DPRK3) from its " \
                                        "sanctions list"


def test_the_uk_page_leads_to_its_list(loopback: LoopbackServer, store: Store, matcher: Matcher,
                                       client: HttpClient) -> None:
    xml = loopback.serve_bytes("/docs/UK-Sanctions-List.xml", corpus("sanctions",
                                                                     "sanctions_lists_etl__sample_uk_sanctions.xml"))
    page = f'<html><body><a href="{xml}">UK Sanctions List (XML)</a></body></html>'.encode()
    url = loopback.serve_bytes("/the-uk-sanctions-list", page, content_type="text/html")
    report = poll(SanctionsSourceConfig(name="uk", list="uk", url=url), client, store, matcher, Clock())
    assert (report.baseline, report.items) == (True, 5)


# --- ttl, max-age and health ----------------------------------------------------------------------

FEED = (ROOT / "tests" / "data" / "feeds" / "seed-story.xml").read_bytes()


def test_cache_control_max_age_longer_than_the_interval_is_respected(
        loopback: LoopbackServer, store: Store, matcher: Matcher, client: HttpClient) -> None:
    url = loopback.serve_bytes("/feed.xml", FEED, headers={"Cache-Control": "public, max-age=7200"})
    source = SourceConfig(name="feed", url=url, interval=timedelta(minutes=10))
    clock = Clock()
    poll(source, client, store, matcher, clock)
    assert store.source_state("feed").next_due == T0 + timedelta(hours=2)
    clock.now += timedelta(minutes=15)
    assert poll(source, client, store, matcher, clock).skipped
    clock.now = T0 + timedelta(hours=2, minutes=1)
    assert not poll(source, client, store, matcher, clock).skipped
    assert len(loopback.requests_to("/feed.xml")) == 2


def test_rss_ttl_is_respected(loopback: LoopbackServer, store: Store, matcher: Matcher, client: HttpClient) -> None:
    url = loopback.serve_bytes("/ttl.xml", FEED.replace(b"<channel>", b"<channel><ttl>60</ttl>", 1))
    source = SourceConfig(name="ttl", url=url, interval=timedelta(minutes=5))
    poll(source, client, store, matcher, Clock())
    assert store.source_state("ttl").next_due == T0 + timedelta(hours=1)


def test_health_ok_degraded_failing_stale(loopback: LoopbackServer, store: Store, matcher: Matcher,
                                          client: HttpClient) -> None:
    good = SourceConfig(name="good", url=loopback.serve_bytes("/good.xml", FEED), expect_every=timedelta(days=1))
    ill = SourceConfig(name="ill", url=loopback.serve_bytes("/ill.xml", FEED.replace(b"</channel>", b"", 1)))
    bad = SourceConfig(name="bad", url=loopback.url("/status/403"))
    clock = Clock()
    for source in (good, ill, bad):
        poll(source, client, store, matcher, clock)
    assert health(good, store.source_state("good"), clock.now).status == "ok"
    assert health(ill, store.source_state("ill"), clock.now).status == "degraded"
    failing = health(bad, store.source_state("bad"), clock.now)
    assert failing.status == "failing" and "HTTP 403" in failing.detail
    clock.now += timedelta(days=2)
    poll(good, client, store, matcher, clock)  # works, but nothing new for two days
    stale = health(good, store.source_state("good"), clock.now)
    assert stale.status == "stale" and stale.detail == "no new item for 2d (expected every 1d)"
    assert health(bad, None, clock.now).status == "new"


def test_the_sources_command_prints_the_health_table(tmp_path: Path, loopback: LoopbackServer) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "m.db"}"\n'
                      f'[[sources]]\nname = "good"\nurl = "{loopback.serve_bytes("/g.xml", FEED)}"\n'
                      f'[[sources]]\nname = "bad"\nurl = "{loopback.url("/status/404")}"\n'
                      '[[sources]]\nname = "later"\nkind = "telegram"\nchannel = "DIUkraine"\nenabled = false\n')
    rules = str(ROOT / "tests" / "data" / "rules")
    run = [sys.executable, "-m", "monitor.cli"]
    subprocess.run([*run, "once", "--config", str(config), "--rules", rules], capture_output=True, timeout=60,
                   check=False)
    done = subprocess.run([*run, "sources", "--config", str(config)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines()[1:-1]}
    assert lines["good"].split()[1:3] == ["rss", "ok"]
    assert lines["bad"].split()[2] == "failing" and "HTTP 404" in lines["bad"]
    assert lines["later"].split()[1:3] == ["telegram", "disabled"]
    assert done.stdout.splitlines()[-1] == "1 disabled, 1 failing, 1 ok"


def test_a_new_designation_alerts_through_the_shipped_rules(loopback: LoopbackServer, store: Store,
                                                            client: HttpClient) -> None:
    excerpt = corpus("sanctions", "watchman__ofactest_sdn.csv")
    vessel = b'\r\n99998,"TEST TANKER","vessel","DPRK3",-0- ,-0- ,"Crude Oil Tanker",-0- ,-0- ,"Comoros",-0- ,-0- '
    url = loopback.serve_sequence("/sdn.csv", [Response(200, excerpt), Response(200, excerpt.rstrip() + vessel)])
    source = SanctionsSourceConfig(name="ofac", list="ofac-sdn", url=url)
    shipped = Matcher(load_rules(ROOT / "rules"))
    clock = Clock()
    assert poll(source, client, store, shipped, clock).alerts == ()  # the baseline
    clock.now += timedelta(hours=2)
    report = poll(source, client, store, shipped, clock)
    assert report.new == 1 and len(report.alerts) == 1
    assert titles(store, "ofac") == ["OFAC designates TEST TANKER (vessel; programs: DPRK3)"]
