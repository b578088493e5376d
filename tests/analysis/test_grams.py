"""What search indexes of a text, and what a query word must find there."""

from __future__ import annotations

from analysis.grams import HEAD, TAIL, index_grams, query_grams


def test_a_text_is_read_as_character_pairs_words_and_numbers() -> None:
    grams, chars = index_grams("B站上有人说，北辰 回应！iPhone15")
    assert grams == ["b", "站", "站上", "上有", "有人", "人说", "说北", "北辰", "辰回", "回应", "应", "iphone", "15"]
    assert chars == list("站上有人说北辰回应")


def test_text_is_folded_as_analysis_folds_it() -> None:
    assert index_grams("惡臭難忍 ＰＭ２.５") == (["恶臭", "臭难", "难忍", "忍", "pm", "2", "5"], list("恶臭难忍"))
    assert query_grams("惡臭") == query_grams("恶臭") == (["恶臭"], [])


def test_what_a_query_word_must_find() -> None:
    assert query_grams("北辰燃料") == (["北辰", "辰燃", "燃料"], [])  # the post's text may go on after 料
    assert query_grams("臭") == ([], ["臭"])  # one character: among the post's characters
    assert query_grams("B站") == (["b", "站"], [])  # 站 right after b: first of its run in the post too
    assert query_grams("3号线") == (["3", "号", "号线"], [])
    assert query_grams("号3") == (["号", "3"], [])  # 号 ends its run in the post as in the query
    assert query_grams("北辰，回应") == query_grams("北辰 回应") == query_grams("北辰回应")
    assert query_grams("！？ …") == ([], [])


def test_every_query_word_is_found_in_the_text_it_comes_from() -> None:
    text = "昨天B站UP主发视频说，3号排污口夜里偷偷放水，PM2.5超标"
    grams = " " + " ".join(index_grams(text)[0]) + " "
    for start in range(len(text)):
        for end in range(start + 1, len(text) + 1):
            wanted, char = query_grams(text[start:end])
            found = f" {' '.join(wanted)} " in grams if wanted else set(char) <= set(index_grams(text)[1])
            # A word or number cut in the middle is no longer the same word, and may not be found.
            cut = (start and text[start - 1:start + 1].isascii() and text[start - 1:start + 1].isalnum()) or (
                end < len(text) and text[end - 1:end + 1].isascii() and text[end - 1:end + 1].isalnum())
            assert found or cut or not (wanted or char), text[start:end]


def test_of_a_very_long_text_the_head_and_the_tail_are_read() -> None:
    text = "头部" + "北" * HEAD + "中间独有" + "辰" * TAIL + "尾部"
    grams = set(index_grams(text)[0])
    assert {"头部", "尾部"} <= grams and "独有" not in grams
    assert len(index_grams(text)[0]) <= HEAD + TAIL + 2


def test_a_mark_that_is_no_letter_reads_as_punctuation() -> None:
    # ゛ and ゠ sit among the kana but are not letters: alone between words they once left an empty run,
    # which no gram could be cut from, and the post could not be indexed at all.
    assert index_grams("iphone゛pro") == (["iphone", "pro"], [])
    assert query_grams("iphone゛pro") == (["iphone", "pro"], [])
    assert index_grams("゛") == query_grams("゠") == ([], [])
    assert index_grams("北゛京") == (["北京", "京"], list("北京"))
