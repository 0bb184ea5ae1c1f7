"""State machines (with every revision executions may still run) and activities.

Both are few and read on every request, so they live in memory and are written through to
the store. A state machine's configuration is a `Revision`; UpdateStateMachine makes a new
one, and an execution names the revision it started with, so it keeps running the old
definition (as on AWS). Revisions are rows of their own, read back (and parsed once) when
an execution of an old revision is resumed.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from lamina.states.model import StateMachine
from lamina.states.validation import parse_definition
from lamina.store.group_commit import GroupCommitter
from lamina.store.state import StateStore

REVISIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS sfn_revisions (
    id TEXT PRIMARY KEY,
    doc BLOB NOT NULL
) WITHOUT ROWID;
"""
MACHINE_KIND = "sfn-state-machine"
ACTIVITY_KIND = "sfn-activity"


@dataclass
class Revision:
    id: str
    state_machine_arn: str
    name: str
    type: str
    definition: str
    role_arn: str
    logging: dict[str, Any]
    tracing: dict[str, Any]
    update_date: float


@dataclass
class MachineResource:
    arn: str
    name: str
    account_id: str
    region: str
    type: str
    creation_date: float
    revision: Revision
    tags: dict[str, str] = field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> MachineResource:
        return cls(**{**doc, "revision": Revision(**doc["revision"])})


@dataclass
class Activity:
    arn: str
    name: str
    account_id: str
    region: str
    creation_date: float
    tags: dict[str, str] = field(default_factory=dict)


def _put(db: sqlite3.Connection, kind: str, key: str, doc: dict[str, Any]) -> None:
    db.execute("INSERT OR REPLACE INTO resources (kind, key, doc) VALUES (?, ?, ?)", (kind, key, orjson.dumps(doc)))


class Registry:
    def __init__(self, store: StateStore, commits: GroupCommitter) -> None:
        store.add_schema(REVISIONS_SCHEMA)
        self.store = store
        self.commits = commits
        self.machines: dict[str, MachineResource] = {}
        self.activities: dict[str, Activity] = {}
        self._parsed: dict[str, tuple[Revision, StateMachine]] = {}

    async def load(self) -> None:
        self.machines = {arn: MachineResource.from_doc(doc) for arn, doc in await self.store.load(MACHINE_KIND)}
        self.activities = {arn: Activity(**doc) for arn, doc in await self.store.load(ACTIVITY_KIND)}

    def wipe(self) -> None:
        self.machines.clear()
        self.activities.clear()
        self._parsed.clear()

    # ------------------------------------------------------------ state machines

    async def save_machine(self, machine: MachineResource, parsed: StateMachine | None = None,
                           new_revision: bool = False) -> None:
        """Write the machine (and, when its configuration changed, its new revision) in one transaction."""
        doc = machine.to_doc()
        revision = machine.revision

        def _write(db: sqlite3.Connection) -> None:
            if new_revision:
                db.execute("INSERT OR REPLACE INTO sfn_revisions (id, doc) VALUES (?, ?)",
                           (revision.id, orjson.dumps(asdict(revision))))
            _put(db, MACHINE_KIND, machine.arn, doc)

        await self.commits.submit(_write)
        self.machines[machine.arn] = machine
        if parsed is not None:
            self._parsed[revision.id] = (revision, parsed)

    async def delete_machine(self, arn: str) -> None:
        def _delete(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM resources WHERE kind=? AND key=?", (MACHINE_KIND, arn))

        await self.commits.submit(_delete)
        self.machines.pop(arn, None)

    async def revision(self, revision_id: str) -> tuple[Revision, StateMachine]:
        """A revision and its parsed definition (parsed once per process)."""
        cached = self._parsed.get(revision_id)
        if cached is not None:
            return cached

        def _read(db: sqlite3.Connection) -> bytes | None:
            row = db.execute("SELECT doc FROM sfn_revisions WHERE id=?", (revision_id,)).fetchone()
            return row[0] if row else None

        doc = await self.store.run(_read)
        if doc is None:
            raise LookupError(f"state machine revision {revision_id} is missing")
        revision = Revision(**orjson.loads(doc))
        parsed = (revision, parse_definition(revision.definition))
        self._parsed[revision_id] = parsed
        return parsed

    # ------------------------------------------------------------ activities

    async def save_activity(self, activity: Activity) -> None:
        doc = asdict(activity)
        await self.commits.submit(lambda db: _put(db, ACTIVITY_KIND, activity.arn, doc))
        self.activities[activity.arn] = activity

    async def delete_activity(self, arn: str) -> None:
        def _delete(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM resources WHERE kind=? AND key=?", (ACTIVITY_KIND, arn))

        await self.commits.submit(_delete)
        self.activities.pop(arn, None)
