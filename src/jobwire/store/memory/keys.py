"""API keys and the shared secret in memory: ``MemoryStore().keys``."""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..base import ApiKey, KeyStore
from ..keys import hash_secret, new_key


@dataclass(slots=True)
class _Key:
    key: ApiKey
    hash: str
    created_at: float
    revoked_at: float | None = None


class MemoryKeyStore(KeyStore):
    """Keys in a dict, under the lock and clock of the MemoryStore that made it."""

    def __init__(self, lock: threading.RLock, clock: Callable[[], float]) -> None:
        self._lock = lock
        self._clock = clock
        self._keys: dict[str, _Key] = {}
        self._meta: dict[str, str] = {}

    def create_key(
        self, user: str, *, roles: Sequence[str] = (), teams: Sequence[str] = ()
    ) -> tuple[str, str]:
        key_id, secret = new_key()
        key = ApiKey(key_id, user, tuple(sorted(set(roles))), tuple(sorted(set(teams))))
        with self._lock:
            self._keys[key_id] = _Key(key, hash_secret(secret), self._clock())
        return key_id, secret

    def find_key(self, secret: str) -> ApiKey | None:
        digest = hash_secret(secret)
        with self._lock:
            for k in self._keys.values():
                if k.hash == digest and k.revoked_at is None:
                    return k.key
        return None

    def list_keys(self) -> builtins.list[tuple[ApiKey, float, float | None]]:
        with self._lock:
            keys = sorted(self._keys.values(), key=lambda k: k.created_at)
            return [(k.key, k.created_at, k.revoked_at) for k in keys]

    def revoke_key(self, key_id: str) -> bool:
        with self._lock:
            k = self._keys.get(key_id)
            if k is None or k.revoked_at is not None:
                return False
            k.revoked_at = self._clock()
        return True

    def revoked_keys(self, since: float = 0.0) -> builtins.list[tuple[str, float]]:
        with self._lock:
            return [
                (k.key.id, k.revoked_at)
                for k in self._keys.values()
                if k.revoked_at is not None and k.revoked_at >= since
            ]

    def meta_value(self, key: str, default: Callable[[], str]) -> str:
        with self._lock:
            if key not in self._meta:
                self._meta[key] = default()
            return self._meta[key]
