"""IntegrationTaskRunner beyond Lambda: activities and child executions (.sync, .sync:2)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from lamina.states import InMemoryDriver, IntegrationTaskRunner, VirtualClock, parse_definition

CHILD_ARN = "arn:aws:states:us-east-1:000000000000:stateMachine:child"


class FakeActivities:
    def __init__(self) -> None:
        self.scheduled: list[tuple[str, str, str, int | None]] = []

    async def schedule(
        self, activity_arn: str, task_token: str, input_text: str, heartbeat_seconds: int | None
    ) -> None:
        self.scheduled.append((activity_arn, task_token, input_text, heartbeat_seconds))


class FakeExecutions:
    def __init__(self, status: str = "SUCCEEDED") -> None:
        self.status = status
        self.started: list[tuple[str, str, str | None, str]] = []

    async def start_execution(
        self, state_machine_arn: str, input_text: str, name: str | None, parent_execution_arn: str
    ) -> dict[str, Any]:
        self.started.append((state_machine_arn, input_text, name, parent_execution_arn))
        return {
            "executionArn": f"{CHILD_ARN.replace('stateMachine', 'execution')}:{name}",
            "startDate": 100.5,
        }

    async def wait_for_execution(self, execution_arn: str) -> dict[str, Any]:
        described = {
            "executionArn": execution_arn,
            "stateMachineArn": CHILD_ARN,
            "name": "kid",
            "status": self.status,
            "startDate": 100.5,
            "stopDate": 101.0,
            "input": '{"x":1}',
        }
        if self.status == "SUCCEEDED":
            described["output"] = '{"y":2}'
        else:
            described.update(error="ChildError", cause="child broke")
        return described


def _run(resource: str, executions: FakeExecutions) -> Any:
    machine = parse_definition(
        json.dumps(
            {
                "StartAt": "S",
                "States": {
                    "S": {
                        "Type": "Task",
                        "Resource": resource,
                        "End": True,
                        "Parameters": {"StateMachineArn": CHILD_ARN, "Input": {"x": 1}, "Name": "kid"},
                    }
                },
            }
        )
    )
    driver = InMemoryDriver(machine, IntegrationTaskRunner(executions=executions), VirtualClock())
    return asyncio.run(driver.start({}))


def test_start_execution_fire_and_forget() -> None:
    executions = FakeExecutions()
    execution = _run("arn:aws:states:::states:startExecution", executions)
    assert execution.output == {
        "ExecutionArn": "arn:aws:states:us-east-1:000000000000:execution:child:kid",
        "StartDate": 100500,
    }
    assert executions.started == [(CHILD_ARN, '{"x":1}', "kid", execution.state.info.execution_arn)]


def test_start_execution_sync_returns_output_as_text() -> None:
    execution = _run("arn:aws:states:::states:startExecution.sync", FakeExecutions())
    assert execution.output["Output"] == '{"y":2}'
    assert execution.output["Status"] == "SUCCEEDED"
    assert execution.output["StopDate"] == 101000


def test_start_execution_sync2_returns_output_as_json() -> None:
    execution = _run("arn:aws:states:::states:startExecution.sync:2", FakeExecutions())
    assert execution.output["Output"] == {"y": 2}
    assert execution.output["Input"] == {"x": 1}


def test_failed_child_fails_the_task() -> None:
    execution = _run("arn:aws:states:::states:startExecution.sync", FakeExecutions("FAILED"))
    assert execution.status == "FAILED"
    assert execution.state.error == "States.TaskFailed"
    cause = json.loads(execution.state.cause)
    assert (cause["Status"], cause["Error"], cause["Cause"]) == ("FAILED", "ChildError", "child broke")


def test_activity_is_scheduled_and_completed_by_token() -> None:
    arn = "arn:aws:states:us-east-1:000000000000:activity:review"
    machine = parse_definition(
        json.dumps(
            {
                "StartAt": "A",
                "States": {
                    "A": {
                        "Type": "Task",
                        "Resource": arn,
                        "HeartbeatSeconds": 30,
                        "Parameters": {"doc.$": "$.doc"},
                        "End": True,
                    }
                },
            }
        )
    )
    activities = FakeActivities()
    clock = VirtualClock()
    driver = InMemoryDriver(machine, IntegrationTaskRunner(activities=activities), clock)

    async def scenario() -> Any:
        execution = await driver.start({"doc": "d1"}, until=clock.now() + 10)
        ((activity_arn, token, input_text, heartbeat),) = activities.scheduled
        assert (activity_arn, input_text, heartbeat) == (arn, '{"doc":"d1"}', 30)
        driver.task_started(execution, token, "reviewer")
        driver.send_task_success(execution, token, {"verdict": "ok"})
        return await driver.run(execution)

    execution = asyncio.run(scenario())
    assert execution.output == {"verdict": "ok"}


def test_unsupported_integration_fails_clearly() -> None:
    machine = parse_definition(
        json.dumps(
            {
                "StartAt": "S",
                "States": {
                    "S": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "End": True}
                },
            }
        )
    )
    execution = asyncio.run(InMemoryDriver(machine, IntegrationTaskRunner(), VirtualClock()).start({}))
    assert execution.state.error == "States.Runtime"
    assert (
        execution.state.cause == "The resource 'arn:aws:states:::dynamodb:putItem' is not supported by lamina"
    )
