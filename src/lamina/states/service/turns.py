"""Turns: executions with states ready to run take turns, one bounded step each.

A step that used up its budget of events ends with `ContinueLater`; the driver queues the
execution here. The queue is fair twice over: accounts take turns (round-robin), and within an
account so do its executions, so one account's endless loop or 100,000-item Map neither starves
another account's executions nor holds the event loop: every turn yields to it first.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable

log = logging.getLogger("lamina.states")

# Turns under way at once: a Standard turn mostly waits for its commit (commits of concurrent
# turns share a transaction), and one waiting lets another compute.
WORKERS = 8


class Turns:
    def __init__(self, take_turn: Callable[[int], Awaitable[None]], workers: int = WORKERS) -> None:
        self._take_turn = take_turn
        self._workers_wanted = workers
        self._accounts: OrderedDict[str, deque[int]] = OrderedDict()  # in turn order
        self._queued: set[int] = set()
        self._ready = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self._computing = False  # a turn started in this iteration of the loop

    def __contains__(self, execution_id: int) -> bool:
        return execution_id in self._queued

    def __len__(self) -> int:
        return len(self._queued)

    def schedule(self, account_id: str, execution_id: int) -> None:
        """Give the execution another turn (once, however often it is asked for)."""
        if execution_id in self._queued:
            return
        self._queued.add(execution_id)
        self._accounts.setdefault(account_id, deque()).append(execution_id)
        self._ready.set()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._workers = [loop.create_task(self._work()) for _ in range(self._workers_wanted)]

    def _next(self) -> int | None:
        if not self._accounts:
            return None
        account_id, queue = next(iter(self._accounts.items()))
        execution_id = queue.popleft()
        if queue:
            self._accounts.move_to_end(account_id)  # the next account goes first next time
        else:
            del self._accounts[account_id]
        self._queued.discard(execution_id)
        return execution_id

    async def _work(self) -> None:
        while True:
            while self._computing:
                await asyncio.sleep(0)
            execution_id = self._next()
            if execution_id is None:
                self._ready.clear()
                await self._ready.wait()
                continue
            self._computing = True
            asyncio.get_running_loop().call_soon(self._next_iteration)
            try:
                await self._take_turn(execution_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("execution %d could not take its turn", execution_id)
            await asyncio.sleep(0)

    def _next_iteration(self) -> None:
        self._computing = False

    def wipe(self) -> None:
        """Forget every queued turn (a reset): turns under way finish."""
        self._accounts.clear()
        self._queued.clear()

    async def close(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        self.wipe()
