"""Alert mail over SMTP: one multipart/alternative message (plain text + HTML) per alert, all of a round's
messages over one connection."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

import settings as config
from alerts.notifiers import ChannelDown
from models import web_link

_templates = Environment(
    loader=PackageLoader("alerts", "templates"),
    # Every piece of crawled text reaches the HTML part escaped.
    autoescape=lambda name: bool(name and name.endswith(".html.j2")),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters["web_link"] = web_link


def render(alert: dict[str, Any]) -> tuple[str, str, str]:
    """Subject, plain text and HTML for an alert payload (its `template` names the pair, default `alert`)."""
    subject = f"[yuqing][{alert['severity'].upper()}] {alert['scheme']}: {alert['title']}"
    subject = " ".join(subject.split())[:200]
    name = alert.get("template", "alert")
    return (subject, _templates.get_template(f"{name}.txt.j2").render(a=alert),
            _templates.get_template(f"{name}.html.j2").render(a=alert))


class EmailNotifier:
    channel = "email"

    def __init__(self, smtp: config.Smtp) -> None:
        self.smtp = smtp

    def message(self, alert: dict[str, Any], recipients: list[str]) -> EmailMessage:
        subject, text, html = render(alert)
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self.smtp.sender
        message["To"] = ", ".join(recipients)
        message["Date"] = formatdate(localtime=True)
        # The same for every send of a message: a copy resent after a crash between the server's acceptance
        # and the outbox's record of it can be recognised, and dropped, by the mail system. Later mails of an
        # alert answer its first, so that mail programs show them as one thread.
        domain = self.smtp.sender.split("@")[-1]
        message["Message-ID"] = f"<yuqing-alert-{alert['message_key']}@{domain}>"
        if alert["message_key"] != alert["alert_key"]:
            message["In-Reply-To"] = message["References"] = f"<yuqing-alert-{alert['alert_key']}@{domain}>"
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        return message

    @contextmanager
    def session(self) -> Iterator[_Session]:
        session = _Session(self)
        try:
            yield session
        finally:
            session.close()


class _Session:
    def __init__(self, notifier: EmailNotifier) -> None:
        self.notifier = notifier
        self._client: smtplib.SMTP | None = None

    def send(self, alert: dict[str, Any], recipients: list[str]) -> None:
        message = self.notifier.message(alert, recipients)
        client = self._client or self._connect()
        try:
            client.send_message(message, to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused:
            raise  # refused this message only; smtplib has reset the session for the next one
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:  # the server is closing the connection
                self._drop()
                raise ChannelDown(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise
        except OSError as exc:  # timed out or disconnected: the connection is gone
            self._drop()
            raise ChannelDown(f"{type(exc).__name__}: {exc}") from exc

    def _connect(self) -> smtplib.SMTP:
        smtp = self.notifier.smtp
        try:
            if smtp.tls == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout,
                                                        context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
            try:
                if smtp.tls == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if smtp.user:
                    client.login(smtp.user, smtp.password)
            except BaseException:
                client.close()
                raise
        except OSError as exc:  # smtplib's errors are OSErrors too
            raise ChannelDown(f"{smtp.host}:{smtp.port}: {type(exc).__name__}: {exc}") from exc
        self._client = client
        return client

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.quit()
            except OSError:
                pass  # what was sent is recorded already; a QUIT that fails changes nothing
            self._drop()

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
