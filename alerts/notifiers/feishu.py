"""Feishu (飞书) custom group robot: one message card per alert, signed (签名校验) when the robot has a secret.

Facts from Feishu's custom robot guide (open.feishu.cn, 自定义机器人使用指南):
- Signing: string_to_sign = timestamp + "\\n" + secret is the HmacSHA256 *key*; the signature is Base64 of the
  HMAC of an empty message. timestamp in seconds, within one hour (3600 s) of now; `timestamp` and `sign` go in
  the JSON body beside msg_type.
- Success: {"code": 0, "msg": "success", "data": {}}, with the redundant {"StatusCode": 0, "StatusMessage":
  "success"} of older answers. 9499 Bad Request (a malformed body, or one over 20 K); 19021 sign match fail or
  timestamp is not within one hour from current time; 19022 Ip Not Allowed; 19024 Key Words Not Found.
- A robot sends at most 100 messages a minute and 5 a second; 11232 is the rate-limit error. A request body may
  not exceed 20 KB.
- A card (msg_type "interactive", the card in "card") may open URLs from buttons; mentions (<at id=all>) work in
  its markdown, not in plain_text.
A card is chosen: its header is coloured by severity, every crawled text sits in a plain_text element, which no
client parses (nothing to escape, no mention or link can be smuggled in), and the links are buttons.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from alerts.notifiers import ChannelDown
from alerts.notifiers.hooks import JSON, Answer, HookNotifier, Refused, Request, body, platform_code
from alerts.notifiers.message import Message
from alerts.notifiers.text import fit

BODY_BYTES = 20000  # "20 KB", read as the smaller of 20,000 and 20,480
RATE_LIMITED = {11232}
# A wrong secret, clock or address: every message would fail the same way. 19021 and 19022 are in the guide;
# 19001 (incoming webhook access token invalid) and 19007 (Bot Not Enabled) are what such robots answer.
CHANNEL_BROKEN = {19001, 19007, 19021, 19022}
TEMPLATES = {"critical": "red", "high": "orange", "medium": "yellow", "low": "blue"}


def sign(timestamp: str, secret: str) -> str:
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _plain(content: str) -> dict[str, str]:
    return {"tag": "plain_text", "content": content}


def card(message: Message, reasons: str) -> dict[str, Any]:
    facts = "\n".join(f"{label}：{value}" for label, value in message.facts)
    texts = [message.title, facts, f"触发原因：\n{reasons}" if reasons else "", message.post_line]
    elements: list[dict[str, Any]] = [{"tag": "div", "text": _plain(text)} for text in texts if text]
    buttons = [{"tag": "button", "text": _plain(name), "type": "primary" if n == 0 else "default", "url": url}
               for n, (name, url) in enumerate(message.links)]
    elements += [{"tag": "action", "actions": buttons}] if buttons else []
    return {"config": {"wide_screen_mode": True},
            "header": {"template": TEMPLATES.get(message.severity, "red"), "title": _plain(message.headline)},
            "elements": elements}


class FeishuNotifier(HookNotifier):
    limits = ((5, 1.0), (100, 60.0))

    def request(self, alert: dict[str, Any]) -> Request:
        message = Message.of(alert)
        signature = {}
        if self.settings.secret:
            timestamp = str(int(self.clock()))
            signature = {"timestamp": timestamp, "sign": sign(timestamp, self.settings.secret)}

        def payload(reasons: str) -> bytes:
            return body({**signature, "msg_type": "interactive", "card": card(message, reasons)})

        reasons = "\n".join(f"· {reason}" for reason in message.reasons)
        return Request(self.settings.url,
                       payload(fit(lambda cut_reasons: len(payload(cut_reasons)), reasons, BODY_BYTES)), JSON)

    def verdict(self, answer: Answer) -> None:
        code, why = platform_code(answer, "Feishu", ("code", "StatusCode"), ("msg", "StatusMessage"))
        if code == 0:
            return
        # 9499 also comes back as "too many request" when a robot is over its rate (not in the guide, but seen).
        if code in RATE_LIMITED or code in CHANNEL_BROKEN or "too many request" in why.lower():
            raise ChannelDown(why)
        raise Refused(why)
