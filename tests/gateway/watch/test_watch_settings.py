"""The ``[watch]`` settings (docs/bypass.md): shipped defaults, per-platform minimum intervals,
and every mistake named by its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import CONFIG_DIR, SettingsError, load_settings

SHIPPED_POLICY = CONFIG_DIR / "policy.toml"


def _load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> object:
    config = tmp_path / "gateway.toml"
    config.write_text(text, encoding="utf-8")
    return load_settings(config, SHIPPED_POLICY, environ=environ or {})


def test_shipped_watch_settings_slow_wechat_down_to_its_quota() -> None:
    watch = load_settings(environ={}).watch
    assert watch.enabled and watch.interval_s == 300.0 and watch.window_s == 3 * 86400
    assert watch.interval_for("wechat") == 1800.0  # 48 batchget calls a day of 100
    assert watch.interval_for("weibo") == 300.0
    assert watch.list_limit == 100 and watch.max_fetches_per_pass == 2


def test_a_platform_table_replaces_the_default_and_the_environment_overrides(
    tmp_path: Path,
) -> None:
    settings = _load(
        tmp_path,
        "[watch]\ninterval_s = 600.0\n[watch.platform_interval_s]\nweibo = 900\n",
        {"MEDIAGATE_WATCH__ENABLED": "false"},
    )
    watch = settings.watch  # type: ignore[attr-defined]
    assert not watch.enabled
    assert watch.interval_for("weibo") == 900.0
    assert watch.interval_for("wechat") == 600.0  # the table was replaced: no WeChat minimum


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[watch]\ninterval_s = 0\n", "watch.interval_s"),
        ("[watch]\nwindow_s = -1.0\n", "watch.window_s"),
        ("[watch]\nlist_limit = 0\n", "watch.list_limit"),
        ("[watch]\nlease_s = 0\n", "watch.lease_s"),
        ("[watch]\nmax_fetches_per_pass = -1\n", "watch.max_fetches_per_pass"),
        ("[watch]\nlist_limit = 1.5\n", "watch.list_limit"),
        ('[watch]\nenabled = "yes"\n', "watch.enabled"),
        ("[watch]\nintervall_s = 60\n", "watch.intervall_s"),
        ("[watch.platform_interval_s]\nwechat = -5\n", "watch.platform_interval_s.wechat"),
        ('[watch.platform_interval_s]\nwechat = "often"\n', "watch.platform_interval_s.wechat"),
    ],
)
def test_a_bad_watch_setting_is_refused_naming_it(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(SettingsError, match=named.replace(".", r"\.")):
        _load(tmp_path, text)
