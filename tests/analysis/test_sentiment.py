"""The shipped sentiment model on plain cases, its features, and training from JSONL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis.pipeline import Analyzer
from analysis.sentiment import Featurizer, SentimentScorer, read_rows, row_label
from analysis.tokens import Tokenizer


@pytest.mark.parametrize(("text", "label"), [
    ("今天天气很好，开心[哈哈]", "positive"),
    ("气死了[怒][怒]，什么破服务", "negative"),
    ("不好吃，不推荐，再也不来了", "negative"),
    ("感谢医护人员，辛苦了，致敬！", "positive"),
    ("孩子咳嗽了一个月，投诉了十几次没人管，太失望了", "negative"),
])
def test_plain_cases(analyzer: Analyzer, text: str, label: str) -> None:
    sentiment = analyzer.sentiment.score(text)
    assert sentiment is not None and sentiment.label == label
    assert (sentiment.score >= 0.5) == (label == "positive")


def test_features_mark_negation_emoticons_and_reposts() -> None:
    features = Featurizer(Tokenizer())("我不喜欢这个[怒]//@小王:太好了[哈哈]")
    assert "¬喜欢" in features and "喜欢" not in features
    assert "[怒]" in features and "转:[哈哈]" in features
    assert any(f.startswith("转:") and "好" in f for f in features), "the repost chain is read apart"
    assert not any("小王" in f for f in features)


def test_nothing_to_read_gives_no_sentiment(analyzer: Analyzer) -> None:
    assert analyzer.sentiment.score("") is None
    assert analyzer.sentiment.score("   ") is None


def test_very_long_text(analyzer: Analyzer) -> None:
    long = analyzer.sentiment.score("差评，质量太差。" * 500_000)  # 4 million characters
    assert long is not None and long.label == "negative"


def test_row_labels() -> None:
    assert row_label({"label": "neutral"}) == "neutral"
    assert row_label({"label": "other", "emotion": "happy"}) == "positive"
    assert row_label({"label": "other", "emotion": 4}) == "negative"
    assert row_label({"label": "other", "emotion": "surprise"}) is None


def test_read_rows_reports_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "好", "label": "positive"}\n{oops\n', encoding="utf-8")
    with pytest.raises(ValueError, match="bad.jsonl:2: not JSON"):
        read_rows([path])


def test_train_sentiment_command_builds_a_working_model(tmp_path: Path) -> None:
    rows = []
    for i in range(60):
        rows += [{"text": f"服务很好，非常满意，点赞{i}", "label": "positive"},
                 {"text": f"服务太差，非常失望，投诉{i}", "label": "negative"},
                 {"text": f"今天下午三点开会，地点在{i}号会议室", "label": "neutral"}]
    data = tmp_path / "labelled.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    out = tmp_path / "model"
    done = subprocess.run([sys.executable, "-m", "yuqing.cli", "train-sentiment", "--data", str(data), "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "held-out 3-class accuracy" in done.stderr
    scorer = SentimentScorer(Tokenizer(), out)
    assert scorer.score("服务很好，满意").label == "positive"  # type: ignore[union-attr]
    assert scorer.score("太差了，失望").label == "negative"  # type: ignore[union-attr]
    assert scorer.score("明天上午开会").label == "neutral"  # type: ignore[union-attr]

    # The config puts it to use: `yuqing analyze` scores with the retrained model, not the shipped one.
    config = tmp_path / "yuqing.toml"
    config.write_text(f"[analysis]\nsentiment_model = {str(out)!r}\n", encoding="utf-8")
    text = "服务还行，会议室在三楼"
    done = subprocess.run([sys.executable, "-m", "yuqing.cli", "analyze", "--config", str(config)],
                          input=json.dumps({"text": text}, ensure_ascii=False) + "\n", capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    retrained, shipped = scorer.score(text), SentimentScorer(Tokenizer()).score(text)
    assert json.loads(done.stdout)["sentiment"] == retrained.model_dump() != shipped.model_dump()  # type: ignore[union-attr]


def test_train_sentiment_needs_three_labels(tmp_path: Path) -> None:
    data = tmp_path / "two.jsonl"
    data.write_text('{"text": "好", "label": "positive"}\n{"text": "差", "label": "negative"}\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "yuqing.cli", "train-sentiment", "--data", str(data), "--out",
                           str(tmp_path / "m")], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 1 and "need rows of all three labels" in done.stderr


def _labelled(n: int = 40) -> list[tuple[str, str]]:
    rows = []
    for i in range(n):
        rows += [(f"服务很好，非常满意，点赞{i}", "positive"), (f"服务太差，非常失望，投诉{i}", "negative"),
                 (f"今天下午三点开会，地点在{i}号会议室", "neutral")]
    return rows


def test_extra_rows_join_the_fit_at_their_weight_and_never_the_held_out_tenth(tmp_path: Path) -> None:
    from analysis.train_sentiment import train

    featurizer = Featurizer(Tokenizer())
    extra = [(f"蓝莓芝士蛋糕{i}号", "positive") for i in range(30)]
    without = train(_labelled(), tmp_path / "none", featurizer, progress=lambda m: None)
    at_zero = train(_labelled(), tmp_path / "zero", featurizer, extra=extra, extra_weight=0, progress=lambda m: None)
    weighed = train(_labelled(), tmp_path / "one", featurizer, extra=extra, extra_weight=1, progress=lambda m: None)
    assert without["holdout"] == at_zero["holdout"] and weighed["holdout"]["rows"] == 12  # a tenth of the 120 main rows
    assert "extra_rows" not in at_zero and (weighed["extra_rows"], weighed["extra_weight"]) == (30, 1)
    text = "蓝莓芝士蛋糕"
    scores = {name: SentimentScorer(Tokenizer(), tmp_path / name).score(text) for name in ("none", "zero", "one")}
    assert scores["none"] == scores["zero"], "weight 0 is no extra rows"
    assert scores["one"].score > scores["none"].score  # type: ignore[union-attr]


def test_prior_shift_gives_back_the_main_rows_class_shares() -> None:
    from analysis.train_sentiment import _prior_shift

    gold = np.array([0] * 25 + [1] * 50 + [2] * 25)  # a half neutral
    fit_gold = np.concatenate([gold, [0] * 50 + [2] * 50])  # a hundred polar extra rows at half weight
    shift = _prior_shift(gold, fit_gold, np.concatenate([np.ones(100), np.full(100, 0.5)]))
    assert shift[1] > 0 > shift[0] and shift[0] == pytest.approx(shift[2])
    fitted = np.array([50, 50, 50]) / 150
    corrected = fitted * np.exp(shift)
    assert corrected / corrected.sum() == pytest.approx([0.25, 0.5, 0.25], abs=0.01)
    assert np.isfinite(_prior_shift(np.array([1, 2]), np.array([1, 2, 0]), np.ones(3))).all(), "no main negatives"


def test_weighted_bayes_counts_a_row_as_much_as_it_weighs() -> None:
    from analysis.sentiment import _NaiveBayes

    plain, weighted = _NaiveBayes(), _NaiveBayes()
    plain.train([(["好", "棒"], "positive"), (["差"], "negative")])
    weighted.train_weighted([(["好", "棒"], "positive", 1), (["差"], "negative", 1)])
    assert {k: c.d for k, c in plain.d.items()} == {k: c.d for k, c in weighted.d.items()}
    assert plain.total == weighted.total
    weighted.train_weighted([(["好"], "positive", np.float64(0.5))])
    assert weighted.d["positive"].d["好"] == 2.5 and type(weighted.d["positive"].d["好"]) is float


def test_train_sentiment_command_takes_extra_rows_and_their_weight(tmp_path: Path) -> None:
    data, extra = tmp_path / "main.jsonl", tmp_path / "extra.jsonl"
    data.write_text("\n".join(json.dumps({"text": t, "label": l}, ensure_ascii=False) for t, l in _labelled(20)),
                    encoding="utf-8")
    extra.write_text("\n".join(json.dumps({"text": f"好吃{i}", "label": "positive"}, ensure_ascii=False)
                               for i in range(10)), encoding="utf-8")
    command = [sys.executable, "-m", "yuqing.cli", "train-sentiment", "--data", str(data), "--out", str(tmp_path / "m"),
               "--extra", str(extra)]
    done = subprocess.run(command + ["--extra-weight", "0.5"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "10 extra rows, each weighing 0.5" in done.stderr and "trained in" in done.stderr
    assert json.loads((tmp_path / "m" / "meta.json").read_text())["extra_weight"] == 0.5
    bad = subprocess.run(command + ["--extra-weight", "-1"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert bad.returncode == 2 and "--extra-weight" in bad.stderr and "Traceback" not in bad.stderr
