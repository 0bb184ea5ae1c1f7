"""Durable timers: Wait states, retry back-off, task timeouts and heartbeats, execution timeouts.

A timer is a row (`sfn_timers`) written in the same transaction as the step that set it, so
nothing runs for a waiting execution: it is a row until its time comes. One scheduler keeps
in memory only the timers due within the next `HORIZON` seconds, in a heap: timers armed by
a step that fall inside the horizon are pushed at once, and the table is polled (by its
`fire_at` index) for the rest as the horizon moves on. After a restart the first poll finds
every overdue timer. Express executions' timers live only in the heap.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Awaitable, Callable

from lamina.states.service.store import ExecutionStore

log = logging.getLogger("lamina.states")

HORIZON = 60.0
MAX_FIRING = 256  # timers being handled at once (each loads and steps one execution)

TimerKey = tuple[int, str]  # (execution id, timer id)
FireTimer = Callable[[int, str], Awaitable[None]]


class TimerScheduler:
    def __init__(self, executions: ExecutionStore, fire: FireTimer) -> None:
        self.executions = executions
        self.fire = fire
        self._heap: list[tuple[float, int, str]] = []
        self._armed: dict[TimerKey, float] = {}  # in the heap and still wanted
        self._firing: set[TimerKey] = set()
        self._loaded_until = 0.0  # every durable timer due before this is in `_armed` (or firing)
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(MAX_FIRING)
        self._task: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        tasks = [t for t in (self._task, *self._running) if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None

    def wipe(self) -> None:
        self._heap.clear()
        self._armed.clear()
        self._loaded_until = 0.0
        self._wake.set()

    def arm(self, execution_id: int, timer_id: str, fire_at: float, durable: bool = True) -> None:
        """A step that set this timer is committed (durable) or applied (in memory)."""
        if (not durable or fire_at <= self._loaded_until) and self._push((execution_id, timer_id), fire_at):
            self._wake.set()

    def disarm(self, execution_id: int, timer_id: str) -> None:
        self._armed.pop((execution_id, timer_id), None)

    @property
    def pending(self) -> int:
        return len(self._armed)

    def _push(self, key: TimerKey, fire_at: float) -> bool:
        if key in self._armed or key in self._firing:
            return False
        self._armed[key] = fire_at
        heapq.heappush(self._heap, (fire_at, key[0], key[1]))
        return True

    async def _poll(self, now: float) -> None:
        # Move the horizon first: a timer armed while the query runs is pushed by `arm`.
        until = now + HORIZON
        self._loaded_until = until
        for execution_id, timer_id, fire_at in await self.executions.timers_due(until):
            self._push((execution_id, timer_id), fire_at)

    async def _run(self) -> None:
        while True:
            try:
                now = time.time()
                if now + HORIZON / 2 >= self._loaded_until:
                    await self._poll(now)
                    now = time.time()
                while self._heap and self._heap[0][0] <= now:
                    fire_at, execution_id, timer_id = heapq.heappop(self._heap)
                    key = (execution_id, timer_id)
                    if self._armed.get(key) != fire_at:
                        continue  # disarmed, or re-armed for another time
                    del self._armed[key]
                    self._firing.add(key)
                    await self._slots.acquire()
                    task = asyncio.create_task(self._fire(key))
                    self._running.add(task)
                    task.add_done_callback(self._running.discard)
                next_poll = self._loaded_until - HORIZON / 2
                next_due = self._heap[0][0] if self._heap else next_poll
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), max(0.0, min(next_due, next_poll) - time.time()))
                except TimeoutError:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("timer scheduler: unexpected failure; carrying on")
                await asyncio.sleep(1)

    async def _fire(self, key: TimerKey) -> None:
        try:
            await self.fire(*key)
        except Exception:
            log.exception("timer %s of execution %d failed to fire", key[1], key[0])
        finally:
            self._firing.discard(key)
            self._slots.release()
