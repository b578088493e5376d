"""The news dev set: its rows name texts in ../shared by place and hash, and carry no text themselves."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from analysis.sentiment import LABELS
from benchmarks.news_dev import NEWS_DEV, NEWS_PAGES, fingerprint, load, resolve

SHARED = Path(os.environ.get("YUQING_SHARED", Path(__file__).resolve().parents[2] / ".." / "shared"))
LEAD = "市卫健委今天通报，全市新增的三家社区医院本月起全部开诊，居民看病不用再跑远路，候诊时间明显缩短。"
SECOND = "记者在城东社区医院看到，挂号、取药都在一层完成，不少老人说方便多了，医生也有时间细问病情。"


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "titles.jsonl").write_text(
        "\n".join(json.dumps({"text": t, "topic": "x"}, ensure_ascii=False) for t in ["甲地暴雨致三人遇难", "乙队夺冠"]) + "\n",
        encoding="utf-8")
    pages = tmp_path / "fixtures" / "pages" / "news"
    pages.mkdir(parents=True)
    (pages / "a.html").write_text(
        "<html><head><meta charset='utf-8'><title>社区医院全部开诊</title></head><body><article>"
        f"<h1>社区医院全部开诊</h1><p>{LEAD}</p><p>{SECOND}</p><p>{SECOND}{LEAD}</p></article></body></html>",
        encoding="utf-8")
    return tmp_path


def _rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def test_rows_are_resolved_in_shared_and_checked_by_hash(shared: Path, tmp_path: Path) -> None:
    rows = _rows(tmp_path / "rows.jsonl", [
        {"file": "data/titles.jsonl", "line": 2, "sha1": fingerprint("乙队夺冠"), "label": "positive"},
        {"file": "fixtures/pages/news/a.html", "title": True, "paragraphs": [1],
         "sha1": fingerprint(f"社区医院全部开诊\n{LEAD}"), "label": "positive"},
        {"file": "fixtures/pages/news/a.html", "paragraphs": [2], "sha1": fingerprint(SECOND), "label": "positive"},
        {"file": "data/titles.jsonl", "line": 1, "sha1": fingerprint("甲地暴雨致两人遇难"), "label": "negative"},
        {"file": "data/titles.jsonl", "line": 3, "sha1": "0" * 12, "label": "neutral"},
        {"file": "fixtures/pages/news/a.html", "paragraphs": [7], "sha1": "0" * 12, "label": "neutral"},
        {"file": "fixtures/pages/news/gone.html", "paragraphs": [0], "sha1": "0" * 12, "label": "neutral"},
    ])
    passages, problems = load(rows, shared)
    assert [(p.title, p.body, p.label) for p in passages] == [
        ("乙队夺冠", "", "positive"), ("社区医院全部开诊", LEAD, "positive"), ("", SECOND, "positive")]
    assert passages[1].text == f"社区医院全部开诊\n{LEAD}"
    assert len(problems) == 4
    assert "data/titles.jsonl:1: not the text that was labelled" in problems[0]
    assert "data/titles.jsonl:3: no such line" in problems[1]
    assert "4 paragraphs" in problems[2]  # the headline, as the extractor reads the body, is its first
    assert "gone.html: no such file" in problems[3]


def test_the_committed_sets_hold_references_and_labels_only() -> None:
    for path, size in ((NEWS_DEV, 300), (NEWS_PAGES, 20)):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert len(rows) == size
        for row in rows:
            assert set(row) <= {"file", "line", "title", "paragraphs", "sha1", "label"}, "no text of ../shared"
            assert row["label"] in LABELS and re.fullmatch(r"[0-9a-f]{12}", row["sha1"])
            assert row["file"].startswith(("data/", "fixtures/pages/news/"))
    labels = [json.loads(line)["label"] for line in NEWS_DEV.read_text(encoding="utf-8").splitlines()]
    assert min(labels.count(label) for label in LABELS) >= 90, "balanced-ish"


def test_the_committed_sets_are_found_in_shared() -> None:
    if not SHARED.is_dir():
        pytest.skip(f"no {SHARED} (it comes beside the project; YUQING_SHARED names another copy)")
    for path in (NEWS_DEV, NEWS_PAGES):
        passages, problems = load(path, SHARED)
        assert problems == []
        assert all(p.text for p in passages)
    row = json.loads(NEWS_DEV.read_text(encoding="utf-8").splitlines()[0])
    assert resolve(row, SHARED).title, "a lead passage carries its headline"
