"""Leases: a named piece of work (a source's poll) held by one worker until its lease expires.

Several `monitor run` processes on one database each schedule every source; before a poll, a worker
claims the source's lease for one interval. The claim succeeds when the lease is free, expired or its
own, so each interval exactly one worker polls a source, and the sources of a worker that died are
taken over by the next worker whose schedule fires after its leases ran out (within one interval).

On PostgreSQL the row is taken with `SELECT … FOR UPDATE SKIP LOCKED`, so a worker never waits on a
row another is claiming; on SQLite the conditional UPDATE runs under the database's write lock. On
both, the UPDATE's own WHERE decides, so two claims of one lease never both succeed.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from monitor.store import Store, leases


def worker_id() -> str:
    """Who holds a lease: host, process and a random part (a restarted process with a reused pid is new)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:200]


class Leases:
    def __init__(self, store: Store, owner: str) -> None:
        self.store = store
        self.owner = owner
        self._known: set[str] = set()  # lease rows this process knows exist

    def claim(self, name: str, now: datetime, ttl: timedelta) -> bool:
        """Take the lease `name` until `now + ttl` when it is free or has run out; False when another worker
        holds it, or when this one does and it has more than a tenth of `ttl` to run (the work was done in
        this period: a schedule's jitter must not make it twice)."""
        self._ensure(name)
        free = (leases.c.name == name) & (
            leases.c.expires_at.is_(None) | (leases.c.expires_at <= now)
            | ((leases.c.owner == self.owner) & (leases.c.expires_at <= now + ttl / 10)))
        with self.store.engine.begin() as conn:
            if conn.execute(sa.select(leases.c.name).where(free).with_for_update(skip_locked=True)).first() is None:
                return False
            taken = conn.execute(leases.update().where(free).values(
                owner=self.owner, expires_at=now + ttl,
                acquired_at=sa.case((leases.c.owner == self.owner, leases.c.acquired_at), else_=now),
            )).rowcount
        return bool(taken)

    def _ensure(self, name: str) -> None:
        if name in self._known:
            return
        try:
            with self.store.engine.begin() as conn:
                if conn.execute(sa.select(leases.c.name).where(leases.c.name == name)).first() is None:
                    conn.execute(leases.insert().values(name=name))
        except sa.exc.IntegrityError:
            pass  # another worker inserted it first
        self._known.add(name)


def holders(store: Store, now: datetime) -> dict[str, tuple[str, datetime]]:
    """Each lease held now: name → (owner, expiry). For `monitor sources` and the tests."""
    query = sa.select(leases.c.name, leases.c.owner, leases.c.expires_at).where(leases.c.expires_at > now)
    with store.engine.connect() as conn:
        return {r.name: (r.owner, r.expires_at) for r in conn.execute(query)}
