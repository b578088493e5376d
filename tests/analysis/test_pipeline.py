import pytest

from analysis.pipeline import HEAD, TAIL, Analyzer, truncated
from analysis.schemes import SchemeMatcher
from settings import Scheme
from models import Post


def _post(title: str = "", content: str = "") -> Post:
    return Post(id="t:1", platform="news", source="test", url="http://127.0.0.1/x", title=title, content=content)


def test_complaint_is_negative_and_matched_with_terms(analyzer: Analyzer) -> None:
    post = analyzer.analyse(_post("北辰燃料乙醇厂区附近恶臭难忍，居民投诉无人理",
                                  "打了十几次电话投诉，根本没人管，孩子咳嗽不止，太失望了！"))
    assert post.sentiment is not None and post.sentiment.label == "negative"
    assert [m.name for m in post.schemes] == ["beichen"]
    assert post.schemes[0].terms == ["北辰燃料乙醇"]
    assert "北辰燃料乙醇" in post.tokens, "watch terms are one token (user dictionary)"
    assert "投诉" in post.keywords and "北辰燃料乙醇" in post.keywords


def test_praise_is_positive(analyzer: Analyzer) -> None:
    post = analyzer.analyse(_post("北辰燃料乙醇开放日", "市民参观车间，对企业的安全管理表示赞赏，纷纷点赞，非常满意。"))
    assert post.sentiment is not None and post.sentiment.label == "positive"


def test_exclude_terms_keep_job_adverts_out(analyzer: Analyzer) -> None:
    post = analyzer.analyse(_post("北辰燃料乙醇招聘操作工", "待遇从优"))
    assert post.schemes == []


def test_must_and_any_terms() -> None:
    matcher = SchemeMatcher([Scheme(name="s", keywords=["北辰燃料乙醇"], must=["泄漏"], any=["厂区", "车间"])])
    assert matcher.match("北辰燃料乙醇车间泄漏")[0].terms == ["北辰燃料乙醇", "泄漏", "车间"]
    assert matcher.match("北辰燃料乙醇车间检修") == []  # must missing
    assert matcher.match("北辰燃料乙醇发生泄漏") == []  # none of `any`
    assert matcher.match("ＡＢＣ") == []


def test_matching_ignores_case() -> None:
    assert SchemeMatcher([Scheme(name="s", keywords=["PetroChina"])]).match("petrochina news")[0].terms == ["PetroChina"]


def test_html_in_title_is_cleaned(analyzer: Analyzer) -> None:
    post = analyzer.analyse(_post("<b>北辰乙醇</b>&nbsp;新闻", "正文"))
    assert post.title == "北辰乙醇 新闻"


def test_empty_post_has_no_sentiment_and_does_not_fail(analyzer: Analyzer) -> None:
    post = analyzer.analyse(_post("", ""))
    assert post.sentiment is None and post.tokens == [] and post.keywords == [] and post.schemes == []


def test_emoji_only_post(analyzer: Analyzer) -> None:
    post = analyzer.analyse(_post("", "😡😡😡👍"))
    assert post.tokens == [] and post.schemes == []


def test_huge_post_is_analysed_in_reasonable_time(analyzer: Analyzer) -> None:
    import time

    body = "北辰燃料乙醇周边居民反映夜间异味严重，影响休息。" * 20_000  # 500k characters
    started = time.monotonic()
    post = analyzer.analyse(_post("长文", body))
    assert time.monotonic() - started < 30
    assert post.schemes and post.sentiment is not None


def test_query_tokens_match_post_tokens(analyzer: Analyzer) -> None:
    post = analyzer.analyse(_post("北辰燃料乙醇回应异味投诉", ""))
    for token in analyzer.tokenize("北辰燃料乙醇 投诉"):
        assert token in post.tokens


def test_proximity_keeps_other_companies_job_adverts_out() -> None:
    scheme = Scheme(name="jl", keywords=["燃料乙醇"], near=[{"terms": ["吉林", "燃料乙醇"], "within": 6}])
    matcher = SchemeMatcher([scheme])
    assert matcher.match("吉林燃料乙醇有限公司发生泄漏")[0].terms == ["燃料乙醇", "吉林"]
    assert matcher.match("位于吉林的这家燃料乙醇企业")  # 吉林 … 燃料乙醇: four characters apart
    assert matcher.match("燃料乙醇工厂招聘：工作地点上海，公司总部设在吉林长春") == []
    assert matcher.match("某燃料乙醇公司招聘操作工") == []


def test_traditional_characters_match_simplified_terms() -> None:
    matcher = SchemeMatcher([Scheme(name="s", keywords=["燃料乙醇"], must=["恶臭"])])
    assert matcher.match("燃料乙醇廠區附近惡臭難忍")[0].terms == ["燃料乙醇", "恶臭"]


def test_a_batch_gives_what_one_post_at_a_time_gives() -> None:
    texts = ["北辰燃料乙醇厂区恶臭难忍，投诉无人理[怒]", "", "😀😀😀", "服務很好，非常滿意", "好",
             "太过分了！//@河西业主:北辰燃料乙醇厂区恶臭难忍，投诉无人理[怒]", "北辰燃料乙醇厂区恶臭难忍，投诉无人理[怒]",
             "零\u200b宽\u200d字符也能读", "今天天气很好，开心[哈哈]" * 300]
    posts = [Post(id=f"p{i}", platform="weibo", source="s", url="", content=t) for i, t in enumerate(texts)]
    one_by_one = Analyzer()
    alone = [one_by_one.analyse(p) for p in posts]
    together = Analyzer().analyse_many(posts)
    fields = ("sentiment", "keywords", "simhash", "dup_of", "tokens")
    assert [[getattr(p, f) for f in fields] for p in together] == [[getattr(p, f) for f in fields] for p in alone]
    assert alone[6].dup_of == "p0" and alone[1].sentiment is None


def test_of_a_huge_post_the_head_and_tail_are_analysed_and_the_post_kept_whole(
        analyzer: Analyzer, caplog: pytest.LogCaptureFixture) -> None:
    head, middle, tail = "北辰燃料乙醇厂区恶臭难忍。" * 5_000, "化工园区发生泄漏爆炸。" * 10_000, "居民投诉无人理睬。" * 6_000
    post = analyzer.analyse(_post("长文", head + middle + tail))
    assert post.content == head + middle + tail and truncated(post)
    assert {"恶臭", "投诉"} <= set(post.tokens) and "爆炸" not in post.tokens
    assert post.sentiment is not None and post.schemes
    assert f"post t:1: {len(post.text):,} characters, only the first 50,000 and the last 50,000 analysed" in caplog.text
    caplog.clear()
    whole = analyzer.analyse(_post("长文", "泄漏爆炸。" * ((HEAD + TAIL - 3) // 5)))
    assert not truncated(whole) and "爆炸" in whole.tokens and not caplog.text


SOLVED = ("城南河道整治见成效 昔日臭水沟变身市民公园",
          "经过两年整治，城南河道水清岸绿，沿岸建起步道和花园，成了市民休闲的好去处，居民纷纷点赞。\n"
          "往年一到夏天，河道恶臭难忍，垃圾成堆，蚊虫滋生，居民投诉不断，孩子咳嗽，老人不敢开窗。\n"
          "有居民说，以前臭得没法住，打了无数次投诉电话，太失望了，想过搬走。\n"
          "如今污水管网全部接通，河水不再发臭，周边房价也涨了。")


def test_a_report_of_a_problem_solved_is_read_by_its_headline_and_lead(analyzer: Analyzer) -> None:
    whole = analyzer.sentiment.score("\n".join(SOLVED))
    assert whole is not None and whole.label == "negative", "the body alone dwells on the past"
    post = analyzer.analyse(_post(*SOLVED))
    assert post.sentiment is not None and post.sentiment.label != "negative"
    assert post.sentiment.score > whole.score


def test_a_short_post_or_a_bare_headline_is_read_whole(analyzer: Analyzer) -> None:
    text = "孩子咳嗽了一个月，投诉了十几次没人管，太失望了"
    assert analyzer.analyse(_post("", text)).sentiment == analyzer.sentiment.score(text)
    assert analyzer.analyse(_post(SOLVED[0])).sentiment == analyzer.sentiment.score(SOLVED[0])


def test_headlines_and_leads_stay_with_their_posts_in_a_batch(analyzer: Analyzer) -> None:
    posts = [_post(*SOLVED), _post("", "太失望了，投诉没人管"), _post("市民点赞", "环境好多了，感谢"),
             _post("", "\n".join(SOLVED) * 2), _post(SOLVED[0])]
    alone = [analyzer.analyse(p.model_copy(update={"id": f"a{i}"})).sentiment for i, p in enumerate(posts)]
    together = [p.sentiment for p in analyzer.analyse_many([p.model_copy(update={"id": f"b{i}"})
                                                             for i, p in enumerate(posts)])]
    assert together == alone
