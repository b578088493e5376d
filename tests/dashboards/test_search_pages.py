"""The search page over a real store: ranges, paging past 50, sort, the address, exports, saved searches, and
a post's page."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from parsel import Selector
from starlette.testclient import TestClient

from analysis.grams import index_grams
from dashboards.web import search_pages
from dashboards.web.app import create_app
from models import now
from store.embedded import EmbeddedStore
from tests.dashboards.conftest import HOSTS, XSS_TITLE, Desk, _post, alerts, parse

LABELS = {"platform": {"news": "新闻网站"}, "tier": {"unknown": "未知"}}
FORMULA = "=HYPERLINK(\"http://evil.example/\",\"点我\")"


@pytest.fixture
def many(tmp_path: Path) -> Iterator[EmbeddedStore]:
    """130 posts, one every six hours back from now: 4 in 24 h, 28 in 7 d, 120 in 30 d."""
    store = EmbeddedStore(tmp_path / "store", grams=index_grams)
    posts = [_post(n, f"北辰燃料乙醇 第{n}条", ("negative", "neutral", "positive")[n % 3], n * 6 + 0.5)
             for n in range(130)]
    posts[5] = posts[5].model_copy(update={"title": FORMULA, "content": "-2+3 北辰燃料乙醇 正文"})
    store.upsert(posts)
    yield store
    store.close()


def client(store: EmbeddedStore, saved: Path | None = None) -> TestClient:
    app = create_app(store, alerts, parse, allowed_hosts=HOSTS, labels=LABELS, saved_searches=saved)
    return TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)


def ids(html: str) -> list[str]:
    return Selector(html).css("#results-list li::attr(data-post-id)").getall()


def total(html: str) -> str:
    return Selector(html).css("#results-total::text").get()


def test_the_time_buttons_apply_to_the_search(many: EmbeddedStore) -> None:
    c = client(many)
    for key, expected in (("24h", 4), ("7d", 28), ("30d", 120), ("all", 130)):
        page = c.get("/search", params={"q": "北辰", "range": key}, follow_redirects=True)
        assert page.status_code == 200 and total(page.text) == f"共 {expected} 条", key
    # What the form sends, defaults and empty fields included, comes back as the short address to share.
    sent = c.get("/search", params={"q": "北辰", "sentiment": "", "source": "", "sort": "time", "range": "all"})
    assert sent.status_code == 302 and sent.headers["location"] == "/search?q=%E5%8C%97%E8%BE%B0"
    page = Selector(c.get("/search?q=北辰&range=7d&sort=relevance").text)
    buttons = dict(zip(page.css(".ranges a::attr(data-range)").getall(), page.css(".ranges a::attr(href)").getall()))
    # Each button keeps the rest of the search and starts again at its first page.
    assert parse_qs(urlsplit(buttons["24h"]).query) == {"q": ["北辰"], "range": ["24h"], "sort": ["relevance"]}
    assert page.css(".ranges a.active::attr(data-range)").get() == "7d"
    assert page.css("#range::attr(value)").get() == "7d"  # a new query typed in keeps the range


def test_paging_goes_past_fifty_without_gaps_or_repeats(many: EmbeddedStore) -> None:
    c = client(many)
    seen: list[str] = []
    address = "/search?q=北辰"
    while address:
        html = c.get(address).text
        seen += ids(html)
        address = Selector(html).css("#pager a[rel=next]::attr(href)").get()
    assert len(seen) == 130 and len(set(seen)) == 130
    assert seen == [f"news:{n}" for n in range(130)]  # newest first, across all three pages
    third = c.get("/search?q=北辰&page=3").text
    assert "第 3 / 3 页" in third and len(ids(third)) == 30
    beyond = c.get("/search?q=北辰&page=9").text
    assert ids(beyond) == [] and "这一页没有信息：共 3 页" in beyond


def test_sort_by_relevance_puts_the_closest_match_first(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "s", grams=index_grams) as store:
        store.upsert([_post(1, "厂区 恶臭 恶臭 恶臭 恶臭", "negative", 10),
                      _post(2, "风电 项目 开工 附近 有 恶臭 传闻 但 未 证实 工程 进展 顺利", "neutral", 1)])
        c = client(store)
        assert ids(c.get("/search?q=恶臭").text) == ["news:2", "news:1"]
        assert ids(c.get("/search?q=恶臭&sort=relevance").text) == ["news:1", "news:2"]


def test_bad_addresses_and_queries_say_what_is_wrong(many: EmbeddedStore) -> None:
    c = client(many)
    for address, said in (("/search?range=1y", "时间范围须为"), ("/search?sort=hot", "排序须为"),
                          ("/search?page=0", "页码须在 1 到 1000 之间"), ("/search?page=x", "页码和时间须为整数"),
                          ("/search?page=99999999999999", "页码须在 1 到 1000 之间"),
                          ("/search?at=99999999999999999", "时间不在可查询的范围内"),
                          ("/search?sentiment=angry", "情感须为")):
        page = c.get(address)
        assert page.status_code == 400 and said in page.text, address
    page = c.get("/search", params={"q": "北辰 OR"})
    assert page.status_code == 400
    assert "查询有误（第 4 个字符）：OR 后面缺少要搜索的内容" in page.text
    assert 'value="北辰 OR"' in page.text  # the query stays in the box to be corrected
    assert c.get("/search.csv?q=(").status_code == 400 and c.get("/search.json?range=1y").status_code == 400


def _csv(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with the BOM
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_exports_hold_the_whole_result_not_the_page(many: EmbeddedStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_pages, "EXPORT_BATCH", 7)  # many batches: none lost or repeated at their seams
    c = client(many)
    page = Selector(c.get("/search?q=北辰&range=30d&sentiment=negative&page=2").text)
    exported = c.get(page.css("#export-csv::attr(href)").get())
    assert exported.status_code == 200 and exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="yuqing-search-\d{8}-\d{4}\.csv"',
                        exported.headers["content-disposition"])
    assert b"\r\n" in exported.content
    rows = _csv(exported.content)
    assert rows[0][:6] == ["编号", "发布时间", "标题", "来源", "采集源", "平台"] and "情感" in rows[0]
    negative_in_30d = [f"news:{n}" for n in range(120) if n % 3 == 0]
    assert [r[0] for r in rows[1:]] == negative_in_30d  # every page of it, in the page's order
    row = dict(zip(rows[0], rows[1]))
    assert row["情感"] == "负面" and row["正负倾向"] == "0.05" and row["平台"] == "新闻网站" and row["来源级别"] == "未知"

    data = c.get(page.css("#export-json::attr(href)").get())
    assert data.status_code == 200 and data.headers["content-disposition"].endswith('.json"')
    body = json.loads(data.content)
    assert body["total"] == 40 and [p["id"] for p in body["posts"]] == negative_in_30d
    assert body["query"]["q"] == "北辰" and body["query"]["sentiment"] == "negative"
    assert body["posts"][0]["sentiment"] == {"label": "negative", "score": 0.05} and "tokens" not in body["posts"][0]


def test_an_export_is_of_the_moment_the_page_was_made(many: EmbeddedStore) -> None:
    ten_days_ago = int((now() - timedelta(days=10)).timestamp())
    rows = _csv(client(many).get(f"/search.csv?q=北辰&range=7d&at={ten_days_ago}").content)
    # Posts 6 h apart: those from 10 to 17 days back, not the last 7 days'.
    assert [r[0] for r in rows[1:]] == [f"news:{n}" for n in range(130) if 240 <= n * 6 + 0.5 <= 408]


def test_a_cell_that_excel_would_run_as_a_formula_stays_text(many: EmbeddedStore) -> None:
    rows = _csv(client(many).get("/search.csv").content)
    row = dict(zip(rows[0], next(r for r in rows if r[0] == "news:5")))
    assert row["标题"] == "'" + FORMULA and row["正文"] == "'-2+3 北辰燃料乙醇 正文"


def _token(html: str) -> str:
    return Selector(html).css("#save-form input[name=csrf]::attr(value)").get()


def test_a_saved_search_is_kept_in_the_store_folder_and_listed(many: EmbeddedStore, tmp_path: Path) -> None:
    file = tmp_path / "store" / "saved-searches.json"
    c = client(many, file)
    html = c.get("/search?q=北辰&range=7d&page=2").text
    assert Selector(html).css("#save-form input[name=query]::attr(value)").get() == "q=%E5%8C%97%E8%BE%B0&range=7d"
    done = c.post("/search/saved", data={"csrf": _token(html), "name": "北辰一周", "query": "q=北辰&range=7d&page=2"})
    assert done.status_code == 303
    assert parse_qs(urlsplit(done.headers["location"]).query) == {"q": ["北辰"], "range": ["7d"], "saved": ["1"]}
    assert json.loads(file.read_text(encoding="utf-8")) == {
        "searches": [{"id": 1, "name": "北辰一周", "query": "q=%E5%8C%97%E8%BE%B0&range=7d"}]}
    again = Selector(client(many, file).get("/search").text)  # a restarted dashboard still has it
    link = again.css("#saved li[data-saved-id='1'] a")
    assert link.css("::text").get() == "北辰一周" and total(client(many, file).get(link.attrib["href"]).text) == "共 28 条"

    refused = c.post("/search/saved", data={"csrf": "1.forged", "name": "x", "query": ""})
    assert refused.status_code == 400 and "表单校验失败" in refused.text
    bad = c.post("/search/saved", data={"csrf": _token(html), "name": "坏的", "query": "range=1y"})
    assert bad.status_code == 400 and "时间范围须为" in bad.text
    assert c.post("/search/saved", data={"csrf": _token(html), "name": " ", "query": ""}).status_code == 400
    assert len(json.loads(file.read_text(encoding="utf-8"))["searches"]) == 1

    assert c.post("/search/saved/1/delete", data={"csrf": _token(html)}).status_code == 303
    assert json.loads(file.read_text(encoding="utf-8")) == {"searches": []}
    assert c.post("/search/saved/1/delete", data={"csrf": _token(html)}).status_code == 404


def test_a_damaged_saved_searches_file_is_said_and_kept(many: EmbeddedStore, tmp_path: Path) -> None:
    file = tmp_path / "saved-searches.json"
    file.write_bytes(b'{"searches": [{"id": 1, "na')  # cut off mid-write by something else
    c = client(many, file)
    html = c.get("/search?q=北辰").text
    assert "保存的搜索无法读取（saved-searches.json" in html and total(html) == "共 130 条"
    refused = c.post("/search/saved", data={"csrf": _token(html), "name": "新的", "query": "q=x"})
    assert refused.status_code == 400 and "无法读取" in refused.text
    assert file.read_bytes() == b'{"searches": [{"id": 1, "na'  # not overwritten: what it held can be recovered


def test_without_a_saved_searches_file_saving_is_refused(many: EmbeddedStore) -> None:
    c = client(many)
    html = c.get("/search").text
    refused = c.post("/search/saved", data={"csrf": _token(html), "name": "x", "query": "q=x"})
    assert refused.status_code == 400 and "未配置保存搜索的位置" in refused.text


def test_every_page_says_the_label_and_shows_the_score_as_its_lean(desk: Desk) -> None:
    # The bureau's answer reads neutral to the model, though its score leans to negative (below the 0.35 that once
    # made the negative rule fire): 中性 everywhere, the score beside it as 正负倾向, never 正面概率 next to 中性.
    post = desk.store.get("news:n5")
    assert post is not None and post.sentiment is not None
    assert post.sentiment.label == "neutral" and post.sentiment.score < 0.35
    c = desk.client()
    html = Selector(c.get("/posts/news:n5").text)
    assert html.css("#sentiment::text").get() == "中性"
    assert "".join(html.css("#score ::text").getall()) == f"中性（正负倾向 {post.sentiment.score:.2f}）"
    found = Selector(c.get("/search").text)  # every post, newest first: one page
    [item] = found.css("li[data-post-id='news:n5']")
    assert item.css(".tag::text").get() == "中性" and f"正负倾向 {post.sentiment.score:.2f}" in item.get()
    for page in (c.get("/posts/news:n5").text, found.get(), c.get(f"/alerts/{desk.alert_id}").text,
                 c.get("/api/summary?range=30d").text):
        assert "正面概率" not in page
    alert = desk.state.get(desk.alert_id)
    assert post.event_id == alert["event_id"]  # it is part of the story's event ...
    negative = [r["reason"] for r in alert["reasons"] if r["rule"] == "negative-post"]
    assert negative and all(r.startswith("情感为负面") for r in negative)  # ... but the negative rule's reason is not its


def test_the_post_page_shows_its_analysis_and_links_the_original(desk: Desk) -> None:
    c = desk.client()
    post = desk.store.get("forum:t2")
    assert post is not None and post.event_id and post.schemes and post.keywords
    page = c.get("/posts/forum:t2")
    assert page.status_code == 200
    html = Selector(page.text)
    assert html.css("#sentiment::text").get() == "负面"
    assert "".join(html.css("#score ::text").getall()) == f"负面（正负倾向 {post.sentiment.score:.2f}）"  # type: ignore[union-attr]
    assert html.css("#risk::text").get() == f"{post.risk:.2f}"
    schemes = " ".join(html.css("#schemes ::text").getall())
    assert all(m.name in schemes and all(t in schemes for t in m.terms) for m in post.schemes)
    assert html.css("#keywords .term::text").getall() == post.keywords
    assert html.css("#event a::attr(href)").get() == f"/events/{post.event_id.replace(':', '%3A')}"
    original = html.css("#original a")
    assert original.attrib["href"] == post.url and original.attrib["rel"] == "noopener noreferrer"
    assert c.get(html.css("#event a::attr(href)").get()).status_code == 200
    assert c.get("/api/posts/forum:t2").json()["event_id"] == post.event_id
    missing = c.get("/posts/forum:none")
    assert missing.status_code == 404 and "forum:none" in missing.text
    assert c.get("/api/posts/forum:none").status_code == 404


def test_a_hostile_post_is_shown_as_text_and_its_address_is_no_link(desk: Desk) -> None:
    page = desk.client().get("/posts/news:9").text
    assert XSS_TITLE not in page and "北辰乙醇&lt;img src=x onerror=" in page
    html = Selector(page)
    assert html.css("#original a").get() is None
    assert html.css("#original .unlinked::text").get() == "javascript:alert(1)"
    found = desk.client().get("/search?q=北辰乙醇").text
    assert "<img src=x" not in found and not re.search(r'href="javascript', found)


def test_a_duplicate_links_the_post_it_repeats(desk: Desk) -> None:
    original = desk.store.get("forum:t2")
    assert original is not None
    copy = original.model_copy(update={"id": "forum:copy", "dup_of": "forum:t2", "url": "http://127.0.0.1/copy"})
    desk.store.upsert([copy])
    html = Selector(desk.client().get("/posts/forum:copy").text)
    assert html.css("#dup-of a::attr(href)").get() == "/posts/forum:t2"


def test_the_new_pages_keep_to_the_content_security_policy(desk: Desk) -> None:
    c = desk.client()
    event_id = desk.store.get("forum:t2").event_id  # type: ignore[union-attr]
    for address in ("/search?q=恶臭", "/posts/forum:t2", f"/events/{event_id}"):
        page = c.get(address)
        assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
        assert "<script>" not in page.text and "style=" not in page.text and "<style" not in page.text
        assert not re.search(r"\son[a-z]+\s*=", page.text) and "http://" not in page.text.split("<main>")[0]


def test_pages_name_the_outlet_not_the_source_id(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store", grams=index_grams)
    try:
        store.upsert([_post(1, "北辰燃料乙醇 夜间 异味", "negative", 1).model_copy(update={"outlet": "白桦晚报"}),
                      _post(2, "北辰燃料乙醇 开放日", "positive", 2)])  # no outlet known: the source id it is
        c = client(store)
        page = c.get("/search", params={"q": "北辰", "range": "all"}, follow_redirects=True).text
        outlets = Selector(page).css("#results-list li .meta span:nth-child(2)::text").getall()
        assert sorted(outlets) == ["baihua-news", "白桦晚报"]
        assert "白桦晚报（" in c.get("/posts/news:1").text
        assert [p["outlet"] for p in c.get("/api/summary", params={"range": "24h"}).json()["negative_posts"]] == ["白桦晚报"]
        rows = list(csv.DictReader(io.StringIO(c.get("/search.csv", params={"q": "北辰", "range": "all"}).text.lstrip("\ufeff"))))
        assert sorted((r["来源"], r["采集源"]) for r in rows) == [("baihua-news", "baihua-news"), ("白桦晚报", "baihua-news")]
    finally:
        store.close()


def test_a_post_page_lists_its_duplicates_and_links_to_all_of_them(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store", grams=index_grams)
    try:
        shown = search_pages.DUPLICATES_SHOWN
        store.upsert([_post(0, "北辰燃料乙醇 原帖", "negative", 30),
                      *(_post(n, f"北辰燃料乙醇 转载{n}", "negative", n).model_copy(update={"dup_of": "news:0"})
                        for n in range(1, shown + 3)),
                      _post(99, "北辰燃料乙醇 另一条", "neutral", 1)])
        c = client(store)
        page = Selector(c.get("/posts/news:0").text)
        assert page.css("#duplicates p.meta::text").get().startswith(f"另有 {shown + 2} 条信息与本条重复")
        listed = page.css("#duplicates li::attr(data-post-id)").getall()
        assert listed == [f"news:{n}" for n in range(1, shown + 1)]  # the newest first
        everything = page.css("#all-duplicates::attr(href)").get()
        assert everything == "/search?dup_of=news%3A0"
        found = c.get(everything).text
        assert total(found) == f"共 {shown + 2} 条" and "news:0" not in ids(found) and "news:99" not in ids(found)
        assert Selector(found).css("#dup-filter a::text").get() == "北辰燃料乙醇 原帖"  # by title, not by id
        csv_rows = c.get("/search.csv?dup_of=news%3A0").text.lstrip("\ufeff").splitlines()
        assert len(csv_rows) == shown + 3  # the header and every duplicate

        duplicate = Selector(c.get("/posts/news:3").text)
        assert duplicate.css("#original-post::attr(href)").get() == "/posts/news:0"
        assert duplicate.css("#dup-of a::attr(href)").get() == "/posts/news:0"
        few = Selector(c.get("/posts/news:99").text)
        assert few.css("#duplicates .empty::text").get() == "没有与本条重复的信息" and not few.css("#all-duplicates")
    finally:
        store.close()
