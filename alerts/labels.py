"""Chinese labels for what alerts say to people: mail, the dashboard's alert pages, chat robots."""

from __future__ import annotations

SEVERITIES = ("low", "medium", "high", "critical")  # lowest first: a severity "rises" along this order

SEVERITY_LABELS = {"low": "低", "medium": "中", "high": "高", "critical": "紧急"}

STATE_LABELS = {"open": "待处理", "acknowledged": "已确认", "resolved": "已解决"}

# What people may do to an alert (AlertState.act).
ACTION_LABELS = {"ack": "确认", "assign": "指派", "resolve": "解决", "reopen": "重新打开", "note": "备注"}

# Every action a history row can name: people's, and what the service itself does.
HISTORY_LABELS = {**ACTION_LABELS, "open": "创建", "update": "更新", "escalate": "升级"}

# What each kind of delivery is called at the head of a mail.
KIND_LABELS = {"open": "舆情预警", "update": "预警更新", "escalation": "预警升级", "digest": "事件进展",
               "source": "采集源告警"}

TIER_LABELS = {"central": "中央媒体", "provincial": "省级媒体", "local_media": "地方媒体", "industry": "行业媒体",
               "self_media": "自媒体", "individual": "个人", "unknown": "未知"}

# Platforms (Post.platform), as a statement or a page names them.
PLATFORM_LABELS = {"news": "新闻网站", "forum": "论坛", "weibo": "微博", "tieba": "贴吧", "wechat": "微信公众号",
                   "zhihu": "知乎", "rss": "新闻网站", "video": "视频平台"}


SENTIMENT_LABELS = {"negative": "负面", "neutral": "中性", "positive": "正面", "unknown": "未分析"}


def sentiment_text(label: str, score: float) -> str:
    """The label is the verdict; the score beside it is only its lean (0 = 负面, 1 = 正面), never a second one."""
    return f"{SENTIMENT_LABELS.get(label, label)}（正负倾向 {score:.2f}）"


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)
