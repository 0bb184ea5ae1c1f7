"""Checkpoint and resume, callbacks by task token, stopping, and the shape of history events."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from typing import Any

import pytest

from lamina.states import InMemoryDriver, Interpreter, SetTimer, parse_definition
from lamina.states.errors import TaskDoesNotExist
from lamina.states.execution import ExecutionState
from lamina.states.memory import VirtualClock
from lamina.states.tasks import TaskOutcome, TaskRequest

from .fakes import ScriptedTaskRunner

START = 1_700_000_000.0

# A machine that exercises every kind of frame and blocking point: tasks with a retry,
# waits, a Map of Parallels, variables and JSONata.
BUSY_MACHINE = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Assign": {"factor": 3}, "Next": "Call"},
        "Call": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f", "attempt.$": "$$.State.RetryCount"},
            "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 4, "MaxAttempts": 2}],
            "ResultPath": "$.called",
            "Next": "Nap",
        },
        "Nap": {"Type": "Wait", "Seconds": 30, "Next": "Fan"},
        "Fan": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 2,
            "ItemProcessor": {
                "StartAt": "Both",
                "States": {
                    "Both": {
                        "Type": "Parallel",
                        "End": True,
                        "Branches": [
                            {
                                "StartAt": "Sleep",
                                "States": {"Sleep": {"Type": "Wait", "SecondsPath": "$", "End": True}},
                            },
                            {
                                "StartAt": "Scale",
                                "States": {
                                    "Scale": {
                                        "Type": "Pass",
                                        "QueryLanguage": "JSONata",
                                        "Output": "{% $states.input * $factor %}",
                                        "End": True,
                                    }
                                },
                            },
                        ],
                    },
                },
            },
            "ResultPath": "$.fanned",
            "Next": "Done",
        },
        "Done": {"Type": "Pass", "Parameters": {"called.$": "$.called", "fanned.$": "$.fanned"}, "End": True},
    },
}
BUSY_INPUT = {"items": [5, 1, 2]}


class FlakyFunction:
    """The outside world: fails a call's first attempt, answers the others. It does not
    restart with lamina, and it answers by what it is asked, not by how often."""

    async def run(self, request: TaskRequest) -> TaskOutcome:
        if request.input["attempt"] == 0:
            return TaskOutcome.failed("Flaky", "first attempt")
        return TaskOutcome.succeeded(request.input)

    async def cancel(self, task_token: str) -> None:
        return None


def _driver(
    definition: dict[str, Any], tasks: dict[str, Any] | None, seed: int = 1
) -> tuple[InMemoryDriver, Any]:
    clock = VirtualClock(START)
    runner = ScriptedTaskRunner(tasks, clock) if tasks is not None else FlakyFunction()
    counter = itertools.count(1)
    driver = InMemoryDriver(
        parse_definition(json.dumps(definition)),
        runner,
        clock,
        rng=random.Random(seed),
        new_token=lambda: f"token-{next(counter)}",
    )
    return driver, runner


def _types(history: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in history]


def test_uninterrupted_reference_run() -> None:
    driver, _ = _driver(BUSY_MACHINE, None)
    execution = asyncio.run(driver.start(BUSY_INPUT))
    assert execution.status == "SUCCEEDED"
    assert execution.output == {
        "called": {"FunctionName": "f", "attempt": 1},
        "fanned": [[5, 15], [1, 3], [2, 6]],
    }
    # 4 s retry back-off, 30 s nap, then items 5 and 1 run together; 2 starts when 1 ends at +1 s.
    assert execution.state.stop_time - START == 4 + 30 + 5


@pytest.mark.parametrize("pause_after", range(1, 8))
def test_checkpoint_and_resume_in_a_fresh_engine(pause_after: int) -> None:
    reference, _ = _driver(BUSY_MACHINE, None)
    expected = asyncio.run(reference.start(BUSY_INPUT))
    assert expected.steps == 8  # so every pause point below is mid-execution

    first, _ = _driver(BUSY_MACHINE, None)

    async def interrupted() -> tuple[str, list[dict[str, Any]], float]:
        execution = await first.start(BUSY_INPUT, max_steps=pause_after)
        assert not execution.state.done
        # What the store would keep: the checkpoint and the history, as JSON text.
        return (
            json.dumps(execution.checkpoint()),
            json.loads(json.dumps(execution.history)),
            first.clock.now(),
        )

    checkpoint, history, paused_at = asyncio.run(interrupted())

    # A new process: new interpreter and driver, the clock where it stopped. A task that
    # was in flight at the checkpoint is run again (at-least-once), as after a crash.
    second, _ = _driver(BUSY_MACHINE, None)
    second.clock.advance_to(paused_at)
    resumed = asyncio.run(second.resume(json.loads(checkpoint), history))
    assert resumed.status == "SUCCEEDED"
    assert resumed.output == expected.output
    assert resumed.state.stop_time == expected.state.stop_time
    assert _types(resumed.history) == _types(expected.history)
    assert [e["id"] for e in resumed.history] == list(range(1, len(resumed.history) + 1))


def test_checkpoint_is_plain_json_and_round_trips() -> None:
    driver, _ = _driver(BUSY_MACHINE, None)

    async def scenario() -> dict[str, Any]:
        execution = await driver.start(BUSY_INPUT, max_steps=6)
        return execution.checkpoint()

    checkpoint = asyncio.run(scenario())
    text = json.dumps(checkpoint)
    again = ExecutionState.from_json(json.loads(text)).to_json()
    assert json.loads(json.dumps(again)) == json.loads(text)


def test_outstanding_effects_rearm_waits_and_tasks() -> None:
    machine = parse_definition(
        json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": True}}})
    )
    interpreter = Interpreter(machine)
    state, step = interpreter.start(InMemoryDriver(machine, None).info(), {}, START)  # type: ignore[arg-type]
    assert [type(e).__name__ for e in step.effects] == ["SetTimer"]
    # After a restart, a fresh interpreter finds the same timer from the checkpoint alone.
    restored = ExecutionState.from_json(json.loads(json.dumps(state.to_json())))
    rearmed = Interpreter(machine).outstanding(restored)
    assert rearmed == [SetTimer(step.effects[0].timer_id, START + 100)]  # type: ignore[union-attr]
    done = Interpreter(machine).timer_fired(restored, step.effects[0].timer_id, START + 100)  # type: ignore[union-attr]
    assert _types(done.events) == ["WaitStateExited", "ExecutionSucceeded"]
    # A timer that fires twice (a restart between firing and checkpoint) is ignored.
    assert Interpreter(machine).timer_fired(restored, "t1", START + 100).events == []


CALLBACK_MACHINE = {
    "StartAt": "Ask",
    "States": {
        "Ask": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "approver", "Payload": {"token.$": "$$.Task.Token"}},
            "HeartbeatSeconds": 60,
            "TimeoutSeconds": 3600,
            "ResultPath": "$.answer",
            "End": True,
        },
    },
}


def test_wait_for_task_token_then_success_after_resume() -> None:
    driver, runner = _driver(CALLBACK_MACHINE, {"Ask": [{"pending": True, "submitted": {"StatusCode": 200}}]})

    async def scenario() -> Any:
        execution = await driver.start({"order": 7}, until=START + 50)
        assert execution.status == "RUNNING"  # waiting for the token
        assert runner.requests[0].input == {"FunctionName": "approver", "Payload": {"token": "token-1"}}
        assert _types(execution.history)[-3:] == ["TaskScheduled", "TaskStarted", "TaskSubmitted"]
        # A heartbeat within the window keeps it alive past the first 60 s.
        driver.send_task_heartbeat(execution, "token-1")
        # Restart: only the checkpoint survives.
        fresh, _ = _driver(CALLBACK_MACHINE, {})
        fresh.clock.advance_to(START + 100)
        resumed = await fresh.resume(
            json.loads(json.dumps(execution.checkpoint())), execution.history, run=False
        )
        fresh.send_task_success(resumed, "token-1", {"approved": True})
        await fresh.run(resumed)
        return resumed

    execution = asyncio.run(scenario())
    assert execution.status == "SUCCEEDED"
    assert execution.output == {"order": 7, "answer": {"approved": True}}
    assert _types(execution.history)[-3:] == ["TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]


def test_heartbeat_missed_while_waiting_for_token() -> None:
    driver, runner = _driver(CALLBACK_MACHINE, {"Ask": [{"pending": True}]})
    execution = asyncio.run(driver.start({}))
    assert runner.cancelled == ["token-1"]  # the runner hears that the token is dead
    assert execution.status == "FAILED"
    assert execution.state.error == "States.HeartbeatTimeout"
    assert execution.state.stop_time == START + 60
    with pytest.raises(TaskDoesNotExist):
        driver.send_task_success(execution, "token-1", {})


def test_send_task_failure_is_caught() -> None:
    definition = json.loads(json.dumps(CALLBACK_MACHINE))
    definition["States"]["Ask"]["Catch"] = [
        {"ErrorEquals": ["Rejected"], "ResultPath": "$.why", "Next": "No"}
    ]
    definition["States"]["No"] = {"Type": "Pass", "End": True}
    del definition["States"]["Ask"]["HeartbeatSeconds"]
    driver, _ = _driver(definition, {"Ask": [{"pending": True}]})

    async def scenario() -> Any:
        execution = await driver.start({}, until=START + 10)
        driver.send_task_failure(execution, "token-1", "Rejected", "not today")
        return await driver.run(execution)

    execution = asyncio.run(scenario())
    assert execution.output == {"why": {"Error": "Rejected", "Cause": "not today"}}


def test_activity_started_by_a_worker() -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Task",
                "Resource": "arn:aws:states:us-east-1:000000000000:activity:work",
                "End": True,
            }
        },
    }
    driver, _ = _driver(definition, {"A": [{"pending": True}]})

    async def scenario() -> Any:
        execution = await driver.start({"job": 1}, until=START)
        driver.task_started(execution, "token-1", "worker-1")
        driver.send_task_success(execution, "token-1", {"done": 1})
        return await driver.run(execution)

    execution = asyncio.run(scenario())
    assert _types(execution.history) == [
        "ExecutionStarted",
        "TaskStateEntered",
        "ActivityScheduled",
        "ActivityStarted",
        "ActivitySucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    assert execution.history[3]["activityStartedEventDetails"] == {"workerName": "worker-1"}


def test_stop_aborts_everything() -> None:
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "End": True,
                "Branches": [
                    {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": True}}},
                    {
                        "StartAt": "T",
                        "States": {
                            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}
                        },
                    },
                ],
            }
        },
    }
    driver, _ = _driver(definition, {"T": [{"pending": True}]})

    async def scenario() -> Any:
        execution = await driver.start({}, max_steps=1)
        driver.stop(execution, "Operator", "changed my mind")
        return execution

    execution = asyncio.run(scenario())
    assert execution.status == "ABORTED"
    assert execution.timers == {}
    assert _types(execution.history)[-4:] == [
        "WaitStateAborted",
        "TaskStateAborted",
        "ParallelStateAborted",
        "ExecutionAborted",
    ]
    assert execution.history[-1]["executionAbortedEventDetails"] == {
        "error": "Operator",
        "cause": "changed my mind",
    }


def test_history_event_details() -> None:
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "TimeoutSeconds": 30,
                "Parameters": {"FunctionName": "f", "Payload.$": "$"},
                "Assign": {"seen.$": "$.ok"},
                "End": True,
            }
        },
    }
    driver, _ = _driver(definition, {"T": [{"output": {"ok": True}}]})
    execution = asyncio.run(driver.start({"a": 1}))
    events = {e["type"]: e for e in execution.history}
    assert events["ExecutionStarted"]["executionStartedEventDetails"] == {
        "input": '{"a":1}',
        "inputDetails": {"truncated": False},
        "roleArn": "arn:aws:iam::000000000000:role/lamina-states",
    }
    assert events["TaskStateEntered"]["stateEnteredEventDetails"] == {
        "name": "T",
        "input": '{"a":1}',
        "inputDetails": {"truncated": False},
    }
    assert events["TaskScheduled"]["taskScheduledEventDetails"] == {
        "resourceType": "lambda",
        "resource": "invoke",
        "region": "us-east-1",
        "parameters": '{"FunctionName":"f","Payload":{"a":1}}',
        "timeoutInSeconds": 30,
    }
    assert events["TaskStarted"]["taskStartedEventDetails"] == {
        "resourceType": "lambda",
        "resource": "invoke",
    }
    assert events["TaskSucceeded"]["taskSucceededEventDetails"] == {
        "resourceType": "lambda",
        "resource": "invoke",
        "output": '{"ok":true}',
        "outputDetails": {"truncated": False},
    }
    assert events["TaskStateExited"]["stateExitedEventDetails"] == {
        "name": "T",
        "output": '{"ok":true}',
        "outputDetails": {"truncated": False},
        "assignedVariables": {"seen": "true"},
        "assignedVariablesDetails": {"truncated": False},
    }
    assert events["ExecutionSucceeded"]["timestamp"] == START


def test_full_jitter_stays_within_the_backoff() -> None:
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "End": True,
                "Retry": [
                    {
                        "ErrorEquals": ["E"],
                        "IntervalSeconds": 10,
                        "BackoffRate": 2,
                        "MaxAttempts": 3,
                        "JitterStrategy": "FULL",
                    }
                ],
            }
        },
    }
    waits_seen = []
    for seed in range(20):
        driver, _ = _driver(definition, {"T": [{"error": "E"}]}, seed=seed)
        execution = asyncio.run(driver.start({}))
        times = [e["timestamp"] for e in execution.history if e["type"] == "TaskScheduled"]
        waits = [b - a for a, b in itertools.pairwise(times)]
        assert len(waits) == 3
        for n, wait in enumerate(waits):
            assert 0 <= wait <= 10 * 2**n
        waits_seen.append(tuple(waits))
    # Jitter actually varies the delays (without it every run would wait 10, 20, 40).
    assert len(set(waits_seen)) > 1
    assert (10, 20, 40) not in waits_seen
