"""The alert pages over a real alert state: what they show, what a form or a signed link does, what is refused."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from dashboards.web.forms import MAX_AGE, FormError, FormGuard
from models import now
from tests.dashboards.conftest import XSS_TITLE, Desk


def _form_token(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "the page carries a form token"
    return match.group(1)


def _history(desk: Desk, alert_id: int) -> list[tuple[str, str]]:
    return [(h["who"], h["action"]) for h in desk.state.history(alert_id)]


def test_the_alert_page_shows_the_alert_its_posts_and_what_can_be_done(desk: Desk) -> None:
    page = desk.client().get(f"/alerts/{desk.alert_id}")
    assert page.status_code == 200
    html = page.text
    assert '<span class="tag high" id="severity">高</span>' in html
    assert '<span class="tag state-open" id="state">待处理</span>' in html
    assert "北辰燃料乙醇厂区附近恶臭难忍，居民投诉无人理" in html and "sensitive-terms" in html
    timeline = html.split('id="timeline"')[1].split("</ol>")[0]
    assert re.findall(r'data-post-id="([^"]+)"', timeline) == [
        "forum:t2", "forum:t3", "forum:t4", "news:n4", "news:n5", "forum:t5"]  # the whole event, oldest first
    first, official = (timeline.split(f'data-post-id="{n}"')[1].split("</li>")[0] for n in ("forum:t2", "news:n5"))
    assert '<span class="tag first">首发</span>' in first and '<span class="tag negative">负面</span>' in first
    assert "河西小区业主" in first and "评论 57" in first and "白桦论坛" in first and "baihua-forum" not in first  # the outlet
    assert '<span class="tag official">官方回应</span>' in official and "首发" not in official
    assert timeline.count("官方回应") == 1 and timeline.count("tag first") == 1
    assert "首发者 河西小区业主" in timeline and "共 6 条" in timeline and "论坛 4、新闻网站 2" in timeline
    assert "负面 5 条" in timeline  # the four complaints and the report of them (news:n4)
    assert f'action="/alerts/{desk.alert_id}/act"' in html
    assert [b for b in ("确认", "指派", "解决", "备注", "重新打开") if f">{b}</button>" in html] == ["确认", "指派", "解决", "备注"]
    assert 'id="copy-statement"' in html and f'href="/alerts/{desk.alert_id}/statement.txt"' in html
    statement = re.search(r'<textarea id="statement"[^>]*>(.*?)</textarea>', html, re.S)
    assert statement and "河西小区业主在白桦论坛（论坛）发布《北辰燃料乙醇厂区附近恶臭难忍" in statement.group(1)
    assert "联系人及电话：党委宣传部 0000-0000000" in statement.group(1)
    assert "<script>" not in html and "style=" not in html and not re.search(r"\son[a-z]+\s*=", html)


def test_acknowledging_with_the_form_changes_the_state_and_is_recorded(desk: Desk) -> None:
    client = desk.client()
    token = _form_token(client.get(f"/alerts/{desk.alert_id}").text)
    done = client.post(f"/alerts/{desk.alert_id}/act",
                       data={"csrf": token, "action": "ack", "who": "张三", "note": "正在核实", "assignee": ""})
    assert done.status_code == 303 and done.headers["location"] == f"/alerts/{desk.alert_id}?done=ack"
    alert = desk.state.get(desk.alert_id)
    assert alert["state"] == "acknowledged" and alert["acknowledged_by"] == "张三"
    assert desk.state.history(desk.alert_id)[-1] | {"at": None} == {
        "at": None, "who": "张三", "action": "ack", "note": "正在核实", "detail": ""}
    page = client.get(done.headers["location"]).text
    assert "已记录：确认" in page and '<span class="tag state-acknowledged" id="state">已确认</span>' in page
    assert "正在核实" in page and ">重新打开</button>" not in page and ">确认</button>" not in page

    assigned = client.post(f"/alerts/{desk.alert_id}/act",
                           data={"csrf": token, "action": "assign", "who": "张三", "assignee": "李四"})
    assert assigned.status_code == 303 and desk.state.get(desk.alert_id)["assignee"] == "李四"
    client.post(f"/alerts/{desk.alert_id}/act", data={"csrf": token, "action": "resolve", "who": "李四"})
    assert ">重新打开</button>" in client.get(f"/alerts/{desk.alert_id}").text


def test_a_move_the_state_refuses_or_a_form_missing_a_field_says_why(desk: Desk) -> None:
    client = desk.client()
    token = _form_token(client.get(f"/alerts/{desk.alert_id}").text)
    act = f"/alerts/{desk.alert_id}/act"
    client.post(act, data={"csrf": token, "action": "resolve", "who": "张三"})
    refused = client.post(act, data={"csrf": token, "action": "ack", "who": "张三"})
    assert refused.status_code == 409 and "已解决，不能再确认" in refused.text
    for form, said in [({"action": "ack", "who": " "}, "请填写处理人姓名"),
                       ({"action": "assign", "who": "张三"}, "“指派”须填写被指派人"),
                       ({"action": "delete", "who": "张三"}, "未知操作"),
                       ({"action": "note", "who": "张三" * 40}, "姓名不能超过")]:
        answer = client.post(act, data={"csrf": token, **form})
        assert answer.status_code == 400 and said in answer.text
    assert client.post("/alerts/999/act", data={"csrf": FormGuard().issue(999)}).status_code == 403
    assert _history(desk, desk.alert_id) == [("system", "open"), ("张三", "resolve")]


def test_a_signed_link_is_confirmed_by_a_post_never_by_opening_it(desk: Desk) -> None:
    client = desk.client()
    url = desk.signer.url(desk.alert_id, "ack", "王五", now())
    path = url.removeprefix("http://127.0.0.1")
    for _ in range(3):  # a mail scanner, a link preview, the officer
        page = client.get(path)
        assert page.status_code == 200
        assert "王五，您将对下面这条预警执行“<strong>确认</strong>”" in page.text
    assert desk.state.get(desk.alert_id)["state"] == "open"
    assert _history(desk, desk.alert_id) == [("system", "open")]
    assert client.head(path).status_code in (200, 405) and desk.state.get(desk.alert_id)["state"] == "open"

    token = path.split("t=", 1)[1]
    done = client.post(f"/alerts/{desk.alert_id}/act",
                       data={"csrf": _form_token(page.text), "t": token, "note": "收到", "who": "冒名", "action": "resolve"})
    assert done.status_code == 303
    alert = desk.state.get(desk.alert_id)
    assert alert["state"] == "acknowledged" and alert["acknowledged_by"] == "王五"  # the link's grant, not the form's
    assert _history(desk, desk.alert_id)[-1] == ("王五", "ack")

    assign = desk.signer.url(desk.alert_id, "assign", "赵六", now()).split("t=", 1)[1]
    client.post(f"/alerts/{desk.alert_id}/act", data={"csrf": _form_token(page.text), "t": assign})
    assert desk.state.get(desk.alert_id)["assignee"] == "赵六"  # a mailed "assign" link assigns to its holder


def test_an_expired_or_tampered_link_gets_a_403_page_that_says_what_to_do(desk: Desk) -> None:
    client = desk.client()
    token = _form_token(client.get(f"/alerts/{desk.alert_id}").text)
    expired = desk.signer.token(desk.alert_id, "ack", "王五", now() - timedelta(hours=2))
    good = desk.signer.token(desk.alert_id, "ack", "王五", now())
    body, _, signature = good.partition(".")
    tampered_body = desk.signer.token(desk.alert_id, "resolve", "王五", now()).partition(".")[0] + "." + signature
    flipped = body + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    other = desk.signer.token(desk.hostile_id, "ack", "王五", now())
    for link, said in [(expired, "过期"), (tampered_body, "无效"), (flipped, "无效"), ("garbage", "无效"),
                       ("", "无效"), (other, "另一条预警")]:
        page = client.get(f"/alerts/{desk.alert_id}/act", params={"t": link})
        assert page.status_code == 403 and said in page.text, link
        assert "请打开预警页面，填写姓名后直接操作" in page.text and f'href="/alerts/{desk.alert_id}"' in page.text
        posted = client.post(f"/alerts/{desk.alert_id}/act", data={"csrf": token, "t": link} if link else
                             {"csrf": token, "t": link, "action": "ack"})
        assert posted.status_code == (400 if not link else 403), link
    assert desk.state.get(desk.alert_id)["state"] == "open"
    assert _history(desk, desk.alert_id) == [("system", "open")]


def test_a_form_without_this_dashboards_token_is_refused(desk: Desk) -> None:
    """Cross-site request forgery: another site's page can post to the dashboard, but cannot read a token."""
    client = desk.client()
    act = f"/alerts/{desk.alert_id}/act"
    mine = _form_token(client.get(f"/alerts/{desk.alert_id}").text)
    for csrf in ("", "1700000000.deadbeef", FormGuard().issue(desk.alert_id), _form_token(
            client.get(f"/alerts/{desk.hostile_id}").text)):
        answer = client.post(act, data={"csrf": csrf, "action": "ack", "who": "攻击者"},
                             headers={"Origin": "http://evil.example"})
        assert answer.status_code == 403 and "请刷新预警页面后重新提交" in answer.text
    as_json = client.post(act, json={"csrf": mine, "action": "ack", "who": "攻击者"})
    assert as_json.status_code == 403 and "只接受网页表单" in as_json.text
    too_long = client.post(act, content=b"csrf=" + mine.encode() + b"&note=" + b"x" * 70_000,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert too_long.status_code == 403 and "过长" in too_long.text
    assert desk.state.get(desk.alert_id)["state"] == "open"
    assert _history(desk, desk.alert_id) == [("system", "open")]


def test_form_tokens_expire_and_belong_to_one_alert() -> None:
    guard = FormGuard(b"k" * 32)
    token = guard.issue(7, at=1_000_000)
    guard.check(token, 7, at=1_000_000 + MAX_AGE - 1)
    with pytest.raises(FormError, match="已过期"):
        guard.check(token, 7, at=1_000_000 + MAX_AGE + 1)
    with pytest.raises(FormError, match="校验失败"):
        guard.check(token, 8, at=1_000_000)
    with pytest.raises(FormError, match="校验失败"):
        FormGuard(b"j" * 32).check(token, 7, at=1_000_000)
    FormGuard(b"k" * 32).check(token, 7, at=1_000_000)  # the same key (from the link secret) after a restart


def test_markup_in_crawled_titles_stays_text(desk: Desk) -> None:
    client = desk.client()
    for path in (f"/alerts/{desk.hostile_id}", "/alerts", f"/alerts?state=open"):
        html = client.get(path).text
        assert "<img src=x" not in html and "&lt;img src=x onerror=" in html, path
    page = client.get(f"/alerts/{desk.hostile_id}").text
    assert 'href="javascript:' not in page and '<span class="unlinked">javascript:alert(1)</span>' in page
    statement = re.search(r'<textarea id="statement"[^>]*>(.*?)</textarea>', page, re.S)
    assert statement and "</textarea" not in statement.group(1) and "&lt;img" in statement.group(1)
    text = client.get(f"/alerts/{desk.hostile_id}/statement.txt").content.decode("utf-8-sig")
    assert XSS_TITLE in text  # a text file says what was posted, as it was


def test_the_statement_downloads_as_a_utf8_text_file(desk: Desk) -> None:
    answer = desk.client().get(f"/alerts/{desk.alert_id}/statement.txt")
    assert answer.status_code == 200 and answer.headers["content-type"] == "text/plain; charset=utf-8"
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith("attachment;") and f'filename="statement-{desk.alert_id}.txt"' in disposition
    assert "filename*=UTF-8''%E6%83%85%E5%86%B5%E8%AF%B4%E6%98%8E" in disposition  # 情况说明
    assert answer.content.startswith(b"\xef\xbb\xbf")
    text = answer.content.decode("utf-8-sig")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    assert text.startswith("关于“北辰燃料乙醇厂区附近恶臭难忍，居民投诉无人理”有关情况的说明（草稿）")
    assert desk.client().get("/alerts/999/statement.txt").status_code == 404


def test_saved_evidence_is_listed_and_downloaded_never_served_as_a_page(desk: Desk) -> None:
    client = desk.client()
    assert "尚未保存证据" in client.get(f"/alerts/{desk.alert_id}").text
    folder = desk.evidence / str(desk.alert_id)
    folder.mkdir(parents=True)
    (folder / "text.txt").write_text("北辰燃料乙醇厂区附近恶臭难忍", encoding="utf-8")
    (folder / "page.warc.gz").write_bytes(b"\x1f\x8b<html><script>alert(1)</script>")
    (desk.evidence / "secret.txt").write_text("not evidence", encoding="utf-8")
    page = client.get(f"/alerts/{desk.alert_id}").text
    assert f'href="/alerts/{desk.alert_id}/evidence/page.warc.gz"' in page
    assert f'href="/alerts/{desk.alert_id}/evidence/text.txt"' in page
    text = client.get(f"/alerts/{desk.alert_id}/evidence/text.txt")
    assert text.status_code == 200 and text.text == "北辰燃料乙醇厂区附近恶臭难忍"
    assert text.headers["content-disposition"].startswith("attachment;")
    warc = client.get(f"/alerts/{desk.alert_id}/evidence/page.warc.gz")
    assert warc.headers["content-type"] == "application/octet-stream"
    assert warc.headers["content-disposition"].startswith("attachment;")
    for name in ("..%2Fsecret.txt", "%2E%2E%2Fsecret.txt", "nothing.txt", "..%2F..%2Fevidence%2Fsecret.txt"):
        answer = client.get(f"/alerts/{desk.alert_id}/evidence/{name}")
        assert answer.status_code == 404 and "not evidence" not in answer.text
    assert client.get(f"/alerts/{desk.hostile_id}/evidence/text.txt").status_code == 404


def test_the_list_filters_by_state_in_chinese(desk: Desk) -> None:
    client = desk.client()
    desk.state.act(desk.hostile_id, "resolve", "张三", now())
    page = client.get("/alerts").text
    assert f'<a href="/alerts/{desk.alert_id}">北辰燃料乙醇厂区附近恶臭难忍' in page
    assert "待处理" in page and "已解决" in page and '<span class="tag medium">中</span>' in page
    open_only = client.get("/alerts?state=open").text
    assert f'data-alert-id="{desk.alert_id}"' in open_only and f'data-alert-id="{desk.hostile_id}"' not in open_only
    assert "暂无已确认预警" in client.get("/alerts?state=acknowledged").text
    assert client.get("/alerts?state=closed").status_code == 400
    assert client.get("/alerts/999").status_code == 404


def test_the_json_api(desk: Desk) -> None:
    client = desk.client()
    listed = client.get("/api/alerts", params={"state": "open"}).json()["alerts"]
    assert [a["id"] for a in listed] == [desk.alert_id, desk.hostile_id]  # the latest changed first
    assert listed[0]["severity_label"] == "高" and listed[0]["state_label"] == "待处理"
    assert listed[0]["created_at"].endswith("+08:00")
    one = client.get(f"/api/alerts/{desk.alert_id}").json()
    assert one["alert"]["post_ids"] == ["forum:t2", "forum:t3", "forum:t4", "news:n4", "forum:t5"]
    assert one["posts"] == ["forum:t2", "forum:t3", "forum:t4", "news:n4", "news:n5", "forum:t5"]  # the event's
    assert one["event"]["id"] == one["alert"]["event_id"] and one["event"]["first_poster"] == "河西小区业主"
    assert one["responses"] == ["news:n5"]
    assert client.get(f"/api/alerts/{desk.hostile_id}").json()["posts"] == ["news:9"]  # no event: its posts
    assert [h["action"] for h in one["history"]] == ["open"] and one["evidence"] == []
    assert client.get("/api/alerts/999").status_code == 404
    assert client.get("/api/alerts?state=nope").status_code == 400
    assert client.get("/api/alerts?limit=x").status_code == 400


def test_the_overview_links_recent_alerts_to_their_pages_with_their_state(desk: Desk) -> None:
    alerts = desk.client().get("/api/summary").json()["alerts"]
    assert {a["id"]: (a["state_label"], a["severity_label"]) for a in alerts} == {
        desk.alert_id: ("待处理", "高"), desk.hostile_id: ("待处理", "中")}


def test_a_store_that_is_away_is_said_on_the_page(desk: Desk) -> None:
    from store.base import StoreError
    from store.embedded import EmbeddedStore

    class Away(EmbeddedStore):
        def get_event(self, event_id):  # noqa: ANN001, ANN201 - the real store, its cluster gone as a remote one goes
            raise StoreError("the Elasticsearch cluster at http://es:9200 cannot be reached")

    desk.store.__class__ = Away
    page = desk.client().get(f"/alerts/{desk.alert_id}")
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert "存储暂不可用" in page.text and "the Elasticsearch cluster at http://es:9200 cannot be reached" in page.text
    answer = desk.client().get(f"/api/alerts/{desk.alert_id}")
    assert answer.status_code == 503 and answer.json()["error"].startswith("存储暂不可用：")


def test_a_draft_that_fails_leaves_the_page_and_says_why(desk: Desk) -> None:
    from starlette.testclient import TestClient

    from dashboards.web.app import create_app
    from tests.dashboards.conftest import HOSTS, parse

    def failing(alert: dict) -> str:
        raise KeyError("first")  # what a custom template's slip looks like

    app = create_app(desk.store, desk.state.recent_alerts, parse, allowed_hosts=HOSTS, alert_view=desk.state.get,
                     statement=failing)
    client = TestClient(app, base_url="http://127.0.0.1")
    page = client.get(f"/alerts/{desk.alert_id}")
    assert page.status_code == 200 and "草稿生成失败：&#39;first&#39;" in page.text and "事件脉络" in page.text
    download = client.get(f"/alerts/{desk.alert_id}/statement.txt")
    assert download.status_code == 500 and "草稿生成失败" in download.text
