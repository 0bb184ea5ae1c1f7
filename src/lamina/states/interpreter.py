"""The interpreter: advances an `ExecutionState` one step at a time.

Every public method takes the execution state and the current time, runs every frame that
can run until each one is finished or blocked (on a task, a timer, or its children), and
returns a `Step`: the history events it appended and the side effects the driver must
carry out (`RunTask`, `SetTimer`, `CancelTimer`, `CancelTask`). It never awaits, sleeps
or calls out, so a step is deterministic given its inputs and the state can be
checkpointed between any two steps.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lamina.states import choice, jsonata_query
from lamina.states.dataflow import (
    PathScope,
    apply_input_path,
    apply_output_path,
    apply_result_path,
    apply_template,
    evaluate_jsonata,
    evaluate_path_or_intrinsic,
    select,
)
from lamina.states.errors import (
    DATA_LIMIT_EXCEEDED,
    EXCEED_TOLERATED_FAILURE_THRESHOLD,
    HEARTBEAT_TIMEOUT,
    INTRINSIC_FAILURE,
    NO_CHOICE_MATCHED,
    PARAMETER_PATH_FAILURE,
    QUERY_EVALUATION_ERROR,
    RESULT_PATH_MATCH_FAILURE,
    RUNTIME,
    TIMEOUT,
    UNCATCHABLE,
    StatesError,
    TaskDoesNotExist,
)
from lamina.states.execution import (
    ABORTED,
    FAILED,
    SUCCEEDED,
    TIMED_OUT,
    ExecutionInfo,
    ExecutionState,
    Frame,
)
from lamina.states.history import make_event, payload_details, to_json_text
from lamina.states.model import (
    ABSENT,
    ChoiceState,
    FailState,
    MapState,
    ParallelState,
    PassState,
    State,
    StateMachine,
    SucceedState,
    TaskState,
    WaitState,
)
from lamina.states.retry import find_catcher, find_retrier, retry_delay
from lamina.states.tasks import ACTIVITY, INTEGRATION, LAMBDA_FUNCTION, Resource, TaskRequest, parse_resource
from lamina.states.timestamps import format_timestamp, parse_timestamp

# Largest state output Step Functions passes on (256 KiB); more is States.DataLimitExceeded.
PAYLOAD_LIMIT_BYTES = 262_144

# Errors from processing a state's data (not from its task) carry the state in their cause.
_LOCATED_ERRORS = frozenset({RUNTIME, QUERY_EVALUATION_ERROR, INTRINSIC_FAILURE, RESULT_PATH_MATCH_FAILURE,
                             PARAMETER_PATH_FAILURE})


@dataclass(frozen=True)
class RunTask:
    request: TaskRequest
    resumed: bool = False  # re-armed after a restart: the task may already be under way


@dataclass(frozen=True)
class SetTimer:
    timer_id: str
    fire_at: float


@dataclass(frozen=True)
class CancelTimer:
    timer_id: str


@dataclass(frozen=True)
class CancelTask:
    task_token: str


Effect = RunTask | SetTimer | CancelTimer | CancelTask


@dataclass
class Step:
    events: list[dict[str, Any]] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)


class Interpreter:
    """Runs executions of one parsed state machine; holds no per-execution state."""

    def __init__(self, machine: StateMachine, *, rng: random.Random | None = None,
                 new_token: Callable[[], str] | None = None) -> None:
        self.machine = machine
        self.rng = rng or random.Random()
        self.new_token = new_token or (lambda: uuid.uuid4().hex + uuid.uuid4().hex)

    def start(self, info: ExecutionInfo, execution_input: Any, now: float) -> tuple[ExecutionState, Step]:
        if not info.start_time:
            info.start_time = now
        st = ExecutionState(info, execution_input)
        run = _Run(self, st, now)
        root = Frame(id=st.new_id("f"), workflow="/", state=self.machine.root.start_at, input=execution_input)
        st.frames[root.id] = root
        run.event(root, "ExecutionStarted", {**payload_details("input", execution_input),
                                              "roleArn": info.role_arn or None})
        if self.machine.timeout_seconds:
            run.set_timer("execution_timeout", info.start_time + self.machine.timeout_seconds, root)
        run.queue_frame(root)
        run.drain()
        return st, run.step

    def task_succeeded(self, st: ExecutionState, token: str, output: Any, now: float) -> Step:
        run = _Run(self, st, now)
        run.task_succeeded(token, output)
        run.drain()
        return run.step

    def task_failed(self, st: ExecutionState, token: str, error: str, cause: str, now: float) -> Step:
        run = _Run(self, st, now)
        run.task_failed(token, error, cause)
        run.drain()
        return run.step

    def task_submitted(self, st: ExecutionState, token: str, output: Any, now: float) -> Step:
        """A callback task was handed over (TaskSubmitted); its result comes later by token."""
        run = _Run(self, st, now)
        task = run.task(token)
        task["submitted"] = True  # handed over: after a restart it is awaited, not run again
        resource = parse_resource(task["resource"])
        if resource is not None and resource.kind == INTEGRATION and output is not None:
            run.event(run.st.frames[task["frame"]], "TaskSubmitted",
                      {**_task_ids(resource), **payload_details("output", output)})
        return run.step

    def task_started(self, st: ExecutionState, token: str, worker_name: str | None, now: float) -> Step:
        """An activity worker took the task (GetActivityTask)."""
        run = _Run(self, st, now)
        task = run.task(token)
        if not task.get("started"):
            task["started"] = True
            run.event(st.frames[task["frame"]], "ActivityStarted", {"workerName": worker_name})
        return run.step

    def task_heartbeat(self, st: ExecutionState, token: str, now: float) -> Step:
        run = _Run(self, st, now)
        task = run.task(token)
        if task.get("heartbeat"):
            old = task.get("heartbeat_timer")
            if old:
                run.cancel_timer(old)
            frame = st.frames[task["frame"]]
            task["heartbeat_timer"] = run.set_timer("heartbeat", now + task["heartbeat"], frame, token=token)
        return run.step

    def timer_fired(self, st: ExecutionState, timer_id: str, now: float) -> Step:
        run = _Run(self, st, now)
        run.timer_fired(timer_id)
        run.drain()
        return run.step

    def stop(self, st: ExecutionState, error: str | None, cause: str | None, now: float) -> Step:
        run = _Run(self, st, now)
        if not st.done:
            run.end_execution(ABORTED, "ExecutionAborted", {"error": error, "cause": cause}, None)
        return run.step

    def outstanding(self, st: ExecutionState) -> list[Effect]:
        """What a driver must re-arm after loading a checkpoint: every timer, and every task
        that was not yet handed over (those may have been under way: they run again, so task
        delivery is at-least-once across a crash)."""
        effects: list[Effect] = []
        for token, task in st.tasks.items():
            if not task.get("submitted"):
                effects.append(RunTask(_request(st, token, task), resumed=True))
        for timer_id, timer in st.timers.items():
            effects.append(SetTimer(timer_id, timer["fire_at"]))
        return effects


def _task_ids(resource: Resource) -> dict[str, Any]:
    return {"resourceType": resource.resource_type, "resource": resource.resource_name}


def _request(st: ExecutionState, token: str, task: dict[str, Any]) -> TaskRequest:
    resource = parse_resource(task["resource"])
    assert resource is not None
    return TaskRequest(task_token=token, resource=resource, input=task["input"],
                       execution_arn=st.info.execution_arn, state_name=task["state"],
                       timeout_seconds=task.get("timeout"), heartbeat_seconds=task.get("heartbeat"),
                       credentials=task.get("credentials"))


class _Run:
    """One call into the interpreter: the state, the time, and what the call produced."""

    def __init__(self, interpreter: Interpreter, st: ExecutionState, now: float) -> None:
        self.interpreter = interpreter
        self.machine = interpreter.machine
        self.st = st
        self.now = now
        self.step = Step()
        self.queue: deque[str] = deque()
        self.queued: set[str] = set()
        self._execution_context: dict[str, Any] | None = None

    # -- bookkeeping ------------------------------------------------------------------------

    def event(self, frame: Frame | None, event_type: str, details: dict[str, Any] | None = None) -> int:
        st = self.st
        st.last_event_id += 1
        previous = frame.last_event_id if frame is not None else st.last_event_id - 1
        self.step.events.append(make_event(event_type, st.last_event_id, previous, self.now, details))
        if frame is not None:
            frame.last_event_id = st.last_event_id
        return st.last_event_id

    def set_timer(self, kind: str, fire_at: float, frame: Frame, token: str | None = None) -> str:
        timer_id = self.st.new_id("t")
        self.st.timers[timer_id] = {"fire_at": fire_at, "kind": kind, "frame": frame.id, "token": token}
        self.step.effects.append(SetTimer(timer_id, fire_at))
        return timer_id

    def cancel_timer(self, timer_id: str) -> None:
        if self.st.timers.pop(timer_id, None) is not None:
            self.step.effects.append(CancelTimer(timer_id))

    def task(self, token: str) -> dict[str, Any]:
        task = self.st.tasks.get(token)
        if task is None or self.st.done:
            raise TaskDoesNotExist("Task does not exist anymore")
        return task

    def queue_frame(self, frame: Frame) -> None:
        if frame.id not in self.queued:
            self.queued.add(frame.id)
            self.queue.append(frame.id)

    def drain(self) -> None:
        while self.queue and not self.st.done:
            frame_id = self.queue.popleft()
            self.queued.discard(frame_id)
            frame = self.st.frames.get(frame_id)
            if frame is not None and frame.phase == "enter":
                self.enter(frame)

    def variables(self, frame: Frame) -> dict[str, Any]:
        """The variables `frame` can see: its own over its ancestors'."""
        if frame.parent is None:
            return frame.variables
        chain = []
        current: Frame | None = frame
        while current is not None:
            chain.append(current.variables)
            current = self.st.frames.get(current.parent) if current.parent else None
        merged: dict[str, Any] = {}
        for scope in reversed(chain):
            merged.update(scope)
        return merged

    def context(self, frame: Frame, token: str | None = None, item: dict[str, Any] | None = None) -> dict[str, Any]:
        if self._execution_context is None:
            info = self.st.info
            self._execution_context = {
                "Id": info.execution_arn, "Input": self.st.input, "Name": info.name,
                "RoleArn": info.role_arn, "StartTime": format_timestamp(info.start_time),
                "RedriveCount": info.redrive_count,
            }
        info = self.st.info
        ctx: dict[str, Any] = {
            "Execution": self._execution_context,
            "State": {"EnteredTime": format_timestamp(frame.entered_time), "Name": frame.state,
                      "RetryCount": frame.retry_count},
            "StateMachine": {"Id": info.state_machine_arn, "Name": info.state_machine_name},
        }
        if token is not None:
            ctx["Task"] = {"Token": token}
        if item is not None:
            ctx["Map"] = {"Item": item}
        return ctx

    def scope(self, frame: Frame, data: Any, ctx: dict[str, Any] | None = None) -> PathScope:
        return PathScope(data, ctx if ctx is not None else self.context(frame), self.variables(frame))

    def jsonata(self, frame: Frame, value: Any, field: str, **states: Any) -> Any:
        states.setdefault("context", self.context(frame))
        return evaluate_jsonata(value, states, self.variables(frame), field)

    def located(self, err: StatesError, frame: Frame, state: State) -> StatesError:
        if err.error in _LOCATED_ERRORS:
            return StatesError(err.error, f"An error occurred while executing the state '{state.name}' "
                                          f"(entered at the event id #{frame.entered_event_id}). {err.cause}")
        return err

    def guard(self, frame: Frame, state: State, work: Callable[[], None]) -> None:
        """Run `work` for `frame`'s state; a failure goes to the state's Retry/Catch."""
        try:
            work()
        except StatesError as err:
            self.fail_state(frame, state, self.located(err, frame, state))

    # -- entering and leaving states ----------------------------------------------------------

    def enter(self, frame: Frame) -> None:
        state = self.machine.state(frame.workflow, frame.state)
        frame.phase = "running"
        frame.entered_time = self.now
        frame.retries = {}
        frame.retry_count = 0
        frame.entered_event_id = self.event(
            frame, f"{state.type}StateEntered", {"name": state.name, **payload_details("input", frame.input)})
        handler = {
            "Pass": self.run_pass, "Task": self.enter_task, "Choice": self.run_choice, "Wait": self.enter_wait,
            "Succeed": self.run_succeed, "Fail": self.run_fail, "Parallel": self.start_parallel,
            "Map": self.start_map,
        }[state.type]
        self.guard(frame, state, lambda: handler(frame, state))

    def leave(self, frame: Frame, state: State, output: Any, assigned: dict[str, Any] | None,
              next_state: str | None = None) -> None:
        details: dict[str, Any] = {"name": state.name, **payload_details("output", output)}
        if len(details["output"].encode()) > PAYLOAD_LIMIT_BYTES:
            self.fail_frame(frame, StatesError(
                DATA_LIMIT_EXCEEDED, f"The state/task '{state.name}' returned a result with a size exceeding the "
                                     "maximum number of bytes service limit."))
            return
        if assigned:
            details["assignedVariables"] = {k: to_json_text(v) for k, v in assigned.items()}
            details["assignedVariablesDetails"] = {"truncated": False}
        self.event(frame, f"{state.type}StateExited", details)
        if assigned:
            frame.variables.update(assigned)
        target = next_state or state.next
        if target is None:
            self.complete_frame(frame, output)
            return
        frame.state = target
        frame.input = output
        frame.phase = "enter"
        frame.effective_input = None
        self.queue_frame(frame)

    def assign_jsonpath(self, frame: Frame, assign: dict[str, Any] | None, data: Any,
                        ctx: dict[str, Any] | None = None) -> dict[str, Any]:
        if not assign:
            return {}
        return apply_template(assign, self.scope(frame, data, ctx))  # type: ignore[no-any-return]

    def assign_jsonata(self, frame: Frame, assign: dict[str, Any] | None, **states: Any) -> dict[str, Any]:
        if not assign:
            return {}
        return self.jsonata(frame, assign, "Assign", **states)  # type: ignore[no-any-return]

    # -- Pass, Choice, Succeed, Fail ------------------------------------------------------------

    def run_pass(self, frame: Frame, state: PassState) -> None:
        if state.jsonata:
            output = self.jsonata(frame, state.output, "Output", input=frame.input) \
                if state.output is not ABSENT else frame.input
            assigned = self.assign_jsonata(frame, state.assign, input=frame.input)
        else:
            scope = self.scope(frame, frame.input)
            effective = apply_input_path(state.input_path, scope)
            if state.parameters is not ABSENT:
                effective = apply_template(state.parameters, scope.with_data(effective))
            result = state.result if state.result is not ABSENT else effective
            assigned = self.assign_jsonpath(frame, state.assign, result, scope.context)
            output = apply_result_path(state.result_path, frame.input, result)
            output = apply_output_path(state.output_path, scope.with_data(output))
        self.leave(frame, state, output, assigned)

    def run_choice(self, frame: Frame, state: ChoiceState) -> None:
        if state.jsonata:
            ctx = self.context(frame)
            states = {"input": frame.input, "context": ctx}
            variables = self.variables(frame)

            def evaluate(value: str, field: str) -> Any:
                return jsonata_query.evaluate(value, states, variables, field=field)

            for i, rule in enumerate(state.choices):
                if choice.evaluate_condition(rule, evaluate, f"Choices/{i}/Condition"):
                    output_spec = rule.output if rule.output is not ABSENT else state.output
                    output = evaluate_jsonata(output_spec, states, variables, "Output") \
                        if output_spec is not ABSENT else frame.input
                    assigned = {**self.assign_jsonata(frame, state.assign, input=frame.input),
                                **self.assign_jsonata(frame, rule.assign, input=frame.input)}
                    self.leave(frame, state, output, assigned, rule.next)
                    return
            if state.default is None:
                raise StatesError(NO_CHOICE_MATCHED, "No Matches!")
            output = evaluate_jsonata(state.output, states, variables, "Output") \
                if state.output is not ABSENT else frame.input
            self.leave(frame, state, output, self.assign_jsonata(frame, state.assign, input=frame.input),
                       state.default)
            return
        scope = self.scope(frame, frame.input)
        effective = apply_input_path(state.input_path, scope)
        scope = scope.with_data(effective)
        chosen = next((rule for rule in state.choices if choice.evaluate_rule(rule, scope)), None)
        if chosen is None and state.default is None:
            raise StatesError(NO_CHOICE_MATCHED, "No Matches!")
        assigned = self.assign_jsonpath(frame, state.assign, effective, scope.context)
        if chosen is not None:
            assigned.update(self.assign_jsonpath(frame, chosen.assign, effective, scope.context))
        output = apply_output_path(state.output_path, scope)
        self.leave(frame, state, output, assigned, chosen.next if chosen is not None else state.default)

    def run_succeed(self, frame: Frame, state: SucceedState) -> None:
        if state.jsonata:
            output = self.jsonata(frame, state.output, "Output", input=frame.input) \
                if state.output is not ABSENT else frame.input
        else:
            scope = self.scope(frame, frame.input)
            effective = apply_input_path(state.input_path, scope)
            output = apply_output_path(state.output_path, scope.with_data(effective))
        self.leave(frame, state, output, None)

    def run_fail(self, frame: Frame, state: FailState) -> None:
        def text(value: Any, path: str | None, field: str) -> str | None:
            if state.jsonata and jsonata_query.is_expression(value):
                value = self.jsonata(frame, value, field, input=frame.input)
            elif path is not None:
                value = evaluate_path_or_intrinsic(f"{field}Path", path, self.scope(frame, frame.input))
            if value is ABSENT:
                return None
            if not isinstance(value, str):
                raise StatesError(RUNTIME if not state.jsonata else QUERY_EVALUATION_ERROR,
                                  f"The value of the field '{field}' must be a string: {to_json_text(value)}")
            return value

        error = text(state.error, state.error_path, "Error")
        cause = text(state.cause, state.cause_path, "Cause")
        self.fail_frame(frame, StatesError(error or "", cause or ""), error_given=error, cause_given=cause)

    # -- Wait ---------------------------------------------------------------------------------

    def enter_wait(self, frame: Frame, state: WaitState) -> None:
        if state.jsonata:
            effective = frame.input
            seconds = self._jsonata_or(frame, state.seconds, "Seconds")
            timestamp = self._jsonata_or(frame, state.timestamp, "Timestamp")
            error = QUERY_EVALUATION_ERROR
        else:
            scope = self.scope(frame, frame.input)
            effective = apply_input_path(state.input_path, scope)
            scope = scope.with_data(effective)
            seconds = select(state.seconds_path, scope) if state.seconds_path else state.seconds
            timestamp = select(state.timestamp_path, scope) if state.timestamp_path else state.timestamp
            error = RUNTIME
        if seconds is not ABSENT:
            if not _is_int(seconds) or seconds < 0:
                raise StatesError(error, f"The Wait state's seconds must be a non-negative integer, got "
                                         f"{to_json_text(seconds)}")
            fire_at = self.now + int(seconds)
        else:
            moment = parse_timestamp(timestamp)
            if moment is None:
                raise StatesError(error, f"The Wait state's timestamp is not a valid timestamp: "
                                         f"{to_json_text(timestamp)}")
            fire_at = moment
        frame.effective_input = effective
        frame.phase = "wait"
        frame.timer = self.set_timer("wait", fire_at, frame)

    def _jsonata_or(self, frame: Frame, value: Any, field: str) -> Any:
        if jsonata_query.is_expression(value):
            return self.jsonata(frame, value, field, input=frame.input)
        return value

    def finish_wait(self, frame: Frame, state: WaitState) -> None:
        frame.timer = None
        frame.phase = "running"
        if state.jsonata:
            output = self.jsonata(frame, state.output, "Output", input=frame.input) \
                if state.output is not ABSENT else frame.input
            assigned = self.assign_jsonata(frame, state.assign, input=frame.input)
        else:
            scope = self.scope(frame, frame.effective_input)
            assigned = self.assign_jsonpath(frame, state.assign, frame.effective_input, scope.context)
            output = apply_output_path(state.output_path, scope)
        self.leave(frame, state, output, assigned)

    # -- Task -------------------------------------------------------------------------------------

    def enter_task(self, frame: Frame, state: TaskState) -> None:
        if state.jsonata:
            frame.effective_input = frame.input
        else:
            frame.effective_input = apply_input_path(state.input_path, self.scope(frame, frame.input))
        self.dispatch_task(frame, state)

    def dispatch_task(self, frame: Frame, state: TaskState) -> None:
        resource = parse_resource(state.resource)
        assert resource is not None  # the parser checked it
        token = self.interpreter.new_token()
        with_token = resource.waits_for_token or resource.kind == ACTIVITY
        ctx = self.context(frame, token=token if with_token else None)
        effective = frame.effective_input
        if state.jsonata:
            task_input = self.jsonata(frame, state.arguments, "Arguments", input=frame.input, context=ctx) \
                if state.arguments is not ABSENT else frame.input
            timeout = self._jsonata_or(frame, state.timeout_seconds, "TimeoutSeconds")
            heartbeat = self._jsonata_or(frame, state.heartbeat_seconds, "HeartbeatSeconds")
            credentials = self.jsonata(frame, state.credentials, "Credentials", input=frame.input) \
                if state.credentials is not ABSENT else None
        else:
            scope = self.scope(frame, effective, ctx)
            task_input = apply_template(state.parameters, scope) if state.parameters is not ABSENT else effective
            timeout = select(state.timeout_seconds_path, scope) if state.timeout_seconds_path \
                else state.timeout_seconds
            heartbeat = select(state.heartbeat_seconds_path, scope) if state.heartbeat_seconds_path \
                else state.heartbeat_seconds
            credentials = apply_template(state.credentials, scope) if state.credentials is not ABSENT else None
        timeout = self._seconds(timeout, "TimeoutSeconds", state)
        heartbeat = self._seconds(heartbeat, "HeartbeatSeconds", state)

        if resource.kind == INTEGRATION:
            region = resource.region or self.st.info.execution_arn.split(":")[3]
            self.event(frame, "TaskScheduled", {
                **_task_ids(resource), "region": region, "parameters": to_json_text(task_input),
                "timeoutInSeconds": timeout, "heartbeatInSeconds": heartbeat})
            self.event(frame, "TaskStarted", _task_ids(resource))
        elif resource.kind == LAMBDA_FUNCTION:
            self.event(frame, "LambdaFunctionScheduled", {
                "resource": resource.arn, **payload_details("input", task_input), "timeoutInSeconds": timeout})
            self.event(frame, "LambdaFunctionStarted")
        else:
            self.event(frame, "ActivityScheduled", {
                "resource": resource.arn, **payload_details("input", task_input), "timeoutInSeconds": timeout,
                "heartbeatInSeconds": heartbeat})
        task: dict[str, Any] = {"frame": frame.id, "state": state.name, "resource": resource.arn,
                                "input": task_input, "timeout": timeout, "heartbeat": heartbeat,
                                "credentials": credentials, "started": resource.kind != ACTIVITY}
        self.st.tasks[token] = task
        if timeout:
            task["timeout_timer"] = self.set_timer("task_timeout", self.now + timeout, frame, token=token)
        if heartbeat:
            task["heartbeat_timer"] = self.set_timer("heartbeat", self.now + heartbeat, frame, token=token)
        frame.phase = "task"
        frame.task_token = token
        self.step.effects.append(RunTask(_request(self.st, token, task)))

    def _seconds(self, value: Any, field: str, state: State) -> int | None:
        if value is ABSENT or value is None:
            return None
        if not _is_int(value) or value <= 0:
            error = QUERY_EVALUATION_ERROR if state.jsonata else RUNTIME
            raise StatesError(error, f"The value of '{field}' must be a positive integer, got {to_json_text(value)}")
        return int(value)

    def _close_task(self, token: str) -> tuple[dict[str, Any], Frame, TaskState, Resource]:
        task = self.task(token)
        del self.st.tasks[token]
        for key in ("timeout_timer", "heartbeat_timer"):
            if task.get(key):
                self.cancel_timer(task[key])
        frame = self.st.frames[task["frame"]]
        frame.task_token = None
        frame.phase = "running"
        state = self.machine.state(frame.workflow, frame.state)
        assert isinstance(state, TaskState)
        resource = parse_resource(task["resource"])
        assert resource is not None
        return task, frame, state, resource

    def task_succeeded(self, token: str, output: Any) -> None:
        _, frame, state, resource = self._close_task(token)
        details = payload_details("output", output)
        if resource.kind == INTEGRATION:
            self.event(frame, "TaskSucceeded", {**_task_ids(resource), **details})
        elif resource.kind == LAMBDA_FUNCTION:
            self.event(frame, "LambdaFunctionSucceeded", details)
        else:
            self.event(frame, "ActivitySucceeded", details)
        self.guard(frame, state, lambda: self.finish_with_result(frame, state, output))

    def task_failed(self, token: str, error: str, cause: str) -> None:
        _, frame, state, resource = self._close_task(token)
        details = {"error": error, "cause": cause}
        if resource.kind == INTEGRATION:
            self.event(frame, "TaskFailed", {**_task_ids(resource), **details})
        elif resource.kind == LAMBDA_FUNCTION:
            self.event(frame, "LambdaFunctionFailed", details)
        else:
            self.event(frame, "ActivityFailed", details)
        self.fail_state(frame, state, StatesError(error, cause))

    def task_timed_out(self, token: str, error: str) -> None:
        _, frame, state, resource = self._close_task(token)
        self.step.effects.append(CancelTask(token))
        details = {"error": error, "cause": None}
        if resource.kind == INTEGRATION:
            self.event(frame, "TaskTimedOut", {**_task_ids(resource), **details})
        elif resource.kind == LAMBDA_FUNCTION:
            self.event(frame, "LambdaFunctionTimedOut", details)
        else:
            self.event(frame, "ActivityTimedOut", details)
        self.fail_state(frame, state, StatesError(error, ""))

    def finish_with_result(self, frame: Frame, state: State, result: Any) -> None:
        """Task, Parallel and Map: from the result to the state's output and variables."""
        if state.jsonata:
            ctx = self.context(frame)
            output = self.jsonata(frame, state.output, "Output", input=frame.input, result=result, context=ctx) \
                if state.output is not ABSENT else result
            assigned = self.assign_jsonata(frame, state.assign, input=frame.input, result=result, context=ctx)
        else:
            scope = self.scope(frame, result)
            if state.result_selector is not ABSENT:
                result = apply_template(state.result_selector, scope)
            assigned = self.assign_jsonpath(frame, state.assign, result, scope.context)
            output = apply_result_path(state.result_path, frame.input, result)
            output = apply_output_path(state.output_path, scope.with_data(output))
        self.leave(frame, state, output, assigned)

    # -- Parallel -------------------------------------------------------------------------------------

    def start_parallel(self, frame: Frame, state: ParallelState) -> None:
        if state.jsonata:
            effective = self.jsonata(frame, state.arguments, "Arguments", input=frame.input) \
                if state.arguments is not ABSENT else frame.input
        else:
            scope = self.scope(frame, frame.input)
            effective = apply_input_path(state.input_path, scope)
            if state.parameters is not ABSENT:
                effective = apply_template(state.parameters, scope.with_data(effective))
        self.event(frame, "ParallelStateStarted")
        frame.phase = "children"
        frame.fan_out = {"kind": "parallel", "results": [None] * len(state.branches),
                         "pending": len(state.branches), "children": []}
        for i, branch in enumerate(state.branches):
            child = Frame(id=self.st.new_id("f"), workflow=branch.key, parent=frame.id, index=i,
                          state=branch.start_at, input=effective, last_event_id=frame.last_event_id)
            self.st.frames[child.id] = child
            frame.fan_out["children"].append(child.id)
            self.queue_frame(child)

    # -- Map -------------------------------------------------------------------------------------------

    def start_map(self, frame: Frame, state: MapState) -> None:
        if state.jsonata:
            effective = frame.input
            items = self._jsonata_or(frame, state.items, "Items") if state.items is not ABSENT else frame.input
            max_concurrency = self._jsonata_or(frame, state.max_concurrency, "MaxConcurrency")
            tolerated_count = self._jsonata_or(frame, state.tolerated_failure_count, "ToleratedFailureCount")
            tolerated_pct = self._jsonata_or(frame, state.tolerated_failure_percentage,
                                             "ToleratedFailurePercentage")
            error = QUERY_EVALUATION_ERROR
        else:
            scope = self.scope(frame, frame.input)
            effective = apply_input_path(state.input_path, scope)
            scope = scope.with_data(effective)
            items = select(state.items_path, scope) if state.items_path is not ABSENT else effective
            max_concurrency = select(state.max_concurrency_path, scope) if state.max_concurrency_path \
                else state.max_concurrency
            tolerated_count = select(state.tolerated_failure_count_path, scope) \
                if state.tolerated_failure_count_path else state.tolerated_failure_count
            tolerated_pct = select(state.tolerated_failure_percentage_path, scope) \
                if state.tolerated_failure_percentage_path else state.tolerated_failure_percentage
            error = RUNTIME
        if not isinstance(items, list):
            raise StatesError(error, f"Map state items must be a JSON array, got: {to_json_text(items)}")
        if not _is_int(max_concurrency) or max_concurrency < 0:
            raise StatesError(error, f"MaxConcurrency must be a non-negative integer, got "
                                     f"{to_json_text(max_concurrency)}")
        for name, value in (("ToleratedFailureCount", tolerated_count),
                            ("ToleratedFailurePercentage", tolerated_pct)):
            if value is not ABSENT and (not isinstance(value, (int, float)) or isinstance(value, bool)
                                        or value < 0 or (name.endswith("Percentage") and value > 100)):
                raise StatesError(error, f"{name} is out of range: {to_json_text(value)}")
        if state.item_batcher is not None:
            items = self._batches(frame, state, items, effective)
        self.event(frame, "MapStateStarted", {"length": len(items)})
        frame.phase = "children"
        frame.effective_input = effective
        frame.fan_out = {
            "kind": "map", "items": items, "next": 0, "active": [], "results": [None] * len(items),
            "succeeded": 0, "failed": 0, "max": int(max_concurrency),
            "tolerated_count": None if tolerated_count is ABSENT else tolerated_count,
            "tolerated_pct": None if tolerated_pct is ABSENT else tolerated_pct,
        }
        self.map_continue(frame, state)

    def _batches(self, frame: Frame, state: MapState, items: list[Any], effective: Any) -> list[Any]:
        batcher = state.item_batcher or {}
        size = batcher.get("MaxItemsPerBatch") or len(items) or 1
        batch_input = batcher.get("BatchInput", ABSENT)
        if batch_input is not ABSENT:
            batch_input = self.jsonata(frame, batch_input, "BatchInput", input=frame.input) if state.jsonata \
                else apply_template(batch_input, self.scope(frame, effective))
        batches = []
        for i in range(0, len(items), size):
            batch: dict[str, Any] = {"Items": items[i : i + size]}
            if batch_input is not ABSENT:
                batch["BatchInput"] = batch_input
            batches.append(batch)
        return batches

    def map_continue(self, frame: Frame, state: MapState) -> None:
        fan = frame.fan_out
        assert fan is not None and state.processor is not None
        while fan["next"] < len(fan["items"]) and (fan["max"] == 0 or len(fan["active"]) < fan["max"]):
            index = fan["next"]
            fan["next"] += 1
            value = fan["items"][index]
            item = {"Index": index, "Value": value}
            item_input = self._item_input(frame, state, item)
            child = Frame(id=self.st.new_id("f"), workflow=state.processor.key, parent=frame.id, index=index,
                          state=state.processor.start_at, input=item_input, map_item=item)
            self.st.frames[child.id] = child
            fan["active"].append(child.id)
            child.last_event_id = self.event(frame, "MapIterationStarted", {"name": state.name, "index": index})
            self.queue_frame(child)
        if fan["active"] or fan["next"] < len(fan["items"]):
            return
        self.event(frame, "MapStateSucceeded")
        frame.fan_out = None
        frame.phase = "running"
        self.finish_with_result(frame, state, fan["results"])

    def _item_input(self, frame: Frame, state: MapState, item: dict[str, Any]) -> Any:
        if state.item_selector is ABSENT:
            return item["Value"]
        ctx = self.context(frame, item=item)
        if state.jsonata:
            return self.jsonata(frame, state.item_selector, "ItemSelector", input=frame.input, context=ctx)
        return apply_template(state.item_selector, self.scope(frame, frame.effective_input, ctx))

    def _exceeds_tolerance(self, fan: dict[str, Any]) -> bool:
        count, pct = fan["tolerated_count"], fan["tolerated_pct"]
        if count is None and pct is None:
            return True
        failed, total = fan["failed"], len(fan["items"])
        if count is not None and failed > count:
            return True
        return pct is not None and total > 0 and failed * 100.0 / total > pct

    # -- children finishing -------------------------------------------------------------------------

    def complete_frame(self, frame: Frame, output: Any) -> None:
        if frame.parent is None:
            self.end_execution(SUCCEEDED, "ExecutionSucceeded", payload_details("output", output), frame,
                               output=output)
            return
        parent = self.st.frames[frame.parent]
        del self.st.frames[frame.id]
        state = self.machine.state(parent.workflow, parent.state)
        fan = parent.fan_out
        assert fan is not None
        fan["results"][frame.index] = output
        if fan["kind"] == "map":
            assert isinstance(state, MapState)
            parent.last_event_id = frame.last_event_id
            self.event(parent, "MapIterationSucceeded", {"name": state.name, "index": frame.index})
            fan["active"].remove(frame.id)
            fan["succeeded"] += 1
            self.guard(parent, state, lambda: self.map_continue(parent, state))
            return
        fan["children"].remove(frame.id)
        fan["pending"] -= 1
        if fan["pending"] == 0:
            parent.last_event_id = frame.last_event_id
            self.event(parent, "ParallelStateSucceeded")
            parent.fan_out = None
            parent.phase = "running"
            self.guard(parent, state, lambda: self.finish_with_result(parent, state, fan["results"]))

    def fail_frame(self, frame: Frame, err: StatesError, error_given: str | None = "",
                   cause_given: str | None = "") -> None:
        if frame.parent is None:
            details = {"error": err.error if error_given is not None else None,
                       "cause": err.cause if cause_given is not None else None}
            self.end_execution(FAILED, "ExecutionFailed", details, frame, error=details["error"],
                               cause=details["cause"])
            return
        parent = self.st.frames[frame.parent]
        self.abort_frame(frame, quiet=True)
        state = self.machine.state(parent.workflow, parent.state)
        fan = parent.fan_out
        assert fan is not None
        parent.last_event_id = frame.last_event_id
        if fan["kind"] == "map":
            assert isinstance(state, MapState)
            self.event(parent, "MapIterationFailed", {"name": state.name, "index": frame.index})
            fan["active"].remove(frame.id)
            fan["failed"] += 1
            if not self._exceeds_tolerance(fan):
                fan["results"][frame.index] = err.output()
                self.guard(parent, state, lambda: self.map_continue(parent, state))
                return
            if fan["tolerated_count"] is not None or fan["tolerated_pct"] is not None:
                err = StatesError(EXCEED_TOLERATED_FAILURE_THRESHOLD,
                                  "The specified tolerated failure threshold was exceeded")
            self.abort_children(parent)
            self.event(parent, "MapStateFailed")
        else:
            fan["children"].remove(frame.id)
            self.abort_children(parent)
            self.event(parent, "ParallelStateFailed")
        parent.fan_out = None
        parent.phase = "running"
        self.fail_state(parent, state, err)

    def abort_children(self, frame: Frame) -> None:
        fan = frame.fan_out
        if not fan:
            return
        for child_id in list(fan.get("active") or fan.get("children") or []):
            child = self.st.frames.get(child_id)
            if child is not None:
                self.abort_frame(child)

    def abort_frame(self, frame: Frame, quiet: bool = False) -> None:
        """Stop `frame` and everything under it, cancelling its side effects.

        `quiet` is for a frame that already failed: its state's events are written."""
        self.abort_children(frame)
        if not quiet:
            state = self.machine.state(frame.workflow, frame.state)
            if frame.phase == "task":
                self.event(frame, "TaskStateAborted", {"name": state.name})
            elif frame.phase == "wait":
                self.event(frame, "WaitStateAborted", {"name": state.name})
            elif frame.phase == "children":
                self.event(frame, f"{state.type}StateAborted")
        if frame.task_token and frame.task_token in self.st.tasks:
            task = self.st.tasks.pop(frame.task_token)
            for key in ("timeout_timer", "heartbeat_timer"):
                if task.get(key):
                    self.cancel_timer(task[key])
            self.step.effects.append(CancelTask(frame.task_token))
        if frame.timer:
            self.cancel_timer(frame.timer)
        if not quiet and frame.map_item is not None and frame.parent in self.st.frames:
            parent = self.st.frames[frame.parent]
            parent_state = self.machine.state(parent.workflow, parent.state)
            self.event(frame, "MapIterationAborted", {"name": parent_state.name, "index": frame.index})
        self.st.frames.pop(frame.id, None)

    # -- errors, retries, catches ----------------------------------------------------------------

    def fail_state(self, frame: Frame, state: State, err: StatesError) -> None:
        if err.error not in UNCATCHABLE:
            index = find_retrier(state.retry, err.error)
            if index is not None:
                retrier = state.retry[index]
                used = frame.retries.get(str(index), 0)
                if used < retrier.max_attempts:
                    delay = retry_delay(retrier, used, self.interpreter.rng)
                    frame.retries[str(index)] = used + 1
                    frame.retry_count += 1
                    frame.phase = "retry"
                    frame.timer = self.set_timer("retry", self.now + delay, frame)
                    return
            catcher = find_catcher(state.catch, err.error)
            if catcher is not None:
                try:
                    output, assigned = self._caught(frame, state, catcher, err)
                except StatesError as inner:
                    self.fail_frame(frame, self.located(inner, frame, state))
                    return
                self.leave(frame, state, output, assigned, catcher.next)
                return
        self.fail_frame(frame, err)

    def _caught(self, frame: Frame, state: State, catcher: Any, err: StatesError) -> tuple[Any, dict[str, Any]]:
        error_output = err.output()
        if state.jsonata:
            ctx = self.context(frame)
            output = self.jsonata(frame, catcher.output, "Output", input=frame.input, errorOutput=error_output,
                                  context=ctx) if catcher.output is not ABSENT else error_output
            assigned = self.assign_jsonata(frame, catcher.assign, input=frame.input, errorOutput=error_output,
                                           context=ctx)
            return output, assigned
        assigned = self.assign_jsonpath(frame, catcher.assign, error_output)
        return apply_result_path(catcher.result_path, frame.input, error_output), assigned

    def retry_now(self, frame: Frame, state: State) -> None:
        frame.timer = None
        frame.phase = "running"
        if isinstance(state, TaskState):
            work: Callable[[], None] = lambda: self.dispatch_task(frame, state)  # noqa: E731
        elif isinstance(state, ParallelState):
            work = lambda: self.start_parallel(frame, state)  # noqa: E731
        else:
            assert isinstance(state, MapState)
            work = lambda: self.start_map(frame, state)  # noqa: E731
        self.guard(frame, state, work)

    # -- timers and the end ---------------------------------------------------------------------------

    def timer_fired(self, timer_id: str) -> None:
        timer = self.st.timers.pop(timer_id, None)
        if timer is None or self.st.done:
            return  # cancelled, or already handled before a restart
        kind = timer["kind"]
        frame = self.st.frames.get(timer["frame"])
        if kind == "execution_timeout":
            self.end_execution(TIMED_OUT, "ExecutionTimedOut",
                               {"error": TIMEOUT, "cause": "The execution timed out."}, frame,
                               error=TIMEOUT, cause="The execution timed out.")
            return
        if frame is None:
            return
        if kind in ("task_timeout", "heartbeat"):
            token = timer["token"]
            task = self.st.tasks.get(token)
            if task is not None:
                task.pop("timeout_timer" if kind == "task_timeout" else "heartbeat_timer", None)
                self.task_timed_out(token, TIMEOUT if kind == "task_timeout" else HEARTBEAT_TIMEOUT)
            return
        state = self.machine.state(frame.workflow, frame.state)
        if kind == "wait":
            assert isinstance(state, WaitState)
            self.guard(frame, state, lambda: self.finish_wait(frame, state))
        elif kind == "retry":
            self.retry_now(frame, state)

    def end_execution(self, status: str, event_type: str, details: dict[str, Any], frame: Frame | None,
                      output: Any = None, error: str | None = None, cause: str | None = None) -> None:
        st = self.st
        root = next((f for f in st.frames.values() if f.parent is None), None)
        if status in (ABORTED, TIMED_OUT) and root is not None:
            self.abort_frame(root)
        for token in list(st.tasks):
            self.step.effects.append(CancelTask(token))
        for timer_id in list(st.timers):
            self.cancel_timer(timer_id)
        self.event(frame, event_type, details)
        st.frames.clear()
        st.tasks.clear()
        st.status = status
        st.output, st.error, st.cause = output, error, cause
        st.stop_time = self.now


def _is_int(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float)
                                                                         and value.is_integer())
