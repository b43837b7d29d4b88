"""Credential vault (Art. 20): envelope encryption of platform credentials in Redis.

* The key-encryption key (KEK) comes from ``MEDIAGATE_MASTER_KEY`` (32 bytes, base64) or, for
  the embedded default only, from a 0600 key file in the data directory (with a loud warning).
  It is never written to Redis; its id is the first 16 hex digits of SHA-256 over it.
* Every secret version gets a fresh 256-bit data key (DEK). The value is sealed with AES-256-GCM
  under the DEK with associated data binding account, field, version and KEK id; the DEK is
  sealed under the KEK with the same associated data. A ciphertext moved to another record does
  not decrypt.
* Old KEKs stay usable for decryption (``old_master_keys``) so a new master key can be rolled out
  without downtime; ``rewrap`` then re-seals every DEK under the new KEK without touching values.

Nothing here returns or logs a plaintext value except :meth:`Vault.open`, which the publish
pipeline calls at the moment it talks to a platform.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aredis
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.keys import Keys, text

log = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12
MAX_FIELDS = 32
MAX_VALUE_CHARS = 16_384
FIELD_NAME_CHARS = 64


class VaultError(Exception):
    """The vault cannot do what was asked; the message never contains a secret."""


class VaultUnavailable(VaultError):
    """No usable master key: fail closed."""


@dataclass(frozen=True)
class MasterKey:
    key: bytes
    id: str

    @classmethod
    def from_bytes(cls, key: bytes) -> MasterKey:
        if len(key) != KEY_BYTES:
            raise VaultUnavailable(f"a master key must be {KEY_BYTES} bytes, got {len(key)}")
        return cls(key=key, id=hashlib.sha256(key).hexdigest()[:16])

    @classmethod
    def from_b64(cls, text: str) -> MasterKey:
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise VaultUnavailable("the master key is not valid base64") from exc
        return cls.from_bytes(raw)

    def __repr__(self) -> str:  # never show key bytes
        return f"MasterKey(id={self.id!r})"


def generate_master_key() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def key_file_master(data_dir: Path) -> MasterKey:
    """The embedded default's key file, created 0600 on first use (with a loud warning)."""
    path = data_dir / "master.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(generate_master_key() + "\n")
        log.warning(
            "VAULT: created a master key file at %s. It protects every platform credential: "
            "set MEDIAGATE_MASTER_KEY from a secret store in production and keep this file "
            "out of backups that sit next to the data.",
            path,
        )
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise VaultUnavailable(f"{path} is readable by others (mode {oct(mode)}); chmod 600 it")
    return MasterKey.from_b64(path.read_text())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


def _aad(account: str, field: str, version: int, kek_id: str) -> bytes:
    return f"mediagate-secret:v1|{account}|{field}|{version}|{kek_id}".encode()


@dataclass(frozen=True)
class FieldMeta:
    field: str
    version: int
    kek_id: str
    updated_by: str
    updated_at: float

    def public(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "version": self.version,
            "key_id": self.kek_id,
            "updated_by": self.updated_by,
            "updated_at": self.updated_at,
        }


class Vault:
    def __init__(
        self,
        redis: aredis.Redis,
        keys: Keys,
        master: MasterKey,
        old_masters: Sequence[MasterKey] = (),
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._master = master
        self._keks = {k.id: k for k in (*old_masters, master)}

    @property
    def key_id(self) -> str:
        return self._master.id

    def _seal(self, account: str, field: str, version: int, value: str) -> dict[str, Any]:
        dek = AESGCM.generate_key(bit_length=256)
        aad = _aad(account, field, version, self._master.id)
        nonce, dek_nonce = os.urandom(NONCE_BYTES), os.urandom(NONCE_BYTES)
        return {
            "v": version,
            "kek": self._master.id,
            "dek": _b64(AESGCM(self._master.key).encrypt(dek_nonce, dek, aad)),
            "dek_nonce": _b64(dek_nonce),
            "nonce": _b64(nonce),
            "ct": _b64(AESGCM(dek).encrypt(nonce, value.encode(), aad)),
        }

    def _unseal_dek(self, account: str, field: str, env: Mapping[str, Any]) -> bytes:
        kek = self._keks.get(env["kek"])
        if kek is None:
            raise VaultUnavailable(
                f"{account}.{field} is sealed under master key {env['kek']}, which is not loaded"
            )
        aad = _aad(account, field, env["v"], env["kek"])
        try:
            return AESGCM(kek.key).decrypt(_unb64(env["dek_nonce"]), _unb64(env["dek"]), aad)
        except InvalidTag as exc:
            raise VaultError(f"{account}.{field}: integrity check failed") from exc

    def _unseal(self, account: str, field: str, env: Mapping[str, Any]) -> str:
        dek = self._unseal_dek(account, field, env)
        aad = _aad(account, field, env["v"], env["kek"])
        try:
            return AESGCM(dek).decrypt(_unb64(env["nonce"]), _unb64(env["ct"]), aad).decode()
        except InvalidTag as exc:
            raise VaultError(f"{account}.{field}: integrity check failed") from exc

    async def put(self, account: str, fields: Mapping[str, str], *, actor: str) -> list[FieldMeta]:
        """Store (or rotate: a new version per field) credentials; return metadata only."""
        key = self._keys.vault(account)
        now = time.time()
        metas: list[FieldMeta] = []
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    current = await pipe.hgetall(key)
                    pipe.multi()
                    metas = []
                    for name, value in fields.items():
                        old = current.get(name.encode())
                        version = json.loads(old)["v"] + 1 if old else 1
                        env = self._seal(account, name, version, value)
                        env.update(updated_by=actor, updated_at=now)
                        pipe.hset(key, name, json.dumps(env))
                        metas.append(FieldMeta(name, version, self._master.id, actor, now))
                    pipe.sadd(self._keys.vault_accounts(), account)
                    await pipe.execute()
                    return metas
                except aredis.WatchError:
                    continue

    async def metadata(self, account: str) -> list[FieldMeta]:
        raw = await self._redis.hgetall(self._keys.vault(account))
        metas = []
        for name, blob in sorted(raw.items()):
            env = json.loads(blob)
            metas.append(
                FieldMeta(
                    text(name),
                    env["v"],
                    env["kek"],
                    env.get("updated_by", ""),
                    env.get("updated_at", 0.0),
                )
            )
        return metas

    async def open(self, account: str) -> dict[str, str]:
        """Decrypt every field of ``account``; for the connector call only, never to a caller."""
        raw = await self._redis.hgetall(self._keys.vault(account))
        return {text(n): self._unseal(account, text(n), json.loads(b)) for n, b in raw.items()}

    async def delete(self, account: str, fields: Sequence[str] = ()) -> int:
        key = self._keys.vault(account)
        if fields:
            return int(await self._redis.hdel(key, *fields))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hlen(key)
            pipe.delete(key)
            pipe.srem(self._keys.vault_accounts(), account)
            count, _, _ = await pipe.execute()
        return int(count)

    async def rewrap(self) -> dict[str, int]:
        """Re-seal every secret under the current master key (in memory only)."""
        done = skipped = 0
        for member in await self._redis.smembers(self._keys.vault_accounts()):
            account = text(member)
            key = self._keys.vault(account)
            async with self._redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        await pipe.watch(key)
                        current = await pipe.hgetall(key)
                        updates: dict[str, str] = {}
                        for name_b, blob in current.items():
                            name, env = text(name_b), json.loads(blob)
                            if env["kek"] == self._master.id:
                                skipped += 1
                                continue
                            dek = self._unseal_dek(account, name, env)
                            # The value ciphertext's AAD names the KEK, so it is re-sealed too.
                            old_aad = _aad(account, name, env["v"], env["kek"])
                            value = AESGCM(dek).decrypt(
                                _unb64(env["nonce"]), _unb64(env["ct"]), old_aad
                            )
                            new = self._seal(account, name, env["v"], value.decode())
                            new.update(
                                updated_by=env.get("updated_by", ""),
                                updated_at=env.get("updated_at", 0.0),
                            )
                            updates[name] = json.dumps(new)
                        pipe.multi()
                        for name, blob in updates.items():
                            pipe.hset(key, name, blob)
                        await pipe.execute()
                        done += len(updates)
                        break
                    except aredis.WatchError:
                        continue
        return {"rewrapped": done, "already_current": skipped}

    # Platform access tokens obtained with the credentials are secrets too. They are short-lived
    # (cached with a TTL), so they are sealed directly under the master key.
    def seal_token(self, account: str, name: str, value: str) -> dict[str, str]:
        nonce = os.urandom(NONCE_BYTES)
        aad = f"mediagate-token:v1|{account}|{name}|{self._master.id}".encode()
        ct = AESGCM(self._master.key).encrypt(nonce, value.encode(), aad)
        return {"kek": self._master.id, "nonce": _b64(nonce), "ct": _b64(ct)}

    def unseal_token(self, account: str, name: str, sealed: Mapping[str, str]) -> str:
        kek = self._keks.get(sealed.get("kek", ""))
        if kek is None:
            raise VaultError(f"token {account}.{name} is sealed under an unknown master key")
        aad = f"mediagate-token:v1|{account}|{name}|{kek.id}".encode()
        try:
            return (
                AESGCM(kek.key).decrypt(_unb64(sealed["nonce"]), _unb64(sealed["ct"]), aad).decode()
            )
        except (InvalidTag, KeyError, ValueError) as exc:
            raise VaultError(f"token {account}.{name}: integrity check failed") from exc

    async def ping(self) -> bool:
        return bool(self._master.key)
