"""The durable driver in-process, on a real store: waiting executions are rows, not
coroutines or memory, and timers beyond the scheduler's horizon are found by polling."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from lamina.context import RequestContext
from lamina.states.service import timers
from lamina.states.service.stepfunctions import StepFunctions
from lamina.store.group_commit import GroupCommitter
from lamina.store.state import StateStore

CTX = RequestContext("000000000000", "us-east-1", "test")
ROLE = "arn:aws:iam::000000000000:role/r"


class NoLambda:
    async def invoke(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("these machines call no function")


class Service:
    def __init__(self, data: Path) -> None:
        self.store = StateStore(data / "lamina.db")
        self.commits = GroupCommitter(self.store)
        self.sfn = StepFunctions(self.store, self.commits, NoLambda())  # type: ignore[arg-type]

    async def __aenter__(self) -> StepFunctions:
        await self.store.open()
        await self.commits.start()
        await self.sfn.start()
        return self.sfn

    async def __aexit__(self, *_: object) -> None:
        await self.sfn.close()
        await self.commits.close()
        await self.store.close()


async def machine(sfn: StepFunctions, name: str, definition: dict[str, Any]) -> str:
    created = await sfn.machines_api.create_state_machine(
        CTX, {"name": name, "definition": json.dumps(definition), "roleArn": ROLE})
    return created["stateMachineArn"]


async def settled(sfn: StepFunctions) -> None:
    """Until no execution waits for its turn or is in memory (states run after StartExecution)."""
    for _ in range(1000):
        if not sfn.executions.turns and not sfn.executions.in_memory:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(sfn.executions.turns)} turns and {sfn.executions.in_memory} executions left")


async def count_rows(sfn: StepFunctions, table: str) -> int:
    return await sfn.executions.store.store.run(lambda db: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_thousands_of_waiting_executions_are_only_rows(tmp_path: Path) -> None:
    executions = 2_000

    async def scenario() -> None:
        async with Service(tmp_path) as sfn:
            arn = await machine(sfn, "sleepy", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600,
                                                                                  "End": True}}})
            tasks_before = len(asyncio.all_tasks())
            for batch in range(0, executions, 250):
                await asyncio.gather(*(sfn.executions_api.start_execution(CTX, {"stateMachineArn": arn})
                                       for _ in range(batch, batch + 250)))
            await settled(sfn)
            assert sfn.executions.in_memory == 0
            assert sfn.executions.timers.pending == 0  # an hour away: beyond the scheduler's horizon
            assert len(asyncio.all_tasks()) == tasks_before
            assert await count_rows(sfn, "sfn_timers") == executions
            listed = await sfn.executions_api.list_executions(
                CTX, {"stateMachineArn": arn, "statusFilter": "RUNNING", "maxResults": 1000})
            assert len(listed["executions"]) == 1000 and "nextToken" in listed
        async with Service(tmp_path) as sfn:  # a restart loads none of them either
            assert sfn.executions.in_memory == 0
            assert sfn.executions.timers.pending == 0
            assert await count_rows(sfn, "sfn_timers") == executions

    asyncio.run(scenario())


def test_a_timer_beyond_the_horizon_is_found_by_polling(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(timers, "HORIZON", 0.4)

    async def scenario() -> None:
        async with Service(tmp_path) as sfn:
            arn = await machine(sfn, "later", {"StartAt": "W", "States": {
                "W": {"Type": "Wait", "Seconds": 1, "Next": "P"}, "P": {"Type": "Pass", "Result": 1, "End": True}}})
            execution = (await sfn.executions_api.start_execution(CTX, {"stateMachineArn": arn}))["executionArn"]
            assert sfn.executions.timers.pending == 0  # not in memory yet: only its row
            for _ in range(300):
                described = await sfn.executions_api.describe_execution(CTX, {"executionArn": execution})
                if described["status"] != "RUNNING":
                    break
                await asyncio.sleep(0.02)
            assert (described["status"], described.get("output")) == ("SUCCEEDED", "1")
            assert await count_rows(sfn, "sfn_timers") == 0

    asyncio.run(scenario())
