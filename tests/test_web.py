"""The web view's handlers and page assembly, against a store filled by the real pipeline (tests/web_support.py),
through Flask's test client; `monitor web` as a real process; the refusal to expose it without a login."""

from __future__ import annotations

import base64
import csv
import dataclasses
import gc
import io
import json
import os
import subprocess
import sys
import urllib.request
import weakref
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from pydantic import SecretStr
from web_support import NOW, ROOT, Filled, filled_store

from monitor.config import WebConfig
from monitor.web import CSP, WebContext, create_app
from monitor.web.pages import highlight, parse_cursor, parse_filter, safe_link
from monitor.web.plots import stacked_bars


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    with filled_store(tmp_path_factory.mktemp("web")) as found:
        yield found


@pytest.fixture
def client(filled: Filled) -> FlaskClient:
    fetched = []

    def fetch(url: str) -> str:
        fetched.append(url)
        return "North Korean troops are fighting in Kursk."

    app = create_app(WebContext(filled.settings, filled.store, lambda: filled.rules, fetch_text=fetch, now=lambda: NOW))
    return app.test_client()


def seed_event(client: FlaskClient) -> dict[str, object]:
    events = client.get("/events.json?q=25,000").get_json()["events"]
    [event] = [e for e in events if e["reports"] == 2]
    return event  # type: ignore[no-any-return]


def test_the_events_page_lists_the_seed_story_with_its_plot(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "DPRK may send 25,000 workers to Russia" in html
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="plot"' in html and "dprk_labor" in html
    assert page.headers["Content-Security-Policy"] == CSP and "script-src" not in CSP and "'unsafe-inline'" not in CSP


def test_the_json_twin_has_the_documented_fields_and_filters(client: FlaskClient) -> None:
    body = client.get("/events.json").get_json()
    assert set(body) == {"events", "next", "next_url", "problems"}
    event = seed_event(client)
    assert set(event) == {"id", "url", "state", "severity", "title", "tags", "rules", "opened_at", "updated_at",
                          "first_source", "first_link", "reports", "sources", "grade", "stage", "denied"}
    assert event["state"] == "alerted" and event["severity"] == "critical" and event["sources"] == 2
    assert event["grade"] and len(event["grade"]) == 2 and event["denied"] is False  # e.g. "F6" for ungraded feeds
    assert f">{event['grade']}" in client.get("/").get_data(as_text=True)
    assert f"graded <strong>{event['grade']}</strong>" in client.get(f"/events/{event['id']}").get_data(as_text=True)
    assert event["first_source"] == "seed-feed"
    tag_only = client.get("/events.json?tag=drone_production").get_json()["events"]
    assert tag_only and all("drone_production" in e["tags"] for e in tag_only)
    assert client.get("/events.json?state=held").get_json()["events"] == []
    assert client.get("/events.json?source=no-such-source").get_json()["events"] == []
    assert client.get("/events.json?until=2025-06-01").get_json()["events"] == []
    assert client.get("/events.json?severity=urgent").get_json()["problems"] == [
        "severity must be one of info, low, medium, high, critical"]


def test_pagination_walks_every_event_once(client: FlaskClient) -> None:
    everything = [e["id"] for e in client.get("/events.json?page_size=1000").get_json()["events"]]
    assert len(everything) >= 2
    seen, url = [], "/events.json?page_size=1"
    while url:
        body = client.get(url).get_json()
        seen += [e["id"] for e in body["events"]]
        url = body["next_url"]
    assert seen == everything


def test_the_csv_export_holds_the_filtered_events(client: FlaskClient) -> None:
    response = client.get("/events.csv?tag=dprk_labor")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows and all("dprk_labor" in r["tags"].split() for r in rows)
    assert all(not r["title"].startswith(("=", "+", "-", "@")) for r in rows)


def test_the_event_page_shows_coverage_sentence_entities_evidence_and_deliveries(client: FlaskClient) -> None:
    event = seed_event(client)
    html = client.get(f"/events/{event['id']}").get_data(as_text=True)
    assert 'class="plot timeline"' in html
    assert html.index("seed-feed") < html.index("Evidence kept at decision time")
    assert "<mark>" in html and "alabuga" in html
    assert "text hash" in html and "console" in html and "delivery-sent" in html
    assert client.get("/events/99999").status_code == 404


def test_hostile_text_is_shown_as_text_and_never_as_a_link(client: FlaskClient) -> None:
    pages = [client.get("/").get_data(as_text=True)]
    hostile = [e for e in client.get("/events.json").get_json()["events"] if "script" in e["title"]]
    assert hostile, "the hostile headline did not become an event"
    pages.append(client.get(f"/events/{hostile[0]['id']}").get_data(as_text=True))
    pages.append(client.get("/sources").get_data(as_text=True))
    for html in pages:
        assert "<script" not in html and "<img" not in html and 'href="javascript:' not in html
    assert "&lt;script&gt;" in pages[1]
    assert hostile[0]["first_link"] is None


def test_the_sources_page_puts_trouble_first_with_a_plot_per_source(client: FlaskClient) -> None:
    html = client.get("/sources").get_data(as_text=True)
    assert html.index("never-polled") < html.index("seed-feed")  # new before ok
    assert html.count('class="spark"') == 6  # items per day and polls per day, for each source
    assert f"{NOW.date().isoformat()}: ok 1" in html  # seed-feed's one poll, in its outcome plot
    listed = client.get("/sources.json?sort=name").get_json()["sources"]
    assert [s["name"] for s in listed] == ["hostile-feed", "never-polled", "seed-feed"]
    seed = next(s for s in listed if s["name"] == "seed-feed")
    assert seed["status"] == "ok" and seed["items_seen"] >= 2 and set(seed) >= {"last_success", "last_error"}


def test_the_rules_pages_show_hits_examples_and_the_explain_tree(client: FlaskClient) -> None:
    rules = client.get("/rules.json").get_json()["rules"]
    seed_rule = next(r for r in rules if r["id"] == "dprk-workers-drone-plant")
    assert seed_rule["hits"] >= 1 and seed_rule["last_hit"] and seed_rule["examples_failing"] == 0
    html = client.get("/rules/dprk-workers-drone-plant").get_data(as_text=True)
    assert "Try it" in html and 'class="plot"' in html
    tried = client.post("/rules/dprk-troops-russia", data={"text": "North Korean troops are fighting in Kursk."})
    assert "dprk-troops-russia: MATCH" in tried.get_data(as_text=True)
    fetched = client.post("/rules/dprk-troops-russia", data={"url": "https://example.org/story"})
    assert "MATCH" in fetched.get_data(as_text=True)
    bad = client.post("/rules/dprk-troops-russia", data={"url": "file:///etc/passwd"})
    assert "only http and https URLs" in bad.get_data(as_text=True)
    cross = client.post("/rules/dprk-troops-russia", data={"text": "x"}, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert client.get("/rules/no-such-rule").status_code == 404


def test_url_fetching_is_off_unless_enabled(filled: Filled) -> None:
    app = create_app(WebContext(filled.settings, filled.store, lambda: filled.rules, now=lambda: NOW))
    page = app.test_client().post("/rules/dprk-troops-russia", data={"url": "https://example.org/"})
    assert "fetching URLs is off" in page.get_data(as_text=True)


def test_a_rule_set_reload_shows_and_the_old_set_is_not_kept(filled: Filled) -> None:
    in_force = [dataclasses.replace(filled.rules)]
    client = create_app(WebContext(filled.settings, filled.store, lambda: in_force[0], now=lambda: NOW)).test_client()
    assert client.get("/rules/dprk-troops-russia").status_code == 200
    old = weakref.ref(in_force[0])
    in_force[0] = dataclasses.replace(filled.rules)  # what a SIGHUP reload does: a new RuleSet object
    assert client.get("/rules/dprk-troops-russia").status_code == 200
    gc.collect()
    assert old() is None  # the failing-examples cache holds the set in force only


def test_a_login_is_asked_for_when_configured_and_no_secret_is_shown(filled: Filled) -> None:
    web = WebConfig(username="analyst", password=SecretStr("s3cret-pass"))
    settings = filled.settings.model_copy(update={"web": web})
    client = create_app(WebContext(settings, filled.store, lambda: filled.rules, now=lambda: NOW)).test_client()
    assert client.get("/").status_code == 401
    assert client.get("/events.json").status_code == 401
    wrong = base64.b64encode(b"analyst:nope").decode()
    assert client.get("/", headers={"Authorization": f"Basic {wrong}"}).status_code == 401
    right = {"Authorization": "Basic " + base64.b64encode(b"analyst:s3cret-pass").decode()}
    for path in ("/", "/events.json", "/sources", "/sources.json", "/rules", "/rules.json"):
        response = client.get(path, headers=right)
        assert response.status_code == 200 and b"s3cret-pass" not in response.data


def test_page_assembly() -> None:
    assert safe_link("javascript:alert(1)") is None and safe_link(" JAVASCRIPT:x") is None
    assert safe_link("data:text/html,<b>") is None and safe_link("https://a.example/x") == "https://a.example/x"
    assert [(s.text, s.marked) for s in highlight("abc def ghi", [(4, 7), (5, 6), (8, 11)])] == [
        ("abc ", False), ("def", True), (" ", False), ("ghi", True)]
    f, problems = parse_filter({"since": "2025-06-01", "state": "gone", "q": "  "})
    assert f.since == datetime(2025, 6, 1, tzinfo=UTC) and f.state is None and f.q is None and problems
    assert parse_cursor("not-a-token") is None
    svg = stacked_bars({"<tag>": {date(2025, 6, 2): 3}}, date(2025, 6, 1), 3, "t")
    assert "&lt;tag&gt;" in svg and "<tag>" not in svg


def run_monitor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_monitor_web_refuses_an_open_address_without_a_login(tmp_path: Path) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "m.db"}"\n')
    done = run_monitor("web", "--host", "0.0.0.0", "--port", "0", "--config", str(config))
    assert done.returncode == 2
    assert "[web] username" in done.stderr and "MONITOR_WEB__PASSWORD" in done.stderr
    config.write_text(config.read_text() + '[web]\nusername = "analyst"\n')
    done = run_monitor("web", "--host", "0.0.0.0", "--port", "0", "--config", str(config))
    assert done.returncode == 2 and "MONITOR_WEB__PASSWORD" in done.stderr
    config.write_text(config.read_text() + 'password = "in-the-file"\n')
    done = run_monitor("web", "--config", str(config))
    assert done.returncode == 2 and "never read from the file" in done.stderr and "in-the-file" not in done.stderr


def test_monitor_web_serves_the_configured_store(filled: Filled, tmp_path: Path) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text(f'rules_dir = "{ROOT / "rules"}"\n[store]\nurl = "{filled.settings.store.url}"\n')
    process = subprocess.Popen([sys.executable, "-m", "monitor.cli", "web", "--port", "0", "--config", str(config)],
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()  # blocks until the server says where it is
        assert line.startswith("web view at http://127.0.0.1:"), line
        with urllib.request.urlopen(line.split(" at ")[1].strip() + "events.json", timeout=10) as response:
            body = json.load(response)
        assert any(e["reports"] == 2 for e in body["events"])
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_the_demo_keeps_serving_its_results(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-m", "monitor.cli", "demo", "--web", "--web-port", "0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert process.stderr is not None
        line = ""
        while not line.startswith("web view at "):
            line = process.stderr.readline()
            assert line, "the demo ended without serving"
        with urllib.request.urlopen(line.split(" at ")[1].strip() + "events.json", timeout=10) as response:
            assert json.load(response)["events"]
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0


def test_every_page_answers_on_both_engines(store_url: str, tmp_path: Path) -> None:
    with filled_store(tmp_path, url=store_url) as found:
        app = create_app(WebContext(found.settings, found.store, lambda: found.rules, now=lambda: NOW))
        web = app.test_client()
        event = next(e for e in web.get("/events.json").get_json()["events"] if e["first_source"] == "seed-feed")
        for path in ("/", "/?tag=dprk_labor&q=workers", f"/events/{event['id']}", "/events.csv", "/sources",
                     "/sources.json", "/rules", "/rules.json", "/rules/dprk-workers-drone-plant"):
            assert web.get(path).status_code == 200, path
