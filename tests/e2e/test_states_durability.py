"""Standard executions survive `kill -9` of lamina: a restart continues each one from its last
completed step, with a continuous history and the right output."""

from __future__ import annotations

import json
import signal

import pytest
from sfn_helpers import (
    assert_continuous,
    create_machine,
    deploy,
    executions_of,
    finished,
    history,
    task_token_of,
    types,
    wait_for_event,
)

from helpers import LaminaServer

ACCEPTS = "def handler(event, context):\n    return {'accepted': True}\n"


class Restartable:
    """One data directory, one lamina at a time."""

    def __init__(self, data_dir) -> None:
        self.data_dir = data_dir
        self.server = LaminaServer(data_dir).start()

    def crash_and_restart(self) -> None:
        self.server.stop(signal.SIGKILL)
        self.server = LaminaServer(self.data_dir, port=self.server.port).start()

    def client(self, service: str = "stepfunctions"):
        return self.server.client(service)


@pytest.fixture
def lamina(tmp_path):
    instance = Restartable(tmp_path / "data")
    yield instance
    instance.server.stop()


def test_a_wait_survives_a_crash(lamina):
    sfn = lamina.client()
    definition = {"StartAt": "Before", "States": {
        "Before": {"Type": "Pass", "Parameters": {"n.$": "$.n", "step": "before"}, "Next": "Nap"},
        "Nap": {"Type": "Wait", "Seconds": 4, "Next": "After"},
        "After": {"Type": "Pass", "Parameters": {"n.$": "$.n", "step": "after"}, "End": True}}}
    execution = sfn.start_execution(stateMachineArn=create_machine(sfn, "napper", definition),
                                    input='{"n": 5}')["executionArn"]
    wait_for_event(sfn, execution, "WaitStateEntered")
    assert "WaitStateExited" not in types(history(sfn, execution))

    lamina.crash_and_restart()
    sfn = lamina.client()
    described = finished(sfn, execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"n": 5, "step": "after"}
    events = history(sfn, execution)
    assert_continuous(events)
    assert types(events) == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "WaitStateEntered",
                             "WaitStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    slept = events[4]["timestamp"] - events[3]["timestamp"]
    assert slept.total_seconds() >= 4


def test_a_lambda_task_survives_a_crash(lamina):
    lam = lamina.client("lambda")
    deploy(lam, "slow", "import time\ndef handler(event, context):\n    time.sleep(event['sleep'])\n"
                        "    return {'n': event['n'] + 1}\n", Timeout=30)
    sfn = lamina.client()
    definition = {"StartAt": "First", "States": {
        "First": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "OutputPath": "$.Payload",
                  "Parameters": {"FunctionName": "slow", "Payload": {"n.$": "$.n", "sleep": 3}}, "Next": "Second"},
        "Second": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "OutputPath": "$.Payload",
                   "Parameters": {"FunctionName": "slow", "Payload": {"n.$": "$.n", "sleep": 0}}, "End": True}}}
    execution = sfn.start_execution(stateMachineArn=create_machine(sfn, "slowly", definition),
                                    input='{"n": 1}')["executionArn"]
    wait_for_event(sfn, execution, "TaskStarted")
    assert "TaskSucceeded" not in types(history(sfn, execution))

    lamina.crash_and_restart()
    sfn = lamina.client()
    described = finished(sfn, execution)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"n": 3}
    events = history(sfn, execution)
    assert_continuous(events)
    assert types(events).count("ExecutionStarted") == 1
    # The interrupted task was run again, not scheduled again: one TaskScheduled per state.
    assert types(events).count("TaskScheduled") == 2
    assert types(events).count("TaskSucceeded") == 2


def test_a_sync_child_execution_survives_a_crash(lamina):
    sfn = lamina.client()
    child = create_machine(sfn, "child", {"StartAt": "Nap", "States": {
        "Nap": {"Type": "Wait", "Seconds": 3, "Next": "Done"},
        "Done": {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "End": True}}})
    parent = create_machine(sfn, "parent", {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2", "OutputPath": "$.Output",
        "Parameters": {"StateMachineArn": child, "Input": {"n.$": "$.n"}}, "End": True}}})
    execution = sfn.start_execution(stateMachineArn=parent, input='{"n": 21}')["executionArn"]
    wait_for_event(sfn, execution, "TaskStarted")
    [running_child] = executions_of(sfn, child)
    assert running_child["status"] == "RUNNING"

    lamina.crash_and_restart()
    sfn = lamina.client()
    described = finished(sfn, execution)
    assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", {"doubled": 42})
    # The parent's task ran again after the restart and found the child it had started.
    [child_execution] = sfn.list_executions(stateMachineArn=child)["executions"]
    assert child_execution["executionArn"] == running_child["executionArn"]
    assert child_execution["status"] == "SUCCEEDED"
    assert_continuous(history(sfn, execution))


def test_a_task_token_survives_a_crash(lamina):
    deploy(lamina.client("lambda"), "accepts", ACCEPTS)
    sfn = lamina.client()
    definition = {"StartAt": "Approve", "States": {"Approve": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "accepts", "Payload": {"token.$": "$$.Task.Token"}}, "End": True}}}
    execution = sfn.start_execution(stateMachineArn=create_machine(sfn, "approval", definition))["executionArn"]
    token = task_token_of(sfn, execution)
    wait_for_event(sfn, execution, "TaskSubmitted")

    lamina.crash_and_restart()
    sfn = lamina.client()
    sfn.send_task_success(taskToken=token, output='{"approved": true}')
    described = finished(sfn, execution)
    assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", {"approved": True})
    assert_continuous(history(sfn, execution))


def test_a_queued_activity_task_survives_a_crash(lamina):
    sfn = lamina.client()
    activity = sfn.create_activity(name="later")["activityArn"]
    machine = create_machine(sfn, "queued", {"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": activity, "End": True}}})
    execution = sfn.start_execution(stateMachineArn=machine, input='{"job": 1}')["executionArn"]
    wait_for_event(sfn, execution, "ActivityScheduled")

    lamina.crash_and_restart()
    sfn = lamina.client()
    task = sfn.get_activity_task(activityArn=activity, workerName="after-restart")
    assert json.loads(task["input"]) == {"job": 1}
    sfn.send_task_success(taskToken=task["taskToken"], output='{"done": 1}')
    described = finished(sfn, execution)
    assert (described["status"], described["output"]) == ("SUCCEEDED", '{"done":1}')
    events = history(sfn, execution)
    assert_continuous(events)
    assert types(events).count("ActivityScheduled") == 1
