"""Shared state: which orders already had a review request.

`StateStore` is the interface; `SqliteState` (the default, `sqlite:///path`) and
`MemoryState` (`memory:`, for tests) implement it. A claim is atomic: of two messages asking
a review for the same order at the same moment, exactly one gets it. The SQLite connection
lives on one dedicated thread, so the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, TypeVar

from relay.errors import ConfigError, StoreError

T = TypeVar("T")


class StateStore(Protocol):
    async def claim_review(self, order_id: str, message_id: str) -> bool:
        """Record the order's review request; False if the order already had one."""

    async def release_review(self, order_id: str, message_id: str) -> None:
        """Undo this message's claim (its delivery failed)."""

    async def reviewed(self, order_id: str) -> bool: ...

    async def close(self) -> None: ...


class MemoryState:
    def __init__(self) -> None:
        self.reviews: dict[str, str] = {}

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
            cur = db.execute(
                "INSERT OR IGNORE INTO review_requests VALUES (?, ?, ?)",
                (order_id, message_id, time.time()),
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
                "SELECT 1 FROM review_requests WHERE order_id = ?", (order_id,)
            ).fetchone()
        )
        return row is not None

    async def close(self) -> None:
        def close(db: sqlite3.Connection) -> None:
            db.close()

        if self._db is not None:
            await self._run(close)
            self._db = None
        self._pool.shutdown(wait=True)


def open_state(url: str) -> StateStore:
    if url.startswith("sqlite:///"):
        return SqliteState(Path(url.removeprefix("sqlite:///")))
    if url == "memory:":
        return MemoryState()
    if url.startswith(("redis://", "rediss://")):
        raise ConfigError(f"state.url {url!r}: Redis state is not available in this version")
    raise ConfigError(f"state.url {url!r}: unsupported scheme")
