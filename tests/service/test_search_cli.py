"""`yuqing search`, as an analyst runs it."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from analysis.grams import index_grams
from analysis.pipeline import Analyzer
from settings import Scheme
from store.embedded import EmbeddedStore
from models import Post, now

CONFIG = """
[store]
path = "{path}"

[[schemes]]
name = "co"
keywords = ["北辰燃料乙醇"]
"""

POSTS = [
    ("n1", "news-a", "北辰燃料乙醇厂区附近恶臭难忍", "居民投诉无人理，太失望了，气死了", 1),
    ("n2", "news-b", "北辰燃料乙醇开放日受市民好评", "市民纷纷点赞，非常满意", 2),
    ("n3", "forum", "白桦风电项目开工", "风电项目今日开工", 30 * 24),
    ("n4", "forum", "北辰燃料乙醇招聘会举行", "招聘操作工，待遇不错", 3),
]


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("search")
    analyzer = Analyzer([Scheme(name="co", keywords=["北辰燃料乙醇"])])
    with EmbeddedStore(folder / "var", grams=index_grams) as store:
        store.upsert(analyzer.analyse(Post(
            id=f"news:{slug}", platform="news", source=source, url=f"http://127.0.0.1/{slug}.html", title=title,
            content=content, published_at=now() - timedelta(hours=hours))) for slug, source, title, content, hours in POSTS)
    path = folder / "yuqing.toml"
    path.write_text(CONFIG.format(path=(folder / "var").as_posix()), encoding="utf-8")
    return path


def search(config_file: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "yuqing.cli", "search", "--config", str(config_file), *args],
                          capture_output=True, timeout=120, env={"COLUMNS": "160", "PATH": "/usr/bin:/bin"})


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


def test_empty_query_lists_newest_first_in_a_readable_table(config_file: Path) -> None:
    done = search(config_file)
    assert done.returncode == 0
    out = done.stdout.decode("utf-8")
    assert out.index("北辰燃料乙醇厂区附近恶臭难忍") < out.index("白桦风电项目开工")
    assert "4 of 4 posts" in out and "negative" in out


def test_csv_opens_in_excel(config_file: Path) -> None:
    done = search(config_file, "北辰燃料乙醇", "--format", "csv")
    assert done.stdout.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(done.stdout.decode("utf-8-sig"))))
    assert [r["title"] for r in rows][0] == "北辰燃料乙醇厂区附近恶臭难忍"
    assert {"time", "sentiment", "source", "url", "content"} <= set(rows[0])


def test_no_match_and_no_store_and_bad_since(config_file: Path, tmp_path: Path) -> None:
    done = search(config_file, "不存在的词")
    assert done.returncode == 0 and b"no posts match" in done.stdout
    empty = tmp_path / "empty.toml"
    empty.write_text(f'[store]\npath = "{(tmp_path / "none").as_posix()}"\n', encoding="utf-8")
    done = search(empty)
    assert done.returncode == 1 and b"no posts stored" in done.stderr
    done = search(config_file, "--since", "yesterday-ish")
    assert done.returncode == 2 and b"give a duration" in done.stderr
