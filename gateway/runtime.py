"""The edge's side of start-up: resolve secrets and find (or start) the store."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.app import Runtime
from gateway.embedded import EmbeddedValkey
from gateway.settings import Settings
from gateway.vault import MasterKey, VaultError, key_file_master

log = logging.getLogger(__name__)


def _signing_key_pem(settings: Settings, data_dir: Path, embedded: bool) -> bytes:
    value = settings.approvals.signing_key.resolve()
    if value:
        return value.encode()
    path = data_dir / "signing.key"
    if not path.exists():
        if not embedded:
            return b""
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        log.warning(
            "APPROVALS: created an approval signing key at %s; set "
            "MEDIAGATE_SIGNING_KEY in production",
            path,
        )
    return path.read_bytes()


def resolve_runtime(settings: Settings, redis_url: str, *, embedded: bool) -> Runtime:
    """Read the master keys and the signing key; nothing secret is logged."""
    data_dir = settings.server.data_dir
    master: MasterKey | None = None
    problem = ""
    try:
        value = settings.vault.master_key.resolve()
        if value:
            master = MasterKey.from_b64(value)
        elif embedded and settings.vault.allow_key_file:
            master = key_file_master(data_dir)
        else:
            problem = f"no master key ({settings.vault.master_key.describe()} is empty)"
    except VaultError as exc:
        problem = str(exc)
    old = []
    for ref in settings.vault.old_master_keys:
        value = ref.resolve()
        if value:
            try:
                old.append(MasterKey.from_b64(value))
            except VaultError as exc:
                log.error("ignoring old master key from %s: %s", ref.describe(), exc)
    if problem:
        log.error("VAULT UNAVAILABLE: %s; publishing and credential endpoints answer 503", problem)
    return Runtime(
        redis_url=redis_url,
        master_key=master,
        old_master_keys=tuple(old),
        vault_problem=problem,
        signing_key_pem=_signing_key_pem(settings, data_dir, embedded),
    )


@contextlib.contextmanager
def store_url(settings: Settings) -> Iterator[tuple[str, bool]]:
    """The Redis URL to use and whether it is the embedded server started here."""
    if settings.store.redis_url:
        yield settings.store.redis_url, False
        return
    server = EmbeddedValkey(
        settings.server.data_dir / "store", appendfsync=settings.store.appendfsync
    )
    server.start()
    try:
        yield server.url, True
    finally:
        server.stop()
