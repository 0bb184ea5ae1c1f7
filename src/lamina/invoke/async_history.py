"""What became of asynchronous events that did not simply succeed: retries exhausted,
too old, dropped deliveries. Kept for a week so `lamina async` can show why."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from lamina.store.state import StateStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS async_history (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL, region TEXT NOT NULL, function TEXT NOT NULL,
    request_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    condition TEXT,
    attempts INTEGER NOT NULL,
    finished REAL NOT NULL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS async_history_by_function ON async_history (account, region, function, id);
"""

RETENTION_SECONDS = 7 * 24 * 3600


class AsyncHistory:
    def __init__(self, store: StateStore) -> None:
        store.add_schema(SCHEMA)
        self.store = store

    async def prune(self) -> None:
        cutoff = time.time() - RETENTION_SECONDS
        await self.store.run(lambda db: db.execute("DELETE FROM async_history WHERE finished < ?", (cutoff,)))

    @staticmethod
    def write(db: sqlite3.Connection, account: str, region: str, function: str, request_id: str, outcome: str,
              condition: str | None, attempts: int, detail: str | None) -> None:
        db.execute("INSERT INTO async_history (account, region, function, request_id, outcome, condition, attempts, "
                   "finished, detail) VALUES (?,?,?,?,?,?,?,?,?)",
                   (account, region, function, request_id, outcome, condition, attempts, time.time(), detail))

    async def recent(self, account: str, region: str, function: str | None, limit: int = 100) -> list[dict[str, Any]]:
        def _read(db: sqlite3.Connection) -> list[dict[str, Any]]:
            sql = ("SELECT function, request_id, outcome, condition, attempts, finished, detail FROM async_history "
                   "WHERE account = ? AND region = ?")
            args: list[Any] = [account, region]
            if function:
                sql += " AND function = ?"
                args.append(function)
            rows = db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
            return [{"function": f, "request_id": r, "outcome": o, "condition": c, "attempts": a, "finished": t,
                     "detail": d} for f, r, o, c, a, t, d in rows]

        return await self.store.run(_read)
