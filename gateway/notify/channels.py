"""Build the configured notifiers (``[notify.channels.*]`` in gateway.toml) at start-up.

Secrets are resolved here from their references; a channel whose secret is missing is left out
with an error in the log and in ``/healthz``'s ``notify`` info: notifications are advice, so a
missing one never stops the gateway, but it is never silent either.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import aiohttp

from gateway.notify.base import Notifier
from gateway.notify.dingtalk import DingTalkRobot
from gateway.notify.email import SmtpMailer
from gateway.notify.outbox import ALERT_CHANNEL
from gateway.notify.webhook import SignedWebhook
from gateway.notify.wecom import WeComRobot
from gateway.settings import NotifyChannel, SecretRef, Settings

log = logging.getLogger(__name__)


def build_notifiers(
    settings: Settings, session: aiohttp.ClientSession, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, Notifier], dict[str, str]]:
    """The notifiers by channel name, and the channels left out with why."""
    notifiers: dict[str, Notifier] = {}
    problems: dict[str, str] = {}
    for name, channel in settings.notify.channels.items():
        try:
            notifiers[name] = _build(name, channel, session, environ)
        except _MissingSecret as exc:
            problems[name] = str(exc)
            log.error("notification channel %s is off: %s", name, exc)
    hook = settings.policy.alert_webhook
    if hook:
        secret = settings.notify.alert_webhook_secret.resolve(environ) or ""
        notifiers[ALERT_CHANNEL] = SignedWebhook(ALERT_CHANNEL, hook, secret, session)
    return notifiers, problems


class _MissingSecret(Exception):
    pass


def _secret(ref: SecretRef, what: str, environ: Mapping[str, str] | None) -> str:
    value = ref.resolve(environ)
    if not value:
        raise _MissingSecret(f"{what} is not set ({ref.describe()})")
    return value


def _build(
    name: str,
    c: NotifyChannel,
    session: aiohttp.ClientSession,
    environ: Mapping[str, str] | None,
) -> Notifier:
    if c.kind == "wecom":
        return WeComRobot(name, c.url, _secret(c.key, "key", environ), session, c.timeout_s)
    if c.kind == "dingtalk":
        return DingTalkRobot(
            name,
            c.url,
            _secret(c.key, "key (access_token)", environ),
            _secret(c.secret, "secret", environ),
            session,
            c.timeout_s,
        )
    if c.kind == "webhook":
        secret = _secret(c.secret, "secret", environ) if c.secret != SecretRef() else ""
        return SignedWebhook(name, c.url, secret, session, c.timeout_s)
    password = _secret(c.password, "password", environ) if c.password != SecretRef() else ""
    return SmtpMailer(
        name,
        host=c.host,
        port=c.port,
        sender=c.sender,
        to=c.to,
        starttls=c.starttls,
        use_tls=c.use_tls,
        username=c.username,
        password=password,
        timeout_s=c.timeout_s,
    )
