"""Typed, frozen settings loaded once from ``gateway.toml`` and ``policy.toml``.

Every table maps onto a frozen dataclass. Unknown keys, wrong types and bad values stop start-up
with a :class:`SettingsError` naming the file, the key and the value. Secrets appear in the files
only as references (``{ env = "NAME" }`` or ``{ file = "path" }``) and are resolved by
:meth:`SecretRef.resolve` at the edge, never stored in a settings object.

Deployment overrides come from the environment: ``MEDIAGATE_<SECTION>__<KEY>=<toml value>``
(for example ``MEDIAGATE_SERVER__PORT=9000``); ``REDIS_URL`` overrides ``store.redis_url``.

Paths: every relative path in the settings (``server.data_dir``, ``screening.lexicon_dir``,
``screening.classifier_model_dir``, a secret's ``{ file = "..." }``) is resolved against the
working directory the command is started from, once, when the settings are loaded; a settings
object only ever holds absolute paths (``audit.anchor_file`` is the one path relative to
``server.data_dir``, joined by :func:`anchor_path`). The defaults ship inside the package: the
lexicons and the two TOML files in :data:`CONFIG_DIR` (the checkout's ``config/``, installed as
``gateway/defaults/`` in a wheel) and the classifier model in :data:`SHIPPED_MODEL_DIR`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

ROLES = ("editor", "unit_head", "brand_pr", "leader", "admin", "auditor")
Role = Literal["editor", "unit_head", "brand_pr", "leader", "admin", "auditor"]
POST_CATEGORIES = ("company", "news", "culture", "other")

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # the checkout, or site-packages


def _config_dir() -> Path:
    """``gateway/defaults`` in an installed wheel (mapped from ``config/``), else ``config/``."""
    installed = Path(__file__).resolve().parent / "defaults"
    return installed if (installed / "gateway.toml").is_file() else _PACKAGE_ROOT / "config"


#: The shipped ``gateway.toml``, ``policy.toml`` and ``lexicons/``.
CONFIG_DIR = _config_dir()
#: The shipped classifier model (used when the ``[classifier]`` extra is installed).
SHIPPED_MODEL_DIR = _PACKAGE_ROOT / "screening" / "models" / "cold-mini"


class SettingsError(ValueError):
    """A configuration file or override is wrong; the message names file, key and value."""


@dataclass(frozen=True)
class SecretRef:
    """Where a secret comes from: an environment variable or a file. Never the value itself."""

    env: str = ""
    file: str = ""

    def resolve(self, environ: Mapping[str, str] | None = None) -> str | None:
        environ = os.environ if environ is None else environ
        if self.env:
            return environ.get(self.env) or None
        if self.file:
            path = Path(self.file)
            return path.read_text().strip() if path.exists() else None
        return None

    def describe(self) -> str:
        return f"env {self.env}" if self.env else f"file {self.file}" if self.file else "unset"


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    public_url: str = ""
    processes: int = 0  # 0: one per CPU core (gateway/processes.py)


@dataclass(frozen=True)
class StoreSettings:
    redis_url: str = ""  # empty: start the embedded Valkey server in data_dir
    key_prefix: str = "mg"
    socket_timeout_s: float = 5.0
    max_connections: int = 64
    appendfsync: Literal["always", "everysec"] = "everysec"


@dataclass(frozen=True)
class LimitSettings:
    max_body_bytes: int = 8 * 1024 * 1024
    max_json_depth: int = 16
    max_text_chars: int = 200_000
    max_images: int = 20
    max_image_bytes: int = 5 * 1024 * 1024
    request_timeout_s: float = 30.0
    header_timeout_s: float = 10.0  # a request's line and headers must arrive within this
    body_timeout_s: float = 60.0  # and its body within this, once the headers are in


@dataclass(frozen=True)
class RateLimitSettings:
    """Requests per caller per window, counted in the store (shared by every process)."""

    enabled: bool = True
    window_s: float = 60.0
    per_key_per_window: int = 1200  # per API key, on authenticated routes
    per_ip_per_window: int = 3000  # per client address, before authentication


@dataclass(frozen=True)
class LoggingSettings:
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


@dataclass(frozen=True)
class VaultSettings:
    master_key: SecretRef = SecretRef(env="MEDIAGATE_MASTER_KEY")
    # Keys that still decrypt (after a rotation, until `run.py vault rewrap` has run).
    old_master_keys: tuple[SecretRef, ...] = (SecretRef(env="MEDIAGATE_OLD_MASTER_KEY"),)
    # For the embedded default only: create a 0600 key file in the data directory.
    allow_key_file: bool = True


@dataclass(frozen=True)
class IssuerSettings:
    """An external approval issuer (e.g. the company's OA system)."""

    kid: str
    issuer: str
    public_key: str  # base64url raw Ed25519 public key (public, not a secret)
    roles: tuple[str, ...] = ()
    not_after: str = ""  # ISO date-time after which this key no longer verifies


@dataclass(frozen=True)
class ApprovalSettings:
    token_ttl_s: int = 72 * 3600
    clock_skew_s: int = 60
    issuer: str = "mediagate"
    signing_key: SecretRef = SecretRef(env="MEDIAGATE_SIGNING_KEY")
    issuers: tuple[IssuerSettings, ...] = ()


@dataclass(frozen=True)
class ScreeningSettings:
    lexicon_dir: Path = CONFIG_DIR / "lexicons"
    # The shipped model by default; "" in gateway.toml (None here) switches the stage off.
    classifier_model_dir: Path | None = SHIPPED_MODEL_DIR
    classifier_threshold: float | None = None
    workers: int = 2
    reload_poll_s: float = 0.25
    screen_timeout_s: float = 10.0
    detectors: tuple[str, ...] = ()  # empty: every registered detector (screening.detectors)


@dataclass(frozen=True)
class DeliverySettings:
    workers: int = 2
    lease_s: float = 30.0
    poll_interval_s: float = 0.5
    max_attempts: int = 8
    idempotency_ttl_s: int = 24 * 3600


@dataclass(frozen=True)
class AuditSettings:
    # every this many seconds the chain head is logged and appended to anchor_file (0: never)
    anchor_interval_s: float = 3600.0
    anchor_file: Path = Path("audit-anchors.jsonl")  # relative to server.data_dir


@dataclass(frozen=True)
class ConnectorSettings:
    allow: tuple[str, ...] = ("wechat", "weibo", "wordpress", "webhook")
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class ConsoleSettings:
    """The web console at ``/console/`` (gateway/console/)."""

    enabled: bool = True
    session_ttl_s: int = 8 * 3600  # a console session ends this long after login
    idle_timeout_s: int = 3600  # ... or after this long without a request


@dataclass(frozen=True)
class NotifyChannel:
    """One notification channel (docs/desk.md#notifications). Secrets only as references."""

    kind: Literal["wecom", "dingtalk", "email", "webhook"]
    url: str = ""  # wecom / dingtalk robot send URL, or the webhook URL
    key: SecretRef = SecretRef()  # wecom robot key / dingtalk access_token
    secret: SecretRef = SecretRef()  # dingtalk signing secret / webhook HMAC secret
    host: str = ""  # email: SMTP server
    port: int = 587
    starttls: bool = True
    use_tls: bool = False
    username: str = ""
    password: SecretRef = SecretRef()
    sender: str = ""
    to: tuple[str, ...] = ()
    timeout_s: float = 5.0


@dataclass(frozen=True)
class NotifySubscription:
    """Which notices go to ``channel``: events (empty: all), and whom they are for."""

    channel: str
    events: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()  # recipients of these roles (empty: any)
    units: tuple[str, ...] = ()  # ... of these units (empty: any)
    people: tuple[str, ...] = ()  # or exactly these principal ids


@dataclass(frozen=True)
class NotifySettings:
    channels: Mapping[str, NotifyChannel] = field(default_factory=dict)
    subscriptions: tuple[NotifySubscription, ...] = ()
    alert_webhook_secret: SecretRef = SecretRef()  # signs policy.toml's alert_webhook posts
    poll_interval_s: float = 1.0
    max_attempts: int = 8
    retry_base_s: float = 2.0
    retry_max_s: float = 600.0


@dataclass(frozen=True)
class DeskSettings:
    schedule_poll_s: float = 1.0  # how often the scheduler releases due submissions


@dataclass(frozen=True)
class HubSettings:
    """Brand-PR as the hub (docs/hub.md): when units that sent nothing are reminded."""

    remind_weekday: int = 4  # ISO weekday in China Standard Time: 1 Monday … 7 Sunday
    remind_at: str = "15:00"  # HH:MM, China Standard Time
    remind_poll_s: float = 60.0  # how often the reminder looks at the clock


@dataclass(frozen=True)
class ProxySettings:
    """The drop-in platform proxy (docs/proxy.md)."""

    token_ttl_s: float = 7200.0  # WeChat's access_token lifetime (expires_in)
    token_grace_s: float = 300.0  # a superseded token keeps working this long
    expired_token_memory_s: float = 86400.0  # expired tokens answer 42001 (not 40001) this long
    calls_per_minute: int = 600  # per proxy client; beyond: 45011
    calls_per_day: int = 20000  # per proxy client; beyond: 45009
    media_keep_s: float = 30 * 86400.0  # uploaded images and materials are kept this long
    weibo_token_ttl_s: float = 30 * 86400.0  # a Weibo-kind client's access token (expires_in)


@dataclass(frozen=True)
class WatchSettings:
    """The bypass reconciler (docs/bypass.md): what it lists, how often, how much quota."""

    enabled: bool = True  # runs in processes with delivery.workers > 0; the route works anyway
    interval_s: float = 300.0  # seconds between two passes over one account
    # per platform, at least this many seconds between passes (quota: docs/bypass.md)
    platform_interval_s: Mapping[str, float] = field(
        default_factory=lambda: types.MappingProxyType({"wechat": 1800.0})
    )
    window_s: float = 3 * 86400.0  # how far back a pass looks
    list_limit: int = 100  # at most this many items listed per pass
    max_fetches_per_pass: int = 2  # missing items confirmed one by one, at most this many
    lease_s: float = 120.0  # one process reconciles an account at a time (renewed per pass)

    def interval_for(self, platform: str) -> float:
        return max(self.interval_s, float(self.platform_interval_s.get(platform, 0.0)))


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = ServerSettings()
    store: StoreSettings = StoreSettings()
    limits: LimitSettings = LimitSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    logging: LoggingSettings = LoggingSettings()
    vault: VaultSettings = VaultSettings()
    approvals: ApprovalSettings = ApprovalSettings()
    screening: ScreeningSettings = ScreeningSettings()
    delivery: DeliverySettings = DeliverySettings()
    audit: AuditSettings = AuditSettings()
    connectors: ConnectorSettings = ConnectorSettings()
    console: ConsoleSettings = ConsoleSettings()
    notify: NotifySettings = NotifySettings()
    desk: DeskSettings = DeskSettings()
    hub: HubSettings = HubSettings()
    proxy: ProxySettings = ProxySettings()
    watch: WatchSettings = WatchSettings()
    policy: Policy = field(default_factory=lambda: Policy())  # noqa: PLW0108 - Policy is defined below


# --- policy ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    kind: Literal["hq", "department", "subsidiary"]
    parent: str = ""
    weekly_quota: int = 1  # Art. 23: news items a week (subsidiaries)
    information_administrator: str = ""  # Art. 9: the person the unit names (信息管理员)


@dataclass(frozen=True)
class CategoryPolicy:
    """What a screening category triggers: block, review requiring roles, or a warning."""

    action: Literal["block", "review", "warn"]
    require: tuple[str, ...] = ()
    severity: Literal["low", "medium", "high", "critical"] = "high"
    alert: bool = False  # Art. 8: alert hook on blocked high-severity content


@dataclass(frozen=True)
class RosterEntry:
    """A director, supervisor or executive (Art. 17(2))."""

    name: str
    title: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class CompanyPolicy:
    """Who "the company" is for Art. 14 attribution of financial figures."""

    names: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    subsidiaries: tuple[str, ...] = ()
    tickers: tuple[str, ...] = ()


@dataclass(frozen=True)
class PostCategoryPolicy:
    require: tuple[str, ...] = ()


@dataclass(frozen=True)
class InteractionPolicy:
    """Who approves comments, replies, reposts and comment switches (Art. 22;
    docs/interactions.md). Each value lists roles; ``unit_head`` means the head who would
    approve a post there (Art. 17(1)). Screening findings add their own roles on top, as for
    posts."""

    repost: tuple[str, ...] = ("unit_head",)
    comment_by_operator: tuple[str, ...] = ()  # a comment or reply by a named operator
    comment_by_other: tuple[str, ...] = ("unit_head",)  # ... by anyone else
    comments_open: tuple[str, ...] = ("unit_head",)
    comments_close: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    units: Mapping[str, Unit] = field(default_factory=dict)
    categories: Mapping[str, CategoryPolicy] = field(default_factory=dict)
    post_categories: Mapping[str, PostCategoryPolicy] = field(default_factory=dict)
    roster: tuple[RosterEntry, ...] = ()
    company: CompanyPolicy = field(default_factory=CompanyPolicy)
    brand_pr_unit: str = "brand_pr"
    alert_webhook: str = ""
    interactions: InteractionPolicy = field(default_factory=InteractionPolicy)

    def unit(self, unit_id: str) -> Unit | None:
        return self.units.get(unit_id)


# --- loading ---------------------------------------------------------------------------------


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert a TOML value to ``tp`` or raise SettingsError naming ``where``."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        if value == "" and type(None) in args and Path in args:
            return None  # an optional path written as "" (TOML has no null): off
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except SettingsError as exc:
                errors.append(str(exc))
        raise SettingsError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin is Literal:
        if value not in get_args(tp):
            choices = ", ".join(repr(a) for a in get_args(tp))
            raise SettingsError(f"{where} = {value!r}: must be one of {choices}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise SettingsError(f"{where} = {value!r}: must be a list")
        (item_tp, _ellipsis) = get_args(tp)
        return tuple(_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (Mapping, dict, typing.Mapping) or (origin is not None and origin is Mapping):
        if not isinstance(value, dict):
            raise SettingsError(f"{where} = {value!r}: must be a table")
        _key_tp, val_tp = get_args(tp)
        result = {}
        for k, v in value.items():
            item = {"id": k, **v} if val_tp is Unit and isinstance(v, dict) else v
            result[k] = _coerce(item, val_tp, f"{where}.{k}")
        return types.MappingProxyType(result)
    if tp is SecretRef and not isinstance(value, dict | SecretRef):
        # Not echoed: a literal here is most likely the secret itself.
        raise SettingsError(
            f'{where}: must be a reference {{ env = "NAME" }} or {{ file = "/path" }}; '
            "a literal value is not accepted (and not repeated here)"
        )
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise SettingsError(f"{where} = {value!r}: must be a table")
        return _build(tp, value, where)
    if tp is bool:
        if not isinstance(value, bool):
            raise SettingsError(f"{where} = {value!r}: must be true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"{where} = {value!r}: must be an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingsError(f"{where} = {value!r}: must be a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise SettingsError(f"{where} = {value!r}: must be a string")
        return value
    if tp is Path:
        if not isinstance(value, str):
            raise SettingsError(f"{where} = {value!r}: must be a path string")
        return Path(value)
    raise SettingsError(f"{where}: unsupported setting type {_type_name(tp)}")  # pragma: no cover


def _build(cls: Any, table: Mapping[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in table:
        if key not in names:
            known = ", ".join(sorted(names))
            raise SettingsError(f"{where}.{key}: unknown key (known keys: {known})".lstrip("."))
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in table:
            kwargs[f.name] = _coerce(table[f.name], hints[f.name], f"{where}.{f.name}".lstrip("."))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SettingsError(f"{where}.{f.name}: required key is missing".lstrip("."))
    return cls(**kwargs)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise SettingsError(f"{path}: file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from exc


def _apply_env(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Apply ``MEDIAGATE_<SECTION>__<KEY>`` overrides; return ``{"section.key": variable}``."""
    origins: dict[str, str] = {}
    for name, value in environ.items():
        if not name.startswith("MEDIAGATE_") or "__" not in name:
            continue
        section, _, key = name[len("MEDIAGATE_") :].lower().partition("__")
        if section not in {f.name for f in dataclasses.fields(Settings)} or section == "policy":
            raise SettingsError(f"environment {name}: unknown section {section!r}")
        try:
            parsed = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value  # a bare string
        raw.setdefault(section, {})[key] = parsed
        origins[f"{section}.{key}"] = name
    if environ.get("REDIS_URL"):
        raw.setdefault("store", {})["redis_url"] = environ["REDIS_URL"]
        origins["store.redis_url"] = "REDIS_URL"
    return origins


def _blame_env(message: str, origins: Mapping[str, str]) -> str:
    """Name the environment variable when a bad value came from one."""
    for key, name in origins.items():
        if message == key or message.startswith((f"{key} ", f"{key}:", f"{key}[", f"{key}.")):
            return f"{message} (from environment {name})"
    return message


def _validate_policy(policy: Policy, file: str) -> None:
    for unit in policy.units.values():
        if unit.parent and unit.parent not in policy.units:
            raise SettingsError(f"{file}: units.{unit.id}.parent = {unit.parent!r}: no such unit")
    if policy.units and policy.brand_pr_unit not in policy.units:
        raise SettingsError(f"{file}: brand_pr_unit = {policy.brand_pr_unit!r}: no such unit")
    for name, cat in policy.categories.items():
        for role in cat.require:
            if role not in ROLES:
                raise SettingsError(f"{file}: categories.{name}.require: unknown role {role!r}")
        if cat.action == "review" and not cat.require:
            raise SettingsError(f"{file}: categories.{name}: action 'review' needs require = [...]")
    for name, pc in policy.post_categories.items():
        if name not in POST_CATEGORIES:
            raise SettingsError(f"{file}: post_categories.{name}: unknown post category")
        for role in pc.require:
            if role not in ROLES:
                raise SettingsError(
                    f"{file}: post_categories.{name}.require: unknown role {role!r}"
                )


def _validate_interactions(policy: Policy, file: str) -> None:
    for f in dataclasses.fields(InteractionPolicy):
        for role in getattr(policy.interactions, f.name):
            if role not in ("unit_head", "leader", "brand_pr"):
                raise SettingsError(
                    f"{file}: interactions.{f.name}: {role!r} does not approve "
                    "(unit_head, leader or brand_pr)"
                )


def load_policy(path: Path) -> Policy:
    try:
        policy = _build(Policy, _read_toml(path), "")
    except SettingsError as exc:
        raise SettingsError(f"{path}: {exc}") from None
    _validate_policy(policy, str(path))
    _validate_interactions(policy, str(path))
    return typing.cast(Policy, policy)


def load_settings(
    config: Path | None = None,
    policy: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read ``gateway.toml`` and ``policy.toml`` (defaults in :data:`CONFIG_DIR`) plus overrides;
    relative paths resolve against the working directory; missing lexicons or model stop here."""
    environ = os.environ if environ is None else environ
    config = config or Path(environ.get("MEDIAGATE_CONFIG") or CONFIG_DIR / "gateway.toml")
    policy = policy or Path(environ.get("MEDIAGATE_POLICY") or CONFIG_DIR / "policy.toml")
    raw = _read_toml(config)
    if "policy" in raw:
        raise SettingsError(f"{config}: policy: the policy lives in its own file ({policy})")
    connectors = raw.get("connectors", {})
    if isinstance(connectors, dict):
        sections = {k: v for k, v in connectors.items() if isinstance(v, dict)}
        raw["connectors"] = {k: v for k, v in connectors.items() if not isinstance(v, dict)}
        raw["connectors"]["sections"] = sections
    origins: dict[str, str] = {}
    try:
        origins = _apply_env(raw, environ)
        settings = _build(Settings, raw, "")
    except SettingsError as exc:
        raise SettingsError(f"{config}: {_blame_env(str(exc), origins)}") from None
    settings = dataclasses.replace(settings, policy=load_policy(policy))
    settings = absolute_paths(settings, Path.cwd())
    if settings.rate_limits.window_s <= 0:
        raise SettingsError(f"{config}: rate_limits.window_s: must be positive")
    _validate_notify(settings.notify, str(config))
    _validate_watch(settings.watch, str(config))
    if settings.server.processes < 0:
        raise SettingsError(f"{config}: server.processes: must be 0 (one per core) or positive")
    if settings.audit.anchor_interval_s < 0:
        raise SettingsError(f"{config}: audit.anchor_interval_s: must be 0 (off) or positive")
    _check_screening_files(settings, config, origins)
    return settings


def _absolute(path: Path, base: Path) -> Path:
    return path if path.is_absolute() else base / path


def _absolute_ref(ref: SecretRef, base: Path) -> SecretRef:
    if not ref.file:
        return ref
    return dataclasses.replace(ref, file=str(_absolute(Path(ref.file), base)))


def absolute_paths(settings: Settings, base: Path) -> Settings:
    """``settings`` with every relative path resolved against ``base`` (the one base)."""
    server = settings.server
    screening = settings.screening
    vault = settings.vault
    model_dir = screening.classifier_model_dir
    return dataclasses.replace(
        settings,
        server=dataclasses.replace(server, data_dir=_absolute(server.data_dir, base)),
        screening=dataclasses.replace(
            screening,
            lexicon_dir=_absolute(screening.lexicon_dir, base),
            classifier_model_dir=None if model_dir is None else _absolute(model_dir, base),
        ),
        vault=dataclasses.replace(
            vault,
            master_key=_absolute_ref(vault.master_key, base),
            old_master_keys=tuple(_absolute_ref(r, base) for r in vault.old_master_keys),
        ),
        approvals=dataclasses.replace(
            settings.approvals,
            signing_key=_absolute_ref(settings.approvals.signing_key, base),
        ),
    )


def _check_screening_files(settings: Settings, config: Path, origins: Mapping[str, str]) -> None:
    """Fail closed: screening without its lexicons, or without a model it was told to use,
    would pass what it should stop. The message names the file, the key and the path."""

    def where(key: str) -> str:
        origin = origins.get(f"screening.{key}")
        return f"{config}: screening.{key}" + (f" (from environment {origin})" if origin else "")

    lexicons = settings.screening.lexicon_dir
    if not lexicons.is_dir():
        raise SettingsError(f"{where('lexicon_dir')} = {str(lexicons)!r}: no such directory")
    if not any(lexicons.glob("*.txt")):
        raise SettingsError(
            f"{where('lexicon_dir')} = {str(lexicons)!r}: holds no lexicon (*.txt) file"
        )
    model = settings.screening.classifier_model_dir
    if model is not None and not model.is_dir():
        raise SettingsError(
            f"{where('classifier_model_dir')} = {str(model)!r}: no such directory "
            '(write classifier_model_dir = "" to switch the classifier stage off)'
        )


NOTIFY_EVENTS = ("submitted", "decided", "published", "failed", "unconfirmed", "alert")
_NOTIFY_NEEDS = {
    "wecom": ("url", "key"),
    "dingtalk": ("url", "key", "secret"),
    "email": ("host", "sender", "to"),
    "webhook": ("url",),
}


def _validate_notify(notify: NotifySettings, file: str) -> None:
    """Each channel has what its kind needs; subscriptions name known channels, events, roles."""
    for name, channel in notify.channels.items():
        for key in _NOTIFY_NEEDS[channel.kind]:
            value = getattr(channel, key)
            if value in ("", (), SecretRef()):
                raise SettingsError(
                    f"{file}: notify.channels.{name}.{key}: required for kind {channel.kind!r}"
                )
        if channel.url and not channel.url.startswith(("http://", "https://")):
            raise SettingsError(f"{file}: notify.channels.{name}.url: must be an http(s) URL")
    for i, sub in enumerate(notify.subscriptions):
        where = f"{file}: notify.subscriptions[{i}]"
        if sub.channel not in notify.channels:
            raise SettingsError(f"{where}.channel = {sub.channel!r}: no such channel")
        for event in sub.events:
            if event not in NOTIFY_EVENTS:
                raise SettingsError(
                    f"{where}.events: unknown event {event!r} (known: {', '.join(NOTIFY_EVENTS)})"
                )
        for role in sub.roles:
            if role not in ROLES:
                raise SettingsError(f"{where}.roles: unknown role {role!r}")
    if notify.max_attempts < 1 or notify.poll_interval_s <= 0 or notify.retry_base_s <= 0:
        raise SettingsError(
            f"{file}: notify: max_attempts, poll_interval_s and retry_base_s must be positive"
        )


def _validate_watch(watch: WatchSettings, file: str) -> None:
    for key in ("interval_s", "window_s", "list_limit", "lease_s"):
        if getattr(watch, key) <= 0:
            raise SettingsError(f"{file}: watch.{key}: must be positive")
    if watch.max_fetches_per_pass < 0:
        raise SettingsError(f"{file}: watch.max_fetches_per_pass: must be 0 or more")
    for platform, seconds in watch.platform_interval_s.items():
        if seconds < 0:
            raise SettingsError(f"{file}: watch.platform_interval_s.{platform}: must be 0 or more")


def anchor_path(settings: Settings) -> Path:
    """Where the gateway appends audit anchors and ``run.py audit verify`` reads them."""
    return settings.server.data_dir / settings.audit.anchor_file
