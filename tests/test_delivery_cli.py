"""The delivery side of config and command line: notifier kinds, secrets, `routes test`, `outbox`,
`outbox retry`, `digest preview|send`, and the digest schedule."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from notify_support import Clock, Newsroom
from smtp_server import SMTPServer

from monitor.cli import main
from monitor.config import EmailConfig, load_settings
from monitor.daemon import App, build_notifiers, digest_trigger
from monitor.errors import ConfigError, DeliveryError
from monitor.models import Alert
from monitor.notify import Receipt, Thread
from monitor.notify.outbox import Outbox
from monitor.store import Store, open_store

ROOT = Path(__file__).parents[1]
RULES = ROOT / "tests" / "data" / "rules"

NOTIFIERS = """
[[notifiers]]
name = "console"
kind = "console"

[[notifiers]]
name = "slack-alerts"
kind = "slack"
channel = "#sanctions-alerts"

[[notifiers]]
name = "daily-digest"
kind = "email"
smtp_host = "127.0.0.1"
smtp_port = {port}
security = "none"
sender = "monitor@example.org"
recipients = ["desk@example.org"]
schedule = "0 7 * * *"
timezone = "Europe/Berlin"

[[routes]]
notify = ["slack-alerts"]
severity = "high"
continue = true

[[routes]]
notifiers = ["daily-digest"]
tags = ["dprk_labor", "dprk_shipping"]
"""


def write_config(tmp_path: Path, body: str, port: int = 25) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "monitor.db"}"\n' + body.replace("{port}", str(port)))
    return path


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


# --- config ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[notifiers]]\nname = "s"\nkind = "slack"\n',
         "notifiers[0].channel: missing; a bot token posts to a channel (or set webhook_url_env)"),
        ('[[notifiers]]\nname = "s"\nkind = "pigeon"\n',
         'notifiers[0].kind: unknown notifier kind "pigeon" (known: console, slack, email, webhook)'),
        ('[[notifiers]]\nname = "s"\nkind = "slack"\nchannel = "#a"\ntoken = "xoxb-1"\n',
         "notifiers[0].token: secrets are never read from the file; put it in the environment variable named "
         "by token_env"),
        ('[[notifiers]]\nname = "e"\nkind = "email"\nsmtp_host = "h"\nsender = "m@x.org"\nrecipients = ["d@x.org"]\n'
         'password = "hunter2"\n', "notifiers[0].password: secrets are never read from the file"),
        ('[[notifiers]]\nname = "e"\nkind = "email"\nsmtp_host = "h"\nsender = "m@x.org"\nrecipients = ["d@x.org"]\n'
         'schedule = "0 25 * * *"\n', 'notifiers[0].schedule: "0 25 * * *" is not a cron expression like "0 7 * * *"'),
        ('[[notifiers]]\nname = "e"\nkind = "email"\nsmtp_host = "h"\nsender = "m@x.org"\nrecipients = ["d@x.org"]\n'
         'timezone = "Berlin"\n', 'notifiers[0].timezone: "Berlin" is not a time zone like Europe/Berlin'),
        ('[[notifiers]]\nname = "e"\nkind = "email"\nsmtp_host = "h"\nsender = "monitor"\nrecipients = ["d@x.org"]\n',
         'notifiers[0].sender: "monitor" is not an email address like desk@example.org'),
        ('[[notifiers]]\nname = "e"\nkind = "email"\nsmtp_host = "h"\nsender = "m@x.org"\nrecipients = []\n',
         "notifiers[0].recipients: Tuple should have at least 1 item"),
        ('[[notifiers]]\nname = "w"\nkind = "webhook"\nurl = "ftp://x.org/"\n',
         'notifiers[0].url: "ftp://x.org/" is not an http(s) URL'),
        ('[[routes]]\nnotify = ["nowhere"]\n', 'routes[0].notify: "nowhere" is not a notifier defined'),
    ],
)
def test_notifier_configs_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(tmp_path, text), environ={})
    assert message in str(caught.value)


def test_the_example_configs_delivery_sections_load_once_uncommented(tmp_path: Path) -> None:
    text = (ROOT / "config.example.toml").read_text()
    start = text.index("# NOTIFIERS")
    uncommented = text[:start] + re.sub(r"(?m)^# (\[\[|[a-z_]+ = )", r"\1", text[start:])
    path = tmp_path / "example.toml"
    path.write_text(uncommented)
    settings = load_settings(path, environ={})
    assert {n.kind for n in settings.notifiers} == {"console", "slack", "email", "webhook"}
    assert [list(r.notify) for r in settings.routes] == [["slack-alerts"], ["daily-digest"]]


def test_every_missing_secret_is_named_at_once(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, NOTIFIERS.replace('security = "none"', 'username = "monitor"')),
                             environ={})
    with pytest.raises(ConfigError) as caught:
        build_notifiers(settings, environ={})
    assert caught.value.problems == [
        "notifiers[1] (slack-alerts): the environment variable SLACK_BOT_TOKEN is not set; "
        "put the Slack bot token (xoxb-…) there",
        "notifiers[2] (daily-digest): the environment variable MONITOR_SMTP_PASSWORD is not set; "
        "put the SMTP password there",
    ]


def test_check_fails_on_a_missing_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    path = write_config(tmp_path, NOTIFIERS)
    assert main(["check", "--offline", "--config", str(path), "--rules", str(RULES)]) == 2
    assert "the environment variable SLACK_BOT_TOKEN is not set" in capsys.readouterr().err
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")
    assert main(["check", "--offline", "--config", str(path), "--rules", str(RULES)]) == 0
    assert "xoxb-from-the-environment" not in "".join(capsys.readouterr())


# --- routes test --------------------------------------------------------------------------------------


def test_routes_test_prints_which_notifiers_an_alert_reaches(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = str(write_config(tmp_path, NOTIFIERS))
    assert main(["routes", "test", "--config", path, "--severity", "high", "--tags", "dprk_labor"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "an alert of severity high, tags dprk_labor, rules -:",
        "  routes[0] (severity ≥ high (continue)) → slack-alerts",
        "  routes[1] (tags any of dprk_labor, dprk_shipping) → daily-digest",
        "reaches: slack-alerts, daily-digest",
    ]
    assert main(["routes", "test", "--config", path, "--severity", "low", "--tags", "sanctions_action"]) == 1
    assert capsys.readouterr().out.endswith("reaches no notifier: no route matches, it is sent nowhere\n")


def test_without_routes_every_notifier_is_reached(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(write_config(tmp_path, NOTIFIERS.split("[[routes]]")[0]))
    assert main(["routes", "test", "--config", path, "--tags", "a,b", "--rule", "r1"]) == 0
    out = capsys.readouterr().out
    assert "tags a, b, rules r1" in out and "no [[routes]]: every alert goes to every notifier" in out
    assert out.endswith("reaches: console, slack-alerts, daily-digest\n")


# --- outbox and outbox retry ------------------------------------------------------------------------


class Refusing:
    def __init__(self, name: str) -> None:
        self.name = name

    def send(self, alert: Alert, thread: Thread | None) -> Receipt:
        raise DeliveryError("cannot write to the console: [Errno 32] Broken pipe", retryable=False)


def test_outbox_lists_failures_with_reasons_and_retry_sends_them_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(write_config(tmp_path, '[[notifiers]]\nname = "console"\nkind = "console"\n'))
    store = open_store(f"sqlite:///{tmp_path / 'monitor.db'}")
    clock = Clock()
    Newsroom(store, clock).report("https://en.yna.co.kr/view/1")
    Outbox(store, {"console": Refusing("console")}, [], clock).deliver()
    Newsroom(store, clock).report("https://www.reuters.com/2", "Another story", text="The EU listed a tanker.")
    store.close()

    assert main(["outbox", "--config", path]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.match(r"\s+id\s+alert\s+notifier\s+status\s+tries\s+next try \(UTC\)\s+alert", lines[0])
    assert re.match(r"\s+1\s+1\s+console\s+failed\s+1\s+-\s+\[HIGH\] North Korea to send", lines[1])
    assert lines[2].strip() == "cannot write to the console: [Errno 32] Broken pipe"
    assert re.match(r"\s+-\s+2\s+\(not tried\)\s+new\s+0", lines[3])

    assert main(["outbox", "retry", "1", "--config", path]) == 0
    out = capsys.readouterr().out
    assert out.count("[HIGH] DPRK labour for Russia's defence industry") == 2  # the retried one and the new one
    assert "1 deliveries made due; sent 2" in out
    assert main(["outbox", "--config", path]) == 0
    assert capsys.readouterr().out == "nothing waiting: every alert reached every notifier it was routed to\n"
    assert main(["outbox", "retry", "1", "--config", path]) == 1
    assert "an accepted alert is never sent again" in capsys.readouterr().err


# --- digests from the command line ------------------------------------------------------------------


def queue_news(tmp_path: Path) -> Store:
    store = open_store(f"sqlite:///{tmp_path / 'monitor.db'}")
    Newsroom(store, Clock(datetime.now(UTC))).report("https://en.yna.co.kr/view/1")
    return store


def test_digest_preview_prints_the_html_and_sends_nothing(tmp_path: Path, smtp: SMTPServer,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = str(write_config(tmp_path, NOTIFIERS, smtp.port))
    queue_news(tmp_path).close()
    assert main(["digest", "preview", "daily-digest", "--config", path]) == 0
    html = capsys.readouterr().out
    assert html.startswith("<!DOCTYPE html>") and "North Korea to send 25,000 workers" in html
    assert main(["digest", "preview", "daily-digest", "--text", "--config", path]) == 0
    assert "== HIGH ==" in capsys.readouterr().out
    assert smtp.mail == []
    assert main(["digest", "preview", "console", "--config", path]) == 2
    assert 'notifier "console" is not a digest' in capsys.readouterr().err


def test_digest_send_sends_now_and_marks_the_alerts(tmp_path: Path, smtp: SMTPServer,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = str(write_config(tmp_path, NOTIFIERS, smtp.port))
    store = queue_news(tmp_path)
    assert main(["digest", "send", "daily-digest", "--config", path]) == 0
    assert capsys.readouterr().out == "digest daily-digest: sent: 1 events from 1 alerts\n"
    [mail] = smtp.wait_for_mail(1)
    assert mail.message["Subject"].startswith("monitor digest: 1 event (1 high)")
    assert [(d["notifier"], d["status"]) for d in store.deliveries()] == [("daily-digest", "sent")]
    assert [a.id for a in store.pending_alerts()] == [1]  # Slack and the console still have it to do
    assert main(["digest", "send", "daily-digest", "--config", path]) == 0
    assert capsys.readouterr().out.startswith("digest daily-digest: empty: no new events")
    smtp.down = "421 4.3.0 try later"
    Newsroom(store, Clock(datetime.now(UTC))).report("https://www.reuters.com/2", text="The EU listed a tanker.")
    assert main(["digest", "send", "daily-digest", "--config", path]) == 1
    assert "digest daily-digest: retrying: 127.0.0.1" in capsys.readouterr().out
    assert main(["outbox", "--config", path]) == 0
    out = capsys.readouterr().out
    assert "daily-digest: 1 alerts queued for the next digest" in out and "pending, 1 tries; 127.0.0.1" in out


# --- the schedule --------------------------------------------------------------------------------------


def test_the_schedule_runs_in_the_notifiers_time_zone() -> None:
    config = EmailConfig(name="d", kind="email", smtp_host="h", sender="m@x.org", recipients=("d@x.org",),
                         schedule="0 7 * * *", timezone="Europe/Berlin")
    summer = digest_trigger(config).get_next_fire_time(None, datetime(2025, 6, 19, 6, 0, tzinfo=UTC))
    winter = digest_trigger(config).get_next_fire_time(None, datetime(2025, 12, 19, 6, 0, tzinfo=UTC))
    assert summer is not None and summer.astimezone(UTC) == datetime(2025, 6, 20, 5, 0, tzinfo=UTC)
    assert winter is not None and winter.astimezone(UTC) == datetime(2025, 12, 19, 6, 0, tzinfo=UTC)


def test_a_digest_missed_while_no_daemon_ran_is_sent_at_start(tmp_path: Path, smtp: SMTPServer,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(write_config(tmp_path, NOTIFIERS.split("[[routes]]")[0].replace(
        'channel = "#sanctions-alerts"', 'channel = "#sanctions-alerts"\nwebhook_url_env = "HOOK"'), smtp.port),
        environ={})
    clock = Clock(datetime(2025, 6, 19, 5, 30, tzinfo=UTC))  # 07:30 in Berlin
    monkeypatch.setenv("HOOK", "http://127.0.0.1:9/never-used")
    app = App(settings, RULES, now=clock)
    try:
        assert app.missed_digests() == []  # never asked for one: a fresh install sends nothing at start
        app.store.request_digest("daily-digest", datetime(2025, 6, 18, 5, 0, 1, tzinfo=UTC))  # yesterday's
        app.store.finish_digest(1, "empty", clock.now)
        assert app.missed_digests() == ["daily-digest"]  # today's 07:00 passed while it was down
        assert app.missed_digests() == []  # asked for now: not twice
    finally:
        app.close()
