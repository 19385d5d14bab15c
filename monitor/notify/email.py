"""Email over SMTP (standard library `smtplib` + `email`): one message per alert, or a digest on a
cron schedule (then `send` only queues the alert, and the digest's own send marks it sent).

Messages are multipart (plain text and HTML, the same content). Headers carry no text from articles
but the subject, made one line by `render.header_safe`; recipients come from the config alone and are
given to the server explicitly, never read back from headers. Each message has a Message-ID derived
from its outbox row, so the one message a crash can repeat arrives with the same Message-ID again.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from zoneinfo import ZoneInfo

from monitor.config import EmailConfig
from monitor.errors import DeliveryError
from monitor.models import Alert, AlertKind
from monitor.notify import Outcome, Receipt, Thread
from monitor.notify.catchup import CatchUpMessage, email_catch_up_html, email_catch_up_subject, email_catch_up_text
from monitor.notify.digest import Digest, digest_html, digest_subject, digest_text
from monitor.notify.render import email_html, email_subject, email_text

log = logging.getLogger(__name__)


class EmailNotifier:
    def __init__(self, config: EmailConfig, password: str | None, now: Callable[[], datetime],
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.name = config.name
        self.config = config
        self.tz = ZoneInfo(config.timezone)
        self.now = now
        self._password = password
        self._ssl = ssl_context or ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)

    @property
    def digest(self) -> bool:
        """With a schedule, alerts wait for the digest instead of leaving one by one."""
        return self.config.schedule is not None

    @property
    def send_empty(self) -> bool:
        return self.config.send_empty

    @property
    def catches_up(self) -> bool:
        """Per-alert email gets one catch-up email after downtime; a digest carries the alerts anyway."""
        return not self.digest

    def send(self, alert: Alert, thread: Thread | None) -> Receipt:
        if self.digest:
            return Receipt(Outcome.QUEUED, note="for the next digest")
        if alert.kind is AlertKind.FOLLOW_UP:
            return Receipt(Outcome.SKIPPED, note="follow-ups go to Slack threads and digests, not to per-alert email")
        message = self.message(email_subject(alert), email_text(alert, self.tz), email_html(alert, self.tz),
                               f"alert-{alert.id}")
        if thread is not None:  # an update: a reply to the event's first email, so mail clients thread it
            message["In-Reply-To"] = thread.ref
            message["References"] = thread.ref
        self.transmit(message)
        return Receipt(Outcome.SENT, ", ".join(self.config.recipients), str(message["Message-ID"]))

    def send_digest(self, digest: Digest, digest_id: int) -> Receipt:
        message = self.message(digest_subject(digest, self.tz), digest_text(digest, self.tz),
                               digest_html(digest, self.tz), f"digest-{digest_id}")
        self.transmit(message)
        return Receipt(Outcome.SENT, ", ".join(self.config.recipients), str(message["Message-ID"]))

    def send_catch_up(self, message: CatchUpMessage) -> Receipt:
        email = self.message(email_catch_up_subject(message), email_catch_up_text(message, self.tz),
                             email_catch_up_html(message, self.tz), f"catch-up-{message.until.timestamp():.0f}")
        self.transmit(email)
        return Receipt(Outcome.SENT, ", ".join(self.config.recipients), str(email["Message-ID"]))

    def preview(self, digest: Digest) -> str:
        return digest_html(digest, self.tz)

    def message(self, subject: str, text: str, html: str, ref: str) -> EmailMessage:
        message = EmailMessage(policy=SMTP)
        message["Subject"] = subject  # already one line (render.header_safe); the policy encodes non-ASCII
        message["From"] = self.config.sender
        message["To"] = ", ".join(self.config.recipients)
        message["Date"] = format_datetime(self.now())
        message["Message-ID"] = self.message_id(ref)
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        return message

    def message_id(self, ref: str) -> str:
        domain = parseaddr(self.config.sender)[1].rpartition("@")[2] or "monitor.invalid"
        return f"<monitor.{re.sub(r'[^A-Za-z0-9.-]', '-', self.name)}.{ref}@{domain}>"

    def transmit(self, message: EmailMessage) -> None:
        """Hand one message to the SMTP server, or raise a classified DeliveryError."""
        sender = parseaddr(self.config.sender)[1]
        recipients = [parseaddr(r)[1] for r in self.config.recipients]
        try:
            with self._connect() as smtp:
                if self.config.username:
                    smtp.login(self.config.username, self._password or "")
                refused = smtp.send_message(message, from_addr=sender, to_addrs=recipients)
        except (smtplib.SMTPException, OSError) as exc:
            raise smtp_error(exc, self.config) from None
        if refused:
            said = ", ".join(f"{r} ({c} {m.decode(errors='replace')})" for r, (c, m) in refused.items())
            log.warning("%s: the server refused %s; the other recipients accepted the message", self.name, said)

    def _connect(self) -> smtplib.SMTP:
        host, port, timeout = self.config.smtp_host, self.config.port, self.config.timeout.total_seconds()
        if self.config.security == "ssl":
            return smtplib.SMTP_SSL(host, port, timeout=timeout, context=self._ssl)
        smtp = smtplib.SMTP(host, port, timeout=timeout)
        if self.config.security == "starttls":
            try:
                smtp.starttls(context=self._ssl)
            except BaseException:
                smtp.close()
                raise
        return smtp


def smtp_error(exc: BaseException, config: EmailConfig) -> DeliveryError:
    """Every way an SMTP exchange fails, classified once: may a later try pass, and what to do."""
    where = f"{config.smtp_host}:{config.port}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryError(f"{where} refused the login of {config.username} ({_said(exc)}): check "
                             f"${config.password_env} and username", retryable=False)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"{where} does not support what the config asks ({str(exc).rstrip('.')}): check "
                             "security (ssl, starttls, none) and username", retryable=False)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        said = "; ".join(f"{r}: {c} {m.decode(errors='replace')}" for r, (c, m) in exc.recipients.items())
        return DeliveryError(f"{where} refused every recipient ({said})", retryable=all(400 <= c < 500 for c in codes))
    if isinstance(exc, smtplib.SMTPResponseException):  # sender refused, data refused, connect/helo errors
        return DeliveryError(f"{where} answered {_said(exc)}", retryable=not 500 <= exc.smtp_code < 600)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryError(f"{where} has a certificate this machine does not trust ({exc.verify_message}): "
                             "fix the server's certificate or set ca_file", retryable=False)
    if isinstance(exc, ssl.SSLError):
        return DeliveryError(f"TLS with {where} failed ({exc.reason}): check security and smtp_port "
                             "(465 is usually ssl, 587 starttls)", retryable=False)
    if isinstance(exc, smtplib.SMTPServerDisconnected | TimeoutError | OSError):
        return DeliveryError(f"cannot reach the SMTP server {where}: {exc}", retryable=True)
    return DeliveryError(f"{where}: {exc}", retryable=True)


def _said(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {' '.join(text.split())}"
