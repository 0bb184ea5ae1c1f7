"""Engine behaviour that a table row cannot express: payload limits, real clocks, concurrency."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from lamina.states import InMemoryDriver, Interpreter, RunTask, SystemClock, VirtualClock, parse_definition
from lamina.states.execution import ExecutionState
from lamina.states.tasks import TaskOutcome, TaskRequest

from .fakes import ScriptedTaskRunner


class SlowEcho:
    """Answers after a real (tiny) delay, as a Lambda invoke would."""

    def __init__(self) -> None:
        self.running = 0
        self.most_at_once = 0

    async def run(self, request: TaskRequest) -> TaskOutcome:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        await asyncio.sleep(0.01)
        self.running -= 1
        return TaskOutcome.succeeded(request.input)

    async def cancel(self, task_token: str) -> None:
        return None


def _machine(definition: dict[str, Any]) -> Any:
    return parse_definition(json.dumps(definition))


def test_output_over_256_kib_fails_with_data_limit_exceeded() -> None:
    machine = _machine(
        {
            "StartAt": "T",
            "States": {
                "T": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "End": True,
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                },
                "Caught": {"Type": "Succeed"},
            },
        }
    )
    clock = VirtualClock()
    runner = ScriptedTaskRunner({"T": [{"output": "x" * 300_000}]}, clock)
    execution = asyncio.run(InMemoryDriver(machine, runner, clock).start({}))
    assert execution.status == "FAILED"  # not even States.ALL catches it
    assert execution.state.error == "States.DataLimitExceeded"
    assert execution.state.cause == (
        "The state/task 'T' returned a result with a size exceeding the maximum number "
        "of bytes service limit."
    )


def test_express_style_run_on_the_system_clock_runs_branches_concurrently() -> None:
    machine = _machine(
        {
            "StartAt": "P",
            "States": {
                "P": {
                    "Type": "Parallel",
                    "End": True,
                    "Branches": [
                        {
                            "StartAt": f"T{i}",
                            "States": {
                                f"T{i}": {
                                    "Type": "Task",
                                    "Resource": "arn:aws:states:::lambda:invoke",
                                    "Parameters": {"i": i},
                                    "End": True,
                                }
                            },
                        }
                        for i in range(3)
                    ],
                }
            },
        }
    )
    runner = SlowEcho()
    execution = asyncio.run(InMemoryDriver(machine, runner, SystemClock()).start({}))
    assert execution.status == "SUCCEEDED"
    assert execution.output == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert runner.most_at_once == 3


def test_wait_on_the_system_clock() -> None:
    machine = _machine({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 0, "End": True}}})
    execution = asyncio.run(InMemoryDriver(machine, SlowEcho(), SystemClock()).start({"a": 1}))
    assert execution.output == {"a": 1}


def test_concurrent_executions_on_one_driver() -> None:
    machine = _machine(
        {
            "StartAt": "T",
            "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}},
        }
    )
    driver = InMemoryDriver(machine, SlowEcho(), SystemClock())

    async def many() -> list[Any]:
        infos = [driver.info(name=f"e{i}") for i in range(20)]
        return await asyncio.gather(*(driver.start({"n": i}, info) for i, info in enumerate(infos)))

    executions = asyncio.run(many())
    assert [e.output for e in executions] == [{"n": i} for i in range(20)]


def test_submitted_tasks_are_not_run_again_after_a_restart() -> None:
    machine = _machine(
        {
            "StartAt": "Ask",
            "States": {
                "Ask": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "End": True,
                }
            },
        }
    )
    interpreter = Interpreter(machine, new_token=lambda: "tok")
    info = InMemoryDriver(machine, SlowEcho()).info()
    state, step = interpreter.start(info, {}, 0.0)
    assert [type(e) for e in step.effects] == [RunTask]
    # Crash before the runner answered: the task runs again on resume.
    restored = ExecutionState.from_json(json.loads(json.dumps(state.to_json())))
    assert [e.resumed for e in interpreter.outstanding(restored) if isinstance(e, RunTask)] == [True]
    # Once it was handed over (TaskSubmitted), a restart only waits for the token.
    interpreter.task_submitted(state, "tok", {"StatusCode": 200}, 1.0)
    restored = ExecutionState.from_json(json.loads(json.dumps(state.to_json())))
    assert interpreter.outstanding(restored) == []
    done = interpreter.task_succeeded(restored, "tok", {"ok": 1}, 2.0)
    assert done.events[-1]["type"] == "ExecutionSucceeded"
