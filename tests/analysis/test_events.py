"""Events as officers see them: the demo's story is one event, routine coverage is not in it, official answers
are its responses, and a restart continues the same event."""

from __future__ import annotations

import os
import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import settings as config
from analysis.official import OfficialMatcher
from analysis.pipeline import Analyzer
from models import SHANGHAI, Author, Event, Post
from settings import Official
from yuqing.demo.runner import CONFIG
from yuqing.demo.timeline import COMPANY, SITE_NAMES, TIMELINE

START = datetime(2024, 3, 12, 20, 0, tzinfo=SHANGHAI)
STORY = ("t2", "t3", "t4", "n4", "n5", "t5")  # the smell, its repost, the river, the reporter, the bureau, later
ROUTINE = ("n1", "n2", "t1", "n3")  # 验收, 座谈会, 招聘, 开放日


def demo_settings() -> config.Settings:
    text = CONFIG.format(store="var", company=COMPANY, site="http://127.0.0.1:9", interval=15, smtp_port=9, port=9)
    return config.Settings(**tomllib.loads(text))


def demo_items(start: datetime = START) -> list[dict[str, Any]]:
    """The story as the demo's crawlers hand it over: in the order published, with each source's tier."""
    tiers = {s.name: s.tier for s in demo_settings().sources}
    items = []
    for post in TIMELINE:
        source = "baihua-news" if post.kind == "news" else "baihua-forum"
        items.append({"url": f"http://127.0.0.1:9/{post.kind}/{post.slug}.html", "platform": post.kind,
                      "source": source, "source_tier": tiers[source], "outlet": SITE_NAMES[post.kind], "title": post.title, "content": post.body,
                      "author": post.author, "published_at": start + timedelta(seconds=post.at)})
    return items


def slug(post: Post) -> str:
    return post.url.rsplit("/", 1)[1].removesuffix(".html")


def analysed_story(analyzer: Analyzer, items: list[dict[str, Any]]) -> dict[str, Post]:
    """Each post analysed on its own, in order, as ingest analyses what each crawl brings."""
    return {slug(post): post for post in (analyzer.analyse(Post.from_item(item)) for item in items)}


def test_the_demo_story_is_one_event_and_routine_coverage_is_not_in_it() -> None:
    analyzer = Analyzer.from_settings(demo_settings())
    posts = analysed_story(analyzer, demo_items())
    story = posts["t2"].event_id
    assert story and [posts[s].event_id for s in STORY] == [story] * len(STORY)
    assert all(posts[s].event_id != story for s in ROUTINE), {s: posts[s].event_id for s in ROUTINE}
    events = {e.id: e for e in analyzer.take_changed_events()}
    event = events[story]
    assert event.posts == 6 and event.first_post == posts["t2"].id and event.first_poster == "河西小区业主"
    assert event.title == "北辰燃料乙醇厂区附近恶臭难忍，居民投诉无人理"
    assert event.responses == [posts["n5"].id], "the bureau's answer is the event's response"
    assert posts["n5"].official and not any(posts[s].official for s in STORY if s != "n5")
    assert event.schemes == ["beichen"]
    # The company is in every post, 转自 and 记者 in any story: none of them tells this one apart.
    assert "恶臭" in event.keywords and not {COMPANY, "转自", "记者"} & set(event.keywords)
    assert event.by_tier == {"individual": 4, "local_media": 2} and event.by_platform == {"forum": 4, "news": 2}
    assert event.by_outlet == {"白桦论坛": 4, "白桦新闻网": 2}, "people read the outlets' names, not source ids"
    # 20:00:30 … 20:02:00: one ten-minute bucket, one hour, in Shanghai time.
    assert event.per_10min == {"2024-03-12T20:00:00+08:00": 6} and event.per_hour == {"2024-03-12T20:00:00+08:00": 6}
    assert event.growth == 6 and event.risk == max(posts[s].risk for s in STORY)  # type: ignore[type-var]
    assert event.first_seen == START + timedelta(seconds=30) and event.last_seen == START + timedelta(seconds=120)


def test_two_accidents_on_one_day_are_two_events_each_with_its_own_reports() -> None:
    """A second accident must open an alert of its own: it may not hide in the first one's event."""
    analyzer = Analyzer.from_settings(demo_settings())
    texts = [
        ("北辰燃料乙醇储罐区突发爆炸起火，浓烟冲天", "今天下午储罐区传出巨响，随后起火，浓烟几公里外都能看到，消防车正在赶往现场。"),
        ("北辰燃料乙醇运输槽车高速侧翻，乙醇泄漏", "一辆北辰燃料乙醇的运输槽车在白桦高速侧翻，车上乙醇大量泄漏，高速双向封闭。"),
        ("北辰燃料乙醇储罐区火情仍在扑救", "储罐区起火后浓烟不断，消防部门调集多台泡沫车，周边道路已经封闭。"),
        ("白桦高速北辰燃料乙醇槽车侧翻现场清理中", "槽车侧翻后路政人员正在用沙土吸附泄漏的乙醇，高速预计晚间恢复通行。"),
    ]
    fire, tanker, fire_later, tanker_later = (
        analyzer.analyse(Post(id=f"n:{n}", platform="news", source="s", url="", title=title, content=body,
                              published_at=START + timedelta(minutes=10 * n)))
        for n, (title, body) in enumerate(texts))
    assert fire.event_id and tanker.event_id and fire.event_id != tanker.event_id
    assert fire_later.event_id == fire.event_id and tanker_later.event_id == tanker.event_id


def test_a_repost_joins_its_originals_event(analyzer: Analyzer) -> None:
    text = "北辰燃料乙醇厂区附近恶臭难忍，晚上根本不敢开窗，投诉了这么多次还是没有人管"
    original = analyzer.analyse(Post(id="w:1", platform="weibo", source="s", url="", content=text))
    repost = analyzer.analyse(Post(id="w:2", platform="weibo", source="s", url="",
                                   content=f"白桦风电项目开工了//@河西业主:{text}"))
    assert repost.dup_of == "w:1" and repost.event_id == original.event_id


def test_only_the_events_changed_since_the_last_take_come_out() -> None:
    analyzer = Analyzer.from_settings(demo_settings())
    items = demo_items()
    analysed_story(analyzer, items[:5])  # routine news, then the first complaint
    assert len(analyzer.take_changed_events()) >= 2
    posts = analysed_story(analyzer, items[5:6])  # the repost of the complaint
    changed = analyzer.take_changed_events()
    assert [e.id for e in changed] == [posts["t3"].event_id] and changed[0].posts == 2
    assert analyzer.take_changed_events() == []


@pytest.mark.parametrize("stored_as_json", [False, True])
def test_a_restart_continues_the_same_event(stored_as_json: bool) -> None:
    items = demo_items()
    before = Analyzer.from_settings(demo_settings())
    first_half = analysed_story(before, items[:6])  # up to the repost of the complaint
    events = before.take_changed_events()
    if stored_as_json:  # as a store gives them back
        events = [Event.model_validate_json(e.model_dump_json()) for e in events]
    after = Analyzer.from_settings(demo_settings())  # a new process: nothing in memory
    after.restore_events(events)
    second_half = analysed_story(after, items[6:])
    story = first_half["t2"].event_id
    assert [second_half[s].event_id for s in ("t4", "n4", "n5", "t5")] == [story] * 4
    event = next(e for e in after.take_changed_events() if e.id == story)
    assert event.posts == 6 and event.first_post == first_half["t2"].id and event.responses == [second_half["n5"].id]
    assert event.per_10min == {"2024-03-12T20:00:00+08:00": 6}


def test_restoring_keeps_an_event_the_analyser_already_holds() -> None:
    analyzer = Analyzer.from_settings(demo_settings())
    posts = analysed_story(analyzer, demo_items()[4:6])
    stale = analyzer.take_changed_events()[0].model_copy(update={"posts": 1})
    analyzer.restore_events([stale])
    analysed_story(analyzer, demo_items()[6:7])
    assert [e.posts for e in analyzer.take_changed_events() if e.id == posts["t2"].event_id] == [3]


def test_status_by_time_since_the_last_post() -> None:
    event = Event(id="evt:1", title="t", first_post="p", first_poster="a", first_seen=START, last_seen=START,
                  updated_at=START)
    assert event.status_at(START + timedelta(hours=6) - timedelta(seconds=1)) == "active"
    assert event.status_at(START + timedelta(hours=6)) == "cooling"
    assert event.status_at(START + timedelta(hours=72) - timedelta(seconds=1)) == "cooling"
    assert event.status_at(START + timedelta(hours=72)) == "closed"


BUREAU = "白桦市生态环境局"


@pytest.mark.parametrize(("title", "official"), [
    ("白桦市生态环境局回应北辰燃料乙醇异味投诉：已介入调查", True),
    ("白桦市生态环境局通报北辰燃料乙醇周边异味问题调查进展", True),
    ("白桦市生态环境局关于北辰燃料乙醇厂区周边异味投诉的情况说明", True),
    ("北辰燃料乙醇异味扰民 白桦市生态环境局：已介入调查", True),
    ("白桦市生态环境局：将依法严肃处理", True),
    ("白桦市生態環境局回應北辰燃料乙醇異味投訴", True),  # traditional characters
    ("北辰燃料乙醇周边河水发黑，居民向白桦市生态环境局投诉多次无果", False),  # only mentions the bureau
    ("居民质疑白桦市生态环境局迟迟未回应", False),
    ("网友要求白桦市生态环境局尽快回应居民关切", False),
    ("白桦市生态环境局回应了吗？居民还在等", False),
    ("白桦市生态环境局局长到北辰燃料乙醇调研", False),
    ("北辰燃料乙醇回应异味投诉", False),  # the company's own answer, reported: not the bureau's
])
def test_an_official_bodys_statement_is_told_from_a_mention(title: str, official: bool) -> None:
    matcher = OfficialMatcher(Official(bodies=[BUREAU]))
    post = Post(id="news:1", platform="news", source="baihua-news", url="", title=title, content="正文")
    assert matcher(post) is official


def test_official_sources_and_accounts() -> None:
    matcher = OfficialMatcher(Official(sources=["beichen-site"], authors=["北辰燃料乙醇官方微博", "5512345"]))

    def post(source: str = "weibo", name: str = "", author_id: str = "") -> Post:
        return Post(id="w:1", platform="weibo", source=source, url="", content="关于近期网传信息的说明",
                    author=Author(name=name, id=author_id))

    assert matcher(post(source="beichen-site"))
    assert matcher(post(name="北辰燃料乙醇官方微博")) and matcher(post(author_id="5512345"))
    assert not matcher(post(name="北辰燃料乙醇官方微博的粉丝")) and not matcher(post(name="河西小区业主"))


def test_official_sources_must_be_configured() -> None:
    with pytest.raises(ValueError, match=r"\[official\] sources names \['nope'\], not configured"):
        config.Settings(official={"sources": ["nope"]})


TOPICS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "topics" / "weibo2018_topics.jsonl"


def test_events_keep_labelled_topics_apart() -> None:
    """Purity on 600 Weibo posts of six labelled topics (the set beside the project; YUQING_TOPICS names another
    copy), as benchmarks/events.py measures it."""
    from benchmarks.events import clustered, purity

    data = Path(os.environ.get("YUQING_TOPICS", TOPICS))
    if not data.exists():
        pytest.skip(f"no labelled topic set at {data}")
    assert purity(clustered(data)) >= 0.90


def test_a_post_crawled_again_is_counted_once() -> None:
    analyzer = Analyzer.from_settings(demo_settings())
    item = demo_items()[4]
    first = analyzer.analyse(Post.from_item(item))
    again = analyzer.analyse(Post.from_item({**item, "metrics": {"comments": 90}}))
    assert again.event_id == first.event_id
    [event] = analyzer.take_changed_events()
    assert event.posts == 1 and event.per_10min == {"2024-03-12T20:00:00+08:00": 1}
