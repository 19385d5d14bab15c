"""`monitor check`'s notifier part: does each channel take our credentials? Slack's `auth.test` for a
bot token, an SMTP login (after STARTTLS or over TLS, as configured) for email. Nothing is sent.

A Slack incoming webhook and a signed webhook cannot be tried without posting: they are reported as
"not tried". Each answer says what to fix, never the secret itself.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from slack_sdk.errors import SlackApiError

from monitor.config import EmailConfig, NotifierConfig, Settings, SlackConfig
from monitor.notify.email import EmailNotifier, smtp_error
from monitor.notify.slack import web_client


@dataclass(frozen=True)
class CredentialCheck:
    notifier: str
    ok: bool | None  # None: not tried (nothing to try without sending)
    detail: str

    def __str__(self) -> str:
        mark = "ok" if self.ok else "not tried" if self.ok is None else "error"
        return f"{self.notifier:<28} {mark}: {self.detail}"


def check_credentials(settings: Settings, environ: Mapping[str, str]) -> Iterator[CredentialCheck]:
    for config in settings.notifiers:
        check = _CHECKS.get(type(config))
        yield check(config, environ) if check else CredentialCheck(config.name, None, f"{config.kind}: no "
                                                                   "credentials to try without sending")


def _slack(config: NotifierConfig, environ: Mapping[str, str]) -> CredentialCheck:
    assert isinstance(config, SlackConfig)
    if config.webhook_url_env:
        return CredentialCheck(config.name, None, "an incoming webhook cannot be tried without posting")
    token = environ.get(config.token_env, "").strip()
    if not token:
        return CredentialCheck(config.name, False, f"${config.token_env} is not set; put the bot token there")
    client = web_client(token, config.base_url, config.timeout.total_seconds())
    try:
        answer = client.auth_test()
    except SlackApiError as exc:
        code = exc.response.get("error", "unknown") if exc.response is not None else "unknown"
        return CredentialCheck(config.name, False, f"Slack refused the token in ${config.token_env} ({code}): "
                               "check it is the workspace's bot token (xoxb-…) and not revoked")
    except Exception as exc:  # network: the API unreachable
        return CredentialCheck(config.name, False, f"Slack's API at {config.base_url} did not answer: "
                               f"{exc.__class__.__name__}")
    return CredentialCheck(config.name, True, f"token accepted: {answer.get('user', '?')} in team "
                           f"{answer.get('team', '?')}")


def _email(config: NotifierConfig, environ: Mapping[str, str]) -> CredentialCheck:
    assert isinstance(config, EmailConfig)
    password = environ.get(config.password_env, "").strip() if config.username else None
    if config.username and not password:
        return CredentialCheck(config.name, False, f"${config.password_env} is not set; put the SMTP password there")
    sender = EmailNotifier(config, password, lambda: datetime.now(UTC))
    try:
        with sender._connect() as smtp:
            if config.username:
                smtp.login(config.username, password or "")
    except (smtplib.SMTPException, OSError) as exc:
        return CredentialCheck(config.name, False, smtp_error(exc, config).reason)
    what = f"login of {config.username} accepted" if config.username else "connected (no login configured)"
    return CredentialCheck(config.name, True, f"{config.smtp_host}:{config.port}: {what}")


_CHECKS: dict[type, Callable[[NotifierConfig, Mapping[str, str]], CredentialCheck]] = {
    SlackConfig: _slack, EmailConfig: _email,
}
