"""A briefing's figures, read from a store (each backend) and an alert record of known content, exactly."""

from __future__ import annotations

from datetime import timedelta

from alerts.labels import PLATFORM_LABELS
from alerts.state import AlertState
from models import OutletNames
from reports.figures import Briefing, Reader
from reports.period import Period
from store.base import Store
from tests.reports.conftest import DAY, at
from yuqing.briefing import alert_facts, briefing


def _read(data: tuple[Store, AlertState], kind: str = "day") -> Briefing:
    store, state = data
    return briefing(store, state, Period.of(kind, DAY.date()), at(13, 8), None, OutletNames())  # type: ignore[arg-type]


def test_periods() -> None:
    day = Period.of("day", DAY.date())
    assert (day.start, day.end, day.previous().first.isoformat(), day.key) == (
        at(12, 0), at(13, 0), "2024-03-11", "day:2024-03-12")
    week = Period.of("week", DAY.date())  # Tuesday's week starts on Monday the 11th
    assert (week.start, week.end, week.previous().key, week.label) == (
        at(11, 0), at(18, 0), "week:2024-03-04", "2024年3月11日—3月17日")
    assert Period.last_complete("day", at(13, 0, 0, 1)).key == "day:2024-03-12"
    assert Period.last_complete("week", at(18, 0, 0, 1)).key == "week:2024-03-11"
    assert Period.last_complete("week", at(17, 23)).key == "week:2024-03-04"


def test_headline_against_the_day_before(filled_any: tuple[Store, AlertState]) -> None:
    figures = {f.name: (f.current, f.previous) for f in _read(filled_any).headline}
    assert figures == {"posts": (5, 2), "negative": (3, 1), "negative_share": (0.6, 0.5), "events": (2, 1),
                       "alerts": (2, 2)}
    assert [f.change for f in _read(filled_any).headline][:2] == [1.5, 2.0]


def test_trend_has_every_hour_of_the_day(filled_any: tuple[Store, AlertState]) -> None:
    trend = _read(filled_any).trend
    assert [b.start for b in trend] == [at(12, h) for h in range(24)]
    assert {b.start.hour: (b.total, b.by_sentiment.get("negative", 0)) for b in trend if b.total} == {
        9: (2, 2), 10: (1, 1), 14: (1, 0), 23: (1, 0)}


def test_events_riskiest_first_with_their_timeline_state_and_alert(filled_any: tuple[Store, AlertState]) -> None:
    lines = _read(filled_any).events
    assert [(e.event.id, e.posts, e.negative, e.status, e.alert_state) for e in lines] == [
        ("evt:1", 3, 3, "cooling", "resolved"), ("evt:3", 1, 0, "cooling", None)]
    assert len(lines[0].timeline) == 24
    assert {t.hour: n for t, n in lines[0].timeline if n} == {9: 2, 10: 1}
    assert lines[0].milestones == [(at(12, 9, 10), "首发：作者1"), (at(12, 9, 15), "预警"), (at(12, 9, 35), "预警确认"),
                                   (at(12, 10, 5), "官方回应：作者3"), (at(12, 11, 15), "预警解决")]
    assert lines[1].milestones == [(at(12, 14), "首发：作者3")]
    store, state = filled_any
    so_far = briefing(store, state, Period.of("day", DAY.date()), at(12, 15), None, OutletNames())  # made during the day
    assert [e.status for e in so_far.events] == ["active", "active"]


def test_negative_posts_by_reach_without_duplicates(filled_any: tuple[Store, AlertState]) -> None:
    assert [p.id for p in _read(filled_any).negative] == ["forum:2", "news:1"]


def test_sources_tiers_platforms_and_terms(filled_any: tuple[Store, AlertState]) -> None:
    made = _read(filled_any)
    assert made.sources == [("news-a", 3), ("forum-b", 1), ("weibo-c", 1)]
    assert made.tiers[0] == ("local_media", 2) and sorted(made.tiers[1:]) == [
        ("central", 1), ("individual", 1), ("self_media", 1)]
    assert made.platforms[0] == ("news", 3) and sorted(made.platforms[1:]) == [("forum", 1), ("weibo", 1)]
    assert {t.term: (t.count, t.previous, t.rising) for t in made.terms} == {
        "恶臭": (2, 1, True), "厂区": (1, 1, False), "验收": (1, 0, False)}


def test_alerts_raised_and_handled_with_response_times(filled_any: tuple[Store, AlertState]) -> None:
    alerts = _read(filled_any).alerts
    assert [a.title for a in alerts.raised] == ["预警1", "预警2"]
    assert [a.title for a in alerts.handled] == ["预警3", "预警1", "预警2"]
    # First acknowledgements in the day: 20 and 10 minutes (预警2's second, after reopening, does not count).
    assert alerts.to_acknowledge == timedelta(minutes=15)
    # Resolutions in the day: 2 hours, 50 minutes, 12 hours (预警3, raised the day before).
    assert alerts.to_resolve == timedelta(hours=2)
    assert alerts.open_now == 1


def test_alert_facts_stop_at_alerts_unchanged_since_the_start(filled: tuple[Store, AlertState]) -> None:
    _, state = filled
    facts = alert_facts(state)(at(12, 0), at(13, 0))
    assert sorted(a.title for a in facts) == ["预警1", "预警2", "预警3"]
    assert [a.title for a in alert_facts(state)(at(12, 12), at(13, 0))] == ["预警2"]  # 预警1 was done by 11:15
    assert alert_facts(state)(at(14, 0), at(15, 0)) == []


def test_week(filled_any: tuple[Store, AlertState]) -> None:
    made = _read(filled_any, "week")
    figures = {f.name: f.current for f in made.headline}
    assert figures == {"posts": 8, "negative": 5, "negative_share": 5 / 8, "events": 3, "alerts": 4}
    assert [b.start for b in made.trend] == [at(d, 0) for d in range(11, 18)]


def test_a_scheme_leaves_other_posts_out(filled_any: tuple[Store, AlertState]) -> None:
    store, state = filled_any
    made = Reader(store, alert_facts(state), PLATFORM_LABELS, "other").read(Period.of("day", DAY.date()), at(13, 8))
    assert [f.current for f in made.headline[:2]] == [0, 0]
