"""The table-driven suite: every case in cases/*.yaml is a state machine run in memory.

A case gives `definition`, `input`, scripted `tasks` (by state name) or `lambda`
functions (through the real IntegrationTaskRunner), and what a user would see in
`expect`: `status`, `output`, `error`, `cause` (or `cause_contains`), the history's event
types (`events` exactly, or `events_include` in order), the virtual seconds the run took
(`elapsed`), and what the tasks were called with (`task_inputs`). A case with `rule`
instead of `definition` tests one Choice rule: the output is "yes" if it matches.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from lamina.states import IntegrationTaskRunner, parse_definition
from lamina.states.memory import InMemoryDriver, VirtualClock

from .fakes import ScriptedLambda, ScriptedTaskRunner

CASES_DIR = Path(__file__).parent / "cases"
START = 1_700_000_000.0


def _load() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text()):
            params.append(pytest.param(case, id=f"{path.stem}:{case['name']}"))
    return params


def choice_machine(rule: dict[str, Any]) -> dict[str, Any]:
    """`rule: {...}` cases: a Choice that outputs "yes" when the rule matches, else "no"."""
    return {
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}], "Default": "No"},
            "Yes": {"Type": "Pass", "Result": "yes", "End": True},
            "No": {"Type": "Pass", "Result": "no", "End": True},
        },
    }


def run_case(case: dict[str, Any], **driver_options: Any) -> tuple[Any, Any, Any]:
    definition = case["definition"] if "definition" in case else choice_machine(case["rule"])
    machine = parse_definition(json.dumps(definition))
    clock = VirtualClock(START)
    counter = itertools.count(1)
    lambdas = ScriptedLambda(case.get("lambda", {}))
    if "lambda" in case:
        runner: Any = IntegrationTaskRunner(lambdas=lambdas)
    else:
        runner = ScriptedTaskRunner(case.get("tasks", {}), clock)
    driver = InMemoryDriver(
        machine,
        runner,
        clock,
        rng=random.Random(case.get("seed", 7)),
        new_token=lambda: f"token-{next(counter)}",
        **driver_options,
    )
    execution = asyncio.run(driver.start(case.get("input", {})))
    return execution, runner, lambdas


def subsequence(wanted: list[str], actual: list[str]) -> bool:
    it = iter(actual)
    return all(any(a == w for a in it) for w in wanted)


@pytest.mark.parametrize("case", _load())
def test_case(case: dict[str, Any]) -> None:
    execution, runner, lambdas = run_case(case)
    expect = case["expect"]
    state = execution.state
    types = [e["type"] for e in execution.history]
    assert state.status == expect.get("status", "SUCCEEDED"), (state.error, state.cause, types)
    if "output" in expect:
        assert state.output == expect["output"]
    if "error" in expect:
        assert state.error == expect["error"], state.cause
    if "cause" in expect:
        assert state.cause == expect["cause"]
    if "cause_contains" in expect:
        assert expect["cause_contains"] in (state.cause or ""), state.cause
    if "events" in expect:
        assert types == expect["events"]
    if "events_include" in expect:
        assert subsequence(expect["events_include"], types), types
    if "elapsed" in expect:
        assert state.stop_time - START == pytest.approx(expect["elapsed"])
    if "task_inputs" in expect:
        for name, inputs in expect["task_inputs"].items():
            assert [r.input for r in runner.requests if r.state_name == name] == inputs
    if "lambda_events" in expect:
        assert [event for _, event, _ in lambdas.invocations] == expect["lambda_events"]
    # Every event links to an earlier one, as in AWS histories.
    for event in execution.history:
        assert 0 <= event["previousEventId"] < event["id"]
    # The final event carries the execution's result.
    last = execution.history[-1]
    if state.status == "SUCCEEDED":
        assert json.loads(last["executionSucceededEventDetails"]["output"]) == state.output
    elif state.status == "FAILED":
        assert last["executionFailedEventDetails"].get("error") == state.error


@pytest.mark.parametrize("case", _load())
def test_case_in_steps_of_one_event(case: dict[str, Any]) -> None:
    """A step that stops at its budget and resumes later writes the same history, event for event."""
    whole, _, _ = run_case(case)
    stepwise, _, _ = run_case(case, step_events=1)
    if re.search(r"uuid|random", json.dumps(case.get("definition")), re.IGNORECASE):
        skeleton = [(e["type"], e["id"], e["previousEventId"], e["timestamp"]) for e in whole.history]
        assert [(e["type"], e["id"], e["previousEventId"], e["timestamp"]) for e in stepwise.history] == skeleton
    else:
        assert stepwise.history == whole.history
    assert stepwise.state.status == whole.state.status
    if len(whole.history) > 3:
        assert stepwise.steps > whole.steps  # it did stop and resume
