"""An event's page over the demo's story in a real store and a real alert state; Weibo repost chains."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from parsel import Selector
from starlette.testclient import TestClient

from analysis.grams import index_grams
from dashboards.web.app import create_app
from dashboards.web.event_pages import CHAIN_DEPTH, growth, repost_chains
from models import SHANGHAI, Author, Correction, Event, Metrics, Post, Sentiment, now
from store.embedded import EmbeddedStore
from tests.dashboards.conftest import HOSTS, Desk, alerts, parse

COMPLAINT = ["forum:t2", "forum:t3", "forum:t4", "news:n4", "news:n5", "forum:t5"]


def _event_id(desk: Desk) -> str:
    post = desk.store.get("forum:t2")
    assert post is not None and post.event_id
    return post.event_id


def test_the_event_page_tells_the_story_in_order(desk: Desk) -> None:
    event_id = _event_id(desk)
    page = desk.client().get(f"/events/{event_id}")
    assert page.status_code == 200
    html = Selector(page.text)
    assert html.css(".alert-head .title::text").get() == "北辰燃料乙醇厂区附近恶臭难忍，居民投诉无人理"
    assert html.css("#first-poster a::text").get() == "河西小区业主"
    assert html.css("#first-poster a::attr(href)").get() == "/posts/forum:t2"
    assert html.css("#posts::text").get().startswith("共 6 条")
    timeline = html.css("#timeline li[data-post-id]")
    assert [li.attrib["data-post-id"] for li in timeline] == COMPLAINT  # oldest first
    first, official = timeline[0], timeline[4]
    assert first.css(".tag.first::text").get() == "首发" and first.css(".tag.negative::text").get() == "负面"
    assert "评论 57" in " ".join(first.css(".meta span::text").getall())
    assert "论坛" in first.css(".meta span::text").getall() and "河西小区业主" in first.css(".meta span::text").getall()
    assert official.css(".tag.official::text").get() == "官方回应" and official.attrib["class"] == "official"
    assert len(html.css("#timeline .tag.official")) == 1 and len(html.css("#timeline .tag.first")) == 1
    assert all(a.attrib["href"].startswith("/posts/") for a in timeline.css("a"))  # the analysis, then the original
    assert html.css("#reposts .empty::text").get() == "此事件没有微博转发"



def test_an_analysts_correction_shows_in_the_events_figures_at_once(desk: Desk) -> None:
    event_id = _event_id(desk)
    split = (lambda: " ".join(Selector(desk.client().get(f"/events/{event_id}").text)
                              .css("#event-sentiment::text").get().split()))
    before = split()
    photo = desk.store.get("forum:t4")  # the photo of the river, which the model reads as negative
    assert photo is not None and photo.sentiment is not None and photo.sentiment.label == "negative"
    desk.store.correct("forum:t4", Correction(sentiment="neutral", by="李明", at=now()))
    after = split()
    counts = {word: int(n) for word, n in zip(after.split()[::2], after.split()[1::2])}
    was = {word: int(n) for word, n in zip(before.split()[::2], before.split()[1::2])}
    assert counts["负面"] == was["负面"] - 1 and counts["中性"] == was.get("中性", 0) + 1
    assert desk.store.get_event(event_id).by_sentiment == {  # type: ignore[union-attr]
        k: v for k, v in {"negative": was["负面"], "neutral": was.get("中性", 0),
                          "positive": was.get("正面", 0)}.items() if v}  # the stored event is analysis's own

def test_the_growth_chart_has_a_bar_for_every_ten_minutes(desk: Desk) -> None:
    event = desk.store.get_event(_event_id(desk))
    assert event is not None
    html = Selector(desk.client().get(f"/events/{event.id}").text)
    bars = html.css("#growth svg rect.bar")
    starts = sorted(datetime.fromisoformat(s) for s in event.per_10min)
    assert len(bars) == (starts[-1] - starts[0]) // timedelta(minutes=10) + 1  # quiet buckets drawn as empty
    counts = [int(b.attrib["data-count"]) for b in bars]
    assert sum(counts) == event.posts == 6 and counts[0] >= 1 and counts[-1] >= 1
    heights = [float(b.attrib["height"]) for b in bars]
    assert max(heights) > 0 and all(h == 0 for h, n in zip(heights, counts) if n == 0)
    ticks = html.css("#growth svg text.tick::text").getall()
    assert ticks[0] == f"{starts[0].astimezone(SHANGHAI):%m-%d %H:%M}"  # dated, not just a clock time


def test_growth_across_midnight_dates_the_new_day_and_caps_old_buckets() -> None:
    start = datetime(2026, 3, 1, 23, 0, tzinfo=SHANGHAI)
    chart = growth({(start + timedelta(minutes=10 * i)).isoformat(): 1 for i in range(12)})
    assert chart is not None and len(chart.bars) == 12
    assert chart.ticks[0][1] == "03-01 23:00" and any(text == "03-02 00:00" for _, text in chart.ticks)
    long = growth({start.isoformat(): 1, (start + timedelta(days=10)).isoformat(): 3})
    assert long is not None and len(long.bars) == 432 and long.bars[-1].count == 3
    assert growth({}) is None


def test_the_event_page_shows_its_alert_and_the_alerts_state(desk: Desk) -> None:
    c = desk.client()
    address = f"/events/{_event_id(desk)}"
    alert = Selector(c.get(address).text).css(f"#alerts li[data-alert-id='{desk.alert_id}']")
    assert alert.css("a::attr(href)").get() == f"/alerts/{desk.alert_id}"
    assert alert.css(".tag.high::text").get() == "高" and alert.css(".tag.state-open::text").get() == "待处理"
    desk.state.act(desk.alert_id, "ack", "张三", now())
    again = Selector(c.get(address).text).css(f"#alerts li[data-alert-id='{desk.alert_id}']")
    assert again.css(".tag.state-acknowledged::text").get() == "已确认"
    quiet = Selector(c.get(f"/events/{desk.store.get('news:n2').event_id}").text)  # type: ignore[union-attr]
    assert quiet.css("#alerts .empty::text").get() == "此事件尚未触发预警"
    missing = c.get("/events/evt:0000")
    assert missing.status_code == 404 and "evt:0000" in missing.text


def _weibo(n: str, minutes: int, repost_of: str | None = None, start: datetime | None = None) -> Post:
    at = (start or now() - timedelta(hours=2)) + timedelta(minutes=minutes)
    return Post(id=f"weibo:{n}", platform="weibo", source="weibo", url=f"https://weibo.example/{n}", title="",
                content=f"微博{n} 北辰燃料乙醇 恶臭", author=Author(name=f"用户{n}", followers=100 * minutes),
                published_at=at, repost_of=f"weibo:{repost_of}" if repost_of else None,
                metrics=Metrics(reposts=minutes), sentiment=Sentiment(label="negative", score=0.1), event_id="evt:w")


def test_weibo_repost_chains_nest_under_what_they_repost(tmp_path: Path) -> None:
    posts = [_weibo("1", 0), _weibo("2", 5, "1"), _weibo("3", 9, "2"), _weibo("4", 12, "1"),
             _weibo("5", 20, "outside"), _weibo("6", 30), _weibo("7", 31, "8"), _weibo("8", 32, "7")]
    first = posts[0].time
    event = Event(id="evt:w", title="微博1", first_post="weibo:1", first_poster="用户1", first_seen=first,
                  last_seen=posts[-1].time, posts=len(posts), by_platform={"weibo": len(posts)},
                  per_10min={first.isoformat(): 3, (first + timedelta(minutes=30)).isoformat(): 3}, updated_at=now())
    with EmbeddedStore(tmp_path / "store", grams=index_grams) as store:
        store.upsert(posts)
        store.upsert_events([event])
        app = create_app(store, alerts, parse, allowed_hosts=HOSTS, labels={"platform": {"weibo": "微博"}})
        page = TestClient(app, base_url="http://127.0.0.1").get("/events/evt:w")
    assert page.status_code == 200
    chains = Selector(page.text).css("#reposts ul.chain")
    root = chains[0].xpath("./li")
    assert root.attrib["data-post-id"] == "weibo:1"
    assert root.xpath("./ul/li/@data-post-id").getall() == ["weibo:2", "weibo:4"]  # its reposts, oldest first
    assert root.xpath("./ul/li[@data-post-id='weibo:2']/ul/li/@data-post-id").getall() == ["weibo:3"]
    outside = chains[1].xpath("./li")
    assert "转发自" in outside.get() and outside.xpath("./a/@href").get() == "/posts/weibo:outside"
    assert outside.xpath("./ul/li/@data-post-id").get() == "weibo:5"
    assert len(chains) == 2  # weibo:6 reposted by no one is no chain; the loop 7 ⇄ 8 has no root


def test_a_repost_chain_deeper_than_the_page_shows_is_cut() -> None:
    start = now()
    posts = [_weibo("0", 0, start=start)] + [_weibo(str(n), n, str(n - 1), start) for n in range(1, 40)]
    (chain,) = repost_chains(posts)
    depth = 0
    while chain.reposts:
        (chain,) = chain.reposts
        depth += 1
    assert depth == CHAIN_DEPTH


def test_every_post_of_an_event_can_be_searched_and_exported_from_its_page(desk: Desk) -> None:
    c = desk.client()
    event_id = _event_id(desk)
    found = c.get(Selector(c.get(f"/events/{event_id}").text).css("#event-search::attr(href)").get())
    assert found.status_code == 200
    html = Selector(found.text)
    assert html.css("#results-list li::attr(data-post-id)").getall() == COMPLAINT[::-1]  # newest first
    assert html.css("#event-filter a::attr(href)").get() == f"/events/{event_id.replace(':', '%3A')}"
    exported = c.get(html.css("#export-json::attr(href)").get()).json()
    assert exported["total"] == 6 and exported["query"]["event"] == event_id
