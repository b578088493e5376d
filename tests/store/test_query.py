from store.query import Phrase, TextQuery, parse_query


def texts(query: TextQuery) -> tuple[list[list[str]], list[str]]:
    return [[p.text for p in group] for group in query.must], [p.text for p in query.exclude]


def test_words_phrases_exclude_or() -> None:
    assert texts(parse_query('北辰 "燃料 乙醇" -招聘 投诉 OR 举报')) == (
        [["北辰"], ["燃料 乙醇"], ["投诉", "举报"]], ["招聘"])


def test_tokenizer_is_applied_to_each_word() -> None:
    query = parse_query("北辰乙醇", lambda text: list(text))
    assert query.must == ((Phrase("北辰乙醇", ("北", "辰", "乙", "醇")),),)


def test_excluded_phrase_and_unbalanced_quote() -> None:
    assert texts(parse_query('-"不 相关" "未 结束')) == ([["未 结束"]], ["不 相关"])


def test_empty_and_degenerate_queries() -> None:
    assert parse_query("").empty and parse_query("   ").empty and parse_query('""').empty
    assert texts(parse_query("OR 北辰 OR")) == ([["北辰"]], [])
    assert texts(parse_query("- 北辰")) == ([["-"], ["北辰"]], [])
