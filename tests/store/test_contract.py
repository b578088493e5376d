"""What every Store backend must do. Posts arrive already tokenised: the store knows no Chinese."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from analysis.grams import index_grams
from analysis.pipeline import Analyzer
from store.base import EventQuery, SearchQuery, Store
from tests.store.conftest import BASE, make_event, make_post, parse
from models import Metrics, Post, Sentiment, now


def ids(store: Store, text: str = "", **filters: object) -> list[str]:
    result = store.search(SearchQuery(text=parse(text), limit=100, **filters))  # type: ignore[arg-type]
    return [p.id for p in result.posts]


def test_upsert_is_idempotent_and_updates(store: Store, corpus: list[Post]) -> None:
    first = store.upsert(corpus)
    assert sorted(first.inserted) == sorted(p.id for p in corpus) and first.updated == []
    again = store.upsert([corpus[0].model_copy(update={"metrics": Metrics(reposts=99)})])
    assert again.inserted == [] and again.updated == [corpus[0].id]
    assert store.count(SearchQuery()) == len(corpus)
    assert store.get(corpus[0].id).metrics.reposts == 99  # type: ignore[union-attr]
    assert store.get("nope") is None


def test_the_outlet_name_is_kept_beside_the_source_id(store: Store) -> None:
    store.upsert([make_post(1, "北辰 开放日").model_copy(update={"outlet": "白桦新闻网"})])
    found = store.search(SearchQuery(text=parse("开放日"), source="news-a")).posts
    assert [(p.source, p.outlet) for p in found] == [("news-a", "白桦新闻网")]


def test_words_are_anded_phrases_ordered_or_and_exclude(store: Store, corpus: list[Post]) -> None:
    store.upsert(corpus)
    assert sorted(ids(store, "北辰 乙醇")) == ["news:1", "news:2"]
    assert sorted(ids(store, '"燃料 乙醇"')) == ["news:1", "news:2"]
    assert ids(store, '"乙醇 燃料"') == ["news:3"]
    assert sorted(ids(store, "北辰 恶臭 OR 举报")) == ["forum:4", "news:1"]
    assert sorted(ids(store, "北辰 -恶臭")) == ["forum:4", "news:2"]
    assert ids(store, "-北辰 -乙醇") == ["news:5"]
    assert ids(store, "不存在") == []


def test_a_post_with_a_kana_mark_between_words_is_stored_and_found(store: Store) -> None:
    store.upsert([make_post(1, "iphone゛pro 发布会")])  # ゛ is no letter: read as punctuation
    assert ids(store, "发布会") == ids(store, "iphone") == ["news:1"]


def test_empty_query_lists_newest_first_with_limit_and_offset(store: Store, corpus: list[Post]) -> None:
    store.upsert(corpus)
    assert ids(store) == ["news:5", "forum:4", "news:3", "news:2", "news:1"]
    page = store.search(SearchQuery(limit=2, offset=2))
    assert [p.id for p in page.posts] == ["news:3", "news:2"] and page.total == 5


def test_filters(store: Store, corpus: list[Post]) -> None:
    store.upsert(corpus)
    assert sorted(ids(store, sentiment="negative")) == ["forum:4", "news:1"]
    assert sorted(ids(store, source="news-b")) == ["news:3", "news:5"]
    assert ids(store, platform="forum") == ["forum:4"]
    assert "news:5" not in ids(store, scheme="co")
    assert ids(store, since=BASE + timedelta(hours=2), until=BASE + timedelta(hours=3)) == ["forum:4", "news:3"]
    assert ids(store, crawled_since=BASE + timedelta(hours=14)) == ["news:5"]


def test_relevance_sort_puts_the_better_match_first(store: Store) -> None:
    store.upsert([make_post(1, "恶臭 天气 晴朗 出行 顺利 心情 不错", hours=5),
                  make_post(2, "恶臭 恶臭 恶臭 投诉", hours=0)])
    result = store.search(SearchQuery(text=parse("恶臭"), sort="relevance"))
    assert [p.id for p in result.posts] == ["news:2", "news:1"]


def found(store: Store, text: str) -> list[int]:
    """The numbers of the posts a query finds, in order."""
    return sorted(int(i.split(":")[1]) for i in ids(store, text))


def test_words_find_every_post_that_contains_them(store: Store, real_shaped: list[Post]) -> None:
    store.upsert(real_shaped)
    assert found(store, "北辰") == [1, 2, 3, 4, 7, 8]  # 北辰燃料乙醇 is one jieba word; 8 names it in a mention
    assert found(store, "偷排") == [2]  # 偷排污水
    assert found(store, "臭") == [2, 3]  # 臭得, 惡臭
    assert found(store, "环境局") == [1]  # 生态环境局
    assert found(store, "環保局") == found(store, "环保局") == [3]  # written in traditional characters
    assert found(store, "王建国") == [5] and found(store, "河西老王") == [2]  # a name, a mention
    assert found(store, "赵强") == []  # 5's author, not in its text: author:赵强 finds it
    assert found(store, "惡臭難忍") == found(store, "恶臭难忍") == [3]


def test_a_word_deep_in_a_long_article(store: Store, analyzer: Analyzer) -> None:
    body = "白桦市召开新能源产业发展座谈会，企业负责人交流了项目建设和人才引进的意见。" * 120  # 4,440 characters
    store.upsert(analyzer.analyse_many([
        Post(id="news:1", platform="news", source="s", url="http://127.0.0.1/1", title="座谈会", content=body),
        Post(id="news:2", platform="news", source="s", url="http://127.0.0.1/2", title="座谈会",
             content=body + "会后有记者在排污口拍到偷排污水。")]))
    assert found(store, "偷排") == found(store, '"拍到 偷排"') == [2]
    assert found(store, "座谈会 人才引进") == [1, 2]


def test_latin_words_and_numbers(store: Store, real_shaped: list[Post]) -> None:
    store.upsert(real_shaped)
    assert found(store, "pm2.5") == found(store, "ＰＭ２.５") == found(store, "PM2.5超标") == [4]  # full-width in 4
    assert found(store, "iphone") == found(store, "iPhone15") == [6]
    assert found(store, "iph") == [] and found(store, "phone") == []  # whole words, never parts of them
    assert found(store, "B站") == found(store, "3号") == found(store, "up主") == found(store, "号排污") == [8]
    assert found(store, "站") == [8] and found(store, "B站上") == []


def test_phrases_or_exclusion_and_parentheses(store: Store, real_shaped: list[Post]) -> None:
    store.upsert(real_shaped)
    assert found(store, '"北辰 乙醇"') == [2]  # 北辰乙醇厂; 北辰燃料乙醇 has other characters between
    assert found(store, '"北辰，燃料乙醇"') == [1, 3, 7, 8]  # punctuation in a phrase is not compared
    assert found(store, "偷排 OR 恶臭") == [2, 3]
    assert found(store, "北辰 -招聘") == [1, 2, 3, 4, 8]
    assert found(store, '-"北辰" -风电') == [5]
    assert found(store, "(偷排 OR 恶臭 OR 发黑) 北辰") == [2, 3]  # 5 is about 发黑 but not 北辰
    assert found(store, "(臭 OR 排污) -title:招聘") == [2, 3, 5, 8]
    assert found(store, "北辰 AND NOT (偷排 OR 恶臭)") == [1, 4, 7, 8]


def test_field_filters(store: Store, real_shaped: list[Post]) -> None:
    store.upsert(real_shaped)
    assert found(store, "title:北辰") == [1, 7]
    assert found(store, 'title:(回应 OR 发黑)') == [1, 5]  # 8 says 回应 in its text, not in a title
    assert found(store, "author:李明") == [1] and found(store, "author:赵强") == [5]
    assert found(store, "author:小区") == [2] and found(store, "author:網友") == [3]
    assert found(store, "source:baihua-forum") == [2, 7]
    assert found(store, "platform:weibo -region:北京") == [3]
    assert found(store, "region:北京") == [4, 8]
    assert found(store, "tier:local_media") == [1, 5] and found(store, "source_tier:industry") == [6]
    assert found(store, "sentiment:negative 北辰") == [2, 3, 8]
    assert found(store, "sentiment:unknown") == [6]
    assert found(store, "scheme:beichen") == [1, 3, 7, 8]  # 北辰燃料乙醇, also in traditional characters


def test_keyword_filter(store: Store, corpus: list[Post]) -> None:
    store.upsert(corpus)
    assert sorted(ids(store, "keyword:投诉")) == ["forum:4", "news:1"]
    assert sorted(ids(store, "keyword:投诉 -source:forum")) == ["news:1"]


def test_a_whole_word_ranks_above_a_part_of_a_longer_one(store: Store, real_shaped: list[Post]) -> None:
    store.upsert(real_shaped)
    ranked = [p.id for p in store.search(SearchQuery(text=parse("北辰"), sort="relevance", limit=10)).posts]
    assert sorted(ranked[:2]) == ["forum:2", "weibo:4"]  # 北辰 乙醇 厂, 北辰 公司: jieba's words
    assert sorted(ranked[2:]) == ["forum:7", "news:1", "weibo:3", "weibo:8"]  # inside 北辰燃料乙醇


def test_a_whole_word_outranks_more_hits_inside_longer_words(store: Store) -> None:
    store.upsert([make_post(1, "北辰燃料乙醇 北辰燃料乙醇 北辰燃料乙醇 发布 公告"),
                  make_post(2, "北辰 公司 今天 发布 公告 称 将 整改")])
    result = store.search(SearchQuery(text=parse("北辰"), sort="relevance"))
    assert [p.id for p in result.posts] == ["news:2", "news:1"]


def test_volume_by_hour_and_by_day_in_shanghai_time(store: Store, corpus: list[Post]) -> None:
    store.upsert(corpus)
    hours = store.volume(SearchQuery(), "hour")
    assert hours[0].start == BASE and hours[0].start.utcoffset() == timedelta(hours=8)
    assert [b.total for b in hours[:4]] == [1, 1, 1, 1]
    assert hours[0].by_sentiment == {"negative": 1}
    assert len(hours) == 15 and hours[-1].total == 1  # 09:00 … 23:00, empty hours included
    # news:5 was published at 23:30 Shanghai time (15:30 UTC): same day in Shanghai.
    days = store.volume(SearchQuery(), "day")
    assert len(days) == 1 and days[0].total == 5 and (days[0].start.hour, days[0].start.day) == (0, 12)


def test_volume_fills_the_requested_range(store: Store, corpus: list[Post]) -> None:
    store.upsert(corpus)
    days = store.volume(SearchQuery(since=BASE - timedelta(days=2), until=BASE + timedelta(days=1)), "day")
    assert [b.total for b in days] == [0, 0, 5, 0]


def test_volume_in_ten_minutes_starting_on_the_tens(store: Store, corpus: list[Post]) -> None:
    store.upsert(corpus)
    window = SearchQuery(since=BASE - timedelta(minutes=15), until=BASE + timedelta(hours=1, minutes=5))
    buckets = store.volume(window, "10min")
    assert [b.start for b in buckets] == [BASE + timedelta(minutes=m) for m in range(-20, 61, 10)]
    assert [b.total for b in buckets] == [0, 0, 1, 0, 0, 0, 0, 0, 1]
    assert buckets[2].by_sentiment == {"negative": 1} and buckets[-1].by_sentiment == {"positive": 1}


def test_breakdowns_by_platform_tier_region_and_source(store: Store, real_shaped: list[Post]) -> None:
    store.upsert(real_shaped)
    everything = SearchQuery()
    assert store.breakdown(everything, "platform") == [("news", 3), ("weibo", 3), ("forum", 2)]
    assert store.breakdown(everything, "tier") == [("individual", 4), ("local_media", 2), ("industry", 1),
                                                   ("self_media", 1)]
    assert store.breakdown(everything, "region") == [("北京", 2), ("香港", 1)]  # posts without a region: not counted
    assert store.breakdown(everything, "source", 2) == [("weibo", 3), ("baihua-forum", 2)]
    assert store.breakdown(SearchQuery(sentiment="negative"), "platform") == [("weibo", 2), ("forum", 1), ("news", 1)]
    # labelled posts only: one the analysis could not score is in no sentiment's count, on either backend
    unscored = real_shaped[0].model_copy(update={"id": "news:unscored", "sentiment": None})
    store.upsert([unscored])
    assert store.breakdown(everything, "sentiment") == [("negative", 4), ("neutral", 3)]


def test_top_authors_by_reach(store: Store, real_shaped: list[Post]) -> None:
    followers = {"环保观察": 50_000, "吃瓜群众": 300, "香港網友": 0}
    metrics = {8: Metrics(reposts=40, comments=12, likes=100, views=90_000), 3: Metrics(reposts=1)}
    posts = [p.model_copy(update={"author": p.author.model_copy(update={"followers": followers.get(p.author.name)}),
                                  "metrics": metrics.get(n + 1, Metrics())}) for n, p in enumerate(real_shaped)]
    posts.append(posts[7].model_copy(update={"id": "weibo:9", "metrics": Metrics(likes=8)}))  # 吃瓜群众 again
    store.upsert(posts)
    top = store.top_authors(SearchQuery(), 3)
    assert [(a.name, a.posts, a.reach) for a in top] == [("环保观察", 1, 50_000), ("吃瓜群众", 2, 300 + 152 + 308),
                                                         ("香港網友", 1, 1)]
    assert all(a.name for a in store.top_authors(SearchQuery(), 20))  # a post without an author is nobody's
    assert [a.name for a in store.top_authors(SearchQuery(platform="news"), 5)] == ["本报记者 赵强", "本网记者 李明"]
    store.upsert([posts[0].model_copy(update={"id": "news:10"})])  # no reach either, but a second post
    assert [a.name for a in store.top_authors(SearchQuery(platform="news"), 5)] == ["本网记者 李明", "本报记者 赵强"]


def test_top_keywords_and_sources(store: Store, corpus: list[Post]) -> None:
    store.upsert(corpus)
    assert store.top_keywords(SearchQuery(), 1) == [("投诉", 2)]
    assert dict(store.top_keywords(SearchQuery(sentiment="positive"))) == {"开放日": 1}
    assert dict(store.by_source(SearchQuery())) == {"news-a": 2, "news-b": 2, "forum": 1}


def test_reindex_and_reopen_give_the_same_answers(open_backend: Callable[[], Store], corpus: list[Post]) -> None:
    store = open_backend()
    store.upsert(corpus)
    before = ids(store, "北辰")
    assert store.reindex() == len(corpus)
    assert ids(store, "北辰") == before
    store.close()
    reopened = open_backend()
    assert ids(reopened, "北辰") == before and reopened.count(SearchQuery()) == len(corpus)


def test_records_without_index_are_repaired_at_open(tmp_path: Path, corpus: list[Post]) -> None:
    from store.embedded import EmbeddedStore

    store = EmbeddedStore(tmp_path / "s", grams=index_grams)
    store.upsert(corpus[:2])
    store._write_records(corpus[2:])  # a crash after the SQLite commit, before the index commit
    store.close()
    reopened = EmbeddedStore(tmp_path / "s", grams=index_grams)
    try:
        assert reopened.count(SearchQuery()) == len(corpus)
        assert "news:3" in ids(reopened, "价格")
    finally:
        reopened.close()


def test_another_process_can_search_while_a_writer_is_open(tmp_path: Path, corpus: list[Post]) -> None:
    from store.embedded import EmbeddedStore

    writer = EmbeddedStore(tmp_path / "s", grams=index_grams)
    try:
        writer.upsert(corpus)
        code = (
            "from analysis.grams import index_grams; from store.embedded import EmbeddedStore;"
            "from store.base import SearchQuery;"
            f"s = EmbeddedStore({str(tmp_path / 's')!r}, grams=index_grams); print(s.count(SearchQuery())); s.close()"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert done.stdout.strip() == str(len(corpus)), done.stderr
        writer.upsert([make_post(9, "新 帖子", hours=20)])
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert done.stdout.strip() == str(len(corpus) + 1), done.stderr
    finally:
        writer.close()


def test_second_writer_gets_a_clear_error(tmp_path: Path, corpus: list[Post]) -> None:
    from store.embedded import EmbeddedStore

    first = EmbeddedStore(tmp_path / "s", grams=index_grams)
    first.upsert(corpus[:1])
    code = (
        "from analysis.grams import index_grams; from store.embedded import EmbeddedStore\n"
        "from store.base import StoreError\n"
        "from tests.store.conftest import make_post\n"
        f"s = EmbeddedStore({str(tmp_path / 's')!r}, grams=index_grams)\n"
        "try:\n    s.upsert([make_post(7, 'x')])\nexcept StoreError as e:\n    print('StoreError', e)\n"
    )
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                              cwd=Path(__file__).resolve().parents[2])
        assert "StoreError" in done.stdout and "another yuqing process" in done.stdout, done.stdout + done.stderr
    finally:
        first.close()


def spread_over_segments(store: Store) -> list[Post]:
    """Five upserts (five commits, so several index segments), each with 250 local keywords and sources,
    each post with one of each; two keywords and two sources span every upsert at counts that a
    per-segment top-N would cut in some segments and not in others."""
    posts: list[Post] = []
    n = 0
    for part in range(5):
        batch = []
        for word in range(250):
            for _ in range(3):
                n += 1
                batch.append(make_post(n, "帖子", source=f"local-{part}-{word}", keywords=(f"局部{part}-{word}",)))
        wide = [("everywhere", "处处")] * 2 + [("uneven", "不均")] * (4 if part < 3 else 2)
        for source, keyword in wide:
            n += 1
            batch.append(make_post(n, "帖子", source=source, keywords=(keyword,), sentiment="negative"))
        store.upsert(batch)
        posts += batch
    return posts


def test_top_keywords_and_sources_are_exact_across_segments(store: Store) -> None:
    from collections import Counter

    from store.embedded import EmbeddedStore

    posts = spread_over_segments(store)
    if isinstance(store, EmbeddedStore):
        assert store._index.searcher().num_segments >= 3  # type: ignore[union-attr]
    for query in (SearchQuery(), SearchQuery(sentiment="negative"), SearchQuery(since=BASE)):
        wanted = [p for p in posts if query.sentiment in (None, p.sentiment.label)]  # type: ignore[union-attr]
        for found, counts, top in (
            (store.top_keywords(query, 20), Counter(k for p in wanted for k in p.keywords), ["不均", "处处"]),
            (store.by_source(query, 20), Counter(p.source for p in wanted), ["uneven", "everywhere"]),
        ):
            assert found[:2] == [(top[0], 16), (top[1], 10)], found
            assert all(counts[key] == count for key, count in found), found  # every count exact
            assert len(found) == min(20, len(counts))
            left_out = [c for k, c in counts.items() if k not in dict(found)]
            assert found[-1][1] >= max(left_out, default=0)  # and none that belongs in the top 20 missing


def test_reindex_reports_its_progress_in_batches(store: Store) -> None:
    store.upsert(make_post(n, "北辰 帖子") for n in range(2600))
    calls: list[tuple[int, int]] = []
    assert store.reindex(lambda done, total: calls.append((done, total))) == 2600
    assert len(calls) >= 3 and calls[-1] == (2600, 2600)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert store.count(SearchQuery()) == 2600


def test_events_are_stored_replaced_and_read_back_whole(store: Store) -> None:
    first = make_event(1, quiet=timedelta(hours=1))
    store.upsert_events([first, make_event(2, quiet=timedelta(hours=2))])
    assert store.get_event(first.id) == first
    grown = first.model_copy(update={"posts": 5, "responses": ["news:9"], "risk": 0.9,
                                     "updated_at": first.updated_at + timedelta(seconds=1)})
    store.upsert_events([grown])
    assert store.get_event(first.id) == grown and store.get_event("evt:none") is None
    assert [e.id for e in store.events(EventQuery())] == [first.id, make_event(2, quiet=timedelta(0)).id]


def test_events_by_status_scheme_and_time_newest_or_riskiest_first(store: Store) -> None:
    events = [make_event(1, quiet=timedelta(hours=1), risk=0.2),
              make_event(2, quiet=timedelta(hours=5, minutes=59), risk=0.7, schemes=("co", "safety")),
              make_event(3, quiet=timedelta(hours=6, minutes=1), risk=0.9),  # cooling from 6 hours
              make_event(4, quiet=timedelta(hours=71, minutes=59), risk=0.1, schemes=("safety",)),
              make_event(5, quiet=timedelta(hours=72, minutes=1), risk=0.95)]  # closed from 72 hours
    store.upsert_events(events)

    def found(**query: object) -> list[int]:
        return [int(e.id.removeprefix("evt:"), 16) for e in store.events(EventQuery(**query))]  # type: ignore[arg-type]

    assert found() == [1, 2, 3, 4, 5]
    assert found(sort="risk") == [5, 3, 2, 1, 4]
    assert [e.status_at(now()) for e in events] == ["active", "active", "cooling", "cooling", "closed"]
    assert found(status="active") == [1, 2] and found(status="cooling") == [3, 4] and found(status="closed") == [5]
    assert found(scheme="safety") == [2, 4] and found(scheme="safety", status="cooling") == [4]
    assert found(since=now() - timedelta(hours=7)) == [1, 2, 3]
    assert found(sort="risk", limit=2, offset=1) == [3, 2]


def test_the_posts_of_an_event(store: Store, corpus: list[Post]) -> None:
    story, other = "evt:00000000000000aa", "evt:00000000000000bb"
    store.upsert([p.model_copy(update={"event_id": story if p.id in ("news:1", "forum:4") else other}) for p in corpus])
    assert sorted(ids(store, event_id=story)) == ["forum:4", "news:1"]
    assert ids(store, "北辰", event_id=other) == ["news:2"] and ids(store, event_id="evt:none") == []
    assert store.count(SearchQuery(event_id=story)) == 2


def test_the_duplicates_of_a_post(store: Store, corpus: list[Post]) -> None:
    original = corpus[0].id
    store.upsert([p.model_copy(update={"dup_of": original}) if p.id in ("news:2", "forum:4") else p for p in corpus])
    assert sorted(ids(store, dup_of=original)) == ["forum:4", "news:2"]
    assert store.count(SearchQuery(dup_of=original)) == 2 and ids(store, dup_of="news:none") == []
    pages = [store.search(SearchQuery(dup_of=original, limit=1, offset=n)) for n in (0, 1)]
    assert [p.id for page in pages for p in page.posts] == ids(store, dup_of=original) and pages[1].total == 2
    # Analysed again and found to be no duplicate after all: no longer among them.
    again = store.get("forum:4")
    assert again is not None
    store.upsert([again.model_copy(update={"dup_of": None})])
    assert ids(store, dup_of=original) == ["news:2"]
