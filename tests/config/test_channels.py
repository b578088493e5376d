"""[[alerts.channels]]: chat robots and webhooks, their secrets from the environment, rules that name them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alerts.notifiers import build_notifiers
from alerts.notifiers.dingtalk import DingTalkNotifier
from alerts.notifiers.email import EmailNotifier
from alerts.notifiers.feishu import FeishuNotifier
from alerts.notifiers.webhook import WebhookNotifier
from alerts.notifiers.wecom import WeComNotifier
from settings import ConfigError, load
from tests.config.test_errors import SOURCELESS, _cli, _one_line_exit_2

REPO = Path(__file__).resolve().parents[2]
CHANNELS = SOURCELESS + """
[[alerts.rules]]
name = "kw"
type = "keyword"
scheme = "co"
terms = ["恶臭"]
channels = ["email", "oncall-dingtalk", "ops_hook"]

[[alerts.channels]]
name = "oncall-dingtalk"
type = "dingtalk"
url = "https://oapi.dingtalk.com/robot/send?access_token=abc"
timeout = "5s"

[[alerts.channels]]
name = "ops_hook"
type = "webhook"
url = "https://hooks.example.com/yuqing"
headers = {X-Team = "ops"}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "yuqing.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_channels_take_their_secrets_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YUQING_ALERTS__CHANNEL_SECRETS__ONCALL_DINGTALK__SECRET", "SECfromenv")
    monkeypatch.setenv("YUQING_ALERTS__CHANNEL_SECRETS__OPS_HOOK__SECRET", "hook-key")
    monkeypatch.setenv("YUQING_ALERTS__CHANNEL_SECRETS__OPS_HOOK__HEADERS", '{"Authorization": "Bearer t0k"}')
    monkeypatch.setenv("YUQING_ALERTS__CHANNEL_SECRETS__OPS_HOOK__URL", "https://hooks.example.com/other")
    settings = load(_write(tmp_path, CHANNELS))
    ding, hook = settings.alerts.channels
    assert (ding.name, ding.type, ding.secret, ding.timeout) == ("oncall-dingtalk", "dingtalk", "SECfromenv", 5.0)
    assert hook.url == "https://hooks.example.com/other" and hook.secret == "hook-key"
    assert hook.headers == {"X-Team": "ops", "Authorization": "Bearer t0k"}
    assert settings.alerts.rules[0].channels == ["email", "oncall-dingtalk", "ops_hook"]


def test_a_rule_goes_to_email_unless_it_says_otherwise(tmp_path: Path) -> None:
    settings = load(_write(tmp_path, CHANNELS.replace('channels = ["email", "oncall-dingtalk", "ops_hook"]\n', "")))
    assert settings.alerts.rules[0].channels == ["email"]


def test_build_notifiers_gives_one_per_channel_under_its_name(tmp_path: Path) -> None:
    text = CHANNELS + "".join(f'\n[[alerts.channels]]\nname = "{kind}-robot"\ntype = "{kind}"\nurl = "https://x/{kind}"'
                              for kind in ("wecom", "feishu"))
    notifiers = build_notifiers(load(_write(tmp_path, text)))
    assert [(type(n), n.channel) for n in notifiers] == [
        (EmailNotifier, "email"), (DingTalkNotifier, "oncall-dingtalk"), (WebhookNotifier, "ops_hook"),
        (WeComNotifier, "wecom-robot"), (FeishuNotifier, "feishu-robot")]


@pytest.mark.parametrize(("change", "expected"), [
    (('"ops_hook"]', '"ops-hook", "pager"]'), "alert rule 'kw' names channel 'ops-hook', which is not defined; "
                                             "defined channels: ['email', 'oncall-dingtalk', 'ops_hook']"),
    (('name = "ops_hook"', 'name = "Oncall_Dingtalk"'), "channel names must be unique and not \"email\""),
    (('name = "ops_hook"', 'name = "email"'), "channel names must be unique and not \"email\""),
    (('url = "https://oapi.dingtalk.com/robot/send?access_token=abc"\n', ""),
     "channel 'oncall-dingtalk' has no url: write it in the file or set "
     "YUQING_ALERTS__CHANNEL_SECRETS__ONCALL_DINGTALK__URL"),
    (('type = "dingtalk"', 'type = "wecom"\nsecret = "x"'), "a wecom robot signs nothing"),
    (('type = "webhook"', 'type = "feishu"'), "`headers` are for type \"webhook\" only"),
    (('X-Team = "ops"', '"X Team" = "ops"'), "header 'X Team' is not a valid header name"),
    (('type = "dingtalk"', 'type = "slack"'), "alerts.channels[0].type: Input should be 'dingtalk', 'wecom'"),
    (('url = "https://hooks.example.com/yuqing"', 'url = "ftp://hooks.example.com/yuqing"'),
     "alerts.channels[1].url: String should match pattern"),
])
def test_channel_mistakes_name_the_fix(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(_write(tmp_path, CHANNELS.replace(*change)))
    assert expected in str(caught.value)


def test_a_secret_for_no_channel_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YUQING_ALERTS__CHANNEL_SECRETS__ONCALL_DINGTAK__SECRET", "SECtypo")
    with pytest.raises(ConfigError, match="channel_secrets: 'oncall_dingtak' names no channel"):
        load(_write(tmp_path, CHANNELS))


def test_a_secret_in_the_file_is_accepted_with_a_warning(tmp_path: Path) -> None:
    config = CHANNELS.replace('timeout = "5s"', 'timeout = "5s"\nsecret = "SEChunter2"').replace(
        'X-Team = "ops"', 'X-Team = "ops", Authorization = "Bearer hunter3"') + """
[[alerts.channels]]
name = "wecom-group"
type = "wecom"
url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=hunter4"
"""
    done = _cli(tmp_path, "check-config", config=config)
    assert done.returncode == 0 and done.stdout.startswith("ok:"), done.stderr
    warnings = done.stderr.splitlines()
    assert len(warnings) == 3 and all(line.startswith("yuqing: warning: ") for line in warnings)
    assert "'oncall-dingtalk': secret is written in the file" in warnings[0]
    assert "YUQING_ALERTS__CHANNEL_SECRETS__ONCALL_DINGTALK__SECRET instead" in warnings[0]
    assert "'ops_hook': header Authorization is written in the file" in warnings[1]
    assert "'wecom-group': url is written in the file" in warnings[2]
    assert "YUQING_ALERTS__CHANNEL_SECRETS__WECOM_GROUP__URL" in warnings[2]
    assert not re.search("hunter[234]", done.stderr)


def test_a_channel_secrets_table_in_the_file_is_warned_of(tmp_path: Path) -> None:
    config = CHANNELS + '\n[alerts.channel_secrets.oncall-dingtalk]\nsecret = "SEChunter2"\n'
    done = _cli(tmp_path, "check-config", config=config)
    assert done.returncode == 0 and "[alerts.channel_secrets] is written in the file" in done.stderr
    assert "hunter2" not in done.stderr


def test_secrets_from_the_environment_get_no_warning(tmp_path: Path) -> None:
    done = _cli(tmp_path, "check-config", config=CHANNELS,
                env={"YUQING_ALERTS__CHANNEL_SECRETS__ONCALL_DINGTALK__SECRET": "SEChunter2"})
    assert done.returncode == 0 and done.stderr == ""
    unsigned = _cli(tmp_path, "check-config", config=CHANNELS)  # the robot's url alone lets anyone post
    assert "'oncall-dingtalk': url is written in the file and no secret signs the requests" in unsigned.stderr


def test_a_channel_mistake_from_the_environment_exits_2(tmp_path: Path) -> None:
    done = _cli(tmp_path, "check-config", config=CHANNELS,
                env={"YUQING_ALERTS__CHANNEL_SECRETS__OPS_HOOK__URL": "hooks.example.com"})
    assert "YUQING_ALERTS__CHANNEL_SECRETS__OPS_HOOK__URL: String should match pattern" in _one_line_exit_2(done)


def test_the_examples_channels_are_valid(tmp_path: Path) -> None:
    """The example file shows the channels commented out; uncommented, they load."""
    text = (REPO / "yuqing.example.toml").read_text(encoding="utf-8")
    section = text[text.index("# ---- Chat robots and webhooks ----"):]
    section = section[:section.index("\n# ----", 1)]
    uncommented = [line[2:] for line in section.splitlines()
                   if re.match(r"# (\[\[alerts\.channels\]\]|[a-z_]+ = )", line)]
    settings = load(_write(tmp_path, text + "\n" + "\n".join(uncommented)))
    assert [c.type for c in settings.alerts.channels] == ["dingtalk", "wecom", "feishu", "webhook"]
