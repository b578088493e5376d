import subprocess
import sys
from pathlib import Path

import pytest

import settings
from settings import ConfigError, load, parse_duration

REPO = Path(__file__).resolve().parents[2]

GOOD = """
[[schemes]]
name = "co"
keywords = ["北辰燃料乙醇"]

[[sources]]
name = "news"
type = "rss"
url = "http://127.0.0.1:9/feed.xml"
interval = "10m"

[alerts]
recipients = ["oncall@example.com"]

[[alerts.rules]]
name = "kw"
type = "keyword"
scheme = "co"
terms = ["爆炸"]

[smtp]
port = 2525
"""


def test_example_config_is_valid() -> None:
    loaded = load(REPO / "yuqing.example.toml")
    assert loaded.schemes and loaded.sources and loaded.alerts.rules


def test_good_config_and_environment_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "yuqing.toml"
    path.write_text(GOOD, encoding="utf-8")
    monkeypatch.setenv("YUQING_SMTP__PASSWORD", "s3cret")
    monkeypatch.setenv("YUQING_SMTP__PORT", "2626")
    loaded = load(path)
    assert loaded.smtp.password == "s3cret" and loaded.smtp.port == 2626
    assert loaded.sources[0].interval == 600
    assert loaded.alerts.rules[0].terms == ["爆炸"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[sources]]\nname='x'\ntype='rss'\nurl='http://a'\ninterval='often'", "sources[0].interval: 'often' is not a duration"),
        ("[[sources]]\nname='x'\ntype='ftp'\nurl='http://a'", "sources[0].type"),
        ("[smtpp]\nhost='a'", "smtpp: unknown key"),
        ("[smtp]\nport=99999", "smtp.port"),
        ("[[schemes]]\nname='a'", "schemes[0].keywords: required"),
        ("[alerts]\nrecipients=['not-an-address']", "is not an email address"),
        ("[[alerts.rules]]\nname='r'\ntype='negative'\nscheme='missing'", "names scheme 'missing', which is not defined"),
        ("[[alerts.rules]]\nname='r'\ntype='keyword'\nscheme='x'\n[[schemes]]\nname='x'\nkeywords=['a']", "needs `terms`"),
        ("[smtp\nhost='a'", "not valid TOML"),
        ("[analysis]\nsentiment_model='nowhere'", "not a model folder written by `yuqing train-sentiment`"),
        ("[analysis]\nidf_table='nowhere.tsv.gz'", "build one with `yuqing build-idf"),
    ],
)
def test_broken_config_names_the_key_and_the_fix(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert expected in str(caught.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file; copy yuqing.example.toml"):
        load(tmp_path / "nope.toml")


def test_gbk_config_file_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "gbk.toml"
    path.write_bytes('[[schemes]]\nname="a"\nkeywords=["乙醇"]\n'.encode("gbk"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load(path)


def test_cli_exits_2_with_one_message_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[smtp]\nport='many'\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "yuqing.cli", "check-config", "--config", str(path)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    assert "config error" in done.stderr and "smtp.port" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("value", "seconds"), [(90, 90), ("90", 90), ("30s", 30), ("15m", 900), ("2h", 7200), ("7d", 604800)])
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "ten", "-5s", 0, True])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


def test_same_module_is_scrapys_settings() -> None:
    assert settings.BOT_NAME == "yuqing"
    assert "yuqing" in settings.USER_AGENT and settings.AUTOTHROTTLE_ENABLED and settings.ROBOTSTXT_OBEY
    done = subprocess.run([sys.executable, "-c", "from scrapy.utils.project import get_project_settings as g;"
                           "s=g(); print(s['BOT_NAME'], s.getbool('AUTOTHROTTLE_ENABLED'))"],
                          capture_output=True, text=True, cwd=REPO)
    assert done.stdout.split() == ["yuqing", "True"], done.stderr


def test_an_unreadable_idf_table_is_a_config_error(tmp_path: Path) -> None:
    table = tmp_path / "idf.tsv.gz"
    table.write_bytes(b"not gzip at all")
    config = tmp_path / "yuqing.toml"
    config.write_text(f"[analysis]\nidf_table = {str(table)!r}\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "yuqing.cli", "analyze", "--config", str(config)], input="",
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 2 and "[analysis]" in done.stderr and "Traceback" not in done.stderr


def test_a_model_folder_missing_a_file_is_a_config_error(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "meta.json").write_text("{}", encoding="utf-8")  # as if written by an older build, without the rest
    config = tmp_path / "yuqing.toml"
    config.write_text(f"[analysis]\nsentiment_model = {str(model)!r}\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "yuqing.cli", "analyze", "--config", str(config)], input="",
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 2 and "no bayes.marshal.3, features.json.gz, logreg.npz" in done.stderr
    assert "Traceback" not in done.stderr
