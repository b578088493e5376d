from pathlib import Path

import pytest

from settings import ConfigError, load


def test_a_platform_source_needs_no_url_and_takes_keywords_proxy_and_lookback(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text("[[sources]]\nname='wb'\ntype='weibo'\nkeywords=['北辰']\nproxy='http://10.0.0.5:3128'\n"
                    "lookback='2d'\n[[sources]]\nname='bd'\ntype='baidu_news'\nurl='http://x/s?word={keyword}'\n",
                    encoding="utf-8")
    weibo, baidu = load(path).sources
    assert weibo.url == "" and weibo.keywords == ["北辰"] and weibo.proxy == "http://10.0.0.5:3128"
    assert weibo.lookback == 2 * 86400 and baidu.url == "http://x/s?word={keyword}"


@pytest.mark.parametrize(("text", "expected"), [
    ("type='site'", "sources[0]: a site source needs `url`"),
    ("type='tieba'\nurl='https://tieba.baidu.com/f?kw=abc'", "a tieba source's `url` is a search URL with {keyword}"),
    ("type='weibo'\nproxy='10.0.0.5:3128'", "sources[0].proxy"),
    ("type='zhihu'\nlookback='soon'", "sources[0].lookback: 'soon' is not a duration"),
])
def test_broken_platform_sources(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f"[[sources]]\nname='x'\n{text}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert expected in str(caught.value)
