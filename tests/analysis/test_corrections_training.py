"""`yuqing train-sentiment --with-corrections`: analysts correct a few dozen posts of a domain the corpora do not
cover (a chemical plant's smell, wastewater and flaring); the retrained model reads posts of that domain it was
never shown better than the model before, and the report says so, with exclude terms for the scheme.

Training on the whole corpus takes minutes; here both models learn from the same sample of it (the model before
from the sample alone), so that the corrections are the only difference between them."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import settings as config
from analysis.grams import index_grams
from analysis.pipeline import Analyzer
from analysis.sentiment import Featurizer, SentimentScorer, read_rows
from analysis.tokens import Tokenizer
from analysis.train_sentiment import correction_rows, train
from models import Correction, Post, now
from store.embedded import EmbeddedStore
from tests.analysis.plant_posts import CORRECTED, NOT_RELEVANT, UNSEEN
from yuqing.cli import main

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "sentiment"
SAMPLE = 2500  # corpus rows both models learn from
SCHEME = "白桦石化"


def post(n: int, text: str) -> Post:
    return Post(id=f"forum:{n}", platform="forum", source="baihua-forum", url=f"http://127.0.0.1/t/{n}", content=text)


def cli(config_file: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--config", str(config_file)])


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A sample of the corpus, the model trained on it alone (the one in use), and a store whose posts about the
    plant analysts corrected; returns (config, sample, model before)."""
    if not (SHARED / "train").is_dir() or not (SHARED / "dev").is_dir():
        pytest.skip(f"the sentiment corpora are not at {SHARED} (they come with ../shared)")
    folder = tmp_path_factory.mktemp("retrain")
    rows = random.Random(7).sample(read_rows([SHARED / "train"]), SAMPLE)
    sample = folder / "sample.jsonl"
    sample.write_text("".join(json.dumps({"text": t, "label": label}, ensure_ascii=False) + "\n"
                              for t, label in rows), encoding="utf-8")
    before = folder / "before"
    train(rows, before, Featurizer(Tokenizer([SCHEME])), progress=lambda _: None)
    config_file = folder / "yuqing.toml"
    config_file.write_text(f'[store]\npath = "{(folder / "var").as_posix()}"\n\n[analysis]\n'
                           f'sentiment_model = "{before.as_posix()}"\n\n'
                           f'[[schemes]]\nname = "plant"\nkeywords = ["{SCHEME}"]\n', encoding="utf-8")
    settings = config.load(config_file)
    texts = [text for text, _ in CORRECTED] + NOT_RELEVANT
    with EmbeddedStore(settings.store.path, grams=index_grams) as store:
        store.upsert(Analyzer.from_settings(settings).analyse_many([post(n, t) for n, t in enumerate(texts)]))
        for n, (_, label) in enumerate(CORRECTED):
            store.correct(f"forum:{n}", Correction(sentiment=label, by="分析员", at=now()))  # type: ignore[arg-type]
        for n in range(len(CORRECTED), len(texts)):
            store.correct(f"forum:{n}", Correction(relevant=False, by="分析员", at=now(), note="地铁站，非本企业"))
    return config_file, sample, before


def right(model: Path, posts: list[tuple[str, str]]) -> int:
    scorer = SentimentScorer(Tokenizer([SCHEME]), model)
    return sum(scorer.predict(text).label == label for text, label in posts)  # type: ignore[union-attr]


def test_the_retrained_model_reads_unseen_posts_of_the_domain_better(setup: tuple[Path, Path, Path]) -> None:
    config_file, sample, before = setup
    after = config_file.parent / "after"
    done = cli(config_file, "train-sentiment", "--data", str(sample), "--out", str(after), "--with-corrections",
               "--correction-weight", "10", "--dev", str(SHARED / "dev"))
    assert done.exit_code == 0, done.output
    report = json.loads((after / "corrections-report.json").read_text("utf-8"))
    assert report["weight"] == 10 and report["before"] == str(before)
    corrected = report["corrected"]
    assert corrected["posts"] == len(CORRECTED)
    assert corrected["right_after"] > corrected["right_before"]
    assert corrected["right_after"] >= len(CORRECTED) - 2
    # The posts of the domain no model was shown: more of them get the right label than before.
    unseen_before, unseen_after = right(before, UNSEEN), right(after, UNSEEN)
    print(f"unseen plant posts right: {unseen_before} of {len(UNSEEN)} before, {unseen_after} after; corrected: "
          f"{corrected['right_before']} → {corrected['right_after']} of {corrected['posts']}; dev: {report['dev']}")
    assert unseen_after >= unseen_before + 3
    # The dev sets: figures of both models, and the corrections do not break the model elsewhere.
    assert sorted(d["set"] for d in report["dev"]) == ["clue_emotion_valid", "smp2020_usual_eval", "smp2020_virus_eval"]
    for d in report["dev"]:
        assert d["binary_after"] > d["binary_before"] - 0.03, d
    text = (after / "corrections-report.txt").read_text("utf-8")
    assert text in done.output
    assert (f"corrected posts the model gets right: {corrected['right_before']} of {len(CORRECTED)} before, "
            f"{corrected['right_after']} of {len(CORRECTED)} after") in text
    # The posts marked not relevant: exclude terms that would take them out, and no post of the plant.
    (line,) = [line for line in text.splitlines() if line.startswith("scheme plant:")]
    assert "3 posts marked not relevant" in line and "(not applied)" in line
    terms = [t["term"] for t in report["exclude_suggestions"]["plant"]]
    assert "地铁" in terms
    assert not any(term in text for term in terms for text, _ in CORRECTED)


def test_correction_rows_weigh_as_many_corpus_rows() -> None:
    at = now()
    posts = [post(1, "刺鼻的味道").with_correction(Correction(sentiment="negative", by="a", at=at)),
             post(2, "地铁站").with_correction(Correction(relevant=False, by="a", at=at)),  # says nothing of sentiment
             post(3, "").with_correction(Correction(sentiment="neutral", by="a", at=at)),  # nothing to learn from
             post(4, "未更正")]
    assert correction_rows(posts, 3) == [("刺鼻的味道", "negative")] * 3


def test_without_corrections_in_the_store_it_says_so(setup: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, sample, _ = setup
    config_file = tmp_path / "yuqing.toml"
    config_file.write_text(f'[store]\npath = "{(tmp_path / "var").as_posix()}"\n', encoding="utf-8")
    with EmbeddedStore(tmp_path / "var", grams=index_grams) as store:
        store.upsert([post(1, "刺鼻的味道")])
    done = cli(config_file, "train-sentiment", "--data", str(sample), "--out", str(tmp_path / "m"),
               "--with-corrections")
    assert done.exit_code == 1 and "the store holds no corrections yet" in done.output
    assert not (tmp_path / "m").exists()
    misused = cli(config_file, "train-sentiment", "--data", str(sample), "--out", str(tmp_path / "m"),
                  "--correction-weight", "5")
    assert misused.exit_code == 2 and "go with --with-corrections" in misused.output
