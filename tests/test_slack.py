"""Slack: Block Kit alerts, threads for follow-ups, hostile text, rate limits and outages, against a
local Slack Web API that slack-sdk reaches through `base_url`."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from loopback import LoopbackServer, Request, Response
from notify_support import Clock, Newsroom, alert, match
from slack_api import TOKEN, SlackAPI

from monitor.config import RouteConfig
from monitor.errors import DeliveryError
from monitor.models import AlertKind, Snippet
from monitor.notify import Notifier, Outcome, Receipt, Thread
from monitor.notify.outbox import Outbox
from monitor.notify.render import SLACK_HEADER_MAX, SLACK_TEXT_MAX, slack_alert, slack_reply
from monitor.notify.slack import SlackNotifier, SlackWebhookNotifier, web_client, webhook_client
from monitor.store import Store

RUMOUR = "Pyongyang is sending thousands of workers to Alabuga, where drones are built."


def bot(slack: SlackAPI, channel: str = "#sanctions-alerts", token: str = TOKEN) -> SlackNotifier:
    return SlackNotifier("slack-alerts", channel, web_client(token, slack.base_url, 5), "SLACK_BOT_TOKEN")


class Console:
    name = "console"

    def __init__(self) -> None:
        self.got: list[int | None] = []

    def send(self, alert: Any, thread: Thread | None) -> Receipt:
        self.got.append(alert.id)
        return Receipt()


def texts(message: Any, kinds: tuple[str, ...] = ("mrkdwn",)) -> list[str]:
    """Every string Slack parses for mentions and links in a message: the fallback and each mrkdwn
    text (a `plain_text` header is shown as it is, never parsed)."""
    found = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in kinds:
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message["blocks"])
    return [message["text"], *found]


# --- rendering ---------------------------------------------------------------------------------


def test_an_alert_is_block_kit_with_a_plain_text_fallback() -> None:
    message = slack_alert(alert())
    header, article, quote, context = message["blocks"]
    assert header["text"]["text"] == "🔴 HIGH · DPRK labour for Russia's defence industry"
    assert article["text"]["text"] == (
        "*<https://en.yna.co.kr/view/AEN20250619000100315|North Korea to send workers>*\n"
        "yonhap-en · <!date^1750323600^{date_short_pretty} {time}|2025-06-19 09:00 UTC>")
    assert quote["text"]["text"] == ("> *North Korea* will send 25,000 *workers* to the *Alabuga* drone plant in "
                                     "Tatarstan.")
    rules, sources = (e["text"] for e in context["elements"])
    assert rules == "rule `dprk-labor` · tags dprk_labor, dprk_russia_military"
    assert sources == "*1 source*: first reported by yonhap-en (yna.co.kr)"
    assert message["text"] == ("[HIGH] DPRK labour for Russia's defence industry: North Korea to send workers "
                               "(yonhap-en, 1 source)")


HOSTILE = [
    ("title", "<!channel> Breaking: <https://evil.example/login|click here> & <@U024BE7LH> <#C123|general>"),
    ("source", "<!here|here>"),
    ("rule_title", "<!everyone> rule"),
]


@pytest.mark.parametrize(("field", "text"), HOSTILE)
def test_hostile_text_pings_nobody_and_links_nowhere(field: str, text: str) -> None:
    hostile_snippet = Snippet("content", "Pyongyang <!channel> sends <https://evil|workers> to Alabuga", ((0, 9),))
    for message in (slack_alert(alert(**{field: text}, snippet=hostile_snippet)),
                    slack_reply(alert(**{field: text}, kind=AlertKind.UPDATE, snippet=hostile_snippet))):
        for part in texts(message):
            for construct in re.findall(r"<[^>]*>", part):  # Slack only parses what is inside <…>
                assert construct.startswith(("<https://en.yna.co.kr/", "<!date^")), construct
            assert "&lt;!channel&gt;" in json.dumps(message) or field != "title"
        assert all(b["text"]["type"] == "plain_text" for b in message["blocks"] if b["type"] == "header")


def test_a_link_to_another_scheme_or_with_a_pipe_stays_inert() -> None:
    message = slack_alert(alert(url="javascript:alert(1)//https://x", title="Click me"))
    assert "<javascript" not in json.dumps(message) and "*Click me*" in message["blocks"][1]["text"]["text"]
    piped = slack_alert(alert(url="https://x.example/a|b>c <d>"))["blocks"][1]["text"]["text"]
    assert piped.startswith("*<https://x.example/a%7Cb%3Ec%20%3Cd%3E|")


def test_lengths_stay_inside_slacks_limits() -> None:
    huge = alert(title="<" * 20_000, rule_title="R" * 500, snippet=Snippet("content", "workers & " * 3000, ((0, 7),)))
    for message in (slack_alert(huge), slack_reply(huge), slack_reply(huge.__class__(**{**huge.__dict__,
                                                                                       "kind": AlertKind.UPDATE}))):
        for block in message["blocks"]:
            if block["type"] == "header":
                assert len(block["text"]["text"]) <= SLACK_HEADER_MAX
            for part in texts({"text": "", "blocks": [block]}, ("mrkdwn", "plain_text")):
                assert len(part) <= SLACK_TEXT_MAX
                assert not re.search(r"&[a-z]*$", part.removesuffix("…"))  # no entity cut in half
        assert len(message["text"]) <= SLACK_TEXT_MAX


def test_korean_particles_stay_attached_and_the_word_is_bold() -> None:
    text = alert(snippet=Snippet("title", "북한이 노동자를 알라부가에 보낸다", ((0, 2), (9, 13))))
    assert slack_alert(text)["blocks"][2]["text"]["text"] == "> *북한이* 노동자를 *알라부가에* 보낸다"


# --- delivery through the Slack Web API -------------------------------------------------------------


def test_an_alert_is_posted_with_link_previews_off(slack: SlackAPI, store: Store, clock: Clock) -> None:
    Newsroom(store, clock).report("https://en.yna.co.kr/view/1")
    report = Outbox(store, {"slack-alerts": bot(slack)}, [], clock, clock.sleep).deliver()
    [message] = slack.wait_for_messages(1)
    assert report.sent == 1
    assert message["channel"] == "C0ALERTS" and message["unfurl_links"] is False and message["unfurl_media"] is False
    assert message["blocks"][0]["type"] == "header" and "thread_ts" not in message
    assert store.thread(1, "slack-alerts")[:2] == ("C0ALERTS", message["ts"])  # type: ignore[index]


def test_a_story_then_a_rewrite_five_minutes_later_is_one_message_and_one_thread_reply(
        slack: SlackAPI, store: Store, clock: Clock) -> None:
    news, outbox = Newsroom(store, clock), Outbox(store, {"slack-alerts": bot(slack)}, [], clock, clock.sleep)
    news.report("https://en.yna.co.kr/view/1")  # t = 0
    outbox.deliver()
    clock.advance(minutes=5)
    news.report("https://www.nknews.org/2", "Pyongyang sends labourers", match(sentence=RUMOUR), text=RUMOUR)
    outbox.deliver()

    parent, reply = slack.wait_for_messages(2)
    assert reply["thread_ts"] == parent["ts"] and reply["channel"] == parent["channel"]
    assert reply["reply_broadcast"] is False  # a follow-up pings nobody
    assert reply["blocks"][0]["text"]["text"].startswith("*Also reported by* nknews: <https://www.nknews.org/2|")
    [update] = slack.updates
    assert update["ts"] == parent["ts"]
    assert update["blocks"][-1]["elements"][1]["text"] == (
        "*2 sources*: first reported by yna (yna.co.kr), then 1 more: nknews.org")
    assert update["blocks"][1] == parent["blocks"][1]  # the parent still shows the first article


def test_an_update_is_broadcast_into_the_events_thread(slack: SlackAPI, store: Store, clock: Clock) -> None:
    news, outbox = Newsroom(store, clock), Outbox(store, {"slack-alerts": bot(slack)}, [], clock, clock.sleep)
    news.report("https://en.yna.co.kr/view/1")
    outbox.deliver()
    clock.advance(hours=1)
    troops = "North Korean workers at Alabuga will be joined by soldiers, officials said."
    news.report("https://www.bbc.co.uk/3", "Troops follow workers to Alabuga",
                match(sentence=troops, terms=("workers", "Alabuga")),
                match("dprk-troops", "critical", ("dprk_troops",), "DPRK troops in Russia", troops, ("soldiers",)),
                text=troops)
    outbox.deliver()
    parent, update = slack.wait_for_messages(2)
    assert update["thread_ts"] == parent["ts"] and update["reply_broadcast"] is True
    assert update["blocks"][0]["text"]["text"] == "🚨 CRITICAL · F6 · DPRK troops in Russia"
    assert slack.updates[0]["blocks"][0]["text"]["text"].startswith("🚨 CRITICAL")  # the parent shows it too


def test_rate_limited_then_accepted_is_one_message(slack: SlackAPI, store: Store, clock: Clock) -> None:
    Newsroom(store, clock).report("https://en.yna.co.kr/view/1")
    slack.fail_next(slack.rate_limited(retry_after=1))
    report = Outbox(store, {"slack-alerts": bot(slack)}, [], clock, clock.sleep).deliver()
    assert report.sent == 1 and clock.slept == [1.0]
    assert [m for m, _ in slack.calls] == ["chat.postMessage", "chat.postMessage"]
    assert len(slack.messages) == 1


def test_a_long_rate_limit_waits_for_the_next_pass(slack: SlackAPI, store: Store, clock: Clock) -> None:
    Newsroom(store, clock).report("https://en.yna.co.kr/view/1")
    slack.fail_next(slack.rate_limited(retry_after=45))
    outbox = Outbox(store, {"slack-alerts": bot(slack)}, [], clock, clock.sleep)
    assert outbox.deliver().retrying == 1 and clock.slept == []
    clock.advance(seconds=44)
    outbox.deliver()
    assert slack.messages == []
    clock.advance(seconds=1)
    outbox.deliver()
    assert len(slack.wait_for_messages(1)) == 1


def test_slack_down_for_a_while_then_every_alert_arrives_once(slack: SlackAPI, store: Store, clock: Clock) -> None:
    news = Newsroom(store, clock)
    console = Console()
    outbox = Outbox(store, {"slack-alerts": bot(slack), "console": console}, [], clock, clock.sleep)
    slack.down = slack.server_error(503)
    news.report("https://en.yna.co.kr/view/1")
    for minute in range(1, 20):  # twenty minutes of outage, a pass every minute, the news going on
        clock.advance(minutes=1)
        if minute == 5:
            news.report("https://www.nknews.org/2", "Pyongyang sends labourers", match(sentence=RUMOUR), text=RUMOUR)
        if minute == 7:
            news.report("https://www.reuters.com/3", "EU lists tanker", match(
                "dprk-ships", "medium", ("dprk_shipping",), "DPRK shipping", "The EU listed a North Korean tanker.",
                ("tanker",), ("tanker-x",)), text="The EU listed a North Korean tanker.")
        outbox.deliver()
    assert slack.messages == [] and console.got == [1, 2, 3]  # Slack's outage never held up the console
    calls_while_down = len(slack.calls)
    slack.down = None
    clock.advance(minutes=10)
    outbox.deliver()
    first, reply, other = slack.wait_for_messages(3)  # in outbox order
    assert [m.get("thread_ts") for m in (first, other)] == [None, None] and reply["thread_ts"] == first["ts"]
    assert calls_while_down <= 2 * 19  # backing off, not hammering
    outbox.deliver()
    assert len(slack.messages) == 3 and store.pending_alerts() == []


@pytest.mark.parametrize(
    ("channel", "token", "reason"),
    [
        ("#nowhere", TOKEN, "slack channel_not_found: Slack does not know the channel #nowhere"),
        ("#private", TOKEN, "slack not_in_channel: the bot is not a member of #private: invite it"),
        ("#sanctions-alerts", "xoxb-revoked", "slack invalid_auth: Slack refused the bot token in $SLACK_BOT_TOKEN"),
    ],
)
def test_a_permanent_refusal_fails_with_what_to_do_and_blocks_no_other_channel(
        slack: SlackAPI, store: Store, clock: Clock, caplog: pytest.LogCaptureFixture,
        channel: str, token: str, reason: str) -> None:
    Newsroom(store, clock).report("https://en.yna.co.kr/view/1")
    console = Console()
    with caplog.at_level(logging.ERROR):
        report = Outbox(store, {"slack-alerts": bot(slack, channel, token), "console": console}, [], clock,
                        clock.sleep).deliver()
    assert report.failed == 1 and console.got == [1]
    [failed] = store.deliveries("failed")
    assert failed["last_error"].startswith(reason)
    assert reason in caplog.text and store.pending_alerts() == []


def test_a_lost_parent_message_does_not_stop_the_reply(slack: SlackAPI, store: Store, clock: Clock,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    news, outbox = Newsroom(store, clock), Outbox(store, {"slack-alerts": bot(slack)}, [], clock, clock.sleep)
    news.report("https://en.yna.co.kr/view/1")
    outbox.deliver()
    news.report("https://www.nknews.org/2", "Pyongyang sends labourers", match(sentence=RUMOUR), text=RUMOUR)
    slack.fail_next(slack.error("message_not_found"))  # someone deleted the alert in Slack
    with caplog.at_level(logging.WARNING):
        outbox.deliver()
    assert len(slack.wait_for_messages(2)) == 2 and "could not update the first message of event 1" in caplog.text


def test_unreachable_slack_is_retried(store: Store, clock: Clock) -> None:
    with LoopbackServer() as gone:
        url = gone.url("/api/")
    notifier = SlackNotifier("slack-alerts", "#x", web_client(TOKEN, url, 2))
    with pytest.raises(DeliveryError) as caught:
        notifier.send(alert(), None)
    assert caught.value.retryable and caught.value.reason.startswith("cannot reach Slack (127.0.0.1:")


def test_routes_send_only_what_they_match_to_slack(slack: SlackAPI, store: Store, clock: Clock) -> None:
    news = Newsroom(store, clock)
    news.report("https://en.yna.co.kr/view/1")  # high
    news.report("https://www.reuters.com/3", "EU lists tanker", match(
        "dprk-ships", "medium", ("dprk_shipping",), "DPRK shipping", "The EU listed a North Korean tanker.",
        ("tanker",), ("tanker-x",)), text="The EU listed a North Korean tanker.")
    console = Console()
    routes = [RouteConfig(notify=("slack-alerts",), severity="high", **{"continue": True}),
              RouteConfig(notify=("console",))]
    Outbox(store, {"slack-alerts": bot(slack), "console": console}, routes, clock, clock.sleep).deliver()
    assert len(slack.wait_for_messages(1)) == 1 and console.got == [1, 2]


# --- incoming-webhook mode ------------------------------------------------------------------------


def test_an_incoming_webhook_posts_alerts_and_skips_follow_ups(loopback: LoopbackServer, store: Store,
                                                               clock: Clock) -> None:
    posted: list[dict[str, Any]] = []

    def hook(request: Request) -> Response:
        posted.append(json.loads(request.body))
        return Response(200, b"ok", {"Content-Type": "text/plain"})

    url = loopback.route("/services/T000/B000/XXXXSECRETXXXX", hook)
    notifier: Notifier = SlackWebhookNotifier("slack-hook", webhook_client(url, 5), "SLACK_WEBHOOK_URL")
    news = Newsroom(store, clock)
    news.report("https://en.yna.co.kr/view/1")
    news.report("https://www.nknews.org/2", "Pyongyang sends labourers", match(sentence=RUMOUR), text=RUMOUR)
    Outbox(store, {"slack-hook": notifier}, [], clock, clock.sleep).deliver()
    [message] = posted
    assert message["blocks"][0]["type"] == "header" and message["unfurl_links"] is False
    statuses = {d["alert_id"]: (d["status"], d["last_error"]) for d in store.deliveries()}
    assert statuses[1] == ("sent", None)
    assert statuses[2] == ("skipped", "an incoming webhook cannot reply in a thread; follow-ups go to digests")


@pytest.mark.parametrize(
    ("response", "retryable", "reason"),
    [
        (Response(403, b"invalid_token"), False, "slack invalid_token: Slack refused the webhook URL in $HOOK"),
        (Response(404, b"no_service"), False, "slack no_service: the incoming webhook in $HOOK was removed"),
        (Response(429, b"rate_limited", {"Retry-After": "3"}), True, "slack rate limit"),
        (Response(500, b"oops: <html>"), True, "slack answered HTTP 500"),
    ],
)
def test_incoming_webhook_failures_are_classified(loopback: LoopbackServer, response: Response, retryable: bool,
                                                  reason: str) -> None:
    url = loopback.serve("/services/T/B/SECRET", response)
    with pytest.raises(DeliveryError) as caught:
        SlackWebhookNotifier("hook", webhook_client(url, 5), "HOOK").send(alert(), None)
    assert caught.value.retryable is retryable and caught.value.reason.startswith(reason)
    assert "SECRET" not in caught.value.reason


# --- secrets ---------------------------------------------------------------------------------------


def test_the_token_and_the_webhook_url_never_reach_a_log_or_the_outbox(
        slack: SlackAPI, loopback: LoopbackServer, store: Store, clock: Clock,
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    hook = loopback.serve("/services/T9/B9/HOOKSECRET123", Response(500, b"oops"))
    news = Newsroom(store, clock)
    news.report("https://en.yna.co.kr/view/1")
    slack.fail_next(slack.rate_limited(1), slack.server_error(), slack.error("invalid_auth"))
    notifiers: dict[str, Notifier] = {
        "slack-alerts": bot(slack),
        "slack-hook": SlackWebhookNotifier("slack-hook", webhook_client(hook, 5), "SLACK_WEBHOOK_URL"),
    }
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("slack_sdk").setLevel(logging.DEBUG)
        Outbox(store, notifiers, [], clock, clock.sleep).deliver()
    seen = caplog.text + "".join(capsys.readouterr()) + json.dumps(store.deliveries(), default=str)
    assert "invalid_auth" in seen and "HTTP 500" in seen  # the failures were logged ...
    assert TOKEN not in seen and "HOOKSECRET123" not in seen  # ... without the secrets
    assert Outcome.SENT not in {d["status"] for d in store.deliveries()}
