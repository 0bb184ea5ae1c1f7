"""The interpreter: advances an `ExecutionState` one step at a time.

Every public method takes the execution state and the current time, runs every frame that
can run until each one is finished or blocked (on a task, a timer, or its children) or the
step has used up its budget of events (then it ends with `ContinueLater`, and `resume` goes on
where it stopped: the frames ready to run are part of the state), and returns a `Step`: the history events it appended and the side effects the driver must
carry out (`RunTask`, `SetTimer`, `CancelTimer`, `CancelTask`). It never awaits, sleeps
or calls out, so a step is deterministic given its inputs and the state can be
checkpointed between any two steps.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from lamina.states import fanout, flow_states, jsonata_query, task_states
from lamina.states.dataflow import (
    PathScope,
    apply_output_path,
    apply_result_path,
    apply_template,
    evaluate_jsonata,
)
from lamina.states.effects import CancelTask, CancelTimer, ContinueLater, Effect, RunTask, SetTimer, Step
from lamina.states.errors import (
    DATA_LIMIT_EXCEEDED,
    HEARTBEAT_TIMEOUT,
    INTRINSIC_FAILURE,
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
    MapState,
    ParallelState,
    State,
    StateMachine,
    TaskState,
    WaitState,
)
from lamina.states.retry import find_catcher, find_retrier, retry_delay
from lamina.states.tasks import INTEGRATION, parse_resource
from lamina.states.timestamps import format_timestamp

# Largest state output Step Functions passes on (256 KiB); more is States.DataLimitExceeded.
PAYLOAD_LIMIT_BYTES = 262_144

# History events one step may add before it yields (ContinueLater): a step runs without a break,
# so this bounds how long one execution holds its driver's event loop.
STEP_EVENTS = 400
# Step Functions ends a Standard execution at its 25,000th history event: unless that event is
# ExecutionSucceeded, it is an ExecutionFailed with this error and cause.
HISTORY_LIMIT = 25_000
HISTORY_LIMIT_CAUSE = f"The execution reached the maximum number of history events ({HISTORY_LIMIT})."


class HistoryLimitReached(Exception):
    """The next event would be the last one the history has room for."""


# Errors from processing a state's data (not from its task) carry the state in their cause.
_LOCATED_ERRORS = frozenset(
    {RUNTIME, QUERY_EVALUATION_ERROR, INTRINSIC_FAILURE, RESULT_PATH_MATCH_FAILURE, PARAMETER_PATH_FAILURE}
)


class Interpreter:
    """Runs executions of one parsed state machine; holds no per-execution state."""

    def __init__(
        self,
        machine: StateMachine,
        *,
        rng: random.Random | None = None,
        new_token: Callable[[], str] | None = None,
        step_events: int = STEP_EVENTS,
        history_limit: int | None = HISTORY_LIMIT,
        max_duration: float | None = None,
    ) -> None:
        """`history_limit`: None for executions that keep no history (Express); `max_duration`:
        seconds after which an execution times out whatever its TimeoutSeconds (Express: 300)."""
        self.machine = machine
        self.rng = rng or random.Random()
        self.new_token = new_token or (lambda: uuid.uuid4().hex + uuid.uuid4().hex)
        self.step_events = step_events
        self.history_limit = history_limit
        self.max_duration = max_duration

    def _step(self, st: ExecutionState, now: float, work: Callable[[Run], None], drain: bool = True) -> Step:
        run = Run(self, st, now)
        try:
            work(run)
            if drain:
                run.drain()
        except HistoryLimitReached:
            run.fail_at_history_limit()
        return run.finish()

    def start(
        self, info: ExecutionInfo, execution_input: Any, now: float, *, run_now: bool = True
    ) -> tuple[ExecutionState, Step]:
        """The execution's first step; with `run_now=False` only ExecutionStarted, and the first
        state waits for `resume` (so a driver can persist the execution before anything runs)."""
        if not info.start_time:
            info.start_time = now
        st = ExecutionState(info, execution_input)

        def begin(run: Run) -> None:
            root = Frame(id=st.new_id("f"), workflow="/", state=self.machine.root.start_at, input=execution_input)
            st.frames[root.id] = root
            run.event(
                root,
                "ExecutionStarted",
                {**payload_details("input", execution_input), "roleArn": info.role_arn or None},
            )
            timeout = self.machine.timeout_seconds
            if self.max_duration is not None:
                timeout = min(timeout or self.max_duration, self.max_duration)
            if timeout:
                run.set_timer("execution_timeout", info.start_time + timeout, root)
            run.queue_frame(root)

        return st, self._step(st, now, begin, drain=run_now)

    def resume(self, st: ExecutionState, now: float) -> Step:
        """Run what a step left ready when it used up its budget (after `ContinueLater`)."""
        return self._step(st, now, lambda run: None)

    def task_succeeded(self, st: ExecutionState, token: str, output: Any, now: float) -> Step:
        return self._step(st, now, lambda run: task_states.task_succeeded(run, token, output))

    def task_failed(self, st: ExecutionState, token: str, error: str, cause: str, now: float) -> Step:
        return self._step(st, now, lambda run: task_states.task_failed(run, token, error, cause))

    def task_submitted(self, st: ExecutionState, token: str, output: Any, now: float) -> Step:
        """A callback task was handed over (TaskSubmitted); its result comes later by token."""
        task = live_task(st, token)  # raises before anything changes
        return self._step(st, now, lambda run: self._submitted(run, task, output), drain=False)

    def _submitted(self, run: Run, task: dict[str, Any], output: Any) -> None:
        task["submitted"] = True  # handed over: after a restart it is awaited, not run again
        resource = parse_resource(task["resource"])
        if resource is not None and resource.kind == INTEGRATION and output is not None:
            run.event(
                run.st.frames[task["frame"]],
                "TaskSubmitted",
                {**task_states.task_ids(resource), **payload_details("output", output)},
            )

    def task_started(self, st: ExecutionState, token: str, worker_name: str | None, now: float) -> Step:
        """An activity worker took the task (GetActivityTask)."""
        task = live_task(st, token)

        def started(run: Run) -> None:
            if not task.get("started"):
                task["started"] = True
                run.event(st.frames[task["frame"]], "ActivityStarted", {"workerName": worker_name})

        return self._step(st, now, started, drain=False)

    def task_heartbeat(self, st: ExecutionState, token: str, now: float) -> Step:
        task = live_task(st, token)

        def beat(run: Run) -> None:
            if task.get("heartbeat"):
                old = task.get("heartbeat_timer")
                if old:
                    run.cancel_timer(old)
                frame = st.frames[task["frame"]]
                task["heartbeat_timer"] = run.set_timer("heartbeat", now + task["heartbeat"], frame, token=token)

        return self._step(st, now, beat, drain=False)

    def timer_fired(self, st: ExecutionState, timer_id: str, now: float) -> Step:
        return self._step(st, now, lambda run: run.timer_fired(timer_id))

    def stop(self, st: ExecutionState, error: str | None, cause: str | None, now: float) -> Step:
        def abort(run: Run) -> None:
            if not st.done:
                run.end_execution(ABORTED, "ExecutionAborted", {"error": error, "cause": cause}, None)

        return self._step(st, now, abort, drain=False)

    def outstanding(self, st: ExecutionState) -> list[Effect]:
        """What a driver must re-arm after loading a checkpoint: every timer, every task that
        was not yet handed over (those may have been under way: they run again, so task
        delivery is at-least-once across a crash), and the states left ready to run."""
        effects: list[Effect] = [ContinueLater()] if st.ready and not st.done else []
        for token, task in st.tasks.items():
            if not task.get("submitted"):
                effects.append(RunTask(task_states.task_request(st, token, task), resumed=True))
        for timer_id, timer in st.timers.items():
            effects.append(SetTimer(timer_id, timer["fire_at"]))
        return effects


def live_task(st: ExecutionState, token: str) -> dict[str, Any]:
    task = st.tasks.get(token)
    if task is None or st.done:
        raise TaskDoesNotExist("Task does not exist anymore")
    return task


class Run:
    """One call into the interpreter: the state, the time, and what the call produced.

    It holds what every state needs (events, timers, variables, the context object, entering
    and leaving, errors, retries and catches); what each state type does on entry lives in
    `flow_states` (Pass, Choice, Wait, Succeed, Fail), `task_states` and `fanout` (Parallel, Map)."""

    def __init__(self, interpreter: Interpreter, st: ExecutionState, now: float) -> None:
        self.interpreter = interpreter
        self.machine = interpreter.machine
        self.st = st
        self.now = now
        self.step = Step()
        self.queue: deque[str] = deque(st.ready)
        self.queued: set[str] = set(st.ready)
        self.at_history_limit = False
        self._execution_context: dict[str, Any] | None = None

    # -- bookkeeping ------------------------------------------------------------------------

    def event(self, frame: Frame | None, event_type: str, details: dict[str, Any] | None = None) -> int:
        st = self.st
        limit = self.interpreter.history_limit
        if (limit is not None and st.last_event_id + 1 >= limit and event_type != "ExecutionSucceeded"
                and not self.at_history_limit):
            raise HistoryLimitReached
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
        return live_task(self.st, token)

    def queue_frame(self, frame: Frame) -> None:
        if frame.id not in self.queued:
            self.queued.add(frame.id)
            self.queue.append(frame.id)

    def drain(self) -> None:
        budget = self.interpreter.step_events
        while self.queue and not self.st.done and len(self.step.events) < budget:
            frame_id = self.queue.popleft()
            self.queued.discard(frame_id)
            frame = self.st.frames.get(frame_id)
            if frame is not None and frame.phase == "enter":
                self.enter(frame)

    def finish(self) -> Step:
        """The step, with the frames still ready to run kept in the state for `resume`."""
        self.st.ready = [] if self.st.done else list(self.queue)
        if self.st.ready:
            self.step.effects.append(ContinueLater())
        return self.step

    def fail_at_history_limit(self) -> None:
        """End the execution with the event the history has room for. Tasks this step would have
        started are not started; every task and timer is cancelled."""
        self.at_history_limit = True
        self.step.effects = [e for e in self.step.effects if not isinstance(e, RunTask)]
        details = {"error": RUNTIME, "cause": HISTORY_LIMIT_CAUSE}
        self.end_execution(FAILED, "ExecutionFailed", details, None, error=RUNTIME, cause=HISTORY_LIMIT_CAUSE)

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

    def context(
        self, frame: Frame, token: str | None = None, item: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        if self._execution_context is None:
            info = self.st.info
            self._execution_context = {
                "Id": info.execution_arn,
                "Input": self.st.input,
                "Name": info.name,
                "RoleArn": info.role_arn,
                "StartTime": format_timestamp(info.start_time),
                "RedriveCount": info.redrive_count,
            }
        info = self.st.info
        ctx: dict[str, Any] = {
            "Execution": self._execution_context,
            "State": {
                "EnteredTime": format_timestamp(frame.entered_time),
                "Name": frame.state,
                "RetryCount": frame.retry_count,
            },
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
            return StatesError(
                err.error,
                f"An error occurred while executing the state '{state.name}' "
                f"(entered at the event id #{frame.entered_event_id}). {err.cause}",
            )
        return err

    def guard(self, frame: Frame, state: State, work: Callable[[], None]) -> None:
        """Run `work` for `frame`'s state; a failure goes to the state's Retry/Catch."""
        try:
            work()
        except StatesError as err:
            self.fail_state(frame, state, self.located(err, frame, state))
        except RecursionError:  # data nested deeper than a walker can go: the state fails, not lamina
            err = StatesError(RUNTIME, "The state's data is nested too deeply to process.")
            self.fail_state(frame, state, self.located(err, frame, state))

    # -- entering and leaving states ----------------------------------------------------------

    def enter(self, frame: Frame) -> None:
        state = self.machine.state(frame.workflow, frame.state)
        frame.phase = "running"
        frame.entered_time = self.now
        frame.retries = {}
        frame.retry_count = 0
        frame.entered_event_id = self.event(
            frame, f"{state.type}StateEntered", {"name": state.name, **payload_details("input", frame.input)}
        )
        handler = _ENTER[state.type]
        self.guard(frame, state, lambda: handler(self, frame, state))

    def leave(
        self,
        frame: Frame,
        state: State,
        output: Any,
        assigned: dict[str, Any] | None,
        next_state: str | None = None,
    ) -> None:
        details: dict[str, Any] = {"name": state.name, **payload_details("output", output)}
        if len(details["output"].encode()) > PAYLOAD_LIMIT_BYTES:
            self.fail_frame(
                frame,
                StatesError(
                    DATA_LIMIT_EXCEEDED,
                    f"The state/task '{state.name}' returned a result with a size exceeding the "
                    "maximum number of bytes service limit.",
                ),
            )
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

    def assign_jsonpath(
        self, frame: Frame, assign: dict[str, Any] | None, data: Any, ctx: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        if not assign:
            return {}
        return apply_template(assign, self.scope(frame, data, ctx))  # type: ignore[no-any-return]

    def assign_jsonata(self, frame: Frame, assign: dict[str, Any] | None, **states: Any) -> dict[str, Any]:
        if not assign:
            return {}
        return self.jsonata(frame, assign, "Assign", **states)  # type: ignore[no-any-return]

    def jsonata_or(self, frame: Frame, value: Any, field: str) -> Any:
        if jsonata_query.is_expression(value):
            return self.jsonata(frame, value, field, input=frame.input)
        return value

    def jsonata_output(self, frame: Frame, state: State) -> Any:
        """A JSONata state's `Output` over its input, or the input itself when it has none."""
        if state.output is ABSENT:
            return frame.input
        return self.jsonata(frame, state.output, "Output", input=frame.input)

    def finish_with_result(self, frame: Frame, state: State, result: Any) -> None:
        """Task, Parallel and Map: from the result to the state's output and variables."""
        if state.jsonata:
            ctx = self.context(frame)
            output = (
                self.jsonata(frame, state.output, "Output", input=frame.input, result=result, context=ctx)
                if state.output is not ABSENT
                else result
            )
            assigned = self.assign_jsonata(frame, state.assign, input=frame.input, result=result, context=ctx)
        else:
            scope = self.scope(frame, result)
            if state.result_selector is not ABSENT:
                result = apply_template(state.result_selector, scope)
            assigned = self.assign_jsonpath(frame, state.assign, result, scope.context)
            output = apply_result_path(state.result_path, frame.input, result)
            output = apply_output_path(state.output_path, scope.with_data(output))
        self.leave(frame, state, output, assigned)

    def complete_frame(self, frame: Frame, output: Any) -> None:
        if frame.parent is None:
            self.end_execution(
                SUCCEEDED, "ExecutionSucceeded", payload_details("output", output), frame, output=output
            )
            return
        parent = self.st.frames[frame.parent]
        del self.st.frames[frame.id]
        fanout.child_succeeded(self, parent, frame, output)

    def fail_frame(
        self, frame: Frame, err: StatesError, error_given: str | None = "", cause_given: str | None = ""
    ) -> None:
        if frame.parent is None:
            details = {
                "error": err.error if error_given is not None else None,
                "cause": err.cause if cause_given is not None else None,
            }
            self.end_execution(
                FAILED, "ExecutionFailed", details, frame, error=details["error"], cause=details["cause"]
            )
            return
        parent = self.st.frames[frame.parent]
        self.abort_frame(frame, quiet=True)
        fanout.child_failed(self, parent, frame, err)

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

    def _caught(
        self, frame: Frame, state: State, catcher: Any, err: StatesError
    ) -> tuple[Any, dict[str, Any]]:
        error_output = err.output()
        if state.jsonata:
            ctx = self.context(frame)
            output = (
                self.jsonata(
                    frame, catcher.output, "Output", input=frame.input, errorOutput=error_output, context=ctx
                )
                if catcher.output is not ABSENT
                else error_output
            )
            assigned = self.assign_jsonata(
                frame, catcher.assign, input=frame.input, errorOutput=error_output, context=ctx
            )
            return output, assigned
        assigned = self.assign_jsonpath(frame, catcher.assign, error_output)
        return apply_result_path(catcher.result_path, frame.input, error_output), assigned

    def retry_now(self, frame: Frame, state: State) -> None:
        frame.timer = None
        frame.phase = "running"
        if isinstance(state, TaskState):
            work: Callable[[], None] = lambda: task_states.dispatch_task(self, frame, state)  # noqa: E731
        elif isinstance(state, ParallelState):
            work = lambda: fanout.start_parallel(self, frame, state)  # noqa: E731
        else:
            assert isinstance(state, MapState)
            work = lambda: fanout.start_map(self, frame, state)  # noqa: E731
        self.guard(frame, state, work)

    # -- timers and the end ---------------------------------------------------------------------------

    def timer_fired(self, timer_id: str) -> None:
        timer = self.st.timers.pop(timer_id, None)
        if timer is None or self.st.done:
            return  # cancelled, or already handled before a restart
        kind = timer["kind"]
        frame = self.st.frames.get(timer["frame"])
        if kind == "execution_timeout":
            self.end_execution(
                TIMED_OUT,
                "ExecutionTimedOut",
                {"error": TIMEOUT, "cause": "The execution timed out."},
                frame,
                error=TIMEOUT,
                cause="The execution timed out.",
            )
            return
        if frame is None:
            return
        if kind in ("task_timeout", "heartbeat"):
            token = timer["token"]
            task = self.st.tasks.get(token)
            if task is not None:
                task.pop("timeout_timer" if kind == "task_timeout" else "heartbeat_timer", None)
                task_states.task_timed_out(
                    self, token, TIMEOUT if kind == "task_timeout" else HEARTBEAT_TIMEOUT
                )
            return
        state = self.machine.state(frame.workflow, frame.state)
        if kind == "wait":
            assert isinstance(state, WaitState)
            self.guard(frame, state, lambda: flow_states.finish_wait(self, frame, state))
        elif kind == "retry":
            self.retry_now(frame, state)

    def end_execution(
        self,
        status: str,
        event_type: str,
        details: dict[str, Any],
        frame: Frame | None,
        output: Any = None,
        error: str | None = None,
        cause: str | None = None,
    ) -> None:
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


# What entering a state does, by type.
_ENTER: dict[str, Callable[[Run, Frame, Any], None]] = {
    "Pass": flow_states.run_pass,
    "Choice": flow_states.run_choice,
    "Succeed": flow_states.run_succeed,
    "Fail": flow_states.run_fail,
    "Wait": flow_states.enter_wait,
    "Task": task_states.enter_task,
    "Parallel": fanout.start_parallel,
    "Map": fanout.start_map,
}
