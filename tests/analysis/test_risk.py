from analysis.risk import RiskScorer
from settings import Risk
from models import Author, Metrics, Post, Sentiment


def _post(score: float, tier: str = "individual", followers: int = 0, reposts: int = 0, text: str = "普通内容") -> Post:
    return Post(id="p", platform="weibo", source="s", url="", content=text, source_tier=tier,
                sentiment=Sentiment(label="neutral", score=score), author=Author(followers=followers),
                metrics=Metrics(reposts=reposts))


def test_each_signal_raises_risk() -> None:
    scorer = RiskScorer(Risk(), sensitive_terms=["爆炸"])
    calm = scorer.score(_post(0.9))
    assert scorer.score(_post(0.05)) > calm
    assert scorer.score(_post(0.9, tier="central")) > calm
    assert scorer.score(_post(0.9, followers=2_000_000, reposts=5000)) > calm
    assert scorer.score(_post(0.9, text="工厂爆炸")) > calm
    assert scorer.score(_post(0.9), growth_per_hour=30) > calm
    worst = scorer.score(_post(0.0, "central", 10**7, 10**6, "爆炸 维权"), growth_per_hour=100)
    assert 0.0 <= calm < worst <= 1.0


def test_weights_are_configurable() -> None:
    only_negativity = RiskScorer(Risk(reach=0, tier=0, sensitive=0, velocity=0))
    assert only_negativity.score(_post(0.2, tier="central", followers=10**7)) == 0.8
    assert RiskScorer(Risk(negativity=0, reach=0, tier=0, sensitive=0, velocity=0)).score(_post(0.0)) == 0.0
    assert RiskScorer(Risk(sensitive_terms=["上访"]), []).signals(_post(0.5, text="集体上访"))["sensitive"] == 0.5
