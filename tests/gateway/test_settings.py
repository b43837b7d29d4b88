"""Settings: the shipped files load; every mistake stops start-up naming file, key and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import (
    CONFIG_DIR,
    SHIPPED_MODEL_DIR,
    SecretRef,
    Settings,
    SettingsError,
    absolute_paths,
    load_policy,
    load_settings,
)

SHIPPED_POLICY = CONFIG_DIR / "policy.toml"


def _gateway(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Settings:
    return load_settings(_gateway(tmp_path, text), SHIPPED_POLICY, environ=environ or {})


def test_the_shipped_files_load() -> None:
    settings = load_settings(environ={})
    assert settings.server.port == 8080
    assert settings.store.redis_url == "" and settings.store.appendfsync == "everysec"
    assert settings.vault.master_key == SecretRef(env="MEDIAGATE_MASTER_KEY")
    assert settings.screening.lexicon_dir.is_absolute()
    assert settings.screening.lexicon_dir.is_dir()
    assert {"hq", "brand_pr", "sub_east", "sub_west"} <= set(settings.policy.units)
    assert settings.policy.categories["state_secret"].action == "block"
    assert set(settings.connectors.sections) >= {"wechat", "weibo"}


def test_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    settings = _load(tmp_path, "")
    assert settings.server == absolute_paths(Settings(), Path.cwd()).server
    assert settings.server.data_dir == Path.cwd() / "data"
    assert settings.limits == Settings().limits


def test_settings_are_frozen() -> None:
    settings = load_settings(environ={})
    with pytest.raises(AttributeError):
        settings.server.port = 1  # type: ignore[misc]


BAD_GATEWAY: list[tuple[str, list[str]]] = [
    # (file content, what the message must name)
    ("[server]\nprot = 8080\n", ["server.prot", "unknown key", "port"]),
    ("[servr]\nport = 8080\n", ["servr", "unknown key"]),
    ("[server]\nport = '8080'\n", ["server.port", "'8080'", "integer"]),
    ("[server]\nport = true\n", ["server.port", "True", "integer"]),
    ("[server]\nhost = 127\n", ["server.host", "127", "string"]),
    ("[server]\ndata_dir = 5\n", ["server.data_dir", "5", "path"]),
    ("[store]\nappendfsync = 'never'\n", ["store.appendfsync", "'never'", "'everysec'"]),
    ("[store]\nsocket_timeout_s = 'slow'\n", ["store.socket_timeout_s", "'slow'", "number"]),
    ("[limits]\nmax_body_bytes = 1.5\n", ["limits.max_body_bytes", "1.5", "integer"]),
    ("[logging]\nlevel = 'LOUD'\n", ["logging.level", "'LOUD'"]),
    ("[vault]\nallow_key_file = 'yes'\n", ["vault.allow_key_file", "'yes'", "true or false"]),
    ("[vault]\nmaster_key = { envv = 'X' }\n", ["vault.master_key.envv", "unknown key"]),
    ("[connectors]\nallow = 'wechat'\n", ["connectors.allow", "'wechat'", "list"]),
    ("[connectors]\nallow = ['wechat', 3]\n", ["connectors.allow[1]", "3", "string"]),
    ("[approvals]\ntoken_ttl_s = []\n", ["approvals.token_ttl_s", "integer"]),
    (
        "[[approvals.issuers]]\nkid = 'k'\nissuer = 'oa'\n",
        ["approvals.issuers[0].public_key", "required"],
    ),
    ("server = 1\n", ["server", "1", "table"]),
    ("[policy]\nbrand_pr_unit = 'x'\n", ["policy", "own file"]),
    ("[server\nport = 1\n", ["not valid TOML"]),
]


@pytest.mark.parametrize(("text", "named"), BAD_GATEWAY)
def test_gateway_toml_mistakes_name_file_key_and_value(
    tmp_path: Path, text: str, named: list[str]
) -> None:
    with pytest.raises(SettingsError) as caught:
        _load(tmp_path, text)
    message = str(caught.value)
    assert str(tmp_path / "gateway.toml") in message
    for part in named:
        assert part in message, (part, message)


def test_a_literal_secret_is_refused_and_not_echoed(tmp_path: Path) -> None:
    literal = "c2VjcmV0LW1hc3Rlci1rZXktdmFsdWUtOTk5OTk5OTk="
    with pytest.raises(SettingsError) as caught:
        _load(tmp_path, f"[vault]\nmaster_key = '{literal}'\n")
    message = str(caught.value)
    assert "vault.master_key" in message and "env" in message
    assert literal not in message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="file not found"):
        load_settings(tmp_path / "nope.toml", SHIPPED_POLICY, environ={})


def test_secret_references_resolve_from_env_or_file(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        "[vault]\nmaster_key = { file = '" + str(tmp_path / "mk") + "' }\n"
        "[approvals]\nsigning_key = { env = 'MY_SIGNING' }\n",
    )
    assert settings.vault.master_key.resolve({}) is None
    (tmp_path / "mk").write_text("from-file\n")
    assert settings.vault.master_key.resolve({}) == "from-file"
    assert settings.approvals.signing_key.resolve({"MY_SIGNING": "v"}) == "v"
    assert settings.approvals.signing_key.describe() == "env MY_SIGNING"
    assert "v" not in repr(settings.approvals.signing_key).replace("env", "")


# --- environment overrides ---------------------------------------------------------------------


def test_env_overrides_typed_values(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        "[server]\nport = 8080\n",
        {
            "MEDIAGATE_SERVER__PORT": "9000",
            "MEDIAGATE_SERVER__HOST": "0.0.0.0",
            "MEDIAGATE_STORE__APPENDFSYNC": "always",
            "MEDIAGATE_LIMITS__MAX_JSON_DEPTH": "8",
            "MEDIAGATE_CONNECTORS__ALLOW": '["weibo"]',
            "MEDIAGATE_VAULT__ALLOW_KEY_FILE": "false",
            "MEDIAGATE_MASTER_KEY": "ignored: not an override (no section)",
        },
    )
    assert settings.server.port == 9000 and settings.server.host == "0.0.0.0"
    assert settings.store.appendfsync == "always"
    assert settings.limits.max_json_depth == 8
    assert settings.connectors.allow == ("weibo",)
    assert settings.vault.allow_key_file is False


def test_redis_url_overrides_the_store(tmp_path: Path) -> None:
    text = "[store]\nredis_url = 'redis://file:6379/0'\n"
    assert _load(tmp_path, text).store.redis_url == "redis://file:6379/0"
    settings = _load(tmp_path, text, {"REDIS_URL": "redis://env:6380/2"})
    assert settings.store.redis_url == "redis://env:6380/2"
    # An empty REDIS_URL does not wipe the file's value.
    assert _load(tmp_path, text, {"REDIS_URL": ""}).store.redis_url == "redis://file:6379/0"


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("MEDIAGATE_SERVR__PORT", "1", ["MEDIAGATE_SERVR__PORT", "servr"]),
        ("MEDIAGATE_POLICY__BRAND_PR_UNIT", "x", ["MEDIAGATE_POLICY__BRAND_PR_UNIT"]),
        ("MEDIAGATE_SERVER__PROT", "1", ["MEDIAGATE_SERVER__PROT", "prot"]),
        ("MEDIAGATE_SERVER__PORT", "abc", ["MEDIAGATE_SERVER__PORT", "'abc'", "integer"]),
        ("MEDIAGATE_STORE__APPENDFSYNC", "never", ["MEDIAGATE_STORE__APPENDFSYNC", "'never'"]),
    ],
)
def test_bad_env_overrides_name_the_variable(
    tmp_path: Path, name: str, value: str, named: list[str]
) -> None:
    with pytest.raises(SettingsError) as caught:
        _load(tmp_path, "", {name: value})
    for part in named:
        assert part in str(caught.value), (part, str(caught.value))


# --- policy.toml -------------------------------------------------------------------------------

UNITS = """
brand_pr_unit = "brand_pr"
[units.hq]
name = "HQ"
kind = "hq"
[units.brand_pr]
name = "Brand"
kind = "department"
parent = "hq"
"""

BAD_POLICY: list[tuple[str, list[str]]] = [
    (UNITS + "[units.x]\nname = 'X'\nkind = 'planet'\n", ["units.x.kind", "'planet'"]),
    (UNITS + "[units.x]\nname = 'X'\nkind = 'hq'\ncolour = 1\n", ["units.x.colour", "unknown"]),
    (UNITS + "[units.x]\nkind = 'hq'\n", ["units.x.name", "required"]),
    (UNITS + "[units.x]\nname = 'X'\nkind = 'hq'\nparent = 'ghost'\n", ["parent", "'ghost'"]),
    (UNITS + "[units.x]\nname = 'X'\nkind = 'hq'\nweekly_quota = 'one'\n", ["weekly_quota"]),
    (
        UNITS.replace('brand_pr_unit = "brand_pr"', 'brand_pr_unit = "pr"'),
        ["brand_pr_unit", "'pr'"],
    ),
    (UNITS + "[categories.c]\naction = 'explode'\n", ["categories.c.action", "'explode'"]),
    (UNITS + "[categories.c]\naction = 'review'\n", ["categories.c", "require"]),
    (
        UNITS + "[categories.c]\naction = 'review'\nrequire = ['king']\n",
        ["categories.c.require", "'king'"],
    ),
    (UNITS + "[categories.c]\naction = 'block'\nseverity = 'mild'\n", ["severity", "'mild'"]),
    (UNITS + "[post_categories.gossip]\n", ["post_categories.gossip", "unknown"]),
    (
        UNITS + "[post_categories.news]\nrequire = ['emperor']\n",
        ["post_categories.news.require", "'emperor'"],
    ),
    (UNITS + "[[roster]]\ntitle = 'CEO'\n", ["roster[0].name", "required"]),
    (UNITS + "unknown_top = 1\n", ["unknown_top", "unknown key"]),
]


@pytest.mark.parametrize(("text", "named"), BAD_POLICY)
def test_policy_mistakes_name_file_key_and_value(
    tmp_path: Path, text: str, named: list[str]
) -> None:
    path = _policy(tmp_path, text)
    with pytest.raises(SettingsError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert str(path) in message
    for part in named:
        assert part in message, (part, message)


def test_policy_errors_stop_load_settings_too(tmp_path: Path) -> None:
    policy = _policy(tmp_path, UNITS + "[units.x]\nname = 'X'\nkind = 'moon'\n")
    with pytest.raises(SettingsError, match=r"units\.x\.kind"):
        load_settings(CONFIG_DIR / "gateway.toml", policy, environ={})


def test_a_good_policy_loads(tmp_path: Path) -> None:
    policy = load_policy(
        _policy(
            tmp_path,
            UNITS
            + "[categories.ads]\naction = 'review'\nrequire = ['brand_pr']\n"
            + "[post_categories.news]\nrequire = ['leader']\n"
            + "[[roster]]\nname = '张三'\naliases = ['张总']\n",
        )
    )
    assert policy.units["brand_pr"].parent == "hq"
    assert policy.units["hq"].id == "hq"
    assert policy.categories["ads"].require == ("brand_pr",)
    assert policy.post_categories["news"].require == ("leader",)
    assert policy.roster[0].aliases == ("张总",)


def test_config_and_policy_paths_come_from_env(tmp_path: Path) -> None:
    gw = _gateway(tmp_path, "[server]\nport = 7001\n")
    settings = load_settings(
        environ={"MEDIAGATE_CONFIG": str(gw), "MEDIAGATE_POLICY": str(SHIPPED_POLICY)}
    )
    assert settings.server.port == 7001


# --- issue #11: one base for relative paths; screening fails closed -----------------------------


def test_relative_paths_resolve_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lex").mkdir()
    (tmp_path / "lex" / "a.txt").write_text("# category: vulgar\n# action: block\n测试词\n")
    (tmp_path / "model").mkdir()
    (tmp_path / "elsewhere").mkdir()
    config = _gateway(
        tmp_path / "elsewhere",
        '[server]\ndata_dir = "d"\n[screening]\nlexicon_dir = "lex"\n'
        'classifier_model_dir = "model"\n'
        '[vault]\nmaster_key = { file = "keys/master" }\n',
    )
    monkeypatch.chdir(tmp_path)
    settings = load_settings(config, SHIPPED_POLICY, environ={})
    assert settings.server.data_dir == tmp_path / "d"
    assert settings.screening.lexicon_dir == tmp_path / "lex"
    assert settings.screening.classifier_model_dir == tmp_path / "model"
    assert settings.vault.master_key.file == str(tmp_path / "keys" / "master")


def test_the_shipped_gateway_toml_copied_anywhere_uses_the_shipped_lexicons_and_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "gateway.toml"
    copy.write_text((CONFIG_DIR / "gateway.toml").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    settings = load_settings(copy, SHIPPED_POLICY, environ={})
    assert settings.screening.lexicon_dir == CONFIG_DIR / "lexicons"
    assert settings.screening.classifier_model_dir == SHIPPED_MODEL_DIR
    assert settings.server.data_dir == tmp_path / "data"


@pytest.mark.parametrize(
    ("screening", "layout", "key", "says"),
    [
        # issue #11: a copy of an older gateway.toml outside config/ screened nothing (0 lexicons)
        ('lexicon_dir = "config/lexicons"', {}, "screening.lexicon_dir", "no such directory"),
        ('lexicon_dir = "empty"', {"empty": None}, "screening.lexicon_dir", "no lexicon"),
        ('lexicon_dir = "notes"', {"notes/a.md": "x"}, "screening.lexicon_dir", "no lexicon"),
        ('lexicon_dir = "lex.txt"', {"lex.txt": "x"}, "screening.lexicon_dir", "no such dir"),
        (
            'classifier_model_dir = "models/none"',
            {},
            "screening.classifier_model_dir",
            "no such directory",
        ),
    ],
    ids=["missing", "empty", "no-txt", "a-file", "model-missing"],
)
def test_screening_files_that_are_not_there_stop_loading(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    screening: str,
    layout: dict[str, str | None],
    key: str,
    says: str,
) -> None:
    for name, content in layout.items():
        path = tmp_path / name
        if content is None:
            path.mkdir(parents=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    config = _gateway(tmp_path, f"[screening]\n{screening}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError) as info:
        load_settings(config, SHIPPED_POLICY, environ={})
    message = str(info.value)
    assert str(config) in message and key in message and says in message
    assert str(tmp_path) in message  # the absolute path it looked at


def test_a_missing_lexicon_dir_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    environ = {"MEDIAGATE_SCREENING__LEXICON_DIR": f'"{tmp_path / "nowhere"}"'}
    with pytest.raises(SettingsError, match="MEDIAGATE_SCREENING__LEXICON_DIR"):
        _load(tmp_path, "", environ)


def test_an_empty_model_dir_switches_the_classifier_off(tmp_path: Path) -> None:
    settings = _load(tmp_path, '[screening]\nclassifier_model_dir = ""\n')
    assert settings.screening.classifier_model_dir is None
