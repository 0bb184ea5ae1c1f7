"""Helpers for the Step Functions tests: definitions, waiting for executions, reading history."""

from __future__ import annotations

import json
import time
from typing import Any

from helpers import create_python_function, make_zip

ROLE = "arn:aws:iam::000000000000:role/states"
ACCOUNT = "000000000000"
REGION = "us-east-1"


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def deploy(lambda_client, name: str, source: str, **extra) -> str:
    return create_python_function(lambda_client, name, zip_bytes=make_zip({"app.py": source}), **extra)["FunctionArn"]


def create_machine(sfn, name: str, definition: dict[str, Any], **extra) -> str:
    return sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE,
                                    **extra)["stateMachineArn"]


def finished(sfn, execution_arn: str, timeout: float = 90) -> dict[str, Any]:
    """DescribeExecution once the execution has ended (a guard against hanging, not a timing claim)."""
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"{execution_arn} still running after {timeout}s")
        time.sleep(0.05)


def run(sfn, machine_arn: str, payload: Any = None, **extra) -> dict[str, Any]:
    started = sfn.start_execution(stateMachineArn=machine_arn, input=json.dumps(payload or {}), **extra)
    return finished(sfn, started["executionArn"])


def history(sfn, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    return events


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def wait_for_event(sfn, execution_arn: str, event_type: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        for event in history(sfn, execution_arn):
            if event["type"] == event_type:
                return event
        if time.monotonic() > deadline:
            raise AssertionError(f"no {event_type} in the history of {execution_arn} after {timeout}s")
        time.sleep(0.05)


def assert_continuous(events: list[dict[str, Any]]) -> None:
    """Ids run 1..n without gaps or repeats, and every event follows an earlier one."""
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    for event in events[1:]:
        assert 0 < event["previousEventId"] < event["id"]
    assert events[0]["type"] == "ExecutionStarted"


def task_token_of(sfn, execution_arn: str) -> str:
    """The token a `.waitForTaskToken` task passed on, read from its TaskScheduled parameters."""
    scheduled = wait_for_event(sfn, execution_arn, "TaskScheduled")
    parameters = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])
    return parameters["Payload"]["token"]


def executions_of(sfn, machine_arn: str, count: int = 1, timeout: float = 60) -> list[dict[str, Any]]:
    """ListExecutions once the machine has (at least) `count` executions."""
    deadline = time.monotonic() + timeout
    while len(found := sfn.list_executions(stateMachineArn=machine_arn)["executions"]) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{machine_arn} has {len(found)} executions, not {count}, after {timeout}s")
        time.sleep(0.05)
    return found
