"""Alert mail over SMTP: one multipart/alternative message (plain text + HTML) per alert."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

import settings as config
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
        # Stable per alert: a resend after a crash between "accepted" and "marked sent" is recognisable.
        message["Message-ID"] = f"<yuqing-alert-{alert['alert_id']}@{self.smtp.sender.split('@')[-1]}>"
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        return message

    def send(self, alert: dict[str, Any], recipients: list[str]) -> None:
        message = self.message(alert, recipients)
        smtp = self.smtp
        if smtp.tls == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        with client:
            if smtp.tls == "starttls":
                client.starttls(context=ssl.create_default_context())
            if smtp.user:
                client.login(smtp.user, smtp.password)
            client.send_message(message, to_addrs=recipients)
