"""WeCom (企业微信) group robot: one markdown message per alert. WeCom robots sign nothing: the key in the
webhook's address is the robot's only credential.

Facts from WeCom's group robot documentation (developer.work.weixin.qq.com, 群机器人配置说明):
- POST {"msgtype": "markdown", "markdown": {"content": …}}; content at most 4096 bytes, UTF-8 (a longer one is
  refused with errcode 40058 "markdown.content exceed max length 4096"). Types: text (2048 bytes, no links),
  markdown, image, news, file, template_card.
- Markdown supports headings, bold, links, `code`, > quotes and <font color="info|comment|warning">; text and
  markdown messages mention members with <@userid>.
- A robot sends at most 20 messages a minute. Answers {"errcode": 0, "errmsg": "ok"}; 45009 api freq out of limit;
  93000 invalid webhook url (or the robot was removed from the group), 93004 机器人被停用, 93008 不在群里;
  44004 empty content; -1 系统繁忙.
Markdown is chosen: it is the one type with links and colour that takes free text; a template_card's fields are
short and fixed, and news needs a picture.
"""

from __future__ import annotations

from typing import Any

from alerts.notifiers import ChannelDown
from alerts.notifiers.hooks import JSON, Answer, HookNotifier, Refused, Request, body, platform_code
from alerts.notifiers.message import Message
from alerts.notifiers.text import fit, markdown

CONTENT_BYTES = 4096
RATE_LIMITED = {45009}
CHANNEL_BROKEN = {-1, 93000, 93004, 93008}
COLOURS = {"critical": "warning", "high": "warning"}  # the others: "comment" (grey)


def content(message: Message, reasons: str) -> str:
    colour = COLOURS.get(message.severity, "comment")
    lines = [f'**<font color="{colour}">{markdown(message.heading)}</font>**', f"**{markdown(message.title)}**"]
    lines += [f"> {label}：{markdown(value)}" for label, value in message.facts]
    if reasons:
        lines += ["触发原因：", reasons]
    if message.post_line:
        lines.append(markdown(message.post_line))
    links = "　".join(f"[{name}]({url})" for name, url in message.links)
    return "\n".join([*lines, links] if links else lines)


class WeComNotifier(HookNotifier):
    limits = ((20, 60.0),)

    def request(self, alert: dict[str, Any]) -> Request:
        message = Message.of(alert)
        reasons = "\n".join(f"· {markdown(reason)}" for reason in message.reasons)
        reasons = fit(lambda cut_reasons: len(content(message, cut_reasons).encode()), reasons, CONTENT_BYTES)
        return Request(self.settings.url, body({"msgtype": "markdown",
                                                "markdown": {"content": content(message, reasons)}}), JSON)

    def verdict(self, answer: Answer) -> None:
        code, why = platform_code(answer, "WeCom", ("errcode",), ("errmsg",))
        if code == 0:
            return
        if code in RATE_LIMITED or code in CHANNEL_BROKEN:
            raise ChannelDown(why)
        raise Refused(why)
