from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta

from analysis.dedup import NearDuplicateIndex, SimHasher, distance
from analysis.events import EventClusterer
from analysis.pipeline import Analyzer
from models import SHANGHAI, Post

BASE = "北辰燃料乙醇厂区附近恶臭难忍，居民投诉无人理，孩子咳嗽不止，打了十几次电话投诉，根本没人管，太失望了"


def test_near_duplicates_are_close_and_other_posts_far() -> None:
    h = SimHasher()
    fp = h.fingerprint(BASE)
    assert fp is not None
    assert distance(fp, h.fingerprint(BASE + "！！！[怒]")) <= 3  # type: ignore[arg-type]
    assert distance(fp, h.fingerprint("转：" + BASE)) <= 3  # type: ignore[arg-type]
    assert distance(fp, h.fingerprint("白桦风电项目开工，总投资十亿元，预计明年并网发电")) > 10  # type: ignore[arg-type]
    assert h.fingerprint("") is None and h.fingerprint("！！！") is None


def test_fingerprints_are_the_same_in_another_process() -> None:
    code = f"from analysis.dedup import SimHasher, to_hex; print(to_hex(SimHasher().fingerprint({BASE!r})))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other == f"{SimHasher().fingerprint(BASE):016x}"


def test_index_links_to_the_earliest_and_forgets_beyond_capacity() -> None:
    h = SimHasher()
    index = NearDuplicateIndex(capacity=2)
    assert index.check_and_add(h.fingerprint(BASE), "a") is None  # type: ignore[arg-type]
    assert index.check_and_add(h.fingerprint(BASE + "！"), "b") == "a"  # type: ignore[arg-type]
    assert index.check_and_add(h.fingerprint(BASE), "a") is None, "a re-crawl is not its own duplicate"  # type: ignore[arg-type]
    index.add(h.fingerprint("第二条完全不同的内容，讲的是风电项目"), "c")  # type: ignore[arg-type]
    index.add(h.fingerprint("第三条完全不同的内容，讲的是学校招生"), "d")  # type: ignore[arg-type]
    assert len(index) == 2 and index.find(h.fingerprint(BASE)) is None  # type: ignore[arg-type]


def test_repost_links_to_the_post_it_passes_on(analyzer: Analyzer) -> None:
    original = analyzer.analyse(Post(id="w:1", platform="weibo", source="s", url="", content=BASE))
    repost = analyzer.analyse(Post(id="w:2", platform="weibo", source="s", url="",
                                   content=f"太过分了，必须严查！//@河西业主:{BASE}"))
    assert original.dup_of is None and repost.dup_of == "w:1"


def _post(n: int, text: str, hours: float = 0, source: str = "s") -> Post:
    return Post(id=f"p{n}", platform="weibo", source=source, url="", content=text,
                published_at=datetime(2024, 3, 12, 8, tzinfo=SHANGHAI) + timedelta(hours=hours))


def test_events_group_one_story_across_sources_and_hours(analyzer: Analyzer) -> None:
    clusterer = EventClusterer()
    story = ["北辰燃料乙醇厂区附近恶臭难忍，居民投诉", "北辰燃料乙醇恶臭问题，居民再次投诉", "记者调查北辰燃料乙醇厂区恶臭投诉"]
    other = ["白桦风电项目今日开工建设", "白桦风电项目开工，总投资十亿"]
    events = []
    for n, (text, hours, source) in enumerate([(story[0], 0, "forum"), (other[0], 0.5, "news"), (story[1], 1, "weibo"),
                                                (other[1], 2, "news"), (story[2], 3, "news")]):
        post = analyzer.analyse(_post(n, text, hours, source))
        events.append(clusterer.assign(post, dict(analyzer.keywords.weighted(post.tokens))))
    assert events[0] is events[2] is events[4] and events[1] is events[3] and events[0] is not events[1]
    event = events[0]
    assert event.first_post == "p0" and event.size == 3 and dict(event.by_source) == {"forum": 1, "weibo": 1, "news": 1}
    assert "恶臭" in event.keywords and event.last_seen - event.first_seen == timedelta(hours=3)


def test_events_end_after_the_window_and_memory_is_bounded(analyzer: Analyzer) -> None:
    clusterer = EventClusterer(window=timedelta(hours=24), max_events=2)
    first = analyzer.analyse(_post(1, "北辰燃料乙醇厂区恶臭投诉"))
    later = analyzer.analyse(_post(2, "北辰燃料乙醇厂区恶臭投诉", hours=48))
    a = clusterer.assign(first, dict(analyzer.keywords.weighted(first.tokens)))
    b = clusterer.assign(later, dict(analyzer.keywords.weighted(later.tokens)))
    assert a is not b
    for n, text in enumerate(["学校招生简章发布", "地铁三号线开通运营", "图书馆延长开放时间"]):
        post = analyzer.analyse(_post(10 + n, text, hours=49))
        clusterer.assign(post, dict(analyzer.keywords.weighted(post.tokens)))
    assert len(clusterer.events) == 2


def test_a_duplicate_joins_its_originals_event_while_it_is_active(analyzer: Analyzer) -> None:
    clusterer = EventClusterer(window=timedelta(hours=24))
    original = analyzer.analyse(_post(1, "北辰燃料乙醇厂区恶臭难忍，居民投诉"))
    unrelated = analyzer.analyse(_post(2, "白桦风电项目今日开工建设", hours=1))
    event = clusterer.assign(original, dict(analyzer.keywords.weighted(original.tokens)))
    # Keywords alone would start a new event; being a duplicate of p1 puts it with p1.
    joined = clusterer.assign(unrelated, dict(analyzer.keywords.weighted(unrelated.tokens)), duplicate_of="p1")
    assert joined is event and event.size == 2
    late = analyzer.analyse(_post(3, "白桦风电项目今日开工建设", hours=40))
    assert clusterer.assign(late, dict(analyzer.keywords.weighted(late.tokens)), duplicate_of="p1") is not event
