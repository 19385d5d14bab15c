"""A real SMTP server (aiosmtpd) in the test process, on 127.0.0.1 and a free port.

    with SMTPServer(tls=certificate, login=("monitor", "s3cret")) as smtp:   # STARTTLS and AUTH required
        ...  # send to 127.0.0.1:smtp.port
        [mail] = smtp.wait_for_mail(1)
        mail.envelope_to, mail.message["Subject"]

`smtp.down = "421 4.3.0 try again later"` makes it refuse every message with that reply until cleared.
"""

from __future__ import annotations

import email
import email.policy
import ssl
import subprocess
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class Mail:
    envelope_from: str
    envelope_to: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return cast(EmailMessage, email.message_from_bytes(self.data, policy=email.policy.default))


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_certificate(directory: Path) -> Certificate:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return Certificate(cert, key)


class _Handler:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        if self.server.down:
            return self.server.down
        content = envelope.original_content or b""
        self.server._received(Mail(str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 2.0.0 OK: queued"


class _Controller(Controller):
    def _trigger_server(self) -> None:
        # Bound to port 0: learn the real port before the readiness check connects to it.
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SMTPServer:
    def __init__(self, tls: Certificate | None = None, login: tuple[str, str] | None = None,
                 implicit_tls: bool = False) -> None:
        """`tls`: offer STARTTLS and require it; with `implicit_tls`, TLS from the first byte instead."""
        self.down: str | None = None
        self.mail: list[Mail] = []
        self.logins: list[tuple[str, str]] = []
        self._changed = threading.Condition()
        self._login = login
        options: dict[str, Any] = {}
        if tls is not None and implicit_tls:
            options.update(ssl_context=tls.server_context())
        elif tls is not None:
            options.update(tls_context=tls.server_context(), require_starttls=True)
        if login is not None:
            # aiosmtpd counts only STARTTLS as TLS for AUTH: with implicit TLS, AUTH is offered, not required
            options.update(authenticator=self._authenticate, auth_require_tls=tls is not None and not implicit_tls,
                           auth_required=not implicit_tls)
        self._controller = _Controller(_Handler(self), hostname="127.0.0.1", port=0, **options)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def __enter__(self) -> SMTPServer:
        self._controller.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._controller.stop()

    def wait_for_mail(self, count: int, timeout: float = 5.0) -> list[Mail]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.mail) >= count, timeout):
                raise AssertionError(f"expected {count} messages, the server got {len(self.mail)} in {timeout} s")
            return list(self.mail)

    def _received(self, mail: Mail) -> None:
        with self._changed:
            self.mail.append(mail)
            self._changed.notify_all()

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            self.logins.append((login, password))
            return AuthResult(success=(login, password) == self._login, handled=False)  # False: aiosmtpd says 535
        return AuthResult(success=False, handled=False)
