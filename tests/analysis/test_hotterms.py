from datetime import datetime, timedelta

from analysis.hotterms import HotTerms
from models import SHANGHAI

T0 = datetime(2024, 3, 12, 0, 30, tzinfo=SHANGHAI)


def test_a_term_that_jumps_is_hot_and_a_steady_one_is_not() -> None:
    hot = HotTerms(baseline_hours=24, min_count=3, ratio=3.0)
    for hour in range(24):
        for _ in range(10):
            hot.add(T0 + timedelta(hours=hour), ["政府", "天气"])
    latest = T0 + timedelta(hours=24)
    for _ in range(12):
        hot.add(latest, ["政府", "恶臭"])
    hot.add(latest, ["偶然"])
    [term] = hot.hot(latest)
    assert term.term == "恶臭" and term.count == 12 and term.baseline == 0 and term.ratio == 13.0


def test_old_hours_are_forgotten() -> None:
    hot = HotTerms(baseline_hours=2)
    for hour in range(10):
        hot.add(T0 + timedelta(hours=hour), ["词"])
    assert len(hot._hours) == 3
    assert hot.hot() == [] and HotTerms().hot() == []
