"""Resource state in SQLite.

Services keep their resources in memory and write them through here; the store is read
only at start-up. Each resource is one JSON document under a (kind, key) pair, so new
resource types need no schema change. All SQLite work runs on one dedicated thread, so
the event loop never blocks on the database and writes are serialised.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    kind TEXT NOT NULL,
    key  TEXT NOT NULL,
    doc  BLOB NOT NULL,
    PRIMARY KEY (kind, key)
);
"""


@dataclass(frozen=True)
class Put:
    kind: str
    key: str
    doc: Any


@dataclass(frozen=True)
class Delete:
    kind: str
    key: str


class StateStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lamina-sqlite")
        self._db: sqlite3.Connection | None = None
        self._schemas: list[str] = [SCHEMA]

    def add_schema(self, ddl: str) -> None:
        """Other modules (queues, logs) register their tables before `open()`."""
        self._schemas.append(ddl)

    async def run(self, fn, *args):
        """Run `fn(connection, *args)` on the database thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, self._db, *args)

    async def open(self) -> None:
        def _open(_: Any) -> None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            for ddl in self._schemas:
                db.executescript(ddl)
            self._db = db

        await self.run(_open)

    async def close(self) -> None:
        if self._db is not None:
            await self.run(lambda db: db.close())
            self._db = None
        self._executor.shutdown(wait=True)

    async def load(self, kind: str) -> list[tuple[str, Any]]:
        def _load(db: sqlite3.Connection) -> list[tuple[str, Any]]:
            rows = db.execute("SELECT key, doc FROM resources WHERE kind = ? ORDER BY key", (kind,))
            return [(key, orjson.loads(doc)) for key, doc in rows]

        return await self.run(_load)

    async def write(self, ops: Iterable[Put | Delete]) -> None:
        """Apply all operations in one transaction."""
        encoded = [(op, orjson.dumps(op.doc) if isinstance(op, Put) else None) for op in ops]

        def _write(db: sqlite3.Connection) -> None:
            with transaction(db):
                for op, doc in encoded:
                    if doc is not None:
                        db.execute("INSERT OR REPLACE INTO resources (kind, key, doc) VALUES (?, ?, ?)",
                                   (op.kind, op.key, doc))
                    else:
                        db.execute("DELETE FROM resources WHERE kind = ? AND key = ?", (op.kind, op.key))

        await self.run(_write)

    async def wipe(self) -> None:
        """Delete every row of every table (development reset)."""

        def _wipe(db: sqlite3.Connection) -> None:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            with transaction(db):
                for table in tables:
                    if not table.startswith("sqlite_"):
                        db.execute(f'DELETE FROM "{table}"')

        await self.run(_wipe)


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
