"""Pass, Choice, Succeed, Fail and Wait: the states that only move data and control."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lamina.states import choice, jsonata_query
from lamina.states.dataflow import (
    apply_input_path,
    apply_output_path,
    apply_result_path,
    apply_template,
    evaluate_jsonata,
    evaluate_path_or_intrinsic,
    is_integer,
    value_or_path,
)
from lamina.states.errors import NO_CHOICE_MATCHED, QUERY_EVALUATION_ERROR, RUNTIME, StatesError
from lamina.states.execution import Frame
from lamina.states.history import to_json_text
from lamina.states.model import ABSENT, ChoiceState, FailState, PassState, SucceedState, WaitState
from lamina.states.timestamps import parse_timestamp

if TYPE_CHECKING:
    from lamina.states.interpreter import Run


def run_pass(run: Run, frame: Frame, state: PassState) -> None:
    if state.jsonata:
        output = run.jsonata_output(frame, state)
        assigned = run.assign_jsonata(frame, state.assign, input=frame.input)
    else:
        scope = run.scope(frame, frame.input)
        effective = apply_input_path(state.input_path, scope)
        if state.parameters is not ABSENT:
            effective = apply_template(state.parameters, scope.with_data(effective))
        result = state.result if state.result is not ABSENT else effective
        assigned = run.assign_jsonpath(frame, state.assign, result, scope.context)
        output = apply_result_path(state.result_path, frame.input, result)
        output = apply_output_path(state.output_path, scope.with_data(output))
    run.leave(frame, state, output, assigned)


def run_choice(run: Run, frame: Frame, state: ChoiceState) -> None:
    if state.jsonata:
        ctx = run.context(frame)
        states = {"input": frame.input, "context": ctx}
        variables = run.variables(frame)

        def evaluate(value: str, field: str) -> Any:
            return jsonata_query.evaluate(value, states, variables, field=field)

        for i, rule in enumerate(state.choices):
            if choice.evaluate_condition(rule, evaluate, f"Choices/{i}/Condition"):
                output_spec = rule.output if rule.output is not ABSENT else state.output
                output = (
                    evaluate_jsonata(output_spec, states, variables, "Output")
                    if output_spec is not ABSENT
                    else frame.input
                )
                assigned = {
                    **run.assign_jsonata(frame, state.assign, input=frame.input),
                    **run.assign_jsonata(frame, rule.assign, input=frame.input),
                }
                run.leave(frame, state, output, assigned, rule.next)
                return
        if state.default is None:
            raise StatesError(NO_CHOICE_MATCHED, "No Matches!")
        output = (
            evaluate_jsonata(state.output, states, variables, "Output")
            if state.output is not ABSENT
            else frame.input
        )
        run.leave(
            frame, state, output, run.assign_jsonata(frame, state.assign, input=frame.input), state.default
        )
        return
    scope = run.scope(frame, frame.input)
    effective = apply_input_path(state.input_path, scope)
    scope = scope.with_data(effective)
    chosen = next((rule for rule in state.choices if choice.evaluate_rule(rule, scope)), None)
    if chosen is None and state.default is None:
        raise StatesError(NO_CHOICE_MATCHED, "No Matches!")
    assigned = run.assign_jsonpath(frame, state.assign, effective, scope.context)
    if chosen is not None:
        assigned.update(run.assign_jsonpath(frame, chosen.assign, effective, scope.context))
    output = apply_output_path(state.output_path, scope)
    run.leave(frame, state, output, assigned, chosen.next if chosen is not None else state.default)


def run_succeed(run: Run, frame: Frame, state: SucceedState) -> None:
    if state.jsonata:
        output = run.jsonata_output(frame, state)
    else:
        scope = run.scope(frame, frame.input)
        effective = apply_input_path(state.input_path, scope)
        output = apply_output_path(state.output_path, scope.with_data(effective))
    run.leave(frame, state, output, None)


def run_fail(run: Run, frame: Frame, state: FailState) -> None:
    def text(value: Any, path: str | None, field: str) -> str | None:
        if state.jsonata and jsonata_query.is_expression(value):
            value = run.jsonata(frame, value, field, input=frame.input)
        elif path is not None:
            value = evaluate_path_or_intrinsic(f"{field}Path", path, run.scope(frame, frame.input))
        if value is ABSENT:
            return None
        if not isinstance(value, str):
            raise StatesError(
                RUNTIME if not state.jsonata else QUERY_EVALUATION_ERROR,
                f"The value of the field '{field}' must be a string: {to_json_text(value)}",
            )
        return value

    error = text(state.error, state.error_path, "Error")
    cause = text(state.cause, state.cause_path, "Cause")
    run.fail_frame(frame, StatesError(error or "", cause or ""), error_given=error, cause_given=cause)


# -- Wait ---------------------------------------------------------------------------------


def enter_wait(run: Run, frame: Frame, state: WaitState) -> None:
    if state.jsonata:
        effective = frame.input
        seconds = run.jsonata_or(frame, state.seconds, "Seconds")
        timestamp = run.jsonata_or(frame, state.timestamp, "Timestamp")
        error = QUERY_EVALUATION_ERROR
    else:
        scope = run.scope(frame, frame.input)
        effective = apply_input_path(state.input_path, scope)
        scope = scope.with_data(effective)
        seconds = value_or_path(state.seconds, state.seconds_path, scope)
        timestamp = value_or_path(state.timestamp, state.timestamp_path, scope)
        error = RUNTIME
    if seconds is not ABSENT:
        if not is_integer(seconds) or seconds < 0:
            raise StatesError(
                error, f"The Wait state's seconds must be a non-negative integer, got {to_json_text(seconds)}"
            )
        fire_at = run.now + int(seconds)
    else:
        moment = parse_timestamp(timestamp)
        if moment is None:
            raise StatesError(
                error, f"The Wait state's timestamp is not a valid timestamp: {to_json_text(timestamp)}"
            )
        fire_at = moment
    frame.effective_input = effective
    frame.phase = "wait"
    frame.timer = run.set_timer("wait", fire_at, frame)


def finish_wait(run: Run, frame: Frame, state: WaitState) -> None:
    frame.timer = None
    frame.phase = "running"
    if state.jsonata:
        output = run.jsonata_output(frame, state)
        assigned = run.assign_jsonata(frame, state.assign, input=frame.input)
    else:
        scope = run.scope(frame, frame.effective_input)
        assigned = run.assign_jsonpath(frame, state.assign, frame.effective_input, scope.context)
        output = apply_output_path(state.output_path, scope)
    run.leave(frame, state, output, assigned)
