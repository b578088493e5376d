"""Analysts' corrections, on every Store backend: the corrected label is what every read sees, at once, and
stays through a re-crawl, a reindex and a copy into another store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from store.base import SearchQuery, Store
from tests.store.conftest import BASE, make_post
from tests.store.test_contract import ids
from models import Correction, Post, SchemeMatch, Sentiment

AT = BASE + timedelta(days=1)


def correction(sentiment: str | None = None, relevant: bool | None = None, *, by: str = "李明",
               note: str = "") -> Correction:
    return Correction(sentiment=sentiment, relevant=relevant, by=by, at=AT, note=note)  # type: ignore[arg-type]


def recrawl(post: Post, label: str, score: float) -> Post:
    """The post as ingest sends it again: analysed anew, with no correction, crawled later."""
    return post.model_copy(update={"sentiment": Sentiment(label=label, score=score),  # type: ignore[arg-type]
                                   "crawled_at": post.crawled_at + timedelta(days=2)})


def test_a_corrected_label_is_what_every_read_sees(store: Store, corpus: list[Post]) -> None:
    store.upsert(corpus)
    fixed = store.correct("news:3", correction("negative", note="价格上涨引发不满"))
    assert fixed is not None and fixed.sentiment is not None and fixed.sentiment.label == "negative"
    got = store.get("news:3")
    assert got is not None and got.sentiment == Sentiment(label="negative", score=0.5)  # the model's lean stays
    assert got.correction is not None and (got.correction.by, got.correction.at, got.correction.note) == (
        "李明", AT, "价格上涨引发不满")
    assert got.correction.model == Sentiment(label="neutral", score=0.5)  # what the model had said
    assert sorted(ids(store, "sentiment:negative")) == sorted(ids(store, sentiment="negative")) == [
        "forum:4", "news:1", "news:3"]
    assert "news:3" not in ids(store, sentiment="neutral")
    assert store.count(SearchQuery(sentiment="negative")) == 3
    by_label: dict[str, int] = {}
    for bucket in store.volume(SearchQuery(), "day"):
        for label, n in bucket.by_sentiment.items():
            by_label[label] = by_label.get(label, 0) + n
    assert by_label == {"negative": 3, "positive": 1, "neutral": 1}
    assert [p.id for p in store.corrections()] == ["news:3"]


def test_the_next_alert_run_sees_a_post_corrected_since_its_last(store: Store, corpus: list[Post]) -> None:
    store.upsert(corpus)
    since = BASE + timedelta(hours=14)
    assert ids(store, crawled_since=since) == ["news:5"]
    store.correct("news:2", correction("negative"))
    assert ids(store, crawled_since=since) == ["news:5", "news:2"]
    assert ids(store, crawled_since=AT + timedelta(seconds=1)) == []


def test_the_correction_wins_over_a_recrawl_and_keeps_the_new_verdict(store: Store, corpus: list[Post]) -> None:
    store.upsert(corpus)
    store.correct("news:1", correction("neutral"))
    result = store.upsert([recrawl(corpus[0], "negative", 0.05)])
    assert result.updated == ["news:1"]
    got = store.get("news:1")
    assert got is not None and got.sentiment == Sentiment(label="neutral", score=0.05)
    assert got.correction is not None and got.correction.model == Sentiment(label="negative", score=0.05)
    assert "news:1" not in ids(store, sentiment="negative") and "news:1" in ids(store, sentiment="neutral")


def test_a_post_marked_not_relevant_leaves_its_scheme(store: Store, corpus: list[Post]) -> None:
    store.upsert(corpus)
    store.correct("forum:4", correction(relevant=False, by="王芳"))
    got = store.get("forum:4")
    assert got is not None and got.schemes == [] and got.sentiment is not None and got.sentiment.label == "negative"
    assert got.correction is not None and got.correction.schemes == [SchemeMatch(name="co")]
    assert sorted(ids(store, scheme="co")) == ["news:1", "news:2", "news:3"]
    assert ids(store, "scheme:co sentiment:negative") == ["news:1"]
    assert store.count(SearchQuery(scheme="co", sentiment="negative")) == 1
    store.upsert([recrawl(corpus[3], "negative", 0.1)])  # analysis matched the scheme again: still out
    assert "forum:4" not in ids(store, scheme="co")
    # A later correction says only the sentiment: the relevance said before stays.
    store.correct("forum:4", correction("neutral"))
    got = store.get("forum:4")
    assert got is not None and got.schemes == [] and got.sentiment is not None and got.sentiment.label == "neutral"
    assert got.correction is not None and got.correction.relevant is False
    # Marked relevant again: back in its scheme, as analysis matched it.
    store.correct("forum:4", correction(relevant=True))
    assert "forum:4" in ids(store, scheme="co")
    assert store.get("forum:4").schemes == [SchemeMatch(name="co")]  # type: ignore[union-attr]


def test_corrections_stay_through_a_reindex(store: Store, corpus: list[Post]) -> None:
    store.upsert(corpus)
    store.correct("news:2", correction("negative"))
    store.correct("news:1", correction(relevant=False))
    assert store.reindex() == len(corpus)
    assert sorted(ids(store, sentiment="negative")) == ["forum:4", "news:1", "news:2"]
    assert "news:1" not in ids(store, scheme="co")
    assert sorted(p.id for p in store.corrections()) == ["news:1", "news:2"]


def test_a_corrected_post_copied_whole_keeps_its_correction(open_backend: Callable[[], Store],
                                                            corpus: list[Post]) -> None:
    """What `yuqing es migrate` does: posts read from one store, written into another as they are."""
    store = open_backend()
    copied = corpus[2].with_correction(correction("positive"))
    store.upsert([copied, *corpus[3:]])
    got = store.get("news:3")
    assert got is not None and got.correction is not None and got.sentiment is not None
    assert got.sentiment.label == "positive" and got.correction.model == Sentiment(label="neutral", score=0.5)
    assert ids(store, sentiment="positive") == ["news:3"]


def test_an_unknown_post_is_not_corrected(store: Store, corpus: list[Post]) -> None:
    store.upsert(corpus)
    assert store.correct("news:404", correction("negative")) is None
    assert list(store.corrections()) == []
