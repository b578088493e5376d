"""What a chat message says about an alert, in Chinese, read once from the delivery payload for every robot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alerts.notifiers.text import cut, link, one_line

KIND_LABELS = {"open": "舆情预警", "update": "预警更新", "escalation": "预警升级", "digest": "预警汇总",
               "source": "采集源预警"}  # each has 预警, a keyword a robot's 自定义关键词 check can rely on
# A crawled title or reason can be any length; these caps keep one of them from crowding out the rest.
TITLE_CHARS = 120
REASON_CHARS = 300
LINE_CHARS = 200
LINK_CHARS = 1000  # a longer post address is shown cut, not linked: a link cannot be cut to fit a message


@dataclass(frozen=True)
class Message:
    """Plain one-line texts (not escaped: each platform escapes for its own format) and checked links."""

    severity: str
    heading: str                 # 【高】舆情预警
    title: str
    scheme: str
    context: str
    risk: str                    # "0.82", or "" when the payload has none
    sentiment: str               # "负面（正负倾向 0.08）", or ""
    reasons: tuple[str, ...]
    post_link: str | None        # the post's address when it may be linked (http or https)
    post_text: str               # else the address as text, to be shown but never linked
    alert_link: str | None       # the dashboard's alert page, where officers acknowledge and act

    @classmethod
    def of(cls, alert: dict[str, Any]) -> Message:
        severity = one_line(alert.get("severity"))
        label = one_line(alert.get("severity_label")) or severity
        kind = KIND_LABELS.get(str(alert.get("kind")), KIND_LABELS["open"])
        risk = alert.get("risk")
        post = one_line(alert.get("url"))
        post_link = link(post) if len(post) <= LINK_CHARS else None
        return cls(
            severity=severity,
            heading=f"【{label}】{kind}",
            title=cut(one_line(alert.get("title")) or "（无标题）", TITLE_CHARS),
            scheme=cut(one_line(alert.get("scheme_label") or alert.get("scheme")), LINE_CHARS),
            context=cut(one_line(alert.get("context")), LINE_CHARS),
            risk=f"{risk:.2f}" if isinstance(risk, int | float) and not isinstance(risk, bool) else "",
            sentiment=cut(one_line(alert.get("sentiment")), LINE_CHARS),
            reasons=tuple(cut(one_line(r), REASON_CHARS) for r in alert.get("reasons") or () if one_line(r)),
            post_link=post_link,
            post_text="" if post_link else cut(post, LINE_CHARS),
            alert_link=link(alert.get("alert_url")),
        )

    @property
    def headline(self) -> str:
        """For a notification's preview line: the heading and the title."""
        return f"{self.heading}：{self.title}"

    @property
    def facts(self) -> list[tuple[str, str]]:
        return [(label, value) for label, value in (("监测方案", self.scheme), ("事件", self.context),
                                                    ("情感", self.sentiment), ("风险", self.risk)) if value]

    @property
    def post_line(self) -> str:
        """The post's address as text, when it is not linked (not http(s), or too long), else ""."""
        return f"原帖地址（未加链接）：{self.post_text}" if self.post_text else ""

    @property
    def links(self) -> list[tuple[str, str]]:
        """(name, address): the alert page first, where officers act on it, then the post."""
        return [(name, url) for name, url in (("查看预警并处理", self.alert_link), ("打开原帖", self.post_link)) if url]
