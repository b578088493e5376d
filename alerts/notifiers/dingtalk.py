"""DingTalk (钉钉) custom group robot: one markdown message per alert, signed (加签) when the robot has a secret.

Facts from DingTalk's custom robot documentation (open.dingtalk.com, 自定义机器人接入 / 发送群消息):
- Signing: string_to_sign = timestamp + "\\n" + secret; sign = urlEncode(Base64(HmacSHA256(string_to_sign, key =
  secret))), UTF-8; timestamp in milliseconds, within one hour of the call; `timestamp` and `sign` go into the
  webhook's query string, beside access_token.
- Answer: {"errcode": 0, "errmsg": "ok"} when sent. 410100 发送速度太快而限流 (older robots: 130101 "send too fast,
  exceed 20 times per minute"): a robot sends 20 messages a minute; over that it is throttled for 10 minutes.
  310000: a security setting refused the call (keywords not in content, sign not match, ip not in whitelist,
  an invalid timestamp). 400013 群已被解散, 400101 access_token不存在, 400102 机器人已停用, 400106 机器人不存在.
  400105 不支持的消息类型; 430101 含有不安全的外链, 430102-430104 不合适的文本 / 图片 / 内容. -1: 系统繁忙.
- Message types: text, link, markdown, actionCard, feedCard; for monitoring alerts the documentation suggests
  markdown, a summary in one message. A body over 20000 bytes is refused (body 大小不合法, 请保持大小在
  20000bytes 以内).
Markdown is chosen: headings, bold, lists and links render in every DingTalk client, and both links fit in the
text; an actionCard's buttons would add nothing the links do not give.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from alerts.notifiers import ChannelDown
from alerts.notifiers.hooks import JSON, Answer, HookNotifier, Refused, Request, body, platform_code, with_query
from alerts.notifiers.message import Message
from alerts.notifiers.text import cut, fit, markdown

BODY_BYTES = 20000
RATE_LIMITED = {410100, 130101}
# The robot, its group or its token is gone, or the platform is busy: nothing goes through it now. 300001 and
# 300005 (token is not exist) are what older robots answer for an unknown access_token.
CHANNEL_BROKEN = {-1, 300001, 300005, 400013, 400101, 400102, 400106}


def sign(timestamp: str, secret: str) -> str:
    """The documented signature, before the URL encoding that the query string gives it."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def text(message: Message, reasons: str) -> str:
    lines = [f"#### {markdown(message.heading)}", "", f"**{markdown(message.title)}**", ""]
    lines += [f"- {label}：{markdown(value)}" for label, value in message.facts]
    if reasons:
        lines += ["", "**触发原因**", "", reasons]
    if message.post_line:
        lines += ["", markdown(message.post_line)]
    links = "　".join(f"[{name}]({url})" for name, url in message.links)
    return "\n".join([*lines, "", links] if links else lines)


class DingTalkNotifier(HookNotifier):
    limits = ((20, 60.0),)

    def request(self, alert: dict[str, Any]) -> Request:
        message = Message.of(alert)
        query = {}
        if self.settings.secret:
            timestamp = str(round(self.clock() * 1000))
            query = {"timestamp": timestamp, "sign": sign(timestamp, self.settings.secret)}

        def payload(reasons: str) -> bytes:
            return body({"msgtype": "markdown",
                         "markdown": {"title": cut(message.headline, 60), "text": text(message, reasons)}})

        reasons = "\n".join(f"- {markdown(reason)}" for reason in message.reasons)
        return Request(with_query(self.settings.url, query),
                       payload(fit(lambda cut_reasons: len(payload(cut_reasons)), reasons, BODY_BYTES)), JSON)

    def verdict(self, answer: Answer) -> None:
        code, why = platform_code(answer, "DingTalk", ("errcode",), ("errmsg",))
        if code == 0:
            return
        if code in RATE_LIMITED or code in CHANNEL_BROKEN:
            raise ChannelDown(why)
        if code == 310000 and "keyword" not in why:  # the secret or the clock is wrong: every message would fail
            raise ChannelDown(f"{why} (check the channel's secret and this machine's clock)")
        raise Refused(why)
