"""Task states: dispatching a task, and what its success, failure or timeout leads to.

Dispatch writes the Scheduled/Started events for the resource's kind (Task* for service
integrations, LambdaFunction* for a bare function ARN, Activity* for activities), records
the task under a fresh token, arms its TimeoutSeconds/HeartbeatSeconds timers and emits
`RunTask`. The outcome comes back through `task_succeeded`/`task_failed`, or a timer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lamina.states.dataflow import apply_input_path, apply_template, is_integer, value_or_path
from lamina.states.effects import CancelTask, RunTask
from lamina.states.errors import QUERY_EVALUATION_ERROR, RUNTIME, StatesError
from lamina.states.execution import ExecutionState, Frame
from lamina.states.history import payload_details, to_json_text
from lamina.states.model import ABSENT, State, TaskState
from lamina.states.tasks import ACTIVITY, INTEGRATION, LAMBDA_FUNCTION, Resource, TaskRequest, parse_resource

if TYPE_CHECKING:
    from lamina.states.interpreter import Run


def task_ids(resource: Resource) -> dict[str, Any]:
    return {"resourceType": resource.resource_type, "resource": resource.resource_name}


def task_request(st: ExecutionState, token: str, task: dict[str, Any]) -> TaskRequest:
    resource = parse_resource(task["resource"])
    assert resource is not None
    return TaskRequest(
        task_token=token,
        resource=resource,
        input=task["input"],
        execution_arn=st.info.execution_arn,
        state_name=task["state"],
        timeout_seconds=task.get("timeout"),
        heartbeat_seconds=task.get("heartbeat"),
        credentials=task.get("credentials"),
    )


def enter_task(run: Run, frame: Frame, state: TaskState) -> None:
    if state.jsonata:
        frame.effective_input = frame.input
    else:
        frame.effective_input = apply_input_path(state.input_path, run.scope(frame, frame.input))
    dispatch_task(run, frame, state)


def dispatch_task(run: Run, frame: Frame, state: TaskState) -> None:
    resource = parse_resource(state.resource)
    assert resource is not None  # the parser checked it
    token = run.interpreter.new_token()
    with_token = resource.waits_for_token or resource.kind == ACTIVITY
    ctx = run.context(frame, token=token if with_token else None)
    effective = frame.effective_input
    if state.jsonata:
        task_input = (
            run.jsonata(frame, state.arguments, "Arguments", input=frame.input, context=ctx)
            if state.arguments is not ABSENT
            else frame.input
        )
        timeout = run.jsonata_or(frame, state.timeout_seconds, "TimeoutSeconds")
        heartbeat = run.jsonata_or(frame, state.heartbeat_seconds, "HeartbeatSeconds")
        credentials = (
            run.jsonata(frame, state.credentials, "Credentials", input=frame.input)
            if state.credentials is not ABSENT
            else None
        )
    else:
        scope = run.scope(frame, effective, ctx)
        task_input = apply_template(state.parameters, scope) if state.parameters is not ABSENT else effective
        timeout = value_or_path(state.timeout_seconds, state.timeout_seconds_path, scope)
        heartbeat = value_or_path(state.heartbeat_seconds, state.heartbeat_seconds_path, scope)
        credentials = apply_template(state.credentials, scope) if state.credentials is not ABSENT else None
    timeout = positive_seconds(timeout, "TimeoutSeconds", state)
    heartbeat = positive_seconds(heartbeat, "HeartbeatSeconds", state)

    if resource.kind == INTEGRATION:
        region = resource.region or run.st.info.execution_arn.split(":")[3]
        run.event(
            frame,
            "TaskScheduled",
            {
                **task_ids(resource),
                "region": region,
                "parameters": to_json_text(task_input),
                "timeoutInSeconds": timeout,
                "heartbeatInSeconds": heartbeat,
            },
        )
        run.event(frame, "TaskStarted", task_ids(resource))
    elif resource.kind == LAMBDA_FUNCTION:
        run.event(
            frame,
            "LambdaFunctionScheduled",
            {"resource": resource.arn, **payload_details("input", task_input), "timeoutInSeconds": timeout},
        )
        run.event(frame, "LambdaFunctionStarted")
    else:
        run.event(
            frame,
            "ActivityScheduled",
            {
                "resource": resource.arn,
                **payload_details("input", task_input),
                "timeoutInSeconds": timeout,
                "heartbeatInSeconds": heartbeat,
            },
        )
    task: dict[str, Any] = {
        "frame": frame.id,
        "state": state.name,
        "resource": resource.arn,
        "input": task_input,
        "timeout": timeout,
        "heartbeat": heartbeat,
        "credentials": credentials,
        "started": resource.kind != ACTIVITY,
    }
    run.st.tasks[token] = task
    if timeout:
        task["timeout_timer"] = run.set_timer("task_timeout", run.now + timeout, frame, token=token)
    if heartbeat:
        task["heartbeat_timer"] = run.set_timer("heartbeat", run.now + heartbeat, frame, token=token)
    frame.phase = "task"
    frame.task_token = token
    run.step.effects.append(RunTask(task_request(run.st, token, task)))


def positive_seconds(value: Any, field: str, state: State) -> int | None:
    if value is ABSENT or value is None:
        return None
    if not is_integer(value) or value <= 0:
        error = QUERY_EVALUATION_ERROR if state.jsonata else RUNTIME
        raise StatesError(
            error, f"The value of '{field}' must be a positive integer, got {to_json_text(value)}"
        )
    return int(value)


def close_task(run: Run, token: str) -> tuple[dict[str, Any], Frame, TaskState, Resource]:
    task = run.task(token)
    del run.st.tasks[token]
    for key in ("timeout_timer", "heartbeat_timer"):
        if task.get(key):
            run.cancel_timer(task[key])
    frame = run.st.frames[task["frame"]]
    frame.task_token = None
    frame.phase = "running"
    state = run.machine.state(frame.workflow, frame.state)
    assert isinstance(state, TaskState)
    resource = parse_resource(task["resource"])
    assert resource is not None
    return task, frame, state, resource


def task_succeeded(run: Run, token: str, output: Any) -> None:
    _, frame, state, resource = close_task(run, token)
    details = payload_details("output", output)
    if resource.kind == INTEGRATION:
        run.event(frame, "TaskSucceeded", {**task_ids(resource), **details})
    elif resource.kind == LAMBDA_FUNCTION:
        run.event(frame, "LambdaFunctionSucceeded", details)
    else:
        run.event(frame, "ActivitySucceeded", details)
    run.guard(frame, state, lambda: run.finish_with_result(frame, state, output))


def task_failed(run: Run, token: str, error: str, cause: str) -> None:
    _, frame, state, resource = close_task(run, token)
    details = {"error": error, "cause": cause}
    if resource.kind == INTEGRATION:
        run.event(frame, "TaskFailed", {**task_ids(resource), **details})
    elif resource.kind == LAMBDA_FUNCTION:
        run.event(frame, "LambdaFunctionFailed", details)
    else:
        run.event(frame, "ActivityFailed", details)
    run.fail_state(frame, state, StatesError(error, cause))


def task_timed_out(run: Run, token: str, error: str) -> None:
    _, frame, state, resource = close_task(run, token)
    run.step.effects.append(CancelTask(token))
    details = {"error": error, "cause": None}
    if resource.kind == INTEGRATION:
        run.event(frame, "TaskTimedOut", {**task_ids(resource), **details})
    elif resource.kind == LAMBDA_FUNCTION:
        run.event(frame, "LambdaFunctionTimedOut", details)
    else:
        run.event(frame, "ActivityTimedOut", details)
    run.fail_state(frame, state, StatesError(error, ""))
