"""`yuqing analyze` as a user runs it: JSONL through a pipe."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from analysis.pipeline import Analyzer
from analysis.stream import analyze_stream


def analyze(stdin: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "yuqing.cli", "analyze", *args], input=stdin, capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def test_objects_come_back_in_order_with_analysis_and_bad_lines_are_reported(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "a", "text": "北辰燃料乙醇厂区附近恶臭难忍，居民投诉无人理，太失望了", "keep": 1}, ensure_ascii=False),
        "{broken",
        json.dumps({"title": "开放日", "content": "市民纷纷点赞，非常满意"}, ensure_ascii=False),
        json.dumps({"id": "c", "text": "北辰燃料乙醇厂区附近恶臭难忍，居民投诉无人理，太失望了！！"}, ensure_ascii=False),
        "42",
        json.dumps({"text": ""}),
        json.dumps({"text": "😡😡😡"}),
        json.dumps({"text": "北辰\u200b燃料\u200d乙醇\ufeff偷排污水"}, ensure_ascii=False),
        json.dumps({"text": "北辰燃料乙醇廠區附近惡臭難忍，居民投訴無人理"}, ensure_ascii=False),
    ]
    done = analyze("\n".join(lines) + "\n", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(out) == 7
    assert out[0]["keep"] == 1 and out[0]["sentiment"]["label"] == "negative" and "恶臭" in out[0]["keywords"]
    assert len(out[0]["simhash"]) == 16 and out[0]["dup_of"] is None
    assert out[1]["sentiment"]["label"] == "positive" and 0.5 < out[1]["sentiment"]["score"] <= 1
    assert out[2]["dup_of"] == "a"
    assert out[3]["sentiment"] is None and out[3]["keywords"] == [] and out[3]["simhash"] is None
    assert "偷排" in "".join(out[5]["keywords"]) or "乙醇" in out[5]["keywords"]
    assert out[6]["sentiment"]["label"] == "negative"  # traditional characters read too
    assert "line 2: skipped" in done.stderr and "line 5: skipped: expected a JSON object" in done.stderr
    assert "analysed 7 posts, skipped 2 lines" in done.stderr


def test_schemes_with_a_config_and_files_in_and_out(tmp_path: Path) -> None:
    config = tmp_path / "yuqing.toml"
    config.write_text('[[schemes]]\nname = "co"\nkeywords = ["北辰燃料乙醇"]\nexclude = ["招聘"]\n', encoding="utf-8")
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps({"text": t}, ensure_ascii=False) for t in
                                ["北辰燃料乙醇发生泄漏", "北辰燃料乙醇招聘操作工", "别的公司"]), encoding="utf-8")
    done = analyze("", "--in", str(source), "--out", str(tmp_path / "out.jsonl"), "--config", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [o["schemes"] for o in out] == [[{"name": "co", "terms": ["北辰燃料乙醇"]}], [], []]


def _peak_rss(tmp_path: Path, lines: list[str], name: str) -> tuple[int, list[dict[str, Any]], str]:
    """Peak resident memory (bytes) of `yuqing analyze` over these lines, its output and its stderr."""
    source, target, errors = (tmp_path / f"{name}.{ext}" for ext in ("jsonl", "out", "err"))
    source.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    with source.open("rb") as stdin, target.open("wb") as stdout, errors.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "yuqing.cli", "analyze"], stdin=stdin, stdout=stdout,
                                   stderr=stderr, cwd=tmp_path)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own figures, whatever ran before it
    assert os.waitstatus_to_exitcode(status) == 0, errors.read_text(encoding="utf-8")
    out = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    return usage.ru_maxrss * 1024, out, errors.read_text(encoding="utf-8")


def test_a_ten_megabyte_post_is_analysed_in_bounded_memory(tmp_path: Path) -> None:
    text = "北辰燃料乙醇的新闻，居民对恶臭问题很不满意。" * 450_000  # 9.9 million characters
    middle = 100 * "化工园区发生泄漏爆炸。"
    text = text[:len(text) // 2] + middle + text[len(text) // 2:]
    short = json.dumps({"id": "short", "text": text[:200]}, ensure_ascii=False)
    baseline, _, _ = _peak_rss(tmp_path, [short], "short")
    peak, out, errors = _peak_rss(tmp_path, [json.dumps({"id": "huge", "text": text}, ensure_ascii=False), short], "huge")
    # Python holds this text at 2 bytes a character; reading, parsing, normalising and writing it back need a
    # handful of whole copies. Analysing it whole took 1.1 GB more than a short post (jieba's tokens).
    assert peak - baseline < 10 * 2 * len(text), f"{(peak - baseline) / 2**20:.0f} MB more than a short post"
    assert [o["id"] for o in out] == ["huge", "short"] and out[0]["text"] == text
    assert out[0]["truncated"] is True and out[1]["truncated"] is False
    assert out[0]["sentiment"]["label"] == "negative" and "恶臭" in out[0]["keywords"]
    assert "爆炸" not in out[0]["keywords"]  # the middle was not read
    assert f"post huge: {len(text):,} characters, only the first 50,000 and the last 50,000 analysed" in errors


def test_the_reported_reply_is_negative(tmp_path: Path) -> None:
    done = analyze('{"text":"@张三这家工厂排污严重太恶心了我要投诉"}\n', cwd=tmp_path)
    [out] = [json.loads(line) for line in done.stdout.splitlines()]
    assert out["sentiment"]["label"] == "negative" and out["sentiment"]["score"] < 0.35
    assert {"工厂", "排污"} <= set(out["keywords"])


def test_a_deeply_nested_line_is_skipped_and_the_lines_around_it_come_out(tmp_path: Path) -> None:
    deep = 100_000
    lines = [json.dumps({"id": "a", "text": "北辰燃料乙醇厂区恶臭难忍"}, ensure_ascii=False),
             "[" * deep + "]" * deep,
             '{"a":' * deep + "1" + "}" * deep,
             json.dumps({"id": "b", "text": f"nested {'[' * deep}"}),  # deep-looking, but only a string
             json.dumps({"id": "c", "text": "服务很好，非常满意"}, ensure_ascii=False)]
    done = analyze("\n".join(lines) + "\n", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == ["a", "b", "c"]
    assert "line 2: skipped: nested too deeply" in done.stderr and "line 3: skipped: nested too deeply" in done.stderr
    assert "Traceback" not in done.stderr and "analysed 3 posts, skipped 2 lines" in done.stderr


def test_nesting_at_every_depth_near_the_limit_loses_no_other_line(analyzer: Analyzer) -> None:
    """Somewhere near the recursion limit a value can be read but not written back; either way the line is
    the only one lost."""
    limit = sys.getrecursionlimit()
    lines = []
    for n, depth in enumerate(range(limit - 100, limit + 5)):
        lines += [f'{{"id": "d{depth}", "text": "好", "v": {"[" * depth}{"]" * depth}}}', f'{{"id": "ok{n}", "text": "好"}}']
    out, errors = io.StringIO(), io.StringIO()
    written, skipped = analyze_stream(io.StringIO("\n".join(lines)), out, analyzer, errors)
    ids = [json.loads(line)["id"] for line in out.getvalue().splitlines()]
    assert [i for i in ids if i.startswith("ok")] == [f"ok{i}" for i in range(len(lines) // 2)]
    assert skipped > 0 and written + skipped == len(lines) and errors.getvalue().count("nested too deeply") == skipped


def test_a_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    posts = [json.dumps({"id": "first", "text": "恶臭难忍"}, ensure_ascii=False),
             json.dumps({"id": "second", "text": "非常满意"}, ensure_ascii=False)]
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + "\n".join(posts).encode("utf-8"))
    for done in (analyze("", "--in", "bom.jsonl", cwd=tmp_path),
                 analyze((tmp_path / "bom.jsonl").read_text(encoding="utf-8"), cwd=tmp_path)):
        assert done.returncode == 0, done.stderr
        assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == ["first", "second"]
        assert "skipped 0 lines" in done.stderr


def test_a_pipe_gets_each_result_while_its_input_is_still_open(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-m", "yuqing.cli", "analyze"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path)
    assert process.stdin is not None and process.stdout is not None
    try:
        for n in range(2):
            process.stdin.write(json.dumps({"id": f"p{n}", "text": f"北辰燃料乙醇第{n}条消息"}, ensure_ascii=False) + "\n")
            process.stdin.flush()
            answers: list[str] = []
            reader = threading.Thread(target=lambda: answers.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
            reader.start()
            reader.join(timeout=30)
            assert answers and json.loads(answers[0])["id"] == f"p{n}", "a result waits for more input"
    finally:
        process.stdin.close()
        process.wait(timeout=60)
    assert process.returncode == 0


def test_events_come_out_with_their_first_poster_and_the_posts_own_times(tmp_path: Path) -> None:
    posts = [
        {"id": "w1", "text": "北辰燃料乙醇厂区附近恶臭难忍，居民投诉", "published_at": "2024-03-12T08:05:00+08:00",
         "author": "河西业主", "platform": "weibo", "source": "weibo"},
        {"id": "n1", "text": "白桦风电项目今日开工建设", "published_at": "2024-03-12T08:30:00+08:00", "source": "news"},
        {"id": "w2", "text": "北辰燃料乙醇恶臭问题，居民再次投诉", "published_at": "2024-03-12T09:10:00+08:00",
         "author": {"name": "本地记者", "followers": 500000}, "metrics": {"reposts": 300}, "source": "weibo"},
        {"id": "f1", "text": "记者调查北辰燃料乙醇厂区恶臭投诉", "published_at": "2024-03-12 09:40", "source": "forum",
         "metrics": {"reposts": "many"}},
    ]
    events_file = tmp_path / "events.jsonl"
    done = analyze("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in posts), "--events", str(events_file),
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["id"] for o in out] == ["w1", "n1", "w2", "f1"], "a post with a field it cannot read is still analysed"
    assert "line 4: metrics not understood, left out" in done.stderr
    assert out[2]["risk"] > out[0]["risk"], "followers and reposts raise the risk"
    events = {e["id"]: e for e in map(json.loads, events_file.read_text(encoding="utf-8").splitlines())}
    story = events[out[0]["event_id"]]
    assert out[2]["event_id"] == out[3]["event_id"] == story["id"] != out[1]["event_id"]
    assert story["first_post"] == "w1" and story["first_poster"] == "河西业主" and story["posts"] == 3
    assert story["by_source"] == {"weibo": 2, "forum": 1} and "恶臭" in story["keywords"] and story["title"]
    # Its hours are the posts' own (Asia/Shanghai when no zone is given), not the time of the run.
    assert story["per_hour"] == {"2024-03-12T08:00:00+08:00": 1, "2024-03-12T09:00:00+08:00": 2}
    assert story["growth"] == 1 and story["first_seen"] == "2024-03-12T08:05:00+08:00"
