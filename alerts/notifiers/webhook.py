"""A generic JSON webhook: the alert's fields as one JSON object, POSTed, signed with HMAC-SHA256 when the
channel has a secret.

Signature: X-Yuqing-Timestamp is the time of sending (Unix seconds) and X-Yuqing-Signature is "sha256=" and the hex
HMAC-SHA256, keyed with the secret, of the timestamp, a ".", and the body's bytes. A receiver recomputes it and
refuses a timestamp more than five minutes off, so that a captured request cannot be replayed later.
X-Yuqing-Alert-Key is the same for every send of one delivery: a receiver can drop a repeat.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from alerts.notifiers import ChannelDown
from alerts.notifiers.hooks import JSON, Answer, HookNotifier, Refused, Request, body
from models import web_link

FIELDS = ("alert_id", "alert_key", "kind", "severity", "severity_label", "title", "scheme", "summary", "reasons",
          "context", "risk", "sentiment", "alert_url")
# The address is wrong, or the receiver refuses us whatever we send: the whole batch backs off.
CHANNEL_BROKEN = {401, 403, 404, 405, 410}


def signature(secret: str, timestamp: str, payload: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + payload, hashlib.sha256).hexdigest()


class WebhookNotifier(HookNotifier):
    def request(self, alert: dict[str, Any]) -> Request:
        # `url` is what a receiver may link: only an http(s) address, else null.
        payload = body({**{key: alert.get(key) for key in FIELDS}, "url": web_link(alert.get("url"))})
        headers = {**self.settings.headers, **JSON, "X-Yuqing-Alert-Key": str(alert.get("alert_key", ""))}
        if self.settings.secret:
            timestamp = str(int(self.clock()))
            headers |= {"X-Yuqing-Timestamp": timestamp,
                        "X-Yuqing-Signature": signature(self.settings.secret, timestamp, payload)}
        return Request(self.settings.url, payload, headers)

    def verdict(self, answer: Answer) -> None:
        if 200 <= answer.status < 300:
            return
        why = f"HTTP {answer.status}: {answer.text}"
        if answer.status in CHANNEL_BROKEN:
            raise ChannelDown(why)
        raise Refused(why)
