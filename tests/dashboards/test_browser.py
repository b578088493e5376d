"""The dashboard as staff see it: headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboards.web.app import DashboardServer, create_app
from store.embedded import EmbeddedStore
from tests.dashboards.conftest import alerts, source_health

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian chromium is not installed (make test installs it)")


@pytest.fixture
def url(store: EmbeddedStore) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = DashboardServer(create_app(store, alerts, str.split, refresh_seconds=1,
                                                source_health=source_health), "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/"
    server.stop()


@pytest.fixture
def page(url: str):  # noqa: ANN201
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.requested = requested  # type: ignore[attr-defined]
        page.goto(url)
        page.locator("#latest-posts li[data-post-id]").first.wait_for(timeout=15_000)
        yield page
        browser.close()


def test_dashboard_shows_posts_alerts_chart_and_searches(page) -> None:  # noqa: ANN001
    assert page.locator("#count-total").inner_text() == "5"
    negative = page.locator("#negative-posts").inner_text()
    assert "北辰燃料乙醇 厂区 恶臭 难忍" in negative and "开放日" not in negative
    link = page.locator("#negative-posts a").first
    assert link.get_attribute("target") == "_blank" and "noopener" in link.get_attribute("rel")
    assert "HIGH" in page.locator("#alerts").inner_text()
    assert page.locator("#chart rect.bar.negative").count() >= 1
    assert "北辰燃料乙醇" in page.locator("#keywords").inner_text()
    blocked = page.locator("#source-health tr[data-source='weibo']").inner_text()
    assert "被封禁" in blocked and "captcha" in blocked and "30 0" in blocked

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    page.fill("#q", "风电")
    page.click("#search button[type=submit]")
    page.locator("#results-list li").first.wait_for()
    results = page.locator("#results-list").inner_text()
    assert "白桦 风电 项目 开工" in results and "恶臭" not in results

    page.click("button[data-range='7d']")
    page.wait_for_function("document.getElementById('count-range').textContent === '5'")
    assert all(u.startswith("http://127.0.0.1:") for u in page.requested), page.requested


def test_crawled_markup_is_shown_as_text(page) -> None:  # noqa: ANN001
    assert '<img src=x onerror="document.body.dataset.pwned=1">' in page.locator("#negative-posts").inner_text()
    assert page.locator("#negative-posts img").count() == 0
    page.wait_for_timeout(1500)  # a refresh later, still inert
    assert page.evaluate("document.body.dataset.pwned") is None
