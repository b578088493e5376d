from analysis.normalize import normalize, normalize_title, to_simplified


def test_html_remnants_become_text() -> None:
    assert normalize("<p>第一段</p><p>第二段&nbsp;&amp;更多</p><script>alert(1)</script>") == "第一段\n第二段 &更多"


def test_full_width_letters_and_digits_become_half_width_but_chinese_punctuation_stays() -> None:
    assert normalize("ＡＢＣ公司２０２４年，出事了！") == "ABC公司2024年，出事了！"


def test_zero_width_characters_do_not_split_words() -> None:
    assert normalize("燃\u200b料\u200d乙\ufeff醇") == "燃料乙醇"


def test_whitespace_is_folded_and_titles_are_one_line() -> None:
    assert normalize("  a \t b\u3000c \n\n\n\n d ") == "a b c\n\nd"
    assert normalize_title("标题\n第二行  <b>粗</b>") == "标题 第二行 粗"


def test_empty_and_none() -> None:
    assert normalize(None) == "" and normalize("   ") == ""


def test_unclosed_angle_bracket_is_kept_as_text() -> None:
    assert normalize("价格 < 100 元") == "价格 < 100 元"


def test_traditional_becomes_simplified_and_simplified_yu_stays() -> None:
    # SnowNLP's table turns 余 into the variant 馀: 十余家 read as 十馀家 is a word no dictionary knows
    assert to_simplified("十余家企业，其餘人員，剩馀") == "十余家企业，其余人员，剩余"
    assert to_simplified("工廠惡臭") == "工厂恶臭"
