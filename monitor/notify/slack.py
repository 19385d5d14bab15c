"""Slack. With a bot token, `chat.postMessage` posts an event's alert and keeps its later alerts in
the alert's thread, refreshing the parent's source count with `chat.update`. An incoming webhook is
the simple alternative: it cannot reply in a thread, so follow-ups are skipped there (digests carry them).

Every failure is classified once, in `_api_error` / `_webhook_error` / `_transport_error`: rate limits
and server errors are retried by the outbox, permanent refusals (a wrong channel, a revoked token) keep
the alert as failed with a reason that says what to do. Secrets (the token, the webhook URL) never
reach a log line or an error message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from http.client import HTTPException
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient, WebhookResponse

from monitor.errors import DeliveryError
from monitor.http import retry_after_seconds
from monitor.models import Alert, AlertKind
from monitor.notify import Outcome, Receipt, Thread
from monitor.notify.catchup import CatchUpMessage, slack_catch_up
from monitor.notify.render import SlackMessage, slack_alert, slack_parent, slack_reply

log = logging.getLogger(__name__)

# slack-sdk logs each request's URL at DEBUG, and an incoming webhook's URL is its secret; it also logs
# each failure that the outbox classifies and logs once more. Its clients get this quiet logger.
SDK_LOG = logging.getLogger("monitor.notify.slack.sdk")
SDK_LOG.setLevel(logging.CRITICAL)

# Slack's error codes (https://api.slack.com/methods/chat.postMessage#errors) that a later try can pass.
_RETRYABLE = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
              "team_added_to_org"}
_HINTS = {
    "channel_not_found": "Slack does not know the channel {channel}, or the bot cannot see it: check `channel`, "
                         "and invite the bot to a private channel",
    "not_in_channel": "the bot is not a member of {channel}: invite it (/invite @your-app), or give the app "
                      "the chat:write.public scope",
    "is_archived": "the channel {channel} is archived: unarchive it or set another `channel`",
    "channel_is_archived": "the channel {channel} is archived: unarchive it or make a new webhook",
    "invalid_auth": "Slack refused the bot token in ${secret}: set it to the app's Bot User OAuth Token (xoxb-…)",
    "not_authed": "no token reached Slack: set ${secret}",
    "token_revoked": "the token in ${secret} was revoked: reinstall the app and update ${secret}",
    "token_expired": "the token in ${secret} expired: reinstall the app and update ${secret}",
    "account_inactive": "the token in ${secret} belongs to a deactivated user or app: reinstall the app",
    "invalid_token": "Slack refused the webhook URL in ${secret}: make a new incoming webhook",
    "no_service": "the incoming webhook in ${secret} was removed: make a new one",
    "missing_scope": "the Slack app lacks the chat:write scope: add it under OAuth & Permissions and reinstall",
    "restricted_action": "the workspace does not let this app post in {channel}",
    "action_prohibited": "the workspace does not let this webhook post",
}


def web_client(token: str, base_url: str, timeout: float) -> WebClient:
    # retry_handlers=[]: the outbox is the one place that retries, so an accepted message is never resent
    # by a second retry layer under it.
    return WebClient(token=token, base_url=base_url, timeout=int(timeout), retry_handlers=[], logger=SDK_LOG)


def webhook_client(url: str, timeout: float) -> WebhookClient:
    return WebhookClient(url, timeout=int(timeout), retry_handlers=[], logger=SDK_LOG)


class SlackNotifier:
    """Bot-token mode: a message per event, its follow-ups and updates in the message's thread."""

    def __init__(self, name: str, channel: str, client: WebClient, secret: str = "SLACK_BOT_TOKEN") -> None:
        self.name = name
        self.channel = channel
        self.client = client
        self.secret = secret  # the variable's name, for messages; never its value

    catches_up = True  # after downtime, one message lists what the first polls found (notify/catchup.py)

    def send(self, alert: Alert, thread: Thread | None) -> Receipt:
        if thread is None:
            answer = self._call("chat_postMessage", channel=self.channel, **slack_alert(alert))
            return Receipt(Outcome.SENT, str(answer["channel"]), str(answer["ts"]))
        self._refresh_parent(alert, thread)  # idempotent, so it goes first: a retry repeats only it
        broadcast = alert.kind is not AlertKind.FOLLOW_UP and alert.broadcast  # grading updates: thread only
        answer = self._call("chat_postMessage", channel=thread.channel, thread_ts=thread.ref,
                            reply_broadcast=broadcast, **slack_reply(alert))
        return Receipt(Outcome.SENT, str(answer["channel"]), str(answer["ts"]), note=f"in thread {thread.ref}")

    def send_catch_up(self, message: CatchUpMessage) -> Receipt:
        answer = self._call("chat_postMessage", channel=self.channel, **slack_catch_up(message))
        return Receipt(Outcome.SENT, str(answer["channel"]), str(answer["ts"]))

    def _refresh_parent(self, alert: Alert, thread: Thread) -> None:
        try:
            self._call("chat_update", channel=thread.channel, ts=thread.ref, **slack_parent(thread.parent, alert))
        except DeliveryError as exc:
            if exc.retryable:
                raise
            log.warning("%s: could not update the first message of event %s (%s); the reply goes out anyway",
                        self.name, alert.event_id, exc.reason)

    def _call(self, method: str, **arguments: Any) -> Mapping[str, Any]:
        if method == "chat_postMessage":
            arguments = {"unfurl_links": False, "unfurl_media": False, **arguments}  # a link preview is noise
        try:
            response = getattr(self.client, method)(**arguments)
        except SlackApiError as exc:
            raise _api_error(exc, arguments.get("channel", self.channel), self.secret) from None
        except (URLError, OSError, HTTPException) as exc:
            raise _transport_error(exc, self.client.base_url) from None
        data: Mapping[str, Any] = response.data if isinstance(response.data, dict) else {}
        return data


class SlackWebhookNotifier:
    """Incoming-webhook mode: alerts and updates as new messages; follow-ups skipped (no threads)."""

    def __init__(self, name: str, client: WebhookClient, secret: str) -> None:
        self.name = name
        self.client = client
        self.secret = secret

    catches_up = True

    def send(self, alert: Alert, thread: Thread | None) -> Receipt:
        if alert.kind is AlertKind.FOLLOW_UP:
            return Receipt(Outcome.SKIPPED, note="an incoming webhook cannot reply in a thread; "
                                                 "follow-ups go to digests")
        return self._post(slack_alert(alert) if alert.kind is AlertKind.ALERT else slack_reply(alert))

    def send_catch_up(self, message: CatchUpMessage) -> Receipt:
        return self._post(slack_catch_up(message))

    def _post(self, message: SlackMessage) -> Receipt:
        try:
            response = self.client.send(text=message["text"], blocks=message["blocks"], unfurl_links=False,
                                        unfurl_media=False)
        except (URLError, OSError, HTTPException) as exc:
            raise _transport_error(exc, "the Slack webhook") from None
        if response.status_code == 200:
            return Receipt(Outcome.SENT, note="incoming webhook")
        raise _webhook_error(response, self.secret)


def _api_error(exc: SlackApiError, channel: str, secret: str) -> DeliveryError:
    status = exc.response.status_code
    code = str(exc.response.get("error") or "")
    if not re.fullmatch(r"[a-z_]+", code):  # not an error code: a proxy's or a load balancer's page
        code = f"HTTP {status}"
    return _classify(code, status, exc.response.headers, channel, secret)


def _webhook_error(response: WebhookResponse, secret: str) -> DeliveryError:
    code = (response.body or "").strip()
    if not re.fullmatch(r"[a-z_]+", code):
        code = f"HTTP {response.status_code}"
    return _classify(code, response.status_code, response.headers, "the webhook's channel", secret)


def _classify(code: str, status: int, headers: Mapping[str, Any], channel: str, secret: str) -> DeliveryError:
    if status == 429 or code == "ratelimited":
        wait = retry_after_seconds(_header(headers, "retry-after"), datetime.now(UTC))
        return DeliveryError(f"slack rate limit ({code})", retryable=True, retry_after=wait)
    if status >= 500 or code in _RETRYABLE:
        said = code if code.startswith("HTTP") else f"{code} (HTTP {status})"
        return DeliveryError(f"slack answered {said}", retryable=True)
    hint = _HINTS.get(code, "Slack refused the message; see https://api.slack.com/methods/chat.postMessage#errors")
    return DeliveryError(f"slack {code}: {hint.format(channel=channel, secret=secret)}",
                         retryable=False)


def _transport_error(exc: BaseException, where: str) -> DeliveryError:
    reason = getattr(exc, "reason", None) or exc
    host = urlsplit(where).netloc or where
    return DeliveryError(f"cannot reach Slack ({host}): {reason}", retryable=True)


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    # slack-sdk hands over a plain dict with the server's spelling of each name (a list in some paths).
    for key, value in headers.items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) else value).strip()
    return None
