"""Shared state: which orders already had a review request.

`StateStore` is the interface; `SqliteState` (the default, `sqlite:///path`, one machine),
`RedisState` (`redis://host:port/db`, several relays) and `MemoryState` (`memory:`, tests)
implement it. A claim is atomic: of two messages asking a review for the same order at the
same moment, on one relay or on two, exactly one gets it. Claims expire after
REVIEW_TTL (Amazon's review-request window is long closed by then), and `incr` counts events
in a window shared by every relay using the store. The SQLite connection lives on one
dedicated thread, so the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

from relay.errors import ConfigError, StoreError

T = TypeVar("T")
REVIEW_TTL = 180 * 86400  # seconds a review request for an order is remembered


class StateStore(Protocol):
    async def claim_review(self, order_id: str, message_id: str) -> bool:
        """Record the order's review request; False if the order already had one."""

    async def release_review(self, order_id: str, message_id: str) -> None:
        """Undo this message's claim (its delivery failed)."""

    async def reviewed(self, order_id: str) -> bool: ...

    async def incr(self, key: str, window: int) -> int:
        """Add one to the counter `key` (created with a `window`-second lifetime); returns it."""

    async def close(self) -> None: ...


class MemoryState:
    def __init__(self) -> None:
        self.reviews: dict[str, str] = {}
        self.counters: dict[str, tuple[float, int]] = {}

    async def incr(self, key: str, window: int) -> int:
        expires, value = self.counters.get(key, (0.0, 0))
        if expires <= time.time():
            expires, value = time.time() + window, 0
        self.counters[key] = (expires, value + 1)
        return value + 1

    async def claim_review(self, order_id: str, message_id: str) -> bool:
        if order_id in self.reviews:
            return False
        self.reviews[order_id] = message_id
        return True

    async def release_review(self, order_id: str, message_id: str) -> None:
        if self.reviews.get(order_id) == message_id:
            del self.reviews[order_id]

    async def reviewed(self, order_id: str) -> bool:
        return order_id in self.reviews

    async def close(self) -> None:
        return None


class SqliteState:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-state")
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS review_requests ("
                " order_id TEXT PRIMARY KEY, message_id TEXT NOT NULL, at REAL NOT NULL)"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS counters ("
                " key TEXT PRIMARY KEY, value INTEGER NOT NULL, expires REAL NOT NULL)"
            )
            self._db = db
        return self._db

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, lambda: fn(self._conn()))
        except sqlite3.Error as exc:
            raise StoreError(f"state database {self.path}: {exc}") from exc

    async def claim_review(self, order_id: str, message_id: str) -> bool:
        def claim(db: sqlite3.Connection) -> bool:
            now = time.time()
            with db:  # one transaction: drop an expired claim, then take the order
                db.execute("BEGIN IMMEDIATE")
                db.execute(
                    "DELETE FROM review_requests WHERE order_id = ? AND at < ?",
                    (order_id, now - REVIEW_TTL),
                )
                cur = db.execute(
                    "INSERT OR IGNORE INTO review_requests VALUES (?, ?, ?)",
                    (order_id, message_id, now),
                )
            return cur.rowcount == 1

        return await self._run(claim)

    async def release_review(self, order_id: str, message_id: str) -> None:
        await self._run(
            lambda db: db.execute(
                "DELETE FROM review_requests WHERE order_id = ? AND message_id = ?",
                (order_id, message_id),
            )
        )

    async def reviewed(self, order_id: str) -> bool:
        row = await self._run(
            lambda db: db.execute(
                "SELECT 1 FROM review_requests WHERE order_id = ? AND at >= ?",
                (order_id, time.time() - REVIEW_TTL),
            ).fetchone()
        )
        return row is not None

    async def incr(self, key: str, window: int) -> int:
        def incr(db: sqlite3.Connection) -> int:
            now = time.time()
            with db:
                db.execute("BEGIN IMMEDIATE")
                db.execute("DELETE FROM counters WHERE key = ? AND expires <= ?", (key, now))
                db.execute(
                    "INSERT INTO counters VALUES (?, 1, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = value + 1",
                    (key, now + window),
                )
                row = db.execute("SELECT value FROM counters WHERE key = ?", (key,)).fetchone()
            return int(row[0])

        return await self._run(incr)

    async def close(self) -> None:
        def close(db: sqlite3.Connection) -> None:
            db.close()

        if self._db is not None:
            await self._run(close)
            self._db = None
        self._pool.shutdown(wait=True)


class RedisState:
    """The state in Redis, for several relays: SET NX EX claims, INCR with EXPIRE counters.

    Keys: `bsm:review:<order id>` (value: the claiming message id) and `bsm:count:<key>`.
    Releasing compares and deletes in one Lua call, so a relay never drops another's claim.
    """

    _RELEASE = (
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
        "else return 0 end"
    )
    _INCR = (
        "local v = redis.call('incr', KEYS[1]) "
        "if v == 1 then redis.call('expire', KEYS[1], ARGV[1]) end return v"
    )

    def __init__(self, url: str, prefix: str = "bsm:") -> None:
        import redis.asyncio

        self.url = url
        self.prefix = prefix
        try:
            self.client = redis.asyncio.Redis.from_url(
                url, socket_timeout=5, socket_connect_timeout=5, decode_responses=True
            )
        except ValueError as exc:
            raise ConfigError(f"state.url {url!r}: {exc}") from exc

    async def _call(self, what: str, coro: Any) -> Any:
        import redis.exceptions

        try:
            return await coro
        except (redis.exceptions.RedisError, OSError) as exc:
            raise StoreError(f"state {self.url} ({what}): {exc}") from exc

    async def claim_review(self, order_id: str, message_id: str) -> bool:
        key = f"{self.prefix}review:{order_id}"
        done = await self._call("claim", self.client.set(key, message_id, nx=True, ex=REVIEW_TTL))
        return bool(done)

    async def release_review(self, order_id: str, message_id: str) -> None:
        key = f"{self.prefix}review:{order_id}"
        await self._call("release", self.client.eval(self._RELEASE, 1, key, message_id))

    async def reviewed(self, order_id: str) -> bool:
        found = await self._call("read", self.client.exists(f"{self.prefix}review:{order_id}"))
        return bool(found)

    async def incr(self, key: str, window: int) -> int:
        script = self.client.eval(self._INCR, 1, f"{self.prefix}count:{key}", window)
        value = await self._call("count", script)
        return int(value)

    async def close(self) -> None:
        await self.client.aclose()


def open_state(url: str) -> StateStore:
    if url.startswith("sqlite:///"):
        return SqliteState(Path(url.removeprefix("sqlite:///")))
    if url == "memory:":
        return MemoryState()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisState(url)
    raise ConfigError(f"state.url {url!r}: unsupported scheme")
