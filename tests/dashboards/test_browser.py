"""The dashboard as staff see it: headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.labels import SEVERITY_LABELS, STATE_LABELS
from analysis.grams import index_grams
from dashboards.web.app import DashboardServer, create_app
from store.embedded import EmbeddedStore
from models import Post, Sentiment, now, web_link
from tests.dashboards.conftest import HOSTS, alerts, parse, source_health
from tests.hostile_urls import HOSTILE, SAFE

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LABELS = {"severity": SEVERITY_LABELS, "state": STATE_LABELS}
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian chromium is not installed (make test installs it)")


def _serve(store: EmbeddedStore, recent_alerts=alerts, health=source_health) -> DashboardServer:  # noqa: ANN001
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return DashboardServer(create_app(store, recent_alerts, parse, allowed_hosts=HOSTS, refresh_seconds=1,
                                      source_health=health, labels=LABELS), "127.0.0.1", port).start()


def _base(server: DashboardServer) -> str:
    return f"http://127.0.0.1:{server.socket.getsockname()[1]}/"


@pytest.fixture
def url(store: EmbeddedStore) -> Iterator[str]:
    server = _serve(store)
    yield _base(server)
    server.stop()


def watched(page: Any) -> tuple[list[str], list[str]]:
    """The URLs `page` will request and the errors its console will show; its CSP violations gather in
    window.cspViolations."""
    requested: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.add_init_script("window.cspViolations = [];"
                         "document.addEventListener('securitypolicyviolation',"
                         " (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));")
    return requested, errors


@contextmanager
def _browser(url: str):  # noqa: ANN202
    """A page open at `url` once posts show; it records CSP violations and console errors as it goes."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        requested, errors = watched(page)
        page.requested = requested  # type: ignore[attr-defined]
        page.errors = errors  # type: ignore[attr-defined]
        page.goto(url)
        page.locator("#latest-posts li[data-post-id]").first.wait_for(timeout=15_000)
        yield page
        browser.close()


@pytest.fixture
def page(url: str):  # noqa: ANN201
    with _browser(url) as page:
        yield page


def test_dashboard_shows_posts_alerts_chart_and_searches(page) -> None:  # noqa: ANN001
    assert page.locator("#count-total").inner_text() == "5"
    negative = page.locator("#negative-posts").inner_text()
    assert "北辰燃料乙醇 厂区 恶臭 难忍" in negative and "开放日" not in negative
    link = page.locator("#negative-posts a").first
    assert link.get_attribute("target") == "_blank" and "noopener" in link.get_attribute("rel")
    recent = page.locator("#alerts li[data-alert-id='7']")
    assert recent.locator(".tag.high").inner_text() == "高" and recent.locator(".state").inner_text() == "待处理"
    assert recent.locator("a").get_attribute("href") == "/alerts/7"  # its page, not the post
    assert page.locator("#chart rect.bar.negative").count() >= 1
    assert "北辰燃料乙醇" in page.locator("#keywords").inner_text()
    blocked = page.locator("#source-health tr[data-source='weibo']").inner_text()
    assert "被封禁" in blocked and "captcha" in blocked and "30 0" in blocked
    assert page.locator("#source-health tr[data-source='weibo'] td").first.inner_text() == "weibo"  # no other name

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    page.fill("#q", "风电")
    page.click("#search button[type=submit]")
    page.locator("#results-list li").first.wait_for()
    results = page.locator("#results-list").inner_text()
    assert "白桦 风电 项目 开工" in results and "恶臭" not in results

    page.fill("#q", "北辰 OR")  # a query that cannot be read: what is wrong, and where
    page.click("#search button[type=submit]")
    page.locator("#results-list li.query-error").wait_for()
    error = page.locator("#results-list").inner_text()
    assert error == "查询有误（第 4 个字符）：OR 后面缺少要搜索的内容"
    page.fill("#q", "title:辰燃")  # part of the word 北辰燃料乙醇
    page.click("#search button[type=submit]")
    page.locator("#results-list li[data-post-id]").first.wait_for()
    assert page.locator("#results-total").inner_text() == "共 2 条"  # not 北辰乙醇
    everything = page.locator("#results-all")  # the same search, range and moment on the search page
    assert everything.is_visible() and everything.inner_text() == "在搜索页打开（可导出）"
    assert re.fullmatch(r"/search\?q=title%3A%E8%BE%B0%E7%87%83&range=24h&at=\d+", everything.get_attribute("href"))

    page.click("button[data-range='7d']")
    # A locator's wait, not wait_for_function: that one polls by evaluating a string, which the page's policy forbids.
    page.locator("#count-range", has_text=re.compile(r"^5$")).wait_for()
    assert all(u.startswith("http://127.0.0.1:") for u in page.requested), page.requested


def test_crawled_markup_is_shown_as_text(page) -> None:  # noqa: ANN001
    assert '<img src=x onerror="document.body.dataset.pwned=1">' in page.locator("#negative-posts").inner_text()
    assert page.locator("#negative-posts img").count() == 0
    page.wait_for_timeout(1500)  # a refresh later, still inert
    assert page.evaluate("document.body.dataset.pwned") is None


def test_the_page_keeps_to_its_content_security_policy(page) -> None:  # noqa: ANN001
    response = page.request.get(page.url)
    assert "default-src 'self'" in response.headers["content-security-policy"]
    page.fill("#q", "风电")
    page.click("#search button[type=submit]")
    page.locator("#results-list li").first.wait_for()
    page.click("button[data-range='30d']")
    page.wait_for_timeout(1500)  # a timed refresh too
    assert page.locator("#chart rect.bar").count() >= 1  # the script ran and drew under the policy
    assert page.evaluate("window.cspViolations") == []
    assert page.errors == []  # type: ignore[attr-defined]


def _hostile_posts() -> list[Post]:
    return [Post(id=f"news:h{n}", platform="news", source="feed", url=url, title=f"北辰燃料乙醇 链接{n}",
                 content="正文", sentiment=Sentiment(label="negative", score=0.1),
                 published_at=now() - timedelta(minutes=n + 1))
            for n, url in enumerate([*HOSTILE, *SAFE])]


def test_only_http_links_are_links_whatever_the_feed_sent(tmp_path: Path) -> None:
    def hostile_alerts(limit: int) -> list[dict]:
        return [{**alerts(1)[0], "id": n, "url": url, "title": f"预警{n}"} for n, url in enumerate(HOSTILE)][:limit]

    def hostile_health() -> list[dict]:
        return [{**source_health()[0], "source": f"s{n}", "url": url, "last_attempt": now().isoformat()}
                for n, url in enumerate(HOSTILE)]

    with EmbeddedStore(tmp_path / "store", grams=index_grams) as hostile_store:
        hostile_store.upsert(_hostile_posts())
        server = _serve(hostile_store, hostile_alerts, hostile_health)
        try:
            with _browser(_base(server)) as page:
                page.locator("#source-health tr[data-source]").first.wait_for()
                page.click("#search button[type=submit]")  # an empty query lists every post
                page.locator("#results-list li").nth(len(HOSTILE)).wait_for()
                for scheme in ("javascript", "vbscript", "data"):
                    assert page.locator(f"a[href^={scheme} i], a[href*='{scheme}:' i]").count() == 0
                hrefs = page.evaluate("[...document.querySelectorAll('a')]"
                                      ".map((a) => [a.getAttribute('href'), a.protocol])")
                own = [href for href, _ in hrefs if href.startswith("/")]
                assert own and all(re.fullmatch(r"/(search(\?[^/]*)?|alerts(/\d+)?|events/[^/]+|posts/[^/]+)", href)
                                   for href in own)  # the dashboard's pages
                hrefs = [(href, protocol) for href, protocol in hrefs if href not in own]
                assert hrefs and all(web_link(href) and protocol in ("http:", "https:") for href, protocol in hrefs)
                assert sorted({href for href, _ in hrefs}) == sorted(SAFE)
                shown = page.locator("#results-list").inner_text() + page.locator("#alerts").inner_text()
                assert "北辰燃料乙醇 链接0" in shown and "预警0" in shown  # the text is still there, unlinked
                assert page.locator("#source-health tr[data-source='s0'] td").first.inner_text() == "s0"
                # The script's rule is the server's.
                verdicts = page.evaluate("(urls) => urls.map((u) => WEB_LINK.test(u))", [*HOSTILE, *SAFE])
                assert verdicts == [web_link(u) is not None for u in [*HOSTILE, *SAFE]]
                assert page.evaluate("window.cspViolations") == []
        finally:
            server.stop()


def test_an_officer_acknowledges_an_alert_on_its_page_and_copies_the_draft(desk) -> None:  # noqa: ANN001
    from playwright.sync_api import sync_playwright

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = DashboardServer(desk.app, "127.0.0.1", port).start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            context = browser.new_context(viewport={"width": 1366, "height": 900},
                                          permissions=["clipboard-read", "clipboard-write"])
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.add_init_script("window.cspViolations = [];"
                                 "document.addEventListener('securitypolicyviolation',"
                                 " (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));")
            page.goto(f"http://127.0.0.1:{port}/")
            page.locator(f"#alerts li[data-alert-id='{desk.alert_id}'] a").click()  # the overview links to it
            page.wait_for_url(f"**/alerts/{desk.alert_id}")
            assert page.locator("#state").inner_text() == "待处理"
            assert "恶臭难忍" in page.locator("#timeline").inner_text()

            draft = page.locator("textarea#statement")
            assert "河西小区业主" in draft.input_value()
            draft.fill(draft.input_value() + "\n（已改）")
            page.click("#copy-statement")
            page.locator("#copy-status", has_text="已复制").wait_for()
            assert page.evaluate("navigator.clipboard.readText()").endswith("（已改）")  # what the officer edited
            assert page.locator(f"a[href='/alerts/{desk.alert_id}/statement.txt']").count() == 1

            page.fill("#who", "张三")
            page.fill("#note", "已联系厂方核实")
            page.click("#act button[value='ack']")
            page.wait_for_url(f"**/alerts/{desk.alert_id}?done=ack")
            assert page.locator("#state").inner_text() == "已确认"
            assert "张三" in page.locator("#history").inner_text()
            assert page.locator("#who").input_value() == "张三"  # remembered for the next action
            assert desk.state.get(desk.alert_id)["acknowledged_by"] == "张三"
            assert page.evaluate("window.cspViolations") == [] and errors == []
            browser.close()
    finally:
        server.stop()


def test_an_officer_signs_in_acts_under_the_account_and_signs_out(desk, tmp_path: Path) -> None:  # noqa: ANN001
    from playwright.sync_api import sync_playwright

    from alerts.evidence import EvidenceLocker
    from alerts.statement import StatementWriter
    from dashboards.web.accounts import Accounts
    from yuqing.service import alert_desk

    accounts = Accounts(tmp_path / "accounts.db")
    accounts.add("李四", "officer", "a long enough password", by="test")
    app = create_app(desk.store, desk.state.recent_alerts, parse, allowed_hosts=HOSTS, accounts=accounts,
                     **alert_desk(desk.state, desk.signer, StatementWriter(desk.store),
                                  EvidenceLocker(desk.evidence, timeout=5).files))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = DashboardServer(app, "127.0.0.1", port).start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            errors: list[str] = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.add_init_script("window.cspViolations = [];"
                                 "document.addEventListener('securitypolicyviolation',"
                                 " (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));")
            page.goto(f"http://127.0.0.1:{port}/alerts/{desk.alert_id}")  # a link from the alert mail
            page.wait_for_url("**/login?next=*")
            page.fill("#name", "李四")
            page.fill("#password", "not the password")
            page.click("#login button[type='submit']")
            assert "用户名或密码错误" in page.locator("#login-message").inner_text()
            page.fill("#password", "a long enough password")
            page.click("#login button[type='submit']")
            page.wait_for_url(f"**/alerts/{desk.alert_id}")  # back where the link pointed
            assert page.locator("#signed-in-as").inner_text() == "李四（处置）"
            assert page.locator("#who").count() == 0 and page.locator("#acting-as").inner_text() == "李四"
            page.fill("#note", "已联系厂方核实")
            page.click("#act button[value='ack']")
            page.wait_for_url(f"**/alerts/{desk.alert_id}?done=ack")
            assert page.locator("#state").inner_text() == "已确认" and "李四" in page.locator("#history").inner_text()
            assert desk.state.get(desk.alert_id)["acknowledged_by"] == "李四"
            cookie = next(c for c in page.context.cookies() if c["name"] == "yuqing_session")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
            page.click("#account button[type='submit']")
            page.wait_for_url("**/login")
            page.goto(f"http://127.0.0.1:{port}/alerts")
            page.wait_for_url("**/login?next=%2Falerts")
            assert page.evaluate("window.cspViolations") == []
            assert errors == ["Failed to load resource: the server responded with a status of 401 (Unauthorized)"]
            browser.close()
    finally:
        server.stop()
        accounts.close()
