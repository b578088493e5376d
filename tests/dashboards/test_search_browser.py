"""The search flow as staff use it, in headless Chromium: search, narrow the time, page on, go back, open a post."""

from __future__ import annotations

import csv
import io
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from alerts.labels import PLATFORM_LABELS, TIER_LABELS
from analysis.grams import index_grams
from dashboards.web.app import DashboardServer, create_app
from store.embedded import EmbeddedStore
from tests.dashboards.conftest import HOSTS, _post, alerts, parse
from tests.dashboards.test_browser import ARTIFACTS, CHROMIUM, watched

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian chromium is not installed (make test installs it)")


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    with EmbeddedStore(tmp_path / "store", grams=index_grams) as store:
        store.upsert([_post(n, f"北辰燃料乙醇 第{n}条", ("negative", "neutral")[n % 2], n * 3 + 0.5) for n in range(80)])
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        app = create_app(store, alerts, parse, allowed_hosts=HOSTS, saved_searches=tmp_path / "saved.json",
                         labels={"platform": PLATFORM_LABELS, "tier": TIER_LABELS})
        server = DashboardServer(app, "127.0.0.1", port).start()
        yield f"http://127.0.0.1:{port}"
        server.stop()


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_search_page_flow(base: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1366, "height": 900}, accept_downloads=True)
        requested, errors = watched(page)
        page.goto(f"{base}/alerts")
        page.click("nav.pages a[href='/search']")  # reached from the pages' header
        page.fill("#q", "北辰")
        page.select_option("#sentiment", "negative")
        page.click("#search-form button[type=submit]")
        page.locator("#results-total", has_text="共 40 条").wait_for()
        assert _query(page.url) == {"q": ["北辰"], "sentiment": ["negative"]}  # the address is the search

        page.click(".ranges a[data-range='24h']")
        page.locator("#results-total", has_text="共 4 条").wait_for()  # posts 0, 2, 4, 6: 0.5 to 18.5 hours old
        assert _query(page.url)["range"] == ["24h"]
        page.fill("#q", "北辰燃料乙醇")
        page.click("#search-form button[type=submit]")  # a new query keeps the chosen range
        page.locator("#results-total", has_text="共 4 条").wait_for()
        assert _query(page.url)["range"] == ["24h"]

        page.click(".ranges a[data-range='all']")
        page.select_option("#sentiment", "")
        page.click("#search-form button[type=submit]")
        page.locator("#results-total", has_text="共 80 条").wait_for()
        assert page.locator("#results-list li[data-post-id]").count() == 50
        page.click("#pager a[rel=next]")
        page.locator(".meta", has_text="第 2 / 2 页").wait_for()
        assert page.locator("#results-list li[data-post-id]").count() == 30
        assert page.locator("#results-list li[data-post-id]").first.get_attribute("data-post-id") == "news:50"

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "search.png"), full_page=True)
        with page.expect_download() as download:
            page.click("#export-csv")
        rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_bytes().decode("utf-8-sig"))))
        assert len(rows) == 81 and rows[0][0] == "编号"  # the whole result, not the page shown

        page.go_back()  # the back button steps back through the searches
        page.locator(".meta", has_text="第 1 / 2 页").wait_for()
        assert "page" not in _query(page.url)

        page.fill("#save-name", "北辰全部")
        page.click("#save-form button[type=submit]")
        page.locator("#saved li[data-saved-id] a", has_text="北辰全部").wait_for()

        page.locator("#results-list a.detail").first.click()
        page.wait_for_url("**/posts/news:0")
        assert page.locator("#sentiment").inner_text() == "负面"
        assert "新闻网站" in page.locator(".facts").inner_text()  # platforms in Chinese
        assert page.locator("#original a").get_attribute("href") == "http://127.0.0.1/n/0.html"
        page.screenshot(path=str(ARTIFACTS / "post.png"), full_page=True)

        assert page.evaluate("window.cspViolations") == [] and errors == []
        assert all(u.startswith(base) for u in requested), requested
        browser.close()


def test_event_page_draws_its_growth_under_the_policy(desk) -> None:  # noqa: ANN001
    from playwright.sync_api import sync_playwright

    event_id = desk.store.get("forum:t2").event_id
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = DashboardServer(desk.app, "127.0.0.1", port).start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            watched(page)
            page.goto(f"http://127.0.0.1:{port}/posts/forum:t2")
            page.click("#event a")
            page.wait_for_url(f"**/events/{event_id.replace(':', '%3A')}")
            bars = page.locator("#growth svg rect.bar")
            tallest = max(bars.nth(i).bounding_box()["height"] for i in range(bars.count()))
            assert tallest > 50  # drawn at its size: the stylesheet reached the chart
            ARTIFACTS.mkdir(exist_ok=True)
            for width in (1440, 1024):
                page.set_viewport_size({"width": width, "height": 900})
                page.screenshot(path=str(ARTIFACTS / f"event-{width}.png"), full_page=True)
            page.click(f"#alerts a[href='/alerts/{desk.alert_id}']")
            page.wait_for_url(f"**/alerts/{desk.alert_id}")
            assert page.evaluate("window.cspViolations") == []
            browser.close()
    finally:
        server.stop()
