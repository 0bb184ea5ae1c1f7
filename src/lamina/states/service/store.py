"""Executions in SQLite: one row per execution (its checkpoint while it runs), its history
events, its durable timers, and the tokens of tasks that timed out.

Every interpreter step becomes one `StepWrite`, committed in one transaction (through the
group committer, so concurrent executions share fsyncs): the checkpoint, the new events
and the timer changes land together or not at all.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from lamina.states.service import jsontext
from lamina.states.service.records import ExecutionRecord, ExecutionSummary
from lamina.store.group_commit import GroupCommitter
from lamina.store.state import StateStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS sfn_executions (
    id INTEGER PRIMARY KEY,
    arn TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    state_machine_arn TEXT NOT NULL,
    machine_type TEXT NOT NULL,
    revision TEXT NOT NULL,
    input TEXT NOT NULL,
    start_date REAL NOT NULL,
    trace_header TEXT,
    status TEXT NOT NULL,
    stop_date REAL,
    output TEXT,
    error TEXT,
    cause TEXT,
    checkpoint BLOB,
    rearm INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sfn_executions_by_machine ON sfn_executions (state_machine_arn, id);
CREATE INDEX IF NOT EXISTS sfn_executions_to_rearm ON sfn_executions (rearm) WHERE rearm = 1;
CREATE TABLE IF NOT EXISTS sfn_history (
    execution INTEGER NOT NULL,
    id INTEGER NOT NULL,
    event BLOB NOT NULL,
    PRIMARY KEY (execution, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sfn_timers (
    execution INTEGER NOT NULL,
    timer TEXT NOT NULL,
    fire_at REAL NOT NULL,
    PRIMARY KEY (execution, timer)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sfn_timers_due ON sfn_timers (fire_at);
CREATE TABLE IF NOT EXISTS sfn_expired_tokens (
    token TEXT PRIMARY KEY,
    execution INTEGER NOT NULL
) WITHOUT ROWID;
"""

_RECORD_COLUMNS = ("id, arn, name, account, region, state_machine_arn, machine_type, revision, input, start_date, "
                   "trace_header")
_SUMMARY_COLUMNS = f"{_RECORD_COLUMNS}, status, stop_date, output, error, cause"


def _summary(row: tuple) -> ExecutionSummary:
    return ExecutionSummary(ExecutionRecord(*row[:11]), *row[11:16])


@dataclass
class StepWrite:
    """What one step changes in the store."""

    execution_id: int
    status: str
    stop_date: float | None
    output: str | None
    error: str | None
    cause: str | None
    checkpoint: bytes | None  # None once the execution has ended
    rearm: bool  # a restart must re-run or re-queue some of its tasks
    new_record: ExecutionRecord | None = None  # the first step inserts the row
    events: list[tuple[int, bytes]] = field(default_factory=list)
    timers_set: list[tuple[str, float]] = field(default_factory=list)
    timers_deleted: list[str] = field(default_factory=list)
    expired_tokens: list[str] = field(default_factory=list)

    def __call__(self, db: sqlite3.Connection) -> None:
        eid = self.execution_id
        if self.new_record is not None:
            r = self.new_record
            db.execute(
                f"INSERT INTO sfn_executions ({_RECORD_COLUMNS}, status) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (r.id, r.arn, r.name, r.account_id, r.region, r.state_machine_arn, r.machine_type, r.revision_id,
                 r.input, r.start_date, r.trace_header, self.status))
        db.execute("UPDATE sfn_executions SET status=?, stop_date=?, output=?, error=?, cause=?, checkpoint=?, "
                   "rearm=? WHERE id=?",
                   (self.status, self.stop_date, self.output, self.error, self.cause, self.checkpoint,
                    int(self.rearm), eid))
        db.executemany("INSERT OR REPLACE INTO sfn_history (execution, id, event) VALUES (?,?,?)",
                       [(eid, event_id, doc) for event_id, doc in self.events])
        db.executemany("DELETE FROM sfn_timers WHERE execution=? AND timer=?",
                       [(eid, timer) for timer in self.timers_deleted])
        db.executemany("INSERT OR REPLACE INTO sfn_timers (execution, timer, fire_at) VALUES (?,?,?)",
                       [(eid, timer, fire_at) for timer, fire_at in self.timers_set])
        db.executemany("INSERT OR IGNORE INTO sfn_expired_tokens (token, execution) VALUES (?,?)",
                       [(token, eid) for token in self.expired_tokens])
        if self.checkpoint is None:  # ended: nothing can fire for it any more
            db.execute("DELETE FROM sfn_timers WHERE execution=?", (eid,))


class ExecutionStore:
    def __init__(self, store: StateStore, commits: GroupCommitter) -> None:
        store.add_schema(SCHEMA)
        self.store = store
        self.commits = commits

    async def write(self, step: StepWrite) -> None:
        await self.commits.submit(step)

    # ------------------------------------------------------------ executions

    async def next_id(self) -> int:
        def _max(db: sqlite3.Connection) -> int:
            return db.execute("SELECT coalesce(max(id), 0) FROM sfn_executions").fetchone()[0] + 1

        return await self.store.run(_max)

    async def load(self, execution_id: int) -> tuple[ExecutionSummary, dict[str, Any] | None] | None:
        """An execution's summary and checkpoint (None once it ended), or None if unknown."""
        def _load(db: sqlite3.Connection) -> tuple | None:
            return db.execute(f"SELECT {_SUMMARY_COLUMNS}, checkpoint FROM sfn_executions WHERE id=?",
                              (execution_id,)).fetchone()

        row = await self.store.run(_load)
        if row is None:
            return None
        return _summary(row), (jsontext.loads(row[16]) if row[16] is not None else None)

    async def find(self, arn: str) -> ExecutionSummary | None:
        def _find(db: sqlite3.Connection) -> tuple | None:
            return db.execute(f"SELECT {_SUMMARY_COLUMNS} FROM sfn_executions WHERE arn=?", (arn,)).fetchone()

        row = await self.store.run(_find)
        return _summary(row) if row else None

    async def list(self, machine_arn: str, status: str | None, before_id: int | None,
                   limit: int) -> list[ExecutionSummary]:
        """Most recent first (ids grow with start time)."""
        sql = f"SELECT {_SUMMARY_COLUMNS} FROM sfn_executions WHERE state_machine_arn=?"
        args: list[Any] = [machine_arn]
        if status:
            sql += " AND status=?"
            args.append(status)
        if before_id is not None:
            sql += " AND id<?"
            args.append(before_id)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)

        def _list(db: sqlite3.Connection) -> list[tuple]:
            return db.execute(sql, args).fetchall()

        return [_summary(row) for row in await self.store.run(_list)]

    async def running_ids(self, machine_arn: str) -> list[int]:
        def _ids(db: sqlite3.Connection) -> list[int]:
            return [r[0] for r in db.execute(
                "SELECT id FROM sfn_executions WHERE state_machine_arn=? AND status='RUNNING'", (machine_arn,))]

        return await self.store.run(_ids)

    async def ids_to_rearm(self) -> list[int]:
        def _ids(db: sqlite3.Connection) -> list[int]:
            return [r[0] for r in db.execute(
                "SELECT id FROM sfn_executions WHERE rearm=1 AND status='RUNNING' ORDER BY id")]

        return await self.store.run(_ids)

    # ------------------------------------------------------------ history

    async def history(self, execution_id: int, after: int | None, reverse: bool, limit: int) -> list[dict]:
        sql = "SELECT event FROM sfn_history WHERE execution=?"
        args: list[Any] = [execution_id]
        if after is not None:
            sql += " AND id<?" if reverse else " AND id>?"
            args.append(after)
        sql += f" ORDER BY id {'DESC' if reverse else 'ASC'} LIMIT ?"
        args.append(limit)

        def _read(db: sqlite3.Connection) -> list[bytes]:
            return [r[0] for r in db.execute(sql, args)]

        return [jsontext.loads(doc) for doc in await self.store.run(_read)]

    # ------------------------------------------------------------ timers and tokens

    async def timers_due(self, until: float) -> list[tuple[int, str, float]]:
        def _due(db: sqlite3.Connection) -> list[tuple[int, str, float]]:
            return db.execute("SELECT execution, timer, fire_at FROM sfn_timers WHERE fire_at<=? ORDER BY fire_at",
                              (until,)).fetchall()

        return await self.store.run(_due)

    async def delete_timer(self, execution_id: int, timer_id: str) -> None:
        def _delete(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM sfn_timers WHERE execution=? AND timer=?", (execution_id, timer_id))

        await self.commits.submit(_delete)

    async def token_expired(self, token: str) -> bool:
        def _expired(db: sqlite3.Connection) -> bool:
            return db.execute("SELECT 1 FROM sfn_expired_tokens WHERE token=?", (token,)).fetchone() is not None

        return await self.store.run(_expired)
