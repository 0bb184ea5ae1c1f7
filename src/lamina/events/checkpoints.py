"""Stream checkpoints: per mapping and shard, the last sequence number whose record is
settled (processed, filtered out or sent to the on-failure destination).

A checkpoint is committed (group commit, one fsync for many) before the poller moves past
its records, and in the same transaction as any on-failure record for them, so a restart
resumes right after the last settled record: nothing is skipped, nothing settled runs
again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from lamina.store.group_commit import GroupCommitter
from lamina.store.state import StateStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS esm_checkpoints (
    mapping  TEXT NOT NULL,
    shard    TEXT NOT NULL,
    sequence TEXT,                      -- last settled sequence number; NULL before the first
    since    REAL,                      -- StartingPosition LATEST: the shard is read from this time
    finished INTEGER NOT NULL DEFAULT 0, -- a closed shard read to its end
    window   TEXT,                      -- tumbling window: {"start": s, "state": {...}}
    PRIMARY KEY (mapping, shard)
);
"""

Write = Callable[[sqlite3.Connection], Any]


@dataclass
class Checkpoint:
    shard: str
    sequence: str | None = None
    since: float | None = None
    finished: bool = False
    window: dict[str, Any] | None = None


class Checkpoints:
    def __init__(self, store: StateStore, commits: GroupCommitter) -> None:
        store.add_schema(SCHEMA)
        self.store = store
        self.commits = commits

    async def load(self, mapping: str) -> dict[str, Checkpoint]:
        def _load(db: sqlite3.Connection) -> list[tuple]:
            return db.execute("SELECT shard, sequence, since, finished, window FROM esm_checkpoints "
                              "WHERE mapping = ?", (mapping,)).fetchall()

        return {row[0]: Checkpoint(row[0], row[1], row[2], bool(row[3]), orjson.loads(row[4]) if row[4] else None)
                for row in await self.store.run(_load)}

    @staticmethod
    def write(mapping: str, checkpoint: Checkpoint) -> Write:
        values = (mapping, checkpoint.shard, checkpoint.sequence, checkpoint.since, int(checkpoint.finished),
                  orjson.dumps(checkpoint.window).decode() if checkpoint.window is not None else None)

        def _write(db: sqlite3.Connection) -> None:
            db.execute("INSERT OR REPLACE INTO esm_checkpoints (mapping, shard, sequence, since, finished, window) "
                       "VALUES (?,?,?,?,?,?)", values)

        return _write

    async def save(self, mapping: str, checkpoint: Checkpoint, also: Iterable[Write] = ()) -> None:
        """Commit a checkpoint, together with `also` (e.g. an on-failure record)."""
        writes = [self.write(mapping, checkpoint), *also]

        def _all(db: sqlite3.Connection) -> None:
            for write in writes:
                write(db)

        await self.commits.submit(_all)

    async def forget(self, mapping: str) -> None:
        await self.commits.submit(lambda db: db.execute("DELETE FROM esm_checkpoints WHERE mapping = ?", (mapping,)))
