"""The engine against a real store and a real SMTP server: one alert per event, its mails one thread, mail only
when it matters (opening, a rise, a digest, an escalation), nothing sent twice across restarts."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from alerts.engine import AlertEngine
from alerts.state import AlertState
from alerts.tokens import Signer
import settings as config
from alerts.rules import NegativeRule
from models import SHANGHAI, Sentiment, now
from store.embedded import EmbeddedStore
from tests.alerts.conftest import feed, make_event, make_post, make_settings
from yuqing.demo.mailsink import MailSink

PAYLOAD_KEYS = {"alert_id", "alert_key", "kind", "severity", "severity_label", "title", "scheme", "summary",
                "reasons", "url", "alert_url", "context", "risk"}


def _mails(sink: MailSink) -> list[EmailMessage]:
    return sink.messages()  # a send returns once the server has the message: no waiting


def _text(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def _engine(smtp_port: int, store: EmbeddedStore, state: AlertState, **alerts: Any) -> AlertEngine:
    return AlertEngine(make_settings(smtp_port, **alerts), store, state)


def test_a_post_that_two_rules_take_opens_one_alert_and_one_mail(engine: AlertEngine, store: EmbeddedStore,
                                                                  state: AlertState, mail: MailSink) -> None:
    store.upsert([
        make_post(1, "北辰燃料乙醇厂区附近恶臭难忍", "居民投诉无人理", score=0.02),
        make_post(2, "北辰燃料乙醇开放日", "市民点赞", score=0.95),
        make_post(3, "别家工厂恶臭", "与我们无关", score=0.01, scheme=None),
    ])
    [alert_id] = engine.run_once()
    [message] = _mails(mail)
    assert message["Subject"] == "【高】舆情预警｜敏感词、负面舆情｜北辰燃料乙醇厂区附近恶臭难忍"
    assert (message["X-Priority"], message["Importance"], message["Priority"]) == ("1", "high", "urgent")
    alert = state.get(alert_id)
    assert alert is not None and alert["severity"] == "high" and alert["post_ids"] == ["news:1"]
    assert [r["rule"] for r in alert["reasons"]] == ["kw", "neg"]
    assert alert["key"] == "post:co:news:1" and alert["event_id"] is None
    text = _text(message)
    assert "敏感词：出现“恶臭”" in text and "负面舆情：情感为负面（正负倾向 0.02）" in text
    assert "情感：负面（正负倾向 0.02）" in text
    assert engine.run_once() == [] and engine.run_once(now() + timedelta(minutes=2)) == []
    assert len(_mails(mail)) == 1


def test_negative_is_the_label_the_dashboard_shows(engine: AlertEngine, store: EmbeddedStore, state: AlertState,
                                                    mail: MailSink) -> None:
    store.upsert([
        # 中性 on every page: a low score only leans it, so the negative rule says nothing of it ...
        make_post(1, "记者调查：北辰燃料乙醇周边居民反映夜间异味", "居民多次投诉未获答复",
                  sentiment=Sentiment(label="neutral", score=0.08)),
        # ... and when another rule alerts on such a post, its mail calls it 中性, not 负面.
        make_post(2, "北辰燃料乙醇厂区附近恶臭", "记者夜间实地探访", sentiment=Sentiment(label="neutral", score=0.08)),
        make_post(3, "实拍：北辰燃料乙醇排污口下游河水发黑", "怀疑偷排污水",
                  sentiment=Sentiment(label="negative", score=0.39)),
    ])
    opened = [state.get(alert_id) for alert_id in engine.run_once()]
    reasons = {alert["post_ids"][0]: [r["rule"] for r in alert["reasons"]] for alert in opened if alert}
    assert reasons == {"news:2": ["kw"], "news:3": ["neg"]}
    texts = {message["Subject"].rsplit("｜", 1)[1]: _text(message) for message in _mails(mail)}
    calm = texts["北辰燃料乙醇厂区附近恶臭"]
    assert "情感：中性（正负倾向 0.08）" in calm and "负面" not in calm
    assert "负面舆情：情感为负面（正负倾向 0.39）" in texts["实拍：北辰燃料乙醇排污口下游河水发黑"]


@pytest.mark.parametrize(("label", "score", "threshold", "fires"), [
    ("negative", 0.39, None, True),  # the label alone decides
    ("neutral", 0.08, None, False),  # a lean is not a verdict
    ("neutral", 0.08, 0.3, False),  # a threshold never adds a post the label does not call negative
    ("positive", 0.01, 1.0, False),
    ("negative", 0.39, 0.3, False),  # it narrows: negative AND score below it
    ("negative", 0.2, 0.3, True),
    ("negative", 0.3, 0.3, False),  # below, not at
])
def test_the_negative_rules_threshold_only_narrows(label: str, score: float, threshold: float | None,
                                                   fires: bool) -> None:
    spec = config.Rule(name="neg", type="negative", scheme="co", threshold=threshold)
    post = make_post(1, "北辰燃料乙醇", sentiment=Sentiment(label=label, score=score))  # type: ignore[arg-type]
    assert (NegativeRule(spec, config.Alerts()).check(post) is not None) is fires


def test_mail_carries_the_evidence_and_escapes_crawled_text(engine: AlertEngine, store: EmbeddedStore,
                                                            mail: MailSink) -> None:
    store.upsert([make_post(1, '北辰燃料乙醇 爆炸 <script>alert("x")</script>', "<img src=x onerror=alert(1)> 现场浓烟",
                            metrics={"reposts": 30, "comments": 5})])
    [alert_id] = engine.run_once()
    [message] = _mails(mail)
    assert message["To"] == "oncall@example.com"
    assert message["Message-ID"].startswith(f"<yuqing-alert-{alert_id}.") and message["In-Reply-To"] is None
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = _text(message)
    assert "<script>" not in html and "&lt;script&gt;" in html and "<img" not in html
    assert 'href="http://127.0.0.1/n/1.html"' in html and "http://127.0.0.1/n/1.html" in text
    assert "敏感词：出现“爆炸”" in text and "河西小区业主" in text and "个人" in text  # the tier, in Chinese
    assert "（个人，新闻网站）" in text and "（个人，新闻网站）" in html  # and the platform
    assert "转发 30 · 评论 5" in text
    assert f"预警页面：http://yuqing.example.com/alerts/{alert_id}" in text


def test_mail_names_the_outlet_not_the_source_id(engine: AlertEngine, store: EmbeddedStore, mail: MailSink) -> None:
    store.upsert([make_post(1, "北辰燃料乙醇 爆炸", outlet="白桦新闻网"), make_post(2, "北辰燃料乙醇 厂区爆炸")])
    engine.run_once()
    texts = sorted(_text(m) for m in _mails(mail))
    sources = [line for text in texts for line in text.splitlines() if line.startswith("来源：")]
    assert sorted(sources) == ["来源：baihua（个人，新闻网站）", "来源：白桦新闻网（个人，新闻网站）"]  # no name: the id
    html = [m.get_body(("html",)).get_content() for m in _mails(mail)]  # type: ignore[union-attr]
    assert sum("白桦新闻网（个人" in h for h in html) == 1



def test_mail_names_the_scheme_by_its_title(store: EmbeddedStore, state: AlertState, smtp_port: int,
                                            mail: MailSink) -> None:
    settings = make_settings(smtp_port)
    settings.schemes[0] = settings.schemes[0].model_copy(update={"title": "北辰燃料乙醇"})
    store.upsert([make_post(1, "北辰燃料乙醇 爆炸")])
    AlertEngine(settings, store, state).run_once()
    [message] = _mails(mail)
    assert _text(message).splitlines()[0].endswith("· 北辰燃料乙醇")  # the scheme's id (co) is for machines
    assert "· 北辰燃料乙醇</p>" in message.get_body(("html",)).get_content()  # type: ignore[union-attr]

def test_each_reader_gets_links_signed_for_them(store: EmbeddedStore, state: AlertState, smtp_port: int,
                                                mail: MailSink) -> None:
    engine = _engine(smtp_port, store, state, recipients=["oncall@example.com", "chief@example.com"])
    store.upsert([make_post(1, "北辰燃料乙醇 恶臭", score=0.9)])
    [alert_id] = engine.run_once()
    messages = _mails(mail)
    assert sorted(m["To"] for m in messages) == ["chief@example.com", "oncall@example.com"]
    assert len({m["Message-ID"] for m in messages}) == 1  # the same mail of the same alert, to two readers
    signer = Signer(b"s" * 32, "http://yuqing.example.com/", 7 * 86400)
    for message in messages:
        links = [line.split("：", 1)[1] for line in _text(message).splitlines() if line.startswith(("确认", "解决"))]
        assert [link.split("?t=")[0] for link in links] == [f"http://yuqing.example.com/alerts/{alert_id}/act"] * 2
        grants = [signer.verify(link.split("?t=")[1], now()) for link in links]
        assert [(g.alert_id, g.action, g.who) for g in grants] == [
            (alert_id, "ack", message["To"]), (alert_id, "resolve", message["To"])]
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert links[0].replace("&", "&amp;") in html or links[0] in html


def test_an_event_has_one_alert_whose_mails_form_a_thread(engine: AlertEngine, store: EmbeddedStore,
                                                          state: AlertState, mail: MailSink) -> None:
    t0 = now()
    feed(store, "evt:a", make_post(1, "北辰燃料乙醇周边居民投诉", "夜里睡不着", score=0.1, at=t0, event="evt:a"))
    [alert_id] = engine.run_once(t0 + timedelta(minutes=1))
    # More of the same: the alert grows, no mail.
    feed(store, "evt:a", make_post(2, "北辰燃料乙醇附近又是一夜", "真难受", score=0.1, at=t0 + timedelta(minutes=3),
                                   event="evt:a"))
    assert engine.run_once(t0 + timedelta(minutes=4)) == []
    # A sensitive word: the severity rises, one mail answering the first.
    feed(store, "evt:a", make_post(3, "北辰燃料乙醇厂区恶臭", "还有人头晕", score=0.1, at=t0 + timedelta(minutes=6),
                                   event="evt:a"))
    assert engine.run_once(t0 + timedelta(minutes=7)) == [alert_id]
    first, rise = _mails(mail)
    assert first["Subject"].startswith("【中】舆情预警｜负面舆情｜北辰燃料乙醇周边居民投诉")
    assert first["X-Priority"] is None  # medium is no emergency
    assert rise["Subject"] == "【高】预警更新｜北辰燃料乙醇周边居民投诉" and rise["X-Priority"] == "1"
    assert rise["In-Reply-To"] == rise["References"] == first["Message-ID"] != rise["Message-ID"]
    assert "严重程度由中升为高" in _text(rise) and "本事件第 3 条，首发" in _text(rise)
    alert = state.get(alert_id)
    assert alert and alert["post_ids"] == ["news:1", "news:2", "news:3"] and alert["event_id"] == "evt:a"
    assert alert["key"] == "event:co:evt:a" and len(state.list_alerts()) == 1
    assert [h["action"] for h in state.history(alert_id)] == ["open", "update", "update"]


def test_a_growing_event_gets_a_digest_every_update_every(engine: AlertEngine, store: EmbeddedStore,
                                                          state: AlertState, mail: MailSink) -> None:
    t0 = now()
    feed(store, "evt:a", make_post(1, "北辰燃料乙醇厂区恶臭", score=0.1, at=t0, event="evt:a"))
    [alert_id] = engine.run_once(t0)
    for n in (2, 3):  # posts that no rule takes still feed the event's alert
        feed(store, "evt:a", make_post(n, f"北辰燃料乙醇 第{n}帖", score=0.5, at=t0 + timedelta(minutes=n),
                                       event="evt:a"))
    assert engine.run_once(t0 + timedelta(minutes=29)) == []  # less than update_every (30m) since the last mail
    assert engine.run_once(t0 + timedelta(minutes=30)) == [alert_id]
    assert engine.run_once(t0 + timedelta(minutes=90)) == []  # grown no more: no digest
    opening, digest = _mails(mail)
    assert digest["Subject"] == "【高】事件进展·新增 2 条｜北辰燃料乙醇厂区恶臭"
    assert digest["In-Reply-To"] == opening["Message-ID"]
    assert "本事件自上次通知以来新增 2 条" in _text(digest) and "北辰燃料乙醇 第3帖" in _text(digest)
    assert state.get(alert_id)["post_ids"] == ["news:1", "news:2", "news:3"]  # type: ignore[index]


def test_update_every_per_rule(store: EmbeddedStore, state: AlertState, smtp_port: int, mail: MailSink) -> None:
    rules = [{"name": "kw", "type": "keyword", "scheme": "co", "terms": ["恶臭"], "update_every": "5m"}]
    engine = _engine(smtp_port, store, state, rules=rules)
    t0 = now()
    feed(store, "evt:a", make_post(1, "北辰燃料乙醇厂区恶臭", at=t0, event="evt:a"))
    engine.run_once(t0)
    feed(store, "evt:a", make_post(2, "北辰燃料乙醇 又一帖", at=t0 + timedelta(minutes=1), event="evt:a"))
    assert engine.run_once(t0 + timedelta(minutes=4)) == []
    assert len(engine.run_once(t0 + timedelta(minutes=5))) == 1
    assert len(_mails(mail)) == 2


def test_a_restart_sends_nothing_twice_and_reads_no_post_twice(tmp_path: Path, store: EmbeddedStore,
                                                               smtp_port: int) -> None:
    t0 = now()
    feed(store, "evt:a", make_post(1, "北辰燃料乙醇 恶臭", score=0.9, at=t0, event="evt:a"))
    store.upsert([make_post(2, "北辰燃料乙醇 爆炸", score=0.9, at=t0)])
    state = AlertState.for_data_dir(tmp_path)
    _engine(smtp_port, store, state).run_once(t0)  # server down: both pending
    state.close()
    with MailSink(tmp_path / "mail", port=smtp_port) as sink:
        for minutes in (1, 2, 3):  # a new state on the same file each time, as after a restart
            state = AlertState.for_data_dir(tmp_path)
            _engine(smtp_port, store, state).run_once(t0 + timedelta(minutes=minutes))
            state.close()
        assert sorted(m["Subject"] for m in sink.messages()) == [
            "【高】舆情预警｜敏感词｜北辰燃料乙醇 恶臭", "【高】舆情预警｜敏感词｜北辰燃料乙醇 爆炸"]
    state = AlertState.for_data_dir(tmp_path)
    try:
        assert [a["post_ids"] for a in state.list_alerts()] in (
            [["news:1"], ["news:2"]], [["news:2"], ["news:1"]])  # each post fed one alert, once
    finally:
        state.close()


def test_a_resolved_alert_reopens_when_its_event_takes_up_again(engine: AlertEngine, store: EmbeddedStore,
                                                                state: AlertState, mail: MailSink) -> None:
    t0 = now()
    feed(store, "evt:a", make_post(1, "北辰燃料乙醇厂区恶臭", score=0.9, at=t0, event="evt:a"))
    [alert_id] = engine.run_once(t0)
    state.act(alert_id, "resolve", "张三", t0 + timedelta(minutes=10))
    feed(store, "evt:a", make_post(2, "北辰燃料乙醇 没人管", score=0.5, at=t0 + timedelta(minutes=11),
                                   event="evt:a"))
    assert engine.run_once(t0 + timedelta(minutes=12)) == []  # nothing any rule takes: it stays resolved
    assert state.get(alert_id)["state"] == "resolved"  # type: ignore[index]
    feed(store, "evt:a", make_post(3, "北辰燃料乙醇 恶臭又来了", score=0.9, at=t0 + timedelta(minutes=13),
                                   event="evt:a"))
    assert engine.run_once(t0 + timedelta(minutes=14)) == [alert_id]
    alert = state.get(alert_id)
    assert alert and alert["state"] == "open" and alert["resolved_at"] is None and len(state.list_alerts()) == 1
    assert [(h["who"], h["action"]) for h in state.history(alert_id)][-2:] == [("张三", "resolve"),
                                                                             ("system", "reopen")]
    reopened = _mails(mail)[-1]
    assert "已重新打开" in _text(reopened) and reopened["In-Reply-To"] == _mails(mail)[0]["Message-ID"]


def test_an_official_statement_never_alerts_and_is_listed_as_the_response(
        engine: AlertEngine, store: EmbeddedStore, state: AlertState, mail: MailSink) -> None:
    t0 = now()
    feed(store, "evt:a", make_post(1, "北辰燃料乙醇厂区恶臭难忍", score=0.05, at=t0, event="evt:a"))
    [alert_id] = engine.run_once(t0)
    answer = make_post(2, "白桦市生态环境局回应北辰燃料乙醇恶臭投诉：已介入调查", "执法人员已进驻企业", score=0.05,
                       at=t0 + timedelta(minutes=5), event="evt:a", official=True, source="baihua-news")
    feed(store, "evt:a", answer)
    store.upsert([make_post(3, "北辰燃料乙醇关于异味问题的声明", "公司高度重视，恶臭来源正在排查", score=0.05,
                            at=t0 + timedelta(minutes=5), official=True)])  # a statement of no event
    assert engine.run_once(t0 + timedelta(minutes=6)) == []
    assert len(state.list_alerts()) == 1 and len(_mails(mail)) == 1
    alert = state.get(alert_id)
    assert alert and alert["post_ids"] == ["news:1"]
    [response] = alert["payload"]["responses"]
    assert response["title"].startswith("白桦市生态环境局回应") and response["url"] == answer.url
    assert set(response) == {"time", "source", "title", "url"}


def test_a_drill_report_raises_no_high_alert(store: EmbeddedStore, state: AlertState, smtp_port: int,
                                             mail: MailSink) -> None:
    rules = [{"name": "kw", "type": "keyword", "scheme": "co", "terms": ["泄漏", "爆炸"], "severity": "high",
              "exclude": ["演练", "演习"]},
             {"name": "fire", "type": "keyword", "scheme": "co", "terms": ["起火"], "severity": "critical",
              "near": [{"terms": ["起火", "厂区"], "within": 6}]}]
    engine = _engine(smtp_port, store, state, rules=rules)
    store.upsert([
        make_post(1, "北辰燃料乙醇开展2024年危险化学品泄漏应急演练",
                  "3月5日上午，北辰燃料乙醇有限公司联合白桦市消防救援支队开展危化品应急演练。演练模拟乙醇储罐区发生"
                  "泄漏，现场人员迅速启动应急预案，疏散、堵漏、洗消有序进行，演练达到预期效果。"),
        make_post(2, "北辰燃料乙醇：员工宿舍楼下有车辆起火", "小区里一辆电动车起火，和工厂没有关系。"),
        make_post(3, "北辰燃料乙醇储罐区疑似发生泄漏", "附近居民闻到刺鼻气味，有人看到罐区冒白烟。"),
        make_post(4, "北辰燃料乙醇厂区起火", "浓烟滚滚，消防车已赶到。"),
    ])
    engine.run_once()
    assert sorted((a["post_ids"], a["severity"]) for a in state.list_alerts()) == [
        (["news:3"], "high"), (["news:4"], "critical")]


def test_tier_rule(store: EmbeddedStore, state: AlertState, smtp_port: int, mail: MailSink) -> None:
    rules = [{"name": "reach", "type": "tier", "scheme": "co", "title": "重要媒体", "min_followers": 100_000}]
    engine = _engine(smtp_port, store, state, rules=rules)
    store.upsert([
        make_post(1, "北辰燃料乙醇 一则报道", source_tier="central", source="people"),
        make_post(2, "北辰燃料乙醇 大V转发", author={"name": "白桦观察", "verified": True, "followers": 2_000_000}),
        make_post(3, "北辰燃料乙醇 小号", author={"name": "路人", "verified": True, "followers": 500}),
        make_post(4, "北辰燃料乙醇 地方报道", source_tier="local_media"),
    ])
    engine.run_once()
    reasons = sorted(a["reasons"][0]["reason"] for a in state.list_alerts())
    assert reasons == ["中央媒体发布：people（河西小区业主）", "认证账号 白桦观察 发布（粉丝 2,000,000）"]


def test_event_rule_opens_the_events_alert_once_it_is_big(store: EmbeddedStore, state: AlertState,
                                                          smtp_port: int, mail: MailSink) -> None:
    rules = [{"name": "big", "type": "event", "scheme": "co", "title": "事件扩散", "min_posts": 3,
              "severity": "high"}]
    engine = _engine(smtp_port, store, state, rules=rules)
    t0 = now()
    for n in (1, 2):
        feed(store, "evt:a", make_post(n, f"北辰燃料乙醇 讨论{n}", at=t0 + timedelta(minutes=n), event="evt:a"))
    assert engine.run_once(t0 + timedelta(minutes=3)) == []
    feed(store, "evt:a", make_post(3, "北辰燃料乙醇 讨论3", at=t0 + timedelta(minutes=4), event="evt:a"))
    [alert_id] = engine.run_once(t0 + timedelta(minutes=5))
    assert engine.run_once(t0 + timedelta(minutes=6)) == []  # still big: the same alert, no new mail
    alert = state.get(alert_id)
    assert alert and alert["key"] == "event:co:evt:a" and alert["reasons"][0]["reason"] == "事件已有 3 条"
    assert alert["title"] == "北辰燃料乙醇 讨论1" and alert["url"] == "http://127.0.0.1/n/1.html"
    [message] = _mails(mail)
    assert message["Subject"] == "【高】舆情预警｜事件扩散｜北辰燃料乙醇 讨论1"


def test_spike_rule_and_realert(store: EmbeddedStore, state: AlertState, smtp_port: int, mail: MailSink) -> None:
    rules = [{"name": "surge", "type": "spike", "scheme": "co", "window": "1h", "factor": 3, "baseline_days": 1,
              "min_count": 4, "realert": "6h"}]
    engine = _engine(smtp_port, store, state, rules=rules)
    t0 = now()
    # Yesterday: 24 negative posts, one an hour on average.
    store.upsert([make_post(100 + n, f"北辰燃料乙醇 旧帖{n}", score=0.1, age=timedelta(hours=2 + n))
                  for n in range(22)])
    store.upsert([make_post(n, f"北辰燃料乙醇 差评{n}", score=0.1, age=timedelta(minutes=5 * n), event="evt:a")
                  for n in range(1, 3)])
    assert engine.run_once(t0) == []  # 2 in the last hour: below min_count
    store.upsert([make_post(n, f"北辰燃料乙醇 差评{n}", score=0.1, age=timedelta(minutes=5 * n), event="evt:a")
                  for n in range(3, 6)])
    store.upsert_events([make_event("evt:a", [store.get(f"news:{n}") for n in range(1, 6)])])  # type: ignore[misc]
    [alert_id] = engine.run_once(t0)
    alert = state.get(alert_id)
    assert alert and alert["key"] == "event:co:evt:a" and alert["reasons"][0]["reason"].startswith("负面帖 1 小时内 5 条")
    # Another story spikes within realert: no second alert.
    store.upsert([make_post(n, f"北辰燃料乙醇 另一事{n}", score=0.1, age=timedelta(minutes=1), event="evt:b")
                  for n in range(10, 20)])
    assert engine.run_once(t0 + timedelta(minutes=10)) == [] and len(state.list_alerts()) == 1


def test_quiet_hours_hold_all_but_critical_until_one_morning_digest(store: EmbeddedStore, state: AlertState,
                                                                    smtp_port: int, mail: MailSink) -> None:
    rules = [{"name": "kw", "type": "keyword", "scheme": "co", "terms": ["恶臭"], "severity": "high"},
             {"name": "boom", "type": "keyword", "scheme": "co", "terms": ["爆炸"], "severity": "critical"},
             {"name": "neg", "type": "negative", "scheme": "co"}]
    engine = _engine(smtp_port, store, state, rules=rules, quiet_hours="22:00-07:00")
    night = datetime.combine(now().date(), datetime.min.time(), SHANGHAI).replace(hour=23)
    store.upsert([make_post(1, "北辰燃料乙醇 恶臭", at=night, age=timedelta(minutes=1)),
                  make_post(2, "北辰燃料乙醇 太差了", score=0.1, at=night, age=timedelta(minutes=1)),
                  make_post(3, "北辰燃料乙醇 爆炸", at=night, age=timedelta(minutes=1))])
    assert len(engine.run_once(night + timedelta(minutes=1))) == 3
    [critical] = _mails(mail)
    assert critical["Subject"].startswith("【紧急】")
    assert engine.run_once(night + timedelta(hours=7, minutes=59)) == []  # 06:59: still quiet
    assert len(_mails(mail)) == 1
    assert len(engine.run_once(night + timedelta(hours=8))) == 1  # 07:00: one digest for the reader
    critical, morning = _mails(mail)
    assert morning["Subject"] == "【高】静默时段预警汇总（2 条）" and morning["In-Reply-To"] is None
    text = _text(morning)
    assert "北辰燃料乙醇 恶臭" in text and "北辰燃料乙醇 太差了" in text and text.count("确认：http") == 2
    assert engine.run_once(night + timedelta(hours=9)) == [] and len(_mails(mail)) == 2


def test_an_alert_nobody_acknowledges_climbs_the_escalation_levels(store: EmbeddedStore, state: AlertState,
                                                                   smtp_port: int, mail: MailSink) -> None:
    rules = [{"name": "kw", "type": "keyword", "scheme": "co", "terms": ["恶臭"], "severity": "high",
              "escalate_after": "30m", "escalation": [["lead@example.com"], ["chief@example.com", "cto@example.com"]]}]
    engine = _engine(smtp_port, store, state, rules=rules)
    t0 = now()
    store.upsert([make_post(1, "北辰燃料乙醇 恶臭", at=t0)])
    [alert_id] = engine.run_once(t0)
    assert engine.run_once(t0 + timedelta(minutes=29)) == []
    assert engine.run_once(t0 + timedelta(minutes=30)) == [alert_id]
    assert engine.run_once(t0 + timedelta(minutes=31)) == []  # once per level
    assert engine.run_once(t0 + timedelta(minutes=60)) == [alert_id]
    assert engine.run_once(t0 + timedelta(hours=5)) == []  # no level above the last
    messages = _mails(mail)
    assert [m["To"] for m in messages] == ["oncall@example.com", "lead@example.com", "chief@example.com",
                                           "cto@example.com"]
    assert messages[1]["Subject"] == "【高】预警升级·第 1 级｜北辰燃料乙醇 恶臭"
    assert messages[1]["In-Reply-To"] == messages[0]["Message-ID"]
    assert "30 分钟无人确认，升级到第 1 级" in _text(messages[1])
    assert [h["action"] for h in state.history(alert_id)] == ["open", "escalate", "escalate"]
    assert state.get(alert_id)["escalation_level"] == 2  # type: ignore[index]
    kinds = [d["kind"] for d in state.deliveries_of(alert_id)]
    assert kinds == ["open", "escalation", "escalation", "escalation"]


def test_an_acknowledged_alert_does_not_escalate(store: EmbeddedStore, state: AlertState, smtp_port: int,
                                                 mail: MailSink) -> None:
    rules = [{"name": "kw", "type": "keyword", "scheme": "co", "terms": ["恶臭"],
              "escalate_after": "30m", "escalation": [["lead@example.com"]]}]
    engine = _engine(smtp_port, store, state, rules=rules)
    t0 = now()
    store.upsert([make_post(1, "北辰燃料乙醇 恶臭", at=t0)])
    [alert_id] = engine.run_once(t0)
    state.act(alert_id, "ack", "oncall@example.com", t0 + timedelta(minutes=10))
    assert engine.run_once(t0 + timedelta(hours=2)) == [] and len(_mails(mail)) == 1


def test_every_delivery_carries_the_payload_contract(store: EmbeddedStore, state: AlertState, smtp_port: int) -> None:
    seen: list[dict[str, Any]] = []

    class Recorder:
        channel = "email"

        def session(self):  # noqa: ANN202
            from contextlib import nullcontext

            return nullcontext(self)

        def send(self, alert: dict[str, Any], recipients: list[str]) -> None:
            seen.append(alert)

    settings = make_settings(smtp_port, rules=[
        {"name": "kw", "type": "keyword", "scheme": "co", "terms": ["恶臭"], "escalate_after": "10m",
         "escalation": [["lead@example.com"]]},
        {"name": "neg", "type": "negative", "scheme": "co", "severity": "high"}], quiet_hours="22:00-07:00")
    engine = AlertEngine(settings, store, state, notifiers=[Recorder()])  # type: ignore[list-item]
    t0 = datetime.combine(now().date(), datetime.min.time(), SHANGHAI).replace(hour=12)
    feed(store, "evt:a", make_post(1, "北辰燃料乙醇 恶臭", at=t0, event="evt:a"))
    engine.run_once(t0)  # open
    feed(store, "evt:a", make_post(2, "北辰燃料乙醇 很差", score=0.1, at=t0 + timedelta(minutes=1), event="evt:a"))
    engine.run_once(t0 + timedelta(minutes=2))  # update: the severity rose
    engine.run_once(t0 + timedelta(minutes=12))  # escalation
    feed(store, "evt:a", make_post(3, "北辰燃料乙醇 又一帖", at=t0 + timedelta(minutes=13), event="evt:a"))
    engine.run_once(t0 + timedelta(minutes=45))  # digest
    feed(store, "evt:a", make_post(4, "北辰燃料乙醇 深夜", at=t0 + timedelta(hours=11), event="evt:a"))
    engine.run_once(t0 + timedelta(hours=11))  # 23:00 quiet: the digest is held
    engine.run_once(t0 + timedelta(hours=19))  # 07:00: the morning's
    assert [a["kind"] for a in seen] == ["open", "update", "escalation", "digest", "digest"]
    for alert in seen:
        assert PAYLOAD_KEYS <= set(alert), PAYLOAD_KEYS - set(alert)
        assert isinstance(alert["reasons"], list) and all(isinstance(r, str) for r in alert["reasons"])
        assert alert["alert_url"].startswith("http://yuqing.example.com/alerts")
    assert seen[0]["context"].startswith("本事件第 1 条，首发 ") and seen[0]["risk"] == 0.0
    assert len({a["message_key"] for a in seen}) == len(seen)


def test_old_posts_never_alert(engine: AlertEngine, store: EmbeddedStore, mail: MailSink) -> None:
    store.upsert([make_post(1, "北辰燃料乙醇 恶臭", score=0.01, age=timedelta(days=3))])
    assert engine.run_once() == []


def test_server_down_retries_with_backoff_then_delivers_once(engine: AlertEngine, store: EmbeddedStore,
                                                              state: AlertState, tmp_path: Path, smtp_port: int) -> None:
    store.upsert([make_post(1, "北辰燃料乙醇 恶臭", score=0.9)])
    t0 = now()
    [alert_id] = engine.run_once(t0)  # nothing listens: the delivery fails
    [row] = state.deliveries_of(alert_id)
    assert row["status"] == "pending" and row["attempts"] == 1 and "ConnectionRefused" in row["last_error"]
    assert engine.deliver(t0 + timedelta(seconds=9)) == 0  # not due before retry_base (10 s)
    assert engine.deliver(t0 + timedelta(seconds=11)) == 0  # due, still down: next wait doubles to 20 s
    assert state.deliveries_of(alert_id)[0]["attempts"] == 2
    with MailSink(tmp_path / "late", port=smtp_port) as late:
        assert engine.deliver(t0 + timedelta(seconds=25)) == 0
        assert engine.deliver(t0 + timedelta(seconds=32)) == 1
        assert engine.deliver(t0 + timedelta(hours=1)) == 0
        assert len(late.received) == 1
    assert state.deliveries_of(alert_id)[0]["status"] == "sent"


def test_a_failing_rule_does_not_stop_the_others(engine: AlertEngine, store: EmbeddedStore, state: AlertState,
                                                 mail: MailSink) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("rule bug")

    engine.rules[0].check = broken  # type: ignore[attr-defined]
    store.upsert([make_post(1, "北辰燃料乙醇 恶臭", score=0.01)])
    [alert_id] = engine.run_once()  # the negative rule still fires
    assert [r["rule"] for r in state.get(alert_id)["reasons"]] == ["neg"]  # type: ignore[index]
    assert state.checkpoint("kw") is None and state.checkpoint("neg") is not None  # kw reads them again


def test_alert_lifecycle_and_dashboard_listing(engine: AlertEngine, store: EmbeddedStore, state: AlertState,
                                               mail: MailSink) -> None:
    store.upsert([make_post(1, "北辰燃料乙醇 恶臭", score=0.9)])
    [alert_id] = engine.run_once()
    [listed] = state.recent_alerts(5)
    assert listed["id"] == alert_id and listed["state"] == "open" and listed["delivery"] == "sent"
    state.act(alert_id, "ack", "值班员张三", now())
    assert state.get(alert_id)["acknowledged_by"] == "值班员张三"  # type: ignore[index]
    state.act(alert_id, "resolve", "值班员张三", now())
    assert state.recent_alerts(5)[0]["state"] == "resolved"


def test_rule_without_recipients_records_but_sends_nothing(tmp_path: Path, store: EmbeddedStore,
                                                           smtp_port: int, mail: MailSink) -> None:
    settings = make_settings(smtp_port, recipients=[])
    state = AlertState.for_data_dir(tmp_path / "s")
    try:
        store.upsert([make_post(1, "北辰燃料乙醇 恶臭", score=0.9)])
        assert len(AlertEngine(settings, store, state).run_once()) == 1
        assert state.recent_alerts(1)[0]["delivery"] == "none"
        time.sleep(0.2)
        assert mail.received == []
    finally:
        state.close()


@pytest.mark.parametrize("bad", [{"quiet_hours": "22-7"}, {"quiet_hours": "07:00-07:00"},
                                 {"rules": [{"name": "e", "type": "event", "scheme": "co"}]},
                                 {"rules": [{"name": "k", "type": "keyword", "scheme": "co", "terms": ["a"],
                                             "escalate_after": "1h"}]},
                                 {"rules": [{"name": "k", "type": "negative", "scheme": "co"},
                                            {"name": "k", "type": "negative", "scheme": "co"}]}])
def test_settings_refuse_what_cannot_work(bad: dict[str, Any], smtp_port: int) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        make_settings(smtp_port, **bad)


def test_posts_of_the_event_before_the_one_that_opens_it_feed_it_too(engine: AlertEngine, store: EmbeddedStore,
                                                                     state: AlertState, mail: MailSink) -> None:
    t0 = now()
    feed(store, "evt:a", make_post(1, "北辰燃料乙醇 附近有味道", at=t0, event="evt:a"),
         make_post(2, "北辰燃料乙醇厂区恶臭", at=t0 + timedelta(minutes=1), event="evt:a"),
         make_post(3, "北辰燃料乙醇 同感", at=t0 + timedelta(minutes=2), event="evt:a"))
    [alert_id] = engine.run_once(t0 + timedelta(minutes=3))
    alert = state.get(alert_id)
    assert alert and alert["post_ids"] == ["news:1", "news:2", "news:3"]
    assert alert["title"] == "北辰燃料乙醇厂区恶臭" and alert["payload"]["context"].startswith("本事件第 2 条，首发 ")
    assert engine.run_once(t0 + timedelta(hours=1)) == []  # nothing left to feed it: no digest either


def test_an_upgraded_alerts_db_alerts_on_nothing_twice_and_sends_what_waited(tmp_path: Path, store: EmbeddedStore,
                                                                             smtp_port: int, mail: MailSink) -> None:
    from tests.alerts.test_state import T0, _old_db

    db = _old_db(tmp_path / "old")  # alerts 1 (kw) and 2 (neg) on news:1; alert 2's mail still pending
    at = T0 + timedelta(minutes=10)
    store.upsert([make_post(1, "北辰燃料乙醇 恶臭", score=0.1, at=T0, age=timedelta(minutes=4))])
    state = AlertState.for_data_dir(db.parent)
    try:
        assert _engine(smtp_port, store, state).run_once(at) == []
        assert len(state.list_alerts()) == 3
        [waited] = _mails(mail)  # the old outbox row, in the old payload's words
        assert waited["Message-ID"].startswith("<yuqing-alert-2.20240305064400500000@")
        assert "北辰燃料乙醇 恶臭" in waited["Subject"] and "敏感词：恶臭" in _text(waited)
    finally:
        state.close()


def test_a_new_alert_has_its_post_page_saved_once(tmp_path: Path, store: EmbeddedStore, state: AlertState,
                                                  smtp_port: int, mail: MailSink) -> None:
    from alerts.evidence import EvidenceLocker, EvidenceQueue
    from tests.crawlers.fakes import FakeWeb

    web = FakeWeb()
    page = "<html><body><h1>北辰燃料乙醇厂区恶臭</h1></body></html>".encode()
    web.routes["/t/1.html"] = lambda _: (200, "text/html; charset=utf-8", page)
    evidence = EvidenceQueue(EvidenceLocker(tmp_path / "evidence", timeout=5))
    evidence.start()
    engine = AlertEngine(make_settings(smtp_port), store, state, evidence=evidence)
    t0 = now()
    try:
        feed(store, "evt:a", make_post(1, "北辰燃料乙醇厂区恶臭", at=t0, event="evt:a", url=f"{web.url}/t/1.html"))
        [alert_id] = engine.run_once(t0)
        feed(store, "evt:a", make_post(2, "北辰燃料乙醇 恶臭", at=t0 + timedelta(minutes=1), event="evt:a",
                                       url=f"{web.url}/t/2.html"))
        engine.run_once(t0 + timedelta(minutes=2))  # feeds the alert: no second capture
    finally:
        evidence.stop()
        web.close()
    assert sorted(p.name for p in (tmp_path / "evidence" / str(alert_id)).iterdir()) == [
        "meta.json", "page.warc.gz", "text.txt"]
    assert [seen.path for seen in web.seen] == ["/t/1.html"]
