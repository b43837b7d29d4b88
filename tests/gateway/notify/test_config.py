"""``[notify]`` in gateway.toml is validated at start: each refusal names the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import SecretRef, SettingsError, load_settings

GOOD = """
[notify.channels.east]
kind = "wecom"
url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
key = { env = "WECOM_EAST_KEY" }

[notify.channels.pr]
kind = "dingtalk"
url = "https://oapi.dingtalk.com/robot/send"
key = { env = "DING_TOKEN" }
secret = { env = "DING_SECRET" }

[notify.channels.mail]
kind = "email"
host = "smtp.example.com"
sender = "gw@example.com"
to = ["newsroom@example.com"]

[[notify.subscriptions]]
channel = "east"
events = ["submitted", "decided"]
roles = ["unit_head"]
units = ["sub_east"]
"""


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(config=path, environ={})


def test_a_good_notify_section_loads(tmp_path: Path) -> None:
    settings = _load(tmp_path, GOOD)
    notify = settings.notify  # type: ignore[attr-defined]
    assert notify.channels["east"].key == SecretRef(env="WECOM_EAST_KEY")
    assert notify.subscriptions[0].roles == ("unit_head",)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[notify.channels.x]\nkind = "sms"\n', "notify.channels.x.kind"),
        ('[notify.channels.x]\nkind = "wecom"\nurl = "https://h/send"\n', "notify.channels.x.key"),
        (
            '[notify.channels.x]\nkind = "wecom"\nurl = "https://h/send"\nkey = "literal-key"\n',
            "notify.channels.x.key",
        ),
        (
            '[notify.channels.x]\nkind = "dingtalk"\nurl = "https://h"\nkey = { env = "A" }\n',
            "notify.channels.x.secret",
        ),
        ('[notify.channels.x]\nkind = "webhook"\nurl = "ftp://h"\n', "notify.channels.x.url"),
        ('[notify.channels.x]\nkind = "email"\nhost = "h"\nsender = "s"\n', "notify.channels.x.to"),
        ('[notify.channels.x]\nkind = "webhook"\nurl = "https://h"\ncolour = 1\n', "colour"),
        ('[[notify.subscriptions]]\nchannel = "nope"\n', "notify.subscriptions[0].channel"),
        (GOOD + '[[notify.subscriptions]]\nchannel = "east"\nevents = ["sent"]\n', "events"),
        (GOOD + '[[notify.subscriptions]]\nchannel = "east"\nroles = ["boss"]\n', "roles"),
        ("[notify]\nmax_attempts = 0\n", "max_attempts"),
        ("[desk]\nschedule_poll = 1\n", "desk.schedule_poll"),
    ],
)
def test_a_wrong_notify_section_stops_start_up_naming_the_key(
    tmp_path: Path, text: str, named: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        _load(tmp_path, text)
    assert named in str(refused.value)
    assert "literal-key" not in str(refused.value)
