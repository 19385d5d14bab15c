"""Email: one message per alert or a digest on a schedule, over a real SMTP server (aiosmtpd) in this
process, with STARTTLS and a login where it matters; hostile titles never reach a header."""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from notify_support import Clock, Newsroom, match
from smtp_server import Certificate, Mail, SMTPServer, make_certificate

from monitor.config import EmailConfig
from monitor.daemon import build_notifier
from monitor.errors import DeliveryError
from monitor.events import Policy, RuleSettings, Silence
from monitor.health import Metrics
from monitor.notify.email import EmailNotifier
from monitor.notify.outbox import CLAIM_LEASE, Outbox, collect_digest, send_digest_now, send_due_digests
from monitor.store import Store, events, open_store

PASSWORD = "correct horse battery staple"
RUMOUR = "Pyongyang is sending thousands of workers to Alabuga, where drones are built."
TANKER = "The EU listed a North Korean tanker that carried oil to Nakhodka."


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


def config(port: int, **changes: Any) -> EmailConfig:
    values: dict[str, Any] = {"name": "desk-mail", "kind": "email", "smtp_host": "127.0.0.1", "smtp_port": port,
                              "security": "none", "sender": "Monitor <monitor@example.org>", "timeout": "5s",
                              "recipients": ["desk@example.org", "Analyst <analyst@example.org>"]}
    return EmailConfig(**{**values, **changes})


def notifier(cfg: EmailConfig, clock: Clock, password: str = PASSWORD) -> EmailNotifier:
    built = build_notifier(cfg, {"MONITOR_SMTP_PASSWORD": password}, clock)
    assert isinstance(built, EmailNotifier)
    return built


def digest_notifier(smtp: SMTPServer, clock: Clock, **changes: Any) -> EmailNotifier:
    return notifier(config(smtp.port, name="daily-digest", schedule="0 7 * * *", timezone="Europe/Berlin",
                           **changes), clock)


def parts(mail: Mail) -> tuple[str, str]:
    message = mail.message
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


# --- one email per alert -------------------------------------------------------------------------------


def test_an_alert_goes_out_over_starttls_with_a_login(certificate: Certificate, store: Store, clock: Clock) -> None:
    with SMTPServer(tls=certificate, login=("monitor", PASSWORD)) as smtp:
        cfg = config(smtp.port, security="starttls", username="monitor", ca_file=certificate.cert)
        Newsroom(store, clock).report("https://en.yna.co.kr/view/1", "Северная Корея отправит рабочих на «Алабугу»")
        report = Outbox(store, {"desk-mail": notifier(cfg, clock)}, [], clock, clock.sleep).deliver()
        [mail] = smtp.wait_for_mail(1)
    assert report.sent == 1 and smtp.logins == [("monitor", PASSWORD)]
    assert mail.envelope_from == "monitor@example.org"
    assert mail.envelope_to == ["desk@example.org", "analyst@example.org"]
    message = mail.message
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == ("[HIGH] DPRK labour for Russia's defence industry: Северная Корея отправит "
                                  "рабочих на «Алабугу»")
    assert message["Message-ID"] == "<monitor.desk-mail.alert-1@example.org>"
    assert message["Auto-Submitted"] == "auto-generated"
    raw_headers = mail.data.split(b"\r\n\r\n")[0]
    assert raw_headers.isascii() and b"=?utf-8?" in raw_headers  # RFC 2047, not raw UTF-8
    text, html = parts(mail)
    assert "> **North Korea** will send 25,000 **workers** to the **Alabuga** drone plant" in text
    assert "<strong>North Korea</strong>" in html and 'href="https://en.yna.co.kr/view/1"' in html


@pytest.mark.parametrize(
    "title",
    [
        "Sanctions news\r\nBcc: victim@evil.example\r\nX-Injected: yes",
        "Sanctions news =?utf-8?q?=0D=0ABcc:_victim@evil.example?=",
        "Sanctions news =?utf-8?b?DQpCY2M6IHZpY3RpbUBldmlsLmV4YW1wbGU=?= Пхеньян",
        "Sanctions news\nTo: victim@evil.example\n\n<html>body</html>",
    ],
)
def test_a_hostile_title_adds_no_header_and_no_recipient(smtp: SMTPServer, store: Store, clock: Clock,
                                                         title: str) -> None:
    Newsroom(store, clock).report("https://en.yna.co.kr/view/1", title)
    Outbox(store, {"desk-mail": notifier(config(smtp.port), clock)}, [], clock, clock.sleep).deliver()
    [mail] = smtp.wait_for_mail(1)
    message = mail.message
    assert mail.envelope_to == ["desk@example.org", "analyst@example.org"]
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert message.get_all("To") == ["desk@example.org, Analyst <analyst@example.org>"]
    assert "\r" not in message["Subject"] and "\n" not in message["Subject"]
    assert sorted(message.keys()) == sorted(["Subject", "From", "To", "Date", "Message-ID", "Auto-Submitted",
                                             "MIME-Version", "Content-Type"])


def test_follow_ups_stay_out_of_per_alert_email_and_updates_reply_to_the_first(
        smtp: SMTPServer, store: Store, clock: Clock) -> None:
    news, outbox = Newsroom(store, clock), Outbox(store, {"desk-mail": notifier(config(smtp.port), clock)}, [],
                                                  clock, clock.sleep)
    news.report("https://en.yna.co.kr/view/1")
    news.report("https://www.nknews.org/2", "Pyongyang sends labourers", match(sentence=RUMOUR), text=RUMOUR)
    troops = "North Korean workers at Alabuga will be joined by soldiers, officials said."
    news.report("https://www.bbc.co.uk/3", "Troops follow workers", match(sentence=troops, terms=("workers",)),
                match("dprk-troops", "critical", ("dprk_troops",), "DPRK troops in Russia", troops, ("soldiers",)),
                text=troops)
    report = outbox.deliver()
    first, update = smtp.wait_for_mail(2)
    assert (report.sent, report.skipped) == (2, 1)
    assert update.message["In-Reply-To"] == first.message["Message-ID"] == update.message["References"]
    assert update.message["Subject"].startswith("[CRITICAL] Update: DPRK troops in Russia")


def test_a_refused_login_fails_for_good_names_the_variable_and_never_the_password(
        certificate: Certificate, store: Store, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    with SMTPServer(tls=certificate, login=("monitor", PASSWORD)) as smtp:
        cfg = config(smtp.port, security="starttls", username="monitor", ca_file=certificate.cert)
        Newsroom(store, clock).report("https://en.yna.co.kr/view/1")
        with caplog.at_level(logging.DEBUG):
            report = Outbox(store, {"desk-mail": notifier(cfg, clock, "wrong-password-123")}, [], clock,
                            clock.sleep).deliver()
    [failed] = store.deliveries("failed")
    assert report.failed == 1 and smtp.mail == []
    assert failed["last_error"].startswith(f"127.0.0.1:{smtp.port} refused the login of monitor (535")
    assert "check $MONITOR_SMTP_PASSWORD" in failed["last_error"]
    assert "wrong-password-123" not in caplog.text + str(store.deliveries())


def test_implicit_tls_on_the_ssl_port_works_too(certificate: Certificate, clock: Clock) -> None:
    with SMTPServer(tls=certificate, login=("monitor", PASSWORD), implicit_tls=True) as smtp:
        cfg = config(smtp.port, security="ssl", username="monitor", ca_file=certificate.cert)
        email = notifier(cfg, clock)
        email.transmit(email.message("s", "t", "<p>h</p>", "x"))
        assert len(smtp.wait_for_mail(1)) == 1 and smtp.logins == [("monitor", PASSWORD)]
    with SMTPServer(tls=certificate) as starttls_only:  # ssl against a STARTTLS port: a clear message
        email = notifier(config(starttls_only.port, security="ssl", ca_file=certificate.cert), clock)
        with pytest.raises(DeliveryError) as caught:
            email.transmit(email.message("s", "t", "<p>h</p>", "x"))
    assert not caught.value.retryable and "check security and smtp_port" in caught.value.reason


def test_starttls_asked_of_a_server_without_it_fails_for_good(smtp: SMTPServer, clock: Clock) -> None:
    email = notifier(config(smtp.port, security="starttls"), clock)
    with pytest.raises(DeliveryError) as caught:
        email.transmit(email.message("s", "t", "<p>h</p>", "x"))
    assert not caught.value.retryable
    assert caught.value.reason == (f"127.0.0.1:{smtp.port} does not support what the config asks (STARTTLS "
                                   "extension not supported by server): check security (ssl, starttls, none) "
                                   "and username")


def test_an_untrusted_certificate_is_refused_and_says_what_to_do(certificate: Certificate, clock: Clock) -> None:
    with SMTPServer(tls=certificate) as smtp:
        email = notifier(config(smtp.port, security="starttls"), clock)
        with pytest.raises(DeliveryError) as caught:
            email.transmit(email.message("s", "t", "<p>h</p>", "x"))
    assert not caught.value.retryable and "set ca_file" in caught.value.reason


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [("421 4.3.0 Service not available, try later", True), ("554 5.7.1 Message rejected as spam", False)],
)
def test_smtp_refusals_are_classified(smtp: SMTPServer, clock: Clock, reply: str, retryable: bool) -> None:
    smtp.down = reply
    email = notifier(config(smtp.port), clock)
    with pytest.raises(DeliveryError) as caught:
        email.transmit(email.message("s", "t", "<p>h</p>", "x"))
    assert caught.value.retryable is retryable and reply.split()[0] in caught.value.reason


def test_an_unreachable_server_is_retried(clock: Clock) -> None:
    with SMTPServer() as gone:
        port = gone.port
    email = notifier(config(port), clock)
    with pytest.raises(DeliveryError) as caught:
        email.transmit(email.message("s", "t", "<p>h</p>", "x"))
    assert caught.value.retryable and "cannot reach the SMTP server" in caught.value.reason


# --- digests ---------------------------------------------------------------------------------------


def two_days_of_news(store: Store, clock: Clock, outbox: Outbox) -> None:
    news = Newsroom(store, clock)
    news.report("https://en.yna.co.kr/view/1")  # high, then a second source
    clock.advance(minutes=5)
    news.report("https://www.nknews.org/2", "Pyongyang sends labourers", match(sentence=RUMOUR), text=RUMOUR)
    news.report("https://www.reuters.com/3", "EU lists North Korean tanker", match(
        "dprk-ships", "medium", ("dprk_shipping",), "DPRK shipping", TANKER, ("tanker",), ("tanker-x",)),
        text=TANKER)
    troops = "Thousands of North Korean soldiers arrived in Kursk, the ministry said."
    news.report("https://www.kyivindependent.com/4", "North Korean troops arrive in Kursk", match(
        "dprk-troops", "critical", ("dprk_troops",), "DPRK troops in Russia", troops, ("soldiers", "Kursk"),
        ("kursk",)), text=troops)
    outbox.deliver()


def test_a_digest_groups_by_severity_then_rule_and_marks_its_alerts_sent(smtp: SMTPServer, store: Store,
                                                                         clock: Clock) -> None:
    digest = digest_notifier(smtp, clock)
    outbox = Outbox(store, {"daily-digest": digest}, [], clock, clock.sleep)
    two_days_of_news(store, clock, outbox)
    assert smtp.mail == [] and {d["status"] for d in store.deliveries()} == {"queued"}

    result = send_digest_now(store, digest, [], ["daily-digest"], clock)
    [mail] = smtp.wait_for_mail(1)
    assert (result.outcome, result.detail) == ("sent", "3 events from 4 alerts")
    assert mail.message["Subject"] == "monitor digest: 3 events (1 critical, 1 high, 1 medium) · Thu 19 Jun 2025 11:05"
    text, html = parts(mail)
    headings = re.findall(r"^== (.+) ==$", text, re.M)
    assert headings == ["CRITICAL", "HIGH", "MEDIUM", "Held back"]
    assert "* North Korea to send 25,000 workers to Russia's Alabuga drone plant" in text
    assert "2 sources: first reported by yna (yna.co.kr), then 1 more: nknews.org" in text
    assert "2 sources: first reported by yna (yna.co.kr), then 1 more: nknews.org" in html
    assert html.index("CRITICAL") < html.index("HIGH") < html.index("MEDIUM")
    assert "Nothing was held back" in text
    assert {d["status"] for d in store.deliveries()} == {"sent"}
    assert send_digest_now(store, digest, [], ["daily-digest"], clock).outcome == "empty"  # never twice
    assert len(smtp.mail) == 1


def test_the_next_digest_says_what_changed_since_the_last(smtp: SMTPServer, store: Store, clock: Clock) -> None:
    digest = digest_notifier(smtp, clock)
    outbox = Outbox(store, {"daily-digest": digest}, [], clock, clock.sleep)
    two_days_of_news(store, clock, outbox)
    send_digest_now(store, digest, [], ["daily-digest"], clock)
    clock.advance(days=1)
    again = "North Korean workers are on their way to the Alabuga plant, a defector group said."
    Newsroom(store, clock).report("https://www.dailynk.com/5", "Workers on their way to Alabuga",
                                  match(sentence=again, terms=("workers", "Alabuga")), text=again)
    outbox.deliver()
    send_digest_now(store, digest, [], ["daily-digest"], clock)
    _, second = smtp.wait_for_mail(2)
    text, _ = parts(second)
    assert second.message["Subject"].startswith("monitor digest: 1 event (1 high)")
    assert "changed: 1 more source since the last digest (now 3)" in text
    assert "Kursk" not in text and "tanker" not in text
    assert "from 2025-06-19 11:05 CEST to 2025-06-20 11:05 CEST" in text


def test_the_digest_ends_with_what_was_held_back_and_why(smtp: SMTPServer, store: Store, clock: Clock) -> None:
    policy = Policy(rules={"dprk-ships": RuleSettings(min_sources=2)},
                    silences=(Silence(1, "dprk-troops", clock.now + timedelta(days=1), "known story"),))
    news = Newsroom(store, clock, policy)
    news.report("https://en.yna.co.kr/view/1")
    news.report("https://www.yna.co.kr/view/1-ko")  # the same wire copy again: a copy, one voice
    news.report("https://www.reuters.com/3", "EU lists tanker", match(
        "dprk-ships", "medium", ("dprk_shipping",), "DPRK shipping", TANKER, ("tanker",), ("tanker-x",)), text=TANKER)
    troops = "Thousands of North Korean soldiers arrived in Kursk, the ministry said."
    news.report("https://www.kyivindependent.com/4", "Troops in Kursk", match(
        "dprk-troops", "critical", ("dprk_troops",), "DPRK troops", troops, ("soldiers",), ("kursk",)), text=troops)
    digest = digest_notifier(smtp, clock)
    Outbox(store, {"daily-digest": digest}, [], clock, clock.sleep).deliver()

    preview = collect_digest(store, "daily-digest", [], ["daily-digest"], clock.now)
    held = {group.what: group for group in preview.held}  # "report" or "reports" by count
    assert len(preview.entries) == 1
    assert held["report held for corroboration"].lines == (
        "EU lists tanker: 1 report (reuters); new story held for corroboration: 1 of 2 independent sources",)
    assert held["report silenced"].count == 1 and "known story" in held["report silenced"].lines[0]
    assert held["duplicate report merged into their events"].count == 1
    send_digest_now(store, digest, [], ["daily-digest"], clock)
    text, html = parts(smtp.wait_for_mail(1)[0])
    assert "1 report held for corroboration:" in text and "EU lists tanker" in html


def test_held_back_reports_follow_routes_by_grade_and_stage(smtp: SMTPServer, store: Store, clock: Clock) -> None:
    from monitor.config import RouteConfig

    news = Newsroom(store, clock, Policy(rules={"dprk-ships": RuleSettings(min_sources=2)}))
    news.report("https://www.reuters.com/3", "EU lists tanker", match(
        "dprk-ships", "medium", ("dprk_shipping",), "DPRK shipping", TANKER, ("tanker",), ("tanker-x",)), text=TANKER)
    with store.engine.begin() as conn:  # the held event as if its source had said "agreed"
        conn.execute(events.update().values(stage="agreed"))
    for routes in ([RouteConfig(notify=("daily-digest",), grade="F6")],  # the lowest grade: every event passes
                   [RouteConfig(notify=("daily-digest",), stage=("agreed",))]):
        preview = collect_digest(store, "daily-digest", routes, ["daily-digest"], clock.now)
        assert [g.what for g in preview.held] == ["report held for corroboration"], routes
    for routes in ([RouteConfig(notify=("daily-digest",), grade="A1")],
                   [RouteConfig(notify=("daily-digest",), stage=("designated",))]):
        assert collect_digest(store, "daily-digest", routes, ["daily-digest"], clock.now).held == ()


def test_an_empty_digest_is_not_sent_unless_asked(smtp: SMTPServer, store: Store, clock: Clock) -> None:
    quiet = digest_notifier(smtp, clock)
    assert send_digest_now(store, quiet, [], ["daily-digest"], clock).outcome == "empty"
    assert smtp.mail == [] and store.digests()[0]["status"] == "empty"
    chatty = digest_notifier(smtp, clock, send_empty=True)
    assert send_digest_now(store, chatty, [], ["daily-digest"], clock).outcome == "sent"
    text, _ = parts(smtp.wait_for_mail(1)[0])
    assert "No new events." in text and "Nothing was held back" in text


def test_smtp_down_at_digest_time_sends_the_digest_later_once(smtp: SMTPServer, store: Store, clock: Clock) -> None:
    digest = digest_notifier(smtp, clock)
    outbox = Outbox(store, {"daily-digest": digest}, [], clock, clock.sleep)
    channels = {"daily-digest": digest}
    Newsroom(store, clock).report("https://en.yna.co.kr/view/1")
    outbox.deliver()
    smtp.down = "421 4.3.0 Service not available, try later"

    store.request_digest("daily-digest", clock.now)  # 07:00: the schedule fires
    [result] = send_due_digests(store, channels, [], ["daily-digest"], clock)
    assert result.outcome == "retrying" and "421" in result.detail
    clock.advance(seconds=59)
    assert send_due_digests(store, channels, [], ["daily-digest"], clock) == []  # backing off
    clock.advance(seconds=1)
    assert send_due_digests(store, channels, [], ["daily-digest"], clock)[0].outcome == "retrying"  # still down

    Newsroom(store, clock).report("https://www.reuters.com/3", "EU lists tanker", match(
        "dprk-ships", "medium", ("dprk_shipping",), "DPRK shipping", TANKER, ("tanker",), ("tanker-x",)), text=TANKER)
    outbox.deliver()  # news goes on meanwhile
    smtp.down = None
    clock.advance(minutes=2)
    metrics = Metrics()
    assert send_due_digests(store, channels, [], ["daily-digest"], clock, metrics.delivered)[0].outcome == "sent"
    delivered = metrics.registry.get_sample_value("monitor_alerts_delivered_total", {"notifier": "daily-digest"})
    assert delivered == 2  # the digest's alerts count as delivered
    for _ in range(3):
        clock.advance(hours=1)
        send_due_digests(store, channels, [], ["daily-digest"], clock)
    [mail] = smtp.wait_for_mail(1)
    assert mail.message["Subject"].startswith("monitor digest: 2 events")  # what came in meanwhile joined it
    [row] = store.digests()
    assert (row["status"], row["attempts"]) == ("sent", 3)


class DiesBeforeMarking(Store):
    def finish_digest(self, digest_id: int, status: str, *args: Any, **kwargs: Any) -> None:
        if status == "sent":
            raise KeyboardInterrupt  # killed: the server has the message, the store does not know
        super().finish_digest(digest_id, status, *args, **kwargs)


def test_killed_after_the_server_accepted_a_digest_resends_it_with_the_same_message_id(
        smtp: SMTPServer, tmp_path: Path, clock: Clock) -> None:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    store = open_store(url)
    digest = digest_notifier(smtp, clock)
    Newsroom(store, clock).report("https://en.yna.co.kr/view/1")
    Outbox(store, {"daily-digest": digest}, [], clock, clock.sleep).deliver()
    store.request_digest("daily-digest", clock.now)
    with pytest.raises(KeyboardInterrupt):
        send_due_digests(DiesBeforeMarking(store.engine), {"daily-digest": digest}, [], ["daily-digest"], clock)
    clock.now += CLAIM_LEASE
    send_due_digests(open_store(url), {"daily-digest": digest}, [], ["daily-digest"], clock)
    first, again = smtp.wait_for_mail(2)
    assert first.message["Message-ID"] == again.message["Message-ID"] == "<monitor.daily-digest.digest-1@example.org>"


def test_a_digest_only_carries_what_its_routes_send_it(smtp: SMTPServer, store: Store, clock: Clock) -> None:
    from monitor.config import RouteConfig

    digest = digest_notifier(smtp, clock)
    routes = [RouteConfig(notify=("daily-digest",), tags=("dprk_shipping",))]
    outbox = Outbox(store, {"daily-digest": digest}, routes, clock, clock.sleep)
    two_days_of_news(store, clock, outbox)
    send_digest_now(store, digest, routes, ["daily-digest"], clock)
    text, _ = parts(smtp.wait_for_mail(1)[0])
    assert re.findall(r"^== (.+) ==$", text, re.M) == ["MEDIUM", "Held back"]


def _subject(message: EmailMessage) -> str:
    return str(message["Subject"])
