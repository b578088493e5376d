"""The draft statement (情况说明): facts from the data only, 【待核实】 for the rest; a broken template stops the start."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import settings as config
from alerts.statement import UNKNOWN, StatementWriter, facts, when
from analysis.grams import index_grams
from models import Correction, Event, Post, now
from store.embedded import EmbeddedStore
from tests.story import story

START = now() - timedelta(hours=3)


@pytest.fixture(scope="module")
def told() -> tuple[list[Post], list[Event]]:
    return story(START)


@pytest.fixture
def store(tmp_path: Path, told: tuple[list[Post], list[Event]]) -> Iterator[EmbeddedStore]:
    with EmbeddedStore(tmp_path / "store", grams=index_grams) as s:
        s.upsert(told[0])
        yield s


def _complaint(told: tuple[list[Post], list[Event]]) -> tuple[Event, dict[str, Post]]:
    posts = {p.id: p for p in told[0]}
    return next(e for e in told[1] if e.first_post == "forum:t2"), posts


def test_the_draft_says_what_the_event_data_says(store: EmbeddedStore, told: tuple[list[Post], list[Event]]) -> None:
    event, posts = _complaint(told)
    at = now()
    alert = {"id": 12, "title": "任意标题", "event_id": event.id}
    known = facts(alert, event, [posts["forum:t2"]], [posts["news:n5"]], "党委宣传部 0000-0000000", at)
    text = StatementWriter(store).render_facts(known)
    assert text.startswith("关于“北辰燃料乙醇厂区附近恶臭难忍，居民投诉无人理”有关情况的说明（草稿）")
    first = posts["forum:t2"]
    assert (f"{when(first.time)}，河西小区业主在白桦论坛（论坛）发布《北辰燃料乙醇厂区附近恶臭难忍，居民投诉无人理》，"
            f"称：“我们小区紧挨着北辰燃料乙醇的厂区") in text
    assert (f"截至{when(event.last_seen)}，监测到相关信息6条（论坛4条、新闻网站2条），来自2个来源，其中负面信息5条。"
            in text)
    assert "网络信息主要涉及“恶臭、厂区、投诉、异味、居民、河西”等内容，相关情况正在核实。" in text
    assert (f"{when(posts['news:n5'].time)}，白桦新闻网（本网记者 王芳）发布《白桦市生态环境局回应北辰燃料乙醇异味投诉："
            f"已介入调查》：“白桦市生态环境局表示，已接到") in text
    assert "大家帮忙顶一下”。" in text and "结果将及时向社会公布”。" in text  # one full stop, after the quote
    assert "联系人及电话：党委宣传部 0000-0000000" in text
    assert "经核实：【待核实】" in text and "预警编号12" in text
    # No date, time or number that the data does not hold.
    times = set(re.findall(r"\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d", text))
    assert times == {when(first.time), when(event.last_seen), when(posts["news:n5"].time), when(at)}
    numbers = set(re.findall(r"\d+(?=条|个来源)", text))
    assert numbers == {"6", "4", "2", "5"}


def test_the_writer_reads_the_stored_event_and_its_posts(store: EmbeddedStore,
                                                        told: tuple[list[Post], list[Event]]) -> None:
    event, posts = _complaint(told)
    store.upsert_events(told[1])
    text = StatementWriter(store)({"id": 12, "title": "任意标题", "event_id": event.id, "post_ids": ["forum:t3"]})
    assert text.startswith("关于“北辰燃料乙醇厂区附近恶臭难忍，居民投诉无人理”")
    assert f"{when(posts['forum:t2'].time)}，河西小区业主在白桦论坛（论坛）发布" in text
    assert "监测到相关信息6条（论坛4条、新闻网站2条），来自2个来源，其中负面信息5条。" in text
    assert "白桦新闻网（本网记者 王芳）发布《白桦市生态环境局回应北辰燃料乙醇异味投诉" in text

    # An analyst says the river photo is no complaint: the draft counts the posts as labelled now.
    store.correct("forum:t4", Correction(sentiment="neutral", by="李明", at=now()))
    text = StatementWriter(store)({"id": 12, "title": "任意标题", "event_id": event.id, "post_ids": ["forum:t3"]})
    assert "其中负面信息4条。" in text


def test_what_is_not_known_is_left_to_be_verified(store: EmbeddedStore) -> None:
    text = StatementWriter(store)({"id": 3, "title": "来源异常", "event_id": None, "post_ids": []})
    assert "首发时间、平台及发布者：【待核实】。" in text
    assert "监测到相关信息【待核实】条" in text and "来自【待核实】个来源，其中负面信息【待核实】条" in text
    assert "截至目前，监测范围内未见官方回应。" in text
    assert "联系人及电话：【待核实】" in text
    assert text.count(UNKNOWN) >= 7


def test_an_alert_without_a_stored_event_is_told_from_its_posts(store: EmbeddedStore) -> None:
    alert = {"id": 5, "title": "北辰燃料乙醇附近恶臭", "event_id": None,
             "post_ids": ["forum:t3", "forum:t2", "news:n5", "forum:gone"]}
    text = StatementWriter(store, contact="值班室")(alert)
    assert "河西小区业主在白桦论坛（论坛）发布《北辰燃料乙醇厂区附近恶臭难忍" in text  # the earliest, not the first listed
    assert "监测到相关信息3条（论坛2条、新闻网站1条），来自2个来源，其中负面信息2条。" in text
    assert "白桦市生态环境局回应北辰燃料乙醇异味投诉" in text.split("三、回应与处置情况")[1]  # marked official


def _template(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.txt.j2"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, said", [
    ("关于{{ title }}\n{% if first %}\n首发", "line 3: Unexpected end of template"),
    ("{{ title }}{{ company }}", "uses company, which it is not given"),
    ("{{ first.title }}", "fails on an alert with nothing known yet"),
    ("{{ title | nosuchfilter }}", "No filter named 'nosuchfilter'"),
])
def test_a_broken_template_is_a_config_error(tmp_path: Path, store: EmbeddedStore, text: str, said: str) -> None:
    with pytest.raises(config.ConfigError, match=re.escape(said)) as caught:
        StatementWriter(store, _template(tmp_path, text))
    assert "[alerts] statement_template" in str(caught.value)


def test_an_unreadable_template_is_a_config_error(tmp_path: Path, store: EmbeddedStore) -> None:
    path = tmp_path / "gbk.txt.j2"
    path.write_bytes("情况说明".encode("gbk"))
    with pytest.raises(config.ConfigError, match="cannot be read"):
        StatementWriter(store, path)
    toml = tmp_path / "yuqing.toml"
    toml.write_text(f'[alerts]\nstatement_template = "{(tmp_path / "missing.j2").as_posix()}"\n', encoding="utf-8")
    with pytest.raises(config.ConfigError, match="statement_template.*missing.j2: no such file"):
        config.load(toml)


def test_a_custom_template_and_contact_are_used(tmp_path: Path, store: EmbeddedStore) -> None:
    path = _template(tmp_path, "{{ title }}：{{ contact or unknown }}\n")
    assert StatementWriter(store, path, "张三")({"id": 1, "title": "标题", "event_id": None}) == "标题：张三\n"


def test_yuqing_run_with_a_broken_template_stops_with_one_line(tmp_path: Path) -> None:
    _template(tmp_path, "{% for x in %}")
    (tmp_path / "yuqing.toml").write_text(
        '[store]\npath = "var"\n[alerts]\nstatement_template = "mine.txt.j2"\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "yuqing.cli", "run"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("yuqing: config error: [alerts] statement_template mine.txt.j2, line 1:")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
