"""`yuqing search`, as an analyst runs it, on stores built the way the service builds them (spool → ingest)."""

from __future__ import annotations

import csv
import io
import re
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from rich.cells import cell_len

import settings as config
from analysis.grams import index_grams
from analysis.pipeline import Analyzer
from store.embedded import EmbeddedStore
from yuqing.demo import demo_config as demo_config_file
from yuqing.demo.runner import CONFIG as DEMO_CONFIG
from yuqing.demo.timeline import COMPANY, TIMELINE
from yuqing.ingest import Ingester
from models import now

REPO = Path(__file__).resolve().parents[2]

CONFIG = """
[store]
path = "{path}"

[[schemes]]
name = "co"
keywords = ["北辰燃料乙醇"]
{sources}
"""
SOURCE = """
[[sources]]
name = "{name}"
type = "rss"
url = "http://127.0.0.1:9/{name}.xml"
enabled = false
"""

LONG_TITLE = "白桦市召开二〇二六年度新能源产业高质量发展推进会暨重点项目集中签约仪式，市领导出席并讲话"
POSTS = [
    ("n1", "news-a", "北辰燃料乙醇厂区附近恶臭难忍", "居民投诉无人理，太失望了，气死了", 1),
    ("n2", "news-b", "北辰燃料乙醇开放日受市民好评", "市民纷纷点赞，非常满意", 2),
    ("n3", "forum", "白桦风电项目开工", "风电项目今日开工", 30 * 24),
    ("n4", "forum", "北辰燃料乙醇招聘会举行", "招聘操作工，待遇不错", 3),
    ("n5", "news-b", LONG_TITLE, "签约项目二十个，总投资一百亿元", 5),
]


def ingest(config_file: Path, items: list[dict]) -> None:
    """The service's way in: items spooled as a crawl writes them, then analysed and stored by the Ingester."""
    settings = config.load(config_file)
    spool = settings.data_dir / "spool"
    spool.mkdir(parents=True)
    (spool / "test-1-1.jsonl").write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), "utf-8")
    with EmbeddedStore(settings.store.path, grams=index_grams) as store:
        report = Ingester(spool, Analyzer.from_settings(settings), store).run()
    assert report.posts == len(items) and report.rejected == 0


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("search")
    path = folder / "yuqing.toml"
    sources = "".join(SOURCE.format(name=name) for name in ("news-a", "news-b", "forum"))
    path.write_text(CONFIG.format(path=(folder / "var").as_posix(), sources=sources), encoding="utf-8")
    ingest(path, [{"url": f"http://127.0.0.1/{slug}.html", "source": source, "platform": "news", "title": title,
                   "content": content, "published_at": (now() - timedelta(hours=hours)).isoformat()}
                  for slug, source, title, content, hours in POSTS])
    return path


def search(config_file: Path | None, *args: str, columns: int = 160, cwd: Path | None = None,
           ) -> subprocess.CompletedProcess[bytes]:
    given = ["--config", str(config_file)] if config_file else []
    return subprocess.run([sys.executable, "-m", "yuqing.cli", "search", *given, *args], capture_output=True,
                          timeout=120, cwd=cwd, env={"COLUMNS": str(columns), "PATH": "/usr/bin:/bin",
                                                     "PYTHONPATH": str(REPO)})


def slugs(done: subprocess.CompletedProcess[bytes]) -> list[str]:
    assert done.returncode == 0, done.stderr.decode()
    return [p["url"].rsplit("/", 1)[-1][:-5] for p in json.loads(done.stdout)["posts"]]


def test_words_phrases_or_exclude_and_filters(config_file: Path) -> None:
    assert slugs(search(config_file, "北辰燃料乙醇", "--format", "json")) == ["n1", "n2", "n4"]
    assert slugs(search(config_file, "北辰燃料乙醇", "-招聘会", "--format", "json")) == ["n1", "n2"]
    assert slugs(search(config_file, "恶臭 OR 好评", "--format", "json")) == ["n1", "n2"]
    assert slugs(search(config_file, '"风电项目"', "--format", "json")) == ["n3"]
    assert slugs(search(config_file, "--source", "forum", "--format", "json")) == ["n4", "n3"]
    assert slugs(search(config_file, "--since", "7d", "--limit", "2", "--format", "json")) == ["n1", "n2"]
    done = search(config_file, "--sentiment", "negative", "--format", "json")
    negative = slugs(done)
    assert "n1" in negative and "n2" not in negative
    assert {p["sentiment"]["label"] for p in json.loads(done.stdout)["posts"]} == {"negative"}


def test_part_of_a_word_finds_its_posts(config_file: Path) -> None:
    # jieba reads 北辰燃料乙醇 (a watch term) as one word; the search finds its parts all the same.
    assert slugs(search(config_file, "北辰", "--format", "json")) == ["n1", "n2", "n4"]
    assert slugs(search(config_file, "臭", "--format", "json")) == ["n1"]
    assert slugs(search(config_file, "(恶臭 OR 好评) -title:开放日", "--format", "json")) == ["n1"]
    assert slugs(search(config_file, "source:forum 招聘", "--format", "json")) == ["n4"]


def test_empty_query_lists_newest_first_in_a_readable_table(config_file: Path) -> None:
    done = search(config_file)
    assert done.returncode == 0
    out = done.stdout.decode("utf-8")
    assert out.index("北辰燃料乙醇厂区附近恶臭难忍") < out.index("白桦风电项目开工")
    assert "共 5 条，显示 5 条" in out and "负面" in out and "发布时间" in out


def csv_rows(done: subprocess.CompletedProcess[bytes]) -> list[dict[str, str]]:
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.startswith(b"\xef\xbb\xbf")  # what makes Excel read UTF-8
    return list(csv.DictReader(io.StringIO(done.stdout.decode("utf-8-sig"))))


def test_csv_opens_in_excel_with_chinese_headers(config_file: Path) -> None:
    rows = csv_rows(search(config_file, "北辰燃料乙醇", "--format", "csv"))
    assert list(rows[0]) == ["发布时间", "情感", "正负倾向", "风险", "来源", "采集源", "平台", "作者", "标题", "链接",
                             "监测方案", "正文", "编号"]
    first = rows[0]
    # The label is the verdict, the score its lean beside it; risk on its 0..1 scale; both as people read them.
    assert re.fullmatch(r"0\.\d\d", first["正负倾向"]) and re.fullmatch(r"[01]\.\d\d", first["风险"])
    assert first["标题"] == "北辰燃料乙醇厂区附近恶臭难忍" and first["情感"] == "负面" and first["平台"] == "新闻网站"
    assert first["来源"] == first["采集源"] == "news-a"  # no outlet name known: the source's id


def test_csv_for_scripts_has_ascii_headers_and_stored_values(config_file: Path) -> None:
    rows = csv_rows(search(config_file, "北辰燃料乙醇", "--format", "csv", "--ascii-headers"))
    assert list(rows[0]) == ["time", "sentiment", "score", "risk", "outlet", "source", "platform", "author", "title",
                             "url", "schemes", "content", "id"]
    assert (rows[0]["title"], rows[0]["sentiment"], rows[0]["platform"]) == ("北辰燃料乙醇厂区附近恶臭难忍", "negative", "news")
    stored = json.loads(search(config_file, "北辰燃料乙醇", "--format", "json").stdout)["posts"][0]
    assert (float(rows[0]["score"]), float(rows[0]["risk"])) == (stored["sentiment"]["score"], stored["risk"])
    assert 0 <= stored["risk"] <= 1


def test_no_match_and_no_store_and_bad_since(config_file: Path, tmp_path: Path) -> None:
    done = search(config_file, "不存在的词")
    assert done.returncode == 0 and "没有匹配的帖子" in done.stdout.decode()
    empty = tmp_path / "empty.toml"
    empty.write_text(f'[store]\npath = "{(tmp_path / "none").as_posix()}"\n', encoding="utf-8")
    done = search(empty)
    assert done.returncode == 1 and b"no posts stored" in done.stderr
    done = search(config_file, "--since", "yesterday-ish")
    assert done.returncode == 2 and b"give a duration" in done.stderr


def one_line_error(done: subprocess.CompletedProcess[bytes]) -> str:
    """Exit code 2, one line on stderr, no traceback, nothing on stdout."""
    assert done.returncode == 2, done.stdout.decode() + done.stderr.decode()
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and done.stdout == b"", done.stderr.decode()
    return lines[0]


@pytest.mark.parametrize("args, said", [
    (["北辰", "OR"], "yuqing: query error at column 4 of '北辰 OR': OR needs something to search after it"),
    (['"北辰 回应'], "yuqing: query error at column 1 of '\"北辰 回应': this quote is never closed"),
    (["(恶臭", "OR", "好评"], "yuqing: query error at column 1 of '(恶臭 OR 好评': this '(' is never closed"),
    (["titel:北辰"], "yuqing: query error at column 1 of 'titel:北辰': unknown field 'titel'"),
    (["source:weibo"], "column 8 of 'source:weibo': source: 'weibo' is not one of: news-a, news-b, forum"),
])
def test_a_query_that_cannot_be_read_is_an_error_with_its_column(config_file: Path, args: list[str],
                                                                  said: str) -> None:
    assert said in one_line_error(search(config_file, *args))


def test_a_source_or_scheme_not_configured_is_an_error_naming_those_that_are(config_file: Path) -> None:
    assert one_line_error(search(config_file, "北辰", "--source", "weibo")) == (
        "yuqing: --source 'weibo' names no configured source (configured: news-a, news-b, forum)")
    assert one_line_error(search(config_file, "--scheme", "beichen")) == (
        "yuqing: --scheme 'beichen' names no configured scheme (configured: co)")


@pytest.fixture(scope="module")
def demo_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's configuration and story where `yuqing demo` leaves them (var/demo/ under the folder it ran
    in), ingested as the demo's service ingests what it crawls: the news with the feed's name for its outlet,
    the forum's posts with none (its source's display_name names them)."""
    folder = tmp_path_factory.mktemp("demo")
    path = folder / demo_config_file()
    path.parent.mkdir(parents=True)
    path.write_text(DEMO_CONFIG.format(store=path.parent.as_posix(), company=COMPANY, site="http://127.0.0.1:9",
                                       interval=15, smtp_port=9, port=9), encoding="utf-8")
    ingest(path, [{"url": f"http://127.0.0.1:9/{post.kind}/{post.slug}.html", "platform": post.kind,
                   "source": "baihua-news" if post.kind == "news" else "baihua-forum", "title": post.title,
                   "outlet": "白桦新闻网" if post.kind == "news" else "",
                   "content": post.body, "author": post.author,
                   "published_at": (now() - timedelta(minutes=200 - post.at)).isoformat()} for post in TIMELINE])
    return path


def test_the_demo_story_is_found_by_what_people_type(demo_config: Path) -> None:
    def found(*query: str) -> list[str]:
        return sorted(slugs(search(demo_config, *query, "--format", "json", "--limit", "50")))

    every = sorted(post.slug for post in TIMELINE)
    assert found("北辰") == every  # every post names 北辰燃料乙醇
    assert found("偷排") == ["t4"]  # 怀疑偷排污水, the post that raised the 偷排 alert
    assert found("臭") == ["t2", "t3", "t4", "t5"]  # 恶臭, 发臭, 很臭
    assert found("环境局") == ["n5"]  # 白桦市生态环境局
    assert found("author:李明") == ["n1", "n3"]
    assert found("title:恶臭", "source:baihua-forum") == ["t2", "t3"]
    assert found("(恶臭 OR 异味) -title:转") == ["n4", "n5", "t2"]
    assert found("sentiment:negative", "偷排 OR 恶臭") == ["t2", "t3", "t4"]


def test_searching_from_the_folder_the_demo_ran_in_finds_its_store(demo_config: Path, tmp_path: Path) -> None:
    folder = demo_config.parents[2]
    done = search(None, "偷排", "--format", "json", cwd=folder)
    assert slugs(done) == ["t4"]
    assert "reading the demo's store (--config var/demo/yuqing.toml)" in done.stderr.decode()
    nowhere = search(None, "偷排", cwd=tmp_path)  # no configuration and no demo here
    lines = nowhere.stderr.decode().strip().splitlines()
    assert nowhere.returncode == 1 and len(lines) == 1 and nowhere.stdout == b""
    assert "give --config FILE (a demo's is var/demo/yuqing.toml)" in lines[0]


def test_the_table_names_outlets_not_source_ids(demo_config: Path) -> None:
    done = search(demo_config, "偷排 OR 环境局")
    out = done.stdout.decode()
    assert done.returncode == 0 and "白桦论坛" in out and "白桦新闻网" in out  # display_name; the feed's title
    assert "baihua-forum" not in out and "baihua-news" not in out


@pytest.mark.parametrize("columns", [80, 60])
def test_a_narrow_terminal_gets_each_post_on_lines_that_fit(config_file: Path, columns: int) -> None:
    done = search(config_file, columns=columns)
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    links = [line.strip() for line in lines if line.strip().startswith("http")]
    assert sorted(links) == sorted(f"http://127.0.0.1/{slug}.html" for slug, *_ in POSTS)  # whole, never cut
    assert all(cell_len(line) <= columns for line in lines if line.strip() not in links)
    [title] = [line.strip() for line in lines if line.strip().startswith(LONG_TITLE[:10])]
    # Cut at a whole character with an ellipsis (a space where half a character would go): the title's beginning.
    assert title.endswith("…") and LONG_TITLE.startswith(title[:-1].rstrip()) and len(title) < len(LONG_TITLE)
    assert lines[-1] == "共 5 条，显示 5 条"


def test_since_and_until_take_weeks_days_and_clock_times(config_file: Path) -> None:
    def found(*args: str) -> list[str]:
        return slugs(search(config_file, *args, "--format", "json"))

    at = now()
    assert found("--since", "1w") == ["n1", "n2", "n4", "n5"]
    assert found("--since", "1w", "--until", "150m") == ["n4", "n5"]
    assert found("--until", "1w") == ["n3"]
    assert found("--since", (at - timedelta(minutes=90)).strftime("%H:%M")) == ["n1"]
    assert found("--since", (at - timedelta(minutes=150)).strftime("%Y-%m-%d %H:%M")) == ["n1", "n2"]
    yesterday = (at - timedelta(days=1)).date()
    assert found("--since", "yesterday", "--until", "yesterday") == [
        slug for slug, *_, hours in POSTS if (at - timedelta(hours=hours)).date() == yesterday]


@pytest.mark.parametrize("args, said", [
    (["--until", "25:00"], "yuqing: --until '25:00': give a duration (30m, 24h, 7d, 1w), today, yesterday"),
    (["--since", "1h", "--until", "2h"], "yuqing: --since 1h ("),
])
def test_a_time_that_cannot_be_read_or_an_empty_range_is_a_one_line_error(config_file: Path, args: list[str],
                                                                          said: str) -> None:
    assert one_line_error(search(config_file, *args)).startswith(said)
