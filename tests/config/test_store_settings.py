"""The [store] section for an Elasticsearch cluster: addresses, credentials from the environment, mistakes named."""

from __future__ import annotations

from pathlib import Path

import pytest

from settings import ConfigError, load


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "yuqing.toml"
    path.write_text("[store]\nbackend = \"elasticsearch\"\n" + body, encoding="utf-8")
    return path


@pytest.mark.parametrize(("value", "urls"), [
    ("https://es1:9200", ["https://es1:9200"]),
    ("https://es1:9200, https://es2:9200", ["https://es1:9200", "https://es2:9200"]),
    ('["https://es1:9200", "https://es2:9200"]', ["https://es1:9200", "https://es2:9200"]),
])
def test_one_address_or_several_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str,
                                                     urls: list[str]) -> None:
    monkeypatch.setenv("YUQING_STORE__URL", value)
    monkeypatch.setenv("YUQING_STORE__API_KEY", "a2V5OnNlY3JldA==")
    loaded = load(write(tmp_path, ""))
    assert loaded.store.url == urls and loaded.store.api_key == "a2V5OnNlY3JldA=="


def test_the_file_takes_a_list_and_the_defaults_are_safe(tmp_path: Path) -> None:
    store = load(write(tmp_path, 'url = ["http://10.0.0.5:9200", "http://10.0.0.6:9200"]\n')).store
    assert store.url == ["http://10.0.0.5:9200", "http://10.0.0.6:9200"]
    assert store.verify_certs and store.index_prefix == "yuqing-" and store.retention is None
    assert store.request_timeout == 30


@pytest.mark.parametrize(("body", "expected"), [
    ('url = "es1:9200"\n', "store.url: 'es1:9200' is not an http(s) address"),
    ("url = []\n", "store.url: give at least one address"),
    ('api_key = "k"\nusername = "u"\npassword = "p"\n', "store: give either api_key or username and password"),
    ('username = "u"\n', "store: username and password go together"),
    ('index_prefix = "Yuqing-"\n', "store.index_prefix"),
    ('ca_certs = "missing.pem"\n', "store.ca_certs: missing.pem: no such file"),
    ('retention = "forever"\n', "store.retention: 'forever' is not a duration"),
    ('backend = "opensearch"\n', "store.backend"),
])
def test_mistakes_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, expected: str) -> None:
    monkeypatch.chdir(tmp_path)
    if body.startswith("backend"):
        (tmp_path / "yuqing.toml").write_text("[store]\n" + body, encoding="utf-8")
        path = tmp_path / "yuqing.toml"
    else:
        path = write(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert expected in str(caught.value), caught.value


def test_secrets_written_in_the_file_are_warned_about(tmp_path: Path) -> None:
    warnings: list[str] = []
    load(write(tmp_path, 'username = "yuqing"\npassword = "hunter2"\n'), warn=warnings.append)
    assert len(warnings) == 1 and "[store] password" in warnings[0] and "YUQING_STORE__PASSWORD" in warnings[0]
    warnings.clear()
    load(write(tmp_path, 'api_key = "k"\n'), warn=warnings.append)
    assert "YUQING_STORE__API_KEY" in warnings[0]
