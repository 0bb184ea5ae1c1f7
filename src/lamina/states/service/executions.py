"""The durable driver: every execution advances through the engine one step at a time.

A step is one call into the `Interpreter` (start, a task's answer, a timer, a callback, a
stop). For a Standard execution the step's checkpoint, history events and timer changes are
committed in one transaction before any of its effects is carried out (a task started, a
timer armed), so a crash at any moment leaves the store at the end of a completed step, and
a restart continues from there: timers are rows the scheduler finds again, and tasks that
were not yet handed over are run again (`Interpreter.outstanding`). Express executions take
the same steps in memory only.

A step runs at most a budget of events (`Interpreter`); one that used it up ends with
`ContinueLater`, and the execution waits for its next turn (`Turns`, fair between accounts and
executions), so no execution holds the event loop for long. A Standard execution's first step
writes only its row and ExecutionStarted: it exists, and resumes after a crash, before any
state runs.

An execution is in memory only while something is happening to it (a step, a turn it waits
for, or a task running for it); one that waits for a timer or a callback is just its row.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from lamina.states.effects import CancelTask, CancelTimer, ContinueLater, RunTask, SetTimer, Step
from lamina.states.errors import API_ERRORS, TASK_FAILED, TaskDoesNotExist, TaskTimedOut
from lamina.states.execution import RUNNING, SUCCEEDED, TIMED_OUT, ExecutionInfo, ExecutionState
from lamina.states.history import to_json_text
from lamina.states.interpreter import HISTORY_LIMIT, Interpreter
from lamina.states.model import StateMachine
from lamina.states.service import jsontext
from lamina.states.service.activity_tasks import ActivityTask, ActivityTasks
from lamina.states.service.arns import execution_arn, express_execution_arn
from lamina.states.service.records import EXPRESS, STANDARD, ExecutionRecord, ExecutionSummary
from lamina.states.service.registry import MachineResource, Registry, Revision
from lamina.states.service.store import ExecutionStore, StepWrite
from lamina.states.service.task_runners import TaskRunners
from lamina.states.service.timers import TimerScheduler
from lamina.states.service.tokens import new_task_token, token_execution
from lamina.states.service.turns import Turns
from lamina.states.tasks import ACTIVITY, TaskOutcome, TaskRequest, parse_resource

log = logging.getLogger("lamina.states")

ExecutionAlreadyExists = API_ERRORS["ExecutionAlreadyExists"]
# Ended Express executions remembered for `.sync` parents that ask after the fact.
_EXPRESS_ENDINGS_KEPT = 1_000
# An Express execution runs for at most five minutes, whatever its TimeoutSeconds.
EXPRESS_MAX_SECONDS = 300


class ExecutionGone(Exception):
    """The execution is not running: it ended (`summary`), or never existed (None)."""

    def __init__(self, summary: ExecutionSummary | None) -> None:
        super().__init__(summary.record.arn if summary else "no such execution")
        self.summary = summary


@dataclass
class LiveExecution:
    record: ExecutionRecord
    state: ExecutionState
    interpreter: Interpreter

    def summary(self) -> ExecutionSummary:
        st = self.state
        output = to_json_text(st.output) if st.status == SUCCEEDED else None
        return ExecutionSummary(self.record, st.status, st.stop_time, output, st.error, st.cause)


@dataclass
class InFlight:
    task: asyncio.Task
    cancellable: bool  # only waiting (child executions); a Lambda invocation is let finish


@dataclass(eq=False)
class Slot:
    """An execution while in memory: steps on it are serialised by `lock`."""

    id: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
    live: LiveExecution | None = None
    in_flight: dict[str, InFlight] = field(default_factory=dict)


Call = Callable[[LiveExecution, float], Step]


def needs_rearm(st: ExecutionState) -> bool:
    """Whether a restart must do more for this execution than let its timers fire: go on with
    states ready to run, run a task that was not handed over, or put an activity task no worker
    took back in the queue."""
    return bool(st.ready) or any(not task.get("submitted") or not task.get("started") for task in st.tasks.values())


class Executions:
    def __init__(self, store: ExecutionStore, registry: Registry, activity_tasks: ActivityTasks,
                 runners: TaskRunners) -> None:
        self.store = store
        self.registry = registry
        self.activity_tasks = activity_tasks
        self.runners = runners
        self.timers = TimerScheduler(store, self.fire_timer)
        self.turns = Turns(self._take_turn)
        self._slots: dict[int, Slot] = {}
        self._next_id = 1
        self._floor = 0  # executions with a smaller id were wiped by a reset
        self._starting: dict[str, asyncio.Future[None]] = {}  # Standard execution ARN -> its start
        self._end_waiters: dict[str, list[asyncio.Future[ExecutionSummary]]] = {}
        self._express_endings: OrderedDict[str, ExecutionSummary] = OrderedDict()

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self.turns.start()
        self._next_id = await self.store.next_id()
        for execution_id in await self.store.ids_to_rearm():
            try:
                await self._advance(execution_id, self._rearm, persist=False)
            except Exception:
                log.exception("execution %d could not be resumed", execution_id)
        await self.timers.start()

    async def close(self) -> None:
        await self.timers.close()
        await self.turns.close()
        tasks = [f.task for slot in self._slots.values() for f in slot.in_flight.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.activity_tasks.wipe()

    async def reset(self) -> None:
        """Forget every execution (the store is wiped next): steps under way finish first, and
        anything arriving later for an execution started before now is ignored."""
        self._floor = self._next_id
        for slot in list(self._slots.values()):
            async with slot.lock:
                pass
            for flight in slot.in_flight.values():
                if flight.cancellable:
                    flight.task.cancel()
        self._slots.clear()
        for waiters in self._end_waiters.values():
            for waiter in waiters:
                waiter.cancel()
        self._end_waiters.clear()
        self._express_endings.clear()
        self.turns.wipe()
        self.timers.wipe()
        self.activity_tasks.wipe()

    @property
    def in_memory(self) -> int:
        """Executions held in memory right now (a waiting Standard execution is not)."""
        return len(self._slots)

    def _allocate_id(self) -> int:
        execution_id = self._next_id
        self._next_id += 1
        return execution_id

    # ------------------------------------------------------------ starting

    async def start_standard(self, machine: MachineResource, revision: Revision, parsed: StateMachine,
                             name: str, input_text: str, input_value: Any,
                             trace_header: str | None) -> ExecutionSummary:
        """StartExecution of a Standard machine: idempotent for the same name and input while
        the first execution runs, `ExecutionAlreadyExists` otherwise."""
        arn = execution_arn(machine.arn, name)
        while arn in self._starting:  # one start per name at a time: the second sees the first's row
            await asyncio.shield(self._starting[arn])
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._starting[arn] = started
        try:
            existing = await self.store.find(arn)
            if existing is not None:
                if existing.status == RUNNING and existing.record.input == input_text:
                    return existing
                raise ExecutionAlreadyExists(f"Execution Already Exists: '{arn}'")
            record = ExecutionRecord(self._allocate_id(), arn, name, machine.account_id, machine.region,
                                     machine.arn, STANDARD, revision.id, input_text, time.time(), trace_header)
            return await self._begin(record, revision, parsed, input_value)
        finally:
            del self._starting[arn]
            started.set_result(None)

    async def start_express(self, machine: MachineResource, revision: Revision, parsed: StateMachine,
                            name: str, input_text: str, input_value: Any, trace_header: str | None,
                            wait: bool) -> ExecutionSummary:
        """An Express execution runs in memory; with `wait`, until it ends (StartSyncExecution)."""
        arn = express_execution_arn(machine.arn, name, str(uuid.uuid4()))
        record = ExecutionRecord(self._allocate_id(), arn, name, machine.account_id, machine.region,
                                 machine.arn, EXPRESS, revision.id, input_text, time.time(), trace_header)
        ended = self._end_waiter(arn) if wait else None
        try:
            summary = await self._begin(record, revision, parsed, input_value)
            return await ended if ended is not None else summary
        finally:
            if ended is not None:
                self._forget_waiter(arn, ended)

    async def _begin(self, record: ExecutionRecord, revision: Revision, parsed: StateMachine,
                     input_value: Any) -> ExecutionSummary:
        slot = self._slots[record.id] = Slot(record.id)
        slot.users += 1
        try:
            async with slot.lock:
                interpreter = self._interpreter(record, parsed)
                info = ExecutionInfo(record.arn, record.name, record.state_machine_arn, revision.name,
                                     revision.role_arn, record.start_date)
                # Nothing runs in the request: the first state waits for the execution's turn.
                state, step = interpreter.start(info, input_value, record.start_date, run_now=False)
                live = slot.live = LiveExecution(record, state, interpreter)
                try:
                    await self._persist(live, step, new=True)
                except BaseException:
                    slot.live = None
                    raise
                self._carry_out(slot, live, step, ended=state.done)
                return live.summary()
        finally:
            self._release(slot)

    def _interpreter(self, record: ExecutionRecord, parsed: StateMachine) -> Interpreter:
        if record.durable:
            return Interpreter(parsed, new_token=partial(new_task_token, record.id), history_limit=HISTORY_LIMIT)
        # Express: no history kept, so no history limit; five minutes at most instead.
        return Interpreter(parsed, new_token=partial(new_task_token, record.id), history_limit=None,
                           max_duration=EXPRESS_MAX_SECONDS)

    async def _take_turn(self, execution_id: int) -> None:
        try:
            await self._advance(execution_id, lambda live, now: live.interpreter.resume(live.state, now))
        except ExecutionGone:
            pass  # it ended (stopped, timed out) or was wiped while it waited for its turn

    # ------------------------------------------------------------ advancing

    async def _advance(self, execution_id: int, call: Call, *, fired_timer: str | None = None,
                       expired: list[str] | None = None, persist: bool = True) -> Step:
        if execution_id < self._floor:
            raise ExecutionGone(None)
        slot = self._slots.get(execution_id)
        if slot is None:
            slot = self._slots[execution_id] = Slot(execution_id)
        slot.users += 1
        try:
            async with slot.lock:
                if execution_id < self._floor:
                    raise ExecutionGone(None)
                if slot.live is None:
                    slot.live = await self._load(execution_id)
                live = slot.live
                was_done = live.state.done
                try:
                    step = call(live, time.time())
                except (TaskDoesNotExist, ExecutionGone):
                    raise  # refused before anything changed
                except BaseException:
                    slot.live = None  # possibly half-changed: the store has the last good step
                    raise
                if persist:
                    try:
                        await self._persist(live, step, fired_timer=fired_timer, expired=expired or [])
                    except BaseException:
                        slot.live = None
                        raise
                self._carry_out(slot, live, step, ended=live.state.done and not was_done)
                return step
        finally:
            self._release(slot)

    async def _load(self, execution_id: int) -> LiveExecution:
        loaded = await self.store.load(execution_id)
        if loaded is None:
            raise ExecutionGone(None)
        summary, checkpoint = loaded
        if checkpoint is None:
            raise ExecutionGone(summary)
        _, parsed = await self.registry.revision(summary.record.revision_id)
        record = summary.record
        return LiveExecution(record, ExecutionState.from_json(checkpoint), self._interpreter(record, parsed))

    def _release(self, slot: Slot) -> None:
        slot.users -= 1
        self._evict_if_idle(slot)

    def _evict_if_idle(self, slot: Slot) -> None:
        """Drop an execution from memory once nothing is happening to it (Express ones stay
        until they end: memory is all they have)."""
        if slot.users or slot.in_flight or slot.id in self.turns:
            return
        live = slot.live
        if live is None or live.record.durable or live.state.done:
            if self._slots.get(slot.id) is slot:
                del self._slots[slot.id]

    async def _persist(self, live: LiveExecution, step: Step, *, new: bool = False,
                       fired_timer: str | None = None, expired: list[str] | None = None) -> None:
        if not live.record.durable:
            return
        st = live.state
        timers_set: dict[str, float] = {}
        timers_deleted: list[str] = [fired_timer] if fired_timer else []
        for effect in step.effects:
            if isinstance(effect, SetTimer):
                timers_set[effect.timer_id] = effect.fire_at
            elif isinstance(effect, CancelTimer) and timers_set.pop(effect.timer_id, None) is None:
                timers_deleted.append(effect.timer_id)
        summary = live.summary()
        await self.store.write(StepWrite(
            execution_id=live.record.id, status=st.status, stop_date=st.stop_time, output=summary.output,
            error=st.error, cause=st.cause, checkpoint=None if st.done else jsontext.dumps(st.to_json()),
            rearm=needs_rearm(st), new_record=live.record if new else None,
            events=[(event["id"], jsontext.dumps(event)) for event in step.events],
            timers_set=list(timers_set.items()), timers_deleted=timers_deleted, expired_tokens=expired or []))

    def _carry_out(self, slot: Slot, live: LiveExecution, step: Step, ended: bool) -> None:
        execution_id, durable = live.record.id, live.record.durable
        for effect in step.effects:
            if isinstance(effect, ContinueLater):
                self.turns.schedule(live.record.account_id, execution_id)
            elif isinstance(effect, RunTask):
                self._run(slot, live.record, effect.request)
            elif isinstance(effect, SetTimer):
                self.timers.arm(execution_id, effect.timer_id, effect.fire_at, durable)
            elif isinstance(effect, CancelTimer):
                self.timers.disarm(execution_id, effect.timer_id)
            elif isinstance(effect, CancelTask):
                flight = slot.in_flight.pop(effect.task_token, None)
                if flight is not None and flight.cancellable:
                    self.runners.cancel(effect.task_token)
                    flight.task.cancel()
                self.activity_tasks.cancel(effect.task_token)
        if ended:
            self._ended(live.summary())

    # ------------------------------------------------------------ tasks

    def _run(self, slot: Slot, record: ExecutionRecord, request: TaskRequest) -> None:
        task = asyncio.get_running_loop().create_task(self._run_task(slot, record, request))
        slot.in_flight[request.task_token] = InFlight(task, cancellable=request.resource.service == "states")

    async def _run_task(self, slot: Slot, record: ExecutionRecord, request: TaskRequest) -> None:
        token = request.task_token
        try:
            try:
                outcome = await self.runners.run(record, request)
            except asyncio.CancelledError:
                return
            except Exception as error:  # a bug in a runner must not leave the task hanging
                log.exception("task %s of %s failed in lamina", request.state_name, record.arn)
                outcome = TaskOutcome.failed(TASK_FAILED, f"{type(error).__name__}: {error}")
            if token not in slot.in_flight:
                return  # no longer wanted (aborted, timed out)

            def deliver(live: LiveExecution, now: float) -> Step:
                slot.in_flight.pop(token, None)
                interpreter, st = live.interpreter, live.state
                if outcome.status == "succeeded":
                    return interpreter.task_succeeded(st, token, outcome.output, now)
                if outcome.status == "failed":
                    return interpreter.task_failed(st, token, outcome.error, outcome.cause, now)
                return interpreter.task_submitted(st, token, outcome.output, now)

            await self._advance(record.id, deliver)
        except (TaskDoesNotExist, ExecutionGone):
            pass
        except Exception:
            log.exception("could not record the outcome of task %s of %s", request.state_name, record.arn)
        finally:
            slot.in_flight.pop(token, None)
            self._evict_if_idle(slot)

    def _rearm(self, live: LiveExecution, now: float) -> Step:
        """After a restart: run again what was not handed over, queue again what no worker took."""
        st = live.state
        for token, task in st.tasks.items():
            resource = parse_resource(task["resource"])
            if task.get("submitted") and not task.get("started") and resource and resource.kind == ACTIVITY:
                text = json.dumps(task["input"], separators=(",", ":"), ensure_ascii=False)
                self.activity_tasks.schedule(ActivityTask(resource.arn, token, text))
        effects = [e for e in live.interpreter.outstanding(st) if isinstance(e, (RunTask, ContinueLater))]
        return Step(effects=effects)

    # ------------------------------------------------------------ timers, callbacks, stops

    async def fire_timer(self, execution_id: int, timer_id: str) -> None:
        expired: list[str] = []

        def fire(live: LiveExecution, now: float) -> Step:
            timer = live.state.timers.get(timer_id)
            step = live.interpreter.timer_fired(live.state, timer_id, now)
            if timer and timer["kind"] in ("task_timeout", "heartbeat") and timer["token"] not in live.state.tasks:
                expired.append(timer["token"])
            return step

        try:
            await self._advance(execution_id, fire, fired_timer=timer_id, expired=expired)
        except ExecutionGone:
            if execution_id >= self._floor:
                await self.store.delete_timer(execution_id, timer_id)

    async def task_answered(self, account_id: str, region: str, token: str, call: Callable[..., Step]) -> None:
        """SendTaskSuccess/Failure/Heartbeat and an activity worker taking its task: `call(interpreter,
        state, now)` is the interpreter method to apply. A token of another account, of an ended
        execution or of a closed task does not exist; one whose task timed out says so."""
        execution_id = token_execution(token)

        def answer(live: LiveExecution, now: float) -> Step:
            if (live.record.account_id, live.record.region) != (account_id, region):
                raise TaskDoesNotExist("Task does not exist anymore")
            return call(live.interpreter, live.state, now)

        try:
            await self._advance(execution_id, answer)
        except (ExecutionGone, TaskDoesNotExist) as refused:
            timed_out = isinstance(refused, ExecutionGone) and refused.summary is not None and (
                refused.summary.status == TIMED_OUT)
            if timed_out or await self.store.token_expired(token):
                raise TaskTimedOut("Task Timed Out: 'Provided task has timed out'") from None
            raise TaskDoesNotExist("Task does not exist anymore") from None

    async def stop(self, summary: ExecutionSummary, error: str | None, cause: str | None) -> float:
        """StopExecution: the execution ends ABORTED (an ended one stays as it is)."""
        stopped_at: list[float] = []

        def stop(live: LiveExecution, now: float) -> Step:
            if live.state.done:
                raise ExecutionGone(live.summary())
            stopped_at.append(now)
            step = live.interpreter.stop(live.state, error, cause, now)
            # DescribeExecution reports what the execution was stopped with.
            live.state.error, live.state.cause = error, cause
            return step

        try:
            await self._advance(summary.record.id, stop)
        except ExecutionGone as gone:
            if gone.summary is not None and gone.summary.stop_date is not None:
                return gone.summary.stop_date
            raise
        return stopped_at[0]

    async def stop_all(self, machine_arn: str) -> None:
        """A deleted state machine's running executions are stopped."""
        for execution_id in await self.store.running_ids(machine_arn):
            try:
                await self._advance(execution_id,
                                    lambda live, now: live.interpreter.stop(live.state, None, None, now))
            except ExecutionGone:
                pass

    # ------------------------------------------------------------ waiting for the end

    def _end_waiter(self, arn: str) -> asyncio.Future[ExecutionSummary]:
        waiter: asyncio.Future[ExecutionSummary] = asyncio.get_running_loop().create_future()
        self._end_waiters.setdefault(arn, []).append(waiter)
        return waiter

    def _forget_waiter(self, arn: str, waiter: asyncio.Future[ExecutionSummary]) -> None:
        waiters = self._end_waiters.get(arn)
        if waiters and waiter in waiters:
            waiters.remove(waiter)
            if not waiters:
                del self._end_waiters[arn]

    def _ended(self, summary: ExecutionSummary) -> None:
        arn = summary.record.arn
        if not summary.record.durable:
            self._express_endings[arn] = summary
            while len(self._express_endings) > _EXPRESS_ENDINGS_KEPT:
                self._express_endings.popitem(last=False)
        for waiter in self._end_waiters.pop(arn, []):
            if not waiter.done():
                waiter.set_result(summary)

    async def wait_for_end(self, arn: str) -> ExecutionSummary:
        """The execution's summary once it has ended (a `.sync` parent waits here)."""
        waiter = self._end_waiter(arn)
        try:
            ended = self._express_endings.get(arn) or await self.store.find(arn)
            if ended is not None and ended.status != RUNNING:
                return ended
            return await waiter
        finally:
            self._forget_waiter(arn, waiter)
