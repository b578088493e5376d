"""Alert mail over SMTP: one multipart/alternative message (plain text + HTML) per delivery and reader, all
of a round's messages over one connection. Each reader's message carries links signed for that reader."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

import settings as config
from alerts.labels import KIND_LABELS, SEVERITY_LABELS
from alerts.notifiers import ChannelDown
from alerts.tokens import Signer
from models import now, web_link

_templates = Environment(
    loader=PackageLoader("alerts", "templates"),
    # Every piece of crawled text reaches the HTML part escaped.
    autoescape=lambda name: bool(name and name.endswith(".html.j2")),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters["web_link"] = web_link


# What older payloads (alerts.db rows from before events, morning digests' items) may lack.
_DEFAULTS: dict[str, Any] = {
    "kind": "open", "change": "", "rules": [], "reasons": [], "context": "", "reach": "", "risk": None,
    "tier_label": "", "source": "", "platform": "", "author": "", "published": "", "excerpt": "", "event": None,
    "responses": [], "posts": [], "new_posts": 0, "level": 0, "level_recipients": [], "alert_url": "",
}


def subject(a: dict[str, Any]) -> str:
    kind = a["kind"]
    label = KIND_LABELS.get(kind, KIND_LABELS["open"])
    if a.get("template") == "morning":
        words = a["title"]
    elif kind == "open":  # the rules' titles: what kind of trouble, before what it is about
        words = f"{label}｜{'、'.join(r['title'] for r in a['rules']) or a['summary']}｜{a['title']}"
    elif kind == "escalation":
        words = f"{label}·第 {a['level']} 级｜{a['title']}"
    elif kind == "digest":
        words = f"{label}·新增 {a['new_posts']} 条｜{a['title']}"
    else:
        words = f"{label}｜{a['title']}"
    return " ".join(f"【{a['severity_label']}】{words}".split())[:200]


def render(alert: dict[str, Any], links: Callable[[int, str], str] | None = None) -> tuple[str, str, str]:
    """Subject, plain text and HTML for a payload (its `template` names the pair, default `alert`). `links`
    gives the reader's own signed link for an alert and an action."""
    a = {**_DEFAULTS, **alert}
    a.setdefault("severity_label", SEVERITY_LABELS.get(a["severity"], a["severity"]))
    name = a.get("template", "alert")
    values = {"a": a, "link_for": links or (lambda alert_id, action: ""), "heading": KIND_LABELS.get(a["kind"], KIND_LABELS["open"])}
    return (subject(a), _templates.get_template(f"{name}.txt.j2").render(**values),
            _templates.get_template(f"{name}.html.j2").render(**values))


class EmailNotifier:
    channel = "email"

    def __init__(self, smtp: config.Smtp, signer: Signer | None = None) -> None:
        self.smtp = smtp
        self.signer = signer

    def message(self, alert: dict[str, Any], recipients: list[str]) -> EmailMessage:
        signer, reader, at = self.signer, ", ".join(recipients), now()
        links = (lambda alert_id, action: signer.url(alert_id, action, reader, at)) if signer else None
        subject_line, text, html = render(alert, links)
        message = EmailMessage()
        message["Subject"] = subject_line
        message["From"] = self.smtp.sender
        message["To"] = reader
        message["Date"] = formatdate(localtime=True)
        # The same for every send of a message: a copy resent after a crash between the server's acceptance
        # and the outbox's record of it can be recognised, and dropped, by the mail system. Later mails of an
        # alert answer its first, so that mail programs show them as one thread.
        domain = self.smtp.sender.split("@")[-1]
        message["Message-ID"] = f"<yuqing-alert-{alert['message_key']}@{domain}>"
        if alert.get("thread"):
            message["In-Reply-To"] = message["References"] = f"<yuqing-alert-{alert['thread']}@{domain}>"
        if alert["severity"] in ("high", "critical"):
            message["X-Priority"] = "1"
            message["Importance"] = "high"
            message["Priority"] = "urgent"
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
            client = connect(smtp)
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


def connect(smtp: config.Smtp) -> smtplib.SMTP:
    """A connection to the [smtp] server, encrypted and logged in as configured; smtplib's errors pass through."""
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
    return client
