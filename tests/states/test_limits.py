"""The engine's bounds: the 25,000-event history limit, Express's five minutes, inline Map's 40
iterations at once, steps that stop at their budget, and the one bounded JSON parser."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from lamina.states import InMemoryDriver, parse_definition
from lamina.states.effects import CancelTask, ContinueLater, RunTask
from lamina.states.execution import ExecutionInfo
from lamina.states.interpreter import HISTORY_LIMIT_CAUSE, Interpreter
from lamina.states.jsondoc import MAX_DEPTH, loads

from .fakes import ScriptedTaskRunner

# Loops `to` times, then succeeds: ExecutionStarted, 4 events a round, Succeed's 2, ExecutionSucceeded.
COUNTER = {"StartAt": "Add", "States": {
    "Add": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)", "to.$": "$.to"}, "Next": "Done?"},
    "Done?": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThanEqualsPath": "$.to",
                                              "Next": "Done"}], "Default": "Add"},
    "Done": {"Type": "Succeed"}}}


def run(definition: dict[str, Any], execution_input: Any, **limits: Any) -> Any:
    machine = parse_definition(json.dumps(definition))
    driver = InMemoryDriver(machine, ScriptedTaskRunner({}, None), **limits)
    return asyncio.run(driver.start(execution_input))


def test_the_25000th_event_ends_the_execution_unless_it_is_execution_succeeded() -> None:
    fits = run(COUNTER, {"n": 0, "to": 6249})  # 4 * 6249 + 4 = 25,000 events
    assert fits.status == "SUCCEEDED"
    assert (fits.history[-1]["type"], fits.history[-1]["id"]) == ("ExecutionSucceeded", 25_000)

    over = run(COUNTER, {"n": 0, "to": 6250})  # would be 25,004
    assert (over.status, over.state.error, over.state.cause) == ("FAILED", "States.Runtime", HISTORY_LIMIT_CAUSE)
    assert len(over.history) == 25_000
    last = over.history[-1]
    assert (last["type"], last["id"], last["previousEventId"]) == ("ExecutionFailed", 25_000, 24_999)
    assert last["executionFailedEventDetails"] == {"error": "States.Runtime", "cause": HISTORY_LIMIT_CAUSE}
    assert over.history[-2]["type"] != "ExecutionFailed"


def test_without_a_history_limit_the_count_does_not_matter() -> None:
    assert run(COUNTER, {"n": 0, "to": 6300}, history_limit=None).status == "SUCCEEDED"


def test_a_task_started_by_the_step_that_reaches_the_limit_is_not_run() -> None:
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}
    both = {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": task}}, {"StartAt": "B", "States": {"B": task}}]}}}
    machine = parse_definition(json.dumps(both))
    interpreter = Interpreter(machine, history_limit=8)
    info = ExecutionInfo("arn:aws:states:us-east-1:000000000000:execution:m:e", "e",
                         "arn:aws:states:us-east-1:000000000000:stateMachine:m", "m")
    state, step = interpreter.start(info, {}, 0.0)
    # Branch A's task is scheduled and started (events 4-6); B's TaskScheduled would be the 8th.
    assert [e["type"] for e in step.events][5:] == ["TaskStarted", "TaskStateEntered", "ExecutionFailed"]
    assert state.status == "FAILED" and state.error == "States.Runtime"
    assert not [e for e in step.effects if isinstance(e, RunTask)]
    assert [type(e) for e in step.effects] == [CancelTask]  # A's task: nobody runs it


def test_an_express_execution_times_out_after_its_maximum_duration() -> None:
    waits = {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 100, "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": True, "Next": "D"}], "Default": "W"},
        "D": {"Type": "Succeed"}}}
    execution = run(waits, {}, history_limit=None, max_duration=300)
    assert execution.status == "TIMED_OUT"
    assert execution.state.stop_time - execution.state.info.start_time == pytest.approx(300)


def test_an_inline_map_runs_at_most_40_iterations_at_once() -> None:
    big_map = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "MaxConcurrency": 0, "End": True,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}}
    for max_concurrency in (0, 100):
        big_map["States"]["M"]["MaxConcurrency"] = max_concurrency
        execution = run(big_map, list(range(100)))
        assert execution.output == list(range(100))
        running = most = 0
        for event in execution.history:
            running += {"MapIterationStarted": 1, "MapIterationSucceeded": -1}.get(event["type"], 0)
            most = max(most, running)
        assert most == 40


def test_a_step_stops_at_its_budget_and_resume_goes_on() -> None:
    machine = parse_definition(json.dumps(COUNTER))
    interpreter = Interpreter(machine, step_events=10)
    info = ExecutionInfo("arn:aws:states:us-east-1:000000000000:execution:m:e", "e",
                         "arn:aws:states:us-east-1:000000000000:stateMachine:m", "m")
    state, step = interpreter.start(info, {"n": 0, "to": 10}, 0.0, run_now=False)
    assert [e["type"] for e in step.events] == ["ExecutionStarted"] and ContinueLater() in step.effects
    steps = 0
    while ContinueLater() in step.effects:
        assert state.ready and state.to_json()["ready"] == state.ready  # the work left is checkpointed
        step = interpreter.resume(state, 0.0)
        assert len(step.events) <= 10 + 1  # the budget, and the event that ends the execution
        steps += 1
    assert state.status == "SUCCEEDED" and state.output == {"n": 10, "to": 10} and steps == 5
    assert state.ready == []


@pytest.mark.parametrize("text, problem", [
    ("[" * 100_000 + "]" * 100_000, "nested deeper than"),
    ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nested deeper than"),
    ('"\\ud800"', "surrogate"),
    ('{"a": "\\udc00 alone"}', "surrogate"),
    ("[1,", "Expecting value"),
])
def test_documents_that_are_refused(text: str, problem: str) -> None:
    with pytest.raises(json.JSONDecodeError) as refused:
        loads(text)
    assert problem in refused.value.msg


def test_documents_that_parse_as_json_loads_parses_them() -> None:
    at_limit = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert loads(at_limit) == json.loads(at_limit)
    brackets_in_strings = json.dumps(["[" * 1000, {"k": "{" * 1000}])
    assert loads(brackets_in_strings) == json.loads(brackets_in_strings)
    assert loads('"\\ud83d\\ude00"') == "\U0001F600"  # a surrogate pair is one character
    assert loads("123456789012345678901234567890") == 123456789012345678901234567890
