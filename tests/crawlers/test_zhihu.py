"""The Zhihu spider in real crawls (a process per crawl) against a local server answering with raw responses: the
search API's JSON (a real answer of 2025, a written one with every result type), its refusal, the search page
that carries no results, and the older pages that did."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.crawlers.conftest import RAW, crawl, source_config
from tests.crawlers.fakes import FakeWeb, Reply, as_json, html, ingested
from tests.crawlers.test_platform_spiders import AN_HOUR_AGO, THREE_DAYS_AGO, TWO_HOURS_AGO, real_page
from models import SHANGHAI

API = "/api/v4/search_v3"
JSON = "application/json; charset=utf-8"


def config(tmp_path: Path, url: str, extra: str = "") -> Path:
    return source_config(tmp_path, "zhihu", url, extra)


def api_url(web: FakeWeb) -> str:
    return f"{web.url}{API}?t=general&q={{keyword}}&correction=1&offset=0&limit=20"


def raw(name: str) -> bytes:
    return (RAW / "zhihu" / name).read_bytes()


def summary(done: Any) -> dict[str, Any]:
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_real_api_answer_with_the_cookies_and_headers_it_needs(tmp_path: Path, web: FakeWeb) -> None:
    web.routes[API] = lambda q: (200, JSON, raw("api_search_v3_general_2025.json"))
    extra = 'lookback = "20000d"\ncookies = { z_c0 = "2|1:0|10:session", d_c0 = "device|1722511475" }'
    done, items = crawl(tmp_path, config(tmp_path, api_url(web), extra), "src")
    assert done.returncode == 0, done.stderr
    [answer] = items  # one result, `paging.is_end`: one request
    assert answer["native_id"] == "answer:1936787046304842491"
    assert answer["url"] == "https://www.zhihu.com/question/1924054028658116132/answer/1936787046304842491"
    assert answer["title"] == "如何评价kotlin？"  # the question's name without its <em> highlight
    assert answer["author"] == "脱敏作者" and answer["author_id"] == "redacted-author-token"
    assert answer["author_followers"] == 552 and answer["metrics"] == {"likes": 101, "comments": 71}
    assert answer["published_at"] == "2025-08-07T13:53:35+08:00"
    # The whole answer, a line a paragraph, not the excerpt.
    assert answer["content"].startswith("以前我也是Kotlin信徒，直到现在我也觉得Kotlin在语言上可圈可点。\n但Jvm系的基础设施")
    assert "C#再进化十年也学不来的。" in answer["content"] and "<" not in answer["content"].replace("List<Message>", "")
    assert answer["content"].endswith("找不到更好的代餐。")
    [asked] = web.asked(API)
    assert asked.query["q"] == "北辰乙醇" and asked.query["offset"] == "0"
    assert asked.headers["x-requested-with"] == "fetch" and "json" in asked.headers["accept"]
    assert "z_c0=2|1:0|10:session" in asked.headers["cookie"] and "d_c0=device|1722511475" in asked.headers["cookie"]


def test_every_result_type_and_highlights_dropped(tmp_path: Path, web: FakeWeb) -> None:
    web.routes[API] = lambda q: (200, JSON, raw("api_search_v3_general_written.json"))
    done, items = crawl(tmp_path, config(tmp_path, api_url(web), 'lookback = "20000d"\nmax_pages = 1'), "src")
    assert done.returncode == 0, done.stderr
    by_id = {item["native_id"]: item for item in items}
    # Related searches and people are no posts.
    assert sorted(by_id) == ["answer:1970000000000000001", "article:1970000000000000002", "question:1960000000000000004",
                             "zvideo:1980000000000000003"]
    answer = by_id["answer:1970000000000000001"]
    assert answer["url"] == "https://www.zhihu.com/question/1960000000000000001/answer/1970000000000000001"
    assert answer["title"] == "如何看待北辰乙醇厂区附近夜间的异味？" and answer["author"] == "河西业主"
    assert answer["content"] == "住在河西三年了，晚上经常闻到一股酸味。\n北辰乙醇的排放到底达不达标？希望环保部门公布监测数据。"
    assert answer["published_at"] == "2026-11-22T06:26:40+08:00" and answer["metrics"] == {"likes": 321, "comments": 45}
    article = by_id["article:1970000000000000002"]
    assert article["url"] == "https://zhuanlan.zhihu.com/p/1970000000000000002" and article["title"] == "北辰乙醇调查手记"
    assert article["content"] == "我们走访了厂区周边的三个村庄。\n一、气味从哪里来\n居民说气味多在夜里十点以后出现。"
    assert article["author_followers"] == 21_000 and article["published_at"] == "2026-11-21T05:26:40+08:00"
    video = by_id["zvideo:1980000000000000003"]
    assert video["url"] == "https://www.zhihu.com/zvideo/1980000000000000003" and video["title"] == "航拍北辰乙醇厂区"
    assert video["content"] == "傍晚起飞，厂区东侧的排口一目了然。" and video["published_at"] == "2026-11-20T04:26:40+08:00"
    question = by_id["question:1960000000000000004"]
    assert question["url"] == "https://www.zhihu.com/question/1960000000000000004"
    assert question["title"] == "北辰乙醇招工靠谱吗？" and question["content"] == "看到招聘启事说包吃住，有在里面干过的吗？"
    assert question["metrics"] == {"likes": 0, "comments": 3} and question["published_at"] == "2026-11-19T09:00:00+08:00"
    assert len(web.asked(API)) == 1  # max_pages: its paging.next is not followed


@dataclass
class ZhihuApi:
    """The search API in its real shape: pages of `limit` results, `paging.next` to the next offset, `is_end` last."""

    base: str
    answers: list[tuple[int, datetime]] = field(default_factory=list)  # (id, created), newest first

    def __call__(self, query: dict[str, str]) -> Reply:
        offset, limit = int(query.get("offset", "0")), int(query.get("limit", "20"))
        shown = self.answers[offset: offset + limit]
        end = offset + limit >= len(self.answers)
        data = [{"type": "search_result", "highlight": {"title": "北辰乙醇", "description": ""}, "object": {
            "id": str(n), "type": "answer", "question": {"id": "42", "name": "<em>北辰乙醇</em>怎么样？"},
            "excerpt": f"第{n}个回答，<em>北辰乙醇</em>", "author": {"name": "答主", "url_token": "dazhu"},
            "created_time": int(when.timestamp()), "voteup_count": 1, "comment_count": 0}} for n, when in shown]
        paging = {"is_end": end, "is_start": offset == 0, "totals": 0,
                  "next": "" if end else f"{self.base}{API}?t=general&q={quote(query['q'])}&correction=1"
                                         f"&offset={offset + limit}&limit={limit}"}
        return as_json({"paging": paging, "data": data})


def test_pages_through_paging_next_then_stops_at_collected_answers(tmp_path: Path, web: FakeWeb) -> None:
    now = datetime.now(SHANGHAI)
    api = ZhihuApi(web.url, [(5000 + n, now - timedelta(minutes=10 * (n + 1))) for n in range(45)])
    web.routes[API] = api
    url = f"{web.url}{API}?t=general&q={{keyword}}&correction=1&offset=0&limit=20"
    cfg = config(tmp_path, url, "max_pages = 5")
    done, items = crawl(tmp_path, cfg, "src")
    assert done.returncode == 0, done.stderr
    assert sorted(item["native_id"] for item in items) == sorted(f"answer:{5000 + n}" for n in range(45))
    assert [s.query["offset"] for s in web.asked(API)] == ["0", "20", "40"]  # the third page says is_end

    api.answers.insert(0, (9999, datetime.now(SHANGHAI)))
    web.seen.clear()
    ingested(tmp_path)
    done, items = crawl(tmp_path, cfg, "src")
    assert done.returncode == 0, done.stderr
    assert [item["native_id"] for item in items] == ["answer:9999"]
    assert [s.query["offset"] for s in web.asked(API)] == ["0", "20"]  # the second page held nothing new


def test_a_rare_keyword_is_an_empty_run_not_a_breakage(tmp_path: Path, web: FakeWeb) -> None:
    web.routes[API] = lambda q: as_json({"paging": {"is_end": True, "next": ""}, "data": []})
    done, items = crawl(tmp_path, config(tmp_path, api_url(web)), "src")
    assert done.returncode == 0 and items == [], done.stderr
    assert summary(done)["errors_by_class"] == {} and "[zhihu] WARNING" not in done.stderr


def test_an_answer_that_says_nothing_where_results_were_expected_is_a_parse_breakage(tmp_path: Path,
                                                                                       web: FakeWeb) -> None:
    answers = {"北辰乙醇": {"paging": {"is_end": False, "next": ""}, "data": []},
               "吉林燃料": {"paging": {"is_end": True}, "data": [{"type": "search_result", "object": {"type": "people"}}]},
               "白桦风电": {"paging": {"is_end": True}, "results": []}}
    web.routes[API] = lambda q: as_json(answers[q["q"]])
    cfg = config(tmp_path, api_url(web), 'keywords = ["北辰乙醇", "吉林燃料", "白桦风电"]')
    done, items = crawl(tmp_path, cfg, "src")
    assert done.returncode == 1 and items == []
    found = summary(done)
    assert found["error_class"] == "parse" and found["errors_by_class"] == {"parse": 3}
    assert found["error_url"].startswith(f"{web.url}{API}?")
    assert "an empty result list, though the answer says more follow" in done.stderr
    assert "no post among 1 results (people x1)" in done.stderr and "without a result list" in done.stderr


def test_a_refused_api_falls_back_to_the_search_page_which_carries_no_results(tmp_path: Path, web: FakeWeb) -> None:
    # What a visitor gets: the unsigned call refused, the page a skeleton with empty initial data.
    refusal = '{"error":{"message":"请求参数异常，请升级客户端后重试。","code":10003}}'.encode()
    web.routes[API] = lambda q: (403, JSON, refusal)
    web.routes["/search"] = lambda q: (200, "text/html; charset=utf-8", raw("search_page_written.html"))
    done, items = crawl(tmp_path, config(tmp_path, api_url(web)), "src")
    assert done.returncode == 1 and items == []
    found = summary(done)
    assert found["error_class"] == "forbidden" and found["errors_by_class"] == {"forbidden": 1, "parse": 1}
    assert "blocked (forbidden at" in done.stderr
    [page] = web.asked("/search")
    assert page.query == {"type": "content", "q": "北辰乙醇"} and "json" not in page.headers.get("accept", "")
    assert f"{web.url}/search?type=content&q={quote('北辰乙醇')}: its initial data holds no results" in done.stderr
    assert "10003" in done.stderr and "z_c0" in done.stderr  # why, and what to give the source


def test_the_search_page_alone_is_a_parse_breakage_with_its_url(tmp_path: Path, web: FakeWeb) -> None:
    web.routes["/search"] = lambda q: (200, "text/html; charset=utf-8", raw("search_page_written.html"))
    web.routes["/other"] = lambda q: html("<html><body>没有结果</body></html>")
    for path, why in (("/search", "its initial data holds no results"), ("/other", "not a Zhihu search page")):
        done, items = crawl(tmp_path, config(tmp_path, f"{web.url}{path}?type=content&q={{keyword}}"), "src")
        assert done.returncode == 1 and items == []
        found = summary(done)
        assert found["error_class"] == "parse"
        assert found["error_url"] == f"{web.url}{path}?type=content&q={quote('北辰乙醇')}"
        assert why in done.stderr


def test_an_api_error_at_200_falls_back_and_an_unexpected_body_is_breakage_not_a_crash(tmp_path: Path,
                                                                                       web: FakeWeb) -> None:
    web.routes[API] = lambda q: (200, "image/png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    done, items = crawl(tmp_path, config(tmp_path, api_url(web)), "src")
    assert done.returncode == 1 and items == []
    assert summary(done)["error_class"] == "parse" and "Traceback" not in done.stderr
    assert "neither the search API's JSON nor a search page" in done.stderr

    web.routes[API] = lambda q: as_json({"error": {"message": "请先登录", "code": 100}})
    web.routes["/search"] = lambda q: (200, "text/html; charset=utf-8", raw("search_page_written.html"))
    done, items = crawl(tmp_path, config(tmp_path, api_url(web)), "src")
    assert done.returncode == 1 and items == [] and "请先登录" in done.stderr
    assert summary(done)["errors_by_class"] == {"parse": 1} and web.asked("/search")


# ---- older search pages, which carried their results ----

def test_zhihu_real_results_page(tmp_path: Path, web: FakeWeb) -> None:
    page = real_page("gerapy_samples_list_zhihu_search_result.html")
    web.routes["/search"] = lambda q: html(page)
    cfg = config(tmp_path, f"{web.url}/search?type=content&q={{keyword}}", 'lookback = "20000d"')
    done, items = crawl(tmp_path, cfg, "src")
    assert done.returncode == 0, done.stderr
    by_id = {item["native_id"]: item for item in items}
    assert len(by_id) == len(items) > 50 and all(k.split(":")[0] in ("answer", "article") for k in by_id)
    answer = by_id["answer:371075828"]
    assert answer["title"] == "简历智能解析？" and answer["author"] == "耕耘友善"
    assert answer["content"].startswith("也提供一下我们ResumeSDK的思路供各位参考： 简历解析的思路无外乎两种")
    assert answer["url"] == f"{web.url}/question/27134755/answer/371075828"
    assert answer["published_at"] == "2018-04-19T00:00:00+08:00" and answer["metrics"] == {"likes": 6, "comments": 7}
    article_ = by_id["article:106033751"]
    assert article_["title"] == "云解析DNS能为你做什么？" and article_["author"] == "阿里云云栖号"
    assert article_["url"] == "http://zhuanlan.zhihu.com/p/106033751"
    assert web.asked("/search")[0].query["q"] == "北辰乙醇"


INITIAL_DATA = """<html><head><meta charset="utf-8"><title>北辰乙醇 - 搜索结果 - 知乎</title></head><body><div id="root"></div>
<script id="js-initialData" type="text/json">{{"initialState":{{"entities":{{
"answers":{{"9001":{{"id":9001,"type":"answer","question":{{"id":501,"title":"如何看待北辰乙醇的异味问题？"}},
 "author":{{"name":"化工老兵","urlToken":"hua-gong","followerCount":"2.1万"}},"excerpt":"<b>先说结论</b>：排放是否达标要看监测数据。",
 "createdTime":{answer_time},"voteupCount":321,"commentCount":45}},
 "9002":{{"id":9002,"question":{{"id":502,"title":"旧问题"}},"author":{{"name":"某人"}},"excerpt":"很久以前的回答","createdTime":{old_time}}}}},
"articles":{{"8001":{{"id":8001,"title":"北辰乙醇<em>调查</em>手记","url":"https://zhuanlan.zhihu.com/p/8001",
 "author":{{"name":"记者小周"}},"excerpt":"我们走访了周边村庄。","created":{article_time},"voteupCount":12,"commentCount":3}},
 "8002":"broken"}}}}}}}}</script></body></html>"""


def test_zhihu_results_from_the_initial_data_blob(tmp_path: Path, web: FakeWeb) -> None:
    page = INITIAL_DATA.format(answer_time=int(AN_HOUR_AGO.timestamp()), old_time=int(THREE_DAYS_AGO.timestamp()),
                               article_time=int(TWO_HOURS_AGO.timestamp()))
    web.routes["/search"] = lambda q: html(page)
    done, items = crawl(tmp_path, config(tmp_path, f"{web.url}/search?q={{keyword}}"), "src")
    assert done.returncode == 0, done.stderr
    by_id = {item["native_id"]: item for item in items}
    assert sorted(by_id) == ["answer:9001", "article:8001"]
    answer = by_id["answer:9001"]
    assert answer["title"] == "如何看待北辰乙醇的异味问题？" and answer["url"] == f"{web.url}/question/501/answer/9001"
    assert answer["content"] == "先说结论：排放是否达标要看监测数据。" and answer["author_followers"] == 21_000
    assert answer["published_at"] == AN_HOUR_AGO.isoformat() and answer["metrics"] == {"likes": 321, "comments": 45}
    assert by_id["article:8001"]["title"] == "北辰乙醇调查手记"


def test_keywords_of_the_source_replace_the_schemes(tmp_path: Path, web: FakeWeb) -> None:
    web.routes[API] = lambda q: as_json({"paging": {"is_end": True}, "data": []})
    cfg = config(tmp_path, api_url(web), 'keywords = ["北辰 乙醇", "吉林燃料"]')
    done, items = crawl(tmp_path, cfg, "src")
    assert done.returncode == 0 and items == []
    assert sorted(s.query["q"] for s in web.asked(API)) == ["北辰 乙醇", "吉林燃料"]
