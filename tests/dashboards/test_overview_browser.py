"""The overview as leadership reads it, in headless Chromium: events first, a trend with dates and the negative
share, breakdowns in Chinese, the refresh time to the second, and what arrived since the last refresh marked."""

from __future__ import annotations

import re
import socket
from datetime import timedelta
from pathlib import Path

from alerts.state import AlertState, NewAlert
from dashboards.web.app import DashboardServer, create_app
from store.embedded import EmbeddedStore
from tests.dashboards.conftest import HOSTS, _post, alerts, parse, source_health
from tests.dashboards.test_browser import ARTIFACTS, _base, _browser, pytestmark  # noqa: F401  (skips without Chromium)
from tests.dashboards.test_overview import LABELS, event
from models import Sentiment, now


def test_overview_leads_with_events_and_dates_its_trend(store: EmbeddedStore, tmp_path: Path) -> None:
    leaning = _post(8, "北辰燃料乙醇 排放 说明", "neutral", 4)
    store.upsert([leaning.model_copy(update={"sentiment": Sentiment(label="neutral", score=0.2)})])
    store.upsert_events([event(1, 0.4, timedelta(minutes=5), "厂区恶臭"),
                         event(2, 0.9, timedelta(minutes=20), "河水发黑")])
    state = AlertState(f"sqlite:///{tmp_path / 'alerts.db'}")
    alert_id = state.open_alert(NewAlert(key="event:co:evt:0000000000000002", rule="event-growth", scheme="co",
                                         event_id="evt:0000000000000002", severity="high", title="河水发黑",
                                         summary="", url="", payload={}), None, now())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(store, alerts, parse, allowed_hosts=HOSTS, refresh_seconds=1, source_health=source_health,
                     labels=LABELS, newest_alerts=state.of_events, alert_count=state.count_since)
    server = DashboardServer(app, "127.0.0.1", port).start()
    try:
        with _browser(_base(server)) as page:
            page.locator("#events li[data-event-id]").first.wait_for()
            events = page.locator("#events li[data-event-id]")
            assert events.count() == 2 and "河水发黑" in events.nth(0).inner_text()
            first = events.nth(0)
            assert first.locator("a.tag").inner_text() == "预警高·待处理"
            assert first.locator("a.tag").get_attribute("href") == f"/alerts/{alert_id}"
            assert "首发 吃瓜群众" in first.inner_text() and "微博、论坛" in first.inner_text()
            assert first.locator("svg.spark polyline").count() == 1
            assert events.nth(1).locator(".tag").inner_text() == "未预警"
            # The page is above the fold in this order: cards, then events, then the trend.
            top = {name: page.locator(sel).bounding_box()["y"] for name, sel in
                   [("cards", ".cards"), ("events", "#events"), ("chart", "#chart")]}
            assert top["cards"] < top["events"] < top["chart"]

            ticks = page.locator("#chart text.tick").all_text_contents()
            assert re.fullmatch(r"\d{1,2}/\d{1,2} \d\d:\d0", ticks[0]), ticks  # the first label names its day
            assert all(re.fullmatch(r"(\d{1,2}/\d{1,2} )?\d\d:\d0", t) for t in ticks), ticks
            # The share of negative posts: a dot for each bucket alone (five posts, hours apart): two all
            # negative at the top, three with none at the bottom.
            heights = page.locator("#chart circle.share").evaluate_all(
                "cs => cs.map((c) => Number(c.getAttribute('cy')))")
            assert len(heights) == 5 and page.locator("#chart polyline.share").count() == 0
            assert sorted(heights)[1] < sorted(heights)[2] and len(set(heights)) == 2
            assert page.locator("#count-alerts").inner_text() == "1"
            assert page.locator("#count-negative").inner_text() == "2"  # not the neutral post that leans negative
            assert re.fullmatch(r"更新于 \d\d-\d\d \d\d:\d\d:\d\d", page.locator("#updated").inner_text())
            assert "新闻网站" in page.locator("#breakdown-platform").inner_text()
            assert "地方媒体" in page.locator("#breakdown-tier").inner_text() or \
                "未知" in page.locator("#breakdown-tier").inner_text()
            assert "记者（5条）" in page.locator("#authors").inner_text()
            assert page.locator("#keywords .rising").count() >= 1  # nothing of the week before: all new
            assert page.locator("#latest-posts li.new").count() == 0  # the first look: nothing is "new" yet

            store.upsert([_post(9, "北辰燃料乙醇 新到 一条", "negative", 0.1)])
            page.locator("#latest-posts li.new[data-post-id='news:9']").wait_for(timeout=10_000)
            assert page.locator("#latest-posts li.new").count() == 1

            page.click("button[data-range='7d']")
            page.locator("#count-range", has_text=re.compile(r"^7$")).wait_for()
            ticks = page.locator("#chart text.tick").all_text_contents()
            assert sum(1 for t in ticks if "/" in t) >= 2, ticks  # a week: the day changes along the axis
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)
            assert page.evaluate("window.cspViolations") == [] and page.errors == []
    finally:
        server.stop()
        state.close()
