"""An in-memory driver: runs executions to completion without a store.

It carries out the interpreter's effects itself: tasks go to the injected `TaskRunner`
(concurrently, as asyncio tasks), timers are kept in a dict. With a `VirtualClock` no one
ever sleeps: when every running task is itself waiting on the virtual clock, time jumps
to the next timer or sleeper. This is what the tests use, and what Express executions can
use with the `SystemClock`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lamina.states.effects import ContinueLater
from lamina.states.errors import TASK_FAILED, TaskDoesNotExist
from lamina.states.execution import ExecutionInfo, ExecutionState
from lamina.states.interpreter import (
    HISTORY_LIMIT,
    STEP_EVENTS,
    CancelTask,
    CancelTimer,
    Interpreter,
    RunTask,
    SetTimer,
    Step,
)
from lamina.states.model import StateMachine
from lamina.states.tasks import TaskOutcome, TaskRequest, TaskRunner


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    virtual = False

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class VirtualClock:
    """Time that moves only when the driver advances it."""

    virtual = True

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self.on_sleep: Callable[[], None] | None = None

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + max(0.0, seconds), next(self._seq), future))
        if self.on_sleep is not None:
            self.on_sleep()
        await future

    @property
    def sleeping(self) -> int:
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def next_wakeup(self) -> float | None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None

    def advance_to(self, moment: float) -> None:
        self._now = max(self._now, moment)
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)


@dataclass(eq=False)  # compared and hashed by identity: the driver keeps a set of live ones
class Execution:
    """One execution driven in memory: its state, its history, and its live side effects."""

    state: ExecutionState
    history: list[dict[str, Any]] = field(default_factory=list)
    timers: dict[str, float] = field(default_factory=dict)
    in_flight: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    completions: list[tuple[str, TaskOutcome]] = field(default_factory=list)
    steps: int = 0
    more: bool = False  # the last step used up its budget: `resume` goes on
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # a task finished, or a sleeper appeared

    @property
    def status(self) -> str:
        return self.state.status

    @property
    def output(self) -> Any:
        return self.state.output

    def checkpoint(self) -> dict[str, Any]:
        return self.state.to_json()


class InMemoryDriver:
    def __init__(
        self,
        machine: StateMachine,
        runner: TaskRunner,
        clock: Clock | None = None,
        *,
        rng: random.Random | None = None,
        new_token: Callable[[], str] | None = None,
        step_events: int = STEP_EVENTS,
        history_limit: int | None = HISTORY_LIMIT,
        max_duration: float | None = None,
    ) -> None:
        self.machine = machine
        self.interpreter = Interpreter(machine, rng=rng, new_token=new_token, step_events=step_events,
                                       history_limit=history_limit, max_duration=max_duration)
        self.runner = runner
        self.clock: Any = clock or VirtualClock()
        self._live: set[Execution] = set()
        self._background: set[asyncio.Task[None]] = set()  # runner.cancel calls under way
        if isinstance(self.clock, VirtualClock):
            self.clock.on_sleep = self._wake_all

    def info(
        self, name: str = "test", account: str = "000000000000", region: str = "us-east-1"
    ) -> ExecutionInfo:
        sm_name = "machine"
        return ExecutionInfo(
            execution_arn=f"arn:aws:states:{region}:{account}:execution:{sm_name}:{name}",
            name=name,
            state_machine_arn=f"arn:aws:states:{region}:{account}:stateMachine:{sm_name}",
            state_machine_name=sm_name,
            role_arn=f"arn:aws:iam::{account}:role/lamina-states",
        )

    async def start(
        self,
        execution_input: Any,
        info: ExecutionInfo | None = None,
        *,
        run: bool = True,
        max_steps: int | None = None,
        until: float | None = None,
    ) -> Execution:
        state, step = self.interpreter.start(info or self.info(), execution_input, self.clock.now())
        execution = Execution(state)
        self._apply(execution, step)
        if run:  # the start itself is the first step
            await self.run(execution, max_steps=None if max_steps is None else max_steps - 1, until=until)
        return execution

    async def resume(
        self, checkpoint: dict[str, Any], history: list[dict[str, Any]] | None = None, *, run: bool = True
    ) -> Execution:
        """Continue an execution from a checkpoint taken by any driver, in a fresh interpreter."""
        execution = Execution(ExecutionState.from_json(checkpoint), list(history or []))
        self._apply(execution, Step(effects=self.interpreter.outstanding(execution.state)))
        if run:
            await self.run(execution)
        return execution

    async def run(
        self, execution: Execution, *, max_steps: int | None = None, until: float | None = None
    ) -> Execution:
        """Advance until the execution ends, waits for a task token, `max_steps` steps were taken,
        or (virtual clocks) the next thing to happen lies beyond the time `until`."""
        limit = None if max_steps is None else execution.steps + max_steps
        self._live.add(execution)
        try:
            return await self._run(execution, limit, until)
        finally:
            self._live.discard(execution)

    async def _run(self, execution: Execution, limit: int | None, until: float | None) -> Execution:
        while not execution.state.done and (limit is None or execution.steps < limit):
            if execution.more:
                self._apply(execution, self.interpreter.resume(execution.state, self.clock.now()))
                await asyncio.sleep(0)
                continue
            if execution.completions:
                token, outcome = execution.completions.pop(0)
                self._deliver(execution, token, outcome)
                continue
            running = len(execution.in_flight)
            virtual = getattr(self.clock, "virtual", False)
            if running and (not virtual or running > self.clock.sleeping):
                await self._wait(execution, None)
                continue
            due = min(execution.timers.values(), default=None)
            if virtual:
                wakeup = self.clock.next_wakeup()
                upcoming = min((t for t in (due, wakeup) if t is not None), default=None)
                if until is not None and upcoming is not None and upcoming > until:
                    self.clock.advance_to(until)
                    break
                if wakeup is not None and (due is None or wakeup < due):
                    self.clock.advance_to(wakeup)
                    await asyncio.sleep(0)
                    continue
            if due is None:
                if running:
                    await self._wait(execution, None)
                    continue
                break  # nothing left but callbacks from outside (task tokens)
            if virtual:
                self.clock.advance_to(due)
            elif due > self.clock.now():
                await self._wait(execution, due - self.clock.now())
                continue
            self._fire_due(execution)
        return execution

    def _wake_all(self) -> None:
        for execution in self._live:
            execution.wake.set()

    async def _wait(self, execution: Execution, timeout: float | None) -> None:
        try:
            await asyncio.wait_for(execution.wake.wait(), timeout)
        except TimeoutError:
            pass
        execution.wake.clear()

    def _fire_due(self, execution: Execution) -> None:
        """Fire the earliest due timer (one per loop turn, so that `max_steps` is exact)."""
        now = self.clock.now()
        timer_id, fire_at = min(execution.timers.items(), key=lambda kv: kv[1])
        if fire_at <= now:
            del execution.timers[timer_id]
            self._apply(execution, self.interpreter.timer_fired(execution.state, timer_id, now))

    def _deliver(self, execution: Execution, token: str, outcome: TaskOutcome) -> None:
        now = self.clock.now()
        try:
            if outcome.status == "succeeded":
                step = self.interpreter.task_succeeded(execution.state, token, outcome.output, now)
            elif outcome.status == "failed":
                step = self.interpreter.task_failed(execution.state, token, outcome.error, outcome.cause, now)
            else:
                step = self.interpreter.task_submitted(execution.state, token, outcome.output, now)
        except TaskDoesNotExist:
            return  # the task timed out or was aborted meanwhile
        self._apply(execution, step)

    def _apply(self, execution: Execution, step: Step) -> None:
        execution.steps += 1
        execution.history.extend(step.events)
        execution.more = False
        for effect in step.effects:
            if isinstance(effect, ContinueLater):
                execution.more = True
            elif isinstance(effect, RunTask):
                token = effect.request.task_token
                execution.in_flight[token] = asyncio.ensure_future(self._run_task(execution, effect.request))
            elif isinstance(effect, SetTimer):
                execution.timers[effect.timer_id] = effect.fire_at
            elif isinstance(effect, CancelTimer):
                execution.timers.pop(effect.timer_id, None)
            elif isinstance(effect, CancelTask):
                task = execution.in_flight.pop(effect.task_token, None)
                if task is not None:
                    task.cancel()
                self._tell_runner_cancelled(effect.task_token)

    def _tell_runner_cancelled(self, token: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # called outside the event loop: nobody is waiting on the runner anyway
        self._background.add(task := loop.create_task(self.runner.cancel(token)))
        task.add_done_callback(self._background.discard)

    async def _run_task(self, execution: Execution, request: TaskRequest) -> None:
        try:
            outcome = await self.runner.run(request)
        except asyncio.CancelledError:
            return
        except Exception as e:  # a runner bug must not hang the execution
            outcome = TaskOutcome.failed(TASK_FAILED, f"{type(e).__name__}: {e}")
        if execution.in_flight.pop(request.task_token, None) is None:
            return
        execution.completions.append((request.task_token, outcome))
        execution.wake.set()

    # -- callbacks from outside (SendTaskSuccess & co) -------------------------------------------

    def send_task_success(self, execution: Execution, token: str, output: Any) -> None:
        self._apply(
            execution, self.interpreter.task_succeeded(execution.state, token, output, self.clock.now())
        )

    def send_task_failure(self, execution: Execution, token: str, error: str, cause: str) -> None:
        self._apply(
            execution, self.interpreter.task_failed(execution.state, token, error, cause, self.clock.now())
        )

    def task_started(self, execution: Execution, token: str, worker_name: str | None) -> None:
        """An activity worker picked the task up (GetActivityTask)."""
        self._apply(
            execution, self.interpreter.task_started(execution.state, token, worker_name, self.clock.now())
        )

    def send_task_heartbeat(self, execution: Execution, token: str) -> None:
        self._apply(execution, self.interpreter.task_heartbeat(execution.state, token, self.clock.now()))

    def stop(self, execution: Execution, error: str | None = None, cause: str | None = None) -> None:
        self._apply(execution, self.interpreter.stop(execution.state, error, cause, self.clock.now()))
