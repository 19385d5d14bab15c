"""Catching up after downtime: the alerts of the first polls go to Slack and per-alert email as one
message each, the console still gets every alert, and nothing is lost when the message fails."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from loopback import LoopbackServer
from notify_support import Clock, Newsroom, alert, match
from slack_api import TOKEN, SlackAPI
from smtp_server import SMTPServer
from test_slack import Console, bot, texts

from monitor.cli import main
from monitor.config import EmailConfig, load_settings
from monitor.daemon import App
from monitor.health import Metrics
from monitor.models import AlertKind
from monitor.notify.catchup import LIMIT, CatchUp, CatchUpMessage, after_downtime, joined, slack_catch_up
from monitor.notify.email import EmailNotifier
from monitor.notify.outbox import Outbox
from monitor.store import Store, open_store

ROOT = Path(__file__).parents[1]
FEEDS = ROOT / "tests" / "data" / "feeds"
T0 = datetime(2025, 6, 19, 9, 0, tzinfo=UTC)


# --- when -------------------------------------------------------------------------------------------


def test_a_catch_up_only_after_a_pause_longer_than_the_threshold() -> None:
    six_hours = timedelta(hours=6)
    assert after_downtime(None, T0, six_hours) is None  # a new database: nothing to catch up with
    assert after_downtime(T0 - timedelta(hours=5), T0, six_hours) is None
    assert after_downtime(T0 - timedelta(hours=26), T0, six_hours) == CatchUp(T0 - timedelta(hours=26), T0)
    assert after_downtime(T0 - timedelta(days=3), T0, timedelta(0)) is None  # "0s": off


def test_a_worker_that_starts_during_another_s_catch_up_joins_it() -> None:
    began = (T0 - timedelta(days=1), T0)
    assert joined(began, T0 + timedelta(minutes=5)) == CatchUp(*began)
    assert joined(began, T0 + LIMIT) is None  # over by then
    assert joined(None, T0) is None


def test_the_catch_up_ends_when_every_source_was_polled_or_after_the_limit() -> None:
    catch_up = CatchUp(since=T0 - timedelta(days=1), started=T0)
    assert not catch_up.over({"yonhap"}, ["yonhap", "tass"], T0 + timedelta(minutes=1))
    assert catch_up.over({"yonhap", "tass", "gone"}, ["yonhap", "tass"], T0 + timedelta(minutes=1))
    assert catch_up.over({"yonhap"}, ["yonhap", "tass"], T0 + LIMIT)  # a hung source holds nobody longer


# --- the message -----------------------------------------------------------------------------------------


def test_the_message_lists_each_event_once_most_severe_first_and_escapes_headlines() -> None:
    first = alert(event_id=1, severity="medium", title="Workers <!channel> arrive", id=1)
    again = alert(event_id=1, severity="high", kind=AlertKind.UPDATE, grade="B2", stage="observed", id=2,
                  matched_at=T0 + timedelta(minutes=5))
    other = alert(event_id=2, severity="critical", title="Drone plant <https://evil.example|click>", id=3)
    message = CatchUpMessage.of([first, again, other], T0 - timedelta(hours=26), T0)
    assert [a.id for a in message.events] == [3, 2]  # the critical event, then event 1 as it stands now
    assert message.summary() == "2 events (3 reports) found after monitor was not polling since 2025-06-18 07:00 UTC"
    slack = slack_catch_up(message)
    assert "HIGH · B2 · observed · 1 source · updated" in json.dumps(slack, ensure_ascii=False)
    for text in texts(slack):
        assert "<!channel>" not in text and "<https://evil" not in text


def test_a_long_catch_up_lists_what_slack_can_show_and_counts_the_rest() -> None:
    many = [alert(event_id=n, id=n) for n in range(1, 61)]
    blocks = slack_catch_up(CatchUpMessage.of(many, None, T0))["blocks"]
    assert len(blocks) <= 50
    assert "and 15 more events" in json.dumps(blocks[-1])


# --- the outbox ------------------------------------------------------------------------------------------


def _stories(newsroom: Newsroom) -> None:
    """Three stories (told apart by their entities) and a rewrite of the first."""
    newsroom.report("https://en.yna.co.kr/view/1")
    newsroom.report("https://www.nknews.org/2025/06/2", "Workers for a Vladivostok shipyard",
                    match(sentence="North Korea sent workers to a Vladivostok shipyard.", entities=("vladivostok",),
                          terms=("North Korea", "workers")),
                    text="North Korea sent workers to a Vladivostok shipyard.")
    newsroom.report("https://www.dailynk.com/3", "Workers for a Chinese seafood plant",
                    match(sentence="North Korea keeps workers at a Dandong seafood plant.", entities=("dandong",),
                          terms=("North Korea", "workers")),
                    text="North Korea keeps workers at a Dandong seafood plant.")
    newsroom.report("https://www.reuters.com/world/4")  # the first story again: a follow-up


def caught_up(store: Store, notifiers: dict[str, Any], clock: Clock) -> Outbox:
    """An outbox that held the stories while catching up, and whose catch-up is now over."""
    outbox = Outbox(store, notifiers, [], clock, clock.sleep)
    outbox.holding = True
    _stories(Newsroom(store, clock))
    outbox.deliver()
    outbox.holding = False
    return outbox


def test_while_catching_up_slack_gets_one_message_and_the_console_every_alert(
        store: Store, slack: SlackAPI, clock: Clock) -> None:
    console = Console()
    outbox = Outbox(store, {"console": console, "slack-alerts": bot(slack)}, [], clock, clock.sleep)
    outbox.holding = True
    _stories(Newsroom(store, clock))
    report = outbox.deliver()
    assert report.held == 4 and slack.messages == []
    assert len(console.got) == 4  # programs read every alert as it comes
    assert outbox.send_catch_ups() == []  # held until the catch-up is over

    outbox.holding = False
    metrics = Metrics()
    outbox.on_sent = metrics.delivered
    [result] = outbox.send_catch_ups(since=T0 - timedelta(days=1))
    assert (result.outcome, result.detail) == ("sent", "3 events from 4 alerts")
    delivered = metrics.registry.get_sample_value("monitor_alerts_delivered_total", {"notifier": "slack-alerts"})
    assert delivered == 4  # their latency is observed too
    [message] = slack.messages
    assert message["text"].startswith("Catch-up after downtime: 3 events (4 reports)")
    assert {d["status"] for d in store.deliveries()} == {"sent"}
    assert store.pending_alerts() == [] and outbox.send_catch_ups() == []

    Newsroom(store, clock).report("https://www.kyivindependent.com/5", "Workers", match(entities=("yelabuga-2",)),
                                  text="North Korea will send 1,000 workers to Yelabuga in Tatarstan next month.")
    outbox.deliver()
    assert len(slack.messages) == 2 and not slack.messages[1]["text"].startswith("Catch-up")  # one by one again


def test_a_follow_up_of_an_event_with_a_thread_still_goes_to_the_thread(
        store: Store, slack: SlackAPI, clock: Clock) -> None:
    outbox = Outbox(store, {"slack-alerts": bot(slack)}, [], clock, clock.sleep)
    newsroom = Newsroom(store, clock)
    newsroom.report("https://en.yna.co.kr/view/1")
    outbox.deliver()
    [parent] = slack.messages
    outbox.holding = True
    clock.advance(hours=26)
    newsroom.report("https://www.reuters.com/world/2")
    assert outbox.deliver().held == 0
    assert slack.thread(parent["ts"]) != [] and len(slack.messages) == 2  # a quiet reply, no catch-up needed


def test_a_failed_catch_up_message_is_kept_and_sent_once_later(store: Store, slack: SlackAPI, clock: Clock) -> None:
    outbox = caught_up(store, {"slack-alerts": bot(slack)}, clock)
    slack.down = SlackAPI.server_error(503)
    [result] = outbox.send_catch_ups()
    assert result.outcome == "retrying" and {d["status"] for d in store.deliveries()} == {"held"}
    slack.down = None
    assert outbox.send_catch_ups() == []  # not before its retry time
    clock.advance(minutes=2)
    [result] = outbox.send_catch_ups()
    assert result.outcome == "sent" and len(slack.messages) == 1


def test_a_claim_that_ran_out_is_sent_again(store: Store, slack: SlackAPI, clock: Clock) -> None:
    """A process that died between the send and the mark: the one window, as for digests."""
    outbox = caught_up(store, {"slack-alerts": bot(slack)}, clock)
    assert len(store.claim_held("slack-alerts", clock.now, timedelta(minutes=5))) == 4  # ... and then it died
    assert outbox.send_catch_ups() == []  # another process has them
    clock.advance(minutes=6)
    [result] = outbox.send_catch_ups()
    assert result.outcome == "sent" and len(slack.messages) == 1


def test_per_alert_email_gets_one_catch_up_email_and_a_digest_keeps_its_queue(store: Store, clock: Clock) -> None:
    with SMTPServer() as smtp:
        def email(name: str, schedule: str | None) -> EmailNotifier:
            config = EmailConfig(name=name, kind="email", smtp_host="127.0.0.1", smtp_port=smtp.port,
                                 security="none", sender="monitor@example.org", recipients=("desk@example.org",),
                                 schedule=schedule)
            return EmailNotifier(config, None, clock)

        outbox = caught_up(store, {"desk": email("desk", None), "daily": email("daily", "0 7 * * *")}, clock)
        [result] = outbox.send_catch_ups()
        [mail] = smtp.wait_for_mail(1)
    assert result.notifier == "desk"
    assert str(mail.message["Subject"]).strip().startswith("monitor catch-up: 3 events (4 reports)")
    assert "Vladivostok shipyard" in mail.message.get_body(("plain",)).get_content()
    assert len(store.queued("daily")) == 4  # the digest carries them as always


# --- the daemon ----------------------------------------------------------------------------------------------


EMPTY = b'<rss version="2.0"><channel><title>quiet</title></channel></rss>'


def test_a_restart_after_a_day_sends_one_catch_up_message(loopback: LoopbackServer, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    slack = SlackAPI(loopback)
    english = loopback.serve_bytes("/en.xml", EMPTY, content_type="application/rss+xml")
    russian = loopback.serve_bytes("/ru.xml", EMPTY, content_type="application/rss+xml")
    config = tmp_path / "monitor.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "monitor.db"}"\n[http]\nmin_host_interval = "0s"\n'
        f'[[sources]]\nname = "en"\nurl = "{english}"\ninterval = "10m"\n'
        f'[[sources]]\nname = "ru"\nurl = "{russian}"\ninterval = "10m"\n'
        '[[notifiers]]\nname = "console"\nkind = "console"\nformat = "jsonl"\n'
        f'[[notifiers]]\nname = "slack-alerts"\nkind = "slack"\nchannel = "#sanctions-alerts"\n'
        f'base_url = "{slack.base_url}"\n')
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    clock = Clock(datetime(2025, 6, 18, 10, 0, tzinfo=UTC))
    app = App(load_settings(config), ROOT / "rules", now=clock)
    assert app.catch_up is None  # a new database
    app.run_once()  # a quiet day
    app.close()

    clock.advance(hours=26)  # down for a day, while the story broke and spread
    loopback.serve_file("/en.xml", FEEDS / "seed-story.xml", content_type="application/rss+xml")
    loopback.serve_file("/ru.xml", FEEDS / "seed-story-ru.xml", content_type="application/rss+xml")
    app = App(load_settings(config), ROOT / "rules", now=clock)
    assert app.catch_up == CatchUp(since=datetime(2025, 6, 18, 10, 0, tzinfo=UTC), started=clock.now)
    app.poll(app.sources[0])
    assert app.outbox.holding and slack.messages == []  # "ru" not polled yet
    clock.advance(minutes=1)
    second = App(load_settings(config), ROOT / "rules", now=clock)  # another worker starts: "en" was just polled
    assert second.catch_up == app.catch_up and second.outbox.holding  # it joins the catch-up, holds too
    second.close()
    app.poll(app.sources[1])
    assert not app.outbox.holding
    app.close()

    written = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    events = {line["event_id"] for line in written}
    assert len(written) >= 3  # the console got every report
    [message] = slack.messages  # Slack got one message
    assert message["text"].startswith(f"Catch-up after downtime: {len(events)} event"
                                      + ("s" if len(events) > 1 else "") + f" ({len(written)} reports)")
    store = open_store(f"sqlite:///{tmp_path / 'monitor.db'}")
    assert {d["status"] for d in store.deliveries()} == {"sent"}
    store.close()


def test_monitor_outbox_shows_what_is_held(store: Store, slack: SlackAPI, clock: Clock, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    caught_up(store, {"slack-alerts": bot(slack)}, clock).holding = True  # not sent: still held
    config = tmp_path / "monitor.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "monitor.db"}"\n')
    assert main(["outbox", "--config", str(config)]) == 0
    assert "slack-alerts: 4 alerts held for the catch-up message after downtime" in capsys.readouterr().out
