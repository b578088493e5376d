"""The demo's story, about a fictional company (北辰燃料乙醇有限公司 in the fictional 白桦市).

Routine coverage first; then a resident's complaint on the local forum; then reposts, a photo of the
river, a reporter's inquiry and the authorities' response. `at` is seconds after the demo starts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

COMPANY = "北辰燃料乙醇"
SOURCES = {"news": ("baihua-news", "local_media"), "forum": ("baihua-forum", "individual")}  # as the demo configures
# The sites' own names: the news feed's title, the forum's page titles; the demo configures both as display_name.
SITE_NAMES = {"news": "白桦新闻网", "forum": "白桦论坛"}


@dataclass(frozen=True)
class DemoPost:
    at: float
    kind: Literal["news", "forum"]
    slug: str
    title: str
    body: str
    author: str
    outlet: str = SITE_NAMES["news"]  # the 来源 line of its page: who wrote it
    replies: int = 0


TIMELINE: tuple[DemoPost, ...] = (
    DemoPost(0, "news", "n1", "北辰燃料乙醇二期项目通过竣工环保验收",
             "日前，北辰燃料乙醇有限公司二期项目通过竣工环境保护验收。验收组现场检查了污水处理站和废气治理设施，"
             "认为项目落实了环评要求，同意通过验收。二期项目投产后年产燃料乙醇三十万吨。", "本网记者 李明"),
    DemoPost(0, "news", "n2", "白桦市召开新能源产业座谈会",
             "白桦市日前召开新能源产业发展座谈会，北辰燃料乙醇、白桦风电等十余家企业负责人参加，"
             "大家就项目建设和人才引进交流了意见，会议气氛热烈。", "本网记者 王芳"),
    DemoPost(0, "forum", "t1", "北辰燃料乙醇二期投产，今年招聘操作工",
             "听说北辰燃料乙醇二期投产了，正在招操作工，工资待遇不错，有兴趣的朋友可以去看看。",
             "找工作的小张", replies=3),
    DemoPost(8, "news", "n3", "北辰燃料乙醇举办公众开放日 市民走进生产车间",
             "北辰燃料乙醇有限公司举办公众开放日活动，六十余名市民参观了生产车间和中控室，"
             "大家对企业的自动化水平和安全管理表示赞赏，纷纷点赞。", "本网记者 李明"),
    DemoPost(30, "forum", "t2", "北辰燃料乙醇厂区附近恶臭难忍，居民投诉无人理",
             "我们小区紧挨着北辰燃料乙醇的厂区，最近一个月每天晚上都有刺鼻的恶臭，孩子咳嗽不止，"
             "打了十几次电话投诉，根本没人管，太失望了！大家帮忙顶一下。", "河西小区业主", replies=57),
    DemoPost(45, "forum", "t3", "转：北辰燃料乙醇附近的恶臭到底有没有人管",
             "转自河西小区业主：北辰燃料乙醇厂区附近恶臭难忍，晚上根本不敢开窗，老人孩子都受不了，"
             "投诉了这么多次还是没有人管，气死了。", "白桦老王", replies=21),
    DemoPost(55, "forum", "t4", "实拍：北辰燃料乙醇排污口下游河水发黑",
             "今天沿着河边走了一趟，北辰燃料乙醇排污口下游的河水发黑发臭，岸边还有死鱼，"
             "怀疑偷排污水，拍了照片，希望环保部门管一管。", "钓鱼的老刘", replies=88),
    DemoPost(70, "news", "n4", "记者调查：北辰燃料乙醇周边居民反映夜间异味严重",
             "近日，多名河西小区居民向本报反映，北辰燃料乙醇厂区周边夜间异味严重，影响休息，"
             "居民多次投诉未获答复，有居民称孩子出现咳嗽症状。记者夜间实地探访，在小区内闻到明显刺鼻气味。",
             "本报记者 赵强", outlet="白桦晚报"),
    DemoPost(95, "news", "n5", "白桦市生态环境局回应北辰燃料乙醇异味投诉：已介入调查",
             "白桦市生态环境局表示，已接到河西小区居民关于北辰燃料乙醇周边异味的投诉，"
             "执法人员已进驻企业开展检查和采样监测，结果将及时向社会公布。", "本网记者 王芳"),
    DemoPost(120, "forum", "t5", "北辰燃料乙醇的事有后续了吗",
             "环保局说介入调查了，可是今晚还是很臭，到底什么时候能解决？我们要求公开监测数据。",
             "河西小区业主", replies=34),
)


def story_items(start: datetime, base_url: str, second: timedelta = timedelta(minutes=1)) -> list[dict[str, Any]]:
    """The story as the crawlers spool it (PostItems), each post published `second` per demo second after `start`
    and crawled a minute later: a minute a second tells it over two hours, as a real story unfolds."""
    items = []
    for post in TIMELINE:
        source, tier = SOURCES[post.kind]
        published = start + post.at * second
        items.append({
            "url": f"{base_url}/{post.kind}/{post.slug}.html", "source": source, "platform": post.kind,
            "source_tier": tier, "outlet": SITE_NAMES[post.kind], "native_id": post.slug, "title": post.title, "content": post.body,
            "author": post.author, "published_at": published.isoformat(),
            "crawled_at": (published + timedelta(minutes=1)).isoformat(), "metrics": {"comments": post.replies},
        })
    return items


def spool_story(spool: Path, start: datetime, base_url: str) -> Path:
    """The whole story in one spool file, as a crawl leaves it for ingest (see story_items)."""
    spool.mkdir(parents=True, exist_ok=True)
    path = spool / "demo-story.jsonl"
    path.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in story_items(start, base_url)),
                    encoding="utf-8")
    return path
