from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from alerts.engine import AlertEngine
from alerts.state import AlertState
from store.embedded import EmbeddedStore
from tests.alerts.conftest import make_post, make_settings
from yuqing.demo.mailsink import MailSink
from models import now


def _wait(sink: MailSink, n: int) -> None:
    deadline = time.monotonic() + 5
    while len(sink.received) < n and time.monotonic() < deadline:
        time.sleep(0.05)


def test_keyword_and_negative_rules_fire_once_each(engine: AlertEngine, store: EmbeddedStore, mail: MailSink) -> None:
    store.upsert([
        make_post(1, "北辰燃料乙醇厂区附近恶臭难忍", "居民投诉无人理", score=0.02),
        make_post(2, "北辰燃料乙醇开放日", "市民点赞", score=0.95),
        make_post(3, "别家工厂恶臭", "与我们无关", score=0.01, scheme=None),
    ])
    created = engine.run_once()
    assert len(created) == 2  # post 1: keyword + negative; post 2: neither; post 3: not our scheme
    _wait(mail, 2)
    assert sorted(m["Subject"] for m in mail.messages()) == [
        "[yuqing][HIGH] co: 北辰燃料乙醇厂区附近恶臭难忍", "[yuqing][MEDIUM] co: 北辰燃料乙醇厂区附近恶臭难忍"]
    assert engine.run_once() == [] and engine.evaluate(now() + timedelta(minutes=2)) == []
    time.sleep(0.3)
    assert len(mail.received) == 2


def test_mail_carries_the_evidence_and_escapes_crawled_text(engine: AlertEngine, store: EmbeddedStore,
                                                            mail: MailSink) -> None:
    store.upsert([make_post(1, '北辰燃料乙醇 爆炸 <script>alert("x")</script>', "<img src=x onerror=alert(1)> 现场浓烟")])
    engine.run_once()
    _wait(mail, 1)
    message = next(m for m in mail.messages() if "HIGH" in m["Subject"])
    assert message["To"] == "oncall@example.com, chief@example.com"
    assert message["Message-ID"].startswith("<yuqing-alert-")
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html and "<img" not in html
    assert 'href="http://127.0.0.1/n/1.html"' in html and "http://127.0.0.1/n/1.html" in text
    assert "敏感词：爆炸" in text and "河西小区业主" in text
    assert "http://127.0.0.1:8000/" in text  # the dashboard link


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
        _wait(late, 1)
        time.sleep(0.2)
        assert len(late.received) == 1
    assert state.deliveries_of(alert_id)[0]["status"] == "sent"


def test_restart_keeps_pending_deliveries_and_sends_nothing_twice(tmp_path: Path, store: EmbeddedStore,
                                                                  smtp_port: int) -> None:
    store.upsert([make_post(1, "北辰燃料乙醇 恶臭", score=0.9), make_post(2, "北辰燃料乙醇 爆炸", score=0.9)])
    state = AlertState.for_data_dir(tmp_path)
    AlertEngine(make_settings(smtp_port), store, state).run_once()  # server down: both pending
    state.close()
    with MailSink(tmp_path / "mail", port=smtp_port) as sink:
        state = AlertState.for_data_dir(tmp_path)
        engine = AlertEngine(make_settings(smtp_port), store, state)
        engine.run_once(now() + timedelta(minutes=1))
        _wait(sink, 2)
        state.close()
        state = AlertState.for_data_dir(tmp_path)
        AlertEngine(make_settings(smtp_port), store, state).run_once(now() + timedelta(minutes=2))
        state.close()
        time.sleep(0.3)
        assert sorted(m["Subject"] for m in sink.messages()) == [
            "[yuqing][HIGH] co: 北辰燃料乙醇 恶臭", "[yuqing][HIGH] co: 北辰燃料乙醇 爆炸"]


def test_a_failing_rule_does_not_stop_the_others(engine: AlertEngine, store: EmbeddedStore, mail: MailSink) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("rule bug")

    engine.rules[0].check = broken  # type: ignore[method-assign]
    store.upsert([make_post(1, "北辰燃料乙醇 恶臭", score=0.01)])
    assert len(engine.run_once()) == 1  # the negative rule still fires


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
