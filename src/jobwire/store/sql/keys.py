"""API keys and the meta table (the shared secret), in the store's database."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence

import sqlalchemy as sa

from ...snapshot import dumps, loads
from ..base import ApiKey, KeyStore
from ..keys import hash_secret, new_key
from ..tables import api_keys, meta
from .engine import SQLBase, lock_key


class SQLKeyStore(KeyStore):
    """``store.keys`` of an SQLStore: it shares the store's engines and clock."""

    def __init__(self, db: SQLBase) -> None:
        self._db = db

    def create_key(
        self, user: str, *, roles: Sequence[str] = (), teams: Sequence[str] = ()
    ) -> tuple[str, str]:
        key_id, secret = new_key()
        with self._db._write() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=key_id,
                    hash=hash_secret(secret),
                    user=user,
                    roles=dumps(sorted(set(roles))),
                    teams=dumps(sorted(set(teams))),
                    created_at=self._db.clock(),
                    revoked_at=None,
                )
            )
        return key_id, secret

    def find_key(self, secret: str) -> ApiKey | None:
        with self._db._read() as conn:
            row = conn.execute(
                sa.select(api_keys).where(
                    api_keys.c.hash == hash_secret(secret), api_keys.c.revoked_at.is_(None)
                )
            ).first()
        if row is None:
            return None
        return ApiKey(row.id, row.user, tuple(loads(row.roles)), tuple(loads(row.teams)))

    def list_keys(self) -> builtins.list[tuple[ApiKey, float, float | None]]:
        with self._db._read() as conn:
            rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.created_at)).all()
        return [
            (
                ApiKey(r.id, r.user, tuple(loads(r.roles)), tuple(loads(r.teams))),
                r.created_at,
                r.revoked_at,
            )
            for r in rows
        ]

    def revoke_key(self, key_id: str) -> bool:
        with self._db._write() as conn:
            done = conn.execute(
                sa.update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=self._db.clock())
            )
        return bool(done.rowcount)

    def revoked_keys(self, since: float = 0.0) -> builtins.list[tuple[str, float]]:
        with self._db._read() as conn:
            rows = conn.execute(
                sa.select(api_keys.c.id, api_keys.c.revoked_at).where(
                    api_keys.c.revoked_at.is_not(None), api_keys.c.revoked_at >= since
                )
            ).all()
        return [(r.id, r.revoked_at) for r in rows]

    def meta_value(self, key: str, default: Callable[[], str]) -> str:
        with self._db._read() as conn:
            value = conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar()
        if value is not None:
            return str(value)
        with self._db._write() as conn:
            self._db._advisory_lock(conn, lock_key("meta", key))
            value = conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar()
            if value is None:
                value = default()
                conn.execute(meta.insert().values(key=key, value=value))
        return str(value)
