"""What an operator relies on: /healthz and /metrics, JSON logs with no secret in them, `monitor check`'s
credential checks, retention, and a locked database or a full disk at write time."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from loopback import LoopbackServer, Response
from slack_api import TOKEN, SlackAPI
from smtp_server import SMTPServer, make_certificate
from test_daemon import Lines

from monitor.config import ConsoleConfig, Settings, SourceConfig, StoreConfig
from monitor.daemon import App, _guarded, _serve_health
from monitor.health import health_app
from monitor.models import Article
from monitor.pipeline import ingest
from monitor.retention import prune
from monitor.rules import Matcher, load_rules
from monitor.store import alerts, articles, event_articles, events, open_store

ROOT = Path(__file__).parents[1]
RULES = ROOT / "tests" / "data" / "rules"
FEED = ROOT / "tests" / "data" / "feeds" / "seed-story.xml"
SMTP_PASSWORD = "smtp-Pa55word-never-logged"
WEBHOOK_SECRET = "hmac-signing-secret-never-logged"
HOOK_PATH = "/services/T0SECRET/B0SECRET/webhookpathsecret"
BAD_TOKEN = "xoxb-wrong-1111-secret-token"


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _start(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "monitor.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})


def _seed_config(tmp_path: Path, loopback: LoopbackServer, notifiers: str) -> Path:
    config = tmp_path / "monitor.toml"
    config.write_text(
        f'rules_dir = "{RULES}"\n[store]\nurl = "sqlite:///{tmp_path / "monitor.db"}"\n'
        f'[[sources]]\nname = "seed"\nurl = "{loopback.serve_file("/feed.xml", FEED)}"\ninterval = "1h"\n'
        + notifiers)
    return config


# --- /healthz and /metrics -------------------------------------------------------------------------------


def test_run_serves_health_and_metrics_and_logs_json(loopback: LoopbackServer, tmp_path: Path) -> None:
    config = _seed_config(tmp_path, loopback, '[[notifiers]]\nname = "console"\nkind = "console"\nformat = "jsonl"\n')
    process = _start(["run", "--config", str(config), "--health-port", "0", "--log-format", "json"], tmp_path)
    assert process.stdout and process.stderr
    out, err = Lines(process.stdout), Lines(process.stderr)
    try:
        line = err.wait_for("health and metrics on")
        port = int(re.search(r"127\.0\.0\.1:(\d+)/healthz", line).group(1))  # type: ignore[union-attr]
        summary = next((line for line in err.seen if '"seed: ' in line), None) or err.wait_for('"seed: ')
        for _ in range(int(re.search(r"(\d+) alerts", summary).group(1))):  # type: ignore[union-attr]
            out.wait_for('"rule_id": "dprk-labor"')  # every alert of the poll printed (so tried) before a scrape
        assert _get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")
        status, metrics = _get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        for series in ('monitor_source_polls_total{outcome="ok",source="seed"} 1.0',
                       'monitor_source_last_success_timestamp_seconds{source="seed"}',
                       'monitor_source_items_total{source="seed"}',
                       'monitor_poll_duration_seconds_count{source="seed"}',
                       'monitor_rule_matches_total{rule="dprk-labor"}', 'monitor_events{state="alerted"}',
                       'monitor_deliveries{notifier="console",status="sent"}',
                       'monitor_delivery_latency_seconds_count{notifier="console"}', "monitor_alerts_untried 0.0"):
            assert series in metrics, series
        assert _get(f"http://127.0.0.1:{port}/nothing")[0] == 404
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    logged = [json.loads(line) for line in err.seen if line.strip()]
    assert {"time", "level", "logger", "message"} <= set(logged[0])


def test_healthz_is_503_while_the_scheduler_is_not_running(app: App) -> None:
    class Stopped:
        running = False

    server = _serve_health(app, Stopped(), "127.0.0.1", 0)  # type: ignore[arg-type]
    try:
        assert _get(f"http://127.0.0.1:{server.port}/healthz") == (503, "the scheduler is not running\n")
    finally:
        server.close()


def test_healthz_is_503_when_the_store_does_not_answer() -> None:
    from monitor.health import Metrics

    calls: list[Any] = []
    app = health_app(Metrics(), lambda: "the store does not answer: OperationalError")
    body = app({"PATH_INFO": "/healthz"}, lambda status, headers: calls.append(status))
    assert calls == ["503 Service Unavailable"] and b"OperationalError" in b"".join(body)


# --- secrets stay out of logs and errors -----------------------------------------------------------------


def test_no_secret_in_any_log_line_or_error(loopback: LoopbackServer, tmp_path: Path) -> None:
    slack = SlackAPI(loopback)  # knows TOKEN; we give it another: invalid_auth
    loopback.serve(HOOK_PATH, Response(500, b"internal error"))
    certificate = make_certificate(tmp_path)
    with SMTPServer(tls=certificate, login=("monitor", "the-right-password")) as smtp:
        config = _seed_config(tmp_path, loopback, (
            f'[[notifiers]]\nname = "slack-bot"\nkind = "slack"\nchannel = "#sanctions-alerts"\n'
            f'base_url = "{slack.base_url}"\n'
            f'[[notifiers]]\nname = "slack-hook"\nkind = "slack"\nwebhook_url_env = "SLACK_WEBHOOK_URL"\n'
            f'[[notifiers]]\nname = "mail"\nkind = "email"\nsmtp_host = "127.0.0.1"\nsmtp_port = {smtp.port}\n'
            f'security = "starttls"\nusername = "monitor"\nca_file = "{certificate.cert}"\n'
            'sender = "monitor@example.org"\nrecipients = ["desk@example.org"]\n'
            f'[[notifiers]]\nname = "hook"\nkind = "webhook"\nurl = "{loopback.url("/status/500")}"\n'))
        env = {"SLACK_BOT_TOKEN": BAD_TOKEN, "SLACK_WEBHOOK_URL": loopback.url(HOOK_PATH),
               "MONITOR_SMTP_PASSWORD": SMTP_PASSWORD, "MONITOR_WEBHOOK_SECRET": WEBHOOK_SECRET}
        outputs = []
        for args in (["once", "-vv"], ["once", "-vv", "--log-format", "json"], ["check"], ["outbox"]):
            done = subprocess.run([sys.executable, "-m", "monitor.cli", *args, "--config", str(config)],
                                  capture_output=True, text=True, cwd=tmp_path, timeout=120,
                                  env={**os.environ, **env})
            outputs.append(done.stdout + done.stderr)
        assert smtp.logins and smtp.logins[0][1] == SMTP_PASSWORD  # the secrets were used ...
    assert any(call[0] == "chat.postMessage" for call in slack.calls)
    assert loopback.requests_to(HOOK_PATH)
    everything = "\n".join(outputs)
    assert "invalid_auth" in everything and "refused the login" in everything  # ... and failed, loudly
    for secret in (BAD_TOKEN, SMTP_PASSWORD, WEBHOOK_SECRET, loopback.url(HOOK_PATH), HOOK_PATH):
        assert secret not in everything, secret  # ... and never shown


def test_check_tries_the_credentials(loopback: LoopbackServer, tmp_path: Path) -> None:
    slack = SlackAPI(loopback)
    certificate = make_certificate(tmp_path)
    with SMTPServer(tls=certificate, login=("monitor", SMTP_PASSWORD)) as smtp:
        config = _seed_config(tmp_path, loopback, (
            f'[[notifiers]]\nname = "slack-bot"\nkind = "slack"\nchannel = "#sanctions-alerts"\n'
            f'base_url = "{slack.base_url}"\n'
            f'[[notifiers]]\nname = "mail"\nkind = "email"\nsmtp_host = "127.0.0.1"\nsmtp_port = {smtp.port}\n'
            f'security = "starttls"\nusername = "monitor"\nca_file = "{certificate.cert}"\n'
            'sender = "monitor@example.org"\nrecipients = ["desk@example.org"]\n'))

        def check(token: str, password: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "monitor.cli", "check", "--config", str(config)],
                                  capture_output=True, text=True, cwd=tmp_path, timeout=60,
                                  env={**os.environ, "SLACK_BOT_TOKEN": token, "MONITOR_SMTP_PASSWORD": password})

        good = check(TOKEN, SMTP_PASSWORD)
        bad = check(BAD_TOKEN, "wrong-password")
        assert not smtp.mail  # nothing sent
    assert good.returncode == 0, good.stdout + good.stderr
    assert re.search(r"slack-bot +ok: token accepted: monitor in team Sanctions desk", good.stdout)
    assert re.search(r"mail +ok: 127.0.0.1:\d+: login of monitor accepted", good.stdout)
    assert bad.returncode == 1
    assert re.search(r"slack-bot +error: Slack refused the token in \$SLACK_BOT_TOKEN \(invalid_auth\)", bad.stdout)
    assert re.search(r"mail +error: .*refused the login of monitor.*check \$MONITOR_SMTP_PASSWORD", bad.stdout)
    assert not [c for c in slack.calls if c[0] != "auth.test"]


# --- retention ------------------------------------------------------------------------------------------


def test_retention_deletes_old_unmatched_articles_and_keeps_events_with_their_evidence(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'monitor.db'}")
    matcher = Matcher(load_rules(RULES))
    then = datetime(2025, 1, 1, tzinfo=UTC)
    story = Article(source="s", guid="story", url="https://example.org/story", published=then, fetched_at=then,
                    title="North Korea sends workers to the Alabuga drone plant",
                    content="North Korea will send 25,000 workers to the Alabuga plant in Tatarstan.")
    noise = [Article(source="s", guid=f"n{i}", url=f"https://example.org/n{i}", published=then, fetched_at=then,
                     title=f"Weather report {i}", content=f"Rain over the harbour, day {i}.") for i in range(50)]
    try:
        ingest([story, *noise], store, matcher, lambda: then)
        assert store.count(articles) == 51 and store.count(events) == 1

        assert prune(store, then + timedelta(days=89), 90) == 0  # not old enough yet
        assert prune(store, then + timedelta(days=91), 90) == 50
        assert store.count(articles) == 1 and store.count(events) == 1 and store.count(alerts) == 1
        with store.engine.connect() as conn:
            evidence = conn.execute(sa.select(event_articles.c.text)).scalar_one()
        assert "25,000 workers" in evidence

        # A feed that still lists the deleted items does not bring them back as new.
        later = then + timedelta(days=91)
        taken = ingest(noise, store, matcher, lambda: later, oldest=later - timedelta(days=90))
        assert taken.new == 0 and store.count(articles) == 1
    finally:
        store.close()


# --- a locked database, a full disk ----------------------------------------------------------------------


@pytest.fixture
def app(loopback: LoopbackServer, tmp_path: Path) -> Iterator[App]:
    loopback.serve_file("/feed.xml", FEED)
    settings = Settings(store=StoreConfig(url=f"sqlite:///{tmp_path / 'monitor.db'}"),
                        sources=[SourceConfig(name="seed", url=loopback.url("/feed.xml"))],
                        notifiers=[ConsoleConfig(name="console", format="jsonl")])
    created = App(settings, RULES)
    yield created
    created.close()


def _pragma_on_connect(app: App, pragma: dict[str, str]) -> None:
    """Every new connection of the store runs `pragma` (changed in place by the test), after the store's own."""
    def apply(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        for statement in pragma.values():
            dbapi_connection.execute(statement)
    sa.event.listen(app.store.engine, "connect", apply)
    app.store.engine.dispose()


def _written(app: App) -> tuple[int, int, int]:
    return app.store.count(articles), app.store.count(events), app.store.count(alerts)


def test_a_locked_database_fails_the_cycle_cleanly_and_the_next_one_takes_it(
        app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    _pragma_on_connect(app, {"busy": "PRAGMA busy_timeout = 200"})  # not the store's 10 s, for the test's sake
    locker = sqlite3.connect(tmp_path / "monitor.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        _guarded(app.poll, app.sources[0])()
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert "poll failed; it will run again at its next time" in caplog.text
    assert "database is locked" in caplog.text
    assert _written(app) == (0, 0, 0)  # nothing half-written
    assert app.metrics.cycle_failures.labels("poll")._value.get() == 1

    report = app.poll(app.sources[0], force=True)
    assert report.error is None and report.alerts
    assert capsys.readouterr().out.count('"rule_id"') == len(report.alerts)


def test_a_full_disk_fails_the_cycle_cleanly_and_the_next_one_takes_it(
        app: App, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    with app.store.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
    limit = {"full": f"PRAGMA max_page_count = {pages + 1}"}  # the file may not grow: the disk is "full"
    _pragma_on_connect(app, limit)
    _guarded(app.poll, app.sources[0])()
    assert "database or disk is full" in caplog.text
    first, opened, queued = _written(app)
    assert opened == queued  # each article whole or not at all: no event without its alert

    limit["full"] = "PRAGMA max_page_count = 1073741823"  # space again
    app.store.engine.dispose()
    report = app.poll(app.sources[0], force=True)
    assert report.error is None and report.alerts
    assert _written(app)[0] > first
    assert capsys.readouterr().out.count('"rule_id"') == app.store.count(alerts)  # each alert once, none lost


def test_deploy_files_exist() -> None:
    unit = (ROOT / "docs" / "deploy" / "monitor.service").read_text()
    assert "ExecStart=" in unit and "--health-port" in unit and "ExecReload=/bin/kill -HUP $MAINPID" in unit
    dockerfile = (ROOT / "docs" / "deploy" / "Dockerfile").read_text()
    assert "HEALTHCHECK" in dockerfile and '"--health-host", "0.0.0.0"' in dockerfile
    operations = (ROOT / "docs" / "operations.md").read_text()
    for topic in ("## Backup", "## Upgrade", "## Metrics", "## Alerting on the monitor itself", "## Retention"):
        assert topic in operations, topic
